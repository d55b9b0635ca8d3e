import HalfStepCore

/// Flatten / Reshape: no op; the output is the input's tensor under another shape, and its
/// gradient is the output's.
struct ReshapeLowering: LoweringRule {
    var outputMayBeOverwritten: Bool { false }

    func forward(_ node: Graph.Node, index: Int, _ l: inout Lowering) throws(PlannerError) {
        l.valueTensor[node.outputs[0]] = try l.inputTensors(of: node)[0]
    }

    func backward(_ node: Graph.Node, dy: Int, _ l: inout Lowering) throws(PlannerError) -> [Int] {
        if l.upstreamTrainable.contains(node.inputs[0]) { l.deliver(dy, to: node.inputs[0], node: node.name) }
        return []
    }

    /// The input is read wherever the output is.
    func backwardReadsInput(_ node: Graph.Node, _ l: Lowering) -> Bool { l.readInBackward(node.outputs[0]) }
}
