/// Elementwise and copy ops on fp16 tensors: residual adds, gradient sums, per-channel scaling,
/// row copies (Concat and its gradient).
///
/// Shapes: N rows of E elements unless said otherwise. Params start with N.

/// operands `[a, b, y]`: `y = a + b`; `y` may be `a` or `b`. Params `[N, E]`.
public struct ElementwiseAdd: StepOp {
    public static let code = OpCode.elementwiseAdd
    public static var name: StaticString { "Add" }
    public static var operandSlots: Int { 3 }
    public static var writtenSlots: UInt8 { 1 << 2 }

    public var a: Int, b: Int, y: Int, n: Int, e: Int

    public init(a: Int, b: Int, y: Int, n: Int, e: Int) { self.a = a; self.b = b; self.y = y; self.n = n; self.e = e }

    @inlinable
    public init(_ r: OpRecord) { a = r.required(0); b = r.required(1); y = r.required(2); n = r.param(0); e = r.param(1) }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, a); r.setOperand(1, b); r.setOperand(2, y)
        r.setParamBits(0, UInt32(n)); r.setParamBits(1, UInt32(e))
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let e = try c.product(try c.batchParameter(), c.op.param(1), slot: 1)
        try c.operand(0, count: e, half: true)
        try c.operand(1, count: e, half: true)
        try c.operand(2, count: e, half: true, written: true)
    }

    public func allowsAlias(written: Int, read: Int) -> Bool { true }

    @inlinable
    public func run(_ c: inout StepContext) { Elementwise.add(y: c.half(y), a: c.half(a), b: c.half(b), count: c.rows * e) }

    public func work(rows: Int) -> OpWork { .elementwise(rows * e, reads: 2) }
    public var family: KernelFamily { .elementwise }

    public func describe<D: OpDescriber>(_ d: inout D) { d.text("N="); d.int(n); d.text(" E="); d.int(e) }
}

/// operands `[g, other]`: `g += other`, where two branches' gradients meet. Params `[N, E]`.
public struct AccumulateActivationGradient: StepOp {
    public static let code = OpCode.accumulateActivationGradient
    public static var name: StaticString { "Gradient.accumulate" }
    public static var operandSlots: Int { 2 }
    public static var writtenSlots: UInt8 { 1 << 0 }

    public var g: Int, other: Int, n: Int, e: Int

    public init(g: Int, other: Int, n: Int, e: Int) { self.g = g; self.other = other; self.n = n; self.e = e }

    @inlinable
    public init(_ r: OpRecord) { g = r.required(0); other = r.required(1); n = r.param(0); e = r.param(1) }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, g); r.setOperand(1, other); r.setParamBits(0, UInt32(n)); r.setParamBits(1, UInt32(e))
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let e = try c.product(try c.batchParameter(), c.op.param(1), slot: 1)
        try c.operand(0, count: e, half: true, written: true)
        try c.operand(1, count: e, half: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        let sum = c.half(g)
        Elementwise.add(y: sum, a: sum, b: c.half(other), count: c.rows * e)
    }

    public func work(rows: Int) -> OpWork { .elementwise(rows * e, reads: 2) }
    public var family: KernelFamily { .elementwise }

    public func describe<D: OpDescriber>(_ d: inout D) { d.text("N="); d.int(n); d.text(" E="); d.int(e) }
}

/// operands `[sum, g]`: `sum += g`, a weight gradient added to its sum over micro-batches (not
/// scaled by the rows run). Params `[N, count]` (count in elements).
public struct AccumulateGradient: StepOp {
    public static let code = OpCode.accumulateGradient
    public static var name: StaticString { "Gradient.accumulate" }
    public static var operandSlots: Int { 2 }
    public static var writtenSlots: UInt8 { 1 << 0 }

    public var sum: Int, g: Int, n: Int, count: Int

    public init(sum: Int, g: Int, n: Int, count: Int) { self.sum = sum; self.g = g; self.n = n; self.count = count }

    @inlinable
    public init(_ r: OpRecord) { sum = r.required(0); g = r.required(1); n = r.param(0); count = r.param(1) }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, sum); r.setOperand(1, g); r.setParamBits(0, UInt32(n)); r.setParamBits(1, UInt32(count))
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        _ = try c.batchParameter()
        let e = try c.count(1)
        try c.operand(0, count: e, half: true, written: true)
        let sum = c.op.required(0)
        if c.plan.tensor(sum).role != .gradientSum { throw .operandDType(slot: 0, tensor: sum) }
        try c.operand(1, count: e, half: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        let s = c.half(sum)
        Elementwise.add(y: s, a: s, b: c.half(g), count: count)
    }

    public func work(rows: Int) -> OpWork { .elementwise(count, reads: 2) }
    public var family: KernelFamily { .elementwise }

    public func describe<D: OpDescriber>(_ d: inout D) { d.int(count); d.text(" elements, summed over micro-batches") }
}

/// operands `[x, s, y]`: `y = x · s[c]` per channel (forward, and backward with dy and dx); `s`
/// holds 1 or C elements; `y` may be `x`. Params `[N, C, plane]`.
public struct ChannelScale: StepOp {
    public static let code = OpCode.channelScale
    public static var name: StaticString { "Mul.constant" }
    public static var operandSlots: Int { 3 }
    public static var writtenSlots: UInt8 { 1 << 2 }

    public var x: Int, s: Int, y: Int, n: Int, channels: Int, plane: Int

    public init(x: Int, s: Int, y: Int, n: Int, channels: Int, plane: Int) {
        self.x = x; self.s = s; self.y = y; self.n = n; self.channels = channels; self.plane = plane
    }

    @inlinable
    public init(_ r: OpRecord) {
        x = r.required(0); s = r.required(1); y = r.required(2); n = r.param(0); channels = r.param(1); plane = r.param(2)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, x); r.setOperand(1, s); r.setOperand(2, y)
        ChannelPlane.store(&r, n: n, channels: channels, plane: plane)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let (_, e) = try ChannelPlane.check(c)
        try c.operand(0, count: e, half: true)
        guard let s = c.op.operand(1), s < c.plan.tensorCount else { throw .missingOperand(slot: 1) }
        let scalar = c.plan.tensor(s).elementCount == 1
        try c.operand(1, count: scalar ? 1 : c.op.param(1), half: true)
        try c.operand(2, count: e, half: true, written: true)
    }

    public func allowsAlias(written: Int, read: Int) -> Bool { read == 0 }

    @inlinable
    public func run(_ c: inout StepContext) {
        let scale = c.half(s)
        let perChannel = scale.count == 1 ? 1 : channels
        Elementwise.scale(y: c.half(y), x: c.half(x), s: scale, rows: c.rows, channels: perChannel,
                          plane: channels * plane / perChannel)
    }

    public func work(rows: Int) -> OpWork { .elementwise(rows * channels * plane, reads: 1) }
    public var family: KernelFamily { .elementwise }

    public func describe<D: OpDescriber>(_ d: inout D) { ChannelPlane.describe(&d, n: n, channels: channels, plane: plane) }
}

/// operands `[x, y]`: copies `length` elements of each row from `x` (row stride, offset) into
/// `y` (row stride, offset). Params `[N, length, x row stride, x offset, y row stride, y offset]`
/// (elements).
public struct CopyRows: StepOp {
    public static let code = OpCode.copyRows
    public static var name: StaticString { "Copy.rows" }
    public static var operandSlots: Int { 2 }
    public static var writtenSlots: UInt8 { 1 << 1 }

    public var x: Int, y: Int, n: Int, length: Int
    public var xStride: Int, xOffset: Int, yStride: Int, yOffset: Int

    public init(x: Int, y: Int, n: Int, length: Int, xStride: Int, xOffset: Int, yStride: Int, yOffset: Int) {
        self.x = x; self.y = y; self.n = n; self.length = length
        self.xStride = xStride; self.xOffset = xOffset; self.yStride = yStride; self.yOffset = yOffset
    }

    @inlinable
    public init(_ r: OpRecord) {
        x = r.required(0); y = r.required(1); n = r.param(0); length = r.param(1)
        xStride = r.param(2); xOffset = r.param(3); yStride = r.param(4); yOffset = r.param(5)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, x); r.setOperand(1, y)
        r.setParamBits(0, UInt32(n)); r.setParamBits(1, UInt32(length))
        r.setParamBits(2, UInt32(xStride)); r.setParamBits(3, UInt32(xOffset))
        r.setParamBits(4, UInt32(yStride)); r.setParamBits(5, UInt32(yOffset))
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let n = try c.batchParameter()
        let op = c.op
        let length = try c.count(1)
        let xStride = op.param(2), xOffset = op.param(3), yStride = op.param(4), yOffset = op.param(5)
        if xOffset > xStride || length > xStride - xOffset { throw .badParameter(slot: 3, value: op.paramBits(3)) }
        if yOffset > yStride || length > yStride - yOffset { throw .badParameter(slot: 5, value: op.paramBits(5)) }
        try c.operand(0, count: try c.product(n, xStride, slot: 2), half: true)
        try c.operand(1, count: try c.product(n, yStride, slot: 4), half: true, written: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        Elementwise.copyRows(y: c.half(y), yStride: yStride, yOffset: yOffset, x: c.half(x), xStride: xStride, xOffset: xOffset,
                             length: length, rows: c.rows)
    }

    public func work(rows: Int) -> OpWork { .elementwise(rows * length, reads: 1) }
    public var family: KernelFamily { .elementwise }

    public func describe<D: OpDescriber>(_ d: inout D) { d.text("N="); d.int(n); d.text(" "); d.int(length); d.text(" elements") }
}
