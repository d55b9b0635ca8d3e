/// Something done with an op whose type the opcode selects: verify it, run it, count its work,
/// describe it. `OpCode.visit` calls `visit` with the op's type; the visitor does the rest
/// generically, so no other code switches over opcodes.
public protocol OpVisitor {
    associatedtype Result
    mutating func visit<Op: StepOp>(_ type: Op.Type) -> Result
}

extension OpCode {
    /// Calls `visitor` with the op type of this opcode: the one table from opcodes to op files.
    @inlinable
    public func visit<V: OpVisitor>(_ visitor: inout V) -> V.Result {
        switch self {
        case .denseForward: return visitor.visit(DenseForward.self)
        case .denseBackward: return visitor.visit(DenseBackward.self)
        case .reluForward: return visitor.visit(ReLUForward.self)
        case .reluBackward: return visitor.visit(ReLUBackward.self)
        case .softmaxCrossEntropy: return visitor.visit(SoftmaxCrossEntropyLoss.self)
        case .sgdUpdate: return visitor.visit(SGDUpdate.self)
        case .adamUpdate: return visitor.visit(AdamUpdate.self)
        case .conv2dForward: return visitor.visit(Conv2DForward.self)
        case .conv2dBackward: return visitor.visit(Conv2DBackward.self)
        case .maxPoolForward: return visitor.visit(MaxPoolForward.self)
        case .maxPoolBackward: return visitor.visit(MaxPoolBackward.self)
        case .averagePoolForward: return visitor.visit(AveragePoolForward.self)
        case .averagePoolBackward: return visitor.visit(AveragePoolBackward.self)
        case .globalAveragePoolForward: return visitor.visit(GlobalAveragePoolForward.self)
        case .globalAveragePoolBackward: return visitor.visit(GlobalAveragePoolBackward.self)
        case .elementwiseAdd: return visitor.visit(ElementwiseAdd.self)
        case .accumulateActivationGradient: return visitor.visit(AccumulateActivationGradient.self)
        case .activationForward: return visitor.visit(ActivationForward.self)
        case .activationBackward: return visitor.visit(ActivationBackward.self)
        case .channelScale: return visitor.visit(ChannelScale.self)
        case .batchNormForward: return visitor.visit(BatchNormForward.self)
        case .batchNormBackward: return visitor.visit(BatchNormBackward.self)
        case .copyRows: return visitor.visit(CopyRows.self)
        case .expandDepthwiseForward: return visitor.visit(ExpandDepthwiseForward.self)
        case .accumulateGradient: return visitor.visit(AccumulateGradient.self)
        case .activationMaskForward: return visitor.visit(ActivationMaskForward.self)
        case .activationMaskBackward: return visitor.visit(ActivationMaskBackward.self)
        case .conv2dPanelForward: return visitor.visit(Conv2DPanelForward.self)
        case .regressionLoss: return visitor.visit(RegressionLossOp.self)
        }
    }

    /// The name reports print for this op (`"Dense.forward"`).
    public var name: StaticString {
        var v = NameVisitor()
        return visit(&v)
    }

    /// Operand slots the op's records hold.
    public var operandSlots: Int {
        var v = SlotsVisitor()
        return visit(&v)
    }

    /// The slots the op writes, bit `i` for slot `i`.
    public var writtenSlots: UInt8 {
        var v = WrittenVisitor()
        return visit(&v)
    }

    /// True for the update ops.
    public var isUpdate: Bool {
        var v = UpdateVisitor()
        return visit(&v)
    }
}

struct NameVisitor: OpVisitor {
    func visit<Op: StepOp>(_ type: Op.Type) -> StaticString { Op.name }
}

struct SlotsVisitor: OpVisitor {
    func visit<Op: StepOp>(_ type: Op.Type) -> Int { Op.operandSlots }
}

struct WrittenVisitor: OpVisitor {
    func visit<Op: StepOp>(_ type: Op.Type) -> UInt8 { Op.writtenSlots }
}

struct UpdateVisitor: OpVisitor {
    func visit<Op: StepOp>(_ type: Op.Type) -> Bool { Op.isUpdate }
}

extension OpRecord {
    /// Runs this (verified) record's op in `context`.
    @inlinable
    public func run(_ context: inout StepContext) {
        guard let code = opcode else { return }
        var v = RunVisitor(record: self, context: context)
        code.visit(&v)
        context = v.context
    }

    /// The work of this record's op on `rows` rows (nothing for an unknown opcode).
    public func work(rows: Int) -> OpWork {
        guard let code = opcode else { return OpWork() }
        var v = WorkVisitor(record: self, rows: rows)
        return code.visit(&v)
    }

    /// The kernel family of this record's op (nil for an unknown opcode).
    public var family: KernelFamily? {
        guard let code = opcode else { return nil }
        var v = FamilyVisitor(record: self)
        return code.visit(&v)
    }

    /// fp32 elements of `KernelScratch` this record's op can use (0 for an unknown opcode).
    public var scratchFloats: Int {
        guard let code = opcode else { return 0 }
        var v = ScratchVisitor(record: self)
        return code.visit(&v)
    }

    /// Describes this (verified) record's op into `d`.
    public func describe<D: OpDescriber>(_ d: inout D) {
        guard let code = opcode else { return }
        var v = DescribeVisitor(record: self, describer: d)
        code.visit(&v)
        d = v.describer
    }
}

@usableFromInline
struct RunVisitor: OpVisitor {
    @usableFromInline let record: OpRecord
    @usableFromInline var context: StepContext

    @inlinable
    init(record: OpRecord, context: StepContext) {
        self.record = record
        self.context = context
    }

    @inlinable
    mutating func visit<Op: StepOp>(_ type: Op.Type) { Op(record).run(&context) }
}

struct WorkVisitor: OpVisitor {
    let record: OpRecord
    let rows: Int
    func visit<Op: StepOp>(_ type: Op.Type) -> OpWork { Op(record).work(rows: rows) }
}

struct FamilyVisitor: OpVisitor {
    let record: OpRecord
    func visit<Op: StepOp>(_ type: Op.Type) -> KernelFamily { Op(record).family }
}

struct ScratchVisitor: OpVisitor {
    let record: OpRecord
    func visit<Op: StepOp>(_ type: Op.Type) -> Int { Op(record).scratchFloats }
}

struct DescribeVisitor<D: OpDescriber>: OpVisitor {
    let record: OpRecord
    var describer: D
    mutating func visit<Op: StepOp>(_ type: Op.Type) { Op(record).describe(&describer) }
}
