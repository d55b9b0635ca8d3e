import HalfStepCore

/// Lowers a graph and plan options into one training step: forward ops, the loss, backward ops
/// (stopping below the first trainable layer) and update ops, with every buffer they touch.
///
/// Choices that save memory and are always right are made here without asking: a ReLU overwrites
/// its input when nothing else reads it; frozen parameters stay in flash; no input gradient is
/// computed for a layer with nothing trainable below it.
public enum ProgramBuilder {
    public static func build(_ graph: Graph, _ options: PlanOptions) throws(PlannerError) -> TrainingProgram {
        var b = Builder(graph: graph, options: options)
        try b.run()
        return b.program
    }
}

private struct Builder {
    let graph: Graph
    let options: PlanOptions
    var program = TrainingProgram()
    /// Plan tensor holding each graph value (aliases share one).
    var valueTensor: [Int: Int] = [:]
    /// Plan tensor holding each value's gradient.
    var gradientTensor: [Int: Int] = [:]
    /// Plan tensor compute reads for each parameter.
    var parameterTensor: [Int: Int] = [:]
    var parameterGradient: [Int: Int] = [:]

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

    mutating func op(_ code: OpCode, _ phase: Phase, _ operands: [Int?], _ params: [UInt32], node: String) {
        program.ops.append(.init(opcode: code, phase: phase, operands: operands, params: params, node: node))
    }

    /// Indices of parameters that train under the selection.
    func selectTrainable() throws(PlannerError) -> Set<Int> {
        var layers: [(node: String, weight: Int, bias: Int?)] = []
        for node in graph.nodes {
            if case .dense(let w, let bias, _, _) = node.op { layers.append((node.name, w, bias)) }
        }
        switch options.train {
        case .all:
            return Set(layers.flatMap { [$0.weight] + ($0.bias.map { [$0] } ?? []) })
        case .none:
            return []
        case .biases:
            return Set(layers.compactMap { $0.bias })
        case .last(let k):
            guard k >= 1 && k <= layers.count else { throw .badLastCount(k: k, layers: layers.count) }
            return Set(layers.suffix(k).flatMap { [$0.weight] + ($0.bias.map { [$0] } ?? []) })
        case .layers(let names):
            var chosen = Set<Int>()
            for name in names {
                if let layer = layers.first(where: { $0.node == name }) {
                    chosen.insert(layer.weight)
                    if let bias = layer.bias { chosen.insert(bias) }
                } else if let p = graph.parameters.firstIndex(where: { $0.name == name }) {
                    chosen.insert(p)
                } else {
                    throw .unknownLayer(name: name, available: layers.map(\.node))
                }
            }
            return chosen
        }
    }

    mutating func run() throws(PlannerError) {
        let n = options.batch
        guard n >= 1 && n <= 65535 else { throw .badOption(name: "--batch", value: "\(n)", expected: "1 ... 65535") }
        let trainable = try selectTrainable()
        program.trainableParameters = trainable.sorted()

        // Consumers per value: fan-out would need gradient accumulation, which v1 does not plan.
        var consumers: [Int: Int] = [:]
        for node in graph.nodes { for v in node.inputs { consumers[v, default: 0] += 1 } }
        if let (v, _) = consumers.first(where: { $0.value > 1 }) {
            throw .unsupportedGraph("value '\(graph.values[v].name)' feeds \(consumers[v]!) nodes; branching graphs are not supported by this planner yet")
        }
        let outputShape = graph.values[graph.output].shape
        guard outputShape.count == 1 else {
            throw .unsupportedGraph("the output '\(graph.outputName)' has per-sample shape \(outputShape); a classifier's logits [classes] are expected")
        }
        let classes = outputShape[0]
        let features = graph.values[graph.input].elementsPerSample

        // Inputs.
        let input = add("input", floatType, .input, shape: [n, features], batchMajor: true)
        valueTensor[graph.input] = input
        let labels = add("labels", .int32, .labels, shape: [n], batchMajor: true)

        // Update modes: the default, then overrides by layer, then by tensor name.
        var modes: [Int: UpdateMode] = [:]
        var known = Set(graph.parameters.map(\.name))
        for node in graph.nodes { known.insert(node.name) }
        for name in options.updateOverrides.keys where !known.contains(name) {
            throw .unknownLayer(name: name, available: graph.nodes.map(\.name) + graph.parameters.map(\.name))
        }
        for p in trainable {
            modes[p] = options.update
            for node in graph.nodes {
                if case .dense(let w, let b, _, _) = node.op, w == p || b == p, let m = options.updateOverrides[node.name] { modes[p] = m }
            }
            if let m = options.updateOverrides[graph.parameters[p].name] { modes[p] = m }
        }

        // Parameters.
        for (p, param) in graph.parameters.enumerated() {
            let trains = trainable.contains(p)
            if !trains {
                let t = add(param.name, floatType, .weight, .flash, shape: param.shape,
                            initial: encode(param.values, floatType), parameter: p)
                parameterTensor[p] = t
                continue
            }
            if modes[p] == .fp32Master {
                parameterTensor[p] = add(param.name, .float32, .masterWeight, shape: param.shape, trainable: true,
                                         initial: encode(param.values, .float32), parameter: p)
            } else {
                parameterTensor[p] = add(param.name, .float16, .weight, shape: param.shape, trainable: true,
                                         initial: encode(param.values, .float16), parameter: p)
            }
        }

        // Which values have a trainable parameter upstream (their gradient is needed).
        var upstreamTrainable = Set<Int>()
        for node in graph.nodes {
            var trains = node.inputs.contains { upstreamTrainable.contains($0) }
            if case .dense(let w, let bias, _, _) = node.op {
                trains = trains || trainable.contains(w) || (bias.map { trainable.contains($0) } ?? false)
            }
            if trains { for o in node.outputs { upstreamTrainable.insert(o) } }
        }

        // Forward.
        for node in graph.nodes {
            let x = node.inputs[0], y = node.outputs[0]
            guard let xt = valueTensor[x] else {
                throw .unsupportedGraph("node '\(node.name)' reads '\(graph.values[x].name)' before it is computed")
            }
            switch node.op {
            case .dense(let w, let bias, let alpha, let beta):
                let k = graph.values[x].elementsPerSample, m = graph.values[y].elementsPerSample
                let yt = add(graph.values[y].name, floatType, .activation, shape: [n, m], batchMajor: true)
                valueTensor[y] = yt
                op(.denseForward, .forward, [xt, parameterTensor[w], bias.map { parameterTensor[$0]! }, yt],
                   [UInt32(n), UInt32(k), UInt32(m), alpha.bitPattern, beta.bitPattern], node: node.name)
            case .relu:
                let e = graph.values[x].elementsPerSample
                let inPlace = x != graph.input && x != graph.output
                let yt: Int
                if inPlace {
                    yt = xt
                    program.tensors[xt].name = graph.values[y].name
                } else {
                    yt = add(graph.values[y].name, floatType, .activation, shape: [n, e], batchMajor: true)
                }
                valueTensor[y] = yt
                op(.reluForward, .forward, [xt, yt], [UInt32(n), UInt32(e)], node: node.name)
            }
        }
        guard let logits = valueTensor[graph.output] else {
            throw .unsupportedGraph("the output '\(graph.outputName)' is not computed by any node")
        }

        // Loss.
        let loss = add("loss", .float32, .loss, shape: [1])
        let dlogits = add("d" + graph.values[graph.output].name, floatType, .activationGradient, shape: [n, classes], batchMajor: true)
        gradientTensor[graph.output] = dlogits
        op(.softmaxCrossEntropy, .loss, [logits, labels, loss, dlogits], [UInt32(n), UInt32(classes)], node: "loss")

        // Backward, last node first, only where a gradient is needed.
        for node in graph.nodes.reversed() {
            let x = node.inputs[0], y = node.outputs[0]
            guard let dy = gradientTensor[y] else { continue }
            let needDx = upstreamTrainable.contains(x)
            switch node.op {
            case .dense(let w, let bias, let alpha, let beta):
                let k = graph.values[x].elementsPerSample, m = graph.values[y].elementsPerSample
                var dx: Int? = nil
                if needDx {
                    dx = add("d" + graph.values[x].name, floatType, .activationGradient, shape: [n, k], batchMajor: true)
                    gradientTensor[x] = dx
                }
                let dW = trainable.contains(w) ? gradient(for: w) : nil
                let db = bias.flatMap { trainable.contains($0) ? gradient(for: $0) : nil }
                if dx == nil && dW == nil && db == nil { continue }
                op(.denseBackward, .backward, [dy, valueTensor[x]!, parameterTensor[w]!, dx, dW, db],
                   [UInt32(n), UInt32(k), UInt32(m), alpha.bitPattern, beta.bitPattern], node: node.name)
            case .relu:
                guard needDx else { continue }
                let e = graph.values[x].elementsPerSample
                gradientTensor[x] = dy   // in place: the gradient buffer is rewritten where y ≤ 0
                op(.reluBackward, .backward, [dy, valueTensor[y]!, dy], [UInt32(n), UInt32(e)], node: node.name)
            }
        }

        // Updates.
        let state = options.effectiveStateType
        let mu = options.effectiveMomentum
        for (stream, p) in program.trainableParameters.enumerated() {
            let param = graph.parameters[p]
            let pt = parameterTensor[p]!, g = parameterGradient[p]!
            let mode = modes[p] ?? options.update
            let count = UInt32(param.elementCount)
            let compensation: Int? = mode == .fp16Kahan
                ? add(param.name + ".compensation", .float16, .optimizerState, shape: param.shape) : nil
            let params = [count, UInt32(mode.rawValue), UInt32(stream)]
            switch options.optimizer {
            case .sgd:
                var momentum: Int? = nil
                if mu > 0 {
                    momentum = add(param.name + ".momentum", state, .optimizerState, shape: param.shape)
                }
                op(.sgdUpdate, .update, [pt, g, momentum, nil, compensation], params, node: param.name)
            case .adam, .adamW:
                let m = add(param.name + ".m", state, .optimizerState, shape: param.shape)
                let r = add(param.name + ".rms", state, .optimizerState, shape: param.shape)
                op(.adamUpdate, .update, [pt, g, m, r, compensation], params, node: param.name)
            }
        }

        // Config.
        var c = TrainingConfig()
        c.optimizerRaw = options.optimizer.rawValue
        c.stateDTypeRaw = state.rawValue
        c.accumulate = options.accumulateHalf ? 1 : 0
        c.batch = UInt32(n)
        c.learningRate = options.learningRate
        c.momentum = mu
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

    mutating func gradient(for p: Int) -> Int {
        if let g = parameterGradient[p] { return g }
        let param = graph.parameters[p]
        let g = add("d" + param.name, floatType, .weightGradient, shape: param.shape)
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
