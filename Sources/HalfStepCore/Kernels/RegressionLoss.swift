/// The regression losses (MSE, L1, Huber) against float targets, with their gradient in one pass.
///
/// Shapes: N batch rows, E outputs per sample. output [N, E] fp16, targets [N, E] fp16 → loss
/// (fp32 scalar, the mean over all N·E elements, as PyTorch's `MSELoss`, `L1Loss` and `HuberLoss`
/// reduce by default), doutput [N, E] fp16.
public enum RegressionLoss {
    /// Writes the mean loss to `loss[0]` (unscaled, fp32) and `doutput = scale · ∂loss/∂output`,
    /// rounded to fp16. `scale` is the loss scale (1 without loss scaling); `delta` is Huber's
    /// (ignored by the other kinds). Sums run in fp32, in element order.
    ///
    /// A NaN or infinite target (the trainer refuses them before a step) gives a NaN loss, which
    /// the trainer treats as an overflow: the step's updates are skipped.
    @inlinable
    public static func forwardBackward(
        loss: TensorView<Float>,        // [1]
        doutput: TensorView<Float16>,   // [N, E]
        output: TensorView<Float16>,    // [N, E]
        targets: TensorView<Float16>,   // [N, E]
        rows: Int, outputs: Int, kind: LossKind, delta: Float, scale: Float
    ) {
        let count = rows * outputs
        let inverseCount = 1 / Float(count)
        let gradScale = scale * inverseCount
        var total: Float = 0
        var i = 0
        // The kind is chosen once per call: each case runs its own loop.
        switch kind {
        case .mse, .crossEntropy:
            while i < count {
                let d = Float(output[i]) - Float(targets[i])
                total += d * d
                doutput[i] = Float16(2 * d * gradScale)
                i += 1
            }
        case .l1:
            while i < count {
                let d = Float(output[i]) - Float(targets[i])
                total += abs(d)
                // sign(0) = 0, as PyTorch's L1Loss gradient.
                let sign: Float = d > 0 ? 1 : (d < 0 ? -1 : (d.isNaN ? .nan : 0))
                doutput[i] = Float16(sign * gradScale)
                i += 1
            }
        case .huber:
            let halfDelta = 0.5 * delta
            while i < count {
                let d = Float(output[i]) - Float(targets[i])
                let m = abs(d)
                let quadratic = m <= delta
                total += quadratic ? 0.5 * d * d : delta * (m - halfDelta)
                let g: Float = quadratic || d.isNaN ? d : (d > 0 ? delta : -delta)
                doutput[i] = Float16(g * gradScale)
                i += 1
            }
        }
        loss[0] = total * inverseCount
    }

    /// The loss of row `row` alone: the mean over its E outputs (an autoencoder's anomaly score).
    /// Cross-entropy is not a regression loss; passed here it is read as MSE.
    @inlinable
    public static func rowLoss(output: TensorView<Float16>, targets: TensorView<Float16>, row: Int, outputs: Int,
                               kind: LossKind, delta: Float) -> Float {
        var total: Float = 0
        var i = row * outputs
        let end = i + outputs
        while i < end {
            let d = Float(output[i]) - Float(targets[i])
            switch kind {
            case .mse, .crossEntropy: total += d * d
            case .l1: total += abs(d)
            case .huber:
                let m = abs(d)
                total += m <= delta ? 0.5 * d * d : delta * (m - 0.5 * delta)
            }
            i += 1
        }
        return total / Float(outputs)
    }
}
