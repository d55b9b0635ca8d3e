import HalfStepCore

/// The `--micro-batch` lever: the step runs as several micro-batches, every batch-major tensor is
/// planned for one, and each weight gradient is added into a sum its update reads.
struct MicroBatchPass {
    /// Micro-batches per step (1: the lever is off).
    var count = 1
    /// Each trainable parameter's gradient sum over micro-batches.
    var gradientSum: [Int: Int] = [:]

    func note(_ program: TrainingProgram, rows: Int) -> String? {
        guard count > 1 else { return nil }
        let sums = gradientSum.values.reduce(0) { $0 + program.tensors[$1].bytes }
        return "runs each step as \(count) micro-batches of \(rows): activations for \(rows) sample\(rows == 1 ? "" : "s"); the weight gradients' sums over micro-batches take \(sums) B"
    }
}

extension Lowering {
    /// After a backward op wrote the gradients of `produced`: adds each into its sum.
    mutating func sumOverMicroBatches(_ produced: [Int], node: String) {
        guard microBatch.count > 1 else { return }
        for p in produced where trainable.contains(p) && microBatch.gradientSum[p] == nil {
            let g = gradient(for: p)
            let sum = add(graph.parameters[p].name + ".grad-sum", floatType, .gradientSum, shape: program.tensors[g].shape)
            microBatch.gradientSum[p] = sum
            emit(AccumulateGradient(sum: sum, g: g, n: n, count: program.tensors[g].elementCount), .backward, node: node)
        }
    }
}
