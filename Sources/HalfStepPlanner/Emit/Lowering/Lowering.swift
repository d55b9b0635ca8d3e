import HalfStepCore

/// The state of one lowering: the graph being planned, the program built so far, and which plan
/// tensor holds each graph value, gradient and parameter.
///
/// Lowering rules (`LoweringRule`, one file per graph operator) and lever passes (`Passes/`) both
/// extend it: a rule emits its operator's ops through the helpers here, and a lever pass keeps its
/// own state in a field of its own and writes its own planner note.
struct Lowering {
    var graph: Graph
    let options: PlanOptions
    var program = TrainingProgram()

    /// Rows of every batch-major tensor: the micro-batch (the step's batch without micro-batches).
    var n = 1
    /// Storage type of activations, gradients and fp16 parameters.
    let floatType = DType.float16

    /// Plan tensor holding each graph value (aliases share one).
    var valueTensor: [Int: Int] = [:]
    /// Plan tensor holding each value's gradient.
    var gradientTensor: [Int: Int] = [:]
    /// Plan tensor compute reads for each parameter (see `parameterTensor(_:)`).
    var parameterTensor: [Int: Int] = [:]
    var parameterGradient: [Int: Int] = [:]
    /// Where each parameter BatchNormalization folding created comes from (see `source(of:)`).
    var foldedSources: [Int: TensorSource] = [:]

    /// Where each graph value is produced (node index); the graph input has none.
    var producer: [Int: Int] = [:]
    /// How many nodes read each value.
    var consumers: [Int: Int] = [:]
    /// Values whose gradient is needed (a trainable parameter lies upstream).
    var upstreamTrainable = Set<Int>()
    var trainable = Set<Int>()

    /// Optimizer choices per parameter (`OptimizerLowering.swift`).
    var updates = UpdatePlan()
    /// Lever passes, each with its own state and note.
    var masks = ActivationMaskPass()
    var recompute = RecomputePass()
    var fusion = ExpandDepthwiseFusionPass()
    var microBatch = MicroBatchPass()
    var panels = ConvolutionPanelPass()

    init(graph: Graph, options: PlanOptions) {
        self.graph = graph
        self.options = options
    }

    // MARK: Tensors and ops

    mutating func add(_ name: String, _ dtype: DType, _ role: TensorRole, _ region: Region = .arena,
                      shape: [Int], batchMajor: Bool = false, trainable: Bool = false,
                      initial: [UInt8]? = nil, parameter: Int? = nil) -> Int {
        program.tensors.append(.init(name: name, dtype: dtype, role: role, region: region, shape: shape,
                                     trainable: trainable, batchMajor: batchMajor, initial: initial,
                                     parameter: parameter))
        return program.tensors.count - 1
    }

    mutating func emit<Op: StepOp>(_ op: Op, _ phase: Phase, node: String) {
        program.ops.append(.init(op, phase: phase, node: node))
    }

    /// The rule of the node that produced value `v`, if a node did.
    func producerRule(of v: Int) -> (node: Graph.Node, rule: any LoweringRule)? {
        guard let p = producer[v] else { return nil }
        return (graph.nodes[p], graph.nodes[p].op.rule)
    }

    // MARK: Values and gradients

    /// The plan tensors of `node`'s inputs, each computed before the node runs.
    func inputTensors(of node: Graph.Node) throws(PlannerError) -> [Int] {
        var xs: [Int] = []
        for v in node.inputs {
            guard let t = valueTensor[v] else {
                throw .unsupportedGraph("node '\(node.name)' reads '\(graph.values[v].name)' before it is computed")
            }
            xs.append(t)
        }
        return xs
    }

    /// A new batch-major activation tensor for value `v`, which then holds `v`.
    mutating func newValue(_ v: Int) -> Int {
        let t = add(graph.values[v].name, floatType, .activation, shape: [n] + graph.values[v].shape, batchMajor: true)
        valueTensor[v] = t
        return t
    }

    /// A new activation tensor `[n, elements]` for value `v` (an elementwise op's output), which then holds `v`.
    mutating func newFlatValue(_ v: Int) -> Int {
        let t = add(graph.values[v].name, floatType, .activation, shape: [n, graph.values[v].elementsPerSample], batchMajor: true)
        valueTensor[v] = t
        return t
    }

    /// Makes tensor `t` (which held `x`) hold `y` too: an op that writes its output over its input.
    mutating func rename(_ t: Int, to y: Int) {
        program.tensors[t].name = graph.values[y].name
        valueTensor[y] = t
    }

    /// True when a node may write its output over input `x`: nothing else reads x, it is not the
    /// graph's input or output, and the op that produced x allows it (`outputMayBeOverwritten`).
    func mayOverwrite(_ x: Int) -> Bool {
        guard x != graph.input, x != graph.output, consumers[x] == 1, let p = producerRule(of: x) else { return false }
        return p.rule.outputMayBeOverwritten
    }

    /// True when some consumer's backward op reads value `v` itself (not its gradient).
    func readInBackward(_ v: Int) -> Bool {
        if v == graph.output { return true }
        for c in graph.nodes where c.inputs.contains(v) {
            if c.op.rule.backwardReadsInput(c, self) { return true }
        }
        return false
    }

    mutating func newGradient(_ v: Int) -> Int {
        add("d" + graph.values[v].name, floatType, .activationGradient, shape: [n] + graph.values[v].shape, batchMajor: true)
    }

    /// Hands gradient tensor `t` to value `v`: it becomes v's gradient, or is added to the one v has.
    mutating func deliver(_ t: Int, to v: Int, node: String) {
        if let existing = gradientTensor[v] {
            emit(AccumulateActivationGradient(g: existing, other: t, n: n, e: graph.values[v].elementsPerSample), .backward, node: node)
        } else {
            gradientTensor[v] = t
        }
    }

    /// Channels and plane size of value `v` (`[C, H, W]`, or a flat vector as C channels of one).
    func channelsAndPlane(_ v: Int) -> (Int, Int) {
        let shape = graph.values[v].shape
        let c = shape.count == 3 ? shape[0] : shape.reduce(1, *)
        return (c, graph.values[v].elementsPerSample / max(c, 1))
    }

    func fits(_ w: Window2D, _ node: Graph.Node) throws(PlannerError) {
        guard w.fitsFormat else { throw .formatLimit("node '\(node.name)': a window size beyond the format's 16-bit fields") }
    }

    // MARK: Parameters

    /// The plan tensor compute reads for parameter `p` (created on first use: frozen ones in flash).
    mutating func parameterTensor(_ p: Int) -> Int {
        if let t = parameterTensor[p] { return t }
        let param = graph.parameters[p]
        let t: Int
        if !trainable.contains(p) {
            t = add(param.name, floatType, .weight, .flash, shape: param.shape, initial: encode(param.values, floatType), parameter: p)
        } else if updates.mode(of: p) == .fp32Master {
            t = add(param.name, .float32, .masterWeight, shape: param.shape, trainable: true, initial: encode(param.values, .float32), parameter: p)
        } else {
            t = add(param.name, .float16, .weight, shape: param.shape, trainable: true, initial: encode(param.values, .float16), parameter: p)
        }
        program.tensors[t].source = source(of: p)
        parameterTensor[p] = t
        return t
    }

    /// Where parameter `p`'s values come from in the source model: its initializer as imported
    /// (transposed or not), or the fold that made it; the rows that train when not all do.
    func source(of p: Int) -> TensorSource {
        let param = graph.parameters[p]
        var s = foldedSources[p] ?? TensorSource(initializer: param.name, transform: param.sourceLayout == .transposed2D ? .transposed : .identity)
        if trainable.contains(p) {
            let rows = trainedRows(p)
            if rows < (param.shape.first ?? rows) { s.trainedRows = rows }
        }
        return s
    }

    /// An fp32 constant in flash (BatchNormalization statistics), from `source`.
    mutating func constant(_ name: String, _ values: [Float], source: TensorSource) -> Int {
        let t = add(name, .float32, .weight, .flash, shape: [values.count], initial: encode(values, .float32))
        program.tensors[t].source = source
        return t
    }

    /// Rows of weight `p` that train (its first dimension, scaled by the channel fraction).
    func trainedRows(_ p: Int) -> Int {
        let rows = graph.parameters[p].shape.first ?? 1
        if options.trainedChannelFraction >= 1 || graph.parameters[p].shape.count < 2 { return rows }
        return max(1, Int((Double(rows) * options.trainedChannelFraction).rounded(.up)))
    }

    /// The gradient tensor of parameter `p` if it trains (its trained rows only).
    mutating func trainedGradient(_ p: Int?) -> Int? {
        guard let p, trainable.contains(p) else { return nil }
        return gradient(for: p)
    }

    /// The gradient tensor of parameter `p` (its trained rows), created on first use.
    mutating func gradient(for p: Int) -> Int {
        if let g = parameterGradient[p] { return g }
        let param = graph.parameters[p]
        var shape = param.shape
        if !shape.isEmpty { shape[0] = trainedRows(p) }
        let g = add("d" + param.name, floatType, .weightGradient, shape: shape)
        parameterGradient[p] = g
        return g
    }
}

/// Little-endian bytes of `values` stored as `dtype` (fp16 rounds to nearest even).
func encode(_ values: [Float], _ dtype: DType) -> [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(values.count * dtype.byteWidth)
    switch dtype {
    case .float16:
        for v in values { let b = Float16(v).bitPattern; out.append(UInt8(b & 0xFF)); out.append(UInt8(b >> 8)) }
    case .float32:
        for v in values { let b = v.bitPattern; for s in stride(from: 0, to: 32, by: 8) { out.append(UInt8((b >> UInt32(s)) & 0xFF)) } }
    case .int32:
        for v in values { let b = UInt32(bitPattern: Int32(v)); for s in stride(from: 0, to: 32, by: 8) { out.append(UInt8((b >> UInt32(s)) & 0xFF)) } }
    }
    return out
}
