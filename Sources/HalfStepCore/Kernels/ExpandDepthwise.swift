/// The expansion and depthwise convolutions of an inverted residual block (MobileNetV2), computed
/// one hidden channel at a time so the expanded tensor never exists: the forward pass of a frozen
/// block at the cost of one hidden plane of scratch instead of the whole hidden tensor.
///
/// Shapes: x [N, C, H, W] · We [Hd, C] · be [Hd] · Wd [Hd, 1, KH, KW] · bd [Hd] → y [N, Hd, OH, OW];
/// scratch [H·W]. `y = act₂(depthwise(act₁(We ⋆ x + be)) + bd)`, activations none, ReLU or ReLU6.
/// Each value is computed, rounded and activated exactly as the unfused ops do, so the result is
/// bit for bit theirs: a hidden value sums its input channels in order, an output its taps in
/// (kernel row, kernel column) order with padding taps skipped, both in fp32 from 0, and each
/// rounds to fp16 once after its bias. The loops below only block that order
/// (ExpandDepthwiseOrderTests pins them against the one-output loop).
public enum ExpandDepthwise {
    /// The activation after each convolution (packed into the op's parameter slot 6: see
    /// `ExpandDepthwiseForward`).
    public enum Activation: UInt32, Sendable {
        case none = 0
        case relu = 1
        case relu6 = 2

        /// The activation of an fp16 value (the unfused ops' definition, which the tests use).
        @inlinable
        func apply(_ v: Float16) -> Float16 {
            switch self {
            case .none: return v
            case .relu: return v > 0 ? v : 0
            case .relu6: return Float16(min(max(Float(v), 0), 6))
            }
        }
    }

    /// Runs the fused forward for the first `rows` samples. `window` describes the depthwise
    /// convolution (channels = outputs = group = Hd); `channels` is C.
    ///
    /// `y` is also working memory: the output planes of hidden channels not yet reached are
    /// unwritten, so while they last they hold 3 more hidden planes beside `scratch`, and 4
    /// hidden channels share each loaded input value. Everything in `y` is overwritten with the
    /// final outputs before the call returns; nothing past the first `rows` samples is touched.
    @inlinable
    public static func forward(y: TensorView<Float16>, x: TensorView<Float16>, expand: ParameterView, expandBias: ParameterView?,
                               depthwise: ParameterView, depthwiseBias: ParameterView?, scratch: TensorView<Float16>,
                               rows: Int, channels: Int, window g: Window2D, first: Activation, second: Activation) {
        guard case .half(let expand) = expand, case .half(let depthwise) = depthwise else {
            // fp32 master weights: accepted by the op but never planned (a fused block is frozen,
            // and frozen weights are fp16), so they take the one-output loop and the blocked
            // loops below are compiled for fp16 weights only (about 16 KB less code).
            return forwardOneByOne(y: y, x: x, expand: expand, expandBias: expandBias, depthwise: depthwise,
                                   depthwiseBias: depthwiseBias, scratch: scratch, rows: rows, channels: channels,
                                   window: g, first: first, second: second)
        }
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let hiddenCount = g.channels
        var n = 0
        while n < rows {
            let xs = x.slice(n * channels * plane, channels * plane)
            let ys = y.slice(n * hiddenCount * outPlane, hiddenCount * outPlane)
            var h = 0
            while h < hiddenCount {
                // Four (or three) hidden planes when the unwritten output planes after h hold the
                // ones beyond the scratch's (output planes no larger than input planes, so writing
                // output h + r never reaches the hidden plane r + 1 still waiting); one otherwise.
                // (No overflow: y and x, both in memory, are larger than these sums.)
                let room = outPlane <= plane ? (hiddenCount * outPlane - (h + 1) * outPlane) / plane : 0
                let block = min(hiddenCount - h, room + 1) >= 4 ? 4 : (min(hiddenCount - h, room + 1) == 3 ? 3 : 1)
                let p0 = scratch.slice(0, plane)
                if block > 1 {
                    let p1 = ys.slice((h + 1) * outPlane, plane)
                    let p2 = ys.slice((h + 1) * outPlane + plane, plane)
                    // Three planes run the four-plane kernel with the last row computed twice
                    // into the same plane (the same values, written twice).
                    let p3 = block == 4 ? ys.slice((h + 1) * outPlane + 2 * plane, plane) : p2
                    expandPlanes(p0, p1, p2, p3, x: xs, w: expand, bias: expandBias, h: h, count: block,
                                 channels: channels, plane: plane, first)
                } else {
                    expandPlanes(p0, p0, p0, p0, x: xs, w: expand, bias: expandBias, h: h, count: 1,
                                 channels: channels, plane: plane, first)
                }
                depthwisePlane(y: ys.slice(h * outPlane, outPlane), hidden: p0, w: depthwise, bias: depthwiseBias,
                               h: h, g, second)
                var r = 1
                while r < block {
                    // Hidden plane r lives where outputs h + 1 ... start: filter it into the
                    // scratch, then move the result to its place.
                    let hidden = ys.slice((h + 1) * outPlane + (r - 1) * plane, plane)
                    let out = scratch.slice(0, outPlane)
                    depthwisePlane(y: out, hidden: hidden, w: depthwise, bias: depthwiseBias, h: h + r, g, second)
                    ys.slice((h + r) * outPlane, outPlane).copy(from: out)
                    r += 1
                }
                h += block
            }
            n += 1
        }
    }

    /// The one-output loop (the definition the blocked loops keep to): every hidden value and
    /// every output computed on its own, weights read through `ParameterView`.
    @inlinable
    static func forwardOneByOne(y: TensorView<Float16>, x: TensorView<Float16>, expand: ParameterView, expandBias: ParameterView?,
                                depthwise: ParameterView, depthwiseBias: ParameterView?, scratch: TensorView<Float16>,
                                rows: Int, channels: Int, window g: Window2D, first: Activation, second: Activation) {
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let taps = g.kernelHeight * g.kernelWidth
        var n = 0
        while n < rows {
            let xs = x.slice(n * channels * plane, channels * plane)
            var h = 0
            while h < g.channels {
                let b: Float = expandBias.map { $0.computeValue(h) } ?? 0
                var q = 0
                while q < plane {
                    var acc: Float = 0
                    var c = 0
                    while c < channels {
                        acc += Float(xs[c * plane + q]) * expand.computeValue(h * channels + c)
                        c += 1
                    }
                    scratch[q] = first.apply(Float16(acc + b))
                    q += 1
                }
                let bd: Float = depthwiseBias.map { $0.computeValue(h) } ?? 0
                let yo = y.slice((n * g.channels + h) * outPlane, outPlane)
                var oh = 0
                while oh < g.outHeight {
                    let ih0 = oh * g.strideHeight - g.padTop
                    let khLo = max(0, -ih0), khHi = min(g.kernelHeight, g.height - ih0)
                    var ow = 0
                    while ow < g.outWidth {
                        let iw0 = ow * g.strideWidth - g.padLeft
                        let kwLo = max(0, -iw0), kwHi = min(g.kernelWidth, g.width - iw0)
                        var acc: Float = 0
                        var kh = khLo
                        while kh < khHi {
                            var kw = kwLo
                            while kw < kwHi {
                                acc += Float(scratch[(ih0 + kh) * g.width + iw0 + kw]) * depthwise.computeValue(h * taps + kh * g.kernelWidth + kw)
                                kw += 1
                            }
                            kh += 1
                        }
                        yo[oh * g.outWidth + ow] = second.apply(Float16(acc + bd))
                        ow += 1
                    }
                    oh += 1
                }
                h += 1
            }
            n += 1
        }
    }

    // MARK: - Expansion

    /// Hidden planes h ..< h + count (count 4, 3 or 1) of one sample into p0 ... p3 (count 3: p3 is
    /// p2, and row 3 repeats row 2). The activation is chosen once per call, so the inner loops
    /// run specialised for it.
    @inlinable
    static func expandPlanes<W: HalfComputable>(_ p0: TensorView<Float16>, _ p1: TensorView<Float16>, _ p2: TensorView<Float16>,
                                                _ p3: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>, bias: ParameterView?,
                                                h: Int, count: Int, channels: Int, plane: Int, _ act: Activation) {
        func b(_ i: Int) -> Float { bias.map { $0.computeValue(i) } ?? 0 }
        if count > 1 {
            let last = h + count - 1
            let biases = SIMD4<Float>(b(h), b(h + 1), b(h + 2), b(last))
            switch act {
            case .none: expand4(Identity.self, p0, p1, p2, p3, x: x, w: w, h: h, last: last, biases, channels: channels, plane: plane)
            case .relu: expand4(Rectify.self, p0, p1, p2, p3, x: x, w: w, h: h, last: last, biases, channels: channels, plane: plane)
            case .relu6: expand4(Rectify6.self, p0, p1, p2, p3, x: x, w: w, h: h, last: last, biases, channels: channels, plane: plane)
            }
        } else {
            switch act {
            case .none: expand1(Identity.self, p0, x: x, w: w, h: h, b(h), channels: channels, plane: plane)
            case .relu: expand1(Rectify.self, p0, x: x, w: w, h: h, b(h), channels: channels, plane: plane)
            case .relu6: expand1(Rectify6.self, p0, x: x, w: w, h: h, b(h), channels: channels, plane: plane)
            }
        }
    }

    /// Hidden channels h, h + 1, h + 2 and `last` (h + 3, or h + 2 again): 4 pixels at a time,
    /// each loaded input shared by the 4 channels and each loaded weight by the 4 pixels; every
    /// hidden value still sums its input channels in order.
    @inlinable
    static func expand4<A: Rounding, W: HalfComputable>(_: A.Type, _ p0: TensorView<Float16>, _ p1: TensorView<Float16>,
                                                        _ p2: TensorView<Float16>, _ p3: TensorView<Float16>,
                                                        x: TensorView<Float16>, w: TensorView<W>, h: Int, last: Int, _ bias: SIMD4<Float>,
                                                        channels: Int, plane: Int) {
        // One view per weight row, so the inner loop indexes all four with the same c; indices
        // wrap (&+): they stay inside views the verifier sized, and an overflow check per index
        // would cost as much as the multiply-add.
        let w0 = w.slice(h * channels, channels), w1 = w.slice((h + 1) * channels, channels)
        let w2 = w.slice((h + 2) * channels, channels), w3 = w.slice(last * channels, channels)
        var q = 0
        while q &+ 4 <= plane {
            var a0 = SIMD4<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
            var c = 0
            let xq = x.slice(q, x.count &- q)
            var xi = 0
            while c < channels {
                let xv = SIMD4<Float>(Float(xq[xi]), Float(xq[xi &+ 1]), Float(xq[xi &+ 2]), Float(xq[xi &+ 3]))
                a0 += xv * w0[c].computeValue
                a1 += xv * w1[c].computeValue
                a2 += xv * w2[c].computeValue
                a3 += xv * w3[c].computeValue
                c &+= 1
                xi &+= plane
            }
            A.store(p0, q, a0, bias[0])
            A.store(p1, q, a1, bias[1])
            A.store(p2, q, a2, bias[2])
            A.store(p3, q, a3, bias[3])
            q &+= 4
        }
        while q < plane {
            var a = SIMD4<Float>(repeating: 0)
            var c = 0, xi = q
            while c < channels {
                let xv = Float(x[xi])
                a += SIMD4<Float>(w0[c].computeValue, w1[c].computeValue, w2[c].computeValue, w3[c].computeValue) * xv
                c &+= 1
                xi &+= plane
            }
            p0[q] = A.round(a[0] + bias[0])
            p1[q] = A.round(a[1] + bias[1])
            p2[q] = A.round(a[2] + bias[2])
            p3[q] = A.round(a[3] + bias[3])
            q &+= 1
        }
    }

    /// Hidden channel h alone: 8 pixels share each loaded weight (then 4, then 1).
    @inlinable
    static func expand1<A: Rounding, W: HalfComputable>(_: A.Type, _ p: TensorView<Float16>, x: TensorView<Float16>,
                                                        w: TensorView<W>, h: Int, _ bias: Float, channels: Int, plane: Int) {
        let w0 = w.slice(h * channels, channels)
        var q = 0
        while q &+ 8 <= plane {
            var a = SIMD4<Float>(repeating: 0), b = a
            var c = 0
            let xq = x.slice(q, x.count &- q)
            var xi = 0
            while c < channels {
                let wv = w0[c].computeValue
                a += SIMD4<Float>(Float(xq[xi]), Float(xq[xi &+ 1]), Float(xq[xi &+ 2]), Float(xq[xi &+ 3])) * wv
                b += SIMD4<Float>(Float(xq[xi &+ 4]), Float(xq[xi &+ 5]), Float(xq[xi &+ 6]), Float(xq[xi &+ 7])) * wv
                c &+= 1
                xi &+= plane
            }
            A.store(p, q, a, bias)
            A.store(p, q &+ 4, b, bias)
            q &+= 8
        }
        while q &+ 4 <= plane {
            var a = SIMD4<Float>(repeating: 0)
            var c = 0
            let xq = x.slice(q, x.count &- q)
            var xi = 0
            while c < channels {
                a += SIMD4<Float>(Float(xq[xi]), Float(xq[xi &+ 1]), Float(xq[xi &+ 2]), Float(xq[xi &+ 3])) * w0[c].computeValue
                c &+= 1
                xi &+= plane
            }
            A.store(p, q, a, bias)
            q &+= 4
        }
        while q < plane {
            var a: Float = 0
            var c = 0, xi = q
            while c < channels {
                a += Float(x[xi]) * w0[c].computeValue
                c &+= 1
                xi &+= plane
            }
            p[q] = A.round(a + bias)
            q &+= 1
        }
    }

    // MARK: - Depthwise

    /// Output plane of hidden channel h from its hidden plane.
    @inlinable
    static func depthwisePlane<W: HalfComputable>(y: TensorView<Float16>, hidden: TensorView<Float16>, w: TensorView<W>,
                                                  bias: ParameterView?, h: Int, _ g: Window2D, _ act: Activation) {
        let b: Float = bias.map { $0.computeValue(h) } ?? 0
        depthwisePlane(y: y, hidden: hidden, w: w, bias: b, h: h, g, act)
    }

    @inlinable
    static func depthwisePlane<W: HalfComputable>(y: TensorView<Float16>, hidden: TensorView<Float16>, w: TensorView<W>,
                                                  bias: Float, h: Int, _ g: Window2D, _ act: Activation) {
        switch act {
        case .none: depthwisePlane(Identity.self, y: y, s: hidden, w: w, bias: bias, h: h, g)
        case .relu: depthwisePlane(Rectify.self, y: y, s: hidden, w: w, bias: bias, h: h, g)
        case .relu6: depthwisePlane(Rectify6.self, y: y, s: hidden, w: w, bias: bias, h: h, g)
        }
    }

    /// Rows whose window lies inside the input run 3×3 windows (stride 1 or 2) 4 outputs at a
    /// time; the other outputs clip the kernel's row and column ranges once (the padding taps
    /// they skip are the ones the one-output loop skips). A 3×3 kernel's 9 taps are read once
    /// per plane and stay in registers.
    @inlinable
    static func depthwisePlane<A: Rounding, W: HalfComputable>(_: A.Type, y: TensorView<Float16>, s: TensorView<Float16>,
                                                               w: TensorView<W>, bias: Float, h: Int, _ g: Window2D) {
        let taps = g.kernelHeight * g.kernelWidth, wo = h * taps
        let columns = interiorRange(out: g.outWidth, stride: g.strideWidth, pad: g.padLeft, kernel: g.kernelWidth, size: g.width)
        let is3x3 = g.kernelHeight == 3 && g.kernelWidth == 3
        let blocks = is3x3 && (g.strideWidth == 1 || g.strideWidth == 2) && columns.count >= 4
        let t = is3x3 ? Taps3x3(w, wo) : Taps3x3()
        var oh = 0
        while oh < g.outHeight {
            let ih0 = oh &* g.strideHeight &- g.padTop
            let khLo = max(0, -ih0), khHi = min(g.kernelHeight, g.height &- ih0)
            let at = oh &* g.outWidth, origin = ih0 &* g.width &- g.padLeft
            var ow = 0
            @inline(__always)
            func single(_ ow: Int) -> Float16 {
                let iw0 = ow &* g.strideWidth &- g.padLeft
                let kwLo = max(0, -iw0), kwHi = min(g.kernelWidth, g.width &- iw0)
                let sum = is3x3 ? edge3x3(s, t, origin &+ ow &* g.strideWidth, width: g.width, khLo: khLo, khHi: khHi, kwLo: kwLo, kwHi: kwHi)
                    : clipped(s, w, wo, ih0: ih0, khLo: khLo, khHi: khHi, iw0: iw0, kwLo: kwLo, kwHi: kwHi, g)
                return A.round(sum + bias)
            }
            if blocks && khLo == 0 && khHi == 3 {
                while ow < columns.lowerBound {
                    y[at &+ ow] = single(ow)
                    ow &+= 1
                }
                if g.strideWidth == 1 {
                    while ow &+ 4 <= columns.upperBound {
                        A.store(y, at &+ ow, block3x3(s, t, origin &+ ow, width: g.width, stride: 1), bias)
                        ow &+= 4
                    }
                } else {
                    while ow &+ 4 <= columns.upperBound {
                        A.store(y, at &+ ow, block3x3(s, t, origin &+ 2 &* ow, width: g.width, stride: 2), bias)
                        ow &+= 4
                    }
                }
            }
            while ow < g.outWidth {
                y[at &+ ow] = single(ow)
                ow &+= 1
            }
            oh &+= 1
        }
    }

    /// One output of a 3×3 window from the taps in registers: rows khLo ..< khHi and columns
    /// kwLo ..< kwHi (the ones inside the plane), in order; `origin` is the index tap (0, 0)
    /// would have.
    @inlinable @inline(__always)
    static func edge3x3(_ s: TensorView<Float16>, _ t: Taps3x3, _ origin: Int, width: Int,
                        khLo: Int, khHi: Int, kwLo: Int, kwHi: Int) -> Float {
        var acc: Float = 0
        var kh = khLo
        while kh < khHi {
            let (a, b, c) = kh == 0 ? (t.k00, t.k01, t.k02) : kh == 1 ? (t.k10, t.k11, t.k12) : (t.k20, t.k21, t.k22)
            let r = origin &+ kh &* width
            // Column 0 is inside iff the range starts there, column 2 iff it ends there.
            if kwLo == 0 { acc += Float(s[r]) * a }
            if kwLo <= 1 && kwHi >= 2 { acc += Float(s[r &+ 1]) * b }
            if kwHi == 3 { acc += Float(s[r &+ 2]) * c }
            kh &+= 1
        }
        return acc
    }

    /// One output's sum over its taps inside the plane (rows khLo ..< khHi, columns kwLo ..< kwHi),
    /// any kernel size.
    @inlinable @inline(__always)
    static func clipped<W: HalfComputable>(_ s: TensorView<Float16>, _ w: TensorView<W>, _ wo: Int, ih0: Int, khLo: Int, khHi: Int,
                                           iw0: Int, kwLo: Int, kwHi: Int, _ g: Window2D) -> Float {
        var acc: Float = 0
        var kh = khLo
        while kh < khHi {
            let xr = (ih0 &+ kh) &* g.width &+ iw0, wr = wo &+ kh &* g.kernelWidth
            var kw = kwLo
            while kw < kwHi {
                acc += Float(s[xr &+ kw]) * w[wr &+ kw].computeValue
                kw &+= 1
            }
            kh &+= 1
        }
        return acc
    }

    /// The 9 taps of a 3×3 kernel as compute sees them, read once per plane.
    @usableFromInline
    struct Taps3x3 {
        @usableFromInline var k00: Float = 0, k01: Float = 0, k02: Float = 0
        @usableFromInline var k10: Float = 0, k11: Float = 0, k12: Float = 0
        @usableFromInline var k20: Float = 0, k21: Float = 0, k22: Float = 0

        @inlinable init() {}

        @inlinable
        init<W: HalfComputable>(_ w: TensorView<W>, _ o: Int) {
            k00 = w[o].computeValue; k01 = w[o + 1].computeValue; k02 = w[o + 2].computeValue
            k10 = w[o + 3].computeValue; k11 = w[o + 4].computeValue; k12 = w[o + 5].computeValue
            k20 = w[o + 6].computeValue; k21 = w[o + 7].computeValue; k22 = w[o + 8].computeValue
        }
    }

    /// Outputs ow ..< ow + 4 of a row whose 3×3 windows lie inside the plane; `origin` is the
    /// index of output ow's top-left tap. Each output sums row 0's taps, then row 1's, then
    /// row 2's, left to right: the one-output order. With `stride` a literal the loads that
    /// neighbouring windows share are read once.
    @inlinable @inline(__always)
    static func block3x3(_ s: TensorView<Float16>, _ t: Taps3x3, _ origin: Int, width: Int, stride sw: Int) -> SIMD4<Float> {
        @inline(__always)
        func column(_ i: Int) -> SIMD4<Float> {
            SIMD4<Float>(Float(s[i]), Float(s[i &+ sw]), Float(s[i &+ 2 &* sw]), Float(s[i &+ 3 &* sw]))
        }
        var a = SIMD4<Float>(repeating: 0)
        let r1 = origin &+ width, r2 = r1 &+ width
        a += column(origin) * t.k00
        a += column(origin &+ 1) * t.k01
        a += column(origin &+ 2) * t.k02
        a += column(r1) * t.k10
        a += column(r1 &+ 1) * t.k11
        a += column(r1 &+ 2) * t.k12
        a += column(r2) * t.k20
        a += column(r2 &+ 1) * t.k21
        a += column(r2 &+ 2) * t.k22
        return a
    }

    /// Output positions `lo ..< hi` along one axis whose whole kernel lies inside the input.
    @inlinable
    static func interiorRange(out: Int, stride: Int, pad: Int, kernel: Int, size: Int) -> Range<Int> {
        // First o with o·stride − pad ≥ 0, and first o with o·stride − pad + kernel > size.
        let lo = min(out, (pad + stride - 1) / stride)
        let limit = size - kernel + pad
        let hi = limit < 0 ? lo : max(lo, min(out, limit / stride + 1))
        return lo ..< hi
    }

    // MARK: - Rounding with the activation

    /// How a sum becomes a stored fp16 value: `round(a)` is `act(Float16(a))`, the activation
    /// applied to the rounded value. ReLU and ReLU6 are applied before rounding instead, which
    /// gives the same bits (rounding is monotonic and keeps the sign, 0 and 6 are fp16 values,
    /// a NaN stays the NaN it rounds to, −0 becomes +0 either way) one conversion cheaper.
    @usableFromInline
    protocol Rounding {
        static func round(_ a: Float) -> Float16
    }

    @usableFromInline
    enum Identity: Rounding {
        @inlinable @inline(__always)
        static func round(_ a: Float) -> Float16 { Float16(a) }
    }

    @usableFromInline
    enum Rectify: Rounding {
        @inlinable @inline(__always)
        static func round(_ a: Float) -> Float16 { Float16(a > 0 ? a : 0) }
    }

    @usableFromInline
    enum Rectify6: Rounding {
        @inlinable @inline(__always)
        static func round(_ a: Float) -> Float16 { Float16(min(max(a, 0), 6)) }
    }
}

extension ExpandDepthwise.Rounding {
    /// Rounds `acc + bias` lane by lane into `p[i ..< i + 4]`.
    @inlinable @inline(__always)
    static func store(_ p: TensorView<Float16>, _ i: Int, _ acc: SIMD4<Float>, _ bias: Float) {
        p[i] = round(acc[0] + bias)
        p[i &+ 1] = round(acc[1] + bias)
        p[i &+ 2] = round(acc[2] + bias)
        p[i &+ 3] = round(acc[3] + bias)
    }
}
