/// 2-D max pooling, as ONNX `MaxPool` defines it (dilation 1, floor mode), NCHW.
///
/// Shapes: x [N, C, H, W] → y [N, C, OH, OW]; padding positions never win.
/// Each window's winner is its first largest element in row-major order (as PyTorch picks it),
/// or its first NaN; the window's rows and columns inside the input are clipped once per output
/// rather than tested per tap (PoolingOrderTests pins both passes against the one-output loops).
public enum MaxPool2D {
    /// `y = max over each window of x`.
    @inlinable
    public static func forward(y: TensorView<Float16>, x: TensorView<Float16>, rows: Int, window g: Window2D) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        var nc = 0
        while nc < rows * g.channels {
            let xc = x.slice(nc * plane, plane), yc = y.slice(nc * outPlane, outPlane)
            var oh = 0
            while oh < g.outHeight {
                let ih0 = oh &* g.strideHeight &- g.padTop
                let khLo = max(0, -ih0), khHi = min(g.kernelHeight, g.height &- ih0)
                let at = oh &* g.outWidth
                var ow = 0
                while ow < g.outWidth {
                    yc[at &+ ow] = xc[argmax(xc, ih0: ih0, khLo: khLo, khHi: khHi, ow: ow, g)]
                    ow &+= 1
                }
                oh &+= 1
            }
            nc &+= 1
        }
    }

    /// Index in the plane of the winner of the window at output row `ih0`'s rows khLo ..< khHi
    /// and output column `ow` (the verifier proved every window holds an input element).
    @inlinable @inline(__always)
    static func argmax(_ xc: TensorView<Float16>, ih0: Int, khLo: Int, khHi: Int, ow: Int, _ g: Window2D) -> Int {
        let iw0 = ow &* g.strideWidth &- g.padLeft
        let kwLo = max(0, -iw0), kwHi = min(g.kernelWidth, g.width &- iw0)
        if g.kernelHeight == 2 && g.kernelWidth == 2 && khLo == 0 && khHi == 2 && kwLo == 0 && kwHi == 2 {
            // The common 2×2 window, all inside: the same scan unrolled.
            let i0 = ih0 &* g.width &+ iw0
            let v0 = Float(xc[i0])
            if v0.isNaN { return i0 }
            var best = i0, bestValue = v0
            let i1 = i0 &+ 1, i2 = i0 &+ g.width, i3 = i2 &+ 1
            let v1 = Float(xc[i1])
            if !(v1 <= bestValue) {
                if v1.isNaN { return i1 }
                best = i1
                bestValue = v1
            }
            let v2 = Float(xc[i2])
            if !(v2 <= bestValue) {
                if v2.isNaN { return i2 }
                best = i2
                bestValue = v2
            }
            let v3 = Float(xc[i3])
            if !(v3 <= bestValue) { return i3 }
            return best
        }
        var best = (ih0 &+ khLo) &* g.width &+ iw0 &+ kwLo
        // Compared widened (exact): the winner's index, not the widened value, gives the result.
        var bestValue = Float(xc[best])
        if bestValue.isNaN { return best }
        // The first element is taken; the scan goes on from the one after it.
        var kh = khLo, kw = kwLo &+ 1
        while kh < khHi {
            let r = (ih0 &+ kh) &* g.width &+ iw0
            while kw < kwHi {
                let v = Float(xc[r &+ kw])
                // One comparison for the common case: `!(v <= best)` is "larger, or NaN"
                // (bestValue is never NaN here).
                if !(v <= bestValue) {
                    if v.isNaN { return r &+ kw }
                    best = r &+ kw
                    bestValue = v
                }
                kw &+= 1
            }
            kw = kwLo
            kh &+= 1
        }
        return best
    }

    /// `dx` gets each `dy` at its window's maximum (summed where windows overlap, in output
    /// order, each sum rounded to fp16), 0 elsewhere.
    @inlinable
    public static func backward(dx: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                                rows: Int, window g: Window2D) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        dx.slice(0, rows * g.channels * plane).fill(0)
        var nc = 0
        while nc < rows * g.channels {
            let xc = x.slice(nc * plane, plane), dc = dy.slice(nc * outPlane, outPlane), out = dx.slice(nc * plane, plane)
            var oh = 0
            while oh < g.outHeight {
                let ih0 = oh &* g.strideHeight &- g.padTop
                let khLo = max(0, -ih0), khHi = min(g.kernelHeight, g.height &- ih0)
                let at = oh &* g.outWidth
                var ow = 0
                while ow < g.outWidth {
                    let i = argmax(xc, ih0: ih0, khLo: khLo, khHi: khHi, ow: ow, g)
                    out[i] = Float16(Float(out[i]) + Float(dc[at &+ ow]))
                    ow &+= 1
                }
                oh &+= 1
            }
            nc &+= 1
        }
    }
}
