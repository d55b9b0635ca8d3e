import HalfStepCore

/// A layer as a train selection counts it: a dense or convolution node with the
/// BatchNormalization that follows it (its γ and β train with the layer), or a BatchNormalization
/// on its own.
struct TrainedLayer {
    var node: String
    var parameters: [Int]
    var weight: Int
    var biases: [Int]

    /// The layers of `graph`, in graph order.
    static func layers(of graph: Graph) -> [TrainedLayer] {
        var attached: [Int: Int] = [:]
        for pair in BatchNormFolding.pairs(in: graph) { attached[pair.conv] = pair.batchNorm }
        var out: [TrainedLayer] = []
        for (i, node) in graph.nodes.enumerated() {
            switch node.op {
            case .dense(let w, let b, _, _), .conv(let w, let b, _):
                var layer = TrainedLayer(node: node.name, parameters: [w] + (b.map { [$0] } ?? []), weight: w, biases: b.map { [$0] } ?? [])
                if let bn = attached[i], case .batchNorm(let gamma, let beta, _, _, _) = graph.nodes[bn].op {
                    layer.parameters += [gamma, beta]
                    layer.biases.append(beta)
                }
                out.append(layer)
            case .batchNorm(let gamma, let beta, _, _, _) where !attached.values.contains(i):
                out.append(TrainedLayer(node: node.name, parameters: [gamma, beta], weight: gamma, biases: [beta]))
            default:
                break
            }
        }
        return out
    }
}

extension PlanOptions.TrainSelection {
    /// Indices of the graph parameters that train under this selection.
    func parameters(in graph: Graph) throws(PlannerError) -> Set<Int> {
        let layers = TrainedLayer.layers(of: graph)
        switch self {
        case .all:
            return Set(layers.flatMap(\.parameters))
        case .none:
            return []
        case .biases:
            return Set(layers.flatMap(\.biases))
        case .last(let k):
            guard k >= 1 && k <= layers.count else { throw .badLastCount(k: k, layers: layers.count) }
            return Set(layers.suffix(k).flatMap(\.parameters))
        case .layers(let names):
            var chosen = Set<Int>()
            for name in names {
                if let layer = layers.first(where: { $0.node == name }) {
                    chosen.formUnion(layer.parameters)
                } else if let p = graph.parameters.firstIndex(where: { $0.name == name }) {
                    chosen.insert(p)
                } else if let node = graph.nodes.first(where: { $0.name == name }), case .batchNorm(let gamma, let beta, _, _, _) = node.op {
                    chosen.formUnion([gamma, beta])
                } else {
                    throw .unknownLayer(name: name, available: layers.map(\.node))
                }
            }
            return chosen
        }
    }
}
