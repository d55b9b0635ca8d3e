import HalfStepCore

/// Add of two computed values (a residual connection): in place over whichever input nothing else
/// reads. Backward keeps nothing; both inputs receive dy.
struct AddLowering: LoweringRule {
    func forward(_ node: Graph.Node, index: Int, _ l: inout Lowering) throws(PlannerError) {
        let xs = try l.inputTensors(of: node)
        let x = node.inputs[0], y = node.outputs[0]
        let yt: Int
        if l.mayOverwrite(x) { yt = xs[0]; l.rename(yt, to: y) }
        else if node.inputs[1] != x && l.mayOverwrite(node.inputs[1]) { yt = xs[1]; l.rename(yt, to: y) }
        else { yt = l.newValue(y) }
        l.emit(ElementwiseAdd(a: xs[0], b: xs[1], y: yt, n: l.n, e: l.graph.values[x].elementsPerSample), .forward, node: node.name)
    }

    func backward(_ node: Graph.Node, dy: Int, _ l: inout Lowering) throws(PlannerError) -> [Int] {
        // One input may take dy itself; the other adds it to a gradient it already has, or gets a
        // copy (in-place backward ops would otherwise write one branch's gradient into the other's).
        let x = node.inputs[0], b = node.inputs[1]
        let e = l.graph.values[x].elementsPerSample
        var targets = [x, b].filter { l.upstreamTrainable.contains($0) }
        if x == b { targets = l.upstreamTrainable.contains(x) ? [x, x] : [] }
        let withGradient = targets.filter { l.gradientTensor[$0] != nil }
        let fresh = targets.filter { l.gradientTensor[$0] == nil }
        for v in withGradient { l.deliver(dy, to: v, node: node.name) }
        for (i, v) in fresh.enumerated() {
            if i == 0 { l.deliver(dy, to: v, node: node.name); continue }
            let copy = l.newGradient(v)
            l.emit(CopyRows(x: dy, y: copy, n: l.n, length: e, xStride: e, xOffset: 0, yStride: e, yOffset: 0), .backward, node: node.name)
            l.deliver(copy, to: v, node: node.name)
        }
        return []
    }
}
