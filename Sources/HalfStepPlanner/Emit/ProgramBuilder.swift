import HalfStepCore

/// Lowers a graph and plan options into one training step: forward ops, the loss, backward ops
/// (stopping below the first trainable layer) and update ops, with every buffer they touch.
///
/// Choices that save memory and are always right are made here without asking: a ReLU overwrites
/// its input when nothing else reads it; frozen parameters stay in flash; no input gradient is
/// computed for a layer with nothing trainable below it.
public enum ProgramBuilder {
    /// The layers `--train last:K` counts, in graph order (dense and convolution nodes, and
    /// BatchNormalizations that do not follow a convolution).
    public static func layerNames(_ graph: Graph) -> [String] {
        TrainedLayer.layers(of: graph).map(\.node)
    }

    /// Each layer `layerNames` lists with the initializer names of its biases (and BatchNorm β),
    /// the units `--fit`'s greedy phase adds to a selection.
    public static func layerBiases(_ graph: Graph) -> [(layer: String, biases: [String])] {
        TrainedLayer.layers(of: graph).map { ($0.node, $0.biases.map { graph.parameters[$0].name }) }
    }

    public static func build(_ graph: Graph, _ options: PlanOptions) throws(PlannerError) -> TrainingProgram {
        var b = Builder(graph: graph, options: options)
        try b.run()
        return b.program
    }
}

private struct Builder {
    var graph: Graph
    let options: PlanOptions
    var program = TrainingProgram()
    /// Plan tensor holding each graph value (aliases share one).
    var valueTensor: [Int: Int] = [:]
    /// Plan tensor holding each value's gradient.
    var gradientTensor: [Int: Int] = [:]
    /// Plan tensor compute reads for each parameter (see `parameterTensor(_:)`).
    var parameterTensor: [Int: Int] = [:]
    var parameterGradient: [Int: Int] = [:]
    /// Where each parameter BatchNormalization folding created comes from (see `source(of:)`).
    var foldedSources: [Int: TensorSource] = [:]

    init(graph: Graph, options: PlanOptions) {
        self.graph = graph
        self.options = options
    }

    /// Storage type of activations, gradients and fp16 parameters.
    let floatType = DType.float16

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

    /// Where each graph value is produced (node index); the graph input has none.
    var producer: [Int: Int] = [:]
    /// How many nodes read each value.
    var consumers: [Int: Int] = [:]
    /// Values whose gradient is needed (a trainable parameter lies upstream).
    var upstreamTrainable = Set<Int>()
    var trainable = Set<Int>()
    var modes: [Int: UpdateMode] = [:]
    /// Update ops already emitted (fused), by parameter.
    var updated = Set<Int>()
    var updateStream: [Int: Int] = [:]
    /// The bit mask a masked ReLU/Clip saved for its backward, by output value.
    var activationMask: [Int: Int] = [:]
    /// Values computed again in backward (see `saved(_:n:)`), and the nodes recomputed.
    var recomputed: [Int: Int] = [:]
    var recomputedNames: [String] = []
    /// Masked activations and the bytes each saves (output size less mask size), for the notes.
    var maskedActivations: [(name: String, saved: Int)] = []
    /// Micro-batches per step (1: none).
    var microBatches = 1
    /// Each trainable parameter's gradient sum over micro-batches (what its update reads).
    var gradientSum: [Int: Int] = [:]

    mutating func run() throws(PlannerError) {
        try options.validate()
        let stepBatch = options.batch
        // Micro-batches: every batch-major tensor is planned for one micro-batch.
        let n = options.microBatch ?? stepBatch
        microBatches = stepBatch / n
        if options.accumulateHalf && graph.nodes.contains(where: { if case .dense = $0.op { return false }; if case .relu = $0.op { return false }; return true }) {
            throw .badOption(name: "--accumulate", value: "fp16", expected: "fp32 for this model: fp16 accumulation exists for Dense layers only")
        }
        let selected = try options.train.parameters(in: graph)
        let known = Set(graph.parameters.map(\.name)).union(graph.nodes.map(\.name))
        for name in options.updateOverrides.keys where !known.contains(name) {
            throw .unknownLayer(name: name, available: graph.nodes.map(\.name) + graph.parameters.map(\.name))
        }
        // Fold BatchNormalizations whose γ stays frozen (all of them with --fold-batchnorm).
        let original = graph
        let foldable = BatchNormFolding.pairs(in: graph).filter { pair in
            guard case .batchNorm(let gamma, _, _, _, _) = graph.nodes[pair.batchNorm].op else { return false }
            return options.foldBatchNorm || !selected.contains(gamma)
        }
        (graph, trainable, foldedSources) = BatchNormFolding.fold(graph, pairs: foldable, trainable: selected)
        if !foldable.isEmpty {
            program.notes.append("folded \(foldable.count) BatchNormalization\(foldable.count == 1 ? "" : "s") into the convolution before \(foldable.count == 1 ? "it" : "them") (γ frozen): no separate op or saved activation")
        }
        program.trainableParameters = trainable.sorted()

        for (i, node) in graph.nodes.enumerated() {
            for o in node.outputs { producer[o] = i }
            for v in node.inputs { consumers[v, default: 0] += 1 }
        }
        let outputShape = graph.values[graph.output].shape
        guard outputShape.reduce(1, *) == outputShape.max() ?? 0 else {
            throw .unsupportedGraph("the output '\(graph.outputName)' has per-sample shape \(outputShape); a classifier's logits [classes] are expected")
        }
        let classes = graph.values[graph.output].elementsPerSample
        let features = graph.values[graph.input].elementsPerSample

        let input = add("input", floatType, .input, shape: [n, features], batchMajor: true)
        valueTensor[graph.input] = input
        let labels = add("labels", .int32, .labels, shape: [n], batchMajor: true)

        // Update modes: the default, then overrides by layer (node name), then by tensor name.
        for p in trainable {
            modes[p] = options.update
            let name = graph.parameters[p].name
            for node in original.nodes + graph.nodes where nodeParameters(node).contains(where: { original.parameters.indices.contains($0) && original.parameters[$0].name == name || graph.parameters[$0].name == name }) {
                if let m = options.updateOverrides[node.name] { modes[p] = m }
            }
            if let m = options.updateOverrides[name] { modes[p] = m }
        }
        for (stream, p) in program.trainableParameters.enumerated() { updateStream[p] = stream }

        for node in graph.nodes {
            var trains = node.inputs.contains { upstreamTrainable.contains($0) }
            trains = trains || nodeParameters(node).contains { trainable.contains($0) }
            if trains { for o in node.outputs { upstreamTrainable.insert(o) } }
        }

        var fusedNodes = Set<Int>()
        var fusedBlocks = 0
        for (index, node) in graph.nodes.enumerated() where !fusedNodes.contains(index) {
            if options.fuseFrozenBlocks, let chain = expandDepthwiseChain(at: index) {
                try emitExpandDepthwise(chain, n: n)
                fusedNodes.formUnion(chain)
                fusedBlocks += 1
                continue
            }
            try forward(node, index: index, n: n)
        }
        if fusedBlocks > 0 {
            program.notes.append("ran \(fusedBlocks) frozen expansion + depthwise pair\(fusedBlocks == 1 ? "" : "s") one hidden channel at a time: their expanded activations never exist (one hidden plane of scratch each)")
        }
        guard let logits = valueTensor[graph.output] else {
            throw .unsupportedGraph("the output '\(graph.outputName)' is not computed by any node")
        }

        let loss = add("loss", .float32, .loss, shape: [1])
        let dlogits = add("d" + graph.values[graph.output].name, floatType, .activationGradient, shape: [n, classes], batchMajor: true)
        gradientTensor[graph.output] = dlogits
        emit(SoftmaxCrossEntropyLoss(logits: logits, labels: labels, loss: loss, dlogits: dlogits, n: n, classes: classes), .loss, node: "loss")

        for node in graph.nodes.reversed() { try backward(node, n: n) }
        for p in program.trainableParameters where !updated.contains(p) { emitUpdate(p) }
        if !recomputedNames.isEmpty {
            program.notes.append("recomputes \(recomputedNames.count) cheap activation\(recomputedNames.count == 1 ? "" : "s") in backward from an input its own backward keeps anyway, instead of keeping the output since forward: \(recomputedNames.joined(separator: ", "))")
        }
        if !maskedActivations.isEmpty {
            let saved = maskedActivations.reduce(0) { $0 + $1.saved }
            let names = maskedActivations.prefix(3).map(\.name).joined(separator: ", ") + (maskedActivations.count > 3 ? ", …" : "")
            program.notes.append("kept \(maskedActivations.count) ReLU/ReLU6 output\(maskedActivations.count == 1 ? "" : "s") as 1-bit masks for backward (\(names)): \(saved) B fewer saved activation bytes before reuse")
        }
        if microBatches > 1 {
            let sums = gradientSum.values.reduce(0) { $0 + program.tensors[$1].bytes }
            program.notes.append("runs each step as \(microBatches) micro-batches of \(n): activations for \(n) sample\(n == 1 ? "" : "s"); the weight gradients' sums over micro-batches take \(sums) B")
        }

        var c = TrainingConfig()
        c.optimizerRaw = options.optimizer.rawValue
        c.stateDTypeRaw = options.effectiveStateType.rawValue
        c.accumulate = options.accumulateHalf ? 1 : 0
        c.batch = UInt16(n)
        c.microBatchesRaw = microBatches > 1 ? UInt16(microBatches) : 0
        c.learningRate = options.learningRate
        c.momentum = options.effectiveMomentum
        c.weightDecay = options.weightDecay
        c.beta2 = options.beta2
        c.epsilon = options.epsilon
        switch options.lossScale {
        case .none:
            c.lossScaleModeRaw = LossScaleMode.none.rawValue
            c.initialLossScale = 1
        case .fixed(let s):
            c.lossScaleModeRaw = LossScaleMode.fixed.rawValue
            c.initialLossScale = s
        case .dynamic(let initial, let interval):
            c.lossScaleModeRaw = LossScaleMode.dynamic.rawValue
            c.initialLossScale = initial
            c.growthInterval = UInt32(max(1, interval))
        }
        c.inputTensor = UInt16(input)
        c.labelsTensor = UInt16(labels)
        c.logitsTensor = UInt16(logits)
        c.lossTensor = UInt16(loss)
        c.classes = UInt32(classes)
        c.seed = options.seed
        c.inputFeatures = UInt32(features)
        program.config = c
        if program.tensors.count >= Int(PlanFormat.noTensor) {
            throw .formatLimit("\(program.tensors.count) tensors; format v1 holds at most \(PlanFormat.noTensor - 1)")
        }
    }

    /// The parameters a node reads.
    func nodeParameters(_ node: Graph.Node) -> [Int] {
        switch node.op {
        case .dense(let w, let b, _, _), .conv(let w, let b, _): return [w] + (b.map { [$0] } ?? [])
        case .batchNorm(let g, let b, let m, let v, _): return [g, b, m, v]
        case .scale(let c): return [c]
        default: return []
        }
    }

    /// The plan tensor compute reads for parameter `p` (created on first use: frozen ones in flash).
    mutating func parameterTensor(_ p: Int) -> Int {
        if let t = parameterTensor[p] { return t }
        let param = graph.parameters[p]
        let t: Int
        if !trainable.contains(p) {
            t = add(param.name, floatType, .weight, .flash, shape: param.shape, initial: encode(param.values, floatType), parameter: p)
        } else if modes[p] == .fp32Master {
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

    /// True when a node may write its output over input `x`: nothing else reads x, it is not the
    /// graph's input or output, and the op that produced x does not read its own output in backward.
    func mayOverwrite(_ x: Int) -> Bool {
        guard x != graph.input, x != graph.output, consumers[x] == 1, let p = producer[x] else { return false }
        switch graph.nodes[p].op {
        case .relu, .activation, .reshape: return false
        default: return true
        }
    }

    mutating func newValue(_ v: Int, n: Int) -> Int {
        let t = add(graph.values[v].name, floatType, .activation, shape: [n] + graph.values[v].shape, batchMajor: true)
        valueTensor[v] = t
        return t
    }

    mutating func forward(_ node: Graph.Node, index: Int, n: Int) throws(PlannerError) {
        var xs: [Int] = []
        for v in node.inputs {
            guard let t = valueTensor[v] else {
                throw .unsupportedGraph("node '\(node.name)' reads '\(graph.values[v].name)' before it is computed")
            }
            xs.append(t)
        }
        let x = node.inputs[0], y = node.outputs[0], xt = xs[0]
        let e = graph.values[x].elementsPerSample
        switch node.op {
        case .dense(let w, let bias, let alpha, let beta):
            let m = graph.values[y].elementsPerSample
            let wt = parameterTensor(w), bt = bias.map { parameterTensor($0) }
            let yt = newValue(y, n: n)
            emit(DenseForward(x: xt, w: wt, b: bt, y: yt, n: n, k: e, m: m, alpha: alpha, beta: beta), .forward, node: node.name)
        case .conv(let w, let bias, let window):
            let wt = parameterTensor(w), bt = bias.map { parameterTensor($0) }
            let yt = newValue(y, n: n)
            try fits(window, node)
            emit(Conv2DForward(x: xt, w: wt, b: bt, y: yt, n: n, window: window), .forward, node: node.name)
        case .batchNorm(let gamma, let beta, let mean, let variance, let eps):
            let c = graph.values[x].shape[0], plane = e / c
            let invStd = graph.parameters[variance].values.map { Float(1 / (Double($0) + Double(eps)).squareRoot()) }
            let mt = constant(graph.parameters[mean].name, graph.parameters[mean].values,
                              source: TensorSource(initializer: graph.parameters[mean].name, transform: .identity))
            let st = constant(graph.parameters[variance].name + ".invstd", invStd,
                              source: TensorSource(initializer: graph.parameters[variance].name, transform: .inverseStd,
                                                   batchNorm: BatchNormFolding.source(graph, batchNorm: index, conv: nil)))
            let gt = parameterTensor(gamma), bt = parameterTensor(beta)
            let yt = newValue(y, n: n)
            emit(BatchNormForward(x: xt, gamma: gt, beta: bt, mean: mt, invStd: st, y: yt, n: n, channels: c, plane: plane), .forward, node: node.name)
        case .relu:
            let yt = mayOverwrite(x) ? xt : add(graph.values[y].name, floatType, .activation, shape: [n, e], batchMajor: true)
            if yt == xt { program.tensors[xt].name = graph.values[y].name }
            valueTensor[y] = yt
            emit(ReLUForward(x: xt, y: yt, n: n, e: e), .forward, node: node.name)
            if wantsMask(node) { saveMask(y, yt, n: n, e: e, low: 0, high: .nan, node: node) }
        case .activation(let kind, let a, let b):
            let inPlace = mayOverwrite(x) && !kind.backwardReadsInput
            let yt = inPlace ? xt : add(graph.values[y].name, floatType, .activation, shape: [n, e], batchMajor: true)
            if inPlace { program.tensors[xt].name = graph.values[y].name }
            valueTensor[y] = yt
            emit(ActivationForward(x: xt, y: yt, n: n, e: e, kind: kind, a: a, b: b), .forward, node: node.name)
            if kind == .clip && wantsMask(node) { saveMask(y, yt, n: n, e: e, low: a, high: b, node: node) }
        case .maxPool(let window):
            let yt = newValue(y, n: n)
            try fits(window, node)
            emit(MaxPoolForward(x: xt, y: yt, n: n, window: window), .forward, node: node.name)
        case .averagePool(let window):
            let yt = newValue(y, n: n)
            try fits(window, node)
            emit(AveragePoolForward(x: xt, y: yt, n: n, window: window), .forward, node: node.name)
        case .globalAveragePool:
            let c = graph.values[x].shape[0]
            let yt = newValue(y, n: n)
            emit(GlobalAveragePoolForward(x: xt, y: yt, n: n, channels: c, plane: e / c), .forward, node: node.name)
        case .add:
            let yt: Int
            if mayOverwrite(x) { yt = xt; program.tensors[xt].name = graph.values[y].name; valueTensor[y] = yt }
            else if node.inputs[1] != x && mayOverwrite(node.inputs[1]) { yt = xs[1]; program.tensors[yt].name = graph.values[y].name; valueTensor[y] = yt }
            else { yt = newValue(y, n: n) }
            emit(ElementwiseAdd(a: xt, b: xs[1], y: yt, n: n, e: e), .forward, node: node.name)
        case .scale(let constant):
            let (c, plane) = channelsAndPlane(x)
            let ct = parameterTensor(constant)
            let yt = mayOverwrite(x) ? xt : newValue(y, n: n)
            if yt == xt { program.tensors[xt].name = graph.values[y].name; valueTensor[y] = yt }
            emit(ChannelScale(x: xt, s: ct, y: yt, n: n, channels: c, plane: plane), .forward, node: node.name)
        case .concat:
            let yt = newValue(y, n: n)
            let total = graph.values[y].elementsPerSample
            var offset = 0
            for (i, v) in node.inputs.enumerated() {
                let len = graph.values[v].elementsPerSample
                emit(CopyRows(x: xs[i], y: yt, n: n, length: len, xStride: len, xOffset: 0, yStride: total, yOffset: offset), .forward, node: node.name)
                offset += len
            }
        case .reshape:
            valueTensor[y] = xt
        }
    }

    /// True when `node` (a ReLU or Clip) should keep a bit mask for its backward instead of its
    /// output: the lever is on, its backward runs, and no other backward op reads the output.
    func wantsMask(_ node: Graph.Node) -> Bool {
        options.activationMasks && upstreamTrainable.contains(node.inputs[0]) && !readInBackward(node.outputs[0])
    }

    /// True when some consumer's backward op reads value `v` itself (not its gradient).
    func readInBackward(_ v: Int) -> Bool {
        if v == graph.output { return true }
        for c in graph.nodes where c.inputs.contains(v) {
            switch c.op {
            case .dense(let w, _, _, _):
                if trainable.contains(w) || options.accumulateHalf { return true }
            case .conv(let w, _, _):
                if trainable.contains(w) { return true }
            case .batchNorm, .maxPool:
                return true
            case .activation(let kind, _, _):
                if kind.backwardReadsInput { return true }
            case .reshape:
                if readInBackward(c.outputs[0]) { return true }
            case .relu, .add, .scale, .concat, .averagePool, .globalAveragePool:
                break
            }
        }
        return false
    }

    mutating func saveMask(_ y: Int, _ yt: Int, n: Int, e: Int, low: Float, high: Float, node: Graph.Node) {
        let mask = add(graph.values[y].name + ".mask", .int32, .activation, shape: [ActivationMask.words(n * e)])
        activationMask[y] = mask
        emit(ActivationMaskForward(y: yt, mask: mask, n: n, e: e, low: low, high: high), .forward, node: node.name)
        maskedActivations.append((graph.values[y].name, program.tensors[yt].bytes - program.tensors[mask].bytes))
    }

    /// Node indices `[expand, act, depthwise, act]` of a frozen inverted-residual front at `index`:
    /// a 1×1 convolution, ReLU or ReLU6, a depthwise convolution, ReLU or ReLU6, each value read only
    /// by the next node and none needing a gradient.
    func expandDepthwiseChain(at index: Int) -> [Int]? {
        guard index + 3 < graph.nodes.count else { return nil }
        let nodes = Array(graph.nodes[index ... index + 3])
        guard case .conv(_, _, let e) = nodes[0].op, e.isPointwise,
              activationCode(nodes[1].op) != nil, case .conv(_, _, let d) = nodes[2].op,
              d.group == d.channels, d.outputs == d.channels, d.channels == e.outputs, activationCode(nodes[3].op) != nil else { return nil }
        for k in 0 ..< 3 {
            let v = nodes[k].outputs[0]
            guard nodes[k + 1].inputs == [v], consumers[v] == 1, v != graph.output else { return nil }
        }
        for node in nodes {
            if node.outputs.contains(where: { upstreamTrainable.contains($0) }) { return nil }
            if nodeParameters(node).contains(where: { trainable.contains($0) }) { return nil }
        }
        return Array(index ... index + 3)
    }

    /// The `ExpandDepthwise.Activation` of a ReLU or ReLU6 node.
    func activationCode(_ op: Graph.Operator) -> ExpandDepthwise.Activation? {
        switch op {
        case .relu: return .relu
        case .activation(.clip, let a, let b) where a == 0 && b == 6: return .relu6
        default: return nil
        }
    }

    mutating func emitExpandDepthwise(_ chain: [Int], n: Int) throws(PlannerError) {
        let nodes = chain.map { graph.nodes[$0] }
        guard case .conv(let we, let be, let e) = nodes[0].op, case .conv(let wd, let bd, let d) = nodes[2].op,
              let first = activationCode(nodes[1].op), let second = activationCode(nodes[3].op) else { return }
        guard let xt = valueTensor[nodes[0].inputs[0]] else {
            throw .unsupportedGraph("node '\(nodes[0].name)' reads '\(graph.values[nodes[0].inputs[0]].name)' before it is computed")
        }
        guard e.channels <= 0xFFFF else { throw .formatLimit("node '\(nodes[0].name)': more than 65535 input channels") }
        let wet = parameterTensor(we), bet = be.map { parameterTensor($0) }
        let wdt = parameterTensor(wd), bdt = bd.map { parameterTensor($0) }
        let y = nodes[3].outputs[0]
        let yt = newValue(y, n: n)
        let scratch = add(nodes[0].name + ".hidden-plane", floatType, .scratch, shape: [d.height * d.width])
        try fits(d, nodes[2])
        emit(ExpandDepthwiseForward(x: xt, expand: wet, expandBias: bet, depthwise: wdt, depthwiseBias: bdt, y: yt, scratch: scratch,
                                    n: n, window: d, channels: e.channels, first: first, second: second),
             .forward, node: nodes.map(\.name).joined(separator: "+"))
    }

    func channelsAndPlane(_ v: Int) -> (Int, Int) {
        let shape = graph.values[v].shape
        let c = shape.count == 3 ? shape[0] : shape.reduce(1, *)
        return (c, graph.values[v].elementsPerSample / max(c, 1))
    }

    func fits(_ w: Window2D, _ node: Graph.Node) throws(PlannerError) {
        guard w.fitsFormat else { throw .formatLimit("node '\(node.name)': a window size beyond the format's 16-bit fields") }
    }

    /// Hands gradient tensor `t` to value `v`: it becomes v's gradient, or is added to the one v has.
    mutating func deliver(_ t: Int, to v: Int, n: Int, node: String) {
        if let existing = gradientTensor[v] {
            emit(AccumulateActivationGradient(g: existing, other: t, n: n, e: graph.values[v].elementsPerSample), .backward, node: node)
        } else {
            gradientTensor[v] = t
        }
    }

    mutating func newGradient(_ v: Int, n: Int) -> Int {
        add("d" + graph.values[v].name, floatType, .activationGradient, shape: [n] + graph.values[v].shape, batchMajor: true)
    }

    /// The gradient tensor of parameter `p` if it trains (its trained rows only).
    mutating func trainedGradient(_ p: Int?) -> Int? {
        guard let p, trainable.contains(p) else { return nil }
        return gradient(for: p)
    }

    mutating func backward(_ node: Graph.Node, n: Int) throws(PlannerError) {
        let x = node.inputs[0], y = node.outputs[0]
        guard let dy = gradientTensor[y] else { return }
        let needDx = upstreamTrainable.contains(x)
        let e = graph.values[x].elementsPerSample
        var produced: [Int] = []
        switch node.op {
        case .dense(let w, let bias, let alpha, let beta):
            let m = graph.values[y].elementsPerSample
            let dx = needDx ? newGradient(x, n: n) : nil
            let dW = trainedGradient(w), db = trainedGradient(bias)
            if dx == nil && dW == nil && db == nil { return }
            let rows = dW == nil ? m : trainedRows(w)
            let xRead = dW != nil || options.accumulateHalf ? try saved(x, n: n) : nil
            emit(DenseBackward(dy: dy, x: xRead, w: parameterTensor(w), dx: dx, dW: dW, db: db, n: n, k: e, m: m,
                               alpha: alpha, beta: beta, trainedRows: rows == m ? 0 : rows), .backward, node: node.name)
            if let dx { deliver(dx, to: x, n: n, node: node.name) }
            produced = [w] + (bias.map { [$0] } ?? [])
        case .conv(let w, let bias, var window):
            let dx = needDx ? newGradient(x, n: n) : nil
            let dW = trainedGradient(w), db = trainedGradient(bias)
            if dx == nil && dW == nil && db == nil { return }
            window.trainedOutputs = dW == nil ? window.outputs : trainedRows(w)
            let xRead = dW != nil ? try saved(x, n: n) : nil
            let wt = parameterTensor(w)
            try fits(window, node)
            emit(Conv2DBackward(dy: dy, x: xRead, w: wt, dx: dx, dW: dW, db: db, n: n, window: window), .backward, node: node.name)
            if let dx { deliver(dx, to: x, n: n, node: node.name) }
            produced = [w] + (bias.map { [$0] } ?? [])
        case .batchNorm(let gamma, let beta, let mean, let variance, _):
            let dg = trainedGradient(gamma), db = trainedGradient(beta)
            if !needDx && dg == nil && db == nil { return }
            let c = graph.values[x].shape[0]
            let mt = program.tensors.firstIndex { $0.name == graph.parameters[mean].name && $0.region == .flash }!
            let st = program.tensors.firstIndex { $0.name == graph.parameters[variance].name + ".invstd" }!
            let xRead = try saved(x, n: n)
            let gt = parameterTensor(gamma)
            emit(BatchNormBackward(dy: dy, x: xRead, gamma: gt, mean: mt, invStd: st, dx: needDx ? dy : nil, dGamma: dg, dBeta: db,
                                   n: n, channels: c, plane: e / c), .backward, node: node.name)
            if needDx { deliver(dy, to: x, n: n, node: node.name) }
            produced = [gamma, beta]
        case .relu:
            guard needDx else { return }
            if let mask = activationMask[y] {
                emit(ActivationMaskBackward(dy: dy, mask: mask, dx: dy, n: n, e: e), .backward, node: node.name)
            } else {
                emit(ReLUBackward(dy: dy, y: try saved(y, n: n), dx: dy, n: n, e: e), .backward, node: node.name)
            }
            deliver(dy, to: x, n: n, node: node.name)
        case .activation(let kind, let a, let b):
            guard needDx else { return }
            if let mask = activationMask[y] {
                emit(ActivationMaskBackward(dy: dy, mask: mask, dx: dy, n: n, e: e), .backward, node: node.name)
                deliver(dy, to: x, n: n, node: node.name)
                break
            }
            let saved = try kind.backwardReadsInput ? saved(x, n: n) : saved(y, n: n)
            emit(ActivationBackward(dy: dy, saved: saved, dx: dy, n: n, e: e, kind: kind, a: a, b: b), .backward, node: node.name)
            deliver(dy, to: x, n: n, node: node.name)
        case .maxPool(let window):
            guard needDx else { return }
            let dx = newGradient(x, n: n)
            let xRead = try saved(x, n: n)
            try fits(window, node)
            emit(MaxPoolBackward(dy: dy, x: xRead, dx: dx, n: n, window: window), .backward, node: node.name)
            deliver(dx, to: x, n: n, node: node.name)
        case .averagePool(let window):
            guard needDx else { return }
            let dx = newGradient(x, n: n)
            try fits(window, node)
            emit(AveragePoolBackward(dy: dy, dx: dx, n: n, window: window), .backward, node: node.name)
            deliver(dx, to: x, n: n, node: node.name)
        case .globalAveragePool:
            guard needDx else { return }
            let c = graph.values[x].shape[0]
            let dx = newGradient(x, n: n)
            emit(GlobalAveragePoolBackward(dy: dy, dx: dx, n: n, channels: c, plane: e / c), .backward, node: node.name)
            deliver(dx, to: x, n: n, node: node.name)
        case .add:
            // Both inputs receive dy. One may take the buffer itself; the other adds it to a gradient it
            // already has, or gets a copy (in-place backward ops would otherwise write one branch's
            // gradient into the other's).
            let b = node.inputs[1]
            var targets = [x, b].filter { upstreamTrainable.contains($0) }
            if x == b { targets = upstreamTrainable.contains(x) ? [x, x] : [] }
            let withGradient = targets.filter { gradientTensor[$0] != nil }
            let fresh = targets.filter { gradientTensor[$0] == nil }
            for v in withGradient { deliver(dy, to: v, n: n, node: node.name) }
            for (i, v) in fresh.enumerated() {
                if i == 0 { deliver(dy, to: v, n: n, node: node.name); continue }
                let copy = newGradient(v, n: n)
                emit(CopyRows(x: dy, y: copy, n: n, length: e, xStride: e, xOffset: 0, yStride: e, yOffset: 0), .backward, node: node.name)
                deliver(copy, to: v, n: n, node: node.name)
            }
        case .scale(let constant):
            guard needDx else { return }
            let (c, plane) = channelsAndPlane(x)
            emit(ChannelScale(x: dy, s: parameterTensor(constant), y: dy, n: n, channels: c, plane: plane), .backward, node: node.name)
            deliver(dy, to: x, n: n, node: node.name)
        case .concat:
            let total = graph.values[y].elementsPerSample
            var offset = 0
            for v in node.inputs {
                let len = graph.values[v].elementsPerSample
                if upstreamTrainable.contains(v) {
                    let dv = newGradient(v, n: n)
                    emit(CopyRows(x: dy, y: dv, n: n, length: len, xStride: total, xOffset: offset, yStride: len, yOffset: 0), .backward, node: node.name)
                    deliver(dv, to: v, n: n, node: node.name)
                }
                offset += len
            }
        case .reshape:
            if needDx { deliver(dy, to: x, n: n, node: node.name) }
        }
        if microBatches > 1 {
            for p in produced where trainable.contains(p) && gradientSum[p] == nil {
                let g = gradient(for: p)
                let sum = add(graph.parameters[p].name + ".grad-sum", floatType, .gradientSum, shape: program.tensors[g].shape)
                gradientSum[p] = sum
                emit(AccumulateGradient(sum: sum, g: g, n: n, count: program.tensors[g].elementCount), .backward, node: node.name)
            }
        }
        if options.fuseUpdates {
            for p in produced where trainable.contains(p) && !updated.contains(p) { emitUpdate(p) }
        }
    }

    /// The tensor a backward op reads for value `v`: the one the forward pass wrote, or — with the
    /// recomputation lever — a copy computed again right here from the producer's input, when the
    /// producer is cheap (MaxPool, HardSwish) and its own backward keeps that input alive anyway.
    /// Then `v` need not survive from the forward pass to this point.
    mutating func saved(_ v: Int, n: Int) throws(PlannerError) -> Int {
        if let t = recomputed[v] { return t }
        guard options.recompute, let p = producer[v], let xt = valueTensor[graph.nodes[p].inputs[0]],
              upstreamTrainable.contains(graph.nodes[p].inputs[0]) else { return valueTensor[v]! }
        let node = graph.nodes[p]
        let e = graph.values[node.inputs[0]].elementsPerSample
        let t: Int
        switch node.op {
        case .maxPool(let window):
            t = add(graph.values[v].name + ".recomputed", floatType, .activation, shape: [n] + graph.values[v].shape, batchMajor: true)
            try fits(window, node)
            emit(MaxPoolForward(x: xt, y: t, n: n, window: window), .backward, node: node.name + " (recomputed)")
        case .activation(let kind, let a, let b) where kind.backwardReadsInput:
            t = add(graph.values[v].name + ".recomputed", floatType, .activation, shape: [n, e], batchMajor: true)
            emit(ActivationForward(x: xt, y: t, n: n, e: e, kind: kind, a: a, b: b), .backward, node: node.name + " (recomputed)")
        default:
            return valueTensor[v]!
        }
        recomputed[v] = t
        recomputedNames.append(node.name)
        return t
    }

    /// The update op of parameter `p`, with the optimizer state it needs.
    mutating func emitUpdate(_ p: Int) {
        updated.insert(p)
        let param = graph.parameters[p]
        let pt = parameterTensor(p), g = gradientSum[p] ?? gradient(for: p)
        let mode = modes[p] ?? options.update
        let count = program.tensors[g].elementCount
        let stateShape = program.tensors[g].shape
        let compensation: Int? = mode == .fp16Kahan
            ? add(param.name + ".compensation", .float16, .optimizerState, shape: stateShape) : nil
        let state = options.effectiveStateType
        switch options.optimizer {
        case .sgd:
            var momentum: Int? = nil
            if options.effectiveMomentum > 0 {
                momentum = add(param.name + ".momentum", state, .optimizerState, shape: stateShape)
            }
            emit(SGDUpdate(UpdateSlots(param: pt, grad: g, m: momentum, r: nil, compensation: compensation, count: count,
                                       mode: mode, stream: updateStream[p] ?? 0)), .update, node: param.name)
        case .adam, .adamW:
            let m = add(param.name + ".m", state, .optimizerState, shape: stateShape)
            let r = add(param.name + ".rms", state, .optimizerState, shape: stateShape)
            emit(AdamUpdate(UpdateSlots(param: pt, grad: g, m: m, r: r, compensation: compensation, count: count,
                                        mode: mode, stream: updateStream[p] ?? 0)), .update, node: param.name)
        }
    }

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
