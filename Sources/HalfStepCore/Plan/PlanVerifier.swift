/// The checks that make a plan safe to run: after them no kernel can read or write outside the
/// arena or the plan, and nothing writes to flash.
///
/// On a device a bad plan would otherwise corrupt memory silently, so every field the trainer
/// later trusts is checked here, once, before the first step.
public enum PlanVerifier {
    /// Checks magic, version, sizes, CRC and section bounds; returns the header.
    ///
    /// Header fields are compared and combined as `UInt32` with overflow reported (never as
    /// `Int`), so a field of 2^31 or more, or a count × record size past 2^32, is refused the same
    /// way on a 32-bit device as on a 64-bit host instead of trapping in a conversion or a product.
    /// (Not `UInt64`: widening to 64 bits goes through generic code that allocates in Embedded
    /// Swift on a 32-bit target.)
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
            throw .sizeMismatch(header: UInt32(h.headerBytes), actual: PlanFormat.headerBytes)
        }
        let file = bytes.count
        // From here on the file's size is h.fileBytes, a UInt32 (and an Int).
        guard let declared = Int(exactly: h.fileBytes), declared == file else {
            throw .sizeMismatch(header: h.fileBytes, actual: file)
        }
        let crc = PlanFormat.checksum(bytes)
        if crc != h.crc { throw .badChecksum(stored: h.crc, computed: crc) }

        // Operands are 16-bit and 0xFFFF means "none"; an arena must be addressable by an Int
        // on a 32-bit device (every tensor offset and size inside it is then too).
        if h.tensorCount >= UInt32(PlanFormat.noTensor) { throw .headerFieldOutOfRange(byteOffset: 16, value: h.tensorCount) }
        if h.arenaBytes > UInt32(PlanFormat.maxElements) { throw .headerFieldOutOfRange(byteOffset: 48, value: h.arenaBytes) }
        try section(.tensorTable, offset: h.tensorTableOffset, count: h.tensorCount, width: UInt32(PlanFormat.tensorRecordBytes), align: 4, header: h)
        try section(.opTable, offset: h.opTableOffset, count: h.opCount, width: UInt32(PlanFormat.opRecordBytes), align: 4, header: h)
        if h.configBytes != UInt32(PlanFormat.configBytes) && h.configBytes != UInt32(PlanFormat.extendedConfigBytes) {
            throw .sectionOutOfBounds(section: .config, offset: h.configOffset, bytes: h.configBytes, fileBytes: file)
        }
        try section(.config, offset: h.configOffset, count: 1, width: h.configBytes, align: 4, header: h)
        try section(.names, offset: h.namesOffset, count: h.namesBytes, width: 1, align: 1, header: h)
        try section(.data, offset: h.dataOffset, count: h.dataBytes, width: 1, align: UInt32(PlanFormat.alignment), header: h)
        if h.sourceBytes > h.namesBytes {
            throw .sectionOutOfBounds(section: .names, offset: h.namesOffset, bytes: h.sourceBytes, fileBytes: file)
        }
        return h
    }

    /// `count` records of `width` bytes at `offset` must lie inside the file (`h.fileBytes`, already
    /// checked against the buffer), after the header. The error's size saturates at 2^32 − 1.
    static func section(_ s: PlanSection, offset: UInt32, count: UInt32, width: UInt32, align: UInt32, header h: PlanHeader) throws(PlanError) {
        let (size, sizeOverflow) = count.multipliedReportingOverflow(by: width)
        let (end, endOverflow) = offset.addingReportingOverflow(size)
        if sizeOverflow || endOverflow || offset < UInt32(PlanFormat.headerBytes) || offset % align != 0 || end > h.fileBytes {
            throw .sectionOutOfBounds(section: s, offset: offset, bytes: sizeOverflow ? .max : size, fileBytes: Int(h.fileBytes))
        }
    }

    /// Checks every tensor, op and the config against each other.
    ///
    /// The config goes before the ops: op checks compare against its batch and class count, which
    /// are then known to describe tensors that exist (so every such product fits in 31 bits).
    public static func verifyBody(_ plan: Plan) throws(PlanError) {
        let h = plan.header
        var i = 0
        // Persistent tensors each need a place of their own, so their sum (each rounded up to 4,
        // as checkpoints store them) is at most the arena; checkpoints size a slot by it
        // (`Checkpoint.slotBytes`, an Int on the device), hence the 64 KiB kept below 2^31 for
        // the header, the scalars and a flash page. Each addend is below 2^31 + 4 and the sum
        // before it below 2^31: no UInt32 overflow.
        var persistent: UInt32 = 0
        while i < plan.tensorCount {
            let t = plan.tensor(i)
            try verifyTensor(t, index: i, header: h)
            if Checkpoint.persists(t) {
                persistent += (t.bytes + 3) & ~3
                if persistent > h.arenaBytes || persistent > UInt32(PlanFormat.maxElements) - (1 << 16) {
                    throw .tensor(index: i, problem: .stateExceedsArena(stateBytes: persistent, arenaBytes: h.arenaBytes))
                }
            }
            i += 1
        }
        do throws(ConfigProblem) {
            try verifyConfig(plan)
        } catch {
            throw .config(problem: error)
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
        if lossOps != 1 { throw .config(problem: .lossOpCount(found: lossOps)) }
        // Clipping needs the global norm of every gradient before the first update applies.
        if plan.config.clipGradNorm > 0 && lastUpdateBeforeBackward(plan) {
            throw .config(problem: .badHyperparameter(byteOffset: 84))
        }
    }

    /// True when an update op comes before a backward op (an update fused into the backward pass).
    static func lastUpdateBeforeBackward(_ plan: Plan) -> Bool {
        var sawUpdate = false
        var i = 0
        while i < plan.opCount {
            let phase = plan.op(i).phase
            if phase == .update { sawUpdate = true }
            if phase == .backward && sawUpdate { return true }
            i += 1
        }
        return false
    }

    /// Checks one tensor record against the header, in `UInt32` arithmetic with overflow reported,
    /// so nothing here depends on the width of `Int`; after it every dimension, element count,
    /// size and offset of the tensor is below 2^31 and converts to `Int` on any device.
    static func verifyTensor(_ t: TensorRecord, index: Int, header h: PlanHeader) throws(PlanError) {
        func fail(_ p: TensorProblem) -> PlanError { .tensor(index: index, problem: p) }
        /// `start + bytes` lies inside `0 ..< limit`.
        func inside(_ start: UInt32, _ bytes: UInt32, _ limit: UInt32) -> Bool {
            let (end, overflow) = start.addingReportingOverflow(bytes)
            return !overflow && end <= limit
        }
        guard let dtype = t.dtype else { throw fail(.badDType(raw: t.dtypeRaw)) }
        guard let region = t.region else { throw fail(.badRegion(raw: t.regionRaw)) }
        guard t.role != nil else { throw fail(.badRole(raw: t.roleRaw)) }
        guard t.rank >= 1, Int(t.rank) <= PlanFormat.maxRank else { throw fail(.badRank(rank: Int(t.rank))) }
        var d = 0
        while d < PlanFormat.maxRank {
            let v = t.dimBits(d)
            // Unused dimensions are 0; a used one must be indexable by an Int on a 32-bit device.
            if d >= Int(t.rank) ? (v != 0) : (v > UInt32(PlanFormat.maxElements)) { throw fail(.badDimension(index: d, value: v)) }
            d += 1
        }
        guard let elements = t.elementCount else { throw fail(.badRank(rank: Int(t.rank))) }
        let width = UInt32(dtype.byteWidth)
        let (expected, overflow) = UInt32(truncatingIfNeeded: elements).multipliedReportingOverflow(by: width)
        if overflow || expected != t.bytes { throw fail(.sizeMismatch(expected: overflow ? .max : expected, found: t.bytes)) }
        if t.offset % width != 0 { throw fail(.misaligned(offset: t.offset)) }
        let trainable = t.flags & TensorRecord.trainable != 0
        let hasInit = t.flags & TensorRecord.hasInitialValue != 0
        switch region {
        case .arena:
            if !inside(t.offset, t.bytes, h.arenaBytes) {
                throw fail(.outsideArena(offset: t.offset, bytes: t.bytes, arenaBytes: h.arenaBytes))
            }
            if trainable && !hasInit { throw fail(.inconsistentFlags(flags: t.flags)) }
            if hasInit {
                if t.initOffset % width != 0 { throw fail(.misaligned(offset: t.initOffset)) }
                if !inside(t.initOffset, t.bytes, h.dataBytes) {
                    throw fail(.outsideData(offset: t.initOffset, bytes: t.bytes, dataBytes: h.dataBytes))
                }
            }
        case .flash:
            if trainable { throw fail(.inconsistentFlags(flags: t.flags)) }
            if !inside(t.offset, t.bytes, h.dataBytes) {
                throw fail(.outsideData(offset: t.offset, bytes: t.bytes, dataBytes: h.dataBytes))
            }
        }
        if !inside(t.nameOffset, UInt32(t.nameBytes), h.namesBytes) { throw fail(.nameOutOfBounds) }
    }

    /// Checks the training configuration; tensor references by element count, a 16-bit batch
    /// times a 32-bit field computed as `UInt32` with overflow reported (an overflow matches no
    /// tensor: element counts are below 2^31).
    static func verifyConfig(_ plan: Plan) throws(ConfigProblem) {
        let c = plan.config
        guard c.optimizer != nil else { throw .badOptimizer(raw: c.optimizerRaw) }
        guard c.lossScaleMode != nil else { throw .badLossScaleMode(raw: c.lossScaleModeRaw) }
        guard let state = c.stateDType, state != .int32 else { throw .badStateDType(raw: c.stateDTypeRaw) }
        if c.accumulate > 1 { throw .badAccumulation(raw: c.accumulate) }
        if c.batch == 0 { throw .zeroBatch }
        if c.classes == 0 { throw .zeroClasses }
        // A step's samples (`stepBatch`) must be an Int on a 32-bit device: 65535 × 65535 is not.
        // (Both factors are below 2^16: the UInt32 product is exact.)
        if UInt32(c.batch) * UInt32(max(c.microBatchesRaw, 1)) > UInt32(PlanFormat.maxElements) { throw .badHyperparameter(byteOffset: 6) }
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
        // The loss scaler counts clean steps in an Int: 2^31 and above trap on a 32-bit device.
        if c.growthInterval == 0 || c.growthInterval > UInt32(PlanFormat.maxElements) { throw .badHyperparameter(byteOffset: 40) }

        /// Tensor `t` has the kind and `batch × perSample` elements.
        func ref(_ t: UInt16, _ at: Int, _ dtype: DType, _ role: TensorRole, perSample: UInt32, batch: Bool = true) throws(ConfigProblem) {
            let i = Int(t)
            guard i < plan.tensorCount else { throw .badTensorReference(byteOffset: at, tensor: i) }
            let r = plan.tensor(i)
            let (count, overflow) = perSample.multipliedReportingOverflow(by: batch ? UInt32(c.batch) : 1)
            guard !overflow, r.dtype == dtype, r.role == role, r.region == .arena, let found = r.elementCount,
                  UInt32(truncatingIfNeeded: found) == count else {
                throw .badTensorReference(byteOffset: at, tensor: i)
            }
        }
        // The extension (bytes 64 ..< 96; a 64-byte config holds its defaults).
        guard let lossKind = c.lossKind else { throw .badLossKind(raw: c.lossKindRaw) }
        guard let schedule = c.schedule else { throw .badSchedule(raw: c.scheduleRaw) }
        if c.reserved66 != 0 { throw .badHyperparameter(byteOffset: 66) }
        if c.reserved88 != 0 { throw .badHyperparameter(byteOffset: 88) }
        if c.reserved92 != 0 { throw .badHyperparameter(byteOffset: 92) }
        try finite(c.huberDelta, 68)
        if (lossKind == .huber) != (c.huberDelta > 0) { throw .badHyperparameter(byteOffset: 68) }
        try finite(c.scheduleFactor, 76)
        // The schedule's step counts are compared with an Int step counter on a 32-bit device.
        if c.scheduleSteps > UInt32(PlanFormat.maxElements) { throw .badHyperparameter(byteOffset: 72) }
        if c.warmupSteps > UInt32(PlanFormat.maxElements) { throw .badHyperparameter(byteOffset: 80) }
        switch schedule {
        case .constant:
            if c.scheduleSteps != 0 { throw .badHyperparameter(byteOffset: 72) }
            if c.scheduleFactor != 0 { throw .badHyperparameter(byteOffset: 76) }
        case .step:
            if c.scheduleSteps == 0 { throw .badHyperparameter(byteOffset: 72) }
            if !(c.scheduleFactor > 0 && c.scheduleFactor <= 1) { throw .badHyperparameter(byteOffset: 76) }
        case .cosine:
            if c.scheduleSteps == 0 { throw .badHyperparameter(byteOffset: 72) }
            if c.scheduleFactor > c.learningRate { throw .badHyperparameter(byteOffset: 76) }
        }
        try finite(c.clipGradNorm, 84)

        try ref(c.inputTensor, 44, .float16, .input, perSample: c.inputFeatures)
        if lossKind.isRegression {
            try ref(c.labelsTensor, 46, .float16, .labels, perSample: c.classes)
        } else {
            try ref(c.labelsTensor, 46, .int32, .labels, perSample: 1)
        }
        try ref(c.logitsTensor, 48, .float16, .activation, perSample: c.classes)
        try ref(c.lossTensor, 50, .float32, .loss, perSample: 1, batch: false)
    }
}
