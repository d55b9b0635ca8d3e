/// Stochastic gradient descent with momentum and L2 weight decay, as PyTorch's `torch.optim.SGD`
/// (dampening 0, no Nesterov): `g ← g + λw; v ← μv + g; w ← w − η v`.
///
/// Shapes: E elements. param [E] (through a `ParameterWriter`: fp16, fp32 master, stochastic or
/// Kahan-compensated fp16), grad [E] fp16 holding the *scaled* gradient, momentum [E] fp16 or fp32
/// (absent when μ = 0).
public enum SGD {
    /// Applies one step to `count` elements. `inverseScale` undoes the loss scale on each gradient.
    @inlinable
    public static func update<W: ParameterWriter, S: UpdateStorage>(
        param: inout W, grad: TensorView<Float16>, momentum: TensorView<S>?, count: Int,
        learningRate: Float, momentumFactor: Float, weightDecay: Float, inverseScale: Float
    ) -> UpdateTally {
        var tally = UpdateTally()
        var i = 0
        while i < count {
            let w = param.read(i)
            var g = Float(grad[i]) * inverseScale + weightDecay * w
            if let momentum {
                let stored = S(rounding: momentumFactor * momentum[i].widened + g)
                momentum[i] = stored
                g = stored.widened
            }
            let delta = -learningRate * g
            if delta != 0 {
                tally.nonzeroUpdates += 1
                if !param.write(i, old: w, delta: delta) { tally.underflows += 1 }
            }
            i += 1
        }
        return tally
    }

    /// `update` with round-to-nearest storage (`fp32-master` when P is Float, `fp16` when Float16).
    @inlinable
    public static func update<P: UpdateStorage, S: UpdateStorage>(
        param: TensorView<P>, grad: TensorView<Float16>, momentum: TensorView<S>?, count: Int,
        learningRate: Float, momentumFactor: Float, weightDecay: Float, inverseScale: Float
    ) -> UpdateTally {
        var writer = NearestWriter(param)
        return update(param: &writer, grad: grad, momentum: momentum, count: count, learningRate: learningRate,
                      momentumFactor: momentumFactor, weightDecay: weightDecay, inverseScale: inverseScale)
    }
}
