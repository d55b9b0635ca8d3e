/// The expansion and depthwise convolutions of an inverted residual block (MobileNetV2), computed
/// one hidden channel at a time so the expanded tensor never exists: the forward pass of a frozen
/// block at the cost of one hidden plane of scratch instead of the whole hidden tensor.
///
/// Shapes: x [N, C, H, W] · We [Hd, C] · be [Hd] · Wd [Hd, 1, KH, KW] · bd [Hd] → y [N, Hd, OH, OW];
/// scratch [H·W]. `y = act₂(depthwise(act₁(We ⋆ x + be)) + bd)`, activations none, ReLU or ReLU6.
/// Each value is computed, rounded and activated exactly as the unfused ops do, so the result is
/// bit for bit theirs.
public enum ExpandDepthwise {
    /// The activation after each convolution (packed into the op's parameter slot 6: see
    /// `ExpandDepthwiseForward`).
    public enum Activation: UInt32, Sendable {
        case none = 0
        case relu = 1
        case relu6 = 2

        @inlinable
        func apply(_ v: Float16) -> Float16 {
            switch self {
            case .none: return v
            case .relu: return v > 0 ? v : 0
            case .relu6: return Float16(min(max(Float(v), 0), 6))
            }
        }
    }

    /// Runs the fused forward for the first `rows` samples. `window` describes the depthwise
    /// convolution (channels = outputs = group = Hd); `channels` is C.
    @inlinable
    public static func forward(y: TensorView<Float16>, x: TensorView<Float16>, expand: ParameterView, expandBias: ParameterView?,
                               depthwise: ParameterView, depthwiseBias: ParameterView?, scratch: TensorView<Float16>,
                               rows: Int, channels: Int, window g: Window2D, first: Activation, second: Activation) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let taps = g.kernelHeight * g.kernelWidth
        var n = 0
        while n < rows {
            let xs = x.slice(n * channels * plane, channels * plane)
            var h = 0
            while h < g.channels {
                // Hidden plane h: the 1×1 expansion, summed over input channels in order.
                let b: Float = expandBias.map { $0.computeValue(h) } ?? 0
                var q = 0
                while q < plane {
                    var acc: Float = 0
                    var c = 0
                    while c < channels {
                        acc += Float(xs[c * plane + q]) * expand.computeValue(h * channels + c)
                        c += 1
                    }
                    scratch[q] = first.apply(Float16(acc + b))
                    q += 1
                }
                // The depthwise window over that plane.
                let bd: Float = depthwiseBias.map { $0.computeValue(h) } ?? 0
                let yo = y.slice((n * g.channels + h) * outPlane, outPlane)
                var oh = 0
                while oh < g.outHeight {
                    var ow = 0
                    while ow < g.outWidth {
                        var acc: Float = 0
                        var kh = 0
                        while kh < g.kernelHeight {
                            let ih = oh * g.strideHeight - g.padTop + kh
                            if ih >= 0 && ih < g.height {
                                var kw = 0
                                while kw < g.kernelWidth {
                                    let iw = ow * g.strideWidth - g.padLeft + kw
                                    if iw >= 0 && iw < g.width {
                                        acc += Float(scratch[ih * g.width + iw]) * depthwise.computeValue(h * taps + kh * g.kernelWidth + kw)
                                    }
                                    kw += 1
                                }
                            }
                            kh += 1
                        }
                        yo[oh * g.outWidth + ow] = second.apply(Float16(acc + bd))
                        ow += 1
                    }
                    oh += 1
                }
                h += 1
            }
            n += 1
        }
    }
}
