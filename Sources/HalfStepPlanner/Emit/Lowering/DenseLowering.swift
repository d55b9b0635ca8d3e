import HalfStepCore

/// Gemm / MatMul (+ Add): `y = alpha · x Wᵀ + beta · b`. Backward writes dx, dW (its trained rows)
/// and db, and keeps x when W trains (or fp16 accumulation reads it).
struct DenseLowering: LoweringRule {
    var weight: Int
    var bias: Int?
    var alpha: Float
    var beta: Float

    var parameters: [Int] { [weight] + (bias.map { [$0] } ?? []) }
    var supportsHalfAccumulation: Bool { true }

    func forward(_ node: Graph.Node, index: Int, _ l: inout Lowering) throws(PlannerError) {
        let xt = try l.inputTensors(of: node)[0]
        let x = node.inputs[0], y = node.outputs[0]
        let wt = l.parameterTensor(weight), bt = bias.map { l.parameterTensor($0) }
        let yt = l.newValue(y)
        l.emit(DenseForward(x: xt, w: wt, b: bt, y: yt, n: l.n, k: l.graph.values[x].elementsPerSample,
                            m: l.graph.values[y].elementsPerSample, alpha: alpha, beta: beta), .forward, node: node.name)
    }

    func backward(_ node: Graph.Node, dy: Int, _ l: inout Lowering) throws(PlannerError) -> [Int] {
        let x = node.inputs[0], y = node.outputs[0]
        let m = l.graph.values[y].elementsPerSample
        let dx = l.upstreamTrainable.contains(x) ? l.newGradient(x) : nil
        let dW = l.trainedGradient(weight), db = l.trainedGradient(bias)
        if dx == nil && dW == nil && db == nil { return [] }
        let rows = dW == nil ? m : l.trainedRows(weight)
        let xRead = dW != nil || l.options.accumulateHalf ? try l.saved(x) : nil
        l.emit(DenseBackward(dy: dy, x: xRead, w: l.parameterTensor(weight), dx: dx, dW: dW, db: db, n: l.n,
                             k: l.graph.values[x].elementsPerSample, m: m, alpha: alpha, beta: beta,
                             trainedRows: rows == m ? 0 : rows), .backward, node: node.name)
        if let dx { l.deliver(dx, to: x, node: node.name) }
        return parameters
    }

    func backwardReadsInput(_ node: Graph.Node, _ l: Lowering) -> Bool {
        l.trainable.contains(weight) || l.options.accumulateHalf
    }
}
