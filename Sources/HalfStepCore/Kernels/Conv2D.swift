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
        switch weight {
        case .half(let w): forward(y: y, x: x, w: w, bias: bias, rows: rows, g)
        case .master(let w): forward(y: y, x: x, w: w, bias: bias, rows: rows, g)
        }
    }

    @inlinable
    static func forward<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                           bias: ParameterView?, rows: Int, _ g: Window2D) {
        if g.isPointwise { return pointwiseForward(y: y, x: x, w: w, bias: bias, rows: rows, g) }
        let cg = g.channelsPerGroup, mg = g.outputs / g.group
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        var n = 0
        while n < rows {
            var m = 0
            while m < g.outputs {
                let firstChannel = (m / mg) * cg
                let b: Float = bias.map { $0.computeValue(m) } ?? 0
                let wm = w.slice(m * g.weightsPerOutput, g.weightsPerOutput)
                let yo = y.slice((n * g.outputs + m) * outPlane, outPlane)
                var oh = 0
                while oh < g.outHeight {
                    var ow = 0
                    while ow < g.outWidth {
                        var acc: Float = 0
                        var c = 0
                        while c < cg {
                            let xc = x.slice((n * g.channels + firstChannel + c) * plane, plane)
                            var kh = 0
                            while kh < g.kernelHeight {
                                let ih = oh * g.strideHeight - g.padTop + kh
                                if ih >= 0 && ih < g.height {
                                    var kw = 0
                                    while kw < g.kernelWidth {
                                        let iw = ow * g.strideWidth - g.padLeft + kw
                                        if iw >= 0 && iw < g.width {
                                            acc += Float(xc[ih * g.width + iw]) * wm[(c * g.kernelHeight + kh) * g.kernelWidth + kw].computeValue
                                        }
                                        kw += 1
                                    }
                                }
                                kh += 1
                            }
                            c += 1
                        }
                        yo[oh * g.outWidth + ow] = Float16(acc + b)
                        ow += 1
                    }
                    oh += 1
                }
                m += 1
            }
            n += 1
        }
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
        var n = 0
        while n < rows {
            var c = 0
            while c < g.channels {
                let group = c / cg, local = c - group * cg
                let out = dx.slice((n * g.channels + c) * plane, plane)
                var ih = 0
                while ih < g.height {
                    var iw = 0
                    while iw < g.width {
                        var acc: Float = 0
                        var ml = 0
                        while ml < mg {
                            let m = group * mg + ml
                            let d = dy.slice((n * g.outputs + m) * outPlane, outPlane)
                            var kh = 0
                            while kh < g.kernelHeight {
                                let th = ih + g.padTop - kh
                                if th >= 0 && th % g.strideHeight == 0 && th / g.strideHeight < g.outHeight {
                                    let oh = th / g.strideHeight
                                    var kw = 0
                                    while kw < g.kernelWidth {
                                        let tw = iw + g.padLeft - kw
                                        if tw >= 0 && tw % g.strideWidth == 0 && tw / g.strideWidth < g.outWidth {
                                            acc += Float(d[oh * g.outWidth + tw / g.strideWidth])
                                                * w[m * g.weightsPerOutput + (local * g.kernelHeight + kh) * g.kernelWidth + kw].computeValue
                                        }
                                        kw += 1
                                    }
                                }
                                kh += 1
                            }
                            ml += 1
                        }
                        out[ih * g.width + iw] = Float16(acc)
                        iw += 1
                    }
                    ih += 1
                }
                c += 1
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
        var m = 0
        while m < g.trainedOutputs {
            let firstChannel = (m / mg) * cg
            var c = 0
            while c < cg {
                var kh = 0
                while kh < g.kernelHeight {
                    var kw = 0
                    while kw < g.kernelWidth {
                        var acc: Float = 0
                        var n = 0
                        while n < rows {
                            let d = dy.slice((n * g.outputs + m) * outPlane, outPlane)
                            let xc = x.slice((n * g.channels + firstChannel + c) * plane, plane)
                            var oh = 0
                            while oh < g.outHeight {
                                let ih = oh * g.strideHeight - g.padTop + kh
                                if ih >= 0 && ih < g.height {
                                    var ow = 0
                                    while ow < g.outWidth {
                                        let iw = ow * g.strideWidth - g.padLeft + kw
                                        if iw >= 0 && iw < g.width {
                                            acc += Float(d[oh * g.outWidth + ow]) * Float(xc[ih * g.width + iw])
                                        }
                                        ow += 1
                                    }
                                }
                                oh += 1
                            }
                            n += 1
                        }
                        dW[m * g.weightsPerOutput + (c * g.kernelHeight + kh) * g.kernelWidth + kw] = Float16(acc)
                        kw += 1
                    }
                    kh += 1
                }
                c += 1
            }
            m += 1
        }
    }
}
