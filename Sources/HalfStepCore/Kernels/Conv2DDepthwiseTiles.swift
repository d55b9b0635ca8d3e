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
/// kernel column 2 tap (padding 1), which the tile skips in place; columns no tile covers run one
/// pixel at a time.
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
    /// `skipFirst`, `v5` only unless `skipLast` (0 otherwise, and then never used).
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

    // MARK: Forward

    /// One kernel row's terms of 4 adjacent outputs whose inputs are `v`: output j adds
    /// `v_{j+kw} · w[kw]` for kw = 0, 1, 2, except output 0's kw = 0 when `skipFirst` and output
    /// 3's kw = 2 when `skipLast`.
    @inlinable @inline(__always)
    static func forwardTile(_ a0: inout Float, _ a1: inout Float, _ a2: inout Float, _ a3: inout Float,
                            _ v: Row6, _ r: KernelRow3, _ skipFirst: Bool, _ skipLast: Bool) {
        if !skipFirst { a0 += v.v0 * r.a }
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
        if !skipLast { a3 += v.v5 * r.c }
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
        var t = tLo, p = i &+ tLo &* width
        while t < tHi {
            let v = Row6(x, p, skipFirst, skipLast)
            switch t {
            case 0:
                forwardTile(&a0, &a1, &a2, &a3, v, r0, skipFirst, skipLast)
            case 1:
                forwardTile(&a0, &a1, &a2, &a3, v, r1, skipFirst, skipLast)
                if pair { forwardTile(&c0, &c1, &c2, &c3, v, r0, skipFirst, skipLast) }
            case 2:
                forwardTile(&a0, &a1, &a2, &a3, v, r2, skipFirst, skipLast)
                if pair { forwardTile(&c0, &c1, &c2, &c3, v, r1, skipFirst, skipLast) }
            default:
                forwardTile(&c0, &c1, &c2, &c3, v, r2, skipFirst, skipLast)
            }
            p &+= width
            t &+= 1
        }
        store4(y, at, a0, a1, a2, a3, b)
        if pair { store4(y, at &+ outWidth, c0, c1, c2, c3, b) }
    }

    /// `y = W ⋆ x + b` for a depthwise 3×3 stride-1 window (`isDepthwise3x3Stride1`).
    @inlinable
    static func depthwise3x3Stride1Forward<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                                              bias: ParameterView?, rows: Int, _ g: Window2D) {
        let width = g.width, height = g.height, outWidth = g.outWidth, outHeight = g.outHeight
        let plane = height &* width, outPlane = outHeight &* outWidth, padTop = g.padTop, padLeft = g.padLeft
        let strip = Strip3x3(g)
        let xSample = g.channels &* plane, ySample = g.channels &* outPlane
        // Channel, then row pair, then sample: a channel's weights are loaded once, and which
        // input rows a pair reads is worked out once for all samples; the sample loop inside
        // carries little beyond two indices, so nothing spills.
        var c = 0
        while c < g.channels {
            let r0 = KernelRow3(w, c &* 9), r1 = KernelRow3(w, c &* 9 &+ 3), r2 = KernelRow3(w, c &* 9 &+ 6)
            let b: Float = bias.map { $0.computeValue(c) } ?? 0
            var oh = 0
            while oh < outHeight {
                // Output rows oh and oh + 1 (when `pair`) read input rows ih + t, t = 0 ..< 4:
                // row oh with kernel row t, row oh + 1 with kernel row t − 1.
                let pair = oh &+ 1 < outHeight
                let ih = oh &- padTop
                let in0 = ih >= 0 && ih < height, in1 = ih &+ 1 >= 0 && ih &+ 1 < height
                let in2 = ih &+ 2 >= 0 && ih &+ 2 < height, in3 = pair && ih &+ 3 >= 0 && ih &+ 3 < height
                // The rows inside: t = tLo ..< tHi.
                let tLo = max(0, 0 &- ih), tHi = min(pair ? 4 : 3, height &- ih)
                // x index of kernel column 0 of output column 0 in input row ih, and output row
                // oh's first element, of sample n.
                var xr = c &* plane &+ ih &* width &- padLeft, yr = c &* outPlane &+ oh &* outWidth
                var n = 0
                while n < rows {
                    var ow = 0
                    while ow < outWidth {
                        if ow == strip.first && strip.blocks > 0 {
                            var k = 0
                            while k < strip.blocks {
                                let skipFirst = k == 0 && strip.skipFirst, skipLast = k &+ 1 == strip.blocks && strip.skipLast
                                let at = yr &+ ow, i = xr &+ ow
                                // The tile's column skips as constants (4 copies): tested per tap
                                // they cost more than the taps.
                                if skipFirst {
                                    if skipLast {
                                        forwardTile(y, x, at, i, r0, r1, r2, b, tLo, tHi, pair, width, outWidth, true, true)
                                    } else {
                                        forwardTile(y, x, at, i, r0, r1, r2, b, tLo, tHi, pair, width, outWidth, true, false)
                                    }
                                } else if skipLast {
                                    forwardTile(y, x, at, i, r0, r1, r2, b, tLo, tHi, pair, width, outWidth, false, true)
                                } else {
                                    forwardTile(y, x, at, i, r0, r1, r2, b, tLo, tHi, pair, width, outWidth, false, false)
                                }
                                ow &+= 4
                                k &+= 1
                            }
                            continue
                        }
                        // A column no tile covers, one output at a time.
                        let kwLo = max(0, padLeft &- ow), kwHi = min(3, width &+ padLeft &- ow)
                        let i = xr &+ ow
                        var a: Float = 0
                        if in0 { forwardTaps(&a, x, i, r0, kwLo, kwHi) }
                        if in1 { forwardTaps(&a, x, i &+ width, r1, kwLo, kwHi) }
                        if in2 { forwardTaps(&a, x, i &+ 2 &* width, r2, kwLo, kwHi) }
                        y[yr &+ ow] = Float16(a + b)
                        if pair {
                            var a: Float = 0
                            if in1 { forwardTaps(&a, x, i &+ width, r0, kwLo, kwHi) }
                            if in2 { forwardTaps(&a, x, i &+ 2 &* width, r1, kwLo, kwHi) }
                            if in3 { forwardTaps(&a, x, i &+ 3 &* width, r2, kwLo, kwHi) }
                            y[yr &+ outWidth &+ ow] = Float16(a + b)
                        }
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
