/// BatchNormalization with frozen statistics, `y = γ (x − mean) · invStd + β`, and its gradients.
///
/// Shapes: x, y, dy, dx [N, C, plane] · γ, β, dγ, dβ [C] · mean, invStd [C] fp32 constants.
/// Params `[N, C, plane]`.

/// operands `[x, γ, β, mean, invStd, y]`.
public struct BatchNormForward: StepOp {
    public static let code = OpCode.batchNormForward
    public static var name: StaticString { "BatchNorm.forward" }
    public static var operandSlots: Int { 6 }
    public static var writtenSlots: UInt8 { 1 << 5 }

    public var x: Int, gamma: Int, beta: Int, mean: Int, invStd: Int, y: Int
    public var n: Int, channels: Int, plane: Int

    public init(x: Int, gamma: Int, beta: Int, mean: Int, invStd: Int, y: Int, n: Int, channels: Int, plane: Int) {
        self.x = x; self.gamma = gamma; self.beta = beta; self.mean = mean; self.invStd = invStd; self.y = y
        self.n = n; self.channels = channels; self.plane = plane
    }

    @inlinable
    public init(_ r: OpRecord) {
        x = r.required(0); gamma = r.required(1); beta = r.required(2); mean = r.required(3); invStd = r.required(4)
        y = r.required(5); n = r.param(0); channels = r.param(1); plane = r.param(2)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, x); r.setOperand(1, gamma); r.setOperand(2, beta); r.setOperand(3, mean)
        r.setOperand(4, invStd); r.setOperand(5, y)
        ChannelPlane.store(&r, n: n, channels: channels, plane: plane)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let (channels, e) = try BatchNormShape.check(c)
        try c.operand(0, count: e, half: true)
        try c.operand(1, count: channels, half: true, float: true)
        try c.operand(2, count: channels, half: true, float: true)
        try c.operand(3, count: channels, float: true)
        try c.operand(4, count: channels, float: true)
        try c.operand(5, count: e, half: true, written: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        BatchNorm.forward(y: c.half(y), x: c.half(x), gamma: c.parameter(gamma), beta: c.parameter(beta),
                          mean: c.float(mean), invStd: c.float(invStd), rows: c.rows, channels: channels, plane: plane)
    }

    public func work(rows: Int) -> OpWork { .elementwise(rows * channels * plane, reads: 1, other: 3) }
    public var family: KernelFamily { .elementwise }

    public func describe<D: OpDescriber>(_ d: inout D) { ChannelPlane.describe(&d, n: n, channels: channels, plane: plane) }
}

/// operands `[dy, x, γ, mean, invStd, dx?, dγ?, dβ?]` (written, not accumulated); `dx` may be `dy`.
public struct BatchNormBackward: StepOp {
    public static let code = OpCode.batchNormBackward
    public static var name: StaticString { "BatchNorm.backward" }
    public static var operandSlots: Int { 8 }
    public static var writtenSlots: UInt8 { 1 << 5 | 1 << 6 | 1 << 7 }

    public var dy: Int, x: Int, gamma: Int, mean: Int, invStd: Int, dx: Int?, dGamma: Int?, dBeta: Int?
    public var n: Int, channels: Int, plane: Int

    public init(dy: Int, x: Int, gamma: Int, mean: Int, invStd: Int, dx: Int?, dGamma: Int?, dBeta: Int?,
                n: Int, channels: Int, plane: Int) {
        self.dy = dy; self.x = x; self.gamma = gamma; self.mean = mean; self.invStd = invStd
        self.dx = dx; self.dGamma = dGamma; self.dBeta = dBeta; self.n = n; self.channels = channels; self.plane = plane
    }

    @inlinable
    public init(_ r: OpRecord) {
        dy = r.required(0); x = r.required(1); gamma = r.required(2); mean = r.required(3); invStd = r.required(4)
        dx = r.operand(5); dGamma = r.operand(6); dBeta = r.operand(7)
        n = r.param(0); channels = r.param(1); plane = r.param(2)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, dy); r.setOperand(1, x); r.setOperand(2, gamma); r.setOperand(3, mean); r.setOperand(4, invStd)
        r.setOperand(5, dx); r.setOperand(6, dGamma); r.setOperand(7, dBeta)
        ChannelPlane.store(&r, n: n, channels: channels, plane: plane)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let (channels, e) = try BatchNormShape.check(c)
        try c.operand(0, count: e, half: true)
        try c.operand(1, count: e, half: true)
        try c.operand(2, count: channels, half: true, float: true)
        try c.operand(3, count: channels, float: true)
        try c.operand(4, count: channels, float: true)
        try c.operand(5, count: e, half: true, written: true, optional: true)
        try c.operand(6, count: channels, half: true, written: true, optional: true)
        try c.operand(7, count: channels, half: true, written: true, optional: true)
    }

    public func allowsAlias(written: Int, read: Int) -> Bool { written == 5 && read == 0 }

    @inlinable
    public func run(_ c: inout StepContext) {
        BatchNorm.backward(dx: dx.map { c.half($0) }, dGamma: dGamma.map { c.half($0) }, dBeta: dBeta.map { c.half($0) },
                           dy: c.half(dy), x: c.half(x), gamma: c.parameter(gamma), mean: c.float(mean),
                           invStd: c.float(invStd), rows: c.rows, channels: channels, plane: plane)
    }

    public func work(rows: Int) -> OpWork { .elementwise(rows * channels * plane, reads: 2, other: 3) }
    public var family: KernelFamily { .elementwise }

    public func describe<D: OpDescriber>(_ d: inout D) { ChannelPlane.describe(&d, n: n, channels: channels, plane: plane) }
}

enum BatchNormShape {
    /// Checks N and C; returns C and N·C·plane.
    static func check(_ c: OpContract) throws(OpProblem) -> (channels: Int, elements: Int) {
        let n = try c.batchParameter()
        let channels = try c.count(1)
        let e = try c.product(try c.product(n, channels, slot: 1), c.op.param(2), slot: 2)
        return (channels, e)
    }
}
