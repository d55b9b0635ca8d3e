import HalfStepCore

/// Mul by a frozen constant (one value or one per channel): in place when nothing else reads the
/// input. Backward scales dy in place by the same constant and keeps nothing.
struct ScaleLowering: LoweringRule {
    var constant: Int

    var parameters: [Int] { [constant] }

    func forward(_ node: Graph.Node, index: Int, _ l: inout Lowering) throws(PlannerError) {
        let xt = try l.inputTensors(of: node)[0]
        let x = node.inputs[0], y = node.outputs[0]
        let (c, plane) = l.channelsAndPlane(x)
        let ct = l.parameterTensor(constant)
        let yt: Int
        if l.mayOverwrite(x) { yt = xt; l.rename(xt, to: y) } else { yt = l.newValue(y) }
        l.emit(ChannelScale(x: xt, s: ct, y: yt, n: l.n, channels: c, plane: plane), .forward, node: node.name)
    }

    func backward(_ node: Graph.Node, dy: Int, _ l: inout Lowering) throws(PlannerError) -> [Int] {
        let x = node.inputs[0]
        guard l.upstreamTrainable.contains(x) else { return [] }
        let (c, plane) = l.channelsAndPlane(x)
        l.emit(ChannelScale(x: dy, s: l.parameterTensor(constant), y: dy, n: l.n, channels: c, plane: plane), .backward, node: node.name)
        l.deliver(dy, to: x, node: node.name)
        return []
    }
}
