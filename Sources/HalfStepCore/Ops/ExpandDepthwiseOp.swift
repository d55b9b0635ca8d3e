/// A frozen inverted-residual front run fused: the 1×1 expansion and the depthwise convolution
/// one hidden plane at a time (`ExpandDepthwise`), so the expanded tensor never exists.
///
/// Shapes: x [N, C, H, W] · We [Hd, C] · be [Hd] · Wd [Hd, 1, KH, KW] · bd [Hd] · y [N, Hd, OH, OW] ·
/// scratch [H·W]. Params `[N, depthwise Window2D slots 1 ... 5, C | first << 16 | second << 24]`:
/// slot 6 packs the input channels C (16 bits) and the two activations (`ExpandDepthwise.Activation`,
/// 8 bits each); the depthwise window's group is Hd and nothing trains.

/// operands `[x, We, be?, Wd, bd?, y, scratch]`.
public struct ExpandDepthwiseForward: StepOp {
    public static let code = OpCode.expandDepthwiseForward
    public static var name: StaticString { "ExpandDepthwise.forward" }
    public static var operandSlots: Int { 7 }
    public static var writtenSlots: UInt8 { 1 << 5 | 1 << 6 }

    public var x: Int, expand: Int, expandBias: Int?, depthwise: Int, depthwiseBias: Int?, y: Int, scratch: Int
    public var n: Int
    /// The depthwise convolution (channels = outputs = group = Hd).
    public var window: Window2D
    /// Input channels C.
    public var channels: Int
    public var first: ExpandDepthwise.Activation, second: ExpandDepthwise.Activation

    public init(x: Int, expand: Int, expandBias: Int?, depthwise: Int, depthwiseBias: Int?, y: Int, scratch: Int,
                n: Int, window: Window2D, channels: Int, first: ExpandDepthwise.Activation, second: ExpandDepthwise.Activation) {
        self.x = x; self.expand = expand; self.expandBias = expandBias; self.depthwise = depthwise
        self.depthwiseBias = depthwiseBias; self.y = y; self.scratch = scratch; self.n = n
        var g = window
        g.group = g.channels
        g.trainedOutputs = 0
        self.window = g
        self.channels = channels; self.first = first; self.second = second
    }

    @inlinable
    public init(_ r: OpRecord) {
        x = r.required(0); expand = r.required(1); expandBias = r.operand(2); depthwise = r.required(3)
        depthwiseBias = r.operand(4); y = r.required(5); scratch = r.required(6); n = r.param(0)
        let (g, c, a, b) = Self.unpack(r)
        window = g; channels = c; first = a ?? .none; second = b ?? .none
    }

    /// Slots 1 ... 6 decoded: the depthwise window, C and the two activation codes (nil: unknown).
    @inlinable
    static func unpack(_ r: OpRecord) -> (Window2D, Int, ExpandDepthwise.Activation?, ExpandDepthwise.Activation?) {
        var g = Window2D(r)
        g.group = g.channels
        g.trainedOutputs = 0
        let packed = r.paramBits(6)
        return (g, Int(packed & 0xFFFF), ExpandDepthwise.Activation(rawValue: (packed >> 16) & 0xFF),
                ExpandDepthwise.Activation(rawValue: packed >> 24))
    }

    /// True when the fields fit the record (C in 16 bits, the window in its slots).
    public var fitsFormat: Bool { window.fitsFormat && channels >= 0 && channels <= 0xFFFF }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, x); r.setOperand(1, expand); r.setOperand(2, expandBias); r.setOperand(3, depthwise)
        r.setOperand(4, depthwiseBias); r.setOperand(5, y); r.setOperand(6, scratch)
        r.setParamBits(0, UInt32(n))
        window.store(into: &r)
        r.setParamBits(6, UInt32(truncatingIfNeeded: channels) | first.rawValue << 16 | second.rawValue << 24)
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let n = try c.batchParameter()
        let (g, channels, a, b) = unpack(c.op)
        if !g.isConsistent || g.outputs != g.channels || channels == 0 { throw .badParameter(slot: 1, value: c.op.paramBits(1)) }
        guard a != nil, b != nil else { throw .badParameter(slot: 6, value: c.op.paramBits(6)) }
        guard let s = g.sizes else { throw .badParameter(slot: 1, value: c.op.paramBits(1)) }
        let hidden = g.channels
        try c.operand(0, count: try c.product(try c.product(n, channels, slot: 6), s.plane, slot: 2), half: true)
        try c.operand(1, count: try c.product(hidden, channels, slot: 6), half: true, float: true)
        try c.operand(2, count: hidden, half: true, float: true, optional: true)
        try c.operand(3, count: try c.product(hidden, s.taps, slot: 4), half: true, float: true)
        try c.operand(4, count: hidden, half: true, float: true, optional: true)
        try c.operand(5, count: try c.product(n, s.outputElements, slot: 3), half: true, written: true)
        try c.operand(6, count: s.plane, half: true, written: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        ExpandDepthwise.forward(y: c.half(y), x: c.half(x), expand: c.parameter(expand),
                                expandBias: expandBias.map { c.parameter($0) }, depthwise: c.parameter(depthwise),
                                depthwiseBias: depthwiseBias.map { c.parameter($0) }, scratch: c.half(scratch),
                                rows: c.rows, channels: channels, window: window, first: first, second: second)
    }

    public func work(rows: Int) -> OpWork {
        let g = window
        var w = OpWork()
        w.macs = rows * g.channels * (g.height * g.width * channels + g.outHeight * g.outWidth * g.kernelHeight * g.kernelWidth)
        w.loads = 2 * w.macs
        w.conversions = 2 * w.macs + rows * g.channels * (g.height * g.width + g.outHeight * g.outWidth)
        w.stores = rows * g.channels * (g.height * g.width + g.outHeight * g.outWidth)
        w.other = w.stores * 2
        return w
    }
    public var family: KernelFamily { .expandDepthwise }

    public func describe<D: OpDescriber>(_ d: inout D) {
        let g = window
        d.text("N="); d.int(n); d.text(" "); d.int(channels); d.text("→"); d.int(g.channels)
        d.text(" hidden x"); d.int(g.height); d.text("x"); d.int(g.width); d.text("→"); d.int(g.outHeight); d.text("x"); d.int(g.outWidth)
        d.text(" k"); d.int(g.kernelHeight); d.text("x"); d.int(g.kernelWidth); d.text(" s"); d.int(g.strideHeight)
        d.text(", one hidden plane at a time")
    }
}
