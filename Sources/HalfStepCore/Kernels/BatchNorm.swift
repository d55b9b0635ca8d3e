/// Batch normalisation with frozen running statistics and a trainable affine part, NCHW
/// (PyTorch `BatchNorm2d` in eval mode, which is how a deployed model continues training).
///
/// Shapes: x [N, C, P] (P = H·W) · γ, β [C] · mean, 1/√(var + ε) [C] (fp32, frozen) → y [N, C, P].
/// `y = γ · (x − mean) · invStd + β`.
public enum BatchNorm {
    @inlinable
    public static func forward(y: TensorView<Float16>, x: TensorView<Float16>, gamma: ParameterView, beta: ParameterView,
                               mean: TensorView<Float>, invStd: TensorView<Float>, rows: Int, channels: Int, plane: Int) {
        // Per (sample, channel) plane: the channel's constants once, then a loop over the plane,
        // four elements per trip, two per 32-bit load and store.
        var at = 0, n = 0
        while n < rows {
            var c = 0
            while c < channels {
                let g = gamma.computeValue(c), b = beta.computeValue(c), mu = mean[c], s = invStd[c]
                var quads = plane &>> 2
                while quads > 0 {
                    let (x0, x1) = x.widenedPair(at), (x2, x3) = x.widenedPair(at &+ 2)
                    y.setRoundedPair(at, g * ((x0 - mu) * s) + b, g * ((x1 - mu) * s) + b)
                    y.setRoundedPair(at &+ 2, g * ((x2 - mu) * s) + b, g * ((x3 - mu) * s) + b)
                    at &+= 4
                    quads &-= 1
                }
                if plane & 2 != 0 {
                    let (x0, x1) = x.widenedPair(at)
                    y.setRoundedPair(at, g * ((x0 - mu) * s) + b, g * ((x1 - mu) * s) + b)
                    at &+= 2
                }
                if plane & 1 != 0 {
                    y[at] = Float16(g * ((Float(x[at]) - mu) * s) + b)
                    at &+= 1
                }
                c &+= 1
            }
            n &+= 1
        }
    }

    /// `dγ = Σ dy · x̂`, `dβ = Σ dy` (over samples and the plane), `dx = dy · γ · invStd`.
    @inlinable
    public static func backward(dx: TensorView<Float16>?, dGamma: TensorView<Float16>?, dBeta: TensorView<Float16>?,
                                dy: TensorView<Float16>, x: TensorView<Float16>, gamma: ParameterView,
                                mean: TensorView<Float>, invStd: TensorView<Float>, rows: Int, channels: Int, plane: Int) {
        var c = 0
        while c < channels {
            let g = gamma.computeValue(c), mu = mean[c], s = invStd[c]
            var sumG: Float = 0, sumB: Float = 0
            var n = 0
            while n < rows {
                let at = (n &* channels &+ c) &* plane, end = at &+ plane
                var i = at
                if let dx {
                    // Four elements per trip, two per 32-bit load and store; each sum still takes
                    // them in order.
                    var quads = plane &>> 2
                    while quads > 0 {
                        let (d0, d1) = dy.widenedPair(i), (x0, x1) = x.widenedPair(i)
                        let (d2, d3) = dy.widenedPair(i &+ 2), (x2, x3) = x.widenedPair(i &+ 2)
                        sumG += d0 * ((x0 - mu) * s)
                        sumB += d0
                        sumG += d1 * ((x1 - mu) * s)
                        sumB += d1
                        sumG += d2 * ((x2 - mu) * s)
                        sumB += d2
                        sumG += d3 * ((x3 - mu) * s)
                        sumB += d3
                        dx.setRoundedPair(i, d0 * g * s, d1 * g * s)
                        dx.setRoundedPair(i &+ 2, d2 * g * s, d3 * g * s)
                        i &+= 4
                        quads &-= 1
                    }
                    while i < end {
                        let d = Float(dy[i])
                        sumG += d * ((Float(x[i]) - mu) * s)
                        sumB += d
                        dx[i] = Float16(d * g * s)
                        i &+= 1
                    }
                } else {
                    while i < end {
                        let d = Float(dy[i])
                        sumG += d * ((Float(x[i]) - mu) * s)
                        sumB += d
                        i &+= 1
                    }
                }
                n &+= 1
            }
            if let dGamma { dGamma[c] = Float16(sumG) }
            if let dBeta { dBeta[c] = Float16(sumB) }
            c += 1
        }
    }
}
