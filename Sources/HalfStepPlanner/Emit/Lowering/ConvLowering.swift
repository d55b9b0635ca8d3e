import HalfStepCore

/// Conv (any group, stride, padding, dilation): `Conv2DForward`. Backward writes dx, dW (its
/// trained output channels) and db, and keeps x when W trains.
struct ConvLowering: LoweringRule {
    var weight: Int
    var bias: Int?
    var window: Window2D

    var parameters: [Int] { [weight] + (bias.map { [$0] } ?? []) }

    func forward(_ node: Graph.Node, index: Int, _ l: inout Lowering) throws(PlannerError) {
        let xt = try l.inputTensors(of: node)[0]
        let wt = l.parameterTensor(weight), bt = bias.map { l.parameterTensor($0) }
        let yt = l.newValue(node.outputs[0])
        try l.fits(window, node)
        if let panel = l.convolutionPanel(window, node: node) {
            l.emit(Conv2DPanelForward(x: xt, w: wt, b: bt, y: yt, panel: panel, n: l.n, window: window), .forward, node: node.name)
        } else {
            l.emit(Conv2DForward(x: xt, w: wt, b: bt, y: yt, n: l.n, window: window), .forward, node: node.name)
        }
    }

    func backward(_ node: Graph.Node, dy: Int, _ l: inout Lowering) throws(PlannerError) -> [Int] {
        let x = node.inputs[0]
        let dx = l.upstreamTrainable.contains(x) ? l.newGradient(x) : nil
        let dW = l.trainedGradient(weight), db = l.trainedGradient(bias)
        if dx == nil && dW == nil && db == nil { return [] }
        var window = window
        window.trainedOutputs = dW == nil ? window.outputs : l.trainedRows(weight)
        let xRead = dW != nil ? try l.saved(x) : nil
        let wt = l.parameterTensor(weight)
        try l.fits(window, node)
        l.emit(Conv2DBackward(dy: dy, x: xRead, w: wt, dx: dx, dW: dW, db: db, n: l.n, window: window), .backward, node: node.name)
        if let dx { l.deliver(dx, to: x, node: node.name) }
        return parameters
    }

    func backwardReadsInput(_ node: Graph.Node, _ l: Lowering) -> Bool { l.trainable.contains(weight) }
}
