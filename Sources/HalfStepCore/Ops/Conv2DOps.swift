/// 2-D convolutions on NCHW tensors (grouped, depthwise, 1×1) and their gradients.
///
/// Shapes: x [N, C, H, W] · W [M, C/group, KH, KW] · b [M] · y [N, M, OH, OW].
/// Params `[N, Window2D slots 1 ... 6]`; in backward the window's trained outputs say how many
/// output channels (the first ones) receive weight gradients.

/// operands `[x, W, b?, y]`.
public struct Conv2DForward: StepOp {
    public static let code = OpCode.conv2dForward
    public static var name: StaticString { "Conv2D.forward" }
    public static var operandSlots: Int { 4 }
    public static var writtenSlots: UInt8 { 1 << 3 }

    public var x: Int, w: Int, b: Int?, y: Int
    public var n: Int, window: Window2D

    public init(x: Int, w: Int, b: Int?, y: Int, n: Int, window: Window2D) {
        self.x = x; self.w = w; self.b = b; self.y = y; self.n = n; self.window = window
    }

    @inlinable
    public init(_ r: OpRecord) {
        x = r.required(0); w = r.required(1); b = r.operand(2); y = r.required(3); n = r.param(0); window = Window2D(r)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, x); r.setOperand(1, w); r.setOperand(2, b); r.setOperand(3, y)
        r.setParamBits(0, UInt32(n)); window.store(into: &r)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let s = try ConvShape.check(c)
        try c.operand(0, count: s.xs, half: true)
        try c.operand(1, count: s.ws, half: true, float: true)
        try c.operand(2, count: s.window.outputs, half: true, float: true, optional: true)
        try c.operand(3, count: s.ys, half: true, written: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        #if arch(x86_64) || arch(arm64)
        if let s = c.scratch { return run(&c, scratch: s) }
        #endif
        Conv2D.forward(y: c.half(y), x: c.half(x), weight: c.parameter(w), bias: b.map { c.parameter($0) },
                       rows: c.rows, window: window)
    }

    #if arch(x86_64) || arch(arm64)
    /// `run` with host working memory. Out of line, so the paths it opens add nothing to the
    /// frame of a run without it (the emulator holds that one to a device's stack).
    @usableFromInline @inline(never)
    func run(_ c: inout StepContext, scratch: KernelScratch) {
        Conv2DVectorized.forward(y: c.half(y), x: c.half(x), weight: c.parameter(w), bias: b.map { c.parameter($0) },
                                 rows: c.rows, window: window, scratch: scratch)
    }
    #endif

    public func work(rows: Int) -> OpWork {
        let outputs = rows * window.outputElements
        let macs = outputs * window.weightsPerOutput
        var w = OpWork()
        w.macs = macs
        w.loads = 2 * macs
        w.conversions = 2 * macs + outputs
        w.stores = outputs
        w.other = outputs
        return w
    }
    public var family: KernelFamily { .convolution(window, backward: false) }

    public var scratchFloats: Int {
        #if arch(x86_64) || arch(arm64)
        return Conv2DVectorized.scratchFloats(rows: n, window: window)
        #else
        return 0
        #endif
    }

    public func describe<D: OpDescriber>(_ d: inout D) {
        ConvShape.describe(&d, n: n, window)
    }
}

/// operands `[dy, x?, W, dx?, dW?, db?]` (written, not accumulated); x is read only for dW.
public struct Conv2DBackward: StepOp {
    public static let code = OpCode.conv2dBackward
    public static var name: StaticString { "Conv2D.backward" }
    public static var operandSlots: Int { 6 }
    public static var writtenSlots: UInt8 { 1 << 3 | 1 << 4 | 1 << 5 }

    public var dy: Int, x: Int?, w: Int, dx: Int?, dW: Int?, db: Int?
    public var n: Int, window: Window2D

    public init(dy: Int, x: Int?, w: Int, dx: Int?, dW: Int?, db: Int?, n: Int, window: Window2D) {
        self.dy = dy; self.x = x; self.w = w; self.dx = dx; self.dW = dW; self.db = db; self.n = n; self.window = window
    }

    @inlinable
    public init(_ r: OpRecord) {
        dy = r.required(0); x = r.operand(1); w = r.required(2); dx = r.operand(3); dW = r.operand(4); db = r.operand(5)
        n = r.param(0); window = Window2D(r)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, dy); r.setOperand(1, x); r.setOperand(2, w)
        r.setOperand(3, dx); r.setOperand(4, dW); r.setOperand(5, db)
        r.setParamBits(0, UInt32(n)); window.store(into: &r)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let s = try ConvShape.check(c)
        try c.operand(0, count: s.ys, half: true)
        // x is read only for the weight gradient: a plan may leave it out without one.
        try c.operand(1, count: s.xs, half: true, optional: c.op.operand(4) == nil)
        try c.operand(2, count: s.ws, half: true, float: true)
        try c.operand(3, count: s.xs, half: true, written: true, optional: true)
        try c.operand(4, count: s.sizes.trainedWeights, half: true, written: true, optional: true)
        try c.operand(5, count: s.window.outputs, half: true, written: true, optional: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        #if arch(x86_64) || arch(arm64)
        if let s = c.scratch { return run(&c, scratch: s) }
        #endif
        Conv2D.backward(dx: dx.map { c.half($0) }, dW: dW.map { c.half($0) }, db: db.map { c.half($0) },
                        dy: c.half(dy), x: x.map { c.half($0) } ?? c.unread(at: dy),
                        weight: c.parameter(w), rows: c.rows, window: window)
    }

    #if arch(x86_64) || arch(arm64)
    /// `run` with host working memory, out of line as `Conv2DForward`'s.
    @usableFromInline @inline(never)
    func run(_ c: inout StepContext, scratch: KernelScratch) {
        Conv2DVectorized.backward(dx: dx.map { c.half($0) }, dW: dW.map { c.half($0) }, db: db.map { c.half($0) },
                                  dy: c.half(dy), x: x.map { c.half($0) } ?? c.unread(at: dy),
                                  weight: c.parameter(w), rows: c.rows, window: window, scratch: scratch)
    }
    #endif

    public func work(rows: Int) -> OpWork {
        let g = window
        let perOutput = g.weightsPerOutput
        let outputs = rows * g.outputElements
        var w = OpWork()
        var macs = 0, stores = 0
        if dx != nil { macs += outputs * perOutput; stores += rows * g.inputElements }
        if dW != nil {
            macs += rows * g.trainedOutputs * g.outHeight * g.outWidth * perOutput
            stores += g.trainedOutputs * perOutput
        }
        if db != nil { w.other += outputs; stores += g.outputs }
        w.macs = macs
        w.loads = 2 * macs
        w.conversions = 2 * macs + stores
        w.stores = stores
        return w
    }
    public var family: KernelFamily { .convolution(window, backward: true) }

    public var scratchFloats: Int {
        #if arch(x86_64) || arch(arm64)
        return Conv2DVectorized.scratchFloats(rows: n, window: window)
        #else
        return 0
        #endif
    }

    public func describe<D: OpDescriber>(_ d: inout D) {
        ConvShape.describe(&d, n: n, window)
        if dW != nil && window.trainedOutputs < window.outputs {
            d.text(" trains "); d.int(window.trainedOutputs); d.text("/"); d.int(window.outputs); d.text(" channels")
        }
    }
}

/// The checks and description both convolution ops share.
enum ConvShape {
    struct Checked { var window: Window2D, sizes: Window2D.Sizes, xs: Int, ys: Int, ws: Int }

    static func check(_ c: OpContract) throws(OpProblem) -> Checked {
        let n = try c.batchParameter()
        let g = Window2D(c.op)
        let s = try c.window(g)
        return Checked(window: g, sizes: s, xs: try c.product(n, s.inputElements, slot: 1),
                       ys: try c.product(n, s.outputElements, slot: 3), ws: s.weights)
    }

    static func describe<D: OpDescriber>(_ d: inout D, n: Int, _ w: Window2D) {
        WindowText.describe(&d, n: n, w)
        if w.group > 1 {
            if w.group == w.channels && w.group == w.outputs { d.text(" depthwise") } else { d.text(" groups="); d.int(w.group) }
        }
    }
}

/// `N=… C×H×W→M×OH×OW kKH×KW sS`, as reports print a window.
enum WindowText {
    static func describe<D: OpDescriber>(_ d: inout D, n: Int, _ w: Window2D) {
        d.text("N="); d.int(n); d.text(" ")
        d.int(w.channels); d.text("x"); d.int(w.height); d.text("x"); d.int(w.width); d.text("→")
        d.int(w.outputs); d.text("x"); d.int(w.outHeight); d.text("x"); d.int(w.outWidth)
        d.text(" k"); d.int(w.kernelHeight); d.text("x"); d.int(w.kernelWidth); d.text(" s"); d.int(w.strideHeight)
    }
}
