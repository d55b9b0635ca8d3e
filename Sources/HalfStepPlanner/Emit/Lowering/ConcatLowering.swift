import HalfStepCore

/// Concat along channels: one row copy per input into its band of the output. Backward copies
/// each band of dy out to the inputs that need a gradient and keeps nothing.
struct ConcatLowering: LoweringRule {
    func forward(_ node: Graph.Node, index: Int, _ l: inout Lowering) throws(PlannerError) {
        let xs = try l.inputTensors(of: node)
        let y = node.outputs[0]
        let yt = l.newValue(y)
        let total = l.graph.values[y].elementsPerSample
        var offset = 0
        for (i, v) in node.inputs.enumerated() {
            let len = l.graph.values[v].elementsPerSample
            l.emit(CopyRows(x: xs[i], y: yt, n: l.n, length: len, xStride: len, xOffset: 0, yStride: total, yOffset: offset),
                   .forward, node: node.name)
            offset += len
        }
    }

    func backward(_ node: Graph.Node, dy: Int, _ l: inout Lowering) throws(PlannerError) -> [Int] {
        let total = l.graph.values[node.outputs[0]].elementsPerSample
        var offset = 0
        for v in node.inputs {
            let len = l.graph.values[v].elementsPerSample
            if l.upstreamTrainable.contains(v) {
                let dv = l.newGradient(v)
                l.emit(CopyRows(x: dy, y: dv, n: l.n, length: len, xStride: total, xOffset: offset, yStride: len, yOffset: 0),
                       .backward, node: node.name)
                l.deliver(dv, to: v, node: node.name)
            }
            offset += len
        }
        return []
    }
}
