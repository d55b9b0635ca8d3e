/// ReLU, `y = max(x, 0)`, and its gradient, which reads the output: `dx = dy` where `y > 0`.
///
/// Shapes: N rows of E elements. x, y, dy, dx [N, E]. Params `[N, E]`.

/// operands `[x, y]`; `y` may be `x` (in place).
public struct ReLUForward: StepOp {
    public static let code = OpCode.reluForward
    public static var name: StaticString { "ReLU.forward" }
    public static var operandSlots: Int { 2 }
    public static var writtenSlots: UInt8 { 1 << 1 }

    public var x: Int, y: Int, n: Int, e: Int

    public init(x: Int, y: Int, n: Int, e: Int) { self.x = x; self.y = y; self.n = n; self.e = e }

    @inlinable
    public init(_ r: OpRecord) { x = r.required(0); y = r.required(1); n = r.param(0); e = r.param(1) }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, x); r.setOperand(1, y)
        r.setParamBits(0, UInt32(n)); r.setParamBits(1, UInt32(e))
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let count = try c.product(try c.batchParameter(), c.op.param(1), slot: 1)
        try c.operand(0, count: count, half: true)
        try c.operand(1, count: count, half: true, written: true)
    }

    public func allowsAlias(written: Int, read: Int) -> Bool { true }

    @inlinable
    public func run(_ c: inout StepContext) { ReLU.forward(y: c.half(y), x: c.half(x), count: c.rows * e) }

    public func work(rows: Int) -> OpWork {
        let n = rows * e
        var w = OpWork()
        w.loads = n
        w.stores = n
        w.other = n
        return w
    }
    public var family: KernelFamily { .elementwise }

    public func describe<D: OpDescriber>(_ d: inout D) {
        d.text("N="); d.int(n); d.text(" E="); d.int(e)
        if x == y { d.text(" in place") }
    }
}

/// operands `[dy, y, dx]`; `dx` may be `dy`, never `y`.
public struct ReLUBackward: StepOp {
    public static let code = OpCode.reluBackward
    public static var name: StaticString { "ReLU.backward" }
    public static var operandSlots: Int { 3 }
    public static var writtenSlots: UInt8 { 1 << 2 }

    public var dy: Int, y: Int, dx: Int, n: Int, e: Int

    public init(dy: Int, y: Int, dx: Int, n: Int, e: Int) { self.dy = dy; self.y = y; self.dx = dx; self.n = n; self.e = e }

    @inlinable
    public init(_ r: OpRecord) { dy = r.required(0); y = r.required(1); dx = r.required(2); n = r.param(0); e = r.param(1) }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, dy); r.setOperand(1, y); r.setOperand(2, dx)
        r.setParamBits(0, UInt32(n)); r.setParamBits(1, UInt32(e))
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let count = try c.product(try c.batchParameter(), c.op.param(1), slot: 1)
        try c.operand(0, count: count, half: true)
        try c.operand(1, count: count, half: true)
        try c.operand(2, count: count, half: true, written: true)
    }

    public func allowsAlias(written: Int, read: Int) -> Bool { read == 0 }

    @inlinable
    public func run(_ c: inout StepContext) {
        ReLU.backward(dx: c.half(dx), dy: c.half(dy), y: c.half(y), count: c.rows * e)
    }

    public func work(rows: Int) -> OpWork {
        let n = rows * e
        var w = OpWork()
        w.loads = 2 * n
        w.stores = n
        w.other = n
        return w
    }
    public var family: KernelFamily { .elementwise }

    public func describe<D: OpDescriber>(_ d: inout D) {
        d.text("N="); d.int(n); d.text(" E="); d.int(e)
        if dy == dx { d.text(" in place") }
    }
}
