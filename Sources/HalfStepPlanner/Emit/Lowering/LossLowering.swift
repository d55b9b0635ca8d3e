import HalfStepCore

/// The loss at the end of the forward pass, and the gradient that starts the backward pass.
///
/// Today one loss: softmax cross-entropy over class logits. A new loss is a new type here with
/// its own output check and op.
struct SoftmaxCrossEntropyLowering {
    /// Classes of the graph's output, which must be one vector of logits per sample.
    static func classes(of graph: Graph) throws(PlannerError) -> Int {
        let outputShape = graph.values[graph.output].shape
        guard outputShape.reduce(1, *) == outputShape.max() ?? 0 else {
            throw .unsupportedGraph("the output '\(graph.outputName)' has per-sample shape \(outputShape); a classifier's logits [classes] are expected")
        }
        return graph.values[graph.output].elementsPerSample
    }

    /// Emits the loss op over the output's tensor and `labels`; the output's gradient exists after.
    static func lower(labels: Int, classes: Int, _ l: inout Lowering) throws(PlannerError) -> (logits: Int, loss: Int) {
        guard let logits = l.valueTensor[l.graph.output] else {
            throw .unsupportedGraph("the output '\(l.graph.outputName)' is not computed by any node")
        }
        let loss = l.add("loss", .float32, .loss, shape: [1])
        let dlogits = l.add("d" + l.graph.values[l.graph.output].name, l.floatType, .activationGradient, shape: [l.n, classes], batchMajor: true)
        l.gradientTensor[l.graph.output] = dlogits
        l.emit(SoftmaxCrossEntropyLoss(logits: logits, labels: labels, loss: loss, dlogits: dlogits, n: l.n, classes: classes), .loss, node: "loss")
        return (logits, loss)
    }
}
