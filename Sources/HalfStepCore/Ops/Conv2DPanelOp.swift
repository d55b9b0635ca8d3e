/// A convolution's forward pass through an im2col panel (`Conv2DPanel`): the `--conv-panels`
/// speed lever, the same outputs as `Conv2DForward` for finite weights.
///
/// Shapes: x [N, C, H, W] · W [M, C/G, KH, KW] · b [M] · y [N, M, OH, OW] · panel [T, K], K = C/G·KH·KW.
/// Params `[N, Window2D slots 1 ... 6]`, as `Conv2DForward`; the panel's pixels T are its element
/// count / K, so the planner sizes the panel and the record needs no slot of its own.

/// operands `[x, W, b?, y, panel]`.
public struct Conv2DPanelForward: StepOp {
    public static let code = OpCode.conv2dPanelForward
    public static var name: StaticString { "Conv2D.panelForward" }
    public static var operandSlots: Int { 5 }
    public static var writtenSlots: UInt8 { 1 << 3 | 1 << 4 }

    public var x: Int, w: Int, b: Int?, y: Int, panel: Int
    public var n: Int, window: Window2D

    public init(x: Int, w: Int, b: Int?, y: Int, panel: Int, n: Int, window: Window2D) {
        self.x = x; self.w = w; self.b = b; self.y = y; self.panel = panel; self.n = n; self.window = window
    }

    @inlinable
    public init(_ r: OpRecord) {
        x = r.required(0); w = r.required(1); b = r.operand(2); y = r.required(3); panel = r.required(4)
        n = r.param(0); window = Window2D(r)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, x); r.setOperand(1, w); r.setOperand(2, b); r.setOperand(3, y); r.setOperand(4, panel)
        r.setParamBits(0, UInt32(n)); window.store(into: &r)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let s = try ConvShape.check(c)
        try c.operand(0, count: s.xs, half: true)
        try c.operand(1, count: s.ws, half: true, float: true)
        try c.operand(2, count: s.window.outputs, half: true, float: true, optional: true)
        try c.operand(3, count: s.ys, half: true, written: true)
        // At least one pixel's taps, and whole pixels only: the kernel reads count / K rows.
        let taps = s.sizes.weightsPerOutput
        try c.operand(4, count: taps, half: true, written: true, atLeast: true)
        let found = c.elementCount(4)
        if found % taps != 0 { throw .operandShape(slot: 4, tensor: c.op.required(4), expected: found - found % taps, found: found) }
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        Conv2DPanel.forward(y: c.half(y), x: c.half(x), weight: c.parameter(w), bias: b.map { c.parameter($0) },
                            panel: c.half(panel), rows: c.rows, window: window)
    }

    /// `Conv2DForward`'s work plus the panel: every output pixel's K taps stored once per group.
    public func work(rows: Int) -> OpWork {
        let outputs = rows * window.outputElements
        let macs = outputs * window.weightsPerOutput
        let copied = rows * window.group * window.outHeight * window.outWidth * window.weightsPerOutput
        var w = OpWork()
        w.macs = macs
        w.loads = 2 * macs + copied
        w.conversions = 2 * macs + outputs
        w.stores = outputs + copied
        w.other = outputs
        return w
    }
    public var family: KernelFamily { .convolutionPanel }

    public func describe<D: OpDescriber>(_ d: inout D) {
        ConvShape.describe(&d, n: n, window)
        d.text(", im2col panel")
    }
}
