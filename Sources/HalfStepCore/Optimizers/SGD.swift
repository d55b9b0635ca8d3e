/// Stochastic gradient descent with momentum and L2 weight decay, as PyTorch's `torch.optim.SGD`
/// (dampening 0, no Nesterov): `g ← g + λw; v ← μv + g; w ← w − η v`.
///
/// Shapes: E elements. param [E] (fp16, or fp32 master), grad [E] fp16 holding the *scaled*
/// gradient, momentum [E] fp16 or fp32 (absent when μ = 0).
public enum SGD {
    /// Applies one step to `count` elements. `inverseScale` undoes the loss scale on each gradient.
    @inlinable
    public static func update<P: UpdateStorage, S: UpdateStorage>(
        param: TensorView<P>, grad: TensorView<Float16>, momentum: TensorView<S>?, count: Int,
        learningRate: Float, momentumFactor: Float, weightDecay: Float, inverseScale: Float
    ) -> UpdateTally {
        var tally = UpdateTally()
        var i = 0
        while i < count {
            let old = param[i]
            let w = old.widened
            var g = Float(grad[i]) * inverseScale + weightDecay * w
            if let momentum {
                let v = momentumFactor * momentum[i].widened + g
                let stored = S(rounding: v)
                momentum[i] = stored
                g = stored.widened
            }
            let delta = -learningRate * g
            if delta != 0 {
                tally.nonzeroUpdates += 1
                let updated = P(rounding: w + delta)
                if updated.widened == w { tally.underflows += 1 }
                param[i] = updated
            }
            i += 1
        }
        return tally
    }
}
