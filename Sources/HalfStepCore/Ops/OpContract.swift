/// One op record in its plan, with the checks every op contract is written in: operand types and
/// element counts, overflow-checked products of parameters, windows, aliasing.
///
/// Every size is computed with overflow checks, because on a 32-bit device `Int` is 32 bits and
/// a corrupt parameter must be refused, never trap.
public struct OpContract {
    public let plan: Plan
    public let op: OpRecord

    public init(plan: Plan, op: OpRecord) {
        self.plan = plan
        self.op = op
    }

    /// The plan's micro-batch: what parameter slot 0 of every batch-major op must hold.
    public var batch: Int { Int(plan.config.batch) }

    /// Parameter slot 0, which must equal the plan's batch.
    public func batchParameter() throws(OpProblem) -> Int {
        let n = op.param(0)
        if n != batch { throw .badParameter(slot: 0, value: op.paramBits(0)) }
        return n
    }

    /// `a · b`, refused (as a bad parameter `slot`) on overflow or when `b` is 0.
    public func product(_ a: Int, _ b: Int, slot: Int) throws(OpProblem) -> Int {
        let (p, o) = a.multipliedReportingOverflow(by: b)
        if o || b == 0 { throw .badParameter(slot: slot, value: op.paramBits(slot)) }
        return p
    }

    /// Parameter slot `slot` as a nonzero count.
    public func count(_ slot: Int) throws(OpProblem) -> Int {
        let v = op.param(slot)
        if v == 0 { throw .badParameter(slot: slot, value: op.paramBits(slot)) }
        return v
    }

    /// Parameter slot `slot` as a finite Float.
    public func finite(_ slot: Int) throws(OpProblem) {
        if !op.floatParam(slot).isFinite { throw .badParameter(slot: slot, value: op.paramBits(slot)) }
    }

    /// The sizes of a window (slots 1 ... 6), checked consistent and overflow-free.
    public func window(_ g: Window2D) throws(OpProblem) -> Window2D.Sizes {
        if !g.isConsistent { throw .badParameter(slot: 1, value: op.paramBits(1)) }
        guard let sizes = g.sizes else { throw .badParameter(slot: 1, value: op.paramBits(1)) }
        return sizes
    }

    /// The window of a pooling op: slots 1 ... 6 with M = C, no trained outputs, and the group
    /// field holding the count-padding flag (0 or 1).
    public func poolingWindow() throws(OpProblem) -> Window2D.Sizes {
        let g = Window2D(op)
        var shape = g
        shape.group = 1
        if !shape.isConsistent { throw .badParameter(slot: 1, value: op.paramBits(1)) }
        if g.outputs != g.channels || g.trainedOutputs != 0 { throw .badParameter(slot: 1, value: op.paramBits(1)) }
        if g.group > 1 { throw .badParameter(slot: 6, value: op.paramBits(6)) }
        guard let sizes = shape.sizes else { throw .badParameter(slot: 1, value: op.paramBits(1)) }
        return sizes
    }

    /// Operand `slot` must name a tensor of `count` elements (more, with `atLeast`) of one of the
    /// allowed types, in the arena when the op writes it; an empty slot passes when `optional`.
    public func operand(_ slot: Int, count: Int, half: Bool = false, float: Bool = false, int: Bool = false,
                        written: Bool = false, optional: Bool = false, atLeast: Bool = false) throws(OpProblem) {
        guard let t = op.operand(slot) else {
            if optional { return }
            throw .missingOperand(slot: slot)
        }
        guard t < plan.tensorCount else { throw .operandOutOfRange(slot: slot, tensor: t) }
        let r = plan.tensor(t)
        let dtypeOK = (half && r.dtype == .float16) || (float && r.dtype == .float32) || (int && r.dtype == .int32)
        if !dtypeOK { throw .operandDType(slot: slot, tensor: t) }
        let found = r.elementCount ?? -1
        if found != count && !(atLeast && found > count) { throw .operandShape(slot: slot, tensor: t, expected: count, found: found) }
        if written && r.region != .arena { throw .writesFlash(slot: slot, tensor: t) }
        if written && r.role == .labels { throw .overwritesLabels(slot: slot, tensor: t) }
    }

    /// The element count of the tensor in `slot` (checked in range), or -1.
    public func elementCount(_ slot: Int) -> Int {
        guard let t = op.operand(slot), t < plan.tensorCount else { return -1 }
        return plan.tensor(t).elementCount ?? -1
    }

    /// The aliasing rule for `Op`: a tensor in a written slot may appear in no other slot, except a
    /// read slot the op's in-place rule allows. The slot reported is the written one (the later
    /// one when both are written).
    func aliases<Op: StepOp>(_ decoded: Op) throws(OpProblem) {
        let written = Op.writtenSlots
        var b = 1
        while b < Op.operandSlots {
            if let t = op.operand(b) {
                var a = 0
                while a < b {
                    if op.operand(a) == t {
                        let aw = written & (1 << a) != 0, bw = written & (1 << b) != 0
                        if aw && bw { throw .forbiddenAlias(slot: b, tensor: t) }
                        if bw && !decoded.allowsAlias(written: b, read: a) { throw .forbiddenAlias(slot: b, tensor: t) }
                        if aw && !decoded.allowsAlias(written: a, read: b) { throw .forbiddenAlias(slot: a, tensor: t) }
                    }
                    a += 1
                }
            }
            b += 1
        }
    }
}

/// Verifies one record against its op's contract (`OpCode.visit`).
struct ContractVisitor: OpVisitor {
    let contract: OpContract

    func visit<Op: StepOp>(_ type: Op.Type) -> OpProblem? {
        let op = contract.op
        do throws(OpProblem) {
            // Slots past the op's own are empty: nothing reads them, so nothing may hide there.
            var s = Op.operandSlots
            while s < PlanFormat.maxOperands {
                if let t = op.operand(s) { throw .unexpectedOperand(slot: s, tensor: t) }
                s += 1
            }
            if Int(op.operandCount) != Op.operandSlots { throw .badOperandCount(found: Int(op.operandCount), expected: Op.operandSlots) }
            if (op.phase == .update) != Op.isUpdate || (op.phase == .loss) != Op.isLoss {
                throw .wrongPhase(raw: op.phaseRaw)
            }
            try Op.check(contract)
            try contract.aliases(Op(op))
            return nil
        } catch {
            return error
        }
    }
}
