import HalfStepCore

/// Clip, HardSigmoid, HardSwish, Sigmoid: in place when its backward does not read the input.
/// Backward runs in place over dy and keeps the output (or the input, for HardSwish); a Clip may
/// keep a 1-bit mask instead (`ActivationMaskPass`).
struct ActivationLowering: LoweringRule {
    var kind: Activation.Kind
    var a: Float
    var b: Float

    var outputMayBeOverwritten: Bool { false }

    func forward(_ node: Graph.Node, index: Int, _ l: inout Lowering) throws(PlannerError) {
        let xt = try l.inputTensors(of: node)[0]
        let x = node.inputs[0], y = node.outputs[0]
        let e = l.graph.values[x].elementsPerSample
        let yt: Int
        if l.mayOverwrite(x) && !kind.backwardReadsInput { yt = xt; l.rename(xt, to: y) } else { yt = l.newFlatValue(y) }
        l.emit(ActivationForward(x: xt, y: yt, n: l.n, e: e, kind: kind, a: a, b: b), .forward, node: node.name)
        if kind == .clip { l.keepMaskIfWanted(node, yt, low: a, high: b) }
    }

    func backward(_ node: Graph.Node, dy: Int, _ l: inout Lowering) throws(PlannerError) -> [Int] {
        let x = node.inputs[0], y = node.outputs[0]
        guard l.upstreamTrainable.contains(x) else { return [] }
        let e = l.graph.values[x].elementsPerSample
        if !l.emitMaskBackward(node, dy: dy) {
            let saved = try kind.backwardReadsInput ? l.saved(x) : l.saved(y)
            l.emit(ActivationBackward(dy: dy, saved: saved, dx: dy, n: l.n, e: e, kind: kind, a: a, b: b), .backward, node: node.name)
        }
        l.deliver(dy, to: x, node: node.name)
        return []
    }

    func backwardReadsInput(_ node: Graph.Node, _ l: Lowering) -> Bool { kind.backwardReadsInput }

    /// HardSwish's backward reads its input, which the op before keeps anyway: computing the
    /// output again costs one elementwise pass.
    func recompute(_ node: Graph.Node, from xt: Int, _ l: inout Lowering) throws(PlannerError) -> Int? {
        guard kind.backwardReadsInput else { return nil }
        let v = node.outputs[0], e = l.graph.values[node.inputs[0]].elementsPerSample
        let t = l.add(l.graph.values[v].name + ".recomputed", l.floatType, .activation, shape: [l.n, e], batchMajor: true)
        l.emit(ActivationForward(x: xt, y: t, n: l.n, e: e, kind: kind, a: a, b: b), .backward, node: node.name + " (recomputed)")
        return t
    }
}
