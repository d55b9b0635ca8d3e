import Foundation

/// Writes adapted weights back into a copy of the model they came from.
///
/// Only what changes is re-encoded: the GraphProto is rebuilt around new TensorProtos for the
/// updated initializers (and for every externally stored one, so the copy is self-contained);
/// every other field of the model and the graph is copied byte for byte. Values go back in the
/// source's layout and element type, so onnxruntime and PyTorch load the copy unchanged.
public enum ONNXExporter {
    /// Writes `original` to `path` with the initializers named in `updating` (values in HalfStep's
    /// layout, as `graph` describes them) replaced.
    public static func export(original: ONNXModel, updating: [String: [Float]], graph: Graph, to path: String) throws(ONNXError) {
        let bytes = try encode(original: original, updating: updating, graph: graph)
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw .unwritable(path: path) }
    }

    /// The exported file's bytes.
    public static func encode(original: ONNXModel, updating: [String: [Float]], graph: Graph) throws(ONNXError) -> [UInt8] {
        let parameters = Dictionary(graph.parameters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        return try encode(original: original, updating: updating) { name in
            parameters[name].map { Layout(shape: $0.shape, transposed: $0.sourceLayout == .transposed2D) }
        }
    }

    /// How an updated initializer's values are laid out: its shape in HalfStep's layout, and
    /// whether the source stores it transposed (`Graph.SourceLayout.transposed2D`).
    public struct Layout: Sendable, Equatable {
        public var shape: [Int]
        public var transposed: Bool
        public init(shape: [Int], transposed: Bool) {
            self.shape = shape
            self.transposed = transposed
        }
    }

    /// The exported file's bytes, with each updated initializer's layout given by `layout`
    /// (an initializer without one keeps its values).
    public static func encode(original: ONNXModel, updating: [String: [Float]], layout: (String) -> Layout?) throws(ONNXError) -> [UInt8] {
        let initializerNames = Set(original.graph.initializers.map(\.name))
        for name in updating.keys where !initializerNames.contains(name) {
            throw .graph(path: original.path, detail: "cannot export '\(name)': it is not an initializer of the model (a Constant node or a different model?)")
        }
        let initializers = Dictionary(original.graph.initializers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

        // Rebuild the graph: all fields verbatim except rewritten initializers (field 5).
        var g = ProtobufWriter()
        var r = ProtobufReader(bytes: original.bytes, range: original.graphRange, path: original.path)
        while let (field, wire, at) = try r.tag() {
            let valueStart = r.offset
            try r.skip(wire)
            let fieldBytes = original.bytes[at ..< r.offset]
            guard field == 5, wire == .lengthDelimited else {
                g.raw(fieldBytes)
                continue
            }
            var inner = ProtobufReader(bytes: original.bytes, range: valueStart ..< r.offset, path: original.path)
            let range = try inner.lengthDelimited()
            let name = tensorName(original.bytes, range, path: original.path)
            guard let tensor = initializers[name], updating[name] != nil || tensor.external else {
                g.raw(fieldBytes)
                continue
            }
            var values = tensor.floats
            if let new = updating[name], let p = layout(name) {
                let count = p.shape.reduce(1, *)
                guard new.count == count else {
                    throw .graph(path: original.path, detail: "'\(name)' has \(count) elements; \(new.count) values were given")
                }
                values = p.transposed ? transposeBack(new, shape: p.shape) : new
            }
            g.field(5, bytes: try encodeTensor(tensor, values: values, path: original.path))
        }

        // Rebuild the model: all fields verbatim except the graph (field 7).
        var m = ProtobufWriter()
        var mr = ProtobufReader(bytes: original.bytes, path: original.path)
        while let (field, wire, at) = try mr.tag() {
            try mr.skip(wire)
            if field == 7 && wire == .lengthDelimited {
                m.field(7, bytes: g.bytes)
            } else {
                m.raw(original.bytes[at ..< mr.offset])
            }
        }
        return m.bytes
    }

    /// HalfStep `[out, in]` values back to the source's `[in, out]`.
    static func transposeBack(_ values: [Float], shape: [Int]) -> [Float] {
        let rows = shape[0], cols = shape[1]
        var out = [Float](repeating: 0, count: values.count)
        for r in 0 ..< rows { for c in 0 ..< cols { out[c * rows + r] = values[r * cols + c] } }
        return out
    }

    static func tensorName(_ bytes: [UInt8], _ range: Range<Int>, path: String) -> String {
        var r = ProtobufReader(bytes: bytes, range: range, path: path)
        while let (field, wire, _) = try? r.tag() {
            if field == 8, wire == .lengthDelimited, let n = try? r.lengthDelimited() { return r.string(n) }
            if (try? r.skip(wire)) == nil { break }
        }
        return ""
    }

    /// A TensorProto with inline `raw_data` in the tensor's own element type.
    static func encodeTensor(_ t: ONNXTensor, values: [Float]?, path: String) throws(ONNXError) -> [UInt8] {
        var w = ProtobufWriter()
        for d in t.dims { w.field(1, varint: Int64(d)) }
        w.field(2, varint: Int64(t.dataType))
        w.field(8, string: t.name)
        var raw: [UInt8] = []
        switch t.dataType {
        case 1:
            guard let values else { throw .unsupportedDataType(path: path, tensor: t.name, dataType: t.dataType) }
            raw.reserveCapacity(values.count * 4)
            for v in values { let b = v.bitPattern; for i in 0 ..< 4 { raw.append(UInt8(truncatingIfNeeded: b >> (8 * UInt32(i)))) } }
        case 10:
            guard let values else { throw .unsupportedDataType(path: path, tensor: t.name, dataType: t.dataType) }
            for v in values { let b = Float16(v).bitPattern; raw.append(UInt8(b & 0xFF)); raw.append(UInt8(b >> 8)) }
        case 7, 6:
            guard let ints = t.ints else { throw .unsupportedDataType(path: path, tensor: t.name, dataType: t.dataType) }
            let width = t.dataType == 7 ? 8 : 4
            for v in ints { for i in 0 ..< width { raw.append(UInt8(truncatingIfNeeded: v >> (8 * Int64(i)))) } }
        default:
            throw .unsupportedDataType(path: path, tensor: t.name, dataType: t.dataType)
        }
        w.field(9, bytes: raw)
        return w.bytes
    }
}
