/// The loss: softmax cross-entropy of the logits against integer labels, fused with its gradient.
///
/// Shapes: N rows, C classes. logits [N, C] fp16 · labels [N] int32 · loss [1] fp32 (the mean) ·
/// dlogits [N, C] fp16, written pre-multiplied by the loss scale. Params `[N, C]`.

/// operands `[logits, labels, loss, dlogits]`; the one op of the loss phase.
public struct SoftmaxCrossEntropyLoss: StepOp {
    public static let code = OpCode.softmaxCrossEntropy
    public static var name: StaticString { "SoftmaxCrossEntropy" }
    public static var operandSlots: Int { 4 }
    public static var writtenSlots: UInt8 { 1 << 2 | 1 << 3 }
    public static var isLoss: Bool { true }

    public var logits: Int, labels: Int, loss: Int, dlogits: Int
    public var n: Int, classes: Int

    public init(logits: Int, labels: Int, loss: Int, dlogits: Int, n: Int, classes: Int) {
        self.logits = logits; self.labels = labels; self.loss = loss; self.dlogits = dlogits
        self.n = n; self.classes = classes
    }

    @inlinable
    public init(_ r: OpRecord) {
        logits = r.required(0); labels = r.required(1); loss = r.required(2); dlogits = r.required(3)
        n = r.param(0); classes = r.param(1)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, logits); r.setOperand(1, labels); r.setOperand(2, loss); r.setOperand(3, dlogits)
        r.setParamBits(0, UInt32(n)); r.setParamBits(1, UInt32(classes))
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        if c.plan.config.lossKind != .crossEntropy { throw .lossKindMismatch(configured: c.plan.config.lossKindRaw) }
        let n = try c.batchParameter(), classes = c.op.param(1)
        if classes != Int(c.plan.config.classes) { throw .badParameter(slot: 1, value: c.op.paramBits(1)) }
        let nc = try c.product(n, classes, slot: 1)
        try c.operand(0, count: nc, half: true)
        try c.operand(1, count: n, int: true)
        if let t = c.op.operand(1), t != Int(c.plan.config.labelsTensor) { throw .notTheLabels(slot: 1, tensor: t) }
        try c.operand(2, count: 1, float: true, written: true)
        try c.operand(3, count: nc, half: true, written: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        SoftmaxCrossEntropy.forwardBackward(loss: c.float(loss), dlogits: c.half(dlogits), logits: c.half(logits),
                                            labels: c.int(labels), rows: c.rows, classes: classes, scale: c.lossScale)
    }

    public func work(rows: Int) -> OpWork {
        var w = OpWork()
        w.loads = 3 * rows * classes + rows
        w.conversions = 4 * rows * classes
        w.transcendentals = 2 * rows * classes + rows
        w.stores = rows * classes + 1
        w.other = 4 * rows * classes
        return w
    }
    public var family: KernelFamily { .loss }

    public func describe<D: OpDescriber>(_ d: inout D) {
        d.text("N="); d.int(n); d.text(" C="); d.int(classes)
    }
}
