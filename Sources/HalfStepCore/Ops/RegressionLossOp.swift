/// The regression loss (the config's `LossKind`: MSE, L1 or Huber) of the output against float
/// targets, fused with its gradient.
///
/// Shapes: N rows, E outputs per sample. output [N, E] fp16 · targets [N, E] fp16 (the config's
/// labels tensor) · loss [1] fp32 (the mean over N·E) · doutput [N, E] fp16, written
/// pre-multiplied by the loss scale. Params `[N, E]`; the kind and Huber's delta are the config's.

/// operands `[output, targets, loss, doutput]`; the one op of the loss phase of a regression plan.
public struct RegressionLossOp: StepOp {
    public static let code = OpCode.regressionLoss
    public static var name: StaticString { "RegressionLoss" }
    public static var operandSlots: Int { 4 }
    public static var writtenSlots: UInt8 { 1 << 2 | 1 << 3 }
    public static var isLoss: Bool { true }

    public var output: Int, targets: Int, loss: Int, doutput: Int
    public var n: Int, outputs: Int

    public init(output: Int, targets: Int, loss: Int, doutput: Int, n: Int, outputs: Int) {
        self.output = output; self.targets = targets; self.loss = loss; self.doutput = doutput
        self.n = n; self.outputs = outputs
    }

    @inlinable
    public init(_ r: OpRecord) {
        output = r.required(0); targets = r.required(1); loss = r.required(2); doutput = r.required(3)
        n = r.param(0); outputs = r.param(1)
    }

    public func encode(into r: inout OpRecord) {
        r.setOperand(0, output); r.setOperand(1, targets); r.setOperand(2, loss); r.setOperand(3, doutput)
        r.setParamBits(0, UInt32(n)); r.setParamBits(1, UInt32(outputs))
    }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let config = c.plan.config
        guard let kind = config.lossKind, kind.isRegression else { throw .lossKindMismatch(configured: config.lossKindRaw) }
        let n = try c.batchParameter(), outputs = c.op.param(1)
        if outputs != Int(config.classes) { throw .badParameter(slot: 1, value: c.op.paramBits(1)) }
        let ne = try c.product(n, outputs, slot: 1)
        try c.operand(0, count: ne, half: true)
        try c.operand(1, count: ne, half: true)
        if let t = c.op.operand(1), t != Int(config.labelsTensor) { throw .notTheLabels(slot: 1, tensor: t) }
        try c.operand(2, count: 1, float: true, written: true)
        try c.operand(3, count: ne, half: true, written: true)
    }

    @inlinable
    public func run(_ c: inout StepContext) {
        let config = c.plan.config
        RegressionLoss.forwardBackward(loss: c.float(loss), doutput: c.half(doutput), output: c.half(output),
                                       targets: c.half(targets), rows: c.rows, outputs: outputs,
                                       kind: config.lossKind ?? .mse, delta: config.huberDelta, scale: c.lossScale)
    }

    public func work(rows: Int) -> OpWork {
        var w = OpWork()
        w.loads = 2 * rows * outputs
        w.conversions = 3 * rows * outputs
        w.stores = rows * outputs + 1
        w.other = 4 * rows * outputs
        return w
    }
    public var family: KernelFamily { .loss }

    public func describe<D: OpDescriber>(_ d: inout D) {
        d.text("N="); d.int(n); d.text(" E="); d.int(outputs)
    }
}
