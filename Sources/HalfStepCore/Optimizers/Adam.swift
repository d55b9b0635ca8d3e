/// Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), as PyTorch's `torch.optim.Adam` /
/// `AdamW` without amsgrad.
///
/// Shapes: E elements. param [E] (through a `ParameterWriter`), grad [E] fp16 (scaled), m [E] and
/// r [E] in the plan's state type.
///
/// The second moment is stored as its square root `r = √v`. In fp16, `v = g²` underflows for any
/// gradient below 2⁻¹², after which `m / (√v + ε)` explodes: the way naive pure-fp16 Adam
/// diverges. `r` has the dynamic range of the gradient itself, so it underflows together with
/// `m`. ε is added in fp32 arithmetic and never stored in fp16.
public enum Adam {
    /// Applies one step to `count` elements. `beta1Power`/`beta2Power` are β₁ᵗ and β₂ᵗ for this
    /// step (t counts applied steps from 1). `decoupled` selects AdamW's weight decay.
    @inlinable
    public static func update<W: ParameterWriter, S: UpdateStorage>(
        param: inout W, grad: TensorView<Float16>, m: TensorView<S>, r: TensorView<S>, count: Int,
        learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float, decoupled: Bool,
        beta1Power: Float, beta2Power: Float, inverseScale: Float
    ) -> UpdateTally {
        var tally = UpdateTally()
        let correction1 = 1 - beta1Power
        let rootCorrection2 = (1 - beta2Power).squareRoot()
        var i = 0
        while i < count {
            let w0 = param.read(i)
            var w = w0
            var g = Float(grad[i]) * inverseScale
            if decoupled { w -= learningRate * weightDecay * w } else { g += weightDecay * w }
            let mStored = S(rounding: beta1 * m[i].widened + (1 - beta1) * g)
            m[i] = mStored
            let previous = r[i].widened
            let rStored = S(rounding: (beta2 * previous * previous + (1 - beta2) * g * g).squareRoot())
            r[i] = rStored
            let mHat = mStored.widened / correction1
            let denominator = rStored.widened / rootCorrection2 + epsilon
            w -= learningRate * mHat / denominator
            if w != w0 {
                tally.nonzeroUpdates += 1
                if !param.write(i, old: w0, delta: w - w0) { tally.underflows += 1 }
            }
            i += 1
        }
        return tally
    }

    /// `update` with round-to-nearest storage (`fp32-master` when P is Float, `fp16` when Float16).
    @inlinable
    public static func update<P: UpdateStorage, S: UpdateStorage>(
        param: TensorView<P>, grad: TensorView<Float16>, m: TensorView<S>, r: TensorView<S>, count: Int,
        learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float, decoupled: Bool,
        beta1Power: Float, beta2Power: Float, inverseScale: Float
    ) -> UpdateTally {
        var writer = NearestWriter(param)
        return update(param: &writer, grad: grad, m: m, r: r, count: count, learningRate: learningRate, beta1: beta1,
                      beta2: beta2, epsilon: epsilon, weightDecay: weightDecay, decoupled: decoupled,
                      beta1Power: beta1Power, beta2Power: beta2Power, inverseScale: inverseScale)
    }
}
