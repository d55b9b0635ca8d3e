/// Pointwise activations (Clip/ReLU6, HardSigmoid, HardSwish, Sigmoid) and the 1-bit masks that
/// stand in for a ReLU's or Clip's saved output in backward.
///
/// Shapes: N rows of E elements. x, y, dy, dx [N, E] · mask [⌈N·E/32⌉] int32 words.

/// operands `[x, y]`; `y` may be `x` unless backward reads the input (HardSwish).
/// Params `[N, E, Activation.Kind, a bits, b bits]`.
public struct ActivationForward: StepOp {
    public static let code = OpCode.activationForward
    public static var name: StaticString { "Activation.forward" }
    public static var operandSlots: Int { 2 }
    public static var writtenSlots: UInt8 { 1 << 1 }

    public var x: Int, y: Int, n: Int, e: Int
    public var kind: Activation.Kind, a: Float, b: Float

    public init(x: Int, y: Int, n: Int, e: Int, kind: Activation.Kind, a: Float, b: Float) {
        self.x = x; self.y = y; self.n = n; self.e = e; self.kind = kind; self.a = a; self.b = b
    }

    @inlinable
    public init(_ r: OpRecord) {
        x = r.required(0); y = r.required(1); n = r.param(0); e = r.param(1)
        kind = Activation.Kind(rawValue: r.paramBits(2)) ?? .clip; a = r.floatParam(3); b = r.floatParam(4)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, x); r.setOperand(1, y)
        ActivationParams.store(&r, n: n, e: e, kind: kind, a: a, b: b)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let e = try ActivationParams.check(c)
        try c.operand(0, count: e, half: true)
        try c.operand(1, count: e, half: true, written: true)
    }

    public func allowsAlias(written: Int, read: Int) -> Bool { !kind.backwardReadsInput }

    @inlinable
    public func run(_ c: inout StepContext) {
        Activation.forward(kind, y: c.half(y), x: c.half(x), count: c.rows * e, a: a, b: b)
    }

    public func work(rows: Int) -> OpWork {
        var w = OpWork.elementwise(rows * e, reads: 1)
        if kind == .sigmoid || kind == .tanh { w.transcendentals = rows * e }
        return w
    }
    public var family: KernelFamily { .elementwise }

    public func describe<D: OpDescriber>(_ d: inout D) { ActivationParams.describe(&d, kind, n: n, e: e, inPlace: x == y) }
}

/// operands `[dy, saved, dx]`: `saved` is the input (HardSwish) or the output; `dx` may be `dy`.
/// Params as `ActivationForward`.
public struct ActivationBackward: StepOp {
    public static let code = OpCode.activationBackward
    public static var name: StaticString { "Activation.backward" }
    public static var operandSlots: Int { 3 }
    public static var writtenSlots: UInt8 { 1 << 2 }

    public var dy: Int, saved: Int, dx: Int, n: Int, e: Int
    public var kind: Activation.Kind, a: Float, b: Float

    public init(dy: Int, saved: Int, dx: Int, n: Int, e: Int, kind: Activation.Kind, a: Float, b: Float) {
        self.dy = dy; self.saved = saved; self.dx = dx; self.n = n; self.e = e; self.kind = kind; self.a = a; self.b = b
    }

    @inlinable
    public init(_ r: OpRecord) {
        dy = r.required(0); saved = r.required(1); dx = r.required(2); n = r.param(0); e = r.param(1)
        kind = Activation.Kind(rawValue: r.paramBits(2)) ?? .clip; a = r.floatParam(3); b = r.floatParam(4)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, dy); r.setOperand(1, saved); r.setOperand(2, dx)
        ActivationParams.store(&r, n: n, e: e, kind: kind, a: a, b: b)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let e = try ActivationParams.check(c)
        try c.operand(0, count: e, half: true)
        try c.operand(1, count: e, half: true)
        try c.operand(2, count: e, half: true, written: true)
    }

    public func allowsAlias(written: Int, read: Int) -> Bool { read == 0 }

    @inlinable
    public func run(_ c: inout StepContext) {
        Activation.backward(kind, dx: c.half(dx), dy: c.half(dy), saved: c.half(saved), count: c.rows * e, a: a, b: b)
    }

    public func work(rows: Int) -> OpWork { .elementwise(rows * e, reads: 2) }
    public var family: KernelFamily { .elementwise }

    public func describe<D: OpDescriber>(_ d: inout D) { ActivationParams.describe(&d, kind, n: n, e: e, inPlace: dy == dx) }
}

/// operands `[y, mask]`: bit i of the mask set where `low < y[i] < high` (high NaN: no upper
/// limit). Params `[N, E, low bits, high bits]`.
public struct ActivationMaskForward: StepOp {
    public static let code = OpCode.activationMaskForward
    public static var name: StaticString { "ActivationMask.forward" }
    public static var operandSlots: Int { 2 }
    public static var writtenSlots: UInt8 { 1 << 1 }

    public var y: Int, mask: Int, n: Int, e: Int, low: Float, high: Float

    public init(y: Int, mask: Int, n: Int, e: Int, low: Float, high: Float) {
        self.y = y; self.mask = mask; self.n = n; self.e = e; self.low = low; self.high = high
    }

    @inlinable
    public init(_ r: OpRecord) {
        y = r.required(0); mask = r.required(1); n = r.param(0); e = r.param(1); low = r.floatParam(2); high = r.floatParam(3)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, y); r.setOperand(1, mask)
        r.setParamBits(0, UInt32(n)); r.setParamBits(1, UInt32(e)); r.setParamBits(2, low.bitPattern); r.setParamBits(3, high.bitPattern)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let e = try c.product(try c.batchParameter(), c.op.param(1), slot: 1)
        if c.op.floatParam(2).isNaN { throw .badParameter(slot: 2, value: c.op.paramBits(2)) }
        try c.operand(0, count: e, half: true)
        try c.operand(1, count: ActivationMask.words(e), int: true, written: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        ActivationMask.forward(mask: c.words(mask), y: c.half(y), count: c.rows * e, low: low, high: high)
    }

    public func work(rows: Int) -> OpWork { .elementwise(rows * e, reads: 1) }
    public var family: KernelFamily { .elementwise }

    public func describe<D: OpDescriber>(_ d: inout D) { d.text("N="); d.int(n); d.text(" E="); d.int(e); d.text(", 1 bit per element") }
}

/// operands `[dy, mask, dx]`: `dx = dy` where the mask bit is set, else 0; `dx` may be `dy`.
/// Params `[N, E]`.
public struct ActivationMaskBackward: StepOp {
    public static let code = OpCode.activationMaskBackward
    public static var name: StaticString { "ActivationMask.backward" }
    public static var operandSlots: Int { 3 }
    public static var writtenSlots: UInt8 { 1 << 2 }

    public var dy: Int, mask: Int, dx: Int, n: Int, e: Int

    public init(dy: Int, mask: Int, dx: Int, n: Int, e: Int) { self.dy = dy; self.mask = mask; self.dx = dx; self.n = n; self.e = e }

    @inlinable
    public init(_ r: OpRecord) { dy = r.required(0); mask = r.required(1); dx = r.required(2); n = r.param(0); e = r.param(1) }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, dy); r.setOperand(1, mask); r.setOperand(2, dx)
        r.setParamBits(0, UInt32(n)); r.setParamBits(1, UInt32(e))
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let e = try c.product(try c.batchParameter(), c.op.param(1), slot: 1)
        try c.operand(0, count: e, half: true)
        try c.operand(1, count: ActivationMask.words(e), int: true)
        try c.operand(2, count: e, half: true, written: true)
    }

    public func allowsAlias(written: Int, read: Int) -> Bool { read == 0 }

    @inlinable
    public func run(_ c: inout StepContext) {
        ActivationMask.backward(dx: c.half(dx), dy: c.half(dy), mask: c.words(mask), count: c.rows * e)
    }

    public func work(rows: Int) -> OpWork { .elementwise(rows * e, reads: 1) }
    public var family: KernelFamily { .elementwise }

    public func describe<D: OpDescriber>(_ d: inout D) { d.text("N="); d.int(n); d.text(" E="); d.int(e); d.text(", 1 bit per element") }
}

/// The parameter slots both activation ops share.
enum ActivationParams {
    /// Checks N, the kind and a, b; returns N·E.
    static func check(_ c: OpContract) throws(OpProblem) -> Int {
        let n = try c.batchParameter()
        if Activation.Kind(rawValue: c.op.paramBits(2)) == nil { throw .badParameter(slot: 2, value: c.op.paramBits(2)) }
        try c.finite(3)
        try c.finite(4)
        return try c.product(n, c.op.param(1), slot: 1)
    }

    static func store(_ r: inout OpRecord, n: Int, e: Int, kind: Activation.Kind, a: Float, b: Float) {
        r.setParamBits(0, UInt32(n)); r.setParamBits(1, UInt32(e)); r.setParamBits(2, kind.rawValue)
        r.setParamBits(3, a.bitPattern); r.setParamBits(4, b.bitPattern)
    }

    static func describe<D: OpDescriber>(_ d: inout D, _ kind: Activation.Kind, n: Int, e: Int, inPlace: Bool) {
        switch kind {
        case .clip: d.text("Clip")
        case .hardSigmoid: d.text("HardSigmoid")
        case .hardSwish: d.text("HardSwish")
        case .sigmoid: d.text("Sigmoid")
        case .tanh: d.text("Tanh")
        case .leakyRelu: d.text("LeakyRelu")
        }
        d.text(" N="); d.int(n); d.text(" E="); d.int(e)
        if inPlace { d.text(" in place") }
    }
}
