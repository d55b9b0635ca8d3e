/// 2-D average pooling, as ONNX `AveragePool` defines it (floor mode), and global average pooling
/// (`GlobalAveragePool`), NCHW.
///
/// Shapes: x [N, C, H, W] → y [N, C, OH, OW] (global: y [N, C, 1, 1]). `window.group == 1` means
/// padding counts towards the divisor (`count_include_pad = 1`), 0 that only real elements do.
/// 2×2 windows at stride 2 without padding (`Window2D.tilesPairs`) take their own loops, which read
/// or write each window as two 32-bit words.
public enum AveragePool2D {
    /// `y = mean of each window of x`: the elements inside the input summed in row-major order
    /// from 0 in fp32, divided once, rounded once. The window's rows and columns inside the input
    /// are clipped once per output rather than tested per tap.
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
                var ow = 0
                while ow < g.outWidth {
                    let iw0 = ow &* g.strideWidth &- g.padLeft
                    let kwLo = max(0, -iw0), kwHi = min(g.kernelWidth, g.width &- iw0)
                    var acc: Float = 0
                    var kh = khLo
                    while kh < khHi {
                        let r = (ih0 &+ kh) &* g.width &+ iw0
                        var kw = kwLo
                        while kw < kwHi {
                            acc += Float(xc[r &+ kw])
                            kw &+= 1
                        }
                        kh &+= 1
                    }
                    yc[oh &* g.outWidth &+ ow] = Float16(acc / divisor(khHi &- khLo, kwHi &- kwLo, g))
                    ow &+= 1
                }
                oh &+= 1
            }
            nc &+= 1
        }
    }

    /// Elements a window averages over, given how many of its rows and columns lie inside the
    /// input (the kernel's size when padding counts).
    @inlinable @inline(__always)
    static func divisor(_ rowsIn: Int, _ colsIn: Int, _ g: Window2D) -> Float {
        if g.group == 1 { return Float(g.kernelHeight * g.kernelWidth) }
        return Float(max(rowsIn, 1) * max(colsIn, 1))
    }

    /// `dx[ih, iw] = Σ dy[oh, ow] / count(oh, ow)` over the windows containing (ih, iw), output
    /// row then column, each term divided before it is added. The windows are found from the
    /// ranges of output rows and columns whose window covers (ih, iw), not by testing every output.
    @inlinable
    public static func backward(dx: TensorView<Float16>, dy: TensorView<Float16>, rows: Int, window g: Window2D) {
        if g.tilesPairs {
            pairsBackward(dx: dx, dy: dy, rows: rows, g)
        } else if g.strideHeight >= g.kernelHeight && g.strideWidth >= g.kernelWidth {
            disjointBackward(dx: dx, dy: dy, rows: rows, g)
        } else {
            generalBackward(dx: dx, dy: dy, rows: rows, g)
        }
    }

    /// `backward` for any window.
    @inlinable
    static func generalBackward(dx: TensorView<Float16>, dy: TensorView<Float16>, rows: Int, _ g: Window2D) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        var nc = 0
        while nc < rows * g.channels {
            let dc = dy.slice(nc * outPlane, outPlane), out = dx.slice(nc * plane, plane)
            var ih = 0
            while ih < g.height {
                let (ohLo, ohHi) = covering(ih, pad: g.padTop, kernel: g.kernelHeight, stride: g.strideHeight, out: g.outHeight)
                var iw = 0
                while iw < g.width {
                    let (owLo, owHi) = covering(iw, pad: g.padLeft, kernel: g.kernelWidth, stride: g.strideWidth, out: g.outWidth)
                    var acc: Float = 0
                    var oh = ohLo
                    while oh < ohHi {
                        let rowsIn = inside(oh &* g.strideHeight &- g.padTop, g.kernelHeight, g.height)
                        var ow = owLo
                        while ow < owHi {
                            let colsIn = inside(ow &* g.strideWidth &- g.padLeft, g.kernelWidth, g.width)
                            acc += Float(dc[oh &* g.outWidth &+ ow]) / divisor(rowsIn, colsIn, g)
                            ow &+= 1
                        }
                        oh &+= 1
                    }
                    out[ih &* g.width &+ iw] = Float16(acc)
                    iw &+= 1
                }
                ih &+= 1
            }
            nc &+= 1
        }
    }

    /// `backward` for windows that do not overlap (stride ≥ kernel): each input lies in at most
    /// one window, so its sum has one term, `0 + dy / count` (the 0 kept: it turns −0 into +0
    /// as the general loop does), written from the window's side; inputs no window covers get 0.
    @inlinable
    static func disjointBackward(dx: TensorView<Float16>, dy: TensorView<Float16>, rows: Int, _ g: Window2D) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        dx.slice(0, rows * g.channels * plane).fill(0)
        var nc = 0
        while nc < rows * g.channels {
            let dc = dy.slice(nc * outPlane, outPlane), out = dx.slice(nc * plane, plane)
            var oh = 0
            while oh < g.outHeight {
                let ih0 = oh &* g.strideHeight &- g.padTop
                let khLo = max(0, -ih0), khHi = min(g.kernelHeight, g.height &- ih0)
                var ow = 0
                while ow < g.outWidth {
                    let iw0 = ow &* g.strideWidth &- g.padLeft
                    let kwLo = max(0, -iw0), kwHi = min(g.kernelWidth, g.width &- iw0)
                    let zero: Float = 0
                    let v = Float16(zero + Float(dc[oh &* g.outWidth &+ ow]) / divisor(khHi &- khLo, kwHi &- kwLo, g))
                    var kh = khLo
                    while kh < khHi {
                        let r = (ih0 &+ kh) &* g.width &+ iw0
                        var kw = kwLo
                        while kw < kwHi {
                            out[r &+ kw] = v
                            kw &+= 1
                        }
                        kh &+= 1
                    }
                    ow &+= 1
                }
                oh &+= 1
            }
            nc &+= 1
        }
    }

    /// `forward` for `Window2D.tilesPairs`: each window is two 32-bit words, one per input row,
    /// summed in the same order (from 0, top row then bottom row) and divided by the same 4.
    @inlinable
    static func pairsForward(y: TensorView<Float16>, x: TensorView<Float16>, rows: Int, _ g: Window2D) {
        let w = g.width, d = divisor(2, 2, g)
        PairWalk(g, rows: rows).forEach { i, o in
            let (x0, x1) = x.widenedPair(i), (x2, x3) = x.widenedPair(i &+ w)
            var acc: Float = 0
            acc += x0
            acc += x1
            acc += x2
            acc += x3
            y[o] = Float16(acc / d)
        }
    }

    /// `backward` for `Window2D.tilesPairs`: `disjointBackward`'s `0 + dy / 4` written as one
    /// word per window row; inputs no window covers (an odd last row or column) get 0.
    @inlinable
    static func pairsBackward(dx: TensorView<Float16>, dy: TensorView<Float16>, rows: Int, _ g: Window2D) {
        let w = g.width, d = divisor(2, 2, g), walk = PairWalk(g, rows: rows)
        if !walk.coversInput { dx.slice(0, rows &* g.channels &* g.height &* w).fill(0) }
        walk.forEach { i, o in
            let zero: Float = 0
            let v = UInt32(Float16(zero + Float(dy[o]) / d).bitPattern)
            let word = v | v &<< 16
            dx.setPairBits(i, word)
            dx.setPairBits(i &+ w, word)
        }
    }

    /// Output positions `lo ..< hi` along one axis whose window covers input position `i`:
    /// o·stride − pad ≤ i < o·stride − pad + kernel.
    @inlinable @inline(__always)
    static func covering(_ i: Int, pad: Int, kernel: Int, stride: Int, out: Int) -> (Int, Int) {
        let first = i &+ pad &- kernel &+ 1, last = i &+ pad
        let lo = first <= 0 ? 0 : (first &+ stride &- 1) / stride
        return (lo, max(lo, min(out, last / stride &+ 1)))
    }

    /// How many of a window's `kernel` positions from `start` lie inside `0 ..< size`.
    @inlinable @inline(__always)
    static func inside(_ start: Int, _ kernel: Int, _ size: Int) -> Int {
        min(start &+ kernel, size) &- max(start, 0)
    }

    /// Global average: `y[n, c] = mean over the plane of x[n, c]`; `plane` elements (H·W) per channel.
    @inlinable
    public static func globalForward(y: TensorView<Float16>, x: TensorView<Float16>, rows: Int, channels: Int, plane: Int) {
        // The same sum in the same order (from 0, element by element), two elements per load.
        let divisor = Float(plane)
        var nc = 0, at = 0
        while nc < rows &* channels {
            var acc: Float = 0
            let end = at &+ plane, pairsEnd = at &+ (plane & ~1)
            while at < pairsEnd {
                let (u, v) = x.widenedPair(at)
                acc += u
                acc += v
                at &+= 2
            }
            if at < end { acc += Float(x[at]); at &+= 1 }
            y[nc] = Float16(acc / divisor)
            nc &+= 1
        }
    }

    /// `dx[n, c, ·] = dy[n, c] / plane`.
    @inlinable
    public static func globalBackward(dx: TensorView<Float16>, dy: TensorView<Float16>, rows: Int, channels: Int, plane: Int) {
        let divisor = Float(plane)
        var nc = 0
        while nc < rows &* channels {
            dx.slice(nc &* plane, plane).fill(Float16(Float(dy[nc]) / divisor))
            nc &+= 1
        }
    }
}
