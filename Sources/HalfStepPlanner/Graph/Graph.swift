import HalfStepCore

/// The planner's graph IR: what an importer produces and every planning pass consumes.
///
/// Shapes are *per sample*: the batch dimension is left out everywhere, because batch size is a
/// plan-time choice (`--batch`), not a property of the model. A value of shape `[64]` holds
/// `64 × batch` elements in a plan.
///
/// Nodes are in topological order (an importer guarantees it). Values that alias with the same
/// shape (ONNX `Identity`, `Dropout`, a no-op `Flatten`) are not nodes: the importer maps both names
/// onto one value; a shape change is a `reshape` node, which costs nothing at run time.
public struct Graph: Sendable {
    /// A tensor that flows between nodes (an activation).
    public struct Value: Sendable, Equatable {
        /// The ONNX name of the value (the first name, when several alias it).
        public var name: String
        /// Per-sample shape, in elements, batch dimension excluded.
        public var shape: [Int]
        /// Elements per sample.
        public var elementsPerSample: Int { shape.reduce(1, *) }

        public init(name: String, shape: [Int]) {
            self.name = name
            self.shape = shape
        }
    }

    /// How a parameter is laid out in the source ONNX file relative to HalfStep's layout.
    public enum SourceLayout: Sendable, Equatable {
        /// Stored exactly as HalfStep stores it.
        case same
        /// A 2-D matrix stored transposed in the source (e.g. `MatMul` weights `[in, out]`, or `Gemm`
        /// with `transB = 0`); HalfStep stores `[out, in]`, export transposes back.
        case transposed2D
    }

    /// A learnable (or frozen) tensor read from the model: an ONNX initializer or `Constant`.
    public struct Parameter: Sendable, Equatable {
        /// The ONNX initializer name; export writes the adapted values back under this name.
        public var name: String
        /// Shape in HalfStep's layout (a Dense weight is `[out, in]`, a bias `[out]`).
        public var shape: [Int]
        /// Values in HalfStep's layout, row-major, widened to Float (fp16 sources are exact).
        public var values: [Float]
        /// Layout of the same tensor in the source file.
        public var sourceLayout: SourceLayout
        /// True when the source stored the tensor as fp16 (export writes it back as fp16).
        public var sourceIsFloat16: Bool

        public var elementCount: Int { shape.reduce(1, *) }

        public init(name: String, shape: [Int], values: [Float], sourceLayout: SourceLayout = .same, sourceIsFloat16: Bool = false) {
            self.name = name
            self.shape = shape
            self.values = values
            self.sourceLayout = sourceLayout
            self.sourceIsFloat16 = sourceIsFloat16
        }
    }

    /// What a node computes. Indices refer to `Graph.parameters`.
    public enum Operator: Sendable, Equatable {
        /// `y = alpha · x Wᵀ + beta · b`, x `[in]`, W `[out, in]`, b `[out]` (optional), y `[out]` per sample.
        case dense(weight: Int, bias: Int?, alpha: Float, beta: Float)
        /// `y = max(x, 0)`, elementwise.
        case relu
        /// 2-D convolution, x `[C, H, W]`, W `[M, C/group, KH, KW]`, b `[M]` (optional), y `[M, OH, OW]`.
        case conv(weight: Int, bias: Int?, window: Window2D)
        /// Batch normalisation with frozen statistics: `γ (x − mean) / √(var + ε) + β`, per channel.
        case batchNorm(scale: Int, bias: Int, mean: Int, variance: Int, epsilon: Float)
        /// Max pooling (window.group 0).
        case maxPool(window: Window2D)
        /// Average pooling (window.group 1 when padding counts towards the divisor).
        case averagePool(window: Window2D)
        /// Mean over each channel's plane: `[C, H, W] → [C, 1, 1]`.
        case globalAveragePool
        /// `y = a + b` of two computed values of one shape (a residual connection).
        case add
        /// Clip, HardSigmoid, HardSwish or Sigmoid, elementwise, with the kind's parameters.
        case activation(kind: Activation.Kind, a: Float, b: Float)
        /// `y = x · s`, s a frozen constant with one value or one per channel.
        case scale(constant: Int)
        /// Concatenation of the inputs along the channel axis.
        case concat
        /// The same elements under another per-sample shape (`Flatten`, `Reshape`): no work, the
        /// planner gives both values one buffer.
        case reshape
    }

    /// One operation of the model.
    public struct Node: Sendable, Equatable {
        /// The ONNX node name (or a generated `op_N` when the file had none).
        public var name: String
        public var op: Operator
        /// Indices into `Graph.values`.
        public var inputs: [Int]
        /// Indices into `Graph.values`.
        public var outputs: [Int]

        public init(name: String, op: Operator, inputs: [Int], outputs: [Int]) {
            self.name = name
            self.op = op
            self.inputs = inputs
            self.outputs = outputs
        }
    }

    public var values: [Value] = []
    public var parameters: [Parameter] = []
    public var nodes: [Node] = []
    /// Index of the graph input value (the model takes one input).
    public var input: Int = 0
    /// Index of the graph output value (the logits).
    public var output: Int = 0
    /// Where the graph came from (file path), for messages and export.
    public var source: String = ""
    /// The default-domain opset the source declared.
    public var sourceOpset: Int = 0
    /// The ONNX names of the graph input and output, as the file spells them.
    public var inputName: String = ""
    public var outputName: String = ""

    public init() {}
}
