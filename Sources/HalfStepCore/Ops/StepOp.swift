/// One operation of the step program, as one type: its operands, its record codec, the contract
/// the verifier checks, what it may overwrite, how it runs and how much work it does.
///
/// Every op family keeps all of that in its own file under `Ops/`; `OpTable` maps each `OpCode`
/// to its type with one exhaustive switch, so the compiler names every place a new op was
/// forgotten. The trainer, the verifier, the work count and the host's reports all go through
/// that table and never switch over opcodes themselves.
public protocol StepOp {
    /// The opcode this op's records carry.
    static var code: OpCode { get }
    /// The name reports print, `Family.direction` (`"Dense.forward"`).
    static var name: StaticString { get }
    /// Operand slots its records hold (`OpRecord.operandCount`), absent optional ones included.
    static var operandSlots: Int { get }
    /// The slots the op writes, bit `i` for slot `i` (the verifier refuses writes into flash and
    /// two written slots naming one tensor).
    static var writtenSlots: UInt8 { get }
    /// True for the ops of the update phase: they read a gradient (slot 1) of `param(0)`
    /// elements, which the trainer checks for inf/NaN before it runs them.
    static var isUpdate: Bool { get }
    /// True for the loss op: the one op of the loss phase.
    static var isLoss: Bool { get }

    /// Decodes a record the verifier has accepted (`check` passed): nothing is checked again.
    init(_ record: OpRecord)
    /// Writes the operand and parameter slots (the opcode, phase and operand count are
    /// `record(phase:)`'s).
    func encode(into record: inout OpRecord)
    /// The contract of the op's slots against the plan: operand types, shapes and parameters.
    static func check(_ contract: OpContract) throws(OpProblem)
    /// The in-place rule: true when written slot `written` may hold the same tensor as read slot
    /// `read` (the kernel supports it); every other alias is refused.
    func allowsAlias(written: Int, read: Int) -> Bool
    /// Runs the kernel on `context.rows` rows.
    func run(_ context: inout StepContext)
    /// The work of `rows` batch rows, counted as the reference loops do it (see `OpWork`).
    func work(rows: Int) -> OpWork
    /// The kernel family the cost model prices this op's work by.
    var family: KernelFamily { get }
    /// The op's shape and settings for reports, in words and numbers.
    func describe<D: OpDescriber>(_ d: inout D)
    /// fp32 elements of host working memory (`KernelScratch`) the op's kernels can use; 0 (the
    /// default) for none, and always 0 on a device.
    var scratchFloats: Int { get }
}

extension StepOp {
    public static var isUpdate: Bool { false }
    public static var isLoss: Bool { false }
    public func allowsAlias(written: Int, read: Int) -> Bool { false }
    public var scratchFloats: Int { 0 }

    /// The record of this op in `phase`.
    public func record(phase: Phase) -> OpRecord {
        var r = OpRecord()
        r.opcodeRaw = Self.code.rawValue
        r.phaseRaw = phase.rawValue
        r.operandCount = UInt8(Self.operandSlots)
        encode(into: &r)
        return r
    }
}

/// Receives an op's description for a report: text pieces and numbers, which the host formats
/// (the core has no strings).
public protocol OpDescriber {
    mutating func text(_ s: StaticString)
    mutating func int(_ v: Int)
    mutating func float(_ v: Float)
}

extension OpRecord {
    /// Operand slot `i` of a verified record whose contract requires the slot (no check).
    @inlinable
    public func required(_ i: Int) -> Int { Int(operandBits(i)) }
}
