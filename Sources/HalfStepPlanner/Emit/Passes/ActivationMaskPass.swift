import HalfStepCore

/// The `--relu-masks` lever: a ReLU or ReLU6/Clip whose output no backward op other than its own
/// reads keeps a 1-bit mask of where the gradient passes, and its output may die right after
/// forward.
struct ActivationMaskPass {
    /// The mask tensor kept for each masked output value.
    var masks: [Int: Int] = [:]
    /// Masked outputs and the bytes each saves (output size less mask size).
    var kept: [(name: String, saved: Int)] = []

    /// The planner note: which outputs became masks and the saved-activation bytes that spares.
    var note: String? {
        guard !kept.isEmpty else { return nil }
        let saved = kept.reduce(0) { $0 + $1.saved }
        let names = kept.prefix(3).map(\.name).joined(separator: ", ") + (kept.count > 3 ? ", …" : "")
        return "kept \(kept.count) ReLU/ReLU6 output\(kept.count == 1 ? "" : "s") as 1-bit masks for backward (\(names)): \(saved) B fewer saved activation bytes before reuse"
    }
}

extension Lowering {
    /// After the forward op of ReLU/Clip `node` wrote `yt`: keeps its mask (of `low < y < high`) when
    /// the lever is on, its backward runs, and no other backward op reads the output.
    mutating func keepMaskIfWanted(_ node: Graph.Node, _ yt: Int, low: Float, high: Float) {
        let x = node.inputs[0], y = node.outputs[0]
        guard options.activationMasks && upstreamTrainable.contains(x) && !readInBackward(y) else { return }
        let e = graph.values[x].elementsPerSample
        let mask = add(graph.values[y].name + ".mask", .int32, .activation, shape: [ActivationMask.words(n * e)])
        masks.masks[y] = mask
        emit(ActivationMaskForward(y: yt, mask: mask, n: n, e: e, low: low, high: high), .forward, node: node.name)
        masks.kept.append((graph.values[y].name, program.tensors[yt].bytes - program.tensors[mask].bytes))
    }

    /// The backward of a masked `node` from its mask, in place over `dy`; false when it kept none.
    mutating func emitMaskBackward(_ node: Graph.Node, dy: Int) -> Bool {
        guard let mask = masks.masks[node.outputs[0]] else { return false }
        emit(ActivationMaskBackward(dy: dy, mask: mask, dx: dy, n: n, e: graph.values[node.inputs[0]].elementsPerSample),
             .backward, node: node.name)
        return true
    }
}
