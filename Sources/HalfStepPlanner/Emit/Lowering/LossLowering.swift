import HalfStepCore

/// The loss at the end of the forward pass, and the gradient that starts the backward pass.
///
/// Two losses: softmax cross-entropy over class logits (`SoftmaxCrossEntropyLowering`), and the
/// regression losses against float targets shaped like the output (`RegressionLossLowering`).
/// A new loss is a new type here with its own output check and op.
enum LossLowering {
    /// Outputs per sample (the config's `classes`): the logits of a classifier, every element of
    /// the output for a regression loss.
    static func outputs(of graph: Graph, loss: PlanOptions.Loss) throws(PlannerError) -> Int {
        loss.kind.isRegression ? RegressionLossLowering.outputs(of: graph) : try SoftmaxCrossEntropyLowering.classes(of: graph)
    }

    /// The labels tensor: int32 class indices [N], or fp16 targets [N, outputs].
    static func addLabels(loss: PlanOptions.Loss, outputs: Int, _ l: inout Lowering) -> Int {
        loss.kind.isRegression
            ? l.add("targets", .float16, .labels, shape: [l.n, outputs], batchMajor: true)
            : l.add("labels", .int32, .labels, shape: [l.n], batchMajor: true)
    }

    /// Emits the loss op; the output's gradient exists after.
    static func lower(loss: PlanOptions.Loss, labels: Int, outputs: Int, _ l: inout Lowering) throws(PlannerError) -> (logits: Int, loss: Int) {
        loss.kind.isRegression
            ? try RegressionLossLowering.lower(targets: labels, outputs: outputs, &l)
            : try SoftmaxCrossEntropyLowering.lower(labels: labels, classes: outputs, &l)
    }
}

/// Softmax cross-entropy over a classifier's logits against class labels.
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

/// MSE, L1 or Huber (the config's kind) of any output against targets of the same shape: a
/// regression head, or an autoencoder's reconstruction of its input.
struct RegressionLossLowering {
    /// Outputs per sample: every element of the output, whatever its shape.
    static func outputs(of graph: Graph) -> Int {
        graph.values[graph.output].elementsPerSample
    }

    static func lower(targets: Int, outputs: Int, _ l: inout Lowering) throws(PlannerError) -> (logits: Int, loss: Int) {
        guard let output = l.valueTensor[l.graph.output] else {
            throw .unsupportedGraph("the output '\(l.graph.outputName)' is not computed by any node")
        }
        let loss = l.add("loss", .float32, .loss, shape: [1])
        let doutput = l.add("d" + l.graph.values[l.graph.output].name, l.floatType, .activationGradient, shape: [l.n, outputs], batchMajor: true)
        l.gradientTensor[l.graph.output] = doutput
        l.emit(RegressionLossOp(output: output, targets: targets, loss: loss, doutput: doutput, n: l.n, outputs: outputs), .loss, node: "loss")
        return (output, loss)
    }
}
