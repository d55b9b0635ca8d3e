/// 2-D average pooling, as ONNX `AveragePool` defines it (floor mode), and global average pooling
/// (`GlobalAveragePool`), NCHW.
///
/// Shapes: x [N, C, H, W] → y [N, C, OH, OW] (global: y [N, C, 1, 1]). `window.group == 1` means
/// padding counts towards the divisor (`count_include_pad = 1`), 0 that only real elements do.
public enum AveragePool2D {
    /// `y = mean of each window of x`.
    @inlinable
    public static func forward(y: TensorView<Float16>, x: TensorView<Float16>, rows: Int, window g: Window2D) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        var nc = 0
        while nc < rows * g.channels {
            let xc = x.slice(nc * plane, plane), yc = y.slice(nc * outPlane, outPlane)
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
                                if iw >= 0 && iw < g.width { acc += Float(xc[ih * g.width + iw]) }
                                kw += 1
                            }
                        }
                        kh += 1
                    }
                    yc[oh * g.outWidth + ow] = Float16(acc / divisor(oh, ow, g))
                    ow += 1
                }
                oh += 1
            }
            nc += 1
        }
    }

    /// Elements the window at (oh, ow) averages over.
    @inlinable
    static func divisor(_ oh: Int, _ ow: Int, _ g: Window2D) -> Float {
        if g.group == 1 { return Float(g.kernelHeight * g.kernelWidth) }
        let top = oh * g.strideHeight - g.padTop, left = ow * g.strideWidth - g.padLeft
        let rowsIn = min(top + g.kernelHeight, g.height) - max(top, 0)
        let colsIn = min(left + g.kernelWidth, g.width) - max(left, 0)
        return Float(max(rowsIn, 1) * max(colsIn, 1))
    }

    /// `dx[ih, iw] = Σ dy[oh, ow] / count(oh, ow)` over the windows containing (ih, iw), in order.
    @inlinable
    public static func backward(dx: TensorView<Float16>, dy: TensorView<Float16>, rows: Int, window g: Window2D) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        var nc = 0
        while nc < rows * g.channels {
            let dc = dy.slice(nc * outPlane, outPlane), out = dx.slice(nc * plane, plane)
            var ih = 0
            while ih < g.height {
                var iw = 0
                while iw < g.width {
                    var acc: Float = 0
                    var oh = 0
                    while oh < g.outHeight {
                        let top = oh * g.strideHeight - g.padTop
                        if ih >= top && ih < top + g.kernelHeight {
                            var ow = 0
                            while ow < g.outWidth {
                                let left = ow * g.strideWidth - g.padLeft
                                if iw >= left && iw < left + g.kernelWidth {
                                    acc += Float(dc[oh * g.outWidth + ow]) / divisor(oh, ow, g)
                                }
                                ow += 1
                            }
                        }
                        oh += 1
                    }
                    out[ih * g.width + iw] = Float16(acc)
                    iw += 1
                }
                ih += 1
            }
            nc += 1
        }
    }

    /// Global average: `y[n, c] = mean over the plane of x[n, c]`; `plane` elements (H·W) per channel.
    @inlinable
    public static func globalForward(y: TensorView<Float16>, x: TensorView<Float16>, rows: Int, channels: Int, plane: Int) {
        var nc = 0
        while nc < rows * channels {
            var acc: Float = 0
            var q = 0
            while q < plane { acc += Float(x[nc * plane + q]); q += 1 }
            y[nc] = Float16(acc / Float(plane))
            nc += 1
        }
    }

    /// `dx[n, c, ·] = dy[n, c] / plane`.
    @inlinable
    public static func globalBackward(dx: TensorView<Float16>, dy: TensorView<Float16>, rows: Int, channels: Int, plane: Int) {
        var nc = 0
        while nc < rows * channels {
            let v = Float16(Float(dy[nc]) / Float(plane))
            var q = 0
            while q < plane { dx[nc * plane + q] = v; q += 1 }
            nc += 1
        }
    }
}
