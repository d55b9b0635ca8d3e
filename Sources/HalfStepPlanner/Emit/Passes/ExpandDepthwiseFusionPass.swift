import HalfStepCore

/// Frozen expansion + depthwise fusion (always on; `PlanOptions.fuseFrozenBlocks`): the front of a
/// frozen inverted-residual block (1×1 convolution, ReLU/ReLU6, depthwise convolution, ReLU/ReLU6)
/// runs as one op, one hidden channel at a time, so its expanded activations never exist.
struct ExpandDepthwiseFusionPass {
    /// Blocks fused so far.
    var blocks = 0

    var note: String? {
        guard blocks > 0 else { return nil }
        return "ran \(blocks) frozen expansion + depthwise pair\(blocks == 1 ? "" : "s") one hidden channel at a time: their expanded activations never exist (one hidden plane of scratch each)"
    }

    /// The `ExpandDepthwise.Activation` of a ReLU or ReLU6 node.
    static func activation(_ op: Graph.Operator) -> ExpandDepthwise.Activation? {
        switch op {
        case .relu: return .relu
        case .activation(.clip, let a, let b) where a == 0 && b == 6: return .relu6
        default: return nil
        }
    }
}

extension Lowering {
    /// Node indices `[expand, act, depthwise, act]` of a frozen inverted-residual front at `index`:
    /// a 1×1 convolution, ReLU or ReLU6, a depthwise convolution, ReLU or ReLU6, each value read only
    /// by the next node and none needing a gradient.
    func expandDepthwiseChain(at index: Int) -> [Int]? {
        guard options.fuseFrozenBlocks, index + 3 < graph.nodes.count else { return nil }
        let nodes = Array(graph.nodes[index ... index + 3])
        guard case .conv(_, _, let e) = nodes[0].op, e.isPointwise,
              ExpandDepthwiseFusionPass.activation(nodes[1].op) != nil, case .conv(_, _, let d) = nodes[2].op,
              d.group == d.channels, d.outputs == d.channels, d.channels == e.outputs,
              ExpandDepthwiseFusionPass.activation(nodes[3].op) != nil else { return nil }
        for k in 0 ..< 3 {
            let v = nodes[k].outputs[0]
            guard nodes[k + 1].inputs == [v], consumers[v] == 1, v != graph.output else { return nil }
        }
        for node in nodes {
            if node.outputs.contains(where: { upstreamTrainable.contains($0) }) { return nil }
            if node.op.rule.parameters.contains(where: { trainable.contains($0) }) { return nil }
        }
        return Array(index ... index + 3)
    }

    /// The fused forward op of `chain` (from `expandDepthwiseChain`).
    mutating func emitExpandDepthwise(_ chain: [Int]) throws(PlannerError) {
        let nodes = chain.map { graph.nodes[$0] }
        guard case .conv(let we, let be, let e) = nodes[0].op, case .conv(let wd, let bd, let d) = nodes[2].op,
              let first = ExpandDepthwiseFusionPass.activation(nodes[1].op),
              let second = ExpandDepthwiseFusionPass.activation(nodes[3].op) else { return }
        guard let xt = valueTensor[nodes[0].inputs[0]] else {
            throw .unsupportedGraph("node '\(nodes[0].name)' reads '\(graph.values[nodes[0].inputs[0]].name)' before it is computed")
        }
        guard e.channels <= 0xFFFF else { throw .formatLimit("node '\(nodes[0].name)': more than 65535 input channels") }
        let wet = parameterTensor(we), bet = be.map { parameterTensor($0) }
        let wdt = parameterTensor(wd), bdt = bd.map { parameterTensor($0) }
        let yt = newValue(nodes[3].outputs[0])
        let scratch = add(nodes[0].name + ".hidden-plane", floatType, .scratch, shape: [d.height * d.width])
        try fits(d, nodes[2])
        emit(ExpandDepthwiseForward(x: xt, expand: wet, expandBias: bet, depthwise: wdt, depthwiseBias: bdt, y: yt, scratch: scratch,
                                    n: n, window: d, channels: e.channels, first: first, second: second),
             .forward, node: nodes.map(\.name).joined(separator: "+"))
        fusion.blocks += 1
    }
}
