import HalfStepCore

extension PlanError {
    /// One sentence for a user: what the core found and what it expected.
    public var explanation: String {
        switch self {
        case .tooSmall(let bytes):
            return "file is \(bytes) bytes, shorter than the \(PlanFormat.headerBytes)-byte header"
        case .misalignedBuffer(let address):
            return "plan buffer at 0x\(String(address, radix: 16)) is not \(PlanFormat.alignment)-byte aligned"
        case .badMagic(let found):
            return "bytes 0..<4 are 0x\(String(found, radix: 16)), expected \"HSPL\" (0x\(String(PlanFormat.magic, radix: 16))): not a HalfStep plan"
        case .unsupportedVersion(let found, let supported):
            return "format version \(found) at byte 4; this build reads version \(supported) (re-run `halfstep plan` with this build)"
        case .sizeMismatch(let header, let actual):
            return "header says \(header) bytes, found \(actual) (truncated or padded file)"
        case .badChecksum(let stored, let computed):
            return "CRC-32 mismatch at byte 12: stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16)) (the file is corrupted)"
        case .sectionOutOfBounds(let section, let offset, let bytes, let fileBytes):
            let size = bytes == .max ? "2^32 bytes or more" : "\(bytes) bytes"
            return "\(section) section at byte \(offset) (\(size)) does not fit in the \(fileBytes)-byte file or is misaligned"
        case .headerFieldOutOfRange(16, let value):
            return "the header's tensor count (byte 16) is \(value); at most \(Int(PlanFormat.noTensor) - 1) tensors fit 16-bit operands"
        case .headerFieldOutOfRange(48, let value):
            return "the header's arena size (byte 48) is \(value) bytes, past the \(PlanFormat.maxElements) a 32-bit device can address"
        case .headerFieldOutOfRange(let at, let value):
            return "the header field at byte \(at) holds \(value), out of range"
        case .tensor(let index, let problem):
            return "tensor \(index): \(problem.explanation)"
        case .op(let index, let problem):
            return "op \(index) of the step program: \(problem.explanation)"
        case .config(let problem):
            return "training config: \(problem.explanation)"
        case .arenaTooSmall(let needed, let available):
            return "the arena holds \(available) bytes; the plan needs \(needed)"
        }
    }
}

extension TensorProblem {
    public var explanation: String {
        switch self {
        case .badDType(let raw): return "element type \(raw) is not one of 1 (fp16), 2 (fp32), 3 (int32)"
        case .badRegion(let raw): return "region \(raw) is not 1 (arena) or 2 (flash)"
        case .badRole(let raw): return "role \(raw) is unknown"
        case .badRank(let rank): return "rank \(rank) is outside 1...\(PlanFormat.maxRank) or the shape overflows"
        case .badDimension(let index, let value): return "dimension \(index) is \(value): past the rank it must be 0, within it at most \(PlanFormat.maxElements)"
        case .sizeMismatch(let expected, let found): return "size is \(found) bytes, its shape needs \(expected == .max ? "2^32 or more" : "\(expected)")"
        case .outsideArena(let offset, let bytes, let arena): return "arena offset \(offset) + \(bytes) bytes reaches past the \(arena)-byte arena"
        case .outsideData(let offset, let bytes, let data): return "data offset \(offset) + \(bytes) bytes reaches past the \(data)-byte data section"
        case .misaligned(let offset): return "offset \(offset) is not aligned to its element width"
        case .nameOutOfBounds: return "its name reaches outside the names section"
        case .inconsistentFlags(let flags): return "flags 0x\(String(flags, radix: 16)) are inconsistent (trainable without an initial value, or trainable in flash)"
        case .stateExceedsArena(let state, let arena): return "the tensors that persist across steps, up to this one, need \(state) bytes: more than the \(arena)-byte arena (each needs its own place)"
        }
    }
}

extension OpProblem {
    public var explanation: String {
        switch self {
        case .badOpcode(let raw): return "opcode \(raw) is unknown"
        case .badPhase(let raw): return "phase \(raw) is unknown"
        case .phaseOutOfOrder: return "phases are out of order (forward, loss, backward, update expected)"
        case .missingOperand(let slot): return "operand \(slot) is required but absent"
        case .operandOutOfRange(let slot, let tensor): return "operand \(slot) names tensor \(tensor), past the tensor table"
        case .operandDType(let slot, let tensor): return "operand \(slot) (tensor \(tensor)) has an element type this op does not take"
        case .operandShape(let slot, let tensor, let expected, let found): return "operand \(slot) (tensor \(tensor)) has \(found) elements, the op's parameters need \(expected)"
        case .writesFlash(let slot, let tensor): return "operand \(slot) (tensor \(tensor)) is written but lives in flash"
        case .forbiddenAlias(let slot, let tensor): return "operand \(slot) (tensor \(tensor)) is both read and written where that is not allowed"
        case .badParameter(let slot, let value): return "parameter \(slot) = \(value) is out of range"
        case .badOperandCount(let found, let expected): return "the record says \(found) operands; this op has \(expected)"
        case .wrongPhase(let raw): return "this op cannot run in phase \(raw) (updates run in the update phase, the loss alone in the loss phase)"
        case .overwritesLabels(let slot, let tensor): return "operand \(slot) writes tensor \(tensor), the labels: only the caller fills them"
        case .notTheLabels(let slot, let tensor): return "operand \(slot) reads class indices from tensor \(tensor), which is not the config's labels tensor"
        case .unexpectedOperand(let slot, let tensor): return "operand \(slot) names tensor \(tensor), but this op has no slot \(slot)"
        case .lossKindMismatch(let raw): return "this loss op is not the loss the config names (loss kind \(raw))"
        }
    }
}

extension ConfigProblem {
    public var explanation: String {
        switch self {
        case .badOptimizer(let raw): return "optimizer \(raw) is unknown"
        case .badLossScaleMode(let raw): return "loss-scale mode \(raw) is unknown"
        case .badStateDType(let raw): return "optimizer state type \(raw) is not fp16 or fp32"
        case .badAccumulation(let raw): return "accumulation mode \(raw) is not supported by format v1"
        case .zeroBatch: return "batch size is 0"
        case .zeroClasses: return "class count is 0"
        case .badLossKind(let raw): return "loss kind \(raw) (config byte 64) is unknown"
        case .badSchedule(let raw): return "learning-rate schedule \(raw) (config byte 65) is unknown"
        case .badHyperparameter(let at): return "the hyperparameter at config byte \(at) is NaN, infinite or out of range"
        case .badTensorReference(let at, let tensor): return "the tensor reference at config byte \(at) (tensor \(tensor)) is out of range or of the wrong kind"
        case .lossOpCount(let found): return "the step program has \(found) loss ops, exactly 1 expected"
        }
    }
}
