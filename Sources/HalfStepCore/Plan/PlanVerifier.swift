/// The checks that make a plan safe to run: after them no kernel can read or write outside the
/// arena or the plan, and nothing writes to flash.
///
/// On a device a bad plan would otherwise corrupt memory silently, so every field the trainer
/// later trusts is checked here, once, before the first step.
public enum PlanVerifier {
    /// Checks magic, version, sizes, CRC and section bounds; returns the header.
    public static func verifyHeader(_ bytes: UnsafeRawBufferPointer) throws(PlanError) -> PlanHeader {
        guard let base = bytes.baseAddress, bytes.count >= PlanFormat.headerBytes else {
            throw .tooSmall(bytes: bytes.count)
        }
        let address = UInt(bitPattern: base)
        if address % UInt(PlanFormat.alignment) != 0 { throw .misalignedBuffer(address: address) }
        let h = PlanHeader(from: base)
        if h.magic != PlanFormat.magic { throw .badMagic(found: h.magic) }
        if h.version != PlanFormat.version {
            throw .unsupportedVersion(found: h.version, supported: PlanFormat.version)
        }
        if Int(h.headerBytes) != PlanFormat.headerBytes {
            throw .sizeMismatch(header: Int(h.headerBytes), actual: PlanFormat.headerBytes)
        }
        if Int(h.fileBytes) != bytes.count { throw .sizeMismatch(header: Int(h.fileBytes), actual: bytes.count) }
        let covered = UnsafeRawBufferPointer(rebasing: bytes[PlanFormat.crcStart...])
        let crc = CRC32.checksum(covered)
        if crc != h.crc { throw .badChecksum(stored: h.crc, computed: crc) }

        let file = bytes.count
        try section(.tensorTable, Int(h.tensorTableOffset), Int(h.tensorCount), PlanFormat.tensorRecordBytes, 4, file)
        try section(.opTable, Int(h.opTableOffset), Int(h.opCount), PlanFormat.opRecordBytes, 4, file)
        if Int(h.configBytes) != PlanFormat.configBytes {
            throw .sectionOutOfBounds(section: .config, offset: Int(h.configOffset), bytes: Int(h.configBytes), fileBytes: file)
        }
        try section(.config, Int(h.configOffset), 1, PlanFormat.configBytes, 4, file)
        try section(.names, Int(h.namesOffset), Int(h.namesBytes), 1, 1, file)
        try section(.data, Int(h.dataOffset), Int(h.dataBytes), 1, PlanFormat.alignment, file)
        if h.sourceBytes > h.namesBytes {
            throw .sectionOutOfBounds(section: .names, offset: Int(h.namesOffset), bytes: Int(h.sourceBytes), fileBytes: file)
        }
        if h.tensorCount >= UInt32(PlanFormat.noTensor) {
            throw .sectionOutOfBounds(section: .tensorTable, offset: Int(h.tensorTableOffset), bytes: Int(h.tensorCount), fileBytes: file)
        }
        return h
    }

    /// `count` records of `width` bytes at `offset` must lie inside the file, after the header.
    static func section(_ s: PlanSection, _ offset: Int, _ count: Int, _ width: Int, _ align: Int, _ file: Int) throws(PlanError) {
        let size = count * width   // count < 2^32 and width ≤ 64: no overflow on a 32-bit device either? guard below
        if count > file || offset < PlanFormat.headerBytes || offset % align != 0 || size > file || offset > file - size {
            throw .sectionOutOfBounds(section: s, offset: offset, bytes: count > file ? count : size, fileBytes: file)
        }
    }

    /// Checks every tensor, op and the config against each other.
    public static func verifyBody(_ plan: Plan) throws(PlanError) {
        let h = plan.header
        var i = 0
        while i < plan.tensorCount {
            try verifyTensor(plan.tensor(i), index: i, header: h)
            i += 1
        }
        var lossOps = 0
        var lastPhase: UInt8 = 0
        i = 0
        while i < plan.opCount {
            let op = plan.op(i)
            guard op.phase != nil else { throw .op(index: i, problem: .badPhase(raw: op.phaseRaw)) }
            // Fused updates sit between backward ops: backward may follow update, nothing else goes back.
            // Not with micro-batches: an update must wait for every micro-batch's gradient.
            let fused = op.phase == .backward && lastPhase == Phase.update.rawValue
            if op.phaseRaw < lastPhase && !(fused && plan.config.microBatches == 1) {
                throw .op(index: i, problem: .phaseOutOfOrder)
            }
            lastPhase = op.phaseRaw
            if op.phase == .loss { lossOps += 1 }
            guard let code = op.opcode else { throw .op(index: i, problem: .badOpcode(raw: op.opcodeRaw)) }
            var contract = ContractVisitor(contract: OpContract(plan: plan, op: op))
            if let problem = code.visit(&contract) { throw .op(index: i, problem: problem) }
            i += 1
        }
        do throws(ConfigProblem) {
            try verifyConfig(plan)
            if lossOps != 1 { throw .lossOpCount(found: lossOps) }
        } catch {
            throw .config(problem: error)
        }
    }

    static func verifyTensor(_ t: TensorRecord, index: Int, header h: PlanHeader) throws(PlanError) {
        func fail(_ p: TensorProblem) -> PlanError { .tensor(index: index, problem: p) }
        guard let dtype = t.dtype else { throw fail(.badDType(raw: t.dtypeRaw)) }
        guard let region = t.region else { throw fail(.badRegion(raw: t.regionRaw)) }
        guard t.role != nil else { throw fail(.badRole(raw: t.roleRaw)) }
        guard t.rank >= 1, let elements = t.elementCount else { throw fail(.badRank(rank: Int(t.rank))) }
        let (expected, overflow) = elements.multipliedReportingOverflow(by: dtype.byteWidth)
        if overflow || expected != Int(t.bytes) { throw fail(.sizeMismatch(expected: overflow ? -1 : expected, found: Int(t.bytes))) }
        let offset = Int(t.offset), bytes = Int(t.bytes)
        if offset % dtype.byteWidth != 0 { throw fail(.misaligned(offset: offset)) }
        let trainable = t.flags & TensorRecord.trainable != 0
        let hasInit = t.flags & TensorRecord.hasInitialValue != 0
        switch region {
        case .arena:
            if bytes > Int(h.arenaBytes) || offset > Int(h.arenaBytes) - bytes {
                throw fail(.outsideArena(offset: offset, bytes: bytes, arenaBytes: Int(h.arenaBytes)))
            }
            if trainable && !hasInit { throw fail(.inconsistentFlags(flags: t.flags)) }
            if hasInit {
                let initOffset = Int(t.initOffset)
                if initOffset % dtype.byteWidth != 0 { throw fail(.misaligned(offset: initOffset)) }
                if bytes > Int(h.dataBytes) || initOffset > Int(h.dataBytes) - bytes {
                    throw fail(.outsideData(offset: initOffset, bytes: bytes, dataBytes: Int(h.dataBytes)))
                }
            }
        case .flash:
            if trainable { throw fail(.inconsistentFlags(flags: t.flags)) }
            if bytes > Int(h.dataBytes) || offset > Int(h.dataBytes) - bytes {
                throw fail(.outsideData(offset: offset, bytes: bytes, dataBytes: Int(h.dataBytes)))
            }
        }
        if Int(t.nameOffset) > Int(h.namesBytes) || Int(t.nameBytes) > Int(h.namesBytes) - Int(t.nameOffset) {
            throw fail(.nameOutOfBounds)
        }
    }

    static func verifyConfig(_ plan: Plan) throws(ConfigProblem) {
        let c = plan.config
        guard c.optimizer != nil else { throw .badOptimizer(raw: c.optimizerRaw) }
        guard c.lossScaleMode != nil else { throw .badLossScaleMode(raw: c.lossScaleModeRaw) }
        guard let state = c.stateDType, state != .int32 else { throw .badStateDType(raw: c.stateDTypeRaw) }
        if c.accumulate > 1 { throw .badAccumulation(raw: c.accumulate) }
        if c.batch == 0 { throw .zeroBatch }
        if c.classes == 0 { throw .zeroClasses }
        func finite(_ v: Float, _ at: Int, min: Float = 0) throws(ConfigProblem) {
            if !v.isFinite || v < min { throw .badHyperparameter(byteOffset: at) }
        }
        try finite(c.learningRate, 8)
        try finite(c.momentum, 12)
        if c.momentum >= 1 { throw .badHyperparameter(byteOffset: 12) }
        try finite(c.weightDecay, 16)
        try finite(c.beta2, 20)
        if c.beta2 >= 1 { throw .badHyperparameter(byteOffset: 20) }
        try finite(c.epsilon, 24)
        try finite(c.initialLossScale, 28)
        if !(c.initialLossScale > 0) { throw .badHyperparameter(byteOffset: 28) }
        try finite(c.growthFactor, 32, min: 1)
        try finite(c.backoffFactor, 36)
        if !(c.backoffFactor > 0 && c.backoffFactor < 1) { throw .badHyperparameter(byteOffset: 36) }
        if c.growthInterval == 0 { throw .badHyperparameter(byteOffset: 40) }

        func ref(_ t: UInt16, _ at: Int, _ dtype: DType, _ role: TensorRole, _ count: Int) throws(ConfigProblem) {
            let i = Int(t)
            guard i < plan.tensorCount else { throw .badTensorReference(byteOffset: at, tensor: i) }
            let r = plan.tensor(i)
            if r.dtype != dtype || r.role != role || r.region != .arena || r.elementCount != count {
                throw .badTensorReference(byteOffset: at, tensor: i)
            }
        }
        let n = Int(c.batch)
        try ref(c.inputTensor, 44, .float16, .input, n * Int(c.inputFeatures))
        try ref(c.labelsTensor, 46, .int32, .labels, n)
        try ref(c.logitsTensor, 48, .float16, .activation, n * Int(c.classes))
        try ref(c.lossTensor, 50, .float32, .loss, 1)
    }
}
