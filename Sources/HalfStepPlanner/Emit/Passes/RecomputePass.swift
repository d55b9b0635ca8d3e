import HalfStepCore

/// The `--recompute` lever: a backward op that reads the output of a cheap op (MaxPool, HardSwish,
/// as their rules' `recompute` say) whose input the step keeps anyway gets the output computed
/// again right before it, so the output need not survive from forward to there.
struct RecomputePass {
    /// The recomputed tensor of each value.
    var recomputed: [Int: Int] = [:]
    /// Nodes recomputed, in order.
    var names: [String] = []

    var note: String? {
        guard !names.isEmpty else { return nil }
        return "recomputes \(names.count) cheap activation\(names.count == 1 ? "" : "s") in backward from an input its own backward keeps anyway, instead of keeping the output since forward: \(names.joined(separator: ", "))"
    }
}

extension Lowering {
    /// The tensor a backward op reads for value `v`: the one the forward pass wrote, or, with the
    /// lever on, a copy computed again here from the producer's input when the producer is cheap
    /// and its own backward keeps that input alive anyway.
    mutating func saved(_ v: Int) throws(PlannerError) -> Int {
        if let t = recompute.recomputed[v] { return t }
        guard options.recompute, let p = producer[v], let xt = valueTensor[graph.nodes[p].inputs[0]],
              upstreamTrainable.contains(graph.nodes[p].inputs[0]) else { return valueTensor[v]! }
        let node = graph.nodes[p]
        guard let t = try node.op.rule.recompute(node, from: xt, &self) else { return valueTensor[v]! }
        recompute.recomputed[v] = t
        recompute.names.append(node.name)
        return t
    }
}
