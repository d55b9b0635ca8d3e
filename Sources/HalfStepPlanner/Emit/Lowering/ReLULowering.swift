import HalfStepCore

/// Relu: in place over its input when nothing else reads it. Backward runs in place over dy and
/// keeps the output, or only its 1-bit mask (`ActivationMaskPass`).
struct ReLULowering: LoweringRule {
    var outputMayBeOverwritten: Bool { false }
    var supportsHalfAccumulation: Bool { true }

    func forward(_ node: Graph.Node, index: Int, _ l: inout Lowering) throws(PlannerError) {
        let xt = try l.inputTensors(of: node)[0]
        let x = node.inputs[0], y = node.outputs[0]
        let e = l.graph.values[x].elementsPerSample
        let yt: Int
        if l.mayOverwrite(x) { yt = xt; l.rename(xt, to: y) } else { yt = l.newFlatValue(y) }
        l.emit(ReLUForward(x: xt, y: yt, n: l.n, e: e), .forward, node: node.name)
        l.keepMaskIfWanted(node, yt, low: 0, high: .nan)
    }

    func backward(_ node: Graph.Node, dy: Int, _ l: inout Lowering) throws(PlannerError) -> [Int] {
        let x = node.inputs[0], y = node.outputs[0]
        guard l.upstreamTrainable.contains(x) else { return [] }
        let e = l.graph.values[x].elementsPerSample
        if !l.emitMaskBackward(node, dy: dy) {
            l.emit(ReLUBackward(dy: dy, y: try l.saved(y), dx: dy, n: l.n, e: e), .backward, node: node.name)
        }
        l.deliver(dy, to: x, node: node.name)
        return []
    }
}
