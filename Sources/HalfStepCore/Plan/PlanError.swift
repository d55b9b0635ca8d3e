/// Why the core refused a plan.
///
/// Payloads are integers (offsets, sizes, indices) so that raising one never allocates on a
/// device; host tools turn them into sentences (`PlanError.description` in HalfStepPlanner).
public enum PlanError: Error, Equatable, Sendable {
    /// The buffer is shorter than a header: `bytes` found, 64 needed.
    case tooSmall(bytes: Int)
    /// The buffer's start is not 16-byte aligned, so fp16/fp32 data in place cannot be read.
    case misalignedBuffer(address: UInt)
    /// The first four bytes are not `"HSPL"`.
    case badMagic(found: UInt32)
    /// A format version this core does not read.
    case unsupportedVersion(found: UInt16, supported: UInt16)
    /// The header's size fields do not match the buffer.
    case sizeMismatch(header: UInt32, actual: Int)
    /// The CRC-32 over bytes 16 ..< end does not match the header.
    case badChecksum(stored: UInt32, computed: UInt32)
    /// A section (`PlanSection`) reaches outside the file or is misaligned.
    /// `bytes` is the section's size (count × record size, 2^32 − 1 when that passes 2^32).
    case sectionOutOfBounds(section: PlanSection, offset: UInt32, bytes: UInt32, fileBytes: Int)
    /// A header field holds more than any plan may: `tensorCount` (byte 16) of 65535 or more
    /// (operands are 16-bit, 0xFFFF meaning none) or `arenaBytes` (byte 48) of 2^31 or more.
    case headerFieldOutOfRange(byteOffset: Int, value: UInt32)
    /// Tensor `index` is malformed.
    case tensor(index: Int, problem: TensorProblem)
    /// Op `index` of the step program is malformed.
    case op(index: Int, problem: OpProblem)
    /// The training configuration is malformed.
    case config(problem: ConfigProblem)
    /// The arena handed to the trainer is smaller than the plan needs, bytes.
    case arenaTooSmall(needed: Int, available: Int)
}

/// The sections of a plan file.
public enum PlanSection: UInt8, Equatable, Sendable {
    case header = 1, tensorTable, opTable, config, names, data
}

/// What is wrong with one tensor record.
public enum TensorProblem: Equatable, Sendable {
    case badDType(raw: UInt8)
    case badRegion(raw: UInt8)
    case badRole(raw: UInt8)
    case badRank(rank: Int)
    /// Dimension `index` is 2^31 or more, or it is past the rank and not 0.
    case badDimension(index: Int, value: UInt32)
    /// `bytes` does not equal element count × element width (`expected`: 2^32 − 1 when that
    /// passes 2^32).
    case sizeMismatch(expected: UInt32, found: UInt32)
    /// The tensor reaches past the arena's end.
    case outsideArena(offset: UInt32, bytes: UInt32, arenaBytes: UInt32)
    /// The tensor (or its initial value) reaches past the data section's end.
    case outsideData(offset: UInt32, bytes: UInt32, dataBytes: UInt32)
    /// The offset is not a multiple of the element width.
    case misaligned(offset: UInt32)
    /// The name range reaches outside the names section.
    case nameOutOfBounds
    /// A trainable or flash tensor with no initial value, or a flash tensor marked trainable.
    case inconsistentFlags(flags: UInt16)
    /// The tensors that persist across steps (parameters, master copies, optimizer state), summed
    /// up to and including this one, need more bytes than the arena holds (or than 2^31 − 64 Ki,
    /// what a checkpoint slot can hold): they cannot all have a place of their own in it
    /// (`stateBytes` is the sum so far, each tensor rounded up to 4).
    case stateExceedsArena(stateBytes: UInt32, arenaBytes: UInt32)
}

/// What is wrong with one op record.
public enum OpProblem: Error, Equatable, Sendable {
    case badOpcode(raw: UInt16)
    case badPhase(raw: UInt8)
    /// Ops must appear forward, loss, backward, update, in that order.
    case phaseOutOfOrder
    /// A required operand slot is empty.
    case missingOperand(slot: Int)
    /// An operand names a tensor index past the table.
    case operandOutOfRange(slot: Int, tensor: Int)
    /// An operand's element type is not one this op accepts.
    case operandDType(slot: Int, tensor: Int)
    /// An operand's element count disagrees with the op's parameters.
    case operandShape(slot: Int, tensor: Int, expected: Int, found: Int)
    /// The op would write a tensor that lives in flash.
    case writesFlash(slot: Int, tensor: Int)
    /// The op writes a tensor it also reads where that is not allowed.
    case forbiddenAlias(slot: Int, tensor: Int)
    /// A parameter slot holds a value the op cannot run with.
    case badParameter(slot: Int, value: UInt32)
    /// A slot past the op's own names a tensor.
    case unexpectedOperand(slot: Int, tensor: Int)
    /// The record's operand count differs from its op's slot count.
    case badOperandCount(found: Int, expected: Int)
    /// The op cannot run in this phase (updates only in the update phase, the loss only in the loss phase).
    case wrongPhase(raw: UInt8)
    /// The op would write the labels tensor, which only the caller fills (class indices the loss
    /// reads as offsets: a value written there could send the loss outside its logits).
    case overwritesLabels(slot: Int, tensor: Int)
    /// The loss reads its class indices from a tensor that is not the config's labels tensor.
    case notTheLabels(slot: Int, tensor: Int)
    /// The loss op is not the loss the config names (`LossKind` raw value).
    case lossKindMismatch(configured: UInt8)
}

/// What is wrong with the training configuration.
public enum ConfigProblem: Error, Equatable, Sendable {
    case badOptimizer(raw: UInt8)
    case badLossScaleMode(raw: UInt8)
    case badStateDType(raw: UInt8)
    case badAccumulation(raw: UInt8)
    case zeroBatch
    case zeroClasses
    /// The loss kind byte (config byte 64) names no `LossKind`.
    case badLossKind(raw: UInt8)
    /// The schedule byte (config byte 65) names no `ScheduleKind`.
    case badSchedule(raw: UInt8)
    /// A hyperparameter is NaN, infinite or out of its range (slot = byte offset in the config).
    case badHyperparameter(byteOffset: Int)
    /// A tensor reference (input, labels, logits, loss) is out of range or of the wrong kind.
    case badTensorReference(byteOffset: Int, tensor: Int)
    /// The program has no loss op, or more than one.
    case lossOpCount(found: Int)
}
