import HalfStepCore

/// Lowers a graph and plan options into one training step: forward ops, the loss, backward ops
/// (stopping below the first trainable layer) and update ops, with every buffer they touch.
///
/// The walk is here; what each graph operator becomes is its lowering rule's (`Lowering/`), and
/// each memory lever is a pass of its own (`Passes/`) with its own note. Choices that save memory
/// and are always right are made without asking: a ReLU overwrites its input when nothing else
/// reads it; frozen parameters stay in flash; no input gradient is computed for a layer with
/// nothing trainable below it.
public enum ProgramBuilder {
    /// The layers `--train last:K` counts, in graph order (dense and convolution nodes, and
    /// BatchNormalizations that do not follow a convolution).
    public static func layerNames(_ graph: Graph) -> [String] {
        TrainedLayer.layers(of: graph).map(\.node)
    }

    /// Each layer `layerNames` lists with the initializer names of its biases (and BatchNorm β),
    /// the units `--fit`'s greedy phase adds to a selection.
    public static func layerBiases(_ graph: Graph) -> [(layer: String, biases: [String])] {
        TrainedLayer.layers(of: graph).map { ($0.node, $0.biases.map { graph.parameters[$0].name }) }
    }

    public static func build(_ graph: Graph, _ options: PlanOptions) throws(PlannerError) -> TrainingProgram {
        var l = Lowering(graph: graph, options: options)
        try l.lowerStep()
        return l.program
    }
}

extension Lowering {
    /// The whole step, in the order its tensors and ops are created (which the arena placement's
    /// tie-breaks and the plan bytes depend on).
    mutating func lowerStep() throws(PlannerError) {
        try options.validate()
        // Micro-batches: every batch-major tensor is planned for one micro-batch.
        n = options.microBatch ?? options.batch
        microBatch.count = options.batch / n
        if options.accumulateHalf && graph.nodes.contains(where: { !$0.op.rule.supportsHalfAccumulation }) {
            throw .badOption(name: "--accumulate", value: "fp16", expected: "fp32 for this model: fp16 accumulation exists for Dense layers only")
        }
        let selected = try options.train.parameters(in: graph)
        let known = Set(graph.parameters.map(\.name)).union(graph.nodes.map(\.name))
        for name in options.updateOverrides.keys where !known.contains(name) {
            throw .unknownLayer(name: name, available: graph.nodes.map(\.name) + graph.parameters.map(\.name))
        }
        let original = graph
        foldBatchNormalizations(selected: selected)
        program.trainableParameters = trainable.sorted()

        for (i, node) in graph.nodes.enumerated() {
            for o in node.outputs { producer[o] = i }
            for v in node.inputs { consumers[v, default: 0] += 1 }
        }
        let classes = try LossLowering.outputs(of: graph, loss: options.loss)
        let features = graph.values[graph.input].elementsPerSample
        let input = add("input", floatType, .input, shape: [n, features], batchMajor: true)
        valueTensor[graph.input] = input
        let labels = LossLowering.addLabels(loss: options.loss, outputs: classes, &self)

        chooseUpdateModes(original: original)
        for node in graph.nodes {
            var trains = node.inputs.contains { upstreamTrainable.contains($0) }
            trains = trains || node.op.rule.parameters.contains { trainable.contains($0) }
            if trains { for o in node.outputs { upstreamTrainable.insert(o) } }
        }

        var fused = Set<Int>()
        for (index, node) in graph.nodes.enumerated() where !fused.contains(index) {
            if let chain = expandDepthwiseChain(at: index) {
                try emitExpandDepthwise(chain)
                fused.formUnion(chain)
                continue
            }
            try node.op.rule.forward(node, index: index, &self)
        }
        for note in [fusion.note, panels.note] {
            if let note { program.notes.append(note) }
        }

        let (logits, loss) = try LossLowering.lower(loss: options.loss, labels: labels, outputs: classes, &self)

        for node in graph.nodes.reversed() {
            guard let dy = gradientTensor[node.outputs[0]] else { continue }
            let produced = try node.op.rule.backward(node, dy: dy, &self)
            sumOverMicroBatches(produced, node: node.name)
            fuseUpdates(produced)
        }
        emitRemainingUpdates()
        for note in [recompute.note, masks.note, microBatch.note(program, rows: n)] {
            if let note { program.notes.append(note) }
        }

        program.config = TrainingConfig(options, rows: n, microBatches: microBatch.count,
                                        input: input, labels: labels, logits: logits, loss: loss, classes: classes, features: features)
        if program.tensors.count >= Int(PlanFormat.noTensor) {
            throw .formatLimit("\(program.tensors.count) tensors; format v1 holds at most \(PlanFormat.noTensor - 1)")
        }
    }

    /// Folds the BatchNormalizations whose γ stays frozen (all of them with `--fold-batchnorm`) into
    /// the convolution before them, and settles which parameters train.
    mutating func foldBatchNormalizations(selected: Set<Int>) {
        let foldable = BatchNormFolding.pairs(in: graph).filter { pair in
            guard case .batchNorm(let gamma, _, _, _, _) = graph.nodes[pair.batchNorm].op else { return false }
            return options.foldBatchNorm || !selected.contains(gamma)
        }
        (graph, trainable, foldedSources) = BatchNormFolding.fold(graph, pairs: foldable, trainable: selected)
        if let note = BatchNormFolding.note(folded: foldable.count) { program.notes.append(note) }
    }
}
