/// Softmax followed by mean cross-entropy against class indices, with its gradient in one pass.
///
/// Shapes: N batch rows, C classes. logits [N, C] fp16, labels [N] int32 → loss (fp32 scalar),
/// dlogits [N, C] fp16. Fused because the gradient needs exactly the probabilities the loss
/// computed, and keeping them would cost an [N, C] buffer.
public enum SoftmaxCrossEntropy {
    /// Writes the mean loss over `rows` rows to `loss[0]` (unscaled, fp32) and
    /// `dlogits = scale · (softmax(logits) − onehot(labels)) / rows`, rounded to fp16.
    /// `scale` is the loss scale (1 without loss scaling); labels must be in `0 ..< classes`.
    ///
    /// The trainer checks the labels before a step, but a corrupt plan that passes the verifier
    /// can still write over them during forward. A label outside `0 ..< classes` never indexes
    /// the logits: its row's loss is NaN, which the trainer treats as an overflow (the step's
    /// updates are skipped), and its gradient is the softmax alone.
    @inlinable
    public static func forwardBackward(
        loss: TensorView<Float>,        // [1]
        dlogits: TensorView<Float16>,   // [N, C]
        logits: TensorView<Float16>,    // [N, C]
        labels: TensorView<Int32>,      // [N]
        rows: Int, classes: Int, scale: Float
    ) {
        var total: Float = 0
        let gradScale = scale / Float(rows)
        var n = 0
        while n < rows {
            let row = n * classes
            let (peak, sum) = normalizer(logits, row: row, classes: classes)
            let label = Int(labels[n])
            total += UInt(bitPattern: label) < UInt(classes)
                ? peak + Elementary.log(sum) - Float(logits[row + label]) : .nan
            let inverseSum = 1 / sum
            var c = 0
            while c < classes {
                let p = Elementary.exp(Float(logits[row + c]) - peak) * inverseSum
                let g = c == label ? p - 1 : p
                dlogits[row + c] = Float16(g * gradScale)
                c += 1
            }
            n += 1
        }
        loss[0] = total / Float(rows)
    }

    /// Mean loss only (evaluation): no gradient, no scale.
    @inlinable
    public static func loss(logits: TensorView<Float16>, labels: TensorView<Int32>, rows: Int, classes: Int) -> Float {
        var total: Float = 0
        var n = 0
        while n < rows {
            let row = n * classes
            let (peak, sum) = normalizer(logits, row: row, classes: classes)
            let label = Int(labels[n])
            // Outside `0 ..< classes` (see `forwardBackward`): NaN, never an index past the row.
            total += UInt(bitPattern: label) < UInt(classes)
                ? peak + Elementary.log(sum) - Float(logits[row + label]) : .nan
            n += 1
        }
        return total / Float(rows)
    }

    /// The row's largest logit and `Σ exp(z − max)`: subtracting the maximum keeps every
    /// exponent ≤ 0, so nothing overflows whatever the logits.
    @inlinable
    static func normalizer(_ logits: TensorView<Float16>, row: Int, classes: Int) -> (peak: Float, sum: Float) {
        var peak = -Float.infinity
        var c = 0
        while c < classes {
            let z = Float(logits[row + c])
            if z > peak { peak = z }
            c += 1
        }
        var sum: Float = 0
        c = 0
        while c < classes {
            sum += Elementary.exp(Float(logits[row + c]) - peak)
            c += 1
        }
        return (peak, sum)
    }
}
