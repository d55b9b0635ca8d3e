/// Batch normalisation with frozen running statistics and a trainable affine part, NCHW
/// (PyTorch `BatchNorm2d` in eval mode, which is how a deployed model continues training).
///
/// Shapes: x [N, C, P] (P = H·W) · γ, β [C] · mean, 1/√(var + ε) [C] (fp32, frozen) → y [N, C, P].
/// `y = γ · (x − mean) · invStd + β`.
public enum BatchNorm {
    @inlinable
    public static func forward(y: TensorView<Float16>, x: TensorView<Float16>, gamma: ParameterView, beta: ParameterView,
                               mean: TensorView<Float>, invStd: TensorView<Float>, rows: Int, channels: Int, plane: Int) {
        var nc = 0
        while nc < rows * channels {
            let c = nc % channels
            let g = gamma.computeValue(c), b = beta.computeValue(c), mu = mean[c], s = invStd[c]
            var q = 0
            while q < plane {
                y[nc * plane + q] = Float16(g * ((Float(x[nc * plane + q]) - mu) * s) + b)
                q += 1
            }
            nc += 1
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
                let at = (n * channels + c) * plane
                var q = 0
                while q < plane {
                    let d = Float(dy[at + q])
                    sumG += d * ((Float(x[at + q]) - mu) * s)
                    sumB += d
                    if let dx { dx[at + q] = Float16(d * g * s) }
                    q += 1
                }
                n += 1
            }
            if let dGamma { dGamma[c] = Float16(sumG) }
            if let dBeta { dBeta[c] = Float16(sumB) }
            c += 1
        }
    }
}
