/// 2-D max pooling, as ONNX `MaxPool` defines it (dilation 1, floor mode), NCHW.
///
/// Shapes: x [N, C, H, W] → y [N, C, OH, OW]; padding positions never win.
/// Each window's winner is its first largest element in row-major order (as PyTorch picks it),
/// or its first NaN; the window's rows and columns inside the input are clipped once per output
/// rather than tested per tap (PoolingOrderTests pins both passes against the one-output loops).
/// 2×2 windows at stride 2 without padding (`Window2D.tilesPairs`) take their own loops, which read
/// each window as two 32-bit words.
public enum MaxPool2D {
    /// `y = max over each window of x`.
    @inlinable
    public static func forward(y: TensorView<Float16>, x: TensorView<Float16>, rows: Int, window g: Window2D) {
        if g.tilesPairs {
            pairsForward(y: y, x: x, rows: rows, g)
        } else {
            generalForward(y: y, x: x, rows: rows, g)
        }
    }

    /// `forward` for any window.
    @inlinable
    static func generalForward(y: TensorView<Float16>, x: TensorView<Float16>, rows: Int, _ g: Window2D) {
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
        if g.tilesPairs {
            pairsBackward(dx: dx, dy: dy, x: x, rows: rows, g)
        } else {
            generalBackward(dx: dx, dy: dy, x: x, rows: rows, g)
        }
    }

    /// `backward` for any window.
    @inlinable
    static func generalBackward(dx: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>, rows: Int, _ g: Window2D) {
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

    // MARK: 2×2 windows at stride 2, no padding

    /// `forward` for `Window2D.tilesPairs`: each window is two 32-bit words, one per input row.
    @inlinable
    static func pairsForward(y: TensorView<Float16>, x: TensorView<Float16>, rows: Int, _ g: Window2D) {
        let w = g.width
        PairWalk(g, rows: rows).forEach { i, o in
            // Read as unsigned integers, patterns +0 ... +∞ order as their values and equal ones
            // are the same pattern: the largest is the result when it is one of them, and else a
            // negative or a NaN is in the window.
            let top = x.pairBits(i), bottom = x.pairBits(i &+ w)
            let m = max(max(top & 0xFFFF, top &>> 16), max(bottom & 0xFFFF, bottom &>> 16))
            y[o] = m <= 0x7C00 ? Float16(bitPattern: UInt16(truncatingIfNeeded: m)) : x[i &+ signedWinner(x, i, w)]
        }
    }

    /// `backward` for `Window2D.tilesPairs`: windows do not overlap, so each input's sum has at
    /// most one term, `0 + dy` (the 0 kept: it turns −0 into +0 as the general loop does): each
    /// window's two rows are cleared a word each, then its winner gets its term. Inputs no window
    /// covers (an odd last row or column) get 0.
    @inlinable
    static func pairsBackward(dx: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>, rows: Int, _ g: Window2D) {
        let w = g.width, walk = PairWalk(g, rows: rows)
        if !walk.coversInput { dx.slice(0, rows &* g.channels &* g.height &* w).fill(0) }
        walk.forEach { i, o in
            let at = i &+ winner(x, i, w)
            dx.setPairBits(i, 0)
            dx.setPairBits(i &+ w, 0)
            let zero: Float = 0
            dx[at] = Float16(zero + Float(dy[o]))
        }
    }

    /// The offset from `x[i]` (0, 1, `w` or `w + 1`) of the winner of the 2×2 window whose
    /// top-left element is `x[i]`, rows `w` apart.
    @inlinable @inline(__always)
    static func winner(_ x: TensorView<Float16>, _ i: Int, _ w: Int) -> Int {
        // Read as unsigned integers, patterns +0 ... +∞ order as their values: when the first
        // largest is one of them, all four are, and it is the winner (`>` is the general scan's
        // `!(v <= best)` without NaNs). Else a negative or a NaN is in the window.
        let top = x.pairBits(i), bottom = x.pairBits(i &+ w)
        let a = top & 0xFFFF, b = top &>> 16, c = bottom & 0xFFFF, d = bottom &>> 16
        var at = 0, best = a
        if b > best { at = 1; best = b }
        if c > best { at = w; best = c }
        if d > best { at = w &+ 1; best = d }
        return best <= 0x7C00 ? at : signedWinner(x, i, w)
    }

    /// `winner` for windows holding a negative or a NaN.
    @usableFromInline @inline(never)
    static func signedWinner(_ x: TensorView<Float16>, _ i: Int, _ w: Int) -> Int {
        let top = x.pairBits(i), bottom = x.pairBits(i &+ w)
        // A lane's magnitude above 0x7C00 (+∞) carries into its bit 15: a NaN (no carry crosses a lane).
        if (((top & 0x7FFF_7FFF) &+ 0x03FF_03FF) | ((bottom & 0x7FFF_7FFF) &+ 0x03FF_03FF)) & 0x8000_8000 != 0 {
            return generalWinner(x, i, w)
        }
        // Without NaNs the general scan's `!(v <= best)` is `v > best`, which on `order` keys is
        // an integer comparison.
        let a = order(top & 0xFFFF), b = order(top &>> 16), c = order(bottom & 0xFFFF), d = order(bottom &>> 16)
        var at = 0, best = a
        if b > best { at = 1; best = b }
        if c > best { at = w; best = c }
        if d > best { at = w &+ 1 }
        return at
    }

    /// An integer that orders fp16 patterns (not NaN) as their values do, −0 and +0 alike: the
    /// pattern itself when the sign is clear, else minus its magnitude.
    @inlinable @inline(__always)
    static func order(_ h: UInt32) -> Int32 {
        h < 0x8000 ? Int32(bitPattern: h) : 0x8000 &- Int32(bitPattern: h)
    }

    /// `winner` by the general scan, for the windows holding a NaN.
    @usableFromInline @inline(never)
    static func generalWinner(_ x: TensorView<Float16>, _ i: Int, _ w: Int) -> Int {
        let g = Window2D(channels: 1, outputs: 1, height: 2, width: w, outHeight: 1, outWidth: 1, kernelHeight: 2, kernelWidth: 2,
                         strideHeight: 2, strideWidth: 2, padTop: 0, padLeft: 0, group: 1, trainedOutputs: 1)
        return argmax(x.slice(i, w &+ 2), ih0: 0, khLo: 0, khHi: 2, ow: 0, g)
    }
}
