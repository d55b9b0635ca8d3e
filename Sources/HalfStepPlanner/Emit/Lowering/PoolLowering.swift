import HalfStepCore

/// MaxPool: backward routes dy to each window's maximum, so it keeps x.
struct MaxPoolLowering: LoweringRule {
    var window: Window2D

    func forward(_ node: Graph.Node, index: Int, _ l: inout Lowering) throws(PlannerError) {
        let xt = try l.inputTensors(of: node)[0]
        let yt = l.newValue(node.outputs[0])
        try l.fits(window, node)
        l.emit(MaxPoolForward(x: xt, y: yt, n: l.n, window: window), .forward, node: node.name)
    }

    func backward(_ node: Graph.Node, dy: Int, _ l: inout Lowering) throws(PlannerError) -> [Int] {
        let x = node.inputs[0]
        guard l.upstreamTrainable.contains(x) else { return [] }
        let dx = l.newGradient(x)
        let xRead = try l.saved(x)
        try l.fits(window, node)
        l.emit(MaxPoolBackward(dy: dy, x: xRead, dx: dx, n: l.n, window: window), .backward, node: node.name)
        l.deliver(dx, to: x, node: node.name)
        return []
    }

    func backwardReadsInput(_ node: Graph.Node, _ l: Lowering) -> Bool { true }

    /// One comparison per input element: cheaper than keeping the output alive through backward.
    func recompute(_ node: Graph.Node, from xt: Int, _ l: inout Lowering) throws(PlannerError) -> Int? {
        let v = node.outputs[0]
        let t = l.add(l.graph.values[v].name + ".recomputed", l.floatType, .activation, shape: [l.n] + l.graph.values[v].shape, batchMajor: true)
        try l.fits(window, node)
        l.emit(MaxPoolForward(x: xt, y: t, n: l.n, window: window), .backward, node: node.name + " (recomputed)")
        return t
    }
}

/// AveragePool: backward spreads dy over each window and keeps nothing.
struct AveragePoolLowering: LoweringRule {
    var window: Window2D

    func forward(_ node: Graph.Node, index: Int, _ l: inout Lowering) throws(PlannerError) {
        let xt = try l.inputTensors(of: node)[0]
        let yt = l.newValue(node.outputs[0])
        try l.fits(window, node)
        l.emit(AveragePoolForward(x: xt, y: yt, n: l.n, window: window), .forward, node: node.name)
    }

    func backward(_ node: Graph.Node, dy: Int, _ l: inout Lowering) throws(PlannerError) -> [Int] {
        let x = node.inputs[0]
        guard l.upstreamTrainable.contains(x) else { return [] }
        let dx = l.newGradient(x)
        try l.fits(window, node)
        l.emit(AveragePoolBackward(dy: dy, dx: dx, n: l.n, window: window), .backward, node: node.name)
        l.deliver(dx, to: x, node: node.name)
        return []
    }
}

/// GlobalAveragePool: `[C, H, W] → [C, 1, 1]`; backward spreads dy over each plane and keeps nothing.
struct GlobalAveragePoolLowering: LoweringRule {
    func forward(_ node: Graph.Node, index: Int, _ l: inout Lowering) throws(PlannerError) {
        let xt = try l.inputTensors(of: node)[0]
        let x = node.inputs[0]
        let c = l.graph.values[x].shape[0]
        let yt = l.newValue(node.outputs[0])
        l.emit(GlobalAveragePoolForward(x: xt, y: yt, n: l.n, channels: c, plane: l.graph.values[x].elementsPerSample / c),
               .forward, node: node.name)
    }

    func backward(_ node: Graph.Node, dy: Int, _ l: inout Lowering) throws(PlannerError) -> [Int] {
        let x = node.inputs[0]
        guard l.upstreamTrainable.contains(x) else { return [] }
        let c = l.graph.values[x].shape[0]
        let dx = l.newGradient(x)
        l.emit(GlobalAveragePoolBackward(dy: dy, dx: dx, n: l.n, channels: c, plane: l.graph.values[x].elementsPerSample / c),
               .backward, node: node.name)
        l.deliver(dx, to: x, node: node.name)
        return []
    }
}
