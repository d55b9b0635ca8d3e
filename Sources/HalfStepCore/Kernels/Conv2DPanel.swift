/// 2-D convolution forward through an im2col panel: the taps of a few output pixels are copied
/// into a planned scratch buffer, one contiguous row of K per pixel, and the outputs are then a
/// small matrix product over those rows, register-blocked as the Dense kernels are. A speed lever:
/// it costs the panel's SRAM (`--conv-panels`) and spares the window arithmetic, padding tests and
/// strided loads of the direct kernel, whose cost per MAC grows as the window's channels shrink.
/// Each panel serves every output of its group, so its copy costs K stores per pixel against
/// K·M/G multiply-accumulates.
///
/// Shapes: x [N, C, H, W] · W [M, C/G, KH, KW] · b [M] · panel [K, T] → y [N, M, OH, OW], with
/// K = C/G·KH·KW taps per output and T pixels per panel (the panel's element count / K). The panel
/// is tap-major: a tap's T pixels are contiguous, so filling it is a strided copy along output
/// rows and the product reads four pixels of a tap as two 32-bit words.
///
/// Every output sums its taps in the direct kernel's order (channel, kernel row, kernel column),
/// in fp32, and rounds to fp16 once. Padding taps enter the panel as +0: the accumulator starts at
/// +0 and so is never −0, and adding ±0 to it changes nothing, which keeps the result bit for bit
/// `Conv2D.forward`'s whenever the weights are finite (an infinite or NaN weight meeting a padding
/// tap gives NaN here, where the direct kernel skips the tap).
public enum Conv2DPanel {
    /// `y = W ⋆ x + b` for the first `rows` samples, through `panel` (a whole number of K-tap rows).
    @inlinable
    public static func forward(y: TensorView<Float16>, x: TensorView<Float16>, weight: ParameterView,
                               bias: ParameterView?, panel: TensorView<Float16>, rows: Int, window g: Window2D) {
        switch weight {
        case .half(let w): forward(y: y, x: x, w: w, bias: bias, panel: panel, rows: rows, g)
        case .master(let w): forward(y: y, x: x, w: w, bias: bias, panel: panel, rows: rows, g)
        }
    }

    @inlinable
    static func forward<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                           bias: ParameterView?, panel: TensorView<Float16>, rows: Int, _ g: Window2D) {
        let k = g.weightsPerOutput, mg = g.outputs / g.group, cg = g.channelsPerGroup
        let outPlane = g.outHeight * g.outWidth
        let pixels = panel.count / k
        var n = 0
        while n < rows {
            var group = 0
            while group < g.group {
                var p0 = 0
                while p0 < outPlane {
                    let count = min(pixels, outPlane - p0)
                    fill(panel, x: x, n: n, firstChannel: group * cg, firstPixel: p0, pixels: count, g)
                    var m = group * mg
                    let end = m + mg
                    while m + 4 <= end {
                        outputs4(y: y, w: w, bias: bias, panel: panel, at: (n &* g.outputs &+ m) &* outPlane &+ p0,
                                 m: m, pixels: count, k: k, outPlane: outPlane)
                        m += 4
                    }
                    while m < end {
                        output1(y: y, w: w, bias: bias, panel: panel, at: (n &* g.outputs &+ m) &* outPlane &+ p0,
                                m: m, pixels: count, k: k)
                        m += 1
                    }
                    p0 += count
                }
                group += 1
            }
            n += 1
        }
    }

    /// Copies the taps of output pixels `firstPixel ..< firstPixel + pixels` of sample `n` into
    /// `panel`: row k (tap k in channel, kernel row, kernel column order) holds those pixels' values
    /// of that tap from `panel[k·T]` on, +0 where the tap falls in the padding.
    @inlinable
    static func fill(_ panel: TensorView<Float16>, x: TensorView<Float16>, n: Int, firstChannel: Int,
                     firstPixel: Int, pixels: Int, _ g: Window2D) {
        // Wrapping arithmetic: the verifier proved every index in range, and overflow checks
        // would cost a compare and branch per element on the device.
        let stride = panel.count / g.weightsPerOutput
        let cg = g.channelsPerGroup, plane = g.height &* g.width, width = g.width, sw = g.strideWidth
        // One output row's run of pixels at a time: along it a tap reads the input at a fixed row
        // and at columns that step by the stride, so its in-bounds part is one range.
        var t = 0
        while t < pixels {
            let p = firstPixel &+ t
            let oh = p / g.outWidth, ow0 = p % g.outWidth
            let run = min(g.outWidth &- ow0, pixels &- t)
            var k = 0
            var c = 0
            while c < cg {
                let xc = (n &* g.channels &+ firstChannel &+ c) &* plane
                var kh = 0
                while kh < g.kernelHeight {
                    let ih = oh &* g.strideHeight &- g.padTop &+ kh
                    let inside = ih >= 0 && ih < g.height
                    let xr = xc &+ (inside ? ih &* width : 0)
                    var kw = 0
                    while kw < g.kernelWidth {
                        let row = panel.slice(k &* stride &+ t, run)
                        // Columns iw = ow·sw − padLeft + kw: the run's first and last inside the input.
                        let iw0 = ow0 &* sw &- g.padLeft &+ kw
                        var lo = 0, hi = run
                        if !inside {
                            hi = 0
                        } else {
                            if iw0 < 0 { lo = min(run, (0 &- iw0 &+ sw &- 1) / sw) }
                            let last = width &- 1 &- iw0   // iw0 + j·sw ≤ width − 1
                            hi = last < 0 ? 0 : min(run, last / sw &+ 1)
                            hi = max(lo, hi)
                        }
                        var j = 0
                        while j < lo { row[j] = 0; j &+= 1 }
                        var at = xr &+ iw0 &+ lo &* sw
                        while j < hi { row[j] = x[at]; at &+= sw; j &+= 1 }
                        while j < run { row[j] = 0; j &+= 1 }
                        k &+= 1
                        kw &+= 1
                    }
                    kh &+= 1
                }
                c &+= 1
            }
            t &+= run
        }
    }

    /// Outputs `m ..< m+4` at the panel's `pixels` pixels, written from `y[at]` on (one output's
    /// pixels are contiguous; the next output's start `outPlane` later). Four pixels at a time:
    /// accumulator c_q holds output m + q, lane r pixel t + r; taps go two at a time, i before i + 1.
    @inlinable
    static func outputs4<W: HalfComputable>(y: TensorView<Float16>, w: TensorView<W>, bias: ParameterView?,
                                            panel: TensorView<Float16>, at: Int, m: Int, pixels: Int, k: Int, outPlane: Int) {
        let w0 = w.slice(m &* k, k), w1 = w.slice((m &+ 1) &* k, k), w2 = w.slice((m &+ 2) &* k, k), w3 = w.slice((m &+ 3) &* k, k)
        let b0: Float = bias.map { $0.computeValue(m) } ?? 0, b1: Float = bias.map { $0.computeValue(m &+ 1) } ?? 0
        let b2: Float = bias.map { $0.computeValue(m &+ 2) } ?? 0, b3: Float = bias.map { $0.computeValue(m &+ 3) } ?? 0
        let stride = panel.count / k, evenK = k & ~1
        var t = 0
        while t &+ 4 <= pixels {
            var c0 = SIMD4<Float>(repeating: 0), c1 = c0, c2 = c0, c3 = c0
            var i = 0
            var r = t
            while i < evenK {
                let (p0, q0) = W.computePair(w0, i), (p1, q1) = W.computePair(w1, i)
                let (p2, q2) = W.computePair(w2, i), (p3, q3) = W.computePair(w3, i)
                let (u0, u1) = panel.widenedPair(r), (u2, u3) = panel.widenedPair(r &+ 2)
                let (v0, v1) = panel.widenedPair(r &+ stride), (v2, v3) = panel.widenedPair(r &+ stride &+ 2)
                let lo = SIMD4<Float>(u0, u1, u2, u3), hi = SIMD4<Float>(v0, v1, v2, v3)
                c0 += lo * p0
                c1 += lo * p1
                c2 += lo * p2
                c3 += lo * p3
                c0 += hi * q0
                c1 += hi * q1
                c2 += hi * q2
                c3 += hi * q3
                i &+= 2
                r &+= 2 &* stride
            }
            if i < k {
                let (u0, u1) = panel.widenedPair(r), (u2, u3) = panel.widenedPair(r &+ 2)
                let xv = SIMD4<Float>(u0, u1, u2, u3)
                c0 += xv * w0[i].computeValue
                c1 += xv * w1[i].computeValue
                c2 += xv * w2[i].computeValue
                c3 += xv * w3[i].computeValue
            }
            store(y, c0, b0, at: at &+ t)
            store(y, c1, b1, at: at &+ outPlane &+ t)
            store(y, c2, b2, at: at &+ 2 &* outPlane &+ t)
            store(y, c3, b3, at: at &+ 3 &* outPlane &+ t)
            t &+= 4
        }
        while t < pixels {
            // A pixel the 4-pixel blocks leave: the four outputs as one accumulator's lanes.
            var acc = SIMD4<Float>(repeating: 0)
            var i = 0
            while i < k {
                acc += Float(panel[i &* stride &+ t]) * SIMD4<Float>(w0[i].computeValue, w1[i].computeValue, w2[i].computeValue, w3[i].computeValue)
                i &+= 1
            }
            y[at &+ t] = Float16(acc[0] + b0)
            y[at &+ outPlane &+ t] = Float16(acc[1] + b1)
            y[at &+ 2 &* outPlane &+ t] = Float16(acc[2] + b2)
            y[at &+ 3 &* outPlane &+ t] = Float16(acc[3] + b3)
            t &+= 1
        }
    }

    /// Output `m` at the panel's `pixels` pixels, from `y[at]` on (a group's outputs past its last
    /// block of four): four pixels as one accumulator's lanes.
    @inlinable
    static func output1<W: HalfComputable>(y: TensorView<Float16>, w: TensorView<W>, bias: ParameterView?,
                                           panel: TensorView<Float16>, at: Int, m: Int, pixels: Int, k: Int) {
        let wm = w.slice(m &* k, k)
        let b: Float = bias.map { $0.computeValue(m) } ?? 0
        let stride = panel.count / k
        var t = 0
        while t &+ 4 <= pixels {
            var acc = SIMD4<Float>(repeating: 0)
            var i = 0
            var r = t
            while i < k {
                let (u0, u1) = panel.widenedPair(r), (u2, u3) = panel.widenedPair(r &+ 2)
                acc += SIMD4<Float>(u0, u1, u2, u3) * wm[i].computeValue
                i &+= 1
                r &+= stride
            }
            store(y, acc, b, at: at &+ t)
            t &+= 4
        }
        while t < pixels {
            var acc: Float = 0
            var i = 0
            while i < k {
                acc += Float(panel[i &* stride &+ t]) * wm[i].computeValue
                i &+= 1
            }
            y[at &+ t] = Float16(acc + b)
            t &+= 1
        }
    }

    /// Four contiguous outputs `y[at ..< at+4]`, each its lane plus the bias, rounded once.
    @inlinable @inline(__always)
    static func store(_ y: TensorView<Float16>, _ acc: SIMD4<Float>, _ b: Float, at i: Int) {
        y[i] = Float16(acc[0] + b)
        y[i &+ 1] = Float16(acc[1] + b)
        y[i &+ 2] = Float16(acc[2] + b)
        y[i &+ 3] = Float16(acc[3] + b)
    }
}
