import HalfStepCore

/// BatchNormalization with frozen statistics (one not folded into the convolution before it):
/// mean and 1/√(var + ε) become fp32 constants in flash. Backward writes dx in place over dy, dγ
/// and dβ, and keeps x.
struct BatchNormLowering: LoweringRule {
    var gamma: Int
    var beta: Int
    var mean: Int
    var variance: Int
    var epsilon: Float

    var parameters: [Int] { [gamma, beta, mean, variance] }

    func forward(_ node: Graph.Node, index: Int, _ l: inout Lowering) throws(PlannerError) {
        let xt = try l.inputTensors(of: node)[0]
        let x = node.inputs[0]
        let c = l.graph.values[x].shape[0], plane = l.graph.values[x].elementsPerSample / c
        let meanParameter = l.graph.parameters[mean], varianceParameter = l.graph.parameters[variance]
        let invStd = varianceParameter.values.map { Float(1 / (Double($0) + Double(epsilon)).squareRoot()) }
        let mt = l.constant(meanParameter.name, meanParameter.values,
                            source: TensorSource(initializer: meanParameter.name, transform: .identity))
        let st = l.constant(varianceParameter.name + ".invstd", invStd,
                            source: TensorSource(initializer: varianceParameter.name, transform: .inverseStd,
                                                 batchNorm: BatchNormFolding.source(l.graph, batchNorm: index, conv: nil)))
        let gt = l.parameterTensor(gamma), bt = l.parameterTensor(beta)
        let yt = l.newValue(node.outputs[0])
        l.emit(BatchNormForward(x: xt, gamma: gt, beta: bt, mean: mt, invStd: st, y: yt, n: l.n, channels: c, plane: plane),
               .forward, node: node.name)
    }

    func backward(_ node: Graph.Node, dy: Int, _ l: inout Lowering) throws(PlannerError) -> [Int] {
        let x = node.inputs[0]
        let needDx = l.upstreamTrainable.contains(x)
        let dg = l.trainedGradient(gamma), db = l.trainedGradient(beta)
        if !needDx && dg == nil && db == nil { return [] }
        let c = l.graph.values[x].shape[0]
        let meanName = l.graph.parameters[mean].name, invStdName = l.graph.parameters[variance].name + ".invstd"
        let mt = l.program.tensors.firstIndex { $0.name == meanName && $0.region == .flash }!
        let st = l.program.tensors.firstIndex { $0.name == invStdName }!
        let xRead = try l.saved(x)
        let gt = l.parameterTensor(gamma)
        l.emit(BatchNormBackward(dy: dy, x: xRead, gamma: gt, mean: mt, invStd: st, dx: needDx ? dy : nil, dGamma: dg, dBeta: db,
                                 n: l.n, channels: c, plane: l.graph.values[x].elementsPerSample / c), .backward, node: node.name)
        if needDx { l.deliver(dy, to: x, node: node.name) }
        return [gamma, beta]
    }

    func backwardReadsInput(_ node: Graph.Node, _ l: Lowering) -> Bool { true }
}
