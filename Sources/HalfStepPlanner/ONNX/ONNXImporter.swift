import HalfStepCore

/// Lowers an ONNX model into the planner's graph IR.
///
/// Shapes become per-sample (the graph input's first dimension is the batch). `Flatten`,
/// `Reshape` and `Identity` become aliases, `MatMul` followed by `Add` of a constant becomes one
/// dense layer, and weights are stored `[out, in]` whatever layout the file used (export
/// transposes back). Anything else is refused with the node, the operator and the list of what
/// is supported.
public enum ONNXImporter {
    /// Default-domain opsets whose semantics for the supported operators were checked: from 13
    /// (Gemm, MatMul, Relu, Flatten, Reshape, Identity, Constant all at their float semantics) to
    /// 28. Later revisions of these operators (Add 14, Relu 14, Flatten/Reshape/Identity/Constant
    /// 19–25) only widened their type constraints; attributes and float semantics are unchanged
    /// (checked against the operator schema history of onnx 1.23.2).
    public static let acceptedOpsets = 13 ... 28

    /// The operators import understands.
    public static let supportedOperators = [
        "Add", "AveragePool", "BatchNormalization", "Clip", "Concat (channels)", "Constant", "Conv (1-D, 2-D)", "Dropout (identity)",
        "Flatten", "Gemm", "GlobalAveragePool", "HardSigmoid", "HardSwish", "Identity", "LeakyRelu", "MatMul", "MaxPool",
        "Mul (by a constant)", "ReduceMean (over every spatial axis)", "Relu", "Reshape", "Sigmoid", "Squeeze", "Tanh", "Unsqueeze"]

    /// Reads the model at `path` and imports it.
    public static func importGraph(path: String) throws(ONNXError) -> Graph {
        try importGraph(ONNXReader.read(path: path))
    }

    /// Imports a parsed model.
    public static func importGraph(_ model: ONNXModel) throws(ONNXError) -> Graph {
        var importer = Importer(model: model)
        return try importer.run()
    }

    /// The constant tensors of `model` by name, as an import resolves a parameter's name: the
    /// initializers, then the outputs of `Constant` nodes (a later one of the same name wins).
    /// Nothing else of the graph is read.
    public static func constantTensors(_ model: ONNXModel) -> [String: ONNXTensor] {
        var out: [String: ONNXTensor] = [:]
        for t in model.graph.initializers { out[t.name] = t }
        for node in model.graph.nodes where node.opType == "Constant" && (node.domain.isEmpty || node.domain == "ai.onnx") {
            if let t = try? Importer.constantTensor(node, path: model.path) { out[t.name] = t }
        }
        return out
    }
}

private struct Importer {
    let model: ONNXModel
    var path: String { model.path }
    var graph = Graph()
    /// Constant tensors by name: initializers and `Constant` outputs.
    var constants: [String: ONNXTensor] = [:]
    /// Value index by ONNX name (aliases map to the same index).
    var values: [String: Int] = [:]
    /// Values whose per-sample shape `[C, 1, L]` stands for ONNX's sequence `[C, L]` (lifted by
    /// `spatialShape`, and every output computed from one by an op that keeps the layout): the
    /// shape ops (Squeeze, Unsqueeze, ReduceMean) work on the ONNX shape, `onnxShape`.
    var lifted = Set<Int>()
    /// Operators whose output shape is their own, not their first input's layout.
    static let layoutChanging: Set<String> = ["Flatten", "Reshape", "Squeeze", "Unsqueeze", "ReduceMean", "Gemm", "MatMul"]
    var usedAsParameter: Set<String> = []

    init(model: ONNXModel) { self.model = model }

    func fail(_ node: ONNXNode, _ detail: String) -> ONNXError {
        Importer.failure(path, node, detail)
    }

    static func failure(_ path: String, _ node: ONNXNode, _ detail: String) -> ONNXError {
        .unsupportedUse(path: path, op: node.opType, node: node.name, detail: detail)
    }

    mutating func run() throws(ONNXError) -> Graph {
        guard ONNXImporter.acceptedOpsets.contains(model.opsetVersion) else {
            throw .unsupportedOpset(path: path, found: model.opsetVersion, accepted: ONNXImporter.acceptedOpsets)
        }
        graph.source = path
        graph.sourceOpset = model.opsetVersion
        for t in model.graph.initializers { constants[t.name] = t }

        // The real input is the one graph input that is not an initializer (older exporters list weights too).
        let inputs = model.graph.inputs.filter { constants[$0.name] == nil }
        guard inputs.count == 1 else {
            throw .graph(path: path, detail: "the graph has \(inputs.count) non-initializer inputs (\(inputs.map(\.name).joined(separator: ", "))); HalfStep trains models with exactly one input")
        }
        let input = inputs[0]
        guard input.elemType == 1 || input.elemType == 10 else {
            throw .graph(path: path, detail: "input '\(input.name)' has element type \(onnxTypeName(input.elemType)); FLOAT or FLOAT16 expected")
        }
        guard let dims = input.dims, dims.count >= 2 else {
            throw .graph(path: path, detail: "input '\(input.name)' needs a shape [batch, features…]; found \(input.dims.map { "\($0.count)-D" } ?? "no shape")")
        }
        var perSample: [Int] = []
        for (i, d) in dims.dropFirst().enumerated() {
            guard case .value(let v) = d, v > 0 else {
                throw .graph(path: path, detail: "input '\(input.name)' dimension \(i + 1) must be a fixed positive size (only the batch may be symbolic)")
            }
            perSample.append(v)
        }
        graph.values.append(.init(name: input.name, shape: perSample))
        graph.input = 0
        graph.inputName = input.name
        values[input.name] = 0

        guard model.graph.outputs.count == 1 else {
            throw .graph(path: path, detail: "the graph has \(model.graph.outputs.count) outputs; HalfStep trains models with one output (the logits)")
        }
        graph.outputName = model.graph.outputs[0].name

        let nodes = model.graph.nodes
        var fused = Set<Int>()
        for (index, raw) in nodes.enumerated() where !fused.contains(index) {
            var node = raw
            if node.name.isEmpty { node.name = "\(node.opType)_\(index)" }
            guard node.domain.isEmpty || node.domain == "ai.onnx" else {
                throw .unsupportedOperator(path: path, op: "\(node.domain)::\(node.opType)", node: node.name, supported: ONNXImporter.supportedOperators)
            }
            switch node.opType {
            case "Constant":
                try constant(node)
            case "Identity":
                try alias(node) { shape throws(ONNXError) in shape }
            case "Flatten":
                let axis = node.attributes["axis"]?.int ?? 1
                let rank = Int64(graphValueShape(node).count + 1)
                guard axis == 1 || (rank == 2 && axis == -1) else {
                    throw fail(node, "axis \(axis) would fold the batch into the features; only axis 1 is supported")
                }
                try alias(node) { shape throws(ONNXError) in [shape.reduce(1, *)] }
            case "Reshape":
                try reshape(node)
            case "Unsqueeze":
                try unsqueeze(node)
            case "Squeeze":
                try squeeze(node)
            case "ReduceMean":
                try reduceMean(node)
            case "Relu":
                let x = try value(node, 0)
                let y = addValue(node.outputs.first, shape: graph.values[x].shape, node)
                graph.nodes.append(.init(name: node.name, op: .relu, inputs: [x], outputs: [y]))
            case "Gemm":
                try gemm(node)
            case "MatMul":
                if let (addIndex, add) = biasAdd(after: index) {
                    fused.insert(addIndex)
                    try matmul(node, bias: add)
                } else {
                    try matmul(node, bias: nil)
                }
            case "Add":
                try add(node)
            case "Conv":
                try conv(node)
            case "BatchNormalization":
                try batchNorm(node)
            case "MaxPool", "AveragePool":
                try pool(node)
            case "GlobalAveragePool":
                let x = try value(node, 0)
                let shape = try spatialShape(node, x)
                let y = addValue(node.outputs.first, shape: [shape[0], 1, 1], node)
                graph.nodes.append(.init(name: node.name, op: .globalAveragePool, inputs: [x], outputs: [y]))
            case "Clip":
                let lo = try optionalScalar(node, 1) ?? -Float.greatestFiniteMagnitude
                let hi = try optionalScalar(node, 2) ?? Float.greatestFiniteMagnitude
                guard lo <= hi else { throw fail(node, "min \(lo) is above max \(hi)") }
                try activation(node, .clip, lo, hi)
            case "HardSigmoid":
                try activation(node, .hardSigmoid, node.attributes["alpha"]?.float ?? 0.2, node.attributes["beta"]?.float ?? 0.5)
            case "HardSwish":
                try activation(node, .hardSwish, 0, 0)
            case "Sigmoid":
                try activation(node, .sigmoid, 0, 0)
            case "Tanh":
                try activation(node, .tanh, 0, 0)
            case "LeakyRelu":
                let alpha = node.attributes["alpha"]?.float ?? 0.01
                guard alpha >= 0 else { throw fail(node, "alpha \(alpha); a negative slope is not supported (0 or more expected)") }
                try activation(node, .leakyRelu, alpha, 0)
            case "Mul":
                try mul(node)
            case "Concat":
                try concat(node)
            case "Dropout":
                // Inference-mode dropout is the identity; continuation training keeps it so (no mask output).
                if node.outputs.count > 1 && !node.outputs[1].isEmpty { throw fail(node, "the mask output is not supported") }
                if node.inputs.count > 2 && !node.inputs[2].isEmpty,
                   let t = constants[node.inputs[2]], t.ints?.first == 1 || t.floats?.first == 1 {
                    throw fail(node, "training_mode=true; HalfStep treats Dropout as the identity (inference mode)")
                }
                try alias(node) { shape throws(ONNXError) in shape }
            default:
                throw .unsupportedOperator(path: path, op: node.opType, node: node.name, supported: ONNXImporter.supportedOperators)
            }
            if let first = node.inputs.first.flatMap({ values[$0] }), lifted.contains(first), !Importer.layoutChanging.contains(node.opType) {
                for o in node.outputs { if let v = values[o] { lifted.insert(v) } }
            }
        }
        guard let output = values[graph.outputName] else {
            throw .graph(path: path, detail: "the output '\(graph.outputName)' is not computed by any node")
        }
        graph.output = output
        return graph
    }

    // MARK: - Values

    func value(_ node: ONNXNode, _ i: Int) throws(ONNXError) -> Int {
        guard i < node.inputs.count, !node.inputs[i].isEmpty else { throw fail(node, "input \(i) is missing") }
        if let v = values[node.inputs[i]] { return v }
        if constants[node.inputs[i]] != nil { throw fail(node, "input \(i) '\(node.inputs[i])' is a constant; a computed value is expected here") }
        throw .undefinedValue(path: path, node: node.name, value: node.inputs[i])
    }

    func constantInput(_ node: ONNXNode, _ i: Int) throws(ONNXError) -> ONNXTensor {
        guard i < node.inputs.count, !node.inputs[i].isEmpty else { throw fail(node, "input \(i) is missing") }
        if let c = constants[node.inputs[i]] { return c }
        if values[node.inputs[i]] != nil {
            throw fail(node, "input \(i) '\(node.inputs[i])' is computed; HalfStep needs a constant (initializer) here")
        }
        throw .undefinedValue(path: path, node: node.name, value: node.inputs[i])
    }

    func graphValueShape(_ node: ONNXNode) -> [Int] {
        node.inputs.first.flatMap { values[$0] }.map { graph.values[$0].shape } ?? []
    }

    mutating func addValue(_ name: String?, shape: [Int], _ node: ONNXNode) -> Int {
        let n = name ?? "\(node.name):0"
        graph.values.append(.init(name: n, shape: shape))
        values[n] = graph.values.count - 1
        return graph.values.count - 1
    }

    mutating func alias(_ node: ONNXNode, shape: ([Int]) throws(ONNXError) -> [Int]) throws(ONNXError) {
        guard let out = node.outputs.first else { throw fail(node, "no output") }
        if let c = node.inputs.first.flatMap({ constants[$0] }) {
            constants[out] = c
            return
        }
        let x = try value(node, 0)
        let newShape = try shape(graph.values[x].shape)
        if newShape == graph.values[x].shape {
            values[out] = x
        } else {
            let y = addValue(out, shape: newShape, node)
            graph.nodes.append(.init(name: node.name, op: .reshape, inputs: [x], outputs: [y]))
        }
    }

    mutating func constant(_ node: ONNXNode) throws(ONNXError) {
        let t = try Importer.constantTensor(node, path: path)
        constants[t.name] = t
    }

    /// The tensor a `Constant` node outputs, named after its output.
    static func constantTensor(_ node: ONNXNode, path: String) throws(ONNXError) -> ONNXTensor {
        func fail(_ node: ONNXNode, _ detail: String) -> ONNXError { failure(path, node, detail) }
        guard let out = node.outputs.first else { throw fail(node, "no output") }
        var t: ONNXTensor
        if let v = node.attributes["value"]?.tensor {
            t = v
        } else if let f = node.attributes["value_float"]?.float {
            t = ONNXTensor(name: out, dims: [], dataType: 1, floats: [f], ints: nil, external: false)
        } else if let fs = node.attributes["value_floats"], !fs.floats.isEmpty {
            t = ONNXTensor(name: out, dims: [fs.floats.count], dataType: 1, floats: fs.floats, ints: nil, external: false)
        } else if let i = node.attributes["value_int"]?.int {
            t = ONNXTensor(name: out, dims: [], dataType: 7, floats: nil, ints: [i], external: false)
        } else if let is_ = node.attributes["value_ints"], !is_.ints.isEmpty {
            t = ONNXTensor(name: out, dims: [is_.ints.count], dataType: 7, floats: nil, ints: is_.ints, external: false)
        } else {
            throw fail(node, "no value, value_float(s) or value_int(s) attribute")
        }
        t.name = out
        return t
    }

    mutating func reshape(_ node: ONNXNode) throws(ONNXError) {
        let target = try constantInput(node, 1)
        guard let spec = target.ints else { throw fail(node, "the shape input is not an INT64 tensor") }
        if node.attributes["allowzero"]?.int == 1 && spec.contains(0) {
            throw fail(node, "allowzero=1 with a 0 in the shape would make an empty tensor")
        }
        let p = path
        try alias(node) { shape throws(ONNXError) in
            let elements = shape.reduce(1, *)
            guard let first = spec.first, first == 0 || first == -1 else {
                throw Importer.failure(p, node, "the shape \(spec) fixes the batch dimension; use -1 or 0 for it")
            }
            var rest = Array(spec.dropFirst())
            for (i, d) in rest.enumerated() where d == 0 {
                guard i + 1 < shape.count + 1, i < shape.count else { throw Importer.failure(p, node, "0 at position \(i + 1) copies a dimension the input does not have") }
                rest[i] = Int64(shape[i])
            }
            let unknown = rest.filter { $0 == -1 }.count
            if first == -1 && unknown > 0 || unknown > 1 { throw Importer.failure(p, node, "the shape \(spec) has more than one -1") }
            let known = rest.filter { $0 != -1 }.reduce(Int64(1), *)
            guard rest.allSatisfy({ $0 == -1 || $0 > 0 }), known > 0 else { throw Importer.failure(p, node, "the shape \(spec) has a negative size") }
            if unknown == 1 {
                guard Int64(elements) % known == 0 else { throw Importer.failure(p, node, "cannot reshape \(elements) elements per sample to \(spec)") }
                return rest.map { $0 == -1 ? elements / Int(known) : Int($0) }
            }
            guard known == Int64(elements) else { throw Importer.failure(p, node, "reshape of \(elements) elements per sample to \(spec) changes the element count") }
            return rest.map { Int($0) }
        }
    }

    // MARK: - Shape ops (the dynamo exporter's)

    /// Value `x`'s per-sample shape as the ONNX graph has it (a lifted sequence is `[C, L]`).
    func onnxShape(_ x: Int) -> [Int] {
        let s = graph.values[x].shape
        return lifted.contains(x) && s.count == 3 ? [s[0], s[2]] : s
    }

    /// The node's output is its input under the per-sample ONNX shape `shape` (no data moves).
    /// A new value unless the input is already exactly that, unlifted.
    mutating func relabel(_ node: ONNXNode, _ x: Int, to shape: [Int]) throws(ONNXError) {
        guard let out = node.outputs.first else { throw fail(node, "no output") }
        if !lifted.contains(x) && graph.values[x].shape == shape {
            values[out] = x
            return
        }
        let y = addValue(out, shape: shape, node)
        graph.nodes.append(.init(name: node.name, op: .reshape, inputs: [x], outputs: [y]))
    }

    /// The axes of input 1 (opset 13 and later) or of the `axes` attribute, as given; nil when
    /// neither is.
    func givenAxes(_ node: ONNXNode) throws(ONNXError) -> [Int64]? {
        if node.inputs.count > 1 && !node.inputs[1].isEmpty {
            guard let ints = try constantInput(node, 1).ints else { throw fail(node, "the axes input is not an INT64 tensor") }
            return ints
        }
        return node.attributes["axes"]?.ints
    }

    /// `givenAxes`, each made non-negative against `rank` (the full rank, batch included).
    func axes(_ node: ONNXNode, rank: Int) throws(ONNXError) -> [Int]? {
        guard let given = try givenAxes(node) else { return nil }
        var out: [Int] = []
        for a in given {
            let axis = Int(a) < 0 ? Int(a) + rank : Int(a)
            guard axis >= 0 && axis < rank, !out.contains(axis) else { throw fail(node, "axis \(a) is outside 0 ..< \(rank) or repeated") }
            out.append(axis)
        }
        return out.sorted()
    }

    /// Unsqueeze: size-1 dimensions inserted (never before the batch).
    mutating func unsqueeze(_ node: ONNXNode) throws(ONNXError) {
        let x = try value(node, 0)
        let shape = onnxShape(x)
        let count = try givenAxes(node)?.count ?? 0
        guard count > 0, let insert = try axes(node, rank: shape.count + 1 + count) else { throw fail(node, "no axes given") }
        if insert.contains(0) { throw fail(node, "axis 0 would insert a dimension before the batch") }
        var full = [0] + shape   // the batch, then the sample
        for a in insert { full.insert(1, at: a) }
        try relabel(node, x, to: Array(full.dropFirst()))
    }

    /// Squeeze: size-1 dimensions of the sample removed (all of them when no axes are given).
    mutating func squeeze(_ node: ONNXNode) throws(ONNXError) {
        let x = try value(node, 0)
        let shape = onnxShape(x)
        let remove = try axes(node, rank: shape.count + 1) ?? shape.indices.filter { shape[$0] == 1 }.map { $0 + 1 }
        if remove.contains(0) { throw fail(node, "axis 0 would remove the batch dimension") }
        for a in remove where shape[a - 1] != 1 { throw fail(node, "axis \(a) has size \(shape[a - 1]); only size-1 dimensions can be squeezed") }
        try relabel(node, x, to: shape.enumerated().filter { !remove.contains($0.offset + 1) }.map(\.element))
    }

    /// ReduceMean over every spatial axis of `[C, H, W]` or `[C, L]` (the dynamo exporter's
    /// adaptive average pool to 1): a GlobalAveragePool, then the shape `keepdims` asks for.
    mutating func reduceMean(_ node: ONNXNode) throws(ONNXError) {
        let x = try value(node, 0)
        let shape = onnxShape(x)
        guard shape.count >= 2 else { throw fail(node, "input has per-sample shape \(shape); ReduceMean over spatial axes of [C, H, W] or [C, L] is supported") }
        let spatial = Array(2 ... shape.count)
        let axes = try axes(node, rank: shape.count + 1) ?? Array(0 ... shape.count)
        guard axes == spatial else {
            throw fail(node, "ReduceMean over axes \(axes) of a [N, \(shape.map(String.init).joined(separator: ", "))] value; only the mean over every spatial axis (\(spatial)) is supported")
        }
        if node.attributes["noop_with_empty_axes"]?.int == 1 && axes.isEmpty { throw fail(node, "noop_with_empty_axes with no axes") }
        let keep = (node.attributes["keepdims"]?.int ?? 1) != 0
        let image = try spatialShape(node, x)
        guard let out = node.outputs.first else { throw fail(node, "no output") }
        let onnxOut = keep ? [shape[0]] + Array(repeating: 1, count: shape.count - 1) : [shape[0]]
        if onnxOut == [image[0], 1, 1] {
            let y = addValue(out, shape: onnxOut, node)
            graph.nodes.append(.init(name: node.name, op: .globalAveragePool, inputs: [x], outputs: [y]))
            return
        }
        let pooled = addValue(out + "/global-average", shape: [image[0], 1, 1], node)
        graph.nodes.append(.init(name: node.name, op: .globalAveragePool, inputs: [x], outputs: [pooled]))
        let y = addValue(out, shape: onnxOut, node)
        graph.nodes.append(.init(name: node.name + "/shape", op: .reshape, inputs: [pooled], outputs: [y]))
    }

    // MARK: - Convolutional layers

    /// The per-sample `[C, H, W]` shape of value `x`, or a clear error.
    ///
    /// A sequence `[C, L]` (PyTorch's Conv1d, BatchNorm1d and pooling over `[N, C, L]`) is the image
    /// `[C, 1, L]`: the same elements in the same order, so value `x` is relabelled in place and
    /// the 2-D kernels, memory levers and `--fit` serve 1-D models unchanged.
    mutating func spatialShape(_ node: ONNXNode, _ x: Int) throws(ONNXError) -> [Int] {
        let shape = graph.values[x].shape
        if shape.count == 2 {
            graph.values[x].shape = [shape[0], 1, shape[1]]
            lifted.insert(x)
            return graph.values[x].shape
        }
        guard shape.count == 3 else {
            throw .shapeMismatch(path: path, node: node.name, detail: "input '\(graph.values[x].name)' has per-sample shape \(shape); [channels, height, width] (NCHW) or [channels, length] (NCL) is expected")
        }
        return shape
    }

    /// Integer list attribute `name` with `count` entries per spatial dimension (2, or 1 for a 1-D
    /// op, whose values are lifted to the 2-D op over `[C, 1, L]`), or `fallback` when absent.
    ///
    /// `perDimension` is 1 for kernel, strides and dilations, 2 for pads (begins, then ends).
    func ints(_ node: ONNXNode, _ name: String, perDimension: Int = 1, oneD: Bool, fallback: [Int]) throws(ONNXError) -> [Int] {
        guard let a = node.attributes[name] else { return fallback }
        let v = a.ints.map { Int($0) }
        let count = perDimension * (oneD ? 1 : 2)
        guard v.count == count else {
            throw fail(node, "attribute \(name) has \(v.count) values; \(count) expected for a \(oneD ? 1 : 2)-D op")
        }
        guard oneD else { return v }
        // 1-D → 2-D: a height of 1, no stride, dilation or padding along it.
        return perDimension == 2 ? [0, v[0], 0, v[1]] : [1, v[0]]
    }

    /// Kernel, stride and padding of a 2-D (or lifted 1-D) window op on `shape`, with the output size.
    func window(_ node: ONNXNode, shape: [Int], kernel: [Int], outputs: Int, group: Int, oneD: Bool) throws(ONNXError) -> Window2D {
        if let pad = node.attributes["auto_pad"]?.string, pad != "NOTSET" && !pad.isEmpty {
            throw fail(node, "auto_pad=\(pad) is not supported; export with explicit pads (PyTorch does)")
        }
        let dilations = try ints(node, "dilations", oneD: oneD, fallback: [1, 1])
        guard dilations == [1, 1] else { throw fail(node, "dilations \(dilations); only 1 is supported") }
        if (node.attributes["ceil_mode"]?.int ?? 0) != 0 { throw fail(node, "ceil_mode=1 is not supported") }
        let strides = try ints(node, "strides", oneD: oneD, fallback: [1, 1])
        let pads = try ints(node, "pads", perDimension: 2, oneD: oneD, fallback: [0, 0, 0, 0])
        guard kernel.allSatisfy({ $0 >= 1 && $0 <= 255 }), strides.allSatisfy({ $0 >= 1 && $0 <= 255 }) else {
            throw fail(node, "kernel \(kernel) / strides \(strides): sizes 1 ... 255 expected")
        }
        guard pads.allSatisfy({ $0 >= 0 }), pads[0] < kernel[0], pads[1] < kernel[1], pads[2] < kernel[0], pads[3] < kernel[1] else {
            throw fail(node, "pads \(pads) must be non-negative and smaller than the kernel \(kernel)")
        }
        let oh = (shape[1] + pads[0] + pads[2] - kernel[0]) / strides[0] + 1
        let ow = (shape[2] + pads[1] + pads[3] - kernel[1]) / strides[1] + 1
        guard shape[1] + pads[0] + pads[2] >= kernel[0], shape[2] + pads[1] + pads[3] >= kernel[1] else {
            throw .shapeMismatch(path: path, node: node.name, detail: "the \(kernel) window does not fit the padded \(shape[1])x\(shape[2]) input")
        }
        let w = Window2D(channels: shape[0], outputs: outputs, height: shape[1], width: shape[2], outHeight: oh, outWidth: ow,
                         kernelHeight: kernel[0], kernelWidth: kernel[1], strideHeight: strides[0], strideWidth: strides[1],
                         padTop: pads[0], padLeft: pads[1], group: group, trainedOutputs: 0)
        guard w.fitsFormat else { throw fail(node, "a size is beyond the plan format's 16-bit fields (\(shape) → \(outputs)x\(oh)x\(ow))") }
        return w
    }

    mutating func conv(_ node: ONNXNode) throws(ONNXError) {
        let x = try value(node, 0)
        let shape = try spatialShape(node, x)
        let wt = try constantInput(node, 1)
        guard wt.dims.count == 4 || wt.dims.count == 3 else {
            throw fail(node, "weight '\(wt.name)' has shape \(wt.dims); [M, C/group, KH, KW] (2-D) or [M, C/group, K] (1-D convolution) is expected")
        }
        // A 1-D convolution is the 2-D one with a kernel height of 1 (same weight order).
        let oneD = wt.dims.count == 3
        let weightShape = oneD ? [wt.dims[0], wt.dims[1], 1, wt.dims[2]] : wt.dims
        let group = Int(node.attributes["group"]?.int ?? 1)
        guard group >= 1, shape[0] % group == 0, wt.dims[0] % group == 0, wt.dims[1] * group == shape[0] else {
            throw .shapeMismatch(path: path, node: node.name, detail: "group \(group) with \(shape[0]) input channels and weight \(wt.dims)")
        }
        let kernel = try ints(node, "kernel_shape", oneD: oneD, fallback: [weightShape[2], weightShape[3]])
        guard kernel == [weightShape[2], weightShape[3]] else { throw fail(node, "kernel_shape \(kernel) disagrees with the weight \(wt.dims)") }
        var g = try window(node, shape: shape, kernel: kernel, outputs: wt.dims[0], group: group, oneD: oneD)
        g.trainedOutputs = g.outputs
        let w = try parameter(wt, node, shape: weightShape, transposed: false)
        var b: Int? = nil
        if node.inputs.count > 2 && !node.inputs[2].isEmpty {
            let bt = try constantInput(node, 2)
            guard bt.dims == [wt.dims[0]] else { throw fail(node, "bias '\(bt.name)' has shape \(bt.dims); [\(wt.dims[0])] is expected") }
            b = try parameter(bt, node, shape: bt.dims, transposed: false)
        }
        let y = addValue(node.outputs.first, shape: [g.outputs, g.outHeight, g.outWidth], node)
        graph.nodes.append(.init(name: node.name, op: .conv(weight: w, bias: b, window: g), inputs: [x], outputs: [y]))
    }

    mutating func batchNorm(_ node: ONNXNode) throws(ONNXError) {
        if (node.attributes["training_mode"]?.int ?? 0) != 0 { throw fail(node, "training_mode=1; export the model in eval mode") }
        if node.outputs.count > 1 && node.outputs.dropFirst().contains(where: { !$0.isEmpty }) {
            throw fail(node, "running-statistics outputs are not supported (export in eval mode)")
        }
        let x = try value(node, 0)
        // BatchNorm1d over [C, L] normalises per channel as over the image [C, 1, L].
        let shape = graph.values[x].shape.count == 2 ? try spatialShape(node, x) : graph.values[x].shape
        guard let c = shape.first, shape.count == 3 || shape.count == 1 else {
            throw .shapeMismatch(path: path, node: node.name, detail: "input has per-sample shape \(shape); [C, H, W], [C, L] or [C] expected")
        }
        var p: [Int] = []
        for i in 1 ... 4 {
            let t = try constantInput(node, i)
            guard t.dims == [c] else { throw fail(node, "input \(i) '\(t.name)' has shape \(t.dims); [\(c)] is expected") }
            p.append(try parameter(t, node, shape: [c], transposed: false))
        }
        if graph.parameters[p[3]].values.contains(where: { $0 < 0 || !$0.isFinite }) {
            throw fail(node, "the running variance has negative or non-finite values")
        }
        let eps = node.attributes["epsilon"]?.float ?? 1e-5
        let y = addValue(node.outputs.first, shape: shape, node)
        graph.nodes.append(.init(name: node.name, op: .batchNorm(scale: p[0], bias: p[1], mean: p[2], variance: p[3], epsilon: eps),
                                 inputs: [x], outputs: [y]))
    }

    mutating func pool(_ node: ONNXNode) throws(ONNXError) {
        let x = try value(node, 0)
        let shape = try spatialShape(node, x)
        if node.outputs.count > 1 && !node.outputs[1].isEmpty { throw fail(node, "the Indices output is not supported") }
        if (node.attributes["storage_order"]?.int ?? 0) != 0 { throw fail(node, "storage_order=1 is not supported") }
        guard let given = node.attributes["kernel_shape"]?.ints.map({ Int($0) }), given.count == 2 || given.count == 1 else {
            throw fail(node, "kernel_shape with 2 values (2-D pooling) or 1 (1-D pooling) is required")
        }
        let oneD = given.count == 1
        let kernel = oneD ? [1, given[0]] : given
        let includePad = node.opType == "AveragePool" && (node.attributes["count_include_pad"]?.int ?? 0) != 0
        let g = try window(node, shape: shape, kernel: kernel, outputs: shape[0], group: includePad ? 1 : 0, oneD: oneD)
        let y = addValue(node.outputs.first, shape: [g.outputs, g.outHeight, g.outWidth], node)
        let op: Graph.Operator = node.opType == "MaxPool" ? .maxPool(window: g) : .averagePool(window: g)
        graph.nodes.append(.init(name: node.name, op: op, inputs: [x], outputs: [y]))
    }

    mutating func activation(_ node: ONNXNode, _ kind: Activation.Kind, _ a: Float, _ b: Float) throws(ONNXError) {
        guard a.isFinite && b.isFinite else { throw fail(node, "parameters must be finite") }
        let x = try value(node, 0)
        let y = addValue(node.outputs.first, shape: graph.values[x].shape, node)
        graph.nodes.append(.init(name: node.name, op: .activation(kind: kind, a: a, b: b), inputs: [x], outputs: [y]))
    }

    /// A scalar constant input (Clip's min/max), nil when the input is absent.
    func optionalScalar(_ node: ONNXNode, _ i: Int) throws(ONNXError) -> Float? {
        guard i < node.inputs.count, !node.inputs[i].isEmpty else { return nil }
        let t = try constantInput(node, i)
        guard let v = t.floats, v.count == 1 else { throw fail(node, "input \(i) '\(t.name)' must be one float") }
        return v[0]
    }

    mutating func add(_ node: ONNXNode) throws(ONNXError) {
        guard node.inputs.count == 2 else { throw fail(node, "\(node.inputs.count) inputs; 2 expected") }
        if constants[node.inputs[0]] != nil || constants[node.inputs[1]] != nil {
            throw fail(node, "Add of a constant is only supported as the bias right after MatMul")
        }
        let a = try value(node, 0), b = try value(node, 1)
        guard graph.values[a].shape == graph.values[b].shape else {
            throw .shapeMismatch(path: path, node: node.name, detail: "'\(graph.values[a].name)' \(graph.values[a].shape) + '\(graph.values[b].name)' \(graph.values[b].shape): broadcasting between computed values is not supported")
        }
        let y = addValue(node.outputs.first, shape: graph.values[a].shape, node)
        graph.nodes.append(.init(name: node.name, op: .add, inputs: [a, b], outputs: [y]))
    }

    mutating func mul(_ node: ONNXNode) throws(ONNXError) {
        guard node.inputs.count == 2 else { throw fail(node, "\(node.inputs.count) inputs; 2 expected") }
        let constantSide = constants[node.inputs[1]] != nil ? 1 : (constants[node.inputs[0]] != nil ? 0 : -1)
        guard constantSide >= 0 else { throw fail(node, "Mul of two computed values is not supported (only by a constant)") }
        let x = try value(node, 1 - constantSide)
        let t = try constantInput(node, constantSide)
        let shape = graph.values[x].shape
        let count = t.dims.reduce(1, *)
        let perChannel = shape.count == 3 && count == shape[0] && count > 1
            && (t.dims == [shape[0], 1, 1] || t.dims == [1, shape[0], 1, 1])
        guard count == 1 || perChannel else {
            throw fail(node, "constant '\(t.name)' has shape \(t.dims); a scalar or one value per channel ([C, 1, 1]) is expected")
        }
        guard t.dataType == 1 || t.dataType == 10, let floats = t.floats else { throw .unsupportedDataType(path: path, tensor: t.name, dataType: t.dataType) }
        graph.parameters.append(.init(name: t.name.isEmpty ? "\(node.name).constant" : t.name, shape: [count], values: floats,
                                      sourceIsFloat16: t.dataType == 10))
        let y = addValue(node.outputs.first, shape: shape, node)
        graph.nodes.append(.init(name: node.name, op: .scale(constant: graph.parameters.count - 1), inputs: [x], outputs: [y]))
    }

    mutating func concat(_ node: ONNXNode) throws(ONNXError) {
        var inputs: [Int] = []
        for i in node.inputs.indices { inputs.append(try value(node, i)) }
        guard let first = inputs.first else { throw fail(node, "no inputs") }
        let shape = graph.values[first].shape
        let axis = Int(node.attributes["axis"]?.int ?? 1)
        guard axis == 1 || axis == 1 - (shape.count + 1) else { throw fail(node, "axis \(axis); only the channel axis (1) is supported") }
        var channels = 0
        for v in inputs {
            let s = graph.values[v].shape
            guard s.count == shape.count, s.dropFirst() == shape.dropFirst() else {
                throw .shapeMismatch(path: path, node: node.name, detail: "'\(graph.values[v].name)' \(s) does not match \(shape) outside the channel axis")
            }
            channels += s[0]
        }
        let y = addValue(node.outputs.first, shape: [channels] + shape.dropFirst(), node)
        graph.nodes.append(.init(name: node.name, op: .concat, inputs: inputs, outputs: [y]))
    }

    // MARK: - Dense layers

    mutating func parameter(_ t: ONNXTensor, _ node: ONNXNode, shape: [Int], transposed: Bool) throws(ONNXError) -> Int {
        guard t.dataType == 1 || t.dataType == 10 else { throw .unsupportedDataType(path: path, tensor: t.name, dataType: t.dataType) }
        guard let floats = t.floats else { throw .unsupportedDataType(path: path, tensor: t.name, dataType: t.dataType) }
        guard !usedAsParameter.contains(t.name) else {
            throw fail(node, "weight '\(t.name)' is shared with another layer; tied weights are not supported")
        }
        usedAsParameter.insert(t.name)
        var values = floats
        if transposed {
            // Source [rows, cols] → HalfStep [cols, rows].
            let rows = t.dims[0], cols = t.dims[1]
            values = [Float](repeating: 0, count: floats.count)
            for r in 0 ..< rows { for c in 0 ..< cols { values[c * rows + r] = floats[r * cols + c] } }
        }
        graph.parameters.append(.init(name: t.name, shape: shape, values: values,
                                      sourceLayout: transposed ? .transposed2D : .same, sourceIsFloat16: t.dataType == 10))
        return graph.parameters.count - 1
    }

    /// A bias tensor of shape [M] or [1, M]; nil when it does not fit that shape.
    func biasShape(_ t: ONNXTensor, m: Int) -> Bool {
        t.dims == [m] || t.dims == [1, m]
    }

    mutating func dense(_ node: ONNXNode, x: Int, weight: ONNXTensor, weightIsOutByIn: Bool, bias: ONNXTensor?,
                        alpha: Float, beta: Float, output: String?) throws(ONNXError) {
        guard weight.dims.count == 2 else { throw fail(node, "weight '\(weight.name)' has shape \(weight.dims); a 2-D matrix is expected") }
        let m = weightIsOutByIn ? weight.dims[0] : weight.dims[1]
        let k = weightIsOutByIn ? weight.dims[1] : weight.dims[0]
        let xShape = graph.values[x].shape
        guard xShape.reduce(1, *) == k, xShape.count == 1 || k == xShape.reduce(1, *) else {
            throw .shapeMismatch(path: path, node: node.name, detail: "input '\(graph.values[x].name)' has \(xShape) per sample, the weight '\(weight.name)' expects \(k) features")
        }
        guard xShape.count == 1 else {
            throw .shapeMismatch(path: path, node: node.name, detail: "input '\(graph.values[x].name)' is \(xShape.count + 1)-D; flatten it to [batch, features] before this layer")
        }
        let w = try parameter(weight, node, shape: [m, k], transposed: !weightIsOutByIn)
        var b: Int? = nil
        if let bias {
            guard biasShape(bias, m: m) else {
                throw fail(node, "bias '\(bias.name)' has shape \(bias.dims); [\(m)] or [1, \(m)] is expected")
            }
            b = try parameter(bias, node, shape: [m], transposed: false)
        }
        let y = addValue(output, shape: [m], node)
        graph.nodes.append(.init(name: node.name, op: .dense(weight: w, bias: b, alpha: alpha, beta: beta), inputs: [x], outputs: [y]))
    }

    mutating func gemm(_ node: ONNXNode) throws(ONNXError) {
        if (node.attributes["transA"]?.int ?? 0) != 0 {
            throw fail(node, "transA=1 (batch along columns) is not supported; PyTorch never exports it for nn.Linear")
        }
        let transB = (node.attributes["transB"]?.int ?? 0) != 0
        let x = try value(node, 0)
        let w = try constantInput(node, 1)
        let c = node.inputs.count > 2 && !node.inputs[2].isEmpty ? try constantInput(node, 2) : nil
        try dense(node, x: x, weight: w, weightIsOutByIn: transB, bias: c,
                  alpha: node.attributes["alpha"]?.float ?? 1, beta: node.attributes["beta"]?.float ?? 1,
                  output: node.outputs.first)
    }

    /// The `Add` node that adds a constant bias to `MatMul` node `index`'s output, if that is the
    /// output's only use.
    func biasAdd(after index: Int) -> (Int, ONNXNode)? {
        let nodes = model.graph.nodes
        guard let out = nodes[index].outputs.first else { return nil }
        let users = nodes.indices.filter { nodes[$0].inputs.contains(out) }
        guard users.count == 1, out != graph.outputName, nodes[users[0]].opType == "Add",
              nodes[users[0]].domain.isEmpty || nodes[users[0]].domain == "ai.onnx" else { return nil }
        let add = nodes[users[0]]
        guard add.inputs.count == 2 else { return nil }
        let other = add.inputs[0] == out ? add.inputs[1] : add.inputs[0]
        guard constants[other] != nil || model.graph.nodes[..<users[0]].contains(where: { $0.opType == "Constant" && $0.outputs.first == other }) else { return nil }
        return (users[0], add)
    }

    mutating func matmul(_ node: ONNXNode, bias add: ONNXNode?) throws(ONNXError) {
        let x = try value(node, 0)
        let w = try constantInput(node, 1)
        var bias: ONNXTensor? = nil
        var output = node.outputs.first
        if let add {
            let other = add.inputs[0] == node.outputs.first ? add.inputs[1] : add.inputs[0]
            bias = constants[other]
            output = add.outputs.first
        }
        try dense(node, x: x, weight: w, weightIsOutByIn: false, bias: bias, alpha: 1, beta: 1, output: output)
    }
}
