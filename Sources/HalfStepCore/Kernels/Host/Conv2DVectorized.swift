#if arch(x86_64) || arch(arm64)
/// `Conv2D` for 64-bit hosts: the same results bit for bit, computed eight outputs at a time in
/// 256-bit vectors (AVX on x86_64, a pair of NEON registers on arm64).
///
/// Shapes: N batch, C in, M out, G groups; x [N, C, H, W] · W [M, C/G, KH, KW] · b [M] → y [N, M, OH, OW].
///
/// Why it matches `Conv2D.portableForward`/`portableBackward` bit for bit: every output is still
/// one fp32 sum started at +0 and extended by separately rounded products (Swift never contracts
/// `a + b * c` into a fused multiply-add) in the portable order — forward (input channel, kernel
/// row, kernel column), dx (output channel, kernel row, kernel column), dW (sample, output row,
/// output column) — then rounded to fp16 once. Vector lanes hold *different outputs*, never parts
/// of one sum. A tap that falls in the padding is skipped in its lane by a select that keeps the
/// accumulator as it was (a padded zero times an infinite or NaN weight would be NaN, so the
/// product itself must not reach the sum).
///
/// Lanes:
/// - forward and dx of a stride-1 "same" window (OH = H, OW = W) and of 1×1 pointwise layers: 8
///   consecutive pixels of one plane (flattened, so a 4×4 plane fills two vectors). In such a
///   window the input (forward) or dy (dx) that 8 consecutive pixels read at one tap is 8
///   consecutive elements of a plane: one load; lanes whose tap lies outside are masked. Up to 4
///   output (forward) or input (dx) channels of one group share each loaded vector.
/// - forward of any other window with 8 or more outputs per group (strided, shrinking): 8
///   consecutive output channels; the 8 weights of a tap are gathered once and used by up to 8
///   pixels. dx of any other window with 8 or more input channels per group: 8 consecutive input
///   channels, over up to 8 pixels of one row that a stride gives the same taps; where a row has
///   at most 4 such pixels and a next sample exists, the same pixels of both samples (same taps,
///   other dy plane) share each gathered weight vector.
/// - dW with 8 or more outputs per group: 8 consecutive output channels, one weight element each;
///   dy of the 8 channels at 8 consecutive pixels is loaded as 8 rows and transposed in registers
///   (a 128-byte block on the stack), each pixel's vector used by up to 9 weight elements; an
///   interior pixel of a 3×3 channel window reads its inputs as 3 row loads.
/// - db: 8 consecutive channels, dy transposed the same way (each channel's sum in the portable
///   (sample, pixel) order).
/// Every other shape (narrow groups such as depthwise outside the same-size stride-1 case,
/// channels or pixels left over from a vector) runs the portable loops or a one-output loop:
/// those give the same bits by definition.
///
/// Kernels never allocate; the only stack buffer is dW's 128-byte transposed dy block (the
/// emulator holds the host stack to a microcontroller's limits).
public enum Conv2DVectorized {
    /// `y = W ⋆ x + b` for the first `rows` samples; the parameters and the result are those of
    /// `Conv2D.portableForward`, bit for bit.
    public static func forward(y: TensorView<Float16>,      // [N, M, OH, OW]
                               x: TensorView<Float16>,      // [N, C, H, W]
                               weight: ParameterView,       // [M, C/G, KH, KW]
                               bias: ParameterView?,        // [M]
                               rows: Int, window g: Window2D, scratch: KernelScratch? = nil) {
        if let scratch, usesScratchForward(g), let s = scratch.floats(ScratchLayout(rows: rows, g).total) {
            scratchForward(y: y, x: x, weight: weight, bias: bias, rows: rows, g, scratch: s)
        } else if g.isPointwise || isSameStrideOne(g) {
            switch weight {
            case .half(let w): forward(y: y, x: x, w: w, bias: bias, rows: rows, g)
            case .master(let w): forward(y: y, x: x, w: w, bias: bias, rows: rows, g)
            }
        } else if g.outputs / g.group >= 8 {
            switch weight {
            case .half(let w): channelForward(y: y, x: x, w: w, bias: bias, rows: rows, g)
            case .master(let w): channelForward(y: y, x: x, w: w, bias: bias, rows: rows, g)
            }
        } else {
            Conv2D.portableForward(y: y, x: x, weight: weight, bias: bias, rows: rows, window: g)
        }
    }

    /// Gradients of `y = W ⋆ x + b`, written (not accumulated): `dx` over every input, `dW` for the
    /// first `trainedOutputs` output channels, `db` for every output channel; nil outputs are
    /// skipped. The parameters and the results are those of `Conv2D.portableBackward`, bit for bit.
    public static func backward(dx: TensorView<Float16>?,   // [N, C, H, W]
                                dW: TensorView<Float16>?,   // [M, C/G, KH, KW]
                                db: TensorView<Float16>?,   // [M]
                                dy: TensorView<Float16>,    // [N, M, OH, OW]
                                x: TensorView<Float16>,     // [N, C, H, W]
                                weight: ParameterView,      // [M, C/G, KH, KW]
                                rows: Int, window g: Window2D, scratch: KernelScratch? = nil) {
        // With scratch, the repacked paths take what they accept (Conv2DVectorized+Scratch).
        var done = (dx: false, dW: false)
        if let scratch, let s = scratch.floats(ScratchLayout(rows: rows, g).total) {
            done = scratchBackward(dx: dx, dW: dW, dy: dy, x: x, weight: weight, rows: rows, g, scratch: s)
        }
        if let dx, !done.dx {
            if g.isPointwise || isSameStrideOne(g) {
                switch weight {
                case .half(let w): inputGradient(dx: dx, dy: dy, w: w, rows: rows, g)
                case .master(let w): inputGradient(dx: dx, dy: dy, w: w, rows: rows, g)
                }
            } else if g.channelsPerGroup >= 8 {
                switch weight {
                case .half(let w): channelInputGradient(dx: dx, dy: dy, w: w, rows: rows, g)
                case .master(let w): channelInputGradient(dx: dx, dy: dy, w: w, rows: rows, g)
                }
            } else {
                Conv2D.portableBackward(dx: dx, dW: nil, db: nil, dy: dy, x: x, weight: weight, rows: rows, window: g)
            }
        }
        if let dW, !done.dW {
            if g.outputs / g.group >= 8 {
                weightGradient(dW: dW, dy: dy, x: x, rows: rows, g)
            } else {
                Conv2D.portableBackward(dx: nil, dW: dW, db: nil, dy: dy, x: x, weight: weight, rows: rows, window: g)
            }
        }
        if let db { biasGradient(db: db, dy: dy, rows: rows, g) }
    }

    /// `db[m] = Σ (n, q) dy[n, m, q]`, each channel's sum in the portable order (sample, pixel)
    /// from +0: lanes are 8 consecutive channels, their dy read 8 pixels at a time as 8 rows and
    /// transposed (a scalar sum is one long chain of dependent adds). Channels left over: one
    /// channel at a time.
    static func biasGradient(db: TensorView<Float16>, dy: TensorView<Float16>, rows: Int, _ g: Window2D) {
        let outPlane = g.outHeight * g.outWidth
        var m = 0
        while m + 8 <= g.outputs {
            var acc = Vector()
            var n = 0
            while n < rows {
                let d = (n &* g.outputs &+ m) &* outPlane
                var q = 0
                while q &+ 8 <= outPlane {
                    let r = d &+ q
                    let t = transposed(dy.row8(r), dy.row8(r &+ outPlane), dy.row8(r &+ 2 &* outPlane), dy.row8(r &+ 3 &* outPlane),
                                       dy.row8(r &+ 4 &* outPlane), dy.row8(r &+ 5 &* outPlane), dy.row8(r &+ 6 &* outPlane),
                                       dy.row8(r &+ 7 &* outPlane))
                    acc += widened(t.0); acc += widened(t.1); acc += widened(t.2); acc += widened(t.3)
                    acc += widened(t.4); acc += widened(t.5); acc += widened(t.6); acc += widened(t.7)
                    q &+= 8
                }
                while q < outPlane {
                    acc += widened(Float16.halfColumn(dy, d &+ q, stride: outPlane))
                    q &+= 1
                }
                n &+= 1
            }
            var i = 0
            while i < 8 { db[m + i] = Float16(acc[i]); i += 1 }
            m += 8
        }
        while m < g.outputs {
            var acc: Float = 0
            var n = 0
            while n < rows {
                let d = (n * g.outputs + m) * outPlane
                var q = 0
                while q < outPlane { acc += Float(dy[d + q]); q += 1 }
                n += 1
            }
            db[m] = Float16(acc)
            m += 1
        }
    }

    /// Stride 1 in both directions and an output the input's size: the windows of 8 consecutive
    /// (flattened) pixels read 8 consecutive elements at each tap.
    static func isSameStrideOne(_ g: Window2D) -> Bool {
        g.strideHeight == 1 && g.strideWidth == 1 && g.outHeight == g.height && g.outWidth == g.width
    }

    typealias Vector = SIMD8<Float>
    typealias Lanes = SIMD8<Int32>
    typealias Mask = SIMDMask<SIMD8<Int32>>

    /// Rows and columns of pixels `q ..< q + 8` of a plane `width` wide.
    @inline(__always)
    static func pixelLanes(_ q: Int, width: Int) -> (row: Lanes, column: Lanes) {
        let p = Lanes(0, 1, 2, 3, 4, 5, 6, 7) &+ Int32(truncatingIfNeeded: q)
        let w = Lanes(repeating: Int32(truncatingIfNeeded: width))
        let row = p / w
        return (row, p &- row &* w)
    }

    /// Lanes whose index lies in `0 ..< size` (one unsigned compare covers both ends).
    @inline(__always)
    static func inside(_ v: Lanes, _ size: Int) -> Mask {
        SIMD8<UInt32>(truncatingIfNeeded: v) .< SIMD8<UInt32>(repeating: UInt32(truncatingIfNeeded: size))
    }

    /// Elements `start ..< start + 8` of the plane at `base` (`plane` elements), widened; lanes
    /// that fall outside the plane read 0 (they are masked out by the caller: never read past
    /// the tensor, even at its first and last plane).
    @inline(__always)
    static func planeVector(_ v: TensorView<Float16>, base: Int, start: Int, plane: Int) -> Vector {
        if start >= 0 && start + 8 <= plane { return v.widened8(base + start) }
        var bits = SIMD8<UInt16>()
        for i in 0 ..< 8 where start + i >= 0 && start + i < plane { bits[i] = v[base + start + i].bitPattern }
        return widened(bits)
    }

    /// `h` widened lane by lane. Spelled out rather than `SIMD8<Float>(h)`: the stdlib's generic
    /// conversion initialiser is not always inlined; eight scalar conversions become one `vcvtph2ps`.
    @inline(__always)
    static func widened(_ bits: SIMD8<UInt16>) -> Vector {
        let h = unsafeBitCast(bits, to: SIMD8<Float16>.self)
        return Vector(Float(h[0]), Float(h[1]), Float(h[2]), Float(h[3]), Float(h[4]), Float(h[5]), Float(h[6]), Float(h[7]))
    }

    /// `acc + p` where `ok`, `acc` elsewhere (a skipped tap).
    @inline(__always)
    static func masked(_ acc: Vector, _ p: Vector, _ ok: Mask) -> Vector {
        acc.replacing(with: acc + p, where: ok)
    }

    // MARK: - Forward

    static func forward<W: HalfComputable>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                           bias: ParameterView?, rows: Int, _ g: Window2D) {
        let mg = g.outputs / g.group, cg = g.channelsPerGroup
        let plane = g.height * g.width, kk = g.kernelHeight * g.kernelWidth, wpo = g.weightsPerOutput
        let kh1 = g.kernelHeight, kw1 = g.kernelWidth, pt = g.padTop, pl = g.padLeft
        var n = 0
        while n < rows {
            var m = 0
            while m < g.outputs {
                // 4 outputs of one group share each loaded input vector; fewer left in the group: 1.
                let block = mg - m % mg >= 4 ? 4 : 1
                let xGroup = (n * g.channels + (m / mg) * cg) * plane
                let yBase = (n * g.outputs + m) * plane
                let b0: Float = bias.map { $0.computeValue(m) } ?? 0
                let b1: Float = block == 4 ? (bias.map { $0.computeValue(m + 1) } ?? 0) : 0
                let b2: Float = block == 4 ? (bias.map { $0.computeValue(m + 2) } ?? 0) : 0
                let b3: Float = block == 4 ? (bias.map { $0.computeValue(m + 3) } ?? 0) : 0
                var q = 0
                while q + 8 <= plane {
                    let (row, column) = pixelLanes(q, width: g.width)
                    var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector()
                    var c = 0
                    while c < cg {
                        let xc = xGroup + c * plane
                        var kh = 0
                        while kh < kh1 {
                            let rowOK = inside(row &+ Int32(truncatingIfNeeded: kh &- pt), g.height)
                            var kw = 0
                            while kw < kw1 {
                                let ok = rowOK .& inside(column &+ Int32(truncatingIfNeeded: kw &- pl), g.width)
                                if any(ok) {
                                    let xv = planeVector(x, base: xc, start: q &+ (kh &- pt) &* g.width &+ kw &- pl, plane: plane)
                                    let t = m &* wpo &+ c &* kk &+ kh &* kw1 &+ kw
                                    if all(ok) {
                                        a0 += xv * w[t].computeValue
                                        if block == 4 {
                                            a1 += xv * w[t &+ wpo].computeValue
                                            a2 += xv * w[t &+ 2 &* wpo].computeValue
                                            a3 += xv * w[t &+ 3 &* wpo].computeValue
                                        }
                                    } else {
                                        a0 = masked(a0, xv * w[t].computeValue, ok)
                                        if block == 4 {
                                            a1 = masked(a1, xv * w[t &+ wpo].computeValue, ok)
                                            a2 = masked(a2, xv * w[t &+ 2 &* wpo].computeValue, ok)
                                            a3 = masked(a3, xv * w[t &+ 3 &* wpo].computeValue, ok)
                                        }
                                    }
                                }
                                kw += 1
                            }
                            kh += 1
                        }
                        c += 1
                    }
                    y.storeRounded8(a0 + b0, at: yBase + q)
                    if block == 4 {
                        y.storeRounded8(a1 + b1, at: yBase + plane + q)
                        y.storeRounded8(a2 + b2, at: yBase + 2 * plane + q)
                        y.storeRounded8(a3 + b3, at: yBase + 3 * plane + q)
                    }
                    q += 8
                }
                // The plane's last pixels, one output at a time in the same order.
                while q < plane {
                    let oh = q / g.width, ow = q - oh * g.width
                    var r = 0
                    while r < block {
                        let acc = outputSum(x: x, w: w, xGroup: xGroup, wBase: (m + r) * wpo, oh: oh, ow: ow, g)
                        y[yBase + r * plane + q] = Float16(acc + (r == 0 ? b0 : r == 1 ? b1 : r == 2 ? b2 : b3))
                        r += 1
                    }
                    q += 1
                }
                m += block
            }
            n += 1
        }
    }

    /// One output's sum, the portable order: channel, kernel row, kernel column, padding skipped.
    @inline(__always)
    static func outputSum<W: HalfComputable>(x: TensorView<Float16>, w: TensorView<W>, xGroup: Int, wBase: Int,
                                             oh: Int, ow: Int, _ g: Window2D) -> Float {
        let plane = g.height * g.width, kk = g.kernelHeight * g.kernelWidth
        let ih0 = oh * g.strideHeight - g.padTop, iw0 = ow * g.strideWidth - g.padLeft
        let khLo = max(0, -ih0), khHi = min(g.kernelHeight, g.height - ih0)
        let kwLo = max(0, -iw0), kwHi = min(g.kernelWidth, g.width - iw0)
        var acc: Float = 0
        var c = 0
        while c < g.channelsPerGroup {
            var kh = khLo
            while kh < khHi {
                var kw = kwLo
                while kw < kwHi {
                    acc += Float(x[xGroup + c * plane + (ih0 + kh) * g.width + iw0 + kw]) * w[wBase + c * kk + kh * g.kernelWidth + kw].computeValue
                    kw += 1
                }
                kh += 1
            }
            c += 1
        }
        return acc
    }

    // MARK: - Input gradient

    /// `dx[c, ih, iw] = Σ (m in c's group, kh, kw) dy[m, ih + padTop − kh, iw + padLeft − kw] · W[m, c, kh, kw]`
    /// for stride-1 same-size windows (1×1 pointwise included): 8 consecutive input pixels per
    /// vector, up to 4 input channels of one group sharing each loaded dy vector.
    static func inputGradient<W: HalfComputable>(dx: TensorView<Float16>, dy: TensorView<Float16>, w: TensorView<W>,
                                                 rows: Int, _ g: Window2D) {
        let cg = g.channelsPerGroup, mg = g.outputs / g.group
        let plane = g.height * g.width, kk = g.kernelHeight * g.kernelWidth, wpo = g.weightsPerOutput
        let kh1 = g.kernelHeight, kw1 = g.kernelWidth, pt = g.padTop, pl = g.padLeft
        var n = 0
        while n < rows {
            var c = 0
            while c < g.channels {
                let group = c / cg, local = c - group * cg
                let block = cg - local >= 4 ? 4 : 1
                let dGroup = (n * g.outputs + group * mg) * plane
                let xOut = (n * g.channels + c) * plane
                var q = 0
                while q + 8 <= plane {
                    let (row, column) = pixelLanes(q, width: g.width)
                    var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector()
                    var ml = 0
                    while ml < mg {
                        let d = dGroup + ml * plane
                        let wm = (group * mg + ml) * wpo + local * kk
                        var kh = 0
                        while kh < kh1 {
                            let rowOK = inside(row &+ Int32(truncatingIfNeeded: pt &- kh), g.height)
                            var kw = 0
                            while kw < kw1 {
                                let ok = rowOK .& inside(column &+ Int32(truncatingIfNeeded: pl &- kw), g.width)
                                if any(ok) {
                                    let dv = planeVector(dy, base: d, start: q &+ (pt &- kh) &* g.width &+ pl &- kw, plane: plane)
                                    let t = wm &+ kh &* kw1 &+ kw
                                    if all(ok) {
                                        a0 += dv * w[t].computeValue
                                        if block == 4 {
                                            a1 += dv * w[t &+ kk].computeValue
                                            a2 += dv * w[t &+ 2 &* kk].computeValue
                                            a3 += dv * w[t &+ 3 &* kk].computeValue
                                        }
                                    } else {
                                        a0 = masked(a0, dv * w[t].computeValue, ok)
                                        if block == 4 {
                                            a1 = masked(a1, dv * w[t &+ kk].computeValue, ok)
                                            a2 = masked(a2, dv * w[t &+ 2 &* kk].computeValue, ok)
                                            a3 = masked(a3, dv * w[t &+ 3 &* kk].computeValue, ok)
                                        }
                                    }
                                }
                                kw += 1
                            }
                            kh += 1
                        }
                        ml += 1
                    }
                    dx.storeRounded8(a0, at: xOut + q)
                    if block == 4 {
                        dx.storeRounded8(a1, at: xOut + plane + q)
                        dx.storeRounded8(a2, at: xOut + 2 * plane + q)
                        dx.storeRounded8(a3, at: xOut + 3 * plane + q)
                    }
                    q += 8
                }
                // The plane's last pixels, one element at a time in the same order.
                while q < plane {
                    let ih = q / g.width, iw = q - ih * g.width
                    var r = 0
                    while r < block {
                        var acc: Float = 0
                        var ml = 0
                        while ml < mg {
                            let d = dGroup + ml * plane
                            let wm = (group * mg + ml) * wpo + (local + r) * kk
                            var kh = 0
                            while kh < kh1 {
                                let oh = ih + pt - kh
                                if oh >= 0 && oh < g.height {
                                    var kw = 0
                                    while kw < kw1 {
                                        let ow = iw + pl - kw
                                        if ow >= 0 && ow < g.width {
                                            acc += Float(dy[d + oh * g.width + ow]) * w[wm + kh * kw1 + kw].computeValue
                                        }
                                        kw += 1
                                    }
                                }
                                kh += 1
                            }
                            ml += 1
                        }
                        dx[xOut + r * plane + q] = Float16(acc)
                        r += 1
                    }
                    q += 1
                }
                c += block
            }
            n += 1
        }
    }

    // MARK: - Channel lanes (strided and shrinking windows)

    /// Forward for any window, 8 consecutive outputs of one group per vector. Outputs left over
    /// in a group (fewer than 8) take the one-output loop.
    static func channelForward<W: Conv2DVectorized.Operand>(y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>,
                                                           bias: ParameterView?, rows: Int, _ g: Window2D) {
        let mg = g.outputs / g.group, cg = g.channelsPerGroup
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth, wpo = g.weightsPerOutput
        var n = 0
        while n < rows {
            var m = 0
            while m < g.outputs {
                let xGroup = (n * g.channels + (m / mg) * cg) * plane
                if mg - m % mg < 8 {
                    let yBase = (n * g.outputs + m) * outPlane
                    var q = 0
                    while q < outPlane {
                        let oh = q / g.outWidth, ow = q - oh * g.outWidth
                        let acc = outputSum(x: x, w: w, xGroup: xGroup, wBase: m * wpo, oh: oh, ow: ow, g)
                        y[yBase + q] = Float16(acc + (bias.map { $0.computeValue(m) } ?? 0))
                        q += 1
                    }
                    m += 1
                    continue
                }
                var q = 0
                while q < outPlane {
                    // Constant block sizes, so each call specialises to straight-line code.
                    switch min(8, outPlane - q) {
                    case 8: channelForwardBlock(8, y: y, x: x, w: w, bias: bias, n: n, m: m, q: q, g)
                    case 7: channelForwardBlock(7, y: y, x: x, w: w, bias: bias, n: n, m: m, q: q, g)
                    case 6: channelForwardBlock(6, y: y, x: x, w: w, bias: bias, n: n, m: m, q: q, g)
                    case 5: channelForwardBlock(5, y: y, x: x, w: w, bias: bias, n: n, m: m, q: q, g)
                    case 4: channelForwardBlock(4, y: y, x: x, w: w, bias: bias, n: n, m: m, q: q, g)
                    case 3: channelForwardBlock(3, y: y, x: x, w: w, bias: bias, n: n, m: m, q: q, g)
                    case 2: channelForwardBlock(2, y: y, x: x, w: w, bias: bias, n: n, m: m, q: q, g)
                    default: channelForwardBlock(1, y: y, x: x, w: w, bias: bias, n: n, m: m, q: q, g)
                    }
                    q += 8
                }
                m += 8
            }
            n += 1
        }
    }

    /// Where one pixel's window starts in the input (row, column; negative in the padding).
    struct Origin {
        var row: Int, column: Int
        @inline(__always) init(_ q: Int, _ g: Window2D) {
            let oh = q / g.outWidth
            row = oh * g.strideHeight - g.padTop
            column = (q - oh * g.outWidth) * g.strideWidth - g.padLeft
        }
    }

    /// Outputs `m ..< m + 8` at the `count` (1...8) output pixels from `q` (flattened, so a block
    /// may span rows): per tap, the 8 weights are gathered once; each pixel whose tap lies inside
    /// the input adds its input value times them.
    @inline(__always)
    static func channelForwardBlock<W: Conv2DVectorized.Operand>(_ count: Int, y: TensorView<Float16>, x: TensorView<Float16>,
                                                                w: TensorView<W>, bias: ParameterView?, n: Int, m: Int, q: Int,
                                                                _ g: Window2D) {
        let mg = g.outputs / g.group, cg = g.channelsPerGroup
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let kk = g.kernelHeight * g.kernelWidth, wpo = g.weightsPerOutput
        let xGroup = (n * g.channels + (m / mg) * cg) * plane
        // Pixels past `count` repeat the first; never accumulated, never stored.
        let o0 = Origin(q, g)
        let o1 = count > 1 ? Origin(q + 1, g) : o0, o2 = count > 2 ? Origin(q + 2, g) : o0
        let o3 = count > 3 ? Origin(q + 3, g) : o0, o4 = count > 4 ? Origin(q + 4, g) : o0
        let o5 = count > 5 ? Origin(q + 5, g) : o0, o6 = count > 6 ? Origin(q + 6, g) : o0
        let o7 = count > 7 ? Origin(q + 7, g) : o0
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector()
        var a4 = Vector(), a5 = Vector(), a6 = Vector(), a7 = Vector()
        // Index arithmetic wraps (`&+`): the verifier proved every index in range, and checked
        // arithmetic kept an overflow flag per pixel and tap on the stack.
        let width = g.width, height = g.height, kw1 = g.kernelWidth
        var c = 0
        while c < cg {
            let xc = xGroup &+ c &* plane
            var kh = 0
            while kh < g.kernelHeight {
                var kw = 0
                while kw < kw1 {
                    let wv = w.computeColumn8(m &* wpo &+ c &* kk &+ kh &* kw1 &+ kw, stride: wpo)
                    // The tap's input for a pixel, or nil in the padding (skipped).
                    @inline(__always) func tap(_ o: Origin) -> Float? {
                        let ih = o.row &+ kh, iw = o.column &+ kw
                        guard UInt(bitPattern: ih) < UInt(height) && UInt(bitPattern: iw) < UInt(width) else { return nil }
                        return Float(x[xc &+ ih &* width &+ iw])
                    }
                    if let v = tap(o0) { a0 += v * wv }
                    if count > 1, let v = tap(o1) { a1 += v * wv }
                    if count > 2, let v = tap(o2) { a2 += v * wv }
                    if count > 3, let v = tap(o3) { a3 += v * wv }
                    if count > 4, let v = tap(o4) { a4 += v * wv }
                    if count > 5, let v = tap(o5) { a5 += v * wv }
                    if count > 6, let v = tap(o6) { a6 += v * wv }
                    if count > 7, let v = tap(o7) { a7 += v * wv }
                    kw &+= 1
                }
                kh &+= 1
            }
            c &+= 1
        }
        var b = Vector()
        if let bias { for i in 0 ..< 8 { b[i] = bias.computeValue(m + i) } }
        let yBase = (n * g.outputs + m) * outPlane + q
        y.scatterRounded8(a0 + b, at: yBase, stride: outPlane)
        if count > 1 { y.scatterRounded8(a1 + b, at: yBase + 1, stride: outPlane) }
        if count > 2 { y.scatterRounded8(a2 + b, at: yBase + 2, stride: outPlane) }
        if count > 3 { y.scatterRounded8(a3 + b, at: yBase + 3, stride: outPlane) }
        if count > 4 { y.scatterRounded8(a4 + b, at: yBase + 4, stride: outPlane) }
        if count > 5 { y.scatterRounded8(a5 + b, at: yBase + 5, stride: outPlane) }
        if count > 6 { y.scatterRounded8(a6 + b, at: yBase + 6, stride: outPlane) }
        if count > 7 { y.scatterRounded8(a7 + b, at: yBase + 7, stride: outPlane) }
    }

    /// dx for any window, 8 consecutive input channels of one group per vector. The pixels of a
    /// block lie in one row, `strideWidth` apart, so they reach the same kernel rows and columns
    /// (only whether the output column exists differs): each gathered weight vector serves all.
    /// Channels left over in a group (fewer than 8) take the one-element loop.
    static func channelInputGradient<W: Conv2DVectorized.Operand>(dx: TensorView<Float16>, dy: TensorView<Float16>, w: TensorView<W>,
                                                                 rows: Int, _ g: Window2D) {
        let cg = g.channelsPerGroup, plane = g.height * g.width, sw = g.strideWidth
        var n = 0
        while n < rows {
            // Two samples at once where both exist: their pixels at one position reach the same
            // taps, so each gathered weight vector serves both (blocks of up to 4 columns).
            let samples = n + 1 < rows ? 2 : 1
            var c = 0
            while c < g.channels {
                if cg - c % cg < 8 {
                    var s = n
                    while s < n + samples {
                        var p = 0
                        while p < plane {
                            dx[(s * g.channels + c) * plane + p] = Float16(inputSum(dy: dy, w: w, n: s, c: c, ih: p / g.width, iw: p % g.width, g))
                            p += 1
                        }
                        s += 1
                    }
                    c += 1
                    continue
                }
                var ih = 0
                while ih < g.height {
                    var r = 0
                    while r < sw && r < g.width {
                        // Columns r, r + sw, r + 2·sw, ... in blocks of up to 8 (4 for a pair).
                        let columns = (g.width - r + sw - 1) / sw
                        var j = 0
                        while j < columns {
                            let iw = r + j * sw
                            let left = columns - j
                            if samples == 2 && left <= 4 {
                                switch left {
                                case 4: channelInputGradientPair(4, dx: dx, dy: dy, w: w, n: n, c: c, ih: ih, iw: iw, g)
                                case 3: channelInputGradientPair(3, dx: dx, dy: dy, w: w, n: n, c: c, ih: ih, iw: iw, g)
                                case 2: channelInputGradientPair(2, dx: dx, dy: dy, w: w, n: n, c: c, ih: ih, iw: iw, g)
                                default: channelInputGradientPair(1, dx: dx, dy: dy, w: w, n: n, c: c, ih: ih, iw: iw, g)
                                }
                                j += 4
                                continue
                            }
                            var s = n
                            while s < n + samples {
                                switch min(8, left) {
                                case 8: channelInputGradientBlock(8, dx: dx, dy: dy, w: w, n: s, c: c, ih: ih, iw: iw, g)
                                case 7: channelInputGradientBlock(7, dx: dx, dy: dy, w: w, n: s, c: c, ih: ih, iw: iw, g)
                                case 6: channelInputGradientBlock(6, dx: dx, dy: dy, w: w, n: s, c: c, ih: ih, iw: iw, g)
                                case 5: channelInputGradientBlock(5, dx: dx, dy: dy, w: w, n: s, c: c, ih: ih, iw: iw, g)
                                case 4: channelInputGradientBlock(4, dx: dx, dy: dy, w: w, n: s, c: c, ih: ih, iw: iw, g)
                                case 3: channelInputGradientBlock(3, dx: dx, dy: dy, w: w, n: s, c: c, ih: ih, iw: iw, g)
                                case 2: channelInputGradientBlock(2, dx: dx, dy: dy, w: w, n: s, c: c, ih: ih, iw: iw, g)
                                default: channelInputGradientBlock(1, dx: dx, dy: dy, w: w, n: s, c: c, ih: ih, iw: iw, g)
                                }
                                s += 1
                            }
                            j += 8
                        }
                        r += 1
                    }
                    ih += 1
                }
                c += 8
            }
            n += samples
        }
    }

    /// `channelInputGradientBlock` for samples `n` and `n + 1` at once, `count` (1...4) pixels
    /// each: the two samples' pixels reach the same taps (only dy's plane differs), so each
    /// gathered weight vector serves 2·count pixels. Each element's sum keeps the portable order.
    @inline(__always)
    static func channelInputGradientPair<W: Conv2DVectorized.Operand>(_ count: Int, dx: TensorView<Float16>, dy: TensorView<Float16>,
                                                                     w: TensorView<W>, n: Int, c: Int, ih: Int, iw: Int, _ g: Window2D) {
        let cg = g.channelsPerGroup, mg = g.outputs / g.group
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let kk = g.kernelHeight * g.kernelWidth, wpo = g.weightsPerOutput
        let sh = g.strideHeight, sw = g.strideWidth
        let group = c / cg, local = c - group * cg
        let dGroup = (n * g.outputs + group * mg) * outPlane
        let next = g.outputs * outPlane   // sample n + 1's dy, from sample n's
        let th0 = ih + g.padTop
        let khMin = max(0, th0 - (g.outHeight - 1) * sh), khMax = min(g.kernelHeight - 1, th0)
        let khFirst = khMin + (th0 - khMin) % sh, ohFirst = (th0 - khFirst) / sh
        let tw0 = iw + g.padLeft
        let kwFirst = tw0 % sw, ow0 = (tw0 - kwFirst) / sw
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector()
        var b0 = Vector(), b1 = Vector(), b2 = Vector(), b3 = Vector()
        let outWidth = g.outWidth, kw1 = g.kernelWidth
        if khMin <= khMax {
            var ml = 0
            while ml < mg {
                let d = dGroup &+ ml &* outPlane
                let wm = (group &* mg &+ ml) &* wpo &+ local &* kk
                var kh = khFirst, oh = ohFirst
                while kh <= khMax {
                    let dr = d &+ oh &* outWidth
                    var kw = kwFirst, ow = ow0
                    while kw < kw1 {
                        let wv = w.computeColumn8(wm &+ kh &* kw1 &+ kw, stride: kk)
                        @inline(__always) func inside(_ j: Int) -> Bool { UInt(bitPattern: ow &+ j) < UInt(outWidth) }
                        if inside(0) { a0 += Float(dy[dr &+ ow]) * wv; b0 += Float(dy[dr &+ next &+ ow]) * wv }
                        if count > 1, inside(1) { a1 += Float(dy[dr &+ ow &+ 1]) * wv; b1 += Float(dy[dr &+ next &+ ow &+ 1]) * wv }
                        if count > 2, inside(2) { a2 += Float(dy[dr &+ ow &+ 2]) * wv; b2 += Float(dy[dr &+ next &+ ow &+ 2]) * wv }
                        if count > 3, inside(3) { a3 += Float(dy[dr &+ ow &+ 3]) * wv; b3 += Float(dy[dr &+ next &+ ow &+ 3]) * wv }
                        kw &+= sw
                        ow &-= 1
                    }
                    kh &+= sh
                    oh &-= 1
                }
                ml &+= 1
            }
        }
        let out = (n * g.channels + c) * plane + ih * g.width + iw, out1 = out + g.channels * plane
        dx.scatterRounded8(a0, at: out, stride: plane)
        dx.scatterRounded8(b0, at: out1, stride: plane)
        if count > 1 { dx.scatterRounded8(a1, at: out + sw, stride: plane); dx.scatterRounded8(b1, at: out1 + sw, stride: plane) }
        if count > 2 { dx.scatterRounded8(a2, at: out + 2 * sw, stride: plane); dx.scatterRounded8(b2, at: out1 + 2 * sw, stride: plane) }
        if count > 3 { dx.scatterRounded8(a3, at: out + 3 * sw, stride: plane); dx.scatterRounded8(b3, at: out1 + 3 * sw, stride: plane) }
    }

    /// Input channels `c ..< c + 8` at the `count` (1...8) pixels `(ih, iw + j·strideWidth)`,
    /// each summing (output channel, kernel row, kernel column) in the portable order.
    @inline(__always)
    static func channelInputGradientBlock<W: Conv2DVectorized.Operand>(_ count: Int, dx: TensorView<Float16>, dy: TensorView<Float16>,
                                                                      w: TensorView<W>, n: Int, c: Int, ih: Int, iw: Int, _ g: Window2D) {
        let cg = g.channelsPerGroup, mg = g.outputs / g.group
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let kk = g.kernelHeight * g.kernelWidth, wpo = g.weightsPerOutput
        let sh = g.strideHeight, sw = g.strideWidth
        let group = c / cg, local = c - group * cg
        let dGroup = (n * g.outputs + group * mg) * outPlane
        // Kernel rows that reach an output row, as the portable kernel finds them.
        let th0 = ih + g.padTop
        let khMin = max(0, th0 - (g.outHeight - 1) * sh), khMax = min(g.kernelHeight - 1, th0)
        let khFirst = khMin + (th0 - khMin) % sh, ohFirst = (th0 - khFirst) / sh
        // Kernel columns of this stride class: kw ≡ iw + padLeft (mod sw), ascending; pixel j's
        // output column at kwFirst is ow0 + j, one less at each later column.
        let tw0 = iw + g.padLeft
        let kwFirst = tw0 % sw, ow0 = (tw0 - kwFirst) / sw
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector()
        var a4 = Vector(), a5 = Vector(), a6 = Vector(), a7 = Vector()
        // Index arithmetic wraps (`&+`): the verifier proved every index in range.
        let outWidth = g.outWidth, kw1 = g.kernelWidth
        if khMin <= khMax {
            var ml = 0
            while ml < mg {
                let d = dGroup &+ ml &* outPlane
                let wm = (group &* mg &+ ml) &* wpo &+ local &* kk
                // Output row of kernel row kh, one less per step of sh (no division per row).
                var kh = khFirst, oh = ohFirst
                while kh <= khMax {
                    let dr = d &+ oh &* outWidth
                    var kw = kwFirst, ow = ow0
                    while kw < kw1 {
                        let wv = w.computeColumn8(wm &+ kh &* kw1 &+ kw, stride: kk)
                        // Pixel j reads output column ow + j when it exists.
                        @inline(__always) func tap(_ j: Int) -> Float? {
                            let o = ow &+ j
                            guard UInt(bitPattern: o) < UInt(outWidth) else { return nil }
                            return Float(dy[dr &+ o])
                        }
                        if let v = tap(0) { a0 += v * wv }
                        if count > 1, let v = tap(1) { a1 += v * wv }
                        if count > 2, let v = tap(2) { a2 += v * wv }
                        if count > 3, let v = tap(3) { a3 += v * wv }
                        if count > 4, let v = tap(4) { a4 += v * wv }
                        if count > 5, let v = tap(5) { a5 += v * wv }
                        if count > 6, let v = tap(6) { a6 += v * wv }
                        if count > 7, let v = tap(7) { a7 += v * wv }
                        kw &+= sw
                        ow &-= 1
                    }
                    kh &+= sh
                    oh &-= 1
                }
                ml &+= 1
            }
        }
        let out = (n * g.channels + c) * plane + ih * g.width + iw
        dx.scatterRounded8(a0, at: out, stride: plane)
        if count > 1 { dx.scatterRounded8(a1, at: out + sw, stride: plane) }
        if count > 2 { dx.scatterRounded8(a2, at: out + 2 * sw, stride: plane) }
        if count > 3 { dx.scatterRounded8(a3, at: out + 3 * sw, stride: plane) }
        if count > 4 { dx.scatterRounded8(a4, at: out + 4 * sw, stride: plane) }
        if count > 5 { dx.scatterRounded8(a5, at: out + 5 * sw, stride: plane) }
        if count > 6 { dx.scatterRounded8(a6, at: out + 6 * sw, stride: plane) }
        if count > 7 { dx.scatterRounded8(a7, at: out + 7 * sw, stride: plane) }
    }

    /// One dx element's sum, the portable order: output channel, kernel row, kernel column.
    static func inputSum<W: HalfComputable>(dy: TensorView<Float16>, w: TensorView<W>, n: Int, c: Int, ih: Int, iw: Int,
                                            _ g: Window2D) -> Float {
        let cg = g.channelsPerGroup, mg = g.outputs / g.group
        let kk = g.kernelHeight * g.kernelWidth, group = c / cg, local = c - group * cg
        var acc: Float = 0
        var ml = 0
        while ml < mg {
            let m = group * mg + ml
            var kh = 0
            while kh < g.kernelHeight {
                let th = ih + g.padTop - kh
                if th >= 0 && th % g.strideHeight == 0 && th / g.strideHeight < g.outHeight {
                    var kw = 0
                    while kw < g.kernelWidth {
                        let tw = iw + g.padLeft - kw
                        if tw >= 0 && tw % g.strideWidth == 0 && tw / g.strideWidth < g.outWidth {
                            acc += Float(dy[((n * g.outputs + m) * g.outHeight + th / g.strideHeight) * g.outWidth + tw / g.strideWidth])
                                * w[(m * cg + local) * kk + kh * g.kernelWidth + kw].computeValue
                        }
                        kw += 1
                    }
                }
                kh += 1
            }
            ml += 1
        }
        return acc
    }

    // MARK: - Weight gradient

    /// `dW[m, c, kh, kw] = Σ (n, oh, ow) dy[n, m, oh, ow] · x[n, c, oh·sh − padTop + kh, ow·sw − padLeft + kw]`
    /// for the first `trainedOutputs` outputs, in groups of at least 8 outputs: lanes are 8
    /// consecutive outputs of one group (fewer at a group's or the trained range's end), and up
    /// to 9 weight elements of those outputs share each gathered dy vector.
    static func weightGradient(dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                               rows: Int, _ g: Window2D) {
        let mg = g.outputs / g.group, wpo = g.weightsPerOutput
        var m = 0
        while m < g.trainedOutputs {
            let lanes = min(8, mg - m % mg, g.trainedOutputs - m)
            var t = 0
            while t < wpo {
                // Constant block sizes, so each call specialises to straight-line code.
                switch min(9, wpo - t) {
                case 9: weightGradientBlock(9, dW: dW, dy: dy, x: x, m: m, lanes: lanes, t: t, rows: rows, g)
                case 8: weightGradientBlock(8, dW: dW, dy: dy, x: x, m: m, lanes: lanes, t: t, rows: rows, g)
                case 7: weightGradientBlock(7, dW: dW, dy: dy, x: x, m: m, lanes: lanes, t: t, rows: rows, g)
                case 6: weightGradientBlock(6, dW: dW, dy: dy, x: x, m: m, lanes: lanes, t: t, rows: rows, g)
                case 5: weightGradientBlock(5, dW: dW, dy: dy, x: x, m: m, lanes: lanes, t: t, rows: rows, g)
                case 4: weightGradientBlock(4, dW: dW, dy: dy, x: x, m: m, lanes: lanes, t: t, rows: rows, g)
                case 3: weightGradientBlock(3, dW: dW, dy: dy, x: x, m: m, lanes: lanes, t: t, rows: rows, g)
                case 2: weightGradientBlock(2, dW: dW, dy: dy, x: x, m: m, lanes: lanes, t: t, rows: rows, g)
                default: weightGradientBlock(1, dW: dW, dy: dy, x: x, m: m, lanes: lanes, t: t, rows: rows, g)
                }
                t += 9
            }
            m += lanes
        }
    }

    typealias Halves = SIMD8<UInt16>

    /// Rows `r0 … r7` (8 fp16 bit patterns each) transposed: vector j holds element j of every
    /// row. Three rounds of two-source interleaves (16-, 32-, 64-bit units), 24 shuffles.
    @inline(__always)
    static func transposed(_ r0: Halves, _ r1: Halves, _ r2: Halves, _ r3: Halves,
                           _ r4: Halves, _ r5: Halves, _ r6: Halves, _ r7: Halves)
        -> (Halves, Halves, Halves, Halves, Halves, Halves, Halves, Halves) {
        @inline(__always) func lo16(_ a: Halves, _ b: Halves) -> Halves { Halves(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]) }
        @inline(__always) func hi16(_ a: Halves, _ b: Halves) -> Halves { Halves(a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7]) }
        @inline(__always) func lo32(_ a: Halves, _ b: Halves) -> Halves {
            let x = unsafeBitCast(a, to: SIMD4<UInt32>.self), y = unsafeBitCast(b, to: SIMD4<UInt32>.self)
            return unsafeBitCast(SIMD4<UInt32>(x[0], y[0], x[1], y[1]), to: Halves.self)
        }
        @inline(__always) func hi32(_ a: Halves, _ b: Halves) -> Halves {
            let x = unsafeBitCast(a, to: SIMD4<UInt32>.self), y = unsafeBitCast(b, to: SIMD4<UInt32>.self)
            return unsafeBitCast(SIMD4<UInt32>(x[2], y[2], x[3], y[3]), to: Halves.self)
        }
        @inline(__always) func lo64(_ a: Halves, _ b: Halves) -> Halves {
            let x = unsafeBitCast(a, to: SIMD2<UInt64>.self), y = unsafeBitCast(b, to: SIMD2<UInt64>.self)
            return unsafeBitCast(SIMD2<UInt64>(x[0], y[0]), to: Halves.self)
        }
        @inline(__always) func hi64(_ a: Halves, _ b: Halves) -> Halves {
            let x = unsafeBitCast(a, to: SIMD2<UInt64>.self), y = unsafeBitCast(b, to: SIMD2<UInt64>.self)
            return unsafeBitCast(SIMD2<UInt64>(x[1], y[1]), to: Halves.self)
        }
        let t0 = lo16(r0, r1), t1 = hi16(r0, r1), t2 = lo16(r2, r3), t3 = hi16(r2, r3)
        let t4 = lo16(r4, r5), t5 = hi16(r4, r5), t6 = lo16(r6, r7), t7 = hi16(r6, r7)
        let u0 = lo32(t0, t2), u1 = hi32(t0, t2), u2 = lo32(t1, t3), u3 = hi32(t1, t3)
        let u4 = lo32(t4, t6), u5 = hi32(t4, t6), u6 = lo32(t5, t7), u7 = hi32(t5, t7)
        return (lo64(u0, u4), hi64(u0, u4), lo64(u1, u5), hi64(u1, u5), lo64(u2, u6), hi64(u2, u6), lo64(u3, u7), hi64(u3, u7))
    }

    /// Where weight element `t` (flattened (c, kh, kw) of one output) reads its input: the
    /// channel plane's offset from the group's first, and the kernel row and column.
    struct Tap {
        /// Element offset from the window's (0, 0) tap in the group's first channel.
        var offset: Int, kh: Int, kw: Int
        @inline(__always)
        init(_ t: Int, _ g: Window2D) {
            let kk = g.kernelHeight * g.kernelWidth
            let c = t / kk, r = t - c * kk
            kh = r / g.kernelWidth
            kw = r - kh * g.kernelWidth
            offset = c * g.height * g.width + kh * g.width + kw
        }
    }

    /// Weight elements `t ..< t + count` (count 1...9) of outputs `m ..< m + lanes`.
    @inline(__always)
    static func weightGradientBlock(_ count: Int, dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                                    m: Int, lanes: Int, t: Int, rows: Int, _ g: Window2D) {
        let mg = g.outputs / g.group, cg = g.channelsPerGroup
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let sh = g.strideHeight, sw = g.strideWidth, pt = g.padTop, pl = g.padLeft
        let t0 = Tap(t, g)
        let t1 = count > 1 ? Tap(t + 1, g) : t0, t2 = count > 2 ? Tap(t + 2, g) : t0
        let t3 = count > 3 ? Tap(t + 3, g) : t0, t4 = count > 4 ? Tap(t + 4, g) : t0
        let t5 = count > 5 ? Tap(t + 5, g) : t0, t6 = count > 6 ? Tap(t + 6, g) : t0
        let t7 = count > 7 ? Tap(t + 7, g) : t0, t8 = count > 8 ? Tap(t + 8, g) : t0
        // Pixels whose every tap lies inside the input skip the per-tap test.
        let rowsInside = Conv2D.interiorRange(out: g.outHeight, stride: sh, pad: pt, kernel: g.kernelHeight, size: g.height)
        let columnsInside = Conv2D.interiorRange(out: g.outWidth, stride: sw, pad: pl, kernel: g.kernelWidth, size: g.width)
        // Lanes past `lanes` read output m's dy again (valid memory) and are never stored.
        let l1 = lanes > 1 ? outPlane : 0, l2 = lanes > 2 ? 2 * outPlane : 0, l3 = lanes > 3 ? 3 * outPlane : 0
        let l4 = lanes > 4 ? 4 * outPlane : 0, l5 = lanes > 5 ? 5 * outPlane : 0
        let l6 = lanes > 6 ? 6 * outPlane : 0, l7 = lanes > 7 ? 7 * outPlane : 0
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector(), a4 = Vector()
        var a5 = Vector(), a6 = Vector(), a7 = Vector(), a8 = Vector()
        // Index arithmetic wraps (`&+`): the verifier proved every index in range, and checked
        // arithmetic kept an overflow flag per pixel and tap on the stack.
        let width = g.width, height = g.height
        // A block of 9 that is one input channel's 3×3 kernel (taps (0,0) … (2,2) in order).
        let rows3 = count == 9 && g.kernelHeight == 3 && g.kernelWidth == 3 && t0.kh == 0 && t0.kw == 0
        let twoRows = 2 &* width, xCount = x.count
        // dy of the 8 lanes at 8 consecutive pixels, loaded as 8 rows and transposed in
        // registers (pixel j's lanes in vector j): 128 bytes, refilled every 8 pixels.
        var cache = (SIMD8<UInt16>(), SIMD8<UInt16>(), SIMD8<UInt16>(), SIMD8<UInt16>(),
                     SIMD8<UInt16>(), SIMD8<UInt16>(), SIMD8<UInt16>(), SIMD8<UInt16>())
        var n = 0
        while n < rows {
            let d0 = (n &* g.outputs &+ m) &* outPlane
            let xGroup = (n &* g.channels &+ (m / mg) &* cg) &* plane
            var cacheStart = -8
            var oh = 0
            while oh < g.outHeight {
                let ih0 = oh &* sh &- pt
                let rowInside = rowsInside.contains(oh)
                var ow = 0
                while ow < g.outWidth {
                    let iw0 = ow &* sw &- pl
                    let xo = xGroup &+ ih0 &* width &+ iw0
                    let d = d0 &+ oh &* g.outWidth &+ ow
                    let p = d &- d0
                    let dv: Vector
                    if UInt(bitPattern: p &- cacheStart) < 8 {
                        dv = widened(withUnsafeBytes(of: &cache) { $0.loadUnaligned(fromByteOffset: (p &- cacheStart) &* 16, as: SIMD8<UInt16>.self) })
                    } else if p &+ 8 <= outPlane {
                        cache = transposed(dy.row8(d), dy.row8(d &+ l1), dy.row8(d &+ l2), dy.row8(d &+ l3),
                                           dy.row8(d &+ l4), dy.row8(d &+ l5), dy.row8(d &+ l6), dy.row8(d &+ l7))
                        cacheStart = p
                        dv = widened(cache.0)
                    } else {
                        dv = widened(SIMD8<UInt16>(dy[d].bitPattern, dy[d &+ l1].bitPattern, dy[d &+ l2].bitPattern, dy[d &+ l3].bitPattern,
                                                   dy[d &+ l4].bitPattern, dy[d &+ l5].bitPattern, dy[d &+ l6].bitPattern, dy[d &+ l7].bitPattern))
                    }
                    if rowInside && columnsInside.contains(ow) {
                        if rows3 && xo &+ t0.offset &+ twoRows &+ 4 <= xCount {
                            // One input channel's 3×3 window: three row loads, each widened
                            // once and its lanes broadcast (the same values as scalar reads).
                            let r = xo &+ t0.offset
                            let r0 = x.widened4(r), r1 = x.widened4(r &+ width), r2 = x.widened4(r &+ twoRows)
                            a0 += dv * Vector(repeating: r0[0]); a1 += dv * Vector(repeating: r0[1]); a2 += dv * Vector(repeating: r0[2])
                            a3 += dv * Vector(repeating: r1[0]); a4 += dv * Vector(repeating: r1[1]); a5 += dv * Vector(repeating: r1[2])
                            a6 += dv * Vector(repeating: r2[0]); a7 += dv * Vector(repeating: r2[1]); a8 += dv * Vector(repeating: r2[2])
                            ow &+= 1
                            continue
                        }
                        a0 += dv * Float(x[xo &+ t0.offset])
                        if count > 1 { a1 += dv * Float(x[xo &+ t1.offset]) }
                        if count > 2 { a2 += dv * Float(x[xo &+ t2.offset]) }
                        if count > 3 { a3 += dv * Float(x[xo &+ t3.offset]) }
                        if count > 4 { a4 += dv * Float(x[xo &+ t4.offset]) }
                        if count > 5 { a5 += dv * Float(x[xo &+ t5.offset]) }
                        if count > 6 { a6 += dv * Float(x[xo &+ t6.offset]) }
                        if count > 7 { a7 += dv * Float(x[xo &+ t7.offset]) }
                        if count > 8 { a8 += dv * Float(x[xo &+ t8.offset]) }
                    } else {
                        // The tap's input, or nil when it lies in the padding (skipped).
                        @inline(__always) func tap(_ p: Tap) -> Float? {
                            let ih = ih0 &+ p.kh, iw = iw0 &+ p.kw
                            guard UInt(bitPattern: ih) < UInt(height) && UInt(bitPattern: iw) < UInt(width) else { return nil }
                            return Float(x[xo &+ p.offset])
                        }
                        if let v = tap(t0) { a0 += dv * v }
                        if count > 1, let v = tap(t1) { a1 += dv * v }
                        if count > 2, let v = tap(t2) { a2 += dv * v }
                        if count > 3, let v = tap(t3) { a3 += dv * v }
                        if count > 4, let v = tap(t4) { a4 += dv * v }
                        if count > 5, let v = tap(t5) { a5 += dv * v }
                        if count > 6, let v = tap(t6) { a6 += dv * v }
                        if count > 7, let v = tap(t7) { a7 += dv * v }
                        if count > 8, let v = tap(t8) { a8 += dv * v }
                    }
                    ow &+= 1
                }
                oh &+= 1
            }
            n &+= 1
        }
        // Lane i holds output m + i's element: scattered to rows wpo apart.
        let wpo = g.weightsPerOutput
        @inline(__always) func store(_ a: Vector, _ j: Int) {
            var i = 0
            while i < lanes { dW[(m + i) * wpo + t + j] = Float16(a[i]); i += 1 }
        }
        store(a0, 0)
        if count > 1 { store(a1, 1) }
        if count > 2 { store(a2, 2) }
        if count > 3 { store(a3, 3) }
        if count > 4 { store(a4, 4) }
        if count > 5 { store(a5, 5) }
        if count > 6 { store(a6, 6) }
        if count > 7 { store(a7, 7) }
        if count > 8 { store(a8, 8) }
    }
}

extension Conv2DVectorized {
    /// A weight storage element that can be read eight at a time, `stride` apart, as compute sees
    /// it. Its own protocol (rather than `DenseVectorized.Operand.column`) so the widening is the
    /// spelled-out `widened`: perf found the stdlib's generic `SIMD8<Float>(SIMD8<Float16>)` left
    /// as a call per gather in the dx kernel.
    protocol Operand: HalfComputable {
        /// Elements `i`, `i + stride`, … `i + 7·stride` as fp16 bit patterns (fp32 masters
        /// rounded to nearest even, as `computeValue` does).
        static func halfColumn(_ v: TensorView<Self>, _ i: Int, stride: Int) -> SIMD8<UInt16>
    }
}

extension Float16: Conv2DVectorized.Operand {
    @inline(__always)
    static func halfColumn(_ v: TensorView<Float16>, _ i: Int, stride s: Int) -> SIMD8<UInt16> {
        SIMD8<UInt16>(v[i].bitPattern, v[i &+ s].bitPattern, v[i &+ 2 &* s].bitPattern, v[i &+ 3 &* s].bitPattern,
                      v[i &+ 4 &* s].bitPattern, v[i &+ 5 &* s].bitPattern, v[i &+ 6 &* s].bitPattern, v[i &+ 7 &* s].bitPattern)
    }
}

extension Float: Conv2DVectorized.Operand {
    @inline(__always)
    static func halfColumn(_ v: TensorView<Float>, _ i: Int, stride s: Int) -> SIMD8<UInt16> {
        let f = SIMD8<Float>(v[i], v[i &+ s], v[i &+ 2 &* s], v[i &+ 3 &* s], v[i &+ 4 &* s], v[i &+ 5 &* s], v[i &+ 6 &* s], v[i &+ 7 &* s])
        return unsafeBitCast(DenseVectorized.rounded(f), to: SIMD8<UInt16>.self)
    }
}

extension TensorView where Scalar: Conv2DVectorized.Operand {
    /// Elements `i`, `i + stride`, … `i + 7·stride` as compute sees them (fp32 masters rounded to fp16).
    @inline(__always)
    func computeColumn8(_ i: Int, stride: Int) -> SIMD8<Float> {
        assert(i >= 0 && i + 7 * stride < count, "tensor index out of range")
        return Conv2DVectorized.widened(Scalar.halfColumn(self, i, stride: stride))
    }
}

extension TensorView where Scalar == Float16 {
    /// Writes lane k of `v`, rounded to fp16, to element `i + k·stride`.
    @inline(__always)
    func scatterRounded8(_ v: SIMD8<Float>, at i: Int, stride: Int) {
        let h = SIMD8<Float16>(Float16(v[0]), Float16(v[1]), Float16(v[2]), Float16(v[3]),
                               Float16(v[4]), Float16(v[5]), Float16(v[6]), Float16(v[7]))
        var k = 0
        while k < 8 { self[i + k * stride] = h[k]; k += 1 }
    }

    /// Elements `i ..< i + 8`, widened (exact). Host only: one unaligned load and one `vcvtph2ps`.
    @inline(__always)
    func widened8(_ i: Int) -> SIMD8<Float> {
        assert(i >= 0 && i + 8 <= count, "tensor index out of range")
        return Conv2DVectorized.widened(UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<UInt16>.self))
    }

    /// Elements `i ..< i + 8` as bit patterns. Host only: one unaligned load.
    @inline(__always)
    func row8(_ i: Int) -> SIMD8<UInt16> {
        assert(i >= 0 && i + 8 <= count, "tensor index out of range")
        return UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<UInt16>.self)
    }

    /// Writes bit patterns `bits` to elements `i ..< i + 8`. Host only: one unaligned store.
    @inline(__always)
    func storeRow8(_ bits: SIMD8<UInt16>, at i: Int) {
        assert(i >= 0 && i + 8 <= count, "tensor index out of range")
        UnsafeMutableRawPointer(base + i).storeBytes(of: bits, as: SIMD8<UInt16>.self)
    }

    /// Elements `i ..< i + 4`, widened (exact). Host only: one `vcvtph2ps` from memory.
    @inline(__always)
    func widened4(_ i: Int) -> SIMD4<Float> {
        assert(i >= 0 && i + 4 <= count, "tensor index out of range")
        let h = unsafeBitCast(UnsafeRawPointer(base + i).loadUnaligned(as: SIMD4<UInt16>.self), to: SIMD4<Float16>.self)
        return SIMD4<Float>(Float(h[0]), Float(h[1]), Float(h[2]), Float(h[3]))
    }

    /// Writes `v` rounded to fp16 (nearest even, as `Float16(_:)`) to elements `i ..< i + 8`.
    @inline(__always)
    func storeRounded8(_ v: SIMD8<Float>, at i: Int) {
        assert(i >= 0 && i + 8 <= count, "tensor index out of range")
        let h = SIMD8<Float16>(Float16(v[0]), Float16(v[1]), Float16(v[2]), Float16(v[3]),
                               Float16(v[4]), Float16(v[5]), Float16(v[6]), Float16(v[7]))
        UnsafeMutableRawPointer(base + i).storeBytes(of: h, as: SIMD8<Float16>.self)
    }
}
#endif
