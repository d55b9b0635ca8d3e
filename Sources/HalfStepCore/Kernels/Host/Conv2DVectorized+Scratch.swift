#if arch(x86_64) || arch(arm64)
/// `Conv2DVectorized` when the host gave the step a `KernelScratch`: the same results bit for
/// bit, with the operands repacked into fp32 once per call (so a lane vector is one load and a
/// broadcast value one more), and pixels grouped so that no tap needs a padding test.
///
/// Shapes: N batch, C in, M out, G groups; x [N, C, H, W] · W [M, C/G, KH, KW] · b [M] → y [N, M, OH, OW].
///
/// Scratch (`ScratchLayout`, fp32): W repacked, dy transposed to dyᵀ [N, OH·OW, M], x widened.
/// - forward (any window but 1×1, groups of 8 or more outputs): W as [C/G·KH·KW, M];
///   lanes are 8 consecutive outputs of one group, or 16 as two vectors, and up to 6 output
///   pixels (5 with 16 lanes) share each loaded weight vector; inputs broadcast from widened x.
/// - dx (same windows, groups of 8 or more input channels): W as [M, KH, KW, C/G]; lanes are 8 or
///   16 consecutive input channels, pixels as in forward; gradients broadcast from dyᵀ.
/// - dW (any window; groups of 8 or more outputs and 4 or more input channels): lanes are 8 or 16
///   consecutive outputs read from dyᵀ, and up to 6 (5) input channels at one kernel position
///   share each loaded dy vector; inputs broadcast from widened x.
///
/// Why no tap needs a test: forward and dx take the pixels of a block from one *class*, pixels
/// whose windows meet the padding alike (a run of rows whose clipped kernel rows are the same,
/// times such a run of columns, over all samples), so one clipped tap loop serves every pixel of
/// the block. dW clips its pixel range per kernel position, as the portable kernel does. Every
/// output still sums exactly the portable kernel's taps in its order — forward (input channel,
/// kernel row, kernel column), dx (output channel, kernel row, kernel column), dW (sample, output
/// row, output column) — from +0, one separately rounded product at a time (fp16 values widen to
/// fp32 exactly, and W is stored as compute sees it), and rounds to fp16 once. Lanes hold
/// different outputs, never parts of one sum.
///
/// The repacking is one pass over W, dy and x per call against one multiply-accumulate per weight
/// per output pixel; nothing allocates: the scratch was made before the first step.
extension Conv2DVectorized {
    /// Where each repacked operand lives in the scratch, in fp32 elements from its start: W, dyᵀ
    /// (8 elements of slack: a block's last lanes may read past the last output, never stored),
    /// then widened x; each section starts a multiple of 8 elements from the scratch's start.
    struct ScratchLayout {
        var weights: Int, gradient: Int, input: Int, total: Int

        init(rows: Int, _ g: Window2D) {
            @inline(__always) func aligned(_ v: Int) -> Int { (v + 7) & ~7 }
            weights = 0
            gradient = aligned(g.outputs * g.weightsPerOutput)
            input = gradient + aligned(rows * g.outHeight * g.outWidth * g.outputs + 8)
            total = input + rows * g.channels * g.height * g.width
        }
    }

    /// fp32 elements of scratch the paths here use for one convolution at up to `rows` samples
    /// (0 when none of them applies to `g`).
    public static func scratchFloats(rows: Int, window g: Window2D) -> Int {
        usesScratchForward(g) || usesScratchInputGradient(g) || usesScratchWeightGradient(g) ? ScratchLayout(rows: rows, g).total : 0
    }

    /// Windows with 8 or more outputs per group, 1×1 ones excepted (their pixel lanes read
    /// consecutive inputs with no padding to mask). Stride-1 same-size windows come here too: their
    /// pixel lanes mask the padded columns at every kernel column but the middle one, and a first
    /// layer's single input channel gives each loaded input vector only 9 taps to serve.
    static func usesScratchForward(_ g: Window2D) -> Bool {
        !g.isPointwise && g.outputs / g.group >= 8
    }

    /// Strided and shrinking windows with 8 or more input channels per group (stride-1 same-size
    /// and 1×1 windows keep their pixel lanes).
    static func usesScratchInputGradient(_ g: Window2D) -> Bool {
        !(g.isPointwise || isSameStrideOne(g)) && g.channelsPerGroup >= 8
    }

    /// At least 4 input channels per group, to share each dy vector among enough sums (a block
    /// of fewer is bound by the latency of its additions).
    static func usesScratchWeightGradient(_ g: Window2D) -> Bool {
        g.outputs / g.group >= 8 && g.channelsPerGroup >= 4
    }

    /// Pixels (dW: channels) per block with 16 lanes: 2 × 5 accumulators, 2 weight vectors and a
    /// broadcast value fit AVX2's 16 vector registers (2 × 6 spilled).
    static var widePixels: Int { 5 }

    // MARK: - Repacking

    /// `xf[i] = x[i]` widened (exact), for the first `count` elements.
    static func widen(_ x: TensorView<Float16>, into xf: TensorView<Float>, count: Int) {
        var i = 0
        while i &+ 8 <= count {
            xf.store8(x.widened8(i), at: i)
            i &+= 8
        }
        while i < count {
            xf[i] = Float(x[i])
            i &+= 1
        }
    }

    /// `dyT[n, p, m] = dy[n, m, p]` widened, for the first `rows` samples: 8 × 8 blocks loaded as
    /// rows and transposed in registers; what is left over one element at a time.
    static func transpose(_ dy: TensorView<Float16>, into dyT: TensorView<Float>, rows: Int, _ g: Window2D) {
        let mCount = g.outputs, outPlane = g.outHeight * g.outWidth
        var n = 0
        while n < rows {
            let src = n &* mCount &* outPlane, dst = src
            var m = 0
            while m &+ 8 <= mCount {
                let s = src &+ m &* outPlane
                var p = 0
                while p &+ 8 <= outPlane {
                    let r = s &+ p
                    let t = transposed(dy.row8(r), dy.row8(r &+ outPlane), dy.row8(r &+ 2 &* outPlane), dy.row8(r &+ 3 &* outPlane),
                                       dy.row8(r &+ 4 &* outPlane), dy.row8(r &+ 5 &* outPlane), dy.row8(r &+ 6 &* outPlane),
                                       dy.row8(r &+ 7 &* outPlane))
                    let d = dst &+ p &* mCount &+ m
                    dyT.store8(widened(t.0), at: d); dyT.store8(widened(t.1), at: d &+ mCount)
                    dyT.store8(widened(t.2), at: d &+ 2 &* mCount); dyT.store8(widened(t.3), at: d &+ 3 &* mCount)
                    dyT.store8(widened(t.4), at: d &+ 4 &* mCount); dyT.store8(widened(t.5), at: d &+ 5 &* mCount)
                    dyT.store8(widened(t.6), at: d &+ 6 &* mCount); dyT.store8(widened(t.7), at: d &+ 7 &* mCount)
                    p &+= 8
                }
                while p < outPlane {
                    var i = 0
                    while i < 8 { dyT[dst &+ p &* mCount &+ m &+ i] = Float(dy[s &+ i &* outPlane &+ p]); i &+= 1 }
                    p &+= 1
                }
                m &+= 8
            }
            while m < mCount {
                var p = 0
                while p < outPlane { dyT[dst &+ p &* mCount &+ m] = Float(dy[src &+ m &* outPlane &+ p]); p &+= 1 }
                m &+= 1
            }
            n &+= 1
        }
    }

    /// `wt[t, m] = W[m, t]` as compute sees it, t the flattened (channel, kernel row, kernel column).
    static func packOutputsInner<W: HalfComputable>(_ w: TensorView<W>, into wt: TensorView<Float>, _ g: Window2D) {
        let mCount = g.outputs, wpo = g.weightsPerOutput
        var m = 0
        while m < mCount {
            var t = 0
            while t < wpo {
                wt[t &* mCount &+ m] = w[m &* wpo &+ t].computeValue
                t &+= 1
            }
            m &+= 1
        }
    }

    /// `wd[m, kh, kw, c] = W[m, c, kh, kw]` as compute sees it (c local to the group).
    static func packChannelsInner<W: HalfComputable>(_ w: TensorView<W>, into wd: TensorView<Float>, _ g: Window2D) {
        let cg = g.channelsPerGroup, kk = g.kernelHeight * g.kernelWidth, wpo = g.weightsPerOutput
        var m = 0
        while m < g.outputs {
            var c = 0
            while c < cg {
                var t = 0
                while t < kk {
                    wd[(m &* kk &+ t) &* cg &+ c] = w[m &* wpo &+ c &* kk &+ t].computeValue
                    t &+= 1
                }
                c &+= 1
            }
            m &+= 1
        }
    }

    // MARK: - Pixel classes

    /// Pixels along one axis whose windows meet the padding alike: positions `first`,
    /// `first + step`, … (`count` of them) all read kernel taps `tapFirst`, `tapFirst + tapStep`, …
    /// up to `tapLast` (none when `tapFirst > tapLast`).
    struct AxisRun {
        var first = 0, step = 1, count = 0
        var tapFirst = 0, tapLast = -1, tapStep = 1
        /// dx: the output row (column) the first position reads at tap `tapFirst`; later
        /// positions of the run read one further per position.
        var partner = 0

        /// The taps of output position `o` in forward: those whose input lies inside.
        @inline(__always)
        static func forward(_ o: Int, stride: Int, pad: Int, kernel: Int, size: Int) -> AxisRun {
            let i0 = o &* stride &- pad
            return AxisRun(first: o, step: 1, count: 1, tapFirst: max(0, -i0), tapLast: min(kernel, size &- i0) &- 1, tapStep: 1)
        }

        /// The taps of input position `i` in dx: those whose output position exists, as the
        /// portable kernel finds them.
        @inline(__always)
        static func input(_ i: Int, stride: Int, pad: Int, kernel: Int, outputs: Int) -> AxisRun {
            let t0 = i &+ pad
            let lo = max(0, t0 &- (outputs &- 1) &* stride), last = min(kernel &- 1, t0)
            let first = lo &+ (t0 &- lo) % stride
            return AxisRun(first: i, step: stride, count: 1, tapFirst: first, tapLast: last, tapStep: stride,
                           partner: (t0 &- first) / stride)
        }

        /// Same taps as `other`.
        @inline(__always)
        func sameTaps(_ other: AxisRun) -> Bool {
            tapFirst == other.tapFirst && tapLast == other.tapLast
        }
    }

    /// The pixels of one class: a run of rows times a run of columns, in every sample, visited
    /// sample by sample, row by row.
    struct PixelClass {
        var rows: AxisRun, columns: AxisRun
        var perSample: Int { rows.count &* columns.count }

        /// A pixel: its sample, and its index in the row run and in the column run.
        struct Pixel { var n = 0, i = 0, j = 0 }

        /// The pixel after `p` (stepped rather than divided out of a running index).
        @inline(__always)
        func next(_ p: Pixel) -> Pixel {
            if p.j &+ 1 < columns.count { return Pixel(n: p.n, i: p.i, j: p.j &+ 1) }
            if p.i &+ 1 < rows.count { return Pixel(n: p.n, i: p.i &+ 1, j: 0) }
            return Pixel(n: p.n &+ 1, i: 0, j: 0)
        }
    }

    /// Calls `body` with every class of a plane: runs of positions `residue`, `residue + step`, …
    /// along rows (`rowRun(p)` gives a position's taps) times such runs along columns.
    static func forEachClass(rowSize: Int, rowStep: Int, rowRun: (Int) -> AxisRun,
                             columnSize: Int, columnStep: Int, columnRun: (Int) -> AxisRun,
                             _ body: (PixelClass) -> Void) {
        func runs(size: Int, step: Int, _ run: (Int) -> AxisRun, _ each: (AxisRun) -> Void) {
            var residue = 0
            while residue < min(step, size) {
                var p = residue
                while p < size {
                    var r = run(p)
                    var q = p &+ step
                    while q < size && run(q).sameTaps(r) { r.count &+= 1; q &+= step }
                    each(r)
                    p = q
                }
                residue &+= 1
            }
        }
        runs(size: rowSize, step: rowStep, rowRun) { rows in
            runs(size: columnSize, step: columnStep, columnRun) { columns in body(PixelClass(rows: rows, columns: columns)) }
        }
    }

    // MARK: - Forward

    /// `forward` for `usesScratchForward` windows, in `scratch` (at least `ScratchLayout.total`
    /// elements). Outputs left over in a group (fewer than 8) take the one-output loop.
    static func scratchForward(y: TensorView<Float16>, x: TensorView<Float16>, weight: ParameterView,
                               bias: ParameterView?, rows: Int, _ g: Window2D, scratch: TensorView<Float>) {
        let layout = ScratchLayout(rows: rows, g)
        let wt = scratch.slice(layout.weights, g.outputs * g.weightsPerOutput)
        let xf = scratch.slice(layout.input, rows * g.channels * g.height * g.width)
        switch weight {
        case .half(let w): packOutputsInner(w, into: wt, g)
        case .master(let w): packOutputsInner(w, into: wt, g)
        }
        widen(x, into: xf, count: xf.count)
        let mg = g.outputs / g.group, cg = g.channelsPerGroup
        forEachClass(rowSize: g.outHeight, rowStep: 1,
                     rowRun: { AxisRun.forward($0, stride: g.strideHeight, pad: g.padTop, kernel: g.kernelHeight, size: g.height) },
                     columnSize: g.outWidth, columnStep: 1,
                     columnRun: { AxisRun.forward($0, stride: g.strideWidth, pad: g.padLeft, kernel: g.kernelWidth, size: g.width) }) { cls in
            let total = rows &* cls.perSample
            var m = 0
            while m < g.outputs {
                let left = mg &- m % mg
                if left < 8 { m &+= left; continue }
                let wide = left >= 16, most = wide ? widePixels : 6
                var bias0 = Vector(), bias1 = Vector()
                if let bias {
                    for i in 0 ..< 8 {
                        bias0[i] = bias.computeValue(m + i)
                        if wide { bias1[i] = bias.computeValue(m + 8 + i) }
                    }
                }
                let biases = (bias0, bias1)
                var k = 0, at = PixelClass.Pixel()
                while k < total {
                    // Constant block sizes, so each call specialises to straight-line code.
                    switch (min(most, total &- k), wide) {
                    case (5, true): scratchForwardBlock(Block.Five.self, Block.Wide.self, y: y, xf: xf, wt: wt, bias: biases, m: m, at: at, cls, g)
                    case (4, true): scratchForwardBlock(Block.Four.self, Block.Wide.self, y: y, xf: xf, wt: wt, bias: biases, m: m, at: at, cls, g)
                    case (3, true): scratchForwardBlock(Block.Three.self, Block.Wide.self, y: y, xf: xf, wt: wt, bias: biases, m: m, at: at, cls, g)
                    case (2, true): scratchForwardBlock(Block.Two.self, Block.Wide.self, y: y, xf: xf, wt: wt, bias: biases, m: m, at: at, cls, g)
                    case (_, true): scratchForwardBlock(Block.One.self, Block.Wide.self, y: y, xf: xf, wt: wt, bias: biases, m: m, at: at, cls, g)
                    case (6, false): scratchForwardBlock(Block.Six.self, Block.Narrow.self, y: y, xf: xf, wt: wt, bias: biases, m: m, at: at, cls, g)
                    case (5, false): scratchForwardBlock(Block.Five.self, Block.Narrow.self, y: y, xf: xf, wt: wt, bias: biases, m: m, at: at, cls, g)
                    case (4, false): scratchForwardBlock(Block.Four.self, Block.Narrow.self, y: y, xf: xf, wt: wt, bias: biases, m: m, at: at, cls, g)
                    case (3, false): scratchForwardBlock(Block.Three.self, Block.Narrow.self, y: y, xf: xf, wt: wt, bias: biases, m: m, at: at, cls, g)
                    case (2, false): scratchForwardBlock(Block.Two.self, Block.Narrow.self, y: y, xf: xf, wt: wt, bias: biases, m: m, at: at, cls, g)
                    case (_, false): scratchForwardBlock(Block.One.self, Block.Narrow.self, y: y, xf: xf, wt: wt, bias: biases, m: m, at: at, cls, g)
                    }
                    k &+= most
                    for _ in 0 ..< most { at = cls.next(at) }
                }
                m &+= wide ? 16 : 8
            }
        }
        if mg % 8 == 0 { return }
        // The last mg mod 8 outputs of each group, one output at a time in the same order.
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth, wpo = g.weightsPerOutput
        var n = 0
        while n < rows {
            var m = 0
            while m < g.outputs {
                if m % mg < mg - mg % 8 { m += 1; continue }
                let xGroup = (n * g.channels + (m / mg) * cg) * plane
                let yBase = (n * g.outputs + m) * outPlane
                var q = 0
                while q < outPlane {
                    let oh = q / g.outWidth, ow = q - oh * g.outWidth
                    let acc: Float
                    switch weight {
                    case .half(let w): acc = outputSum(x: x, w: w, xGroup: xGroup, wBase: m * wpo, oh: oh, ow: ow, g)
                    case .master(let w): acc = outputSum(x: x, w: w, xGroup: xGroup, wBase: m * wpo, oh: oh, ow: ow, g)
                    }
                    y[yBase + q] = Float16(acc + (bias.map { $0.computeValue(m) } ?? 0))
                    q += 1
                }
                m += 1
            }
            n += 1
        }
    }

    /// Outputs `m ..< m + 8` (16 when `L` is `Wide`) at `B.count` pixels of class `cls` from
    /// `first`: per tap, the weight vectors are loaded once and every pixel adds its input value
    /// times them; `bias` holds the outputs' biases (0 without).
    @inline(__always)
    static func scratchForwardBlock<B: BlockCount, L: BlockWidth>(_: B.Type, _: L.Type, y: TensorView<Float16>, xf: TensorView<Float>,
                                                                  wt: TensorView<Float>, bias: (Vector, Vector), m: Int,
                                                                  at first: PixelClass.Pixel, _ cls: PixelClass, _ g: Window2D) {
        let count = B.count, wide = L.wide
        let mg = g.outputs / g.group, cg = g.channelsPerGroup, mCount = g.outputs
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let kk = g.kernelHeight * g.kernelWidth, width = g.width, kw1 = g.kernelWidth
        let xGroup = (m / mg) * cg * plane
        // Where each pixel's tap (0, 0, 0) would be in x (its window's origin; taps outside are
        // never read) and its output in y. Pixels past `count` repeat the first: never stored.
        @inline(__always) func origin(_ p: PixelClass.Pixel) -> (x: Int, y: Int) {
            let oh = cls.rows.first &+ p.i, ow = cls.columns.first &+ p.j
            return ((p.n &* g.channels) &* plane &+ xGroup &+ (oh &* g.strideHeight &- g.padTop) &* width
                        &+ ow &* g.strideWidth &- g.padLeft,
                    (p.n &* mCount &+ m) &* outPlane &+ oh &* g.outWidth &+ ow)
        }
        let p1 = cls.next(first), p2 = cls.next(p1), p3 = cls.next(p2), p4 = cls.next(p3), p5 = cls.next(p4)
        let o0 = origin(first)
        let o1 = count > 1 ? origin(p1) : o0, o2 = count > 2 ? origin(p2) : o0
        let o3 = count > 3 ? origin(p3) : o0, o4 = count > 4 ? origin(p4) : o0, o5 = count > 5 ? origin(p5) : o0
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector(), a4 = Vector(), a5 = Vector()
        var b0 = Vector(), b1 = Vector(), b2 = Vector(), b3 = Vector(), b4 = Vector()
        let khFirst = cls.rows.tapFirst, khLast = cls.rows.tapLast
        let kwFirst = cls.columns.tapFirst, kwLast = cls.columns.tapLast
        // Index arithmetic wraps (`&+`): the verifier proved every index in range.
        var c = 0, xc = 0, tc = 0
        while c < cg {
            var kh = khFirst
            while kh <= khLast {
                let xr = xc &+ kh &* width, tr = tc &+ kh &* kw1
                var kw = kwFirst
                while kw <= kwLast {
                    let wi = (tr &+ kw) &* mCount &+ m
                    let w0 = wt.vector8(wi), w1 = wide ? wt.vector8(wi &+ 8) : w0
                    let r = xr &+ kw
                    @inline(__always) func input(_ o: (x: Int, y: Int)) -> Vector { Vector(repeating: xf[o.x &+ r]) }
                    let v0 = input(o0)
                    a0 += v0 * w0
                    if wide { b0 += v0 * w1 }
                    if count > 1 { let v = input(o1); a1 += v * w0; if wide { b1 += v * w1 } }
                    if count > 2 { let v = input(o2); a2 += v * w0; if wide { b2 += v * w1 } }
                    if count > 3 { let v = input(o3); a3 += v * w0; if wide { b3 += v * w1 } }
                    if count > 4 { let v = input(o4); a4 += v * w0; if wide { b4 += v * w1 } }
                    if count > 5 { let v = input(o5); a5 += v * w0 }
                    kw &+= 1
                }
                kh &+= 1
            }
            c &+= 1
            xc &+= plane
            tc &+= kk
        }
        let half = 8 * outPlane
        @inline(__always) func store(_ a: Vector, _ b: Vector, _ o: (x: Int, y: Int)) {
            y.scatterRounded8(a + bias.0, at: o.y, stride: outPlane)
            if wide { y.scatterRounded8(b + bias.1, at: o.y + half, stride: outPlane) }
        }
        store(a0, b0, o0)
        if count > 1 { store(a1, b1, o1) }
        if count > 2 { store(a2, b2, o2) }
        if count > 3 { store(a3, b3, o3) }
        if count > 4 { store(a4, b4, o4) }
        if count > 5 { store(a5, b0, o5) }
    }

    // MARK: - Backward

    /// `backward`'s dx and dW for the windows `usesScratchInputGradient` and
    /// `usesScratchWeightGradient` accept, in `scratch` (at least `ScratchLayout.total`
    /// elements); false (nothing written) when neither applies to `g`.
    static func scratchBackward(dx: TensorView<Float16>?, dW: TensorView<Float16>?, dy: TensorView<Float16>,
                                x: TensorView<Float16>, weight: ParameterView, rows: Int, _ g: Window2D,
                                scratch: TensorView<Float>) -> (dx: Bool, dW: Bool) {
        let doDx = dx != nil && usesScratchInputGradient(g), doDW = dW != nil && usesScratchWeightGradient(g)
        if !doDx && !doDW { return (false, false) }
        let layout = ScratchLayout(rows: rows, g)
        let dyT = scratch.slice(layout.gradient, layout.input - layout.gradient)
        transpose(dy, into: dyT, rows: rows, g)
        if doDx, let dx {
            let wd = scratch.slice(layout.weights, g.outputs * g.weightsPerOutput)
            switch weight {
            case .half(let w): packChannelsInner(w, into: wd, g)
            case .master(let w): packChannelsInner(w, into: wd, g)
            }
            scratchInputGradient(dx: dx, dy: dy, dyT: dyT, wd: wd, weight: weight, rows: rows, g)
        }
        if doDW, let dW {
            let xf = scratch.slice(layout.input, rows * g.channels * g.height * g.width)
            widen(x, into: xf, count: xf.count)
            scratchWeightGradient(dW: dW, dyT: dyT, xf: xf, rows: rows, g)
        }
        return (doDx, doDW)
    }

    /// dx from `dyT` and the weights repacked in `wd` ([M, KH, KW, C/G]). Channels left over in a
    /// group (fewer than 8) take the one-element loop.
    static func scratchInputGradient(dx: TensorView<Float16>, dy: TensorView<Float16>, dyT: TensorView<Float>,
                                     wd: TensorView<Float>, weight: ParameterView, rows: Int, _ g: Window2D) {
        let cg = g.channelsPerGroup
        forEachClass(rowSize: g.height, rowStep: g.strideHeight,
                     rowRun: { AxisRun.input($0, stride: g.strideHeight, pad: g.padTop, kernel: g.kernelHeight, outputs: g.outHeight) },
                     columnSize: g.width, columnStep: g.strideWidth,
                     columnRun: { AxisRun.input($0, stride: g.strideWidth, pad: g.padLeft, kernel: g.kernelWidth, outputs: g.outWidth) }) { cls in
            let total = rows &* cls.perSample
            var c = 0
            while c < g.channels {
                let left = cg &- c % cg
                if left < 8 { c &+= left; continue }
                let wide = left >= 16, most = wide ? widePixels : 6
                var k = 0, at = PixelClass.Pixel()
                while k < total {
                    // Constant block sizes, so each call specialises to straight-line code.
                    switch (min(most, total &- k), wide) {
                    case (5, true): scratchInputGradientBlock(Block.Five.self, Block.Wide.self, dx: dx, dyT: dyT, wd: wd, c: c, at: at, cls, g)
                    case (4, true): scratchInputGradientBlock(Block.Four.self, Block.Wide.self, dx: dx, dyT: dyT, wd: wd, c: c, at: at, cls, g)
                    case (3, true): scratchInputGradientBlock(Block.Three.self, Block.Wide.self, dx: dx, dyT: dyT, wd: wd, c: c, at: at, cls, g)
                    case (2, true): scratchInputGradientBlock(Block.Two.self, Block.Wide.self, dx: dx, dyT: dyT, wd: wd, c: c, at: at, cls, g)
                    case (_, true): scratchInputGradientBlock(Block.One.self, Block.Wide.self, dx: dx, dyT: dyT, wd: wd, c: c, at: at, cls, g)
                    case (6, false): scratchInputGradientBlock(Block.Six.self, Block.Narrow.self, dx: dx, dyT: dyT, wd: wd, c: c, at: at, cls, g)
                    case (5, false): scratchInputGradientBlock(Block.Five.self, Block.Narrow.self, dx: dx, dyT: dyT, wd: wd, c: c, at: at, cls, g)
                    case (4, false): scratchInputGradientBlock(Block.Four.self, Block.Narrow.self, dx: dx, dyT: dyT, wd: wd, c: c, at: at, cls, g)
                    case (3, false): scratchInputGradientBlock(Block.Three.self, Block.Narrow.self, dx: dx, dyT: dyT, wd: wd, c: c, at: at, cls, g)
                    case (2, false): scratchInputGradientBlock(Block.Two.self, Block.Narrow.self, dx: dx, dyT: dyT, wd: wd, c: c, at: at, cls, g)
                    case (_, false): scratchInputGradientBlock(Block.One.self, Block.Narrow.self, dx: dx, dyT: dyT, wd: wd, c: c, at: at, cls, g)
                    }
                    k &+= most
                    for _ in 0 ..< most { at = cls.next(at) }
                }
                c &+= wide ? 16 : 8
            }
        }
        if cg % 8 == 0 { return }
        // The last cg mod 8 channels of each group, one element at a time in the same order.
        let plane = g.height * g.width
        var n = 0
        while n < rows {
            var c = 0
            while c < g.channels {
                if c % cg < cg - cg % 8 { c += 1; continue }
                var p = 0
                while p < plane {
                    let acc: Float
                    switch weight {
                    case .half(let w): acc = inputSum(dy: dy, w: w, n: n, c: c, ih: p / g.width, iw: p % g.width, g)
                    case .master(let w): acc = inputSum(dy: dy, w: w, n: n, c: c, ih: p / g.width, iw: p % g.width, g)
                    }
                    dx[(n * g.channels + c) * plane + p] = Float16(acc)
                    p += 1
                }
                c += 1
            }
            n += 1
        }
    }

    /// Input channels `c ..< c + 8` (16 when `L` is `Wide`) at `B.count` pixels from `first` of
    /// class `cls`, each summing (output channel, kernel row, kernel column) in the portable
    /// order; the class's pixels reach the same taps, each at its own dy position.
    @inline(__always)
    static func scratchInputGradientBlock<B: BlockCount, L: BlockWidth>(_: B.Type, _: L.Type, dx: TensorView<Float16>,
                                                                        dyT: TensorView<Float>, wd: TensorView<Float>,
                                                                        c: Int, at first: PixelClass.Pixel, _ cls: PixelClass,
                                                                        _ g: Window2D) {
        let count = B.count, wide = L.wide
        let cg = g.channelsPerGroup, mg = g.outputs / g.group, mCount = g.outputs
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth, outWidth = g.outWidth
        let kk = g.kernelHeight * g.kernelWidth, kw1 = g.kernelWidth, sh = g.strideHeight, sw = g.strideWidth
        let group = c / cg, local = c &- group &* cg
        // Each pixel's dyᵀ element at the class's first taps, output channel 0 of the group, and
        // its dx element of channel c.
        @inline(__always) func origin(_ p: PixelClass.Pixel) -> (d: Int, x: Int) {
            let oh = cls.rows.partner &+ p.i, ow = cls.columns.partner &+ p.j
            let ih = cls.rows.first &+ p.i &* sh, iw = cls.columns.first &+ p.j &* sw
            return ((p.n &* outPlane &+ oh &* outWidth &+ ow) &* mCount &+ group &* mg,
                    (p.n &* g.channels &+ c) &* plane &+ ih &* g.width &+ iw)
        }
        let p1 = cls.next(first), p2 = cls.next(p1), p3 = cls.next(p2), p4 = cls.next(p3), p5 = cls.next(p4)
        let o0 = origin(first)
        let o1 = count > 1 ? origin(p1) : o0, o2 = count > 2 ? origin(p2) : o0
        let o3 = count > 3 ? origin(p3) : o0, o4 = count > 4 ? origin(p4) : o0, o5 = count > 5 ? origin(p5) : o0
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector(), a4 = Vector(), a5 = Vector()
        var b0 = Vector(), b1 = Vector(), b2 = Vector(), b3 = Vector(), b4 = Vector()
        let khFirst = cls.rows.tapFirst, khLast = cls.rows.tapLast
        let kwFirst = cls.columns.tapFirst, kwLast = cls.columns.tapLast
        // Index arithmetic wraps (`&+`): the verifier proved every index in range. Each later
        // kernel row (column) of the class reads one output row (column) earlier.
        let rowBack = outWidth &* mCount
        var ml = 0
        while ml < mg {
            let wm = (group &* mg &+ ml) &* kk
            var kh = khFirst, dr = ml
            while kh <= khLast {
                var kw = kwFirst, r = dr
                while kw <= kwLast {
                    let wi = (wm &+ kh &* kw1 &+ kw) &* cg &+ local
                    let w0 = wd.vector8(wi), w1 = wide ? wd.vector8(wi &+ 8) : w0
                    @inline(__always) func gradient(_ o: (d: Int, x: Int)) -> Vector { Vector(repeating: dyT[o.d &+ r]) }
                    let v0 = gradient(o0)
                    a0 += v0 * w0
                    if wide { b0 += v0 * w1 }
                    if count > 1 { let v = gradient(o1); a1 += v * w0; if wide { b1 += v * w1 } }
                    if count > 2 { let v = gradient(o2); a2 += v * w0; if wide { b2 += v * w1 } }
                    if count > 3 { let v = gradient(o3); a3 += v * w0; if wide { b3 += v * w1 } }
                    if count > 4 { let v = gradient(o4); a4 += v * w0; if wide { b4 += v * w1 } }
                    if count > 5 { let v = gradient(o5); a5 += v * w0 }
                    kw &+= sw
                    r &-= mCount
                }
                kh &+= sh
                dr &-= rowBack
            }
            ml &+= 1
        }
        let half = 8 * plane
        @inline(__always) func store(_ a: Vector, _ b: Vector, _ o: (d: Int, x: Int)) {
            dx.scatterRounded8(a, at: o.x, stride: plane)
            if wide { dx.scatterRounded8(b, at: o.x + half, stride: plane) }
        }
        store(a0, b0, o0)
        if count > 1 { store(a1, b1, o1) }
        if count > 2 { store(a2, b2, o2) }
        if count > 3 { store(a3, b3, o3) }
        if count > 4 { store(a4, b4, o4) }
        if count > 5 { store(a5, b0, o5) }
    }

    /// dW for the first `trainedOutputs` outputs from `dyT` and widened x `xf`.
    static func scratchWeightGradient(dW: TensorView<Float16>, dyT: TensorView<Float>, xf: TensorView<Float>,
                                      rows: Int, _ g: Window2D) {
        let mg = g.outputs / g.group, cg = g.channelsPerGroup
        var m = 0
        while m < g.trainedOutputs {
            let lanes = min(16, mg - m % mg, g.trainedOutputs - m)
            let wide = lanes > 8, most = wide ? widePixels : 6
            var kh = 0
            while kh < g.kernelHeight {
                var kw = 0
                while kw < g.kernelWidth {
                    var c = 0
                    while c < cg {
                        // Constant block sizes, so each call specialises to straight-line code.
                        switch (min(most, cg - c), wide) {
                        case (5, true): scratchWeightGradientBlock(Block.Five.self, Block.Wide.self, dW: dW, dyT: dyT, xf: xf, m: m, lanes: lanes, c: c, kh: kh, kw: kw, rows: rows, g)
                        case (4, true): scratchWeightGradientBlock(Block.Four.self, Block.Wide.self, dW: dW, dyT: dyT, xf: xf, m: m, lanes: lanes, c: c, kh: kh, kw: kw, rows: rows, g)
                        case (3, true): scratchWeightGradientBlock(Block.Three.self, Block.Wide.self, dW: dW, dyT: dyT, xf: xf, m: m, lanes: lanes, c: c, kh: kh, kw: kw, rows: rows, g)
                        case (2, true): scratchWeightGradientBlock(Block.Two.self, Block.Wide.self, dW: dW, dyT: dyT, xf: xf, m: m, lanes: lanes, c: c, kh: kh, kw: kw, rows: rows, g)
                        case (_, true): scratchWeightGradientBlock(Block.One.self, Block.Wide.self, dW: dW, dyT: dyT, xf: xf, m: m, lanes: lanes, c: c, kh: kh, kw: kw, rows: rows, g)
                        case (6, false): scratchWeightGradientBlock(Block.Six.self, Block.Narrow.self, dW: dW, dyT: dyT, xf: xf, m: m, lanes: lanes, c: c, kh: kh, kw: kw, rows: rows, g)
                        case (5, false): scratchWeightGradientBlock(Block.Five.self, Block.Narrow.self, dW: dW, dyT: dyT, xf: xf, m: m, lanes: lanes, c: c, kh: kh, kw: kw, rows: rows, g)
                        case (4, false): scratchWeightGradientBlock(Block.Four.self, Block.Narrow.self, dW: dW, dyT: dyT, xf: xf, m: m, lanes: lanes, c: c, kh: kh, kw: kw, rows: rows, g)
                        case (3, false): scratchWeightGradientBlock(Block.Three.self, Block.Narrow.self, dW: dW, dyT: dyT, xf: xf, m: m, lanes: lanes, c: c, kh: kh, kw: kw, rows: rows, g)
                        case (2, false): scratchWeightGradientBlock(Block.Two.self, Block.Narrow.self, dW: dW, dyT: dyT, xf: xf, m: m, lanes: lanes, c: c, kh: kh, kw: kw, rows: rows, g)
                        case (_, false): scratchWeightGradientBlock(Block.One.self, Block.Narrow.self, dW: dW, dyT: dyT, xf: xf, m: m, lanes: lanes, c: c, kh: kh, kw: kw, rows: rows, g)
                        }
                        c += most
                    }
                    kw += 1
                }
                kh += 1
            }
            m += lanes
        }
    }

    /// Weight elements (channel `c + j`, `kh`, `kw`), j < `B.count`, of outputs
    /// `m ..< m + lanes` (lanes 1...8, or 9...16 when `L` is `Wide`): per output pixel whose tap
    /// lies inside the input, the dy vectors are loaded once and each channel adds its input
    /// value times them.
    @inline(__always)
    static func scratchWeightGradientBlock<B: BlockCount, L: BlockWidth>(_: B.Type, _: L.Type, dW: TensorView<Float16>,
                                                                         dyT: TensorView<Float>, xf: TensorView<Float>,
                                                                         m: Int, lanes: Int, c: Int, kh: Int, kw: Int,
                                                                         rows: Int, _ g: Window2D) {
        let count = B.count, wide = L.wide
        let mg = g.outputs / g.group, cg = g.channelsPerGroup, mCount = g.outputs
        let plane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        let sh = g.strideHeight, sw = g.strideWidth, width = g.width
        // Output rows and columns whose tap (kh, kw) lies inside the input, as the portable kernel clips them.
        let ohLo = g.padTop - kh > 0 ? (g.padTop - kh + sh - 1) / sh : 0
        let ohTop = g.height - 1 + g.padTop - kh
        let ohHi = ohTop < 0 ? 0 : min(g.outHeight, ohTop / sh + 1)
        let owLo = g.padLeft - kw > 0 ? (g.padLeft - kw + sw - 1) / sw : 0
        let owTop = g.width - 1 + g.padLeft - kw
        let owHi = owTop < 0 ? 0 : min(g.outWidth, owTop / sw + 1)
        let firstChannel = (m / mg) * cg + c
        let p1 = plane, p2 = 2 &* plane, p3 = 3 &* plane, p4 = 4 &* plane, p5 = 5 &* plane
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector(), a4 = Vector(), a5 = Vector()
        var b0 = Vector(), b1 = Vector(), b2 = Vector(), b3 = Vector(), b4 = Vector()
        // Index arithmetic wraps (`&+`): the verifier proved every index in range.
        var n = 0
        while n < rows {
            let dn = n &* outPlane &* mCount &+ m
            let xn = (n &* g.channels &+ firstChannel) &* plane
            var oh = ohLo
            while oh < ohHi {
                var di = dn &+ (oh &* g.outWidth &+ owLo) &* mCount
                var xi = xn &+ (oh &* sh &- g.padTop &+ kh) &* width &+ owLo &* sw &- g.padLeft &+ kw
                var ow = owLo
                while ow < owHi {
                    let d0 = dyT.vector8(di), d1 = wide ? dyT.vector8(di &+ 8) : d0
                    @inline(__always) func input(_ at: Int) -> Vector { Vector(repeating: xf[xi &+ at]) }
                    let v0 = input(0)
                    a0 += d0 * v0
                    if wide { b0 += d1 * v0 }
                    if count > 1 { let v = input(p1); a1 += d0 * v; if wide { b1 += d1 * v } }
                    if count > 2 { let v = input(p2); a2 += d0 * v; if wide { b2 += d1 * v } }
                    if count > 3 { let v = input(p3); a3 += d0 * v; if wide { b3 += d1 * v } }
                    if count > 4 { let v = input(p4); a4 += d0 * v; if wide { b4 += d1 * v } }
                    if count > 5 { let v = input(p5); a5 += d0 * v }
                    di &+= mCount
                    xi &+= sw
                    ow &+= 1
                }
                oh &+= 1
            }
            n &+= 1
        }
        // Lane i holds output m + i's element (m + 8 + i's in the second vector).
        let wpo = g.weightsPerOutput, kk = g.kernelHeight * g.kernelWidth
        let t0 = c * kk + kh * g.kernelWidth + kw
        @inline(__always) func store(_ a: Vector, _ b: Vector, _ j: Int) {
            let t = t0 + j * kk
            var i = 0
            while i < min(8, lanes) { dW[(m + i) * wpo + t] = Float16(a[i]); i += 1 }
            while i < lanes { dW[(m + i) * wpo + t] = Float16(b[i - 8]); i += 1 }
        }
        store(a0, b0, 0)
        if count > 1 { store(a1, b1, 1) }
        if count > 2 { store(a2, b2, 2) }
        if count > 3 { store(a3, b3, 3) }
        if count > 4 { store(a4, b4, 4) }
        if count > 5 { store(a5, b0, 5) }
    }
}

extension TensorView where Scalar == Float {
    /// Elements `i ..< i + 8`. Host only: one unaligned load.
    @inline(__always)
    func vector8(_ i: Int) -> SIMD8<Float> {
        assert(i >= 0 && i + 8 <= count, "tensor index out of range")
        return UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Writes `v` to elements `i ..< i + 8`. Host only: one unaligned store.
    @inline(__always)
    func store8(_ v: SIMD8<Float>, at i: Int) {
        assert(i >= 0 && i + 8 <= count, "tensor index out of range")
        UnsafeMutableRawPointer(base + i).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}
#endif
