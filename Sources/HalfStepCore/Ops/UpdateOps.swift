/// The update ops: one optimizer step on one trainable tensor, through the writer its update
/// mode needs (fp32 master, fp16 nearest, fp16 stochastic, fp16 Kahan).
///
/// Shapes: E elements (a partly trained weight updates its first E, its trained rows).
/// param [≥E] fp16 or fp32 (master) · grad [E] fp16, scaled by the loss scale · state [E] in the
/// plan's state type · compensation [E] fp16 (fp16-kahan only). Params `[E, UpdateMode, stream]`;
/// `stream` numbers the tensor for stochastic rounding.

/// operands `[param, grad, momentum?, -, compensation?]`: SGD with momentum and L2 decay.
public struct SGDUpdate: UpdateOp {
    public static let code = OpCode.sgdUpdate
    public static var name: StaticString { "SGD.update" }

    public var slots: UpdateSlots

    public init(_ slots: UpdateSlots) { self.slots = slots }

    @inlinable
    public init(_ r: OpRecord) { slots = UpdateSlots(r) }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let count = try UpdateSlots.check(c)
        if let t = c.op.operand(3) { throw .operandOutOfRange(slot: 3, tensor: t) }
        let state = c.plan.config.stateDType
        try c.operand(2, count: count, half: state == .float16, float: state == .float32, written: true, optional: true)
    }

    @inlinable
    public func step<W: ParameterWriter>(_ writer: inout W, _ c: StepContext) -> UpdateTally {
        let config = c.plan.config
        let grad = c.half(slots.grad)
        #if arch(x86_64) || arch(arm64)
        // Round-to-nearest storage: eight elements at a time (SGDVectorized), the same bits.
        if let nearest = writer as? NearestWriter<Float> { return vectorized(nearest.values, grad, c) }
        if let nearest = writer as? NearestWriter<Float16> { return vectorized(nearest.values, grad, c) }
        #endif
        if config.stateDType == .float16 {
            return SGD.update(param: &writer, grad: grad, momentum: slots.m.map { c.half($0) }, count: slots.count,
                              learningRate: c.learningRate, momentumFactor: config.momentum,
                              weightDecay: config.weightDecay, inverseScale: c.inverseScale)
        }
        return SGD.update(param: &writer, grad: grad, momentum: slots.m.map { c.float($0) }, count: slots.count,
                          learningRate: c.learningRate, momentumFactor: config.momentum,
                          weightDecay: config.weightDecay, inverseScale: c.inverseScale)
    }

    #if arch(x86_64) || arch(arm64)
    @usableFromInline
    func vectorized<P: UpdateLanes>(_ param: TensorView<P>, _ grad: TensorView<Float16>, _ c: StepContext) -> UpdateTally {
        let config = c.plan.config
        if config.stateDType == .float16 {
            return SGDVectorized.update(param: param, grad: grad, momentum: slots.m.map { c.half($0) }, count: slots.count,
                                        learningRate: c.learningRate, momentumFactor: config.momentum,
                                        weightDecay: config.weightDecay, inverseScale: c.inverseScale)
        }
        return SGDVectorized.update(param: param, grad: grad, momentum: slots.m.map { c.float($0) }, count: slots.count,
                                    learningRate: c.learningRate, momentumFactor: config.momentum,
                                    weightDecay: config.weightDecay, inverseScale: c.inverseScale)
    }
    #endif

    public func work(rows: Int) -> OpWork { slots.work(otherPerElement: 5, transcendentalsPerElement: 0) }
    public var family: KernelFamily { .update }
}

/// operands `[param, grad, m, r, compensation?]`: Adam, or AdamW when the plan's optimizer says so.
public struct AdamUpdate: UpdateOp {
    public static let code = OpCode.adamUpdate
    public static var name: StaticString { "Adam.update" }

    public var slots: UpdateSlots

    public init(_ slots: UpdateSlots) { self.slots = slots }

    @inlinable
    public init(_ r: OpRecord) { slots = UpdateSlots(r) }

    public static func check(_ c: OpContract) throws(OpProblem) {
        let count = try UpdateSlots.check(c)
        let state = c.plan.config.stateDType
        try c.operand(2, count: count, half: state == .float16, float: state == .float32, written: true)
        try c.operand(3, count: count, half: state == .float16, float: state == .float32, written: true)
    }

    @inlinable
    public func step<W: ParameterWriter>(_ writer: inout W, _ c: StepContext) -> UpdateTally {
        let config = c.plan.config
        let grad = c.half(slots.grad)
        let m = slots.m ?? 0, r = slots.r ?? 0
        let decoupled = config.optimizer == .adamW
        if config.stateDType == .float16 {
            return Adam.update(param: &writer, grad: grad, m: c.half(m), r: c.half(r), count: slots.count,
                               learningRate: c.learningRate, beta1: config.momentum, beta2: config.beta2,
                               epsilon: config.epsilon, weightDecay: config.weightDecay, decoupled: decoupled,
                               beta1Power: c.beta1Power, beta2Power: c.beta2Power, inverseScale: c.inverseScale)
        }
        return Adam.update(param: &writer, grad: grad, m: c.float(m), r: c.float(r), count: slots.count,
                           learningRate: c.learningRate, beta1: config.momentum, beta2: config.beta2,
                           epsilon: config.epsilon, weightDecay: config.weightDecay, decoupled: decoupled,
                           beta1Power: c.beta1Power, beta2Power: c.beta2Power, inverseScale: c.inverseScale)
    }

    /// The square root and the divide per element are one FPU instruction each (VSQRT, VDIV) on
    /// every core with an FPU, so they count as arithmetic, not as software transcendentals.
    public func work(rows: Int) -> OpWork { slots.work(otherPerElement: 16, transcendentalsPerElement: 0) }
    public var family: KernelFamily { .update }
}

/// The operand and parameter slots both update ops share.
public struct UpdateSlots {
    public var param: Int, grad: Int, m: Int?, r: Int?, compensation: Int?
    /// Elements updated (E).
    public var count: Int
    public var mode: UpdateMode
    /// The tensor's stochastic-rounding stream.
    public var stream: Int

    public init(param: Int, grad: Int, m: Int?, r: Int?, compensation: Int?, count: Int, mode: UpdateMode, stream: Int) {
        self.param = param; self.grad = grad; self.m = m; self.r = r; self.compensation = compensation
        self.count = count; self.mode = mode; self.stream = stream
    }

    @inlinable
    public init(_ r: OpRecord) {
        param = r.required(0); grad = r.required(1); m = r.operand(2); self.r = r.operand(3); compensation = r.operand(4)
        count = r.param(0)
        mode = UpdateMode(rawValue: UInt8(truncatingIfNeeded: r.param(1))) ?? .fp16
        stream = r.param(2)
    }

    /// The gradient an update record reads and its element count (slots 1 and param 0): what the
    /// trainer checks for inf/NaN before any update runs.
    @inlinable
    public static func gradient(of r: OpRecord) -> (tensor: Int, count: Int) { (r.required(1), r.param(0)) }

    func encode(into r: inout OpRecord) {
        r.setOperand(0, param); r.setOperand(1, grad); r.setOperand(2, m); r.setOperand(3, self.r); r.setOperand(4, compensation)
        r.setParamBits(0, UInt32(count)); r.setParamBits(1, UInt32(mode.rawValue)); r.setParamBits(2, UInt32(stream))
    }

    /// The checks both optimizers share; returns E.
    static func check(_ c: OpContract) throws(OpProblem) -> Int {
        let op = c.op
        guard let mode = UpdateMode(rawValue: UInt8(truncatingIfNeeded: op.paramBits(1))), op.paramBits(1) < 256 else {
            throw .badParameter(slot: 1, value: op.paramBits(1))
        }
        let count = try c.count(0)
        try c.operand(0, count: count, half: mode != .fp32Master, float: mode == .fp32Master, written: true, atLeast: true)
        if mode == .fp16Kahan {
            try c.operand(4, count: count, half: true, written: true)
        } else if let t = op.operand(4) {
            throw .operandOutOfRange(slot: 4, tensor: t)
        }
        try c.operand(1, count: count, half: true)
        return count
    }

    func work(otherPerElement: Int, transcendentalsPerElement: Int) -> OpWork {
        var w = OpWork()
        let n = count
        let states = (m != nil ? 1 : 0) + (r != nil ? 1 : 0) + (compensation != nil ? 1 : 0)
        w.loads = n * (2 + states)
        w.stores = n * (1 + states)
        w.conversions = n * (2 + 2 * states)
        w.other = n * otherPerElement
        w.transcendentals = n * transcendentalsPerElement
        return w
    }
}

/// An update op: an optimizer step written through whichever `ParameterWriter` the mode needs.
public protocol UpdateOp: StepOp {
    var slots: UpdateSlots { get }
    init(_ slots: UpdateSlots)
    /// One optimizer step through `writer`.
    func step<W: ParameterWriter>(_ writer: inout W, _ c: StepContext) -> UpdateTally
}

extension UpdateOp {
    public static var operandSlots: Int { 5 }
    public static var writtenSlots: UInt8 { 1 << 0 | 1 << 2 | 1 << 3 | 1 << 4 }
    public static var isUpdate: Bool { true }

    public func encode(into r: inout OpRecord) { slots.encode(into: &r) }

    /// Builds the writer of the update mode, runs the step and adds its tally to the context's.
    @inlinable
    public func run(_ c: inout StepContext) {
        let tally: UpdateTally
        switch slots.mode {
        case .fp32Master:
            var writer = NearestWriter(c.float(slots.param))
            tally = step(&writer, c)
        case .fp16:
            var writer = NearestWriter(c.half(slots.param))
            tally = step(&writer, c)
        case .fp16Stochastic:
            var writer = StochasticWriter(c.half(slots.param), seed: c.plan.config.seed,
                                          step: UInt32(truncatingIfNeeded: c.appliedSteps),
                                          stream: UInt32(truncatingIfNeeded: slots.stream))
            tally = step(&writer, c)
        case .fp16Kahan:
            var writer = KahanWriter(c.half(slots.param), compensation: c.half(slots.compensation ?? 0))
            tally = step(&writer, c)
        }
        c.tally.nonzeroUpdates += tally.nonzeroUpdates
        c.tally.underflows += tally.underflows
    }

    public func describe<D: OpDescriber>(_ d: inout D) {
        d.int(slots.count); d.text(" elements, "); d.text(slots.mode.spelling)
    }
}

extension UpdateMode {
    /// The mode as `--update` spells it.
    public var spelling: StaticString {
        switch self {
        case .fp32Master: return "fp32-master"
        case .fp16: return "fp16"
        case .fp16Stochastic: return "fp16-stochastic"
        case .fp16Kahan: return "fp16-kahan"
        }
    }
}
