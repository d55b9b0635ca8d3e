/// Max, average and global-average pooling on NCHW tensors, and their gradients.
///
/// Shapes: x, dx [N, C, H, W] · y, dy [N, C, OH, OW] (global: [N, C]). Params `[N, Window2D slots]`
/// with M = C and the group field holding 1 when padding counts towards an average; global
/// pooling `[N, C, plane elements]`.

/// operands `[x, y]`.
public struct MaxPoolForward: StepOp {
    public static let code = OpCode.maxPoolForward
    public static var name: StaticString { "MaxPool2D.forward" }
    public static var operandSlots: Int { 2 }
    public static var writtenSlots: UInt8 { 1 << 1 }

    public var x: Int, y: Int, n: Int, window: Window2D

    public init(x: Int, y: Int, n: Int, window: Window2D) { self.x = x; self.y = y; self.n = n; self.window = window }

    @inlinable
    public init(_ r: OpRecord) { x = r.required(0); y = r.required(1); n = r.param(0); window = Window2D(r) }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, x); r.setOperand(1, y); r.setParamBits(0, UInt32(n)); window.store(into: &r)
    }

    public static func check(_ c: OpContract) throws(OpProblem) { try PoolShape.checkForward(c) }

    @inlinable
    public func run(_ c: inout StepContext) { MaxPool2D.forward(y: c.half(y), x: c.half(x), rows: c.rows, window: window) }

    public func work(rows: Int) -> OpWork { PoolShape.work(window, rows: rows, forward: true) }
    public var family: KernelFamily { .pooling }

    public func describe<D: OpDescriber>(_ d: inout D) { WindowText.describe(&d, n: n, window) }
}

/// operands `[dy, x, dx]`: the gradient goes to each window's (first) largest input.
public struct MaxPoolBackward: StepOp {
    public static let code = OpCode.maxPoolBackward
    public static var name: StaticString { "MaxPool2D.backward" }
    public static var operandSlots: Int { 3 }
    public static var writtenSlots: UInt8 { 1 << 2 }

    public var dy: Int, x: Int, dx: Int, n: Int, window: Window2D

    public init(dy: Int, x: Int, dx: Int, n: Int, window: Window2D) {
        self.dy = dy; self.x = x; self.dx = dx; self.n = n; self.window = window
    }

    @inlinable
    public init(_ r: OpRecord) { dy = r.required(0); x = r.required(1); dx = r.required(2); n = r.param(0); window = Window2D(r) }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, dy); r.setOperand(1, x); r.setOperand(2, dx); r.setParamBits(0, UInt32(n)); window.store(into: &r)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let n = try c.batchParameter()
        let s = try c.poolingWindow()
        let xs = try c.product(n, s.inputElements, slot: 1)
        try c.operand(0, count: try c.product(n, s.outputElements, slot: 3), half: true)
        try c.operand(1, count: xs, half: true)
        try c.operand(2, count: xs, half: true, written: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        MaxPool2D.backward(dx: c.half(dx), dy: c.half(dy), x: c.half(x), rows: c.rows, window: window)
    }

    public func work(rows: Int) -> OpWork { PoolShape.work(window, rows: rows, forward: false) }
    public var family: KernelFamily { .pooling }

    public func describe<D: OpDescriber>(_ d: inout D) { WindowText.describe(&d, n: n, window) }
}

/// operands `[x, y]`.
public struct AveragePoolForward: StepOp {
    public static let code = OpCode.averagePoolForward
    public static var name: StaticString { "AveragePool2D.forward" }
    public static var operandSlots: Int { 2 }
    public static var writtenSlots: UInt8 { 1 << 1 }

    public var x: Int, y: Int, n: Int, window: Window2D

    public init(x: Int, y: Int, n: Int, window: Window2D) { self.x = x; self.y = y; self.n = n; self.window = window }

    @inlinable
    public init(_ r: OpRecord) { x = r.required(0); y = r.required(1); n = r.param(0); window = Window2D(r) }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, x); r.setOperand(1, y); r.setParamBits(0, UInt32(n)); window.store(into: &r)
    }

    public static func check(_ c: OpContract) throws(OpProblem) { try PoolShape.checkForward(c) }

    @inlinable
    public func run(_ c: inout StepContext) { AveragePool2D.forward(y: c.half(y), x: c.half(x), rows: c.rows, window: window) }

    public func work(rows: Int) -> OpWork { PoolShape.work(window, rows: rows, forward: true) }
    public var family: KernelFamily { .pooling }

    public func describe<D: OpDescriber>(_ d: inout D) { WindowText.describe(&d, n: n, window) }
}

/// operands `[dy, dx]`.
public struct AveragePoolBackward: StepOp {
    public static let code = OpCode.averagePoolBackward
    public static var name: StaticString { "AveragePool2D.backward" }
    public static var operandSlots: Int { 2 }
    public static var writtenSlots: UInt8 { 1 << 1 }

    public var dy: Int, dx: Int, n: Int, window: Window2D

    public init(dy: Int, dx: Int, n: Int, window: Window2D) { self.dy = dy; self.dx = dx; self.n = n; self.window = window }

    @inlinable
    public init(_ r: OpRecord) { dy = r.required(0); dx = r.required(1); n = r.param(0); window = Window2D(r) }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, dy); r.setOperand(1, dx); r.setParamBits(0, UInt32(n)); window.store(into: &r)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let n = try c.batchParameter()
        let s = try c.poolingWindow()
        try c.operand(0, count: try c.product(n, s.outputElements, slot: 3), half: true)
        try c.operand(1, count: try c.product(n, s.inputElements, slot: 1), half: true, written: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) { AveragePool2D.backward(dx: c.half(dx), dy: c.half(dy), rows: c.rows, window: window) }

    public func work(rows: Int) -> OpWork { PoolShape.work(window, rows: rows, forward: false) }
    public var family: KernelFamily { .pooling }

    public func describe<D: OpDescriber>(_ d: inout D) { WindowText.describe(&d, n: n, window) }
}

/// operands `[x, y]`: the mean of each channel's plane.
public struct GlobalAveragePoolForward: StepOp {
    public static let code = OpCode.globalAveragePoolForward
    public static var name: StaticString { "GlobalAveragePool.forward" }
    public static var operandSlots: Int { 2 }
    public static var writtenSlots: UInt8 { 1 << 1 }

    public var x: Int, y: Int, n: Int, channels: Int, plane: Int

    public init(x: Int, y: Int, n: Int, channels: Int, plane: Int) {
        self.x = x; self.y = y; self.n = n; self.channels = channels; self.plane = plane
    }

    @inlinable
    public init(_ r: OpRecord) { x = r.required(0); y = r.required(1); n = r.param(0); channels = r.param(1); plane = r.param(2) }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, x); r.setOperand(1, y); ChannelPlane.store(&r, n: n, channels: channels, plane: plane)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let (nc, all) = try ChannelPlane.check(c)
        try c.operand(0, count: all, half: true)
        try c.operand(1, count: nc, half: true, written: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        AveragePool2D.globalForward(y: c.half(y), x: c.half(x), rows: c.rows, channels: channels, plane: plane)
    }

    public func work(rows: Int) -> OpWork { .elementwise(rows * channels * plane, reads: 1) }
    public var family: KernelFamily { .pooling }

    public func describe<D: OpDescriber>(_ d: inout D) { ChannelPlane.describe(&d, n: n, channels: channels, plane: plane) }
}

/// operands `[dy, dx]`: each plane element gets its channel's gradient over the plane size.
public struct GlobalAveragePoolBackward: StepOp {
    public static let code = OpCode.globalAveragePoolBackward
    public static var name: StaticString { "GlobalAveragePool.backward" }
    public static var operandSlots: Int { 2 }
    public static var writtenSlots: UInt8 { 1 << 1 }

    public var dy: Int, dx: Int, n: Int, channels: Int, plane: Int

    public init(dy: Int, dx: Int, n: Int, channels: Int, plane: Int) {
        self.dy = dy; self.dx = dx; self.n = n; self.channels = channels; self.plane = plane
    }

    @inlinable
    public init(_ r: OpRecord) { dy = r.required(0); dx = r.required(1); n = r.param(0); channels = r.param(1); plane = r.param(2) }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, dy); r.setOperand(1, dx); ChannelPlane.store(&r, n: n, channels: channels, plane: plane)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let (nc, all) = try ChannelPlane.check(c)
        try c.operand(0, count: nc, half: true)
        try c.operand(1, count: all, half: true, written: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        AveragePool2D.globalBackward(dx: c.half(dx), dy: c.half(dy), rows: c.rows, channels: channels, plane: plane)
    }

    public func work(rows: Int) -> OpWork { .elementwise(rows * channels * plane, reads: 1) }
    public var family: KernelFamily { .pooling }

    public func describe<D: OpDescriber>(_ d: inout D) { ChannelPlane.describe(&d, n: n, channels: channels, plane: plane) }
}

/// What the windowed pooling ops share.
enum PoolShape {
    static func checkForward(_ c: OpContract) throws(OpProblem) {
        let n = try c.batchParameter()
        let s = try c.poolingWindow()
        try c.operand(0, count: try c.product(n, s.inputElements, slot: 1), half: true)
        try c.operand(1, count: try c.product(n, s.outputElements, slot: 3), half: true, written: true)
    }

    static func work(_ g: Window2D, rows: Int, forward: Bool) -> OpWork {
        let windows = rows * g.outputElements * g.kernelHeight * g.kernelWidth
        var w = OpWork()
        w.loads = windows
        w.conversions = windows
        w.other = windows
        w.stores = forward ? rows * g.outputElements : rows * g.inputElements
        return w
    }
}

/// Params `[N, C, plane elements]`, shared by the per-channel ops (global pooling, BatchNorm,
/// channel scaling).
enum ChannelPlane {
    /// Checks slot 0 against the batch; returns N·C and N·C·plane.
    static func check(_ c: OpContract) throws(OpProblem) -> (nc: Int, all: Int) {
        let n = try c.batchParameter()
        let nc = try c.product(n, c.op.param(1), slot: 1)
        return (nc, try c.product(nc, c.op.param(2), slot: 2))
    }

    static func store(_ r: inout OpRecord, n: Int, channels: Int, plane: Int) {
        r.setParamBits(0, UInt32(n)); r.setParamBits(1, UInt32(channels)); r.setParamBits(2, UInt32(plane))
    }

    static func describe<D: OpDescriber>(_ d: inout D, n: Int, channels: Int, plane: Int) {
        d.text("N="); d.int(n); d.text(" C="); d.int(channels); d.text(" plane="); d.int(plane)
    }
}
