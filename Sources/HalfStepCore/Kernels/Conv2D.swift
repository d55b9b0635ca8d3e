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
        // Every output sums its taps in one order (channel, kernel row, kernel column, padding taps
        // skipped): the one-output loop's, which Conv2DTests pins bit for bit. The loops below only
        // block it: 4 outputs of one group share each loaded input (1 where groups are narrower, as
        // in depthwise), padding is skipped by clipping the kernel's row and column ranges once
        // per pixel instead of testing every tap, and on interior pixels 4 pixels share each
        // loaded weight.
        let mg = g.outputs / g.group, cg = g.channelsPerGroup
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let kk = g.kernelHeight * g.kernelWidth, wpo = g.weightsPerOutput
        let columns = interiorRange(out: g.outWidth, stride: g.strideWidth, pad: g.padLeft, kernel: g.kernelWidth, size: g.width)
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
                var oh = 0
                while oh < g.outHeight {
                    let ih0 = oh * g.strideHeight - g.padTop
                    let khLo = max(0, -ih0), khHi = min(g.kernelHeight, g.height - ih0)
                    let rowInside = khLo == 0 && khHi == g.kernelHeight
                    var ow = 0
                    while ow < g.outWidth {
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
                        let xOrigin = xGroup + ih0 * g.width + iw0, wOrigin = m * wpo
                        let at = y0 + oh * g.outWidth + ow
                        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                        var c = 0
                        while c < cg {
                            var kh = khLo
                            while kh < khHi {
                                let xr = xOrigin + c * plane + kh * g.width
                                let wr = wOrigin + c * kk + kh * g.kernelWidth
                                var kw = kwLo
                                if block == 4 {
                                    while kw < kwHi {
                                        let xv = Float(x[xr + kw])
                                        a0 += xv * w[wr + kw].computeValue
                                        a1 += xv * w[wr + wpo + kw].computeValue
                                        a2 += xv * w[wr + 2 * wpo + kw].computeValue
                                        a3 += xv * w[wr + 3 * wpo + kw].computeValue
                                        kw += 1
                                    }
                                } else {
                                    while kw < kwHi {
                                        a0 += Float(x[xr + kw]) * w[wr + kw].computeValue
                                        kw += 1
                                    }
                                }
                                kh += 1
                            }
                            c += 1
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
        let cg = g.channelsPerGroup, mg = g.outputs / g.group, plane = g.height * g.width
        let firstChannel = (m / mg) * cg, sw = g.strideWidth, kk = g.kernelHeight * g.kernelWidth
        let w0 = m * g.weightsPerOutput, w1 = w0 + g.weightsPerOutput, w2 = w1 + g.weightsPerOutput, w3 = w2 + g.weightsPerOutput
        let ih0 = oh * g.strideHeight - g.padTop, iw0 = ow * sw - g.padLeft
        var a0 = SIMD4<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
        var c = 0
        while c < cg {
            let xc = (n * g.channels + firstChannel + c) * plane + ih0 * g.width + iw0
            var kh = 0
            while kh < g.kernelHeight {
                let xr = xc + kh * g.width
                let wr = c * kk + kh * g.kernelWidth
                var kw = 0
                while kw < g.kernelWidth {
                    let i = xr + kw
                    let xv = SIMD4<Float>(Float(x[i]), Float(x[i + sw]), Float(x[i + 2 * sw]), Float(x[i + 3 * sw]))
                    a0 += xv * w[w0 + wr + kw].computeValue
                    a1 += xv * w[w1 + wr + kw].computeValue
                    a2 += xv * w[w2 + wr + kw].computeValue
                    a3 += xv * w[w3 + wr + kw].computeValue
                    kw += 1
                }
                kh += 1
            }
            c += 1
        }
        let outPlane = g.outHeight * g.outWidth, at = oh * g.outWidth + ow
        storePixels(y, at: (n * g.outputs + m) * outPlane + at, a0, bias, m)
        storePixels(y, at: (n * g.outputs + m + 1) * outPlane + at, a1, bias, m + 1)
        storePixels(y, at: (n * g.outputs + m + 2) * outPlane + at, a2, bias, m + 2)
        storePixels(y, at: (n * g.outputs + m + 3) * outPlane + at, a3, bias, m + 3)
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

    /// 1×1 convolution: per sample `y[m, p] = Σc W[m, c] x[c, p]`, blocked 4 outputs × 4 pixels.
    @inlinable
    static func pointwiseForward<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                                    bias: ParameterView?, rows: Int, _ g: Window2D) {
        let c = g.channels, mCount = g.outputs, p = g.height * g.width
        var n = 0
        while n < rows {
            let xs = x.slice(n * c * p, c * p), ys = y.slice(n * mCount * p, mCount * p)
            var m = 0
            while m < mCount {
                let block = min(4, mCount - m)
                var q = 0
                while q < p {
                    if block == 4 && q + 4 <= p {
                        var a0 = SIMD4<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                        var i = 0
                        while i < c {
                            let xv = SIMD4<Float>(Float(xs[i * p + q]), Float(xs[i * p + q + 1]), Float(xs[i * p + q + 2]), Float(xs[i * p + q + 3]))
                            a0 += w[m * c + i].computeValue * xv
                            a1 += w[(m + 1) * c + i].computeValue * xv
                            a2 += w[(m + 2) * c + i].computeValue * xv
                            a3 += w[(m + 3) * c + i].computeValue * xv
                            i += 1
                        }
                        storePixels(ys, at: m * p + q, a0, bias, m)
                        storePixels(ys, at: (m + 1) * p + q, a1, bias, m + 1)
                        storePixels(ys, at: (m + 2) * p + q, a2, bias, m + 2)
                        storePixels(ys, at: (m + 3) * p + q, a3, bias, m + 3)
                        q += 4
                    } else {
                        var r = 0
                        while r < block {
                            var acc: Float = 0
                            var i = 0
                            while i < c {
                                acc += Float(xs[i * p + q]) * w[(m + r) * c + i].computeValue
                                i += 1
                            }
                            ys[(m + r) * p + q] = Float16(acc + (bias.map { $0.computeValue(m + r) } ?? 0))
                            r += 1
                        }
                        q += 1
                    }
                }
                m += block
            }
            n += 1
        }
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
                    let d = dy.slice((n * g.outputs + m) * outPlane, outPlane)
                    var q = 0
                    while q < outPlane { acc += Float(d[q]); q += 1 }
                    n += 1
                }
                db[m] = Float16(acc)
                m += 1
            }
        }
    }

    /// `dx[c, ih, iw] = Σ (m in c's group, kh, kw) dy[m, oh, ow] · W[m, c, kh, kw]` over the windows
    /// that read (ih, iw): a gather, so every element is written once and sums in a fixed order.
    @inlinable
    static func inputGradient<W: HalfComputable>(dx: TensorView<Float16>, dy: TensorView<Float16>, w: TensorView<W>,
                                                 rows: Int, _ g: Window2D) {
        let cg = g.channelsPerGroup, mg = g.outputs / g.group
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        if g.isPointwise {
            var n = 0
            while n < rows {
                let d = dy.slice(n * g.outputs * plane, g.outputs * plane), out = dx.slice(n * g.channels * plane, g.channels * plane)
                var c = 0
                while c < g.channels {
                    var q = 0
                    while q + 4 <= plane {
                        var acc = SIMD4<Float>(repeating: 0)
                        var m = 0
                        while m < g.outputs {
                            let base = m * plane + q
                            acc += w[m * g.channels + c].computeValue * SIMD4<Float>(Float(d[base]), Float(d[base + 1]), Float(d[base + 2]), Float(d[base + 3]))
                            m += 1
                        }
                        out[c * plane + q] = Float16(acc[0]); out[c * plane + q + 1] = Float16(acc[1])
                        out[c * plane + q + 2] = Float16(acc[2]); out[c * plane + q + 3] = Float16(acc[3])
                        q += 4
                    }
                    while q < plane {
                        var acc: Float = 0
                        var m = 0
                        while m < g.outputs { acc += Float(d[m * plane + q]) * w[m * g.channels + c].computeValue; m += 1 }
                        out[c * plane + q] = Float16(acc)
                        q += 1
                    }
                    c += 1
                }
                n += 1
            }
            return
        }
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
                            var ml = 0
                            while ml < mg {
                                let d = dGroup + ml * outPlane
                                let wm = (group * mg + ml) * wpo + local * kk
                                var kh = khFirst
                                while kh <= khMax {
                                    let dr = d + ((th0 - kh) / sh) * g.outWidth
                                    let wr = wm + kh * g.kernelWidth
                                    var kw = kwFirst, ow = (tw0 - kwFirst) / sw
                                    if block == 4 {
                                        while kw <= kwMax {
                                            let dv = Float(dy[dr + ow])
                                            a0 += dv * w[wr + kw].computeValue
                                            a1 += dv * w[wr + kk + kw].computeValue
                                            a2 += dv * w[wr + 2 * kk + kw].computeValue
                                            a3 += dv * w[wr + 3 * kk + kw].computeValue
                                            kw += sw
                                            ow -= 1
                                        }
                                    } else {
                                        while kw <= kwMax {
                                            a0 += Float(dy[dr + ow]) * w[wr + kw].computeValue
                                            kw += sw
                                            ow -= 1
                                        }
                                    }
                                    kh += sh
                                }
                                ml += 1
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
        let cg = g.channelsPerGroup, mg = g.outputs / g.group
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        // Each dW element sums over (sample, output row, output column) in that order, as the
        // one-output loop does; the output positions whose tap lies inside the input are clipped
        // once per kernel position, and 4 output channels of one group share each loaded input.
        let sh = g.strideHeight, sw = g.strideWidth, wpo = g.weightsPerOutput
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
                    var kw = 0
                    while kw < g.kernelWidth {
                        let owLo = g.padLeft - kw > 0 ? (g.padLeft - kw + sw - 1) / sw : 0
                        let owTop = g.width - 1 + g.padLeft - kw
                        let owHi = owTop < 0 ? 0 : min(g.outWidth, owTop / sw + 1)
                        var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                        var n = 0
                        while n < rows {
                            let d0 = (n * g.outputs + m) * outPlane
                            let xc = (n * g.channels + firstChannel + c) * plane
                            var oh = ohLo
                            while oh < ohHi {
                                let dr = d0 + oh * g.outWidth
                                let xr = xc + (oh * sh - g.padTop + kh) * g.width - g.padLeft + kw
                                var ow = owLo
                                if block == 4 {
                                    while ow < owHi {
                                        let xv = Float(x[xr + ow * sw])
                                        a0 += Float(dy[dr + ow]) * xv
                                        a1 += Float(dy[dr + outPlane + ow]) * xv
                                        a2 += Float(dy[dr + 2 * outPlane + ow]) * xv
                                        a3 += Float(dy[dr + 3 * outPlane + ow]) * xv
                                        ow += 1
                                    }
                                } else {
                                    while ow < owHi {
                                        a0 += Float(dy[dr + ow]) * Float(x[xr + ow * sw])
                                        ow += 1
                                    }
                                }
                                oh += 1
                            }
                            n += 1
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
}
