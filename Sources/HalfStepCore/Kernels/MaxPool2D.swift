/// 2-D max pooling, as ONNX `MaxPool` defines it (dilation 1, floor mode), NCHW.
///
/// Shapes: x [N, C, H, W] → y [N, C, OH, OW]; padding positions never win.
public enum MaxPool2D {
    /// `y = max over each window of x`.
    @inlinable
    public static func forward(y: TensorView<Float16>, x: TensorView<Float16>, rows: Int, window g: Window2D) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        var nc = 0
        while nc < rows * g.channels {
            let xc = x.slice(nc * plane, plane), yc = y.slice(nc * outPlane, outPlane)
            var o = 0
            while o < outPlane {
                yc[o] = xc[argmax(xc, o, g)]
                o += 1
            }
            nc += 1
        }
    }

    /// Index in the plane of the first largest element of output `o`'s window (row-major scan,
    /// as PyTorch picks it).
    @inlinable
    static func argmax(_ xc: TensorView<Float16>, _ o: Int, _ g: Window2D) -> Int {
        let oh = o / g.outWidth, ow = o - oh * g.outWidth
        var best = -1
        var bestValue = -Float16.infinity
        var kh = 0
        while kh < g.kernelHeight {
            let ih = oh * g.strideHeight - g.padTop + kh
            if ih >= 0 && ih < g.height {
                var kw = 0
                while kw < g.kernelWidth {
                    let iw = ow * g.strideWidth - g.padLeft + kw
                    if iw >= 0 && iw < g.width {
                        let v = xc[ih * g.width + iw]
                        if best < 0 || v > bestValue || v.isNaN { best = ih * g.width + iw; bestValue = v }
                        if v.isNaN { return best }
                    }
                    kw += 1
                }
            }
            kh += 1
        }
        return best
    }

    /// `dx` gets each `dy` at its window's maximum (summed where windows overlap), 0 elsewhere.
    @inlinable
    public static func backward(dx: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                                rows: Int, window g: Window2D) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        dx.slice(0, rows * g.channels * plane).fill(0)
        var nc = 0
        while nc < rows * g.channels {
            let xc = x.slice(nc * plane, plane), dc = dy.slice(nc * outPlane, outPlane), out = dx.slice(nc * plane, plane)
            var o = 0
            while o < outPlane {
                let at = argmax(xc, o, g)
                out[at] = Float16(Float(out[at]) + Float(dc[o]))
                o += 1
            }
            nc += 1
        }
    }
}
