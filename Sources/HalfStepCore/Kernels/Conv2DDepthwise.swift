/// Depthwise 3×3 convolution (one input and one output channel per group, the MobileNet layer):
/// forward, input gradient and weight gradient paths that `Conv2D` takes for such windows.
///
/// Each keeps a channel's 9 weights in locals for the whole plane (a Cortex-M4F has 32 single
/// precision registers; reading an fp16 or fp32 master weight costs 3 instructions a time) and
/// lets neighbouring outputs share each loaded input. The summation order of every element is
/// the general loops' (forward: kernel row, kernel column, padding taps skipped; input gradient:
/// kernel row, kernel column; weight gradient: sample, output row, output column), so both give
/// the same bits (pinned by Conv2DTests). Index arithmetic wraps (`&+`, `&*`): every index is a
/// sum of in-range offsets the verifier has checked, and checked arithmetic would add a compare
/// and branch to every load.
extension Conv2D {
    /// True for the windows these paths run: one input and one output channel per group, 3×3.
    @inlinable
    static func isDepthwise3x3(_ g: Window2D) -> Bool {
        g.group == g.channels && g.outputs == g.channels && g.kernelHeight == 3 && g.kernelWidth == 3
    }

    /// One kernel row's three weights, widened once per plane.
    @usableFromInline
    struct KernelRow3 {
        @usableFromInline var a: Float, b: Float, c: Float

        @inlinable @inline(__always)
        init<W: HalfComputable>(_ w: TensorView<W>, _ i: Int) {
            a = w[i].computeValue; b = w[i &+ 1].computeValue; c = w[i &+ 2].computeValue
        }
    }

    // MARK: Forward

    /// `y = W ⋆ x + b` for a depthwise 3×3 window (`isDepthwise3x3`).
    @inlinable
    static func depthwise3x3Forward<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                                       bias: ParameterView?, rows: Int, _ g: Window2D) {
        let width = g.width, height = g.height, outWidth = g.outWidth, outHeight = g.outHeight
        let plane = height &* width, outPlane = outHeight &* outWidth
        let sh = g.strideHeight, sw = g.strideWidth, padTop = g.padTop, padLeft = g.padLeft
        let planes = rows &* g.channels
        var nc = 0   // n·C + c: every (sample, channel) plane in turn
        var c = 0
        while nc < planes {
            let r0 = KernelRow3(w, c &* 9), r1 = KernelRow3(w, c &* 9 &+ 3), r2 = KernelRow3(w, c &* 9 &+ 6)
            let b: Float = bias.map { $0.computeValue(c) } ?? 0
            let xp = nc &* plane, yp = nc &* outPlane
            var oh = 0
            while oh < outHeight {
                let ih0 = oh &* sh &- padTop
                // Kernel rows inside the input; a kernel row in the padding adds no term.
                let khLo = max(0, 0 &- ih0), khHi = min(3, height &- ih0)
                let row0 = khLo == 0, row1 = khLo <= 1 && khHi > 1, row2 = khHi > 2
                // x index of tap (0, 0) of output column 0 (tap (kh, kw) of column ow: + kh·W + ow·sw + kw).
                let xr = xp &+ ih0 &* width &- padLeft
                let yr = yp &+ oh &* outWidth
                var ow = 0
                while ow < outWidth {
                    let iw0 = ow &* sw
                    // Kernel columns inside the input for this output column.
                    let kwLo = max(0, padLeft &- iw0), kwHi = min(3, width &+ padLeft &- iw0)
                    // 2 to 4 outputs share each loaded input when only the first can miss its left
                    // tap and only the last its right tap (strides 1 and 2).
                    let count = min(4, outWidth &- ow), lastRoom = width &+ padLeft &- (iw0 &+ (count &- 1) &* sw)
                    if sw <= 2 && count >= 2 && kwLo <= 1 && padLeft <= iw0 &+ sw && lastRoom &+ sw >= 3 && lastRoom >= 2 {
                        let skipFirst = kwLo == 1, skipLast = lastRoom == 2
                        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                        let i = xr &+ iw0
                        if sw == 1 {
                            if row0 { forwardRow(&a0, &a1, &a2, &a3, x, i, r0, skipFirst, skipLast, count, stride: 1) }
                            if row1 { forwardRow(&a0, &a1, &a2, &a3, x, i &+ width, r1, skipFirst, skipLast, count, stride: 1) }
                            if row2 { forwardRow(&a0, &a1, &a2, &a3, x, i &+ 2 &* width, r2, skipFirst, skipLast, count, stride: 1) }
                        } else {
                            if row0 { forwardRow(&a0, &a1, &a2, &a3, x, i, r0, skipFirst, skipLast, count, stride: 2) }
                            if row1 { forwardRow(&a0, &a1, &a2, &a3, x, i &+ width, r1, skipFirst, skipLast, count, stride: 2) }
                            if row2 { forwardRow(&a0, &a1, &a2, &a3, x, i &+ 2 &* width, r2, skipFirst, skipLast, count, stride: 2) }
                        }
                        let at = yr &+ ow
                        y[at] = Float16(a0 + b)
                        y[at &+ 1] = Float16(a1 + b)
                        if count > 2 { y[at &+ 2] = Float16(a2 + b) }
                        if count > 3 { y[at &+ 3] = Float16(a3 + b) }
                        ow &+= count
                        continue
                    }
                    let i = xr &+ iw0
                    var a: Float = 0
                    if row0 { forwardTaps(&a, x, i, r0, kwLo, kwHi) }
                    if row1 { forwardTaps(&a, x, i &+ width, r1, kwLo, kwHi) }
                    if row2 { forwardTaps(&a, x, i &+ 2 &* width, r2, kwLo, kwHi) }
                    y[yr &+ ow] = Float16(a + b)
                    ow &+= 1
                }
                oh &+= 1
            }
            nc &+= 1
            c &+= 1
            if c == g.channels { c = 0 }
        }
    }

    /// One kernel row's terms of `count` (2 ... 4) outputs `stride` apart whose taps start at
    /// `x[i]`: output j adds `x[i + j·stride + kw] · w[kw]` for kw = 0, 1, 2, except output 0's
    /// kw = 0 when `skipFirst` and the last output's kw = 2 when `skipLast` (those lie in the padding).
    @inlinable @inline(__always)
    static func forwardRow(_ a0: inout Float, _ a1: inout Float, _ a2: inout Float, _ a3: inout Float,
                           _ x: TensorView<Float16>, _ i: Int, _ r: KernelRow3, _ skipFirst: Bool, _ skipLast: Bool,
                           _ count: Int, stride s: Int) {
        // With `s` a constant after inlining, inputs two outputs share are loaded once.
        if !skipFirst { a0 += Float(x[i]) * r.a }
        a0 += Float(x[i &+ 1]) * r.b
        a0 += Float(x[i &+ 2]) * r.c
        a1 += Float(x[i &+ s]) * r.a
        a1 += Float(x[i &+ s &+ 1]) * r.b
        if count == 2 {
            if !skipLast { a1 += Float(x[i &+ s &+ 2]) * r.c }
            return
        }
        a1 += Float(x[i &+ s &+ 2]) * r.c
        a2 += Float(x[i &+ 2 &* s]) * r.a
        a2 += Float(x[i &+ 2 &* s &+ 1]) * r.b
        if count == 3 {
            if !skipLast { a2 += Float(x[i &+ 2 &* s &+ 2]) * r.c }
            return
        }
        a2 += Float(x[i &+ 2 &* s &+ 2]) * r.c
        a3 += Float(x[i &+ 3 &* s]) * r.a
        a3 += Float(x[i &+ 3 &* s &+ 1]) * r.b
        if !skipLast { a3 += Float(x[i &+ 3 &* s &+ 2]) * r.c }
    }

    /// One kernel row's terms of one output whose taps start at `x[i]`, kernel columns
    /// `kwLo ..< kwHi` only.
    @inlinable @inline(__always)
    static func forwardTaps(_ a: inout Float, _ x: TensorView<Float16>, _ i: Int, _ r: KernelRow3, _ kwLo: Int, _ kwHi: Int) {
        if kwLo == 0 { a += Float(x[i]) * r.a }
        if kwLo <= 1 && kwHi > 1 { a += Float(x[i &+ 1]) * r.b }
        if kwHi > 2 { a += Float(x[i &+ 2]) * r.c }
    }

    // MARK: Input gradient

    /// `dx[c, ih, iw] = Σ (kh, kw) dy[c, oh, ow] · W[c, kh, kw]` over the windows that read
    /// (ih, iw), kernel row then kernel column, for a depthwise 3×3 window.
    @inlinable
    static func depthwise3x3InputGradient<W: HalfComputable>(dx: TensorView<Float16>, dy: TensorView<Float16>, w: TensorView<W>,
                                                             rows: Int, _ g: Window2D) {
        let width = g.width, height = g.height, outWidth = g.outWidth, outHeight = g.outHeight
        let plane = height &* width, outPlane = outHeight &* outWidth
        let sh = g.strideHeight, sw = g.strideWidth, padTop = g.padTop, padLeft = g.padLeft
        let planes = rows &* g.channels
        var nc = 0
        var c = 0
        while nc < planes {
            let r0 = KernelRow3(w, c &* 9), r1 = KernelRow3(w, c &* 9 &+ 3), r2 = KernelRow3(w, c &* 9 &+ 6)
            let xp = nc &* plane, dp = nc &* outPlane
            var ih = 0
            while ih < height {
                // Kernel row kh reaches output row (ih + padTop − kh) / sh when that divides and lies inside.
                let th = ih &+ padTop
                let v0 = th % sh == 0 && th / sh < outHeight
                let v1 = th >= 1 && (th &- 1) % sh == 0 && (th &- 1) / sh < outHeight
                let v2 = th >= 2 && (th &- 2) % sh == 0 && (th &- 2) / sh < outHeight
                let d0 = dp &+ (th / sh) &* outWidth
                let d1 = dp &+ ((th &- 1) / sh) &* outWidth
                let d2 = dp &+ ((th &- 2) / sh) &* outWidth
                let xr = xp &+ ih &* width
                var iw = 0
                while iw < width {
                    let tw = iw &+ padLeft
                    let count = min(4, width &- iw)
                    if sw == 1 && count >= 2 && tw >= 1 && tw &+ count &- 2 < outWidth {
                        // Inputs iw ..< iw+count read dy columns tw−2 ... tw+count−1; only the
                        // first input's kw = 2 tap (column tw − 2) and the last's kw = 0 tap
                        // (tw + count − 1) can fall outside.
                        let skipFirst = tw < 2, skipLast = tw &+ count &- 1 >= outWidth
                        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                        let e = tw &- 2
                        if v0 { inputRow(&a0, &a1, &a2, &a3, dy, d0 &+ e, r0, skipFirst, skipLast, count) }
                        if v1 { inputRow(&a0, &a1, &a2, &a3, dy, d1 &+ e, r1, skipFirst, skipLast, count) }
                        if v2 { inputRow(&a0, &a1, &a2, &a3, dy, d2 &+ e, r2, skipFirst, skipLast, count) }
                        let at = xr &+ iw
                        dx[at] = Float16(a0)
                        dx[at &+ 1] = Float16(a1)
                        if count > 2 { dx[at &+ 2] = Float16(a2) }
                        if count > 3 { dx[at &+ 3] = Float16(a3) }
                        iw &+= count
                        continue
                    }
                    if sw == 2 && tw & 1 == 0 && count >= 2 && tw >> 1 < outWidth {
                        // Stride 2: inputs iw, iw+2 (tw even) read dy columns q (kw = 0) and q − 1
                        // (kw = 2), inputs iw+1, iw+3 read q and q + 1 (kw = 1): 3 loads serve the
                        // 4 inputs' 6 terms. Only the first input's kw = 2 tap (column q − 1) and
                        // the taps of column q + 1 can fall outside.
                        let q = tw >> 1, skipFirst = q == 0, hasNext = q &+ 1 < outWidth
                        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                        if v0 { inputRowStride2(&a0, &a1, &a2, &a3, dy, d0 &+ q &- 1, r0, skipFirst, hasNext, count) }
                        if v1 { inputRowStride2(&a0, &a1, &a2, &a3, dy, d1 &+ q &- 1, r1, skipFirst, hasNext, count) }
                        if v2 { inputRowStride2(&a0, &a1, &a2, &a3, dy, d2 &+ q &- 1, r2, skipFirst, hasNext, count) }
                        let at = xr &+ iw
                        dx[at] = Float16(a0)
                        dx[at &+ 1] = Float16(a1)
                        if count > 2 { dx[at &+ 2] = Float16(a2) }
                        if count > 3 { dx[at &+ 3] = Float16(a3) }
                        iw &+= count
                        continue
                    }
                    // Kernel column kw reaches output column (tw − kw) / sw when that divides and lies inside.
                    let u0: Bool, u1: Bool, u2: Bool, o0: Int, o1: Int, o2: Int
                    if sw == 1 {
                        o0 = tw; o1 = tw &- 1; o2 = tw &- 2
                        u0 = tw < outWidth; u1 = tw >= 1 && o1 < outWidth; u2 = tw >= 2 && o2 < outWidth
                    } else {
                        o0 = tw / sw; o1 = (tw &- 1) / sw; o2 = (tw &- 2) / sw
                        u0 = tw % sw == 0 && o0 < outWidth
                        u1 = tw >= 1 && (tw &- 1) % sw == 0 && o1 < outWidth
                        u2 = tw >= 2 && (tw &- 2) % sw == 0 && o2 < outWidth
                    }
                    var a: Float = 0
                    if v0 { inputTaps(&a, dy, d0, r0, u0, u1, u2, o0, o1, o2) }
                    if v1 { inputTaps(&a, dy, d1, r1, u0, u1, u2, o0, o1, o2) }
                    if v2 { inputTaps(&a, dy, d2, r2, u0, u1, u2, o0, o1, o2) }
                    dx[xr &+ iw] = Float16(a)
                    iw &+= 1
                }
                ih &+= 1
            }
            nc &+= 1
            c &+= 1
            if c == g.channels { c = 0 }
        }
    }

    /// One kernel row's terms of `count` (2 ... 4) adjacent input gradients (stride 1) whose dy
    /// columns start at `dy[i]`: input j adds `dy[i + j + 2 − kw] · w[kw]` for kw = 0, 1, 2,
    /// except input 0's kw = 2 when `skipFirst` and the last input's kw = 0 when `skipLast`.
    @inlinable @inline(__always)
    static func inputRow(_ a0: inout Float, _ a1: inout Float, _ a2: inout Float, _ a3: inout Float,
                         _ dy: TensorView<Float16>, _ i: Int, _ r: KernelRow3, _ skipFirst: Bool, _ skipLast: Bool,
                         _ count: Int) {
        let v1 = Float(dy[i &+ 1]), v2 = Float(dy[i &+ 2])
        a0 += v2 * r.a
        a0 += v1 * r.b
        if !skipFirst { a0 += Float(dy[i]) * r.c }
        if count == 2 {
            if !skipLast { a1 += Float(dy[i &+ 3]) * r.a }
            a1 += v2 * r.b
            a1 += v1 * r.c
            return
        }
        let v3 = Float(dy[i &+ 3])
        a1 += v3 * r.a
        a1 += v2 * r.b
        a1 += v1 * r.c
        if count == 3 {
            if !skipLast { a2 += Float(dy[i &+ 4]) * r.a }
            a2 += v3 * r.b
            a2 += v2 * r.c
            return
        }
        let v4 = Float(dy[i &+ 4])
        a2 += v4 * r.a
        a2 += v3 * r.b
        a2 += v2 * r.c
        if !skipLast { a3 += Float(dy[i &+ 5]) * r.a }
        a3 += v4 * r.b
        a3 += v3 * r.c
    }

    /// One kernel row's terms of `count` (2 ... 4) adjacent input gradients at stride 2, the
    /// first at an even tw = iw + padLeft = 2q, whose dy columns q − 1 ... q + 1 start at
    /// `dy[i]`: inputs 0 and 2 add `dy[q + j/2] · w[0]` then `dy[q + j/2 − 1] · w[2]`, inputs 1
    /// and 3 add `dy[q + (j−1)/2] · w[1]`; input 0's kw = 2 term only unless `skipFirst`, the
    /// terms of column q + 1 only if `hasNext`.
    @inlinable @inline(__always)
    static func inputRowStride2(_ a0: inout Float, _ a1: inout Float, _ a2: inout Float, _ a3: inout Float,
                                _ dy: TensorView<Float16>, _ i: Int, _ r: KernelRow3, _ skipFirst: Bool, _ hasNext: Bool,
                                _ count: Int) {
        let v1 = Float(dy[i &+ 1])
        a0 += v1 * r.a
        if !skipFirst { a0 += Float(dy[i]) * r.c }
        a1 += v1 * r.b
        if count > 2 {
            if hasNext {
                let v2 = Float(dy[i &+ 2])
                a2 += v2 * r.a
                a2 += v1 * r.c
                if count > 3 { a3 += v2 * r.b }
            } else {
                a2 += v1 * r.c
            }
        }
    }

    /// One kernel row's terms of one input gradient: kernel column kw (where `u_kw`) reads dy
    /// column `o_kw` of the row starting at `dy[d]`.
    @inlinable @inline(__always)
    static func inputTaps(_ a: inout Float, _ dy: TensorView<Float16>, _ d: Int, _ r: KernelRow3,
                          _ u0: Bool, _ u1: Bool, _ u2: Bool, _ o0: Int, _ o1: Int, _ o2: Int) {
        if u0 { a += Float(dy[d &+ o0]) * r.a }
        if u1 { a += Float(dy[d &+ o1]) * r.b }
        if u2 { a += Float(dy[d &+ o2]) * r.c }
    }

    // MARK: Weight gradient

    /// `dW[c, kh, kw] = Σ (n, oh, ow) dy[n, c, oh, ow] · x[n, c, oh·sh − padTop + kh, ow·sw − padLeft + kw]`
    /// for the first `trainedOutputs` channels of a depthwise 3×3 window: one pass per kernel
    /// row, its 3 sums in locals, streaming each output row once.
    @inlinable
    static func depthwise3x3WeightGradient(dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                                           rows: Int, _ g: Window2D) {
        let width = g.width, height = g.height, outWidth = g.outWidth, outHeight = g.outHeight
        let plane = height &* width, outPlane = outHeight &* outWidth
        let sh = g.strideHeight, sw = g.strideWidth, padTop = g.padTop, padLeft = g.padLeft
        // Output columns whose kernel column kw lies inside the input: lo_kw ..< hi_kw; every tap
        // inside on lo ..< hi.
        func columns(_ kw: Int) -> (Int, Int) {
            let lo = padLeft - kw > 0 ? (padLeft - kw + sw - 1) / sw : 0
            let top = width - 1 + padLeft - kw
            return (lo, top < 0 ? 0 : min(outWidth, top / sw + 1))
        }
        let (lo0, hi0) = columns(0), (lo1, hi1) = columns(1), (lo2, hi2) = columns(2)
        // (Two-argument max and min: the variadic forms build an array.)
        let lo = min(max(max(lo0, lo1), lo2), outWidth), hi = max(lo, min(min(hi0, hi1), hi2))
        // Stride 1 with at most one column of padding each side (the common case): only output
        // column 0 can miss kernel column 0 and only the last column kernel column 2, so a row
        // streams with each input loaded once and no per-pixel tests.
        let streams = sw == 1 && outWidth >= 2 && lo0 <= 1 && lo1 == 0 && lo2 == 0
            && hi0 == outWidth && hi1 == outWidth && hi2 >= outWidth &- 1
        let firstFull = lo0 == 0, lastFull = hi2 == outWidth
        var c = 0
        while c < g.trainedOutputs {
            var kh = 0
            while kh < 3 {
                let ohLo = padTop - kh > 0 ? (padTop - kh + sh - 1) / sh : 0
                let ohTop = height - 1 + padTop - kh
                let ohHi = ohTop < 0 ? 0 : min(outHeight, ohTop / sh + 1)
                var a0: Float = 0, a1: Float = 0, a2: Float = 0
                var n = 0
                while n < rows {
                    let nc = n &* g.channels &+ c
                    let xp = nc &* plane, dp = nc &* outPlane
                    var oh = ohLo
                    while oh < ohHi {
                        let dr = dp &+ oh &* outWidth
                        // x index of kernel column 0 of output column 0 in this kernel row.
                        let xr = xp &+ (oh &* sh &- padTop &+ kh) &* width &- padLeft
                        if streams {
                            weightRowStream(&a0, &a1, &a2, dy, x, dr, xr, outWidth, firstFull, lastFull)
                            oh &+= 1
                            continue
                        }
                        var ow = 0
                        while ow < lo {
                            weightTaps(&a0, &a1, &a2, dy, x, dr, xr, ow, sw, lo0, hi0, lo1, hi1, lo2, hi2)
                            ow &+= 1
                        }
                        if ow < hi {
                            if sw == 1 {
                                // Each input is loaded once and serves three outputs' taps.
                                var i = xr &+ ow
                                var xa = Float(x[i]), xb = Float(x[i &+ 1])
                                while ow < hi {
                                    let xc = Float(x[i &+ 2]), d = Float(dy[dr &+ ow])
                                    a0 += d * xa
                                    a1 += d * xb
                                    a2 += d * xc
                                    xa = xb
                                    xb = xc
                                    i &+= 1
                                    ow &+= 1
                                }
                            } else {
                                var i = xr &+ ow &* sw
                                while ow < hi {
                                    let d = Float(dy[dr &+ ow])
                                    a0 += d * Float(x[i])
                                    a1 += d * Float(x[i &+ 1])
                                    a2 += d * Float(x[i &+ 2])
                                    i &+= sw
                                    ow &+= 1
                                }
                            }
                        }
                        while ow < outWidth {
                            weightTaps(&a0, &a1, &a2, dy, x, dr, xr, ow, sw, lo0, hi0, lo1, hi1, lo2, hi2)
                            ow &+= 1
                        }
                        oh &+= 1
                    }
                    n &+= 1
                }
                let at = c &* 9 &+ kh &* 3
                dW[at] = Float16(a0)
                dW[at &+ 1] = Float16(a1)
                dW[at &+ 2] = Float16(a2)
                kh &+= 1
            }
            c &+= 1
        }
    }

    /// The terms one output row adds to one kernel row's 3 weight gradients at stride 1: output
    /// column ow's kernel column kw reads `x[xr + ow + kw]` (`xr`: column 0's kernel column 0),
    /// except column 0's kernel column 0 unless `firstFull` and the last column's kernel column 2
    /// unless `lastFull`. `count` ≥ 2 columns.
    @inlinable @inline(__always)
    static func weightRowStream(_ a0: inout Float, _ a1: inout Float, _ a2: inout Float,
                                _ dy: TensorView<Float16>, _ x: TensorView<Float16>, _ dr: Int, _ xr: Int, _ count: Int,
                                _ firstFull: Bool, _ lastFull: Bool) {
        let d = Float(dy[dr])
        if firstFull { a0 += d * Float(x[xr]) }
        // p, q: the inputs of kernel columns 0 and 1 at column ow.
        var p = Float(x[xr &+ 1]), q = Float(x[xr &+ 2])
        a1 += d * p
        a2 += d * q
        var ow = 1
        let last = count &- 1
        while ow &+ 1 < last {
            let r = Float(x[xr &+ ow &+ 2]), s = Float(x[xr &+ ow &+ 3])
            let d0 = Float(dy[dr &+ ow]), d1 = Float(dy[dr &+ ow &+ 1])
            a0 += d0 * p
            a1 += d0 * q
            a2 += d0 * r
            a0 += d1 * q
            a1 += d1 * r
            a2 += d1 * s
            p = r
            q = s
            ow &+= 2
        }
        if ow < last {
            let r = Float(x[xr &+ ow &+ 2]), d0 = Float(dy[dr &+ ow])
            a0 += d0 * p
            a1 += d0 * q
            a2 += d0 * r
            p = q
            q = r
        }
        let dl = Float(dy[dr &+ last])
        a0 += dl * p
        a1 += dl * q
        if lastFull { a2 += dl * Float(x[xr &+ last &+ 2]) }
    }

    /// The terms output column `ow` adds to one kernel row's 3 weight gradients, each tap only
    /// where its input lies inside (`lo_kw ≤ ow < hi_kw`).
    @inlinable @inline(__always)
    static func weightTaps(_ a0: inout Float, _ a1: inout Float, _ a2: inout Float,
                           _ dy: TensorView<Float16>, _ x: TensorView<Float16>, _ dr: Int, _ xr: Int, _ ow: Int, _ sw: Int,
                           _ lo0: Int, _ hi0: Int, _ lo1: Int, _ hi1: Int, _ lo2: Int, _ hi2: Int) {
        let d = Float(dy[dr &+ ow]), i = xr &+ ow &* sw
        if ow >= lo0 && ow < hi0 { a0 += d * Float(x[i]) }
        if ow >= lo1 && ow < hi1 { a1 += d * Float(x[i &+ 1]) }
        if ow >= lo2 && ow < hi2 { a2 += d * Float(x[i &+ 2]) }
    }
}
