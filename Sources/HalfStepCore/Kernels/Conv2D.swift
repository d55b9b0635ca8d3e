/// 2-D convolution, as ONNX `Conv` and PyTorch `nn.Conv2d` define it (dilation 1), NCHW.
///
/// Shapes: N batch, C in, M out, G groups; x [N, C, H, W] · W [M, C/G, KH, KW] · b [M] → y [N, M, OH, OW].
/// Every output sums its products in order (input channel, kernel row, kernel column) in fp32 and
/// rounds to fp16 once; the 1×1 fast path keeps that order, so both paths give the same bits.
public enum Conv2D {
    /// `y = W ⋆ x + b` for the first `rows` samples.
    @inlinable
    public static func forward(y: TensorView<Float16>, x: TensorView<Float16>, weight: ParameterView,
                               bias: ParameterView?, rows: Int, window g: Window2D) {
        #if arch(x86_64) || arch(arm64)
        Conv2DVectorized.forward(y: y, x: x, weight: weight, bias: bias, rows: rows, window: g)
        #else
        portableForward(y: y, x: x, weight: weight, bias: bias, rows: rows, window: g)
        #endif
    }

    /// `forward` in plain scalar code, the loops the device runs; any other implementation must
    /// give its results bit for bit.
    @inlinable
    public static func portableForward(y: TensorView<Float16>, x: TensorView<Float16>, weight: ParameterView,
                                       bias: ParameterView?, rows: Int, window g: Window2D) {
        switch weight {
        case .half(let w): forward(y: y, x: x, w: w, bias: bias, rows: rows, g)
        case .master(let w): forward(y: y, x: x, w: w, bias: bias, rows: rows, g)
        }
    }

    @inlinable
    static func forward<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                           bias: ParameterView?, rows: Int, _ g: Window2D) {
        if g.isPointwise { return pointwiseForward(y: y, x: x, w: w, bias: bias, rows: rows, g) }
        if isDepthwise3x3Stride1(g) { return depthwise3x3Stride1Forward(y: y, x: x, w: w, bias: bias, rows: rows, g) }
        if isDepthwise3x3(g) { return depthwise3x3Forward(y: y, x: x, w: w, bias: bias, rows: rows, g) }
        // Every output sums its taps in one order (channel, kernel row, kernel column, padding taps
        // skipped): the one-output loop's, which Conv2DTests pins bit for bit. The loops below only
        // block it: 4 outputs of one group share each loaded input (1 where groups are narrower, as
        // in depthwise), padding is skipped by clipping the kernel's row and column ranges once
        // per pixel instead of testing every tap, and on interior pixels 4 pixels share each
        // loaded weight. 3×3 windows of column stride 1 or 2 run their 4-output blocks' columns in
        // `plane3x3` first (Conv2D3x3.swift); this loop then skips those columns.
        let mg = g.outputs / g.group, cg = g.channelsPerGroup
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let kk = g.kernelHeight * g.kernelWidth, wpo = g.weightsPerOutput
        let columns = interiorRange(out: g.outWidth, stride: g.strideWidth, pad: g.padLeft, kernel: g.kernelWidth, size: g.width)
        let strip = Strip3x3(g)
        // When the strip is every column, a 4-output block is done by plane3x3 alone.
        let stripIsRow = strip.first == 0 && 4 * strip.blocks == g.outWidth
        var n = 0
        while n < rows {
            var m = 0
            while m < g.outputs {
                let block = mg - m % mg >= 4 ? 4 : 1
                let xGroup = (n * g.channels + (m / mg) * cg) * plane
                let b0: Float = bias.map { $0.computeValue(m) } ?? 0
                let b1: Float = block == 4 ? (bias.map { $0.computeValue(m + 1) } ?? 0) : 0
                let b2: Float = block == 4 ? (bias.map { $0.computeValue(m + 2) } ?? 0) : 0
                let b3: Float = block == 4 ? (bias.map { $0.computeValue(m + 3) } ?? 0) : 0
                let y0 = (n * g.outputs + m) * outPlane
                if block == 4 && strip.blocks > 0 {
                    if g.strideWidth == 1 {
                        plane3x3(y: y, x: x, w: w, b: SIMD4(b0, b1, b2, b3), xAt: xGroup, wAt: m &* wpo, yAt: y0,
                                 cg: cg, wpo: wpo, strip, g)
                    } else {
                        plane3x3Stride2(y: y, x: x, w: w, b: SIMD4(b0, b1, b2, b3), xAt: xGroup, wAt: m &* wpo, yAt: y0,
                                        cg: cg, wpo: wpo, strip, g)
                    }
                    if stripIsRow {
                        m += block
                        continue
                    }
                }
                var oh = 0
                while oh < g.outHeight {
                    let ih0 = oh * g.strideHeight - g.padTop
                    let khLo = max(0, -ih0), khHi = min(g.kernelHeight, g.height - ih0)
                    let rowInside = khLo == 0 && khHi == g.kernelHeight
                    var ow = 0
                    while ow < g.outWidth {
                        if block == 4 && ow == strip.first && strip.blocks > 0 {
                            ow &+= 4 &* strip.blocks   // done by plane3x3 above
                            continue
                        }
                        if rowInside && ow >= columns.lowerBound && ow + 4 <= columns.upperBound {
                            if block == 4 {
                                interiorBlock4x4(y: y, x: x, w: w, bias: bias, n: n, m: m, oh: oh, ow: ow, g)
                            } else {
                                interiorBlock1x4(y: y, x: x, w: w, bias: bias, n: n, m: m, oh: oh, ow: ow, g)
                            }
                            ow += 4
                            continue
                        }
                        let iw0 = ow * g.strideWidth - g.padLeft
                        let kwLo = max(0, -iw0), kwHi = min(g.kernelWidth, g.width - iw0)
                        // Offsets of tap (kh, kw) = (0, 0) of channel 0; clipped taps are never read.
                        // Wrapping index arithmetic: checked arithmetic put a compare and branch on
                        // every load.
                        let xOrigin = xGroup &+ ih0 &* g.width &+ iw0, wOrigin = m &* wpo
                        let at = y0 &+ oh &* g.outWidth &+ ow
                        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                        var c = 0
                        while c < cg {
                            var kh = khLo
                            while kh < khHi {
                                let xr = xOrigin &+ c &* plane &+ kh &* g.width
                                let wr = wOrigin &+ c &* kk &+ kh &* g.kernelWidth
                                var kw = kwLo
                                if block == 4 {
                                    while kw < kwHi {
                                        let xv = Float(x[xr &+ kw])
                                        a0 += xv * w[wr &+ kw].computeValue
                                        a1 += xv * w[wr &+ wpo &+ kw].computeValue
                                        a2 += xv * w[wr &+ 2 &* wpo &+ kw].computeValue
                                        a3 += xv * w[wr &+ 3 &* wpo &+ kw].computeValue
                                        kw &+= 1
                                    }
                                } else {
                                    while kw < kwHi {
                                        a0 += Float(x[xr &+ kw]) * w[wr &+ kw].computeValue
                                        kw &+= 1
                                    }
                                }
                                kh &+= 1
                            }
                            c &+= 1
                        }
                        y[at] = Float16(a0 + b0)
                        if block == 4 {
                            y[at + outPlane] = Float16(a1 + b1)
                            y[at + 2 * outPlane] = Float16(a2 + b2)
                            y[at + 3 * outPlane] = Float16(a3 + b3)
                        }
                        ow += 1
                    }
                    oh += 1
                }
                m += block
            }
            n += 1
        }
    }

    /// Output positions `lo ..< hi` along one axis whose whole kernel lies inside the input (no
    /// tap in the padding).
    @inlinable
    static func interiorRange(out: Int, stride: Int, pad: Int, kernel: Int, size: Int) -> Range<Int> {
        // First o with o·stride − pad ≥ 0, and first o with o·stride − pad + kernel > size.
        let lo = min(out, (pad + stride - 1) / stride)
        let limit = size - kernel + pad
        let hi = limit < 0 ? lo : max(lo, min(out, limit / stride + 1))
        return lo ..< hi
    }

    /// Outputs `m ..< m+4` (one group) at pixels `ow ..< ow+4` of row `oh`, every tap inside the input.
    @inlinable
    static func interiorBlock4x4<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                                    bias: ParameterView?, n: Int, m: Int, oh: Int, ow: Int, _ g: Window2D) {
        let cg = g.channelsPerGroup, mg = g.outputs / g.group, plane = g.height &* g.width
        let firstChannel = (m / mg) &* cg, sw = g.strideWidth, kw = g.kernelWidth, kh = g.kernelHeight, width = g.width
        let w0 = m &* g.weightsPerOutput, w1 = w0 &+ g.weightsPerOutput, w2 = w1 &+ g.weightsPerOutput, w3 = w2 &+ g.weightsPerOutput
        let ih0 = oh &* g.strideHeight &- g.padTop, iw0 = ow &* sw &- g.padLeft
        var a00: Float = 0, a01: Float = 0, a02: Float = 0, a03: Float = 0
        var a10: Float = 0, a11: Float = 0, a12: Float = 0, a13: Float = 0
        var a20: Float = 0, a21: Float = 0, a22: Float = 0, a23: Float = 0
        var a30: Float = 0, a31: Float = 0, a32: Float = 0, a33: Float = 0
        // Index arithmetic wraps: every index is a sum of in-range offsets, and checked
        // arithmetic put a compare and branch on every load.
        var wi = 0   // tap (c, r, k) of output m's weights, relative to w0
        var xc = (n &* g.channels &+ firstChannel) &* plane &+ ih0 &* width &+ iw0
        var c = 0
        while c < cg {
            var xr = xc
            var r = 0
            while r < kh {
                var k = 0
                while k < kw {
                    let i = xr &+ k
                    let x0 = Float(x[i]), x1 = Float(x[i &+ sw]), x2 = Float(x[i &+ 2 &* sw]), x3 = Float(x[i &+ 3 &* sw])
                    let v0 = w[w0 &+ wi].computeValue, v1 = w[w1 &+ wi].computeValue
                    let v2 = w[w2 &+ wi].computeValue, v3 = w[w3 &+ wi].computeValue
                    a00 += x0 * v0; a01 += x1 * v0; a02 += x2 * v0; a03 += x3 * v0
                    a10 += x0 * v1; a11 += x1 * v1; a12 += x2 * v1; a13 += x3 * v1
                    a20 += x0 * v2; a21 += x1 * v2; a22 += x2 * v2; a23 += x3 * v2
                    a30 += x0 * v3; a31 += x1 * v3; a32 += x2 * v3; a33 += x3 * v3
                    wi &+= 1
                    k &+= 1
                }
                xr &+= width
                r &+= 1
            }
            xc &+= plane
            c &+= 1
        }
        let outPlane = g.outHeight &* g.outWidth, at = (n &* g.outputs &+ m) &* outPlane &+ oh &* g.outWidth &+ ow
        storePixels(y, at: at, SIMD4(a00, a01, a02, a03), bias, m)
        storePixels(y, at: at &+ outPlane, SIMD4(a10, a11, a12, a13), bias, m &+ 1)
        storePixels(y, at: at &+ 2 &* outPlane, SIMD4(a20, a21, a22, a23), bias, m &+ 2)
        storePixels(y, at: at &+ 3 &* outPlane, SIMD4(a30, a31, a32, a33), bias, m &+ 3)
    }

    /// Output `m` at pixels `ow ..< ow+4` of row `oh`, every tap inside the input (depthwise and
    /// other narrow groups).
    @inlinable
    static func interiorBlock1x4<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                                    bias: ParameterView?, n: Int, m: Int, oh: Int, ow: Int, _ g: Window2D) {
        let cg = g.channelsPerGroup, mg = g.outputs / g.group, plane = g.height * g.width
        let firstChannel = (m / mg) * cg, sw = g.strideWidth, kk = g.kernelHeight * g.kernelWidth
        let w0 = m * g.weightsPerOutput
        let ih0 = oh * g.strideHeight - g.padTop, iw0 = ow * sw - g.padLeft
        var a0 = SIMD4<Float>(repeating: 0)
        var c = 0
        while c < cg {
            let xc = (n * g.channels + firstChannel + c) * plane + ih0 * g.width + iw0
            var kh = 0
            while kh < g.kernelHeight {
                let xr = xc + kh * g.width
                let wr = w0 + c * kk + kh * g.kernelWidth
                var kw = 0
                while kw < g.kernelWidth {
                    let i = xr + kw
                    a0 += SIMD4<Float>(Float(x[i]), Float(x[i + sw]), Float(x[i + 2 * sw]), Float(x[i + 3 * sw])) * w[wr + kw].computeValue
                    kw += 1
                }
                kh += 1
            }
            c += 1
        }
        storePixels(y, at: (n * g.outputs + m) * (g.outHeight * g.outWidth) + oh * g.outWidth + ow, a0, bias, m)
    }

    /// 1×1 convolution: per sample `y[m, p] = Σc W[m, c] x[c, p]`, blocked 4 outputs × 4 pixels
    /// (8 loads serve 16 sums); index arithmetic wraps, as in the other blocked loops (checked
    /// arithmetic put a compare and branch on every load).
    @inlinable
    static func pointwiseForward<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                                    bias: ParameterView?, rows: Int, _ g: Window2D) {
        let c = g.channels, mCount = g.outputs, p = g.height &* g.width
        var n = 0
        while n < rows {
            let xs = x.slice(n &* c &* p, c &* p), ys = y.slice(n &* mCount &* p, mCount &* p)
            var m = 0
            while m < mCount {
                let block = min(4, mCount &- m)
                let w0 = m &* c
                // The block's bias terms, read once per sample rather than per pixel block.
                var b = SIMD4<Float>(repeating: 0)
                if block == 4, let bias {
                    b = SIMD4(bias.computeValue(m), bias.computeValue(m &+ 1), bias.computeValue(m &+ 2), bias.computeValue(m &+ 3))
                }
                var q = 0
                while q < p {
                    if block == 4 && q &+ 4 <= p {
                        pointwiseBlock4x4(ys, xs, w, at: m &* p &+ q, xAt: q, w0: w0, c: c, p: p, b)
                        q &+= 4
                    } else {
                        var r = 0
                        while r < block {
                            var acc: Float = 0
                            var xi = q, wi = (m &+ r) &* c
                            let end = wi &+ c
                            while wi < end {
                                acc += Float(xs[xi]) * w[wi].computeValue
                                xi &+= p
                                wi &+= 1
                            }
                            ys[(m &+ r) &* p &+ q] = Float16(acc + (bias.map { $0.computeValue(m &+ r) } ?? 0))
                            r &+= 1
                        }
                        q &+= 1
                    }
                }
                m &+= block
            }
            n &+= 1
        }
    }

    /// One 4 outputs × 4 pixels block of `pointwiseForward` (per sample: `y` [M, P], `x` [C, P]):
    /// outputs m ..< m+4 (weights from `w0`, C apart) at pixels `xAt ..< xAt+4`, stored from
    /// `at`. Channels go two at a time, each output's pair of weights read together (one 32-bit
    /// load for fp16 storage) and one loop trip per pair; channel i before i + 1 in every sum.
    @inlinable @inline(__always)
    static func pointwiseBlock4x4<W: HalfComputable>(_ ys: TensorView<Float16>, _ xs: TensorView<Float16>, _ w: TensorView<W>,
                                                     at: Int, xAt: Int, w0: Int, c: Int, p: Int, _ b: SIMD4<Float>) {
        let r0 = w.slice(w0, c), r1 = w.slice(w0 &+ c, c), r2 = w.slice(w0 &+ 2 &* c, c), r3 = w.slice(w0 &+ 3 &* c, c)
        var a00: Float = 0, a01: Float = 0, a02: Float = 0, a03: Float = 0
        var a10: Float = 0, a11: Float = 0, a12: Float = 0, a13: Float = 0
        var a20: Float = 0, a21: Float = 0, a22: Float = 0, a23: Float = 0
        var a30: Float = 0, a31: Float = 0, a32: Float = 0, a33: Float = 0
        var xi = xAt
        var i = 0
        while i &+ 2 <= c {
            let (u0, t0) = r0.computePair(i), (u1, t1) = r1.computePair(i)
            let (u2, t2) = r2.computePair(i), (u3, t3) = r3.computePair(i)
            var x0 = Float(xs[xi]), x1 = Float(xs[xi &+ 1]), x2 = Float(xs[xi &+ 2]), x3 = Float(xs[xi &+ 3])
            a00 += x0 * u0; a01 += x1 * u0; a02 += x2 * u0; a03 += x3 * u0
            a10 += x0 * u1; a11 += x1 * u1; a12 += x2 * u1; a13 += x3 * u1
            a20 += x0 * u2; a21 += x1 * u2; a22 += x2 * u2; a23 += x3 * u2
            a30 += x0 * u3; a31 += x1 * u3; a32 += x2 * u3; a33 += x3 * u3
            xi &+= p
            x0 = Float(xs[xi]); x1 = Float(xs[xi &+ 1]); x2 = Float(xs[xi &+ 2]); x3 = Float(xs[xi &+ 3])
            a00 += x0 * t0; a01 += x1 * t0; a02 += x2 * t0; a03 += x3 * t0
            a10 += x0 * t1; a11 += x1 * t1; a12 += x2 * t1; a13 += x3 * t1
            a20 += x0 * t2; a21 += x1 * t2; a22 += x2 * t2; a23 += x3 * t2
            a30 += x0 * t3; a31 += x1 * t3; a32 += x2 * t3; a33 += x3 * t3
            xi &+= p
            i &+= 2
        }
        if i < c {
            let x0 = Float(xs[xi]), x1 = Float(xs[xi &+ 1]), x2 = Float(xs[xi &+ 2]), x3 = Float(xs[xi &+ 3])
            let v0 = r0[i].computeValue, v1 = r1[i].computeValue, v2 = r2[i].computeValue, v3 = r3[i].computeValue
            a00 += x0 * v0; a01 += x1 * v0; a02 += x2 * v0; a03 += x3 * v0
            a10 += x0 * v1; a11 += x1 * v1; a12 += x2 * v1; a13 += x3 * v1
            a20 += x0 * v2; a21 += x1 * v2; a22 += x2 * v2; a23 += x3 * v2
            a30 += x0 * v3; a31 += x1 * v3; a32 += x2 * v3; a33 += x3 * v3
        }
        store4(ys, at, a00, a01, a02, a03, b[0])
        let at1 = at &+ p
        store4(ys, at1, a10, a11, a12, a13, b[1])
        let at2 = at1 &+ p
        store4(ys, at2, a20, a21, a22, a23, b[2])
        store4(ys, at2 &+ p, a30, a31, a32, a33, b[3])
    }

    @inlinable @inline(__always)
    static func storePixels(_ y: TensorView<Float16>, at i: Int, _ acc: SIMD4<Float>, _ bias: ParameterView?, _ m: Int) {
        let b: Float = bias.map { $0.computeValue(m) } ?? 0
        y[i] = Float16(acc[0] + b)
        y[i + 1] = Float16(acc[1] + b)
        y[i + 2] = Float16(acc[2] + b)
        y[i + 3] = Float16(acc[3] + b)
    }

    /// Gradients of `y = W ⋆ x + b`, written (not accumulated): `dx` over every input, `dW` for the
    /// first `trainedOutputs` output channels, `db` for every output channel. Nil outputs are skipped.
    @inlinable
    public static func backward(dx: TensorView<Float16>?, dW: TensorView<Float16>?, db: TensorView<Float16>?,
                                dy: TensorView<Float16>, x: TensorView<Float16>, weight: ParameterView,
                                rows: Int, window g: Window2D) {
        #if arch(x86_64) || arch(arm64)
        Conv2DVectorized.backward(dx: dx, dW: dW, db: db, dy: dy, x: x, weight: weight, rows: rows, window: g)
        #else
        portableBackward(dx: dx, dW: dW, db: db, dy: dy, x: x, weight: weight, rows: rows, window: g)
        #endif
    }

    /// `backward` in plain scalar code, the loops the device runs; any other implementation must
    /// give its results bit for bit.
    @inlinable
    public static func portableBackward(dx: TensorView<Float16>?, dW: TensorView<Float16>?, db: TensorView<Float16>?,
                                        dy: TensorView<Float16>, x: TensorView<Float16>, weight: ParameterView,
                                        rows: Int, window g: Window2D) {
        if let dx {
            switch weight {
            case .half(let w): inputGradient(dx: dx, dy: dy, w: w, rows: rows, g)
            case .master(let w): inputGradient(dx: dx, dy: dy, w: w, rows: rows, g)
            }
        }
        if let dW { weightGradient(dW: dW, dy: dy, x: x, rows: rows, g) }
        if let db {
            let outPlane = g.outHeight * g.outWidth
            var m = 0
            while m < g.outputs {
                var acc: Float = 0
                var n = 0
                while n < rows {
                    addInOrder(&acc, dy.slice((n &* g.outputs &+ m) &* outPlane, outPlane))
                    n &+= 1
                }
                db[m] = Float16(acc)
                m &+= 1
            }
        }
    }

    /// Adds `d`'s elements to `acc` one at a time, in index order, 4 a trip as two 32-bit loads
    /// (one dependent add each, as the one-element loop; the trip's loads and loop test are
    /// shared).
    @inlinable @inline(__always)
    static func addInOrder(_ acc: inout Float, _ d: TensorView<Float16>) {
        let count = d.count
        var q = 0
        while q &+ 4 <= count {
            let (a, b) = d.widenedPair(q), (c, e) = d.widenedPair(q &+ 2)
            acc += a
            acc += b
            acc += c
            acc += e
            q &+= 4
        }
        while q < count {
            acc += Float(d[q])
            q &+= 1
        }
    }

    /// `dx[c, ih, iw] = Σ (m in c's group, kh, kw) dy[m, oh, ow] · W[m, c, kh, kw]` over the windows
    /// that read (ih, iw): a gather, so every element is written once and sums in a fixed order.
    @inlinable
    static func inputGradient<W: HalfComputable>(dx: TensorView<Float16>, dy: TensorView<Float16>, w: TensorView<W>,
                                                 rows: Int, _ g: Window2D) {
        let cg = g.channelsPerGroup, mg = g.outputs / g.group
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        if g.isPointwise { return pointwiseInputGradient(dx: dx, dy: dy, w: w, rows: rows, g) }
        if isDepthwise3x3Stride1(g) { return depthwise3x3Stride1InputGradient(dx: dx, dy: dy, w: w, rows: rows, g) }
        if isDepthwise3x3(g) { return depthwise3x3InputGradient(dx: dx, dy: dy, w: w, rows: rows, g) }
        // Each dx element sums over (output channel, kernel row, kernel column) in that order, as
        // the one-output loop does; the taps that reach an output position are found by clipping
        // and striding the kernel ranges once per element, and 4 input channels of one group share
        // each loaded dy.
        let kk = g.kernelHeight * g.kernelWidth, wpo = g.weightsPerOutput
        let sh = g.strideHeight, sw = g.strideWidth
        var n = 0
        while n < rows {
            var c = 0
            while c < g.channels {
                let group = c / cg, local = c - group * cg
                let block = cg - local >= 4 ? 4 : 1
                let dGroup = (n * g.outputs + group * mg) * outPlane
                let xOut = (n * g.channels + c) * plane
                var ih = 0
                while ih < g.height {
                    let th0 = ih + g.padTop
                    let khMin = max(0, th0 - (g.outHeight - 1) * sh), khMax = min(g.kernelHeight - 1, th0)
                    let khFirst = khMin + (th0 - khMin) % sh
                    var iw = 0
                    while iw < g.width {
                        let tw0 = iw + g.padLeft
                        let kwMin = max(0, tw0 - (g.outWidth - 1) * sw), kwMax = min(g.kernelWidth - 1, tw0)
                        let kwFirst = kwMin + (tw0 - kwMin) % sw
                        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                        if khMin <= khMax && kwMin <= kwMax {
                            // Wrapping arithmetic and output positions stepped rather than divided:
                            // the verifier proved every index in range, and a checked add or a
                            // division per tap costs more than the multiply-accumulate it feeds.
                            let ohFirst = (th0 &- khFirst) / sh, owFirst = (tw0 &- kwFirst) / sw
                            let kk2 = kk &* 2, kk3 = kk &* 3, rowStep = sh &* g.kernelWidth
                            var ml = 0
                            while ml < mg {
                                let d = dGroup &+ ml &* outPlane
                                let wm = (group &* mg &+ ml) &* wpo &+ local &* kk
                                var kh = khFirst, dr = d &+ ohFirst &* g.outWidth, wr = wm &+ khFirst &* g.kernelWidth
                                while kh <= khMax {
                                    var kw = kwFirst, ow = owFirst
                                    if block == 4 {
                                        while kw <= kwMax {
                                            let dv = Float(dy[dr &+ ow])
                                            a0 += dv * w[wr &+ kw].computeValue
                                            a1 += dv * w[wr &+ kk &+ kw].computeValue
                                            a2 += dv * w[wr &+ kk2 &+ kw].computeValue
                                            a3 += dv * w[wr &+ kk3 &+ kw].computeValue
                                            kw &+= sw
                                            ow &-= 1
                                        }
                                    } else {
                                        while kw <= kwMax {
                                            a0 += Float(dy[dr &+ ow]) * w[wr &+ kw].computeValue
                                            kw &+= sw
                                            ow &-= 1
                                        }
                                    }
                                    kh &+= sh
                                    dr &-= g.outWidth
                                    wr &+= rowStep
                                }
                                ml &+= 1
                            }
                        }
                        let at = xOut + ih * g.width + iw
                        dx[at] = Float16(a0)
                        if block == 4 {
                            dx[at + plane] = Float16(a1)
                            dx[at + 2 * plane] = Float16(a2)
                            dx[at + 3 * plane] = Float16(a3)
                        }
                        iw += 1
                    }
                    ih += 1
                }
                c += block
            }
            n += 1
        }
    }

    /// `dW[m, c, kh, kw] = Σ (n, oh, ow) dy[n, m, oh, ow] · x[n, c, oh·s − pad + kh, ow·s − pad + kw]`
    /// for the first `trainedOutputs` output channels.
    @inlinable
    static func weightGradient(dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                               rows: Int, _ g: Window2D) {
        if g.isPointwise { return pointwiseWeightGradient(dW: dW, dy: dy, x: x, rows: rows, g) }
        if isDepthwise3x3Stride1(g) { return depthwise3x3Stride1WeightGradient(dW: dW, dy: dy, x: x, rows: rows, g) }
        if isDepthwise3x3(g) { return depthwise3x3WeightGradient(dW: dW, dy: dy, x: x, rows: rows, g) }
        let cg = g.channelsPerGroup, mg = g.outputs / g.group
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        // Each dW element sums over (sample, output row, output column) in that order, as the
        // one-output loop does; the output positions whose tap lies inside the input are clipped
        // once per kernel position, and 4 output channels of one group share each loaded input.
        let sh = g.strideHeight, sw = g.strideWidth, wpo = g.weightsPerOutput
        let stream = Stream3x3(g)
        var m = 0
        while m < g.trainedOutputs {
            let block = mg - m % mg >= 4 && m + 4 <= g.trainedOutputs ? 4 : 1
            let firstChannel = (m / mg) * cg
            var c = 0
            while c < cg {
                var kh = 0
                while kh < g.kernelHeight {
                    // Output rows with 0 ≤ oh·sh − padTop + kh < height.
                    let ohLo = g.padTop - kh > 0 ? (g.padTop - kh + sh - 1) / sh : 0
                    let ohTop = g.height - 1 + g.padTop - kh
                    let ohHi = ohTop < 0 ? 0 : min(g.outHeight, ohTop / sh + 1)
                    if block == 4 && stream.streams {
                        weightRows3x3(dW: dW, dy: dy, x: x, rows: rows, m: m, channel: firstChannel + c, kh: kh,
                                      ohLo: ohLo, ohHi: ohHi, at: m * wpo + (c * 3 + kh) * 3, wpo: wpo, stream, g)
                        kh += 1
                        continue
                    }
                    var kw = 0
                    while kw < g.kernelWidth {
                        let owLo = g.padLeft - kw > 0 ? (g.padLeft - kw + sw - 1) / sw : 0
                        let owTop = g.width - 1 + g.padLeft - kw
                        let owHi = owTop < 0 ? 0 : min(g.outWidth, owTop / sw + 1)
                        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                        var n = 0
                        while n < rows {
                            let d0 = (n &* g.outputs &+ m) &* outPlane
                            let xc = (n &* g.channels &+ firstChannel &+ c) &* plane
                            var oh = ohLo
                            while oh < ohHi {
                                // Wrapping index arithmetic: checked arithmetic put a compare and
                                // branch on every load.
                                let dr = d0 &+ oh &* g.outWidth
                                var di = dr &+ owLo
                                let end = dr &+ owHi
                                var xi = xc &+ (oh &* sh &- g.padTop &+ kh) &* g.width &- g.padLeft &+ kw &+ owLo &* sw
                                if block == 4 {
                                    while di < end {
                                        let xv = Float(x[xi])
                                        a0 += Float(dy[di]) * xv
                                        a1 += Float(dy[di &+ outPlane]) * xv
                                        a2 += Float(dy[di &+ 2 &* outPlane]) * xv
                                        a3 += Float(dy[di &+ 3 &* outPlane]) * xv
                                        di &+= 1
                                        xi &+= sw
                                    }
                                } else {
                                    while di < end {
                                        a0 += Float(dy[di]) * Float(x[xi])
                                        di &+= 1
                                        xi &+= sw
                                    }
                                }
                                oh &+= 1
                            }
                            n &+= 1
                        }
                        let at = m * wpo + (c * g.kernelHeight + kh) * g.kernelWidth + kw
                        dW[at] = Float16(a0)
                        if block == 4 {
                            dW[at + wpo] = Float16(a1)
                            dW[at + 2 * wpo] = Float16(a2)
                            dW[at + 3 * wpo] = Float16(a3)
                        }
                        kw += 1
                    }
                    kh += 1
                }
                c += 1
            }
            m += block
        }
    }

    /// 1×1 input gradient: per sample `dx[c, p] = Σm dy[m, p] · W[m, c]`, summed over m in order.
    /// 4 channels × 4 pixels share each loaded weight and dy value (8 loads serve 16 sums);
    /// channels and pixels left over run in narrower blocks.
    @inlinable
    static func pointwiseInputGradient<W: HalfComputable>(dx: TensorView<Float16>, dy: TensorView<Float16>, w: TensorView<W>,
                                                          rows: Int, _ g: Window2D) {
        let cCount = g.channels, mCount = g.outputs, plane = g.height &* g.width
        var n = 0
        while n < rows {
            let d = dy.slice(n &* mCount &* plane, mCount &* plane), out = dx.slice(n &* cCount &* plane, cCount &* plane)
            var c = 0
            while c &+ 4 <= cCount {
                var q = 0
                while q &+ 4 <= plane {
                    var a00: Float = 0, a01: Float = 0, a02: Float = 0, a03: Float = 0
                    var a10: Float = 0, a11: Float = 0, a12: Float = 0, a13: Float = 0
                    var a20: Float = 0, a21: Float = 0, a22: Float = 0, a23: Float = 0
                    var a30: Float = 0, a31: Float = 0, a32: Float = 0, a33: Float = 0
                    var wi = c, di = q
                    // A layer has an output: at least one trip (as repeat-while the sums are
                    // zeroed once, not again in a loop guard).
                    var m = 0
                    repeat {
                        let w0 = w[wi].computeValue, w1 = w[wi &+ 1].computeValue
                        let w2 = w[wi &+ 2].computeValue, w3 = w[wi &+ 3].computeValue
                        let d0 = Float(d[di]), d1 = Float(d[di &+ 1]), d2 = Float(d[di &+ 2]), d3 = Float(d[di &+ 3])
                        a00 += d0 * w0; a01 += d1 * w0; a02 += d2 * w0; a03 += d3 * w0
                        a10 += d0 * w1; a11 += d1 * w1; a12 += d2 * w1; a13 += d3 * w1
                        a20 += d0 * w2; a21 += d1 * w2; a22 += d2 * w2; a23 += d3 * w2
                        a30 += d0 * w3; a31 += d1 * w3; a32 += d2 * w3; a33 += d3 * w3
                        wi &+= cCount
                        di &+= plane
                        m &+= 1
                    } while m < mCount
                    let o = c &* plane &+ q
                    out[o] = Float16(a00); out[o &+ 1] = Float16(a01); out[o &+ 2] = Float16(a02); out[o &+ 3] = Float16(a03)
                    let o1 = o &+ plane
                    out[o1] = Float16(a10); out[o1 &+ 1] = Float16(a11); out[o1 &+ 2] = Float16(a12); out[o1 &+ 3] = Float16(a13)
                    let o2 = o1 &+ plane
                    out[o2] = Float16(a20); out[o2 &+ 1] = Float16(a21); out[o2 &+ 2] = Float16(a22); out[o2 &+ 3] = Float16(a23)
                    let o3 = o2 &+ plane
                    out[o3] = Float16(a30); out[o3 &+ 1] = Float16(a31); out[o3 &+ 2] = Float16(a32); out[o3 &+ 3] = Float16(a33)
                    q &+= 4
                }
                while q < plane {
                    var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                    var wi = c, di = q
                    var m = 0
                    while m < mCount {
                        let dv = Float(d[di])
                        a0 += dv * w[wi].computeValue
                        a1 += dv * w[wi &+ 1].computeValue
                        a2 += dv * w[wi &+ 2].computeValue
                        a3 += dv * w[wi &+ 3].computeValue
                        wi &+= cCount
                        di &+= plane
                        m &+= 1
                    }
                    let o = c &* plane &+ q
                    out[o] = Float16(a0); out[o &+ plane] = Float16(a1)
                    out[o &+ 2 &* plane] = Float16(a2); out[o &+ 3 &* plane] = Float16(a3)
                    q &+= 1
                }
                c &+= 4
            }
            while c < cCount {
                var q = 0
                while q &+ 4 <= plane {
                    var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                    var wi = c, di = q
                    var m = 0
                    while m < mCount {
                        let wv = w[wi].computeValue
                        a0 += Float(d[di]) * wv
                        a1 += Float(d[di &+ 1]) * wv
                        a2 += Float(d[di &+ 2]) * wv
                        a3 += Float(d[di &+ 3]) * wv
                        wi &+= cCount
                        di &+= plane
                        m &+= 1
                    }
                    let o = c &* plane &+ q
                    out[o] = Float16(a0); out[o &+ 1] = Float16(a1); out[o &+ 2] = Float16(a2); out[o &+ 3] = Float16(a3)
                    q &+= 4
                }
                while q < plane {
                    var acc: Float = 0
                    var wi = c, di = q
                    var m = 0
                    while m < mCount {
                        acc += Float(d[di]) * w[wi].computeValue
                        wi &+= cCount
                        di &+= plane
                        m &+= 1
                    }
                    out[c &* plane &+ q] = Float16(acc)
                    q &+= 1
                }
                c &+= 1
            }
            n &+= 1
        }
    }

    /// 1×1 weight gradient: `dW[m, c] = Σ (n, p) dy[n, m, p] · x[n, c, p]` for the first
    /// `trainedOutputs` outputs, summed over samples, then pixels. 4 outputs × 4 channels share
    /// each loaded dy and x value (8 loads serve 16 sums); a partial block runs 4 outputs × 1 channel
    /// or 1 output × up to 4 channels.
    @inlinable
    static func pointwiseWeightGradient(dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                                        rows: Int, _ g: Window2D) {
        let cCount = g.channels, mCount = g.outputs, plane = g.height &* g.width
        let xSample = cCount &* plane, dSample = mCount &* plane
        var m = 0
        while m < g.trainedOutputs {
            let mBlock = min(4, g.trainedOutputs &- m)
            var c = 0
            while c < cCount {
                let cBlock = min(4, cCount &- c)
                if mBlock == 4 && cBlock == 4 {
                    var a00: Float = 0, a01: Float = 0, a02: Float = 0, a03: Float = 0
                    var a10: Float = 0, a11: Float = 0, a12: Float = 0, a13: Float = 0
                    var a20: Float = 0, a21: Float = 0, a22: Float = 0, a23: Float = 0
                    var a30: Float = 0, a31: Float = 0, a32: Float = 0, a33: Float = 0
                    var n = 0
                    while n < rows {
                        var di = n &* dSample &+ m &* plane, xi = n &* xSample &+ c &* plane
                        let end = di &+ plane
                        while di < end {
                            let d0 = Float(dy[di]), d1 = Float(dy[di &+ plane])
                            let d2 = Float(dy[di &+ 2 &* plane]), d3 = Float(dy[di &+ 3 &* plane])
                            let x0 = Float(x[xi]), x1 = Float(x[xi &+ plane])
                            let x2 = Float(x[xi &+ 2 &* plane]), x3 = Float(x[xi &+ 3 &* plane])
                            a00 += d0 * x0; a01 += d0 * x1; a02 += d0 * x2; a03 += d0 * x3
                            a10 += d1 * x0; a11 += d1 * x1; a12 += d1 * x2; a13 += d1 * x3
                            a20 += d2 * x0; a21 += d2 * x1; a22 += d2 * x2; a23 += d2 * x3
                            a30 += d3 * x0; a31 += d3 * x1; a32 += d3 * x2; a33 += d3 * x3
                            di &+= 1
                            xi &+= 1
                        }
                        n &+= 1
                    }
                    let o = m &* cCount &+ c
                    dW[o] = Float16(a00); dW[o &+ 1] = Float16(a01); dW[o &+ 2] = Float16(a02); dW[o &+ 3] = Float16(a03)
                    let o1 = o &+ cCount
                    dW[o1] = Float16(a10); dW[o1 &+ 1] = Float16(a11); dW[o1 &+ 2] = Float16(a12); dW[o1 &+ 3] = Float16(a13)
                    let o2 = o1 &+ cCount
                    dW[o2] = Float16(a20); dW[o2 &+ 1] = Float16(a21); dW[o2 &+ 2] = Float16(a22); dW[o2 &+ 3] = Float16(a23)
                    let o3 = o2 &+ cCount
                    dW[o3] = Float16(a30); dW[o3 &+ 1] = Float16(a31); dW[o3 &+ 2] = Float16(a32); dW[o3 &+ 3] = Float16(a33)
                } else if mBlock == 4 {
                    // 4 outputs × one channel at a time.
                    var k = 0
                    while k < cBlock {
                        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                        var n = 0
                        while n < rows {
                            var di = n &* dSample &+ m &* plane, xi = n &* xSample &+ (c &+ k) &* plane
                            let end = di &+ plane
                            while di < end {
                                let xv = Float(x[xi])
                                a0 += Float(dy[di]) * xv
                                a1 += Float(dy[di &+ plane]) * xv
                                a2 += Float(dy[di &+ 2 &* plane]) * xv
                                a3 += Float(dy[di &+ 3 &* plane]) * xv
                                di &+= 1
                                xi &+= 1
                            }
                            n &+= 1
                        }
                        let o = m &* cCount &+ c &+ k
                        dW[o] = Float16(a0); dW[o &+ cCount] = Float16(a1)
                        dW[o &+ 2 &* cCount] = Float16(a2); dW[o &+ 3 &* cCount] = Float16(a3)
                        k &+= 1
                    }
                } else {
                    // Fewer than 4 outputs left: one output × up to 4 channels.
                    var j = 0
                    while j < mBlock {
                        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                        var n = 0
                        while n < rows {
                            var di = n &* dSample &+ (m &+ j) &* plane, xi = n &* xSample &+ c &* plane
                            let end = di &+ plane
                            while di < end {
                                let dv = Float(dy[di])
                                a0 += dv * Float(x[xi])
                                if cBlock > 1 { a1 += dv * Float(x[xi &+ plane]) }
                                if cBlock > 2 { a2 += dv * Float(x[xi &+ 2 &* plane]) }
                                if cBlock > 3 { a3 += dv * Float(x[xi &+ 3 &* plane]) }
                                di &+= 1
                                xi &+= 1
                            }
                            n &+= 1
                        }
                        let o = (m &+ j) &* cCount &+ c
                        dW[o] = Float16(a0)
                        if cBlock > 1 { dW[o &+ 1] = Float16(a1) }
                        if cBlock > 2 { dW[o &+ 2] = Float16(a2) }
                        if cBlock > 3 { dW[o &+ 3] = Float16(a3) }
                        j &+= 1
                    }
                }
                c &+= cBlock
            }
            m &+= mBlock
        }
    }
}
