import HalfStepCore

/// The update choices of a step: each trainable parameter's update mode and update stream, and
/// which updates are already emitted.
struct UpdatePlan {
    /// Update mode per trainable parameter: the default, then overrides by layer, then by tensor.
    var modes: [Int: UpdateMode] = [:]
    /// Index of each trainable parameter's random stream (stochastic rounding), in parameter order.
    var stream: [Int: Int] = [:]
    /// Parameters whose update op exists (emitted early by `FusedUpdatePass`, or at the end).
    var emitted = Set<Int>()

    func mode(of p: Int) -> UpdateMode? { modes[p] }
}

extension Lowering {
    /// Resolves every trainable parameter's update mode: `--update`'s default, then an override
    /// naming a node that reads the parameter (in the imported or the folded graph), then one
    /// naming the parameter itself.
    mutating func chooseUpdateModes(original: Graph) {
        for p in trainable {
            updates.modes[p] = options.update
            let name = graph.parameters[p].name
            for node in original.nodes + graph.nodes where node.op.rule.parameters.contains(where: {
                original.parameters.indices.contains($0) && original.parameters[$0].name == name || graph.parameters[$0].name == name
            }) {
                if let m = options.updateOverrides[node.name] { updates.modes[p] = m }
            }
            if let m = options.updateOverrides[name] { updates.modes[p] = m }
        }
        for (stream, p) in program.trainableParameters.enumerated() { updates.stream[p] = stream }
    }

    /// The update op of parameter `p`, with the optimizer state it needs. It reads the gradient's
    /// sum over micro-batches when there is one.
    mutating func emitUpdate(_ p: Int) {
        updates.emitted.insert(p)
        let param = graph.parameters[p]
        let pt = parameterTensor(p), g = microBatch.gradientSum[p] ?? gradient(for: p)
        let mode = updates.mode(of: p) ?? options.update
        let count = program.tensors[g].elementCount
        let stateShape = program.tensors[g].shape
        let compensation: Int? = mode == .fp16Kahan
            ? add(param.name + ".compensation", .float16, .optimizerState, shape: stateShape) : nil
        let state = options.effectiveStateType
        let stream = updates.stream[p] ?? 0
        switch options.optimizer {
        case .sgd:
            var momentum: Int? = nil
            if options.effectiveMomentum > 0 {
                momentum = add(param.name + ".momentum", state, .optimizerState, shape: stateShape)
            }
            emit(SGDUpdate(UpdateSlots(param: pt, grad: g, m: momentum, r: nil, compensation: compensation, count: count,
                                       mode: mode, stream: stream)), .update, node: param.name)
        case .adam, .adamW:
            let m = add(param.name + ".m", state, .optimizerState, shape: stateShape)
            let r = add(param.name + ".rms", state, .optimizerState, shape: stateShape)
            emit(AdamUpdate(UpdateSlots(param: pt, grad: g, m: m, r: r, compensation: compensation, count: count,
                                        mode: mode, stream: stream)), .update, node: param.name)
        }
    }

    /// Updates of every trainable parameter no pass emitted earlier, in parameter order.
    mutating func emitRemainingUpdates() {
        for p in program.trainableParameters where !updates.emitted.contains(p) { emitUpdate(p) }
    }
}
