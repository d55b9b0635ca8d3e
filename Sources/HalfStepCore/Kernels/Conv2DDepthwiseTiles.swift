/// Depthwise 3×3 windows of stride 1 in tiles of 2 rows × 4 columns: the forward, input gradient
/// and weight gradient paths `Conv2D` takes for them (other strides keep Conv2DDepthwise.swift's).
///
/// Shapes: x [N, C, H, W] · W [C, 1, 3, 3] → y [N, C, OH, OW].
///
/// Why: on the small planes depthwise layers see late in a network (4×4 in the digits CNN) the
/// row-at-a-time loops spent more instructions finding a row's valid taps than multiplying. A tile
/// loads each input row segment it reads once (6 values, 3 instructions each on a Cortex-M4F) and
/// lets both of its rows use it, with the channel's 9 weights (or, for the weight gradient, its 9
/// sums) in registers for the whole plane: 8 sums, 9 weights and 6 inputs fit the FPU's 32 single
/// registers. A tile's first column may miss its kernel column 0 tap and its last column its
/// kernel column 2 tap (padding 1); columns no tile covers run one pixel at a time.
///
/// A missed tap is not read: the tile adds the product of +0 and a zero in its place. An fp32 sum
/// that starts at +0 and only adds is never −0, so adding ±0 leaves it as it was (∞ and NaN too),
/// bit for bit as if the term had been skipped, while the tile's code stays free of a test per
/// tap. Forward and input gradient multiply the +0 by a weight, so they take this path only when
/// every weight is finite (a weight times 0 is NaN exactly when it is ∞ or NaN: one multiply-add
/// per weight checks them); otherwise the general depthwise loops run. The weight gradient zeroes
/// the dy factor of the missed term too.
///
/// Summation order is the general loops' for every element (forward: kernel row, kernel column,
/// padding taps skipped; input gradient: kernel row, kernel column; weight gradient: sample,
/// output row, output column): a tile streams its rows in the order its sums need them (input
/// rows downwards for forward and weight gradient, dy rows upwards for the input gradient), and
/// the weight gradient pairs two output rows only when one tile spans the whole row. Pinned bit
/// for bit by Conv2DTests. Index arithmetic wraps, as in the other kernels.
extension Conv2D {
    /// True for the windows these paths run: depthwise 3×3 (`isDepthwise3x3`), stride 1.
    @inlinable
    static func isDepthwise3x3Stride1(_ g: Window2D) -> Bool {
        isDepthwise3x3(g) && g.strideHeight == 1 && g.strideWidth == 1
    }

    /// Six consecutive elements of one row starting at `t[i]`; `v0` is read only unless
    /// `skipFirst`, `v5` only unless `skipLast` (+0 otherwise: see the header).
    @usableFromInline
    struct Row6 {
        @usableFromInline var v0: Float, v1: Float, v2: Float, v3: Float, v4: Float, v5: Float

        @inlinable @inline(__always)
        init(_ t: TensorView<Float16>, _ i: Int, _ skipFirst: Bool, _ skipLast: Bool) {
            v0 = skipFirst ? 0 : Float(t[i])
            v1 = Float(t[i &+ 1]); v2 = Float(t[i &+ 2]); v3 = Float(t[i &+ 3]); v4 = Float(t[i &+ 4])
            v5 = skipLast ? 0 : Float(t[i &+ 5])
        }
    }

    /// True when every one of `count` weights is finite: a weight times 0 is NaN exactly when it
    /// is ∞ or NaN, and a sum of such products stays 0 otherwise.
    @inlinable
    static func weightsAreFinite<W: HalfComputable>(_ w: TensorView<W>, _ count: Int) -> Bool {
        var z: Float = 0
        var i = 0
        while i < count {
            z += w[i].computeValue * 0
            i &+= 1
        }
        return z == 0
    }

    // MARK: Forward

    /// One kernel row's terms of 4 adjacent outputs whose inputs are `v`: output j adds
    /// `v_{j+kw} · w[kw]` for kw = 0, 1, 2 (a missed tap's input is +0).
    @inlinable @inline(__always)
    static func forwardTile(_ a0: inout Float, _ a1: inout Float, _ a2: inout Float, _ a3: inout Float,
                            _ v: Row6, _ r: KernelRow3) {
        a0 += v.v0 * r.a
        a0 += v.v1 * r.b
        a0 += v.v2 * r.c
        a1 += v.v1 * r.a
        a1 += v.v2 * r.b
        a1 += v.v3 * r.c
        a2 += v.v2 * r.a
        a2 += v.v3 * r.b
        a2 += v.v4 * r.c
        a3 += v.v3 * r.a
        a3 += v.v4 * r.b
        a3 += v.v5 * r.c
    }

    /// Outputs `y[at ..< at+4]` and, when `pair`, the 4 below them: input row t (at `x[i + t·width]`,
    /// kernel column 0 of the first column) feeds the first row with kernel row t and the second
    /// with kernel row t − 1, for the rows inside the input, `tLo ..< tHi` (`tHi` ≤ 3 without a
    /// second row). A loop over t rather than 4 guarded copies: with every row's pointer its own
    /// induction variable, the copies spilled more than the loop's jump costs.
    @inlinable @inline(__always)
    static func forwardTile(_ y: TensorView<Float16>, _ x: TensorView<Float16>, _ at: Int, _ i: Int,
                            _ r0: KernelRow3, _ r1: KernelRow3, _ r2: KernelRow3, _ b: Float,
                            _ tLo: Int, _ tHi: Int, _ pair: Bool, _ width: Int, _ outWidth: Int,
                            _ skipFirst: Bool, _ skipLast: Bool) {
        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
        var c0: Float = 0, c1: Float = 0, c2: Float = 0, c3: Float = 0
        // Every output row has an input row inside: at least one trip.
        var t = tLo, p = i &+ tLo &* width
        repeat {
            let v = Row6(x, p, skipFirst, skipLast)
            switch t {
            case 0:
                forwardTile(&a0, &a1, &a2, &a3, v, r0)
            case 1:
                forwardTile(&a0, &a1, &a2, &a3, v, r1)
                if pair { forwardTile(&c0, &c1, &c2, &c3, v, r0) }
            case 2:
                forwardTile(&a0, &a1, &a2, &a3, v, r2)
                if pair { forwardTile(&c0, &c1, &c2, &c3, v, r1) }
            default:
                forwardTile(&c0, &c1, &c2, &c3, v, r2)
            }
            p &+= width
            t &+= 1
        } while t < tHi
        store4(y, at, a0, a1, a2, a3, b)
        if pair { store4(y, at &+ outWidth, c0, c1, c2, c3, b) }
    }

    /// Output `y[at]` (column ow) and, when `pair`, the one below it, its taps inside the input
    /// only: as `forwardTile`, one column. Not inlined, so its clipping stays out of the tiles' loop.
    @inlinable @inline(never)
    static func forwardColumn(_ y: TensorView<Float16>, _ x: TensorView<Float16>, _ at: Int, _ i: Int, _ ow: Int,
                              _ r0: KernelRow3, _ r1: KernelRow3, _ r2: KernelRow3, _ b: Float,
                              _ tLo: Int, _ tHi: Int, _ pair: Bool, _ g: Window2D) {
        let width = g.width
        let kwLo = max(0, g.padLeft &- ow), kwHi = min(3, width &+ g.padLeft &- ow)
        var a: Float = 0
        if tLo <= 0 && 0 < tHi { forwardTaps(&a, x, i, r0, kwLo, kwHi) }
        if tLo <= 1 && 1 < tHi { forwardTaps(&a, x, i &+ width, r1, kwLo, kwHi) }
        if tLo <= 2 && 2 < tHi { forwardTaps(&a, x, i &+ 2 &* width, r2, kwLo, kwHi) }
        y[at] = Float16(a + b)
        if pair {
            var a: Float = 0
            if tLo <= 1 && 1 < tHi { forwardTaps(&a, x, i &+ width, r0, kwLo, kwHi) }
            if tLo <= 2 && 2 < tHi { forwardTaps(&a, x, i &+ 2 &* width, r1, kwLo, kwHi) }
            if tLo <= 3 && 3 < tHi { forwardTaps(&a, x, i &+ 3 &* width, r2, kwLo, kwHi) }
            y[at &+ g.outWidth] = Float16(a + b)
        }
    }

    /// `y = W ⋆ x + b` for a depthwise 3×3 stride-1 window (`isDepthwise3x3Stride1`).
    @inlinable
    static func depthwise3x3Stride1Forward<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                                              bias: ParameterView?, rows: Int, _ g: Window2D) {
        // Missed taps add +0 · weight: only with finite weights (see the header).
        if !weightsAreFinite(w, g.channels &* 9) { return depthwise3x3Forward(y: y, x: x, w: w, bias: bias, rows: rows, g) }
        let width = g.width, height = g.height, outWidth = g.outWidth, outHeight = g.outHeight
        let plane = height &* width, outPlane = outHeight &* outWidth, padTop = g.padTop, padLeft = g.padLeft
        let strip = Strip3x3(g)
        let xSample = g.channels &* plane, ySample = g.channels &* outPlane
        // Channel, then row pair, then sample: a channel's weights are loaded once, and which
        // input rows a pair reads is worked out once for all samples. (Sample outside row pair
        // spilled more.)
        var c = 0
        while c < g.channels {
            let r0 = KernelRow3(w, c &* 9), r1 = KernelRow3(w, c &* 9 &+ 3), r2 = KernelRow3(w, c &* 9 &+ 6)
            let b: Float = bias.map { $0.computeValue(c) } ?? 0
            var oh = 0
            while oh < outHeight {
                // Output rows oh and oh + 1 (when `pair`) read input rows ih + t, t = 0 ..< 4:
                // row oh with kernel row t, row oh + 1 with kernel row t − 1; the rows inside are
                // t = tLo ..< tHi.
                let pair = oh &+ 1 < outHeight
                let ih = oh &- padTop
                let tLo = max(0, 0 &- ih), tHi = min(pair ? 4 : 3, height &- ih)
                // x index of kernel column 0 of output column 0 in input row ih, and output row
                // oh's first element, of sample n.
                var xr = c &* plane &+ ih &* width &- padLeft, yr = c &* outPlane &+ oh &* outWidth
                var n = 0
                while n < rows {
                    var ow = 0
                    // Columns before, in and after the tiles.
                    while ow < strip.first {
                        forwardColumn(y, x, yr &+ ow, xr &+ ow, ow, r0, r1, r2, b, tLo, tHi, pair, g)
                        ow &+= 1
                    }
                    var k = 0
                    while k < strip.blocks {
                        let skipFirst = k == 0 && strip.skipFirst, skipLast = k &+ 1 == strip.blocks && strip.skipLast
                        let at = yr &+ ow, i = xr &+ ow
                        forwardTile(y, x, at, i, r0, r1, r2, b, tLo, tHi, pair, width, outWidth, skipFirst, skipLast)
                        ow &+= 4
                        k &+= 1
                    }
                    while ow < outWidth {
                        forwardColumn(y, x, yr &+ ow, xr &+ ow, ow, r0, r1, r2, b, tLo, tHi, pair, g)
                        ow &+= 1
                    }
                    xr &+= xSample
                    yr &+= ySample
                    n &+= 1
                }
                oh &+= pair ? 2 : 1
            }
            c &+= 1
        }
    }
}

extension Conv2D {
    // MARK: Input gradient

    /// The input columns a depthwise 3×3 stride-1 input gradient runs in 4-wide tiles: `blocks`
    /// tiles from column `first`. Input column iw's kernel column kw reads dy column
    /// iw + padLeft − kw, so a tile at iw reads dy columns tw − 2 ... tw + 3 (tw = iw + padLeft);
    /// all but the first (input 0's kernel column 2: skipped when `skipFirst`, first tile only)
    /// and the last (input 3's kernel column 0: skipped when `skipLast`, last tile only) lie inside.
    @usableFromInline
    struct InputStrip3x3 {
        @usableFromInline var first: Int, blocks: Int, skipFirst: Bool, skipLast: Bool

        @inlinable
        init(_ g: Window2D) {
            // tw − 1 ≥ 0 and tw + 2 ≤ OW − 1, inside the input.
            first = max(0, 1 - g.padLeft)
            let last = min(g.width - 4, g.outWidth - 3 - g.padLeft)
            blocks = last >= first ? (last - first) / 4 + 1 : 0
            skipFirst = first + g.padLeft < 2
            skipLast = first + 4 * (blocks - 1) + g.padLeft + 3 >= g.outWidth
        }
    }

    /// One kernel row's terms of 4 adjacent input gradients whose dy row segment is `v` (v_k: dy
    /// column tw − 2 + k): input j adds v_{j+2}·w[0], v_{j+1}·w[1], v_j·w[2] in that order (a
    /// missed tap's dy is +0).
    @inlinable @inline(__always)
    static func inputTile(_ a0: inout Float, _ a1: inout Float, _ a2: inout Float, _ a3: inout Float,
                          _ v: Row6, _ r: KernelRow3) {
        a0 += v.v2 * r.a
        a0 += v.v1 * r.b
        a0 += v.v0 * r.c
        a1 += v.v3 * r.a
        a1 += v.v2 * r.b
        a1 += v.v1 * r.c
        a2 += v.v4 * r.a
        a2 += v.v3 * r.b
        a2 += v.v2 * r.c
        a3 += v.v5 * r.a
        a3 += v.v4 * r.b
        a3 += v.v3 * r.c
    }

    /// Input gradients `dx[at ..< at+4]` and, when `pair`, the 4 below them: dy row u + t (at
    /// `dy[d + t·outWidth]`, column tw − 2 of the first input) feeds the first row with kernel row
    /// 2 − t and the second with kernel row 3 − t, for the dy rows inside, `tLo ..< tHi`, taken
    /// from the bottom up so each sum sees its kernel rows in order.
    @inlinable @inline(__always)
    static func inputTile(_ dx: TensorView<Float16>, _ dy: TensorView<Float16>, _ at: Int, _ d: Int,
                          _ r0: KernelRow3, _ r1: KernelRow3, _ r2: KernelRow3,
                          _ tLo: Int, _ tHi: Int, _ pair: Bool, _ width: Int, _ outWidth: Int,
                          _ skipFirst: Bool, _ skipLast: Bool) {
        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
        var c0: Float = 0, c1: Float = 0, c2: Float = 0, c3: Float = 0
        // Every input row is read by a dy row inside: at least one trip.
        var t = tHi, p = d &+ tHi &* outWidth
        repeat {
            t &-= 1
            p &-= outWidth
            let v = Row6(dy, p, skipFirst, skipLast)
            switch t {
            case 3:
                inputTile(&c0, &c1, &c2, &c3, v, r0)
            case 2:
                inputTile(&a0, &a1, &a2, &a3, v, r0)
                if pair { inputTile(&c0, &c1, &c2, &c3, v, r1) }
            case 1:
                inputTile(&a0, &a1, &a2, &a3, v, r1)
                if pair { inputTile(&c0, &c1, &c2, &c3, v, r2) }
            default:
                inputTile(&a0, &a1, &a2, &a3, v, r2)
            }
        } while t > tLo
        store4(dx, at, a0, a1, a2, a3)
        if pair { store4(dx, at &+ width, c0, c1, c2, c3) }
    }

    /// Input gradient `dx[at]` and, when `pair`, the one below it, for input column tw − padLeft:
    /// as `inputTile`, one column, kernel column kw reading dy column tw − kw where that lies
    /// inside. `row`: dy index of row u, column 0. Not inlined, so its clipping stays out of the
    /// tiles' loop.
    @inlinable @inline(never)
    static func inputColumn(_ dx: TensorView<Float16>, _ dy: TensorView<Float16>, _ at: Int, _ row: Int, _ tw: Int,
                            _ r0: KernelRow3, _ r1: KernelRow3, _ r2: KernelRow3,
                            _ tLo: Int, _ tHi: Int, _ pair: Bool, _ g: Window2D) {
        let outWidth = g.outWidth
        let u0 = tw < outWidth, u1 = tw >= 1 && tw &- 1 < outWidth, u2 = tw >= 2 && tw &- 2 < outWidth
        let o0 = tw, o1 = tw &- 1, o2 = tw &- 2
        var a: Float = 0
        if tLo <= 2 && 2 < tHi { inputTaps(&a, dy, row &+ 2 &* outWidth, r0, u0, u1, u2, o0, o1, o2) }
        if tLo <= 1 && 1 < tHi { inputTaps(&a, dy, row &+ outWidth, r1, u0, u1, u2, o0, o1, o2) }
        if tLo <= 0 && 0 < tHi { inputTaps(&a, dy, row, r2, u0, u1, u2, o0, o1, o2) }
        dx[at] = Float16(a)
        if pair {
            var a: Float = 0
            if tLo <= 3 && 3 < tHi { inputTaps(&a, dy, row &+ 3 &* outWidth, r0, u0, u1, u2, o0, o1, o2) }
            if tLo <= 2 && 2 < tHi { inputTaps(&a, dy, row &+ 2 &* outWidth, r1, u0, u1, u2, o0, o1, o2) }
            if tLo <= 1 && 1 < tHi { inputTaps(&a, dy, row &+ outWidth, r2, u0, u1, u2, o0, o1, o2) }
            dx[at &+ g.width] = Float16(a)
        }
    }

    /// `dx[c, ih, iw] = Σ (kh, kw) dy[c, ih + padTop − kh, iw + padLeft − kw] · W[c, kh, kw]`,
    /// kernel row then kernel column, for a depthwise 3×3 stride-1 window.
    @inlinable
    static func depthwise3x3Stride1InputGradient<W: HalfComputable>(dx: TensorView<Float16>, dy: TensorView<Float16>,
                                                                    w: TensorView<W>, rows: Int, _ g: Window2D) {
        // Missed taps add +0 · weight: only with finite weights (see the header).
        if !weightsAreFinite(w, g.channels &* 9) { return depthwise3x3InputGradient(dx: dx, dy: dy, w: w, rows: rows, g) }
        let width = g.width, height = g.height, outWidth = g.outWidth, outHeight = g.outHeight
        let plane = height &* width, outPlane = outHeight &* outWidth, padTop = g.padTop, padLeft = g.padLeft
        let strip = InputStrip3x3(g)
        let xSample = g.channels &* plane, ySample = g.channels &* outPlane
        // Channel, then row pair, then sample, as in the forward.
        var c = 0
        while c < g.channels {
            let r0 = KernelRow3(w, c &* 9), r1 = KernelRow3(w, c &* 9 &+ 3), r2 = KernelRow3(w, c &* 9 &+ 6)
            var ih = 0
            while ih < height {
                // Input rows ih and ih + 1 (when `pair`) read dy rows u + t, t = 0 ..< 4, with
                // u = ih + padTop − 2; the dy rows inside are t = tLo ..< tHi.
                let pair = ih &+ 1 < height
                let u = ih &+ padTop &- 2
                let tLo = max(0, 0 &- u), tHi = min(pair ? 4 : 3, outHeight &- u)
                // dy index of row u, column tw − 2 of input column 0, and dx row ih, of sample n.
                var d = c &* outPlane &+ u &* outWidth &+ padLeft &- 2, xr = c &* plane &+ ih &* width
                var n = 0
                while n < rows {
                    var iw = 0
                    // Columns before, in and after the tiles.
                    while iw < strip.first {
                        inputColumn(dx, dy, xr &+ iw, d &+ 2 &- padLeft, iw &+ padLeft, r0, r1, r2, tLo, tHi, pair, g)
                        iw &+= 1
                    }
                    var k = 0
                    while k < strip.blocks {
                        let skipFirst = k == 0 && strip.skipFirst, skipLast = k &+ 1 == strip.blocks && strip.skipLast
                        let at = xr &+ iw, i = d &+ iw
                        inputTile(dx, dy, at, i, r0, r1, r2, tLo, tHi, pair, width, outWidth, skipFirst, skipLast)
                        iw &+= 4
                        k &+= 1
                    }
                    while iw < width {
                        inputColumn(dx, dy, xr &+ iw, d &+ 2 &- padLeft, iw &+ padLeft, r0, r1, r2, tLo, tHi, pair, g)
                        iw &+= 1
                    }
                    d &+= ySample
                    xr &+= xSample
                    n &+= 1
                }
                ih &+= pair ? 2 : 1
            }
            c &+= 1
        }
    }

    // MARK: Weight gradient

    /// One kernel row's three weight-gradient sums.
    @usableFromInline
    struct Sums3 {
        @usableFromInline var a: Float = 0, b: Float = 0, c: Float = 0

        @inlinable init() {}

        /// The terms of 4 adjacent output columns with gradients `d0 ... d3` whose input row
        /// segment is `v` (v_k: input column of kernel column 0 of column 0, plus k): kernel column
        /// kw adds `d_j · v_{j+kw}` for j = 0 ... 3 in order. Column 0's kernel column 0 term takes
        /// `first` for d0 and column 3's kernel column 2 term `last` for d3: +0 where the tap is
        /// missed (its input is +0 too), so the term adds +0.
        @inlinable @inline(__always)
        mutating func add(_ d0: Float, _ d1: Float, _ d2: Float, _ d3: Float, _ v: Row6, _ first: Float, _ last: Float) {
            a += first * v.v0
            a += d1 * v.v1
            a += d2 * v.v2
            a += d3 * v.v3
            b += d0 * v.v1
            b += d1 * v.v2
            b += d2 * v.v3
            b += d3 * v.v4
            c += d0 * v.v2
            c += d1 * v.v3
            c += d2 * v.v4
            c += last * v.v5
        }
    }

    /// Adds the terms of output columns `at ..< at+4` of one output row (and, when `pair`, of the
    /// row below: then the 4 columns are the whole row, so each sum still takes its rows in order)
    /// to the 9 sums: input row t (at `x[i + t·width]`) serves the first row's kernel row t and
    /// the second's kernel row t − 1, for the input rows inside, `tLo ..< tHi`.
    @inlinable @inline(__always)
    static func weightTile(_ k0: inout Sums3, _ k1: inout Sums3, _ k2: inout Sums3, _ dy: TensorView<Float16>,
                           _ x: TensorView<Float16>, _ at: Int, _ i: Int, _ tLo: Int, _ tHi: Int, _ pair: Bool,
                           _ width: Int, _ outWidth: Int, _ skipFirst: Bool, _ skipLast: Bool) {
        let d0 = Float(dy[at]), d1 = Float(dy[at &+ 1]), d2 = Float(dy[at &+ 2]), d3 = Float(dy[at &+ 3])
        var e0: Float = 0, e1: Float = 0, e2: Float = 0, e3: Float = 0
        if pair {
            let below = at &+ outWidth
            e0 = Float(dy[below]); e1 = Float(dy[below &+ 1]); e2 = Float(dy[below &+ 2]); e3 = Float(dy[below &+ 3])
        }
        // The dy factors of the missed taps' terms: +0.
        let dFirst: Float = skipFirst ? 0 : d0, dLast: Float = skipLast ? 0 : d3
        let eFirst: Float = skipFirst ? 0 : e0, eLast: Float = skipLast ? 0 : e3
        // Every output row has an input row inside: at least one trip.
        var t = tLo, p = i &+ tLo &* width
        repeat {
            let v = Row6(x, p, skipFirst, skipLast)
            switch t {
            case 0:
                k0.add(d0, d1, d2, d3, v, dFirst, dLast)
            case 1:
                k1.add(d0, d1, d2, d3, v, dFirst, dLast)
                if pair { k0.add(e0, e1, e2, e3, v, eFirst, eLast) }
            case 2:
                k2.add(d0, d1, d2, d3, v, dFirst, dLast)
                if pair { k1.add(e0, e1, e2, e3, v, eFirst, eLast) }
            default:
                k2.add(e0, e1, e2, e3, v, eFirst, eLast)
            }
            p &+= width
            t &+= 1
        } while t < tHi
    }

    /// `dW[c, kh, kw] = Σ (n, oh, ow) dy[n, c, oh, ow] · x[n, c, oh − padTop + kh, ow − padLeft + kw]`
    /// for the first `trainedOutputs` channels of a depthwise 3×3 stride-1 window: the channel's
    /// 9 sums stay in registers over all its samples and rows.
    @inlinable
    static func depthwise3x3Stride1WeightGradient(dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                                                  rows: Int, _ g: Window2D) {
        let width = g.width, height = g.height, outWidth = g.outWidth, outHeight = g.outHeight
        let plane = height &* width, outPlane = outHeight &* outWidth, padTop = g.padTop, padLeft = g.padLeft
        let strip = Strip3x3(g)
        let xSample = g.channels &* plane, ySample = g.channels &* outPlane
        // Two rows share a tile only when one tile is the whole row.
        let pairs = strip.first == 0 && strip.blocks == 1 && outWidth == 4
        var c = 0
        while c < g.trainedOutputs {
            var k0 = Sums3(), k1 = Sums3(), k2 = Sums3()
            var dp = c &* outPlane, xp = c &* plane
            var n = 0
            while n < rows {
                var oh = 0
                while oh < outHeight {
                    let pair = pairs && oh &+ 1 < outHeight
                    let ih = oh &- padTop
                    let tLo = max(0, 0 &- ih), tHi = min(pair ? 4 : 3, height &- ih)
                    let dr = dp &+ oh &* outWidth, xr = xp &+ ih &* width &- padLeft
                    var ow = 0
                    // Columns before, in and after the tiles.
                    while ow < strip.first {
                        (k0, k1, k2) = weightColumn((k0, k1, k2), dy, x, dr &+ ow, xr &+ ow, ow, tLo, tHi, g)
                        ow &+= 1
                    }
                    var k = 0
                    while k < strip.blocks {
                        let skipFirst = k == 0 && strip.skipFirst, skipLast = k &+ 1 == strip.blocks && strip.skipLast
                        weightTile(&k0, &k1, &k2, dy, x, dr &+ ow, xr &+ ow, tLo, tHi, pair, width, outWidth, skipFirst, skipLast)
                        ow &+= 4
                        k &+= 1
                    }
                    while ow < outWidth {
                        (k0, k1, k2) = weightColumn((k0, k1, k2), dy, x, dr &+ ow, xr &+ ow, ow, tLo, tHi, g)
                        ow &+= 1
                    }
                    oh &+= pair ? 2 : 1
                }
                dp &+= ySample
                xp &+= xSample
                n &+= 1
            }
            let at = c &* 9
            dW[at] = Float16(k0.a); dW[at &+ 1] = Float16(k0.b); dW[at &+ 2] = Float16(k0.c)
            dW[at &+ 3] = Float16(k1.a); dW[at &+ 4] = Float16(k1.b); dW[at &+ 5] = Float16(k1.c)
            dW[at &+ 6] = Float16(k2.a); dW[at &+ 7] = Float16(k2.b); dW[at &+ 8] = Float16(k2.c)
            c &+= 1
        }
    }
}

extension Conv2D {
    /// Adds output column ow's terms (dy at `dy[at]`, input of kernel column 0 at `x[i]` in input
    /// row t = 0) for its taps inside the input. Not inlined (the tiles' loop stays small enough
    /// for them to be), and by value (inout sums would live in memory across the tiles).
    @inlinable @inline(never)
    static func weightColumn(_ sums: (Sums3, Sums3, Sums3), _ dy: TensorView<Float16>, _ x: TensorView<Float16>,
                             _ at: Int, _ i: Int, _ ow: Int, _ tLo: Int, _ tHi: Int, _ g: Window2D) -> (Sums3, Sums3, Sums3) {
        var (k0, k1, k2) = sums
        let padLeft = g.padLeft, width = g.width
        let d = Float(dy[at])
        let v0 = ow >= padLeft && ow &- padLeft < width
        let v1 = ow &+ 1 >= padLeft && ow &+ 1 &- padLeft < width
        let v2 = ow &+ 2 >= padLeft && ow &+ 2 &- padLeft < width
        if tLo <= 0 && 0 < tHi { k0.addPixel(d, x, i, v0, v1, v2) }
        if tLo <= 1 && 1 < tHi { k1.addPixel(d, x, i &+ width, v0, v1, v2) }
        if tLo <= 2 && 2 < tHi { k2.addPixel(d, x, i &+ 2 &* width, v0, v1, v2) }
        return (k0, k1, k2)
    }
}

extension Conv2D.Sums3 {
    /// One output column's terms with gradient `d`, input row segment at `x[i]` (kernel column 0):
    /// kernel column kw where `v_kw` (its input lies inside).
    @inlinable @inline(__always)
    mutating func addPixel(_ d: Float, _ x: TensorView<Float16>, _ i: Int, _ v0: Bool, _ v1: Bool, _ v2: Bool) {
        if v0 { a += d * Float(x[i]) }
        if v1 { b += d * Float(x[i &+ 1]) }
        if v2 { c += d * Float(x[i &+ 2]) }
    }
}
