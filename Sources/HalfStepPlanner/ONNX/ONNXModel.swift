/// An ONNX model as read from its protobuf: the parts HalfStep uses, plus the byte ranges that
/// export needs to rewrite a copy of the file.
public struct ONNXModel: Sendable {
    public var irVersion: Int64
    /// Version of the default ("" or "ai.onnx") operator set.
    public var opsetVersion: Int
    public var producerName: String
    public var graph: ONNXGraph
    /// The file the model came from.
    public var path: String
    /// The file's bytes (export copies unchanged fields from them).
    public var bytes: [UInt8]
    /// Where the GraphProto sits in `bytes`.
    public var graphRange: Range<Int>
}

/// ONNX's GraphProto, reduced to what import needs.
public struct ONNXGraph: Sendable {
    public var name: String
    public var nodes: [ONNXNode]
    public var initializers: [ONNXTensor]
    public var inputs: [ONNXValueInfo]
    public var outputs: [ONNXValueInfo]
}

/// One node (NodeProto).
public struct ONNXNode: Sendable {
    public var name: String
    public var opType: String
    public var domain: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: ONNXAttribute]
}

/// One attribute (AttributeProto), holding whichever value kind it carries.
public struct ONNXAttribute: Sendable {
    public var name: String
    public var float: Float?
    public var int: Int64?
    public var string: String?
    public var tensor: ONNXTensor?
    public var floats: [Float] = []
    public var ints: [Int64] = []
}

/// A tensor value (TensorProto), decoded to Float or Int64 where its type allows.
public struct ONNXTensor: Sendable {
    public var name: String
    public var dims: [Int]
    /// ONNX TensorProto.DataType (1 FLOAT, 6 INT32, 7 INT64, 10 FLOAT16, …).
    public var dataType: Int
    /// Values of FLOAT / FLOAT16 tensors, widened to Float (fp16 is exact).
    public var floats: [Float]?
    /// Values of INT64 / INT32 tensors.
    public var ints: [Int64]?
    /// True when the tensor's values came from an external data file.
    public var external: Bool

    public var elementCount: Int { dims.reduce(1, *) }
}

/// A graph input or output (ValueInfoProto).
public struct ONNXValueInfo: Sendable {
    public enum Dim: Sendable, Equatable {
        case value(Int)
        case symbol(String)
        case unknown
    }
    public var name: String
    public var elemType: Int
    /// nil when the file gives no shape.
    public var dims: [Dim]?
}
