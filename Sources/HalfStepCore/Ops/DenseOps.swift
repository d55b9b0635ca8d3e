/// Dense (fully connected) layers: `y = alpha · (x Wᵀ) + beta · b` and its gradients.
///
/// Shapes: N rows, K inputs, M outputs. x [N, K] · W [M, K] · b [M] · y [N, M].
/// Params `[N, K, M, alpha bits, beta bits, trained rows]` (trained rows in backward only; 0: all M).

/// operands `[x, W, b?, y]`.
public struct DenseForward: StepOp {
    public static let code = OpCode.denseForward
    public static var name: StaticString { "Dense.forward" }
    public static var operandSlots: Int { 4 }
    public static var writtenSlots: UInt8 { 1 << 3 }

    public var x: Int, w: Int, b: Int?, y: Int
    public var n: Int, k: Int, m: Int
    public var alpha: Float, beta: Float

    public init(x: Int, w: Int, b: Int?, y: Int, n: Int, k: Int, m: Int, alpha: Float, beta: Float) {
        self.x = x; self.w = w; self.b = b; self.y = y
        self.n = n; self.k = k; self.m = m; self.alpha = alpha; self.beta = beta
    }

    @inlinable
    public init(_ r: OpRecord) {
        x = r.required(0); w = r.required(1); b = r.operand(2); y = r.required(3)
        n = r.param(0); k = r.param(1); m = r.param(2); alpha = r.floatParam(3); beta = r.floatParam(4)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, x); r.setOperand(1, w); r.setOperand(2, b); r.setOperand(3, y)
        DenseShape.store(&r, n: n, k: k, m: m, alpha: alpha, beta: beta)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let s = try DenseShape.check(c)
        try c.operand(0, count: s.nk, half: true)
        try c.operand(1, count: s.mk, half: true, float: true)
        try c.operand(2, count: s.m, half: true, float: true, optional: true)
        try c.operand(3, count: s.nm, half: true, written: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        if c.plan.config.accumulate == 1 {
            DenseHalfAccumulation.forward(y: c.half(y), x: c.half(x), weight: c.parameter(w), bias: b.map { c.parameter($0) },
                                          rows: c.rows, k: k, m: m, alpha: alpha, beta: beta)
        } else {
            #if arch(x86_64) || arch(arm64)
            if let s = c.scratch { return run(&c, scratch: s) }
            #endif
            Dense.forward(y: c.half(y), x: c.half(x), weight: c.parameter(w), bias: b.map { c.parameter($0) },
                          rows: c.rows, k: k, m: m, alpha: alpha, beta: beta)
        }
    }

    #if arch(x86_64) || arch(arm64)
    /// `run` with host working memory. Out of line, so the paths it opens add nothing to the
    /// frame of a run without it (the emulator holds that one to a device's stack).
    @usableFromInline @inline(never)
    func run(_ c: inout StepContext, scratch: KernelScratch) {
        DenseVectorized.forward(y: c.half(y), x: c.half(x), weight: c.parameter(w), bias: b.map { c.parameter($0) },
                                rows: c.rows, k: k, m: m, alpha: alpha, beta: beta, scratch: scratch)
    }
    #endif

    public func work(rows: Int) -> OpWork {
        var w = OpWork()
        let macs = rows * k * m
        w.macs = macs
        w.loads = 2 * macs + (b != nil ? rows * m : 0)
        w.conversions = 2 * macs + rows * m
        w.stores = rows * m
        w.other = rows * m * 2
        return w
    }
    public var family: KernelFamily { .denseForward }

    public var scratchFloats: Int {
        #if arch(x86_64) || arch(arm64)
        return DenseVectorized.scratchFloats(rows: n, k: k, m: m)
        #else
        return 0
        #endif
    }

    public func describe<D: OpDescriber>(_ d: inout D) {
        DenseShape.describe(&d, n: n, k: k, m: m, alpha: alpha, beta: beta)
    }
}

/// operands `[dy, x?, W, dx?, dW?, db?]`: the input gradient and the weight and bias gradients
/// (written, not accumulated). `dW` holds the first `trained rows` rows; x is read only for dW
/// (and always by the fp16-accumulation kernels).
public struct DenseBackward: StepOp {
    public static let code = OpCode.denseBackward
    public static var name: StaticString { "Dense.backward" }
    public static var operandSlots: Int { 6 }
    public static var writtenSlots: UInt8 { 1 << 3 | 1 << 4 | 1 << 5 }

    public var dy: Int, x: Int?, w: Int, dx: Int?, dW: Int?, db: Int?
    public var n: Int, k: Int, m: Int
    public var alpha: Float, beta: Float
    /// Rows of W that receive gradients; 0 means all M.
    public var trainedRows: Int

    public init(dy: Int, x: Int?, w: Int, dx: Int?, dW: Int?, db: Int?, n: Int, k: Int, m: Int,
                alpha: Float, beta: Float, trainedRows: Int) {
        self.dy = dy; self.x = x; self.w = w; self.dx = dx; self.dW = dW; self.db = db
        self.n = n; self.k = k; self.m = m; self.alpha = alpha; self.beta = beta; self.trainedRows = trainedRows
    }

    @inlinable
    public init(_ r: OpRecord) {
        dy = r.required(0); x = r.operand(1); w = r.required(2); dx = r.operand(3); dW = r.operand(4); db = r.operand(5)
        n = r.param(0); k = r.param(1); m = r.param(2); alpha = r.floatParam(3); beta = r.floatParam(4)
        trainedRows = r.param(5)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, dy); r.setOperand(1, x); r.setOperand(2, w)
        r.setOperand(3, dx); r.setOperand(4, dW); r.setOperand(5, db)
        DenseShape.store(&r, n: n, k: k, m: m, alpha: alpha, beta: beta)
        r.setParamBits(5, UInt32(trainedRows))
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let s = try DenseShape.check(c)
        try c.operand(0, count: s.nm, half: true)
        // x is read only for the weight gradient (fp32 accumulation kernels).
        try c.operand(1, count: s.nk, half: true, optional: c.op.operand(4) == nil && c.plan.config.accumulate == 0)
        try c.operand(2, count: s.mk, half: true, float: true)
        try c.operand(3, count: s.nk, half: true, written: true, optional: true)
        let trained = c.op.param(5) == 0 ? s.m : c.op.param(5)
        if trained > s.m { throw .badParameter(slot: 5, value: c.op.paramBits(5)) }
        // The fp16-accumulation kernels write every row of dW: they have no partial-rows form.
        if c.plan.config.accumulate == 1 && trained != s.m { throw .badParameter(slot: 5, value: c.op.paramBits(5)) }
        try c.operand(4, count: try c.product(trained, s.k, slot: 5), half: true, written: true, optional: true)
        try c.operand(5, count: s.m, half: true, written: true, optional: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        let input = x.map { c.half($0) } ?? c.unread(at: dy)
        if c.plan.config.accumulate == 1 {
            DenseHalfAccumulation.backward(
                dx: dx.map { c.half($0) }, dW: dW.map { c.half($0) }, db: db.map { c.half($0) },
                dy: c.half(dy), x: input, weight: c.parameter(w),
                rows: c.rows, k: k, m: m, alpha: alpha, beta: beta)
        } else {
            Dense.backward(
                dx: dx.map { c.half($0) }, dW: dW.map { c.half($0) }, db: db.map { c.half($0) },
                dy: c.half(dy), x: input, weight: c.parameter(w),
                rows: c.rows, k: k, m: m, alpha: alpha, beta: beta, trainedOutputs: trainedRows)
        }
    }

    public func work(rows: Int) -> OpWork {
        var w = OpWork()
        if dx != nil {
            w.macs += rows * k * m
            w.loads += 2 * rows * k * m
            w.conversions += 2 * rows * k * m + rows * k
            w.stores += rows * k
        }
        if dW != nil {
            let t = trainedRows == 0 ? m : trainedRows
            w.macs += rows * k * t
            w.loads += 2 * rows * k * t
            w.conversions += 2 * rows * k * t + k * t
            w.stores += k * t
        }
        if db != nil {
            w.loads += rows * m
            w.conversions += rows * m + m
            w.other += rows * m
            w.stores += m
        }
        return w
    }
    public var family: KernelFamily { .denseBackward }

    public func describe<D: OpDescriber>(_ d: inout D) {
        DenseShape.describe(&d, n: n, k: k, m: m, alpha: alpha, beta: beta)
    }
}

/// The parameter slots both Dense ops share.
enum DenseShape {
    struct Sizes { var k: Int, m: Int, nk: Int, mk: Int, nm: Int }

    static func check(_ c: OpContract) throws(OpProblem) -> Sizes {
        let n = try c.batchParameter()
        let k = try c.count(1), m = try c.count(2)
        try c.finite(3)
        try c.finite(4)
        return Sizes(k: k, m: m, nk: try c.product(n, k, slot: 1), mk: try c.product(m, k, slot: 2), nm: try c.product(n, m, slot: 0))
    }

    static func store(_ r: inout OpRecord, n: Int, k: Int, m: Int, alpha: Float, beta: Float) {
        r.setParamBits(0, UInt32(n)); r.setParamBits(1, UInt32(k)); r.setParamBits(2, UInt32(m))
        r.setParamBits(3, alpha.bitPattern); r.setParamBits(4, beta.bitPattern)
    }

    static func describe<D: OpDescriber>(_ d: inout D, n: Int, k: Int, m: Int, alpha: Float, beta: Float) {
        d.text("N="); d.int(n); d.text(" K="); d.int(k); d.text(" M="); d.int(m)
        if alpha != 1 || beta != 1 { d.text(" alpha="); d.float(alpha); d.text(" beta="); d.float(beta) }
    }
}
