import HalfStepCore

/// Folds a `BatchNormalization` into the convolution before it: `W′ = W · s`, `b′ = (b − mean) · s + β`
/// with `s = γ / √(var + ε)` per output channel. The folded bias takes the name of β, so a trained
/// plan maps back onto the source model exactly (`unfold`).
enum BatchNormFolding {
    /// A convolution and the BatchNormalization that alone reads its output.
    struct Pair: Equatable {
        var conv: Int
        var batchNorm: Int
    }

    /// Every conv → BatchNormalization pair of `graph` (node indices).
    static func pairs(in graph: Graph) -> [Pair] {
        var consumers: [Int: Int] = [:]
        for node in graph.nodes { for v in node.inputs { consumers[v, default: 0] += 1 } }
        var producer: [Int: Int] = [:]
        for (i, node) in graph.nodes.enumerated() { for o in node.outputs { producer[o] = i } }
        var out: [Pair] = []
        for (i, node) in graph.nodes.enumerated() {
            guard case .batchNorm = node.op, let p = producer[node.inputs[0]], case .conv = graph.nodes[p].op,
                  consumers[node.inputs[0]] == 1, node.inputs[0] != graph.output else { continue }
            out.append(Pair(conv: p, batchNorm: i))
        }
        return out
    }

    /// Per-channel `s` and `shift = (b − mean) · s + β` of a pair.
    static func factors(_ graph: Graph, _ pair: Pair) -> (scale: [Double], shift: [Double]) {
        guard case .conv(_, let bias, _) = graph.nodes[pair.conv].op,
              case .batchNorm(let gamma, let beta, let mean, let variance, let eps) = graph.nodes[pair.batchNorm].op else { return ([], []) }
        let g = graph.parameters[gamma].values, bt = graph.parameters[beta].values
        let mu = graph.parameters[mean].values, v = graph.parameters[variance].values
        let b0 = bias.map { graph.parameters[$0].values } ?? [Float](repeating: 0, count: g.count)
        let scale = scale(gamma: g, variance: v, epsilon: eps)
        let offset = offset(bias: b0, mean: mu, scale: scale)
        return (scale, g.indices.map { offset[$0] + Double(bt[$0]) })
    }

    /// `s = γ / √(var + ε)` per channel: the one definition folding and unfolding (here and in
    /// `TrainedExport`) share, so unfolding divides by exactly what folding multiplied with.
    static func scale(gamma g: [Float], variance v: [Float], epsilon eps: Float) -> [Double] {
        g.indices.map { Double(g[$0]) / (Double(v[$0]) + Double(eps)).squareRoot() }
    }

    /// `(b − mean) · s` per channel (`b` the convolution's bias, zeros when it has none).
    static func offset(bias b0: [Float], mean mu: [Float], scale: [Double]) -> [Double] {
        scale.indices.map { (Double(b0[$0]) - Double(mu[$0])) * scale[$0] }
    }

    /// A folded weight's values divided by their output channel's `s` again.
    static func unfoldWeight(_ values: [Float], scale: [Double]) -> [Float] {
        let per = values.count / max(1, scale.count)
        return values.enumerated().map { Float(Double($0.element) / scale[$0.offset / per]) }
    }

    /// A folded bias's values back to β: `b′ − (b − mean) · s`.
    static func unfoldBias(_ values: [Float], offset: [Double]) -> [Float] {
        values.indices.map { Float(Double(values[$0]) - offset[$0]) }
    }

    /// The source-model initializers of a BatchNormalization node (and of the convolution before
    /// it when `conv` is given: the pair is folded).
    static func source(_ graph: Graph, batchNorm: Int, conv: Int?) -> TensorSource.BatchNorm? {
        guard case .batchNorm(let gamma, let beta, let mean, let variance, let eps) = graph.nodes[batchNorm].op else { return nil }
        let p = graph.parameters
        var bn = TensorSource.BatchNorm(gamma: p[gamma].name, beta: p[beta].name, mean: p[mean].name, variance: p[variance].name, epsilon: eps)
        if let conv, case .conv(let w, let bias, _) = graph.nodes[conv].op {
            bn.convWeight = p[w].name
            bn.convBias = bias.map { p[$0].name }
        }
        return bn
    }

    /// `graph` with the chosen pairs folded, and `trainable` mapped onto the new parameters:
    /// the folded weight trains when the convolution's weight did; the folded bias when β or the
    /// convolution's bias did. `sources` says where each new parameter comes from.
    static func fold(_ graph: Graph, pairs chosen: [Pair], trainable: Set<Int>) -> (graph: Graph, trainable: Set<Int>, sources: [Int: TensorSource]) {
        var g = graph
        var trains = trainable
        var removed = Set<Int>()
        var sources: [Int: TensorSource] = [:]
        for pair in chosen {
            guard case .conv(let w, let bias, let window) = g.nodes[pair.conv].op,
                  case .batchNorm(let gamma, let beta, let mean, let variance, _) = g.nodes[pair.batchNorm].op,
                  let bn = source(graph, batchNorm: pair.batchNorm, conv: pair.conv) else { continue }
            let (scale, shift) = factors(graph, pair)
            var weight = g.parameters[w]
            let per = weight.elementCount / max(1, window.outputs)
            weight.values = weight.values.enumerated().map { Float(Double($0.element) * scale[$0.offset / per]) }
            g.parameters.append(weight)
            let newW = g.parameters.count - 1
            var b = g.parameters[beta]
            b.values = shift.map { Float($0) }
            g.parameters.append(b)
            let newB = g.parameters.count - 1
            sources[newW] = TensorSource(initializer: graph.parameters[w].name, transform: .foldedWeight, batchNorm: bn)
            sources[newB] = TensorSource(initializer: graph.parameters[beta].name, transform: .foldedBias, batchNorm: bn)
            if trains.contains(w) { trains.insert(newW) }
            if trains.contains(beta) || bias.map({ trains.contains($0) }) == true { trains.insert(newB) }
            for old in [w, beta, gamma, mean, variance] + (bias.map { [$0] } ?? []) { trains.remove(old) }
            g.nodes[pair.conv].op = .conv(weight: newW, bias: newB, window: window)
            g.nodes[pair.conv].outputs = g.nodes[pair.batchNorm].outputs
            removed.insert(pair.batchNorm)
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return (g, trains, sources)
    }

    /// Maps trained values of a plan back onto the source model's initializers: a folded weight is
    /// divided by its channel's `s` again, a folded bias becomes β (`b′ − (b − mean) · s`).
    /// - Parameter planTensors: names of every tensor in the plan; a pair is folded in the plan
    ///   exactly when its γ is not among them.
    static func unfold(_ trained: [String: [Float]], graph: Graph, planTensors: Set<String>) -> [String: [Float]] {
        var out = trained
        for pair in pairs(in: graph) {
            guard case .conv(let w, let bias, _) = graph.nodes[pair.conv].op,
                  case .batchNorm(let gamma, let beta, let mean, _, _) = graph.nodes[pair.batchNorm].op,
                  !planTensors.contains(graph.parameters[gamma].name) else { continue }
            let (scale, _) = factors(graph, pair)
            let wName = graph.parameters[w].name, bName = graph.parameters[beta].name
            if let values = trained[wName] {
                out[wName] = unfoldWeight(values, scale: scale)
            }
            if let values = trained[bName] {
                let mu = graph.parameters[mean].values
                let b0 = bias.map { graph.parameters[$0].values } ?? [Float](repeating: 0, count: values.count)
                out[bName] = unfoldBias(values, offset: offset(bias: b0, mean: mu, scale: scale))
            }
        }
        return out
    }
}

extension BatchNormFolding {
    /// The planner note for `folded` folded pairs (none for zero).
    static func note(folded: Int) -> String? {
        guard folded > 0 else { return nil }
        return "folded \(folded) BatchNormalization\(folded == 1 ? "" : "s") into the convolution before \(folded == 1 ? "it" : "them") (γ frozen): no separate op or saved activation"
    }
}
