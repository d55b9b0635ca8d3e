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
        let covered = UnsafeRawBufferPointer(rebasing: bytes[PlanFormat.crcStart...])
        let crc = CRC32.checksum(covered)
        if crc != h.crc { throw .badChecksum(stored: h.crc, computed: crc) }

        // Operands are 16-bit and 0xFFFF means "none"; an arena must be addressable by an Int
        // on a 32-bit device (every tensor offset and size inside it is then too).
        if h.tensorCount >= UInt32(PlanFormat.noTensor) { throw .headerFieldOutOfRange(byteOffset: 16, value: h.tensorCount) }
        if h.arenaBytes > UInt32(PlanFormat.maxElements) { throw .headerFieldOutOfRange(byteOffset: 48, value: h.arenaBytes) }
        try section(.tensorTable, offset: h.tensorTableOffset, count: h.tensorCount, width: UInt32(PlanFormat.tensorRecordBytes), align: 4, header: h)
        try section(.opTable, offset: h.opTableOffset, count: h.opCount, width: UInt32(PlanFormat.opRecordBytes), align: 4, header: h)
        if h.configBytes != UInt32(PlanFormat.configBytes) {
            throw .sectionOutOfBounds(section: .config, offset: h.configOffset, bytes: h.configBytes, fileBytes: file)
        }
        try section(.config, offset: h.configOffset, count: 1, width: UInt32(PlanFormat.configBytes), align: 4, header: h)
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
        while i < plan.tensorCount {
            try verifyTensor(plan.tensor(i), index: i, header: h)
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
            do throws(OpProblem) {
                try OpChecks(plan: plan, op: op).run()
            } catch {
                throw .op(index: i, problem: error)
            }
            i += 1
        }
        if lossOps != 1 { throw .config(problem: .lossOpCount(found: lossOps)) }
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
        if c.growthInterval == 0 { throw .badHyperparameter(byteOffset: 40) }

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
        try ref(c.inputTensor, 44, .float16, .input, perSample: c.inputFeatures)
        try ref(c.labelsTensor, 46, .int32, .labels, perSample: 1)
        try ref(c.logitsTensor, 48, .float16, .activation, perSample: c.classes)
        try ref(c.lossTensor, 50, .float32, .loss, perSample: 1, batch: false)
    }
}

/// Operand checks for one op, against the opcode's contract in `OpCode`.
struct OpChecks {
    let plan: Plan
    let op: OpRecord

    func run() throws(OpProblem) {
        guard let code = op.opcode else { throw .badOpcode(raw: op.opcodeRaw) }
        let batch = Int(plan.config.batch)
        switch code {
        case .denseForward, .denseBackward:
            let n = op.param(0), k = op.param(1), m = op.param(2)
            if n != batch { throw .badParameter(slot: 0, value: op.paramBits(0)) }
            if k == 0 { throw .badParameter(slot: 1, value: op.paramBits(1)) }
            if m == 0 { throw .badParameter(slot: 2, value: op.paramBits(2)) }
            if !op.floatParam(3).isFinite { throw .badParameter(slot: 3, value: op.paramBits(3)) }
            if !op.floatParam(4).isFinite { throw .badParameter(slot: 4, value: op.paramBits(4)) }
            let nk = try product(n, k, slot: 1), mk = try product(m, k, slot: 2), nm = try product(n, m, slot: 0)
            if code == .denseForward {
                try operand(0, count: nk, half: true)
                try operand(1, count: mk, half: true, float: true)
                try operand(2, count: m, half: true, float: true, optional: true)
                try operand(3, count: nm, half: true, written: true)
                try distinct(3, from: 0, 1, 2)
            } else {
                try operand(0, count: nm, half: true)
                // x is read only for the weight gradient (fp32 accumulation kernels).
                try operand(1, count: nk, half: true, optional: op.operand(4) == nil && plan.config.accumulate == 0)
                try operand(2, count: mk, half: true, float: true)
                try operand(3, count: nk, half: true, written: true, optional: true)
                let trained = op.param(5) == 0 ? m : op.param(5)
                if trained > m { throw .badParameter(slot: 5, value: op.paramBits(5)) }
                try operand(4, count: trained * k, half: true, written: true, optional: true)
                try operand(5, count: m, half: true, written: true, optional: true)
                try distinct(3, from: 0, 1, 2)
                try distinct(4, from: 0, 1, 2)
                try distinct(5, from: 0, 1, 2)
            }
        case .reluForward:
            let n = op.param(0)
            if n != batch { throw .badParameter(slot: 0, value: op.paramBits(0)) }
            let count = try product(n, op.param(1), slot: 1)
            try operand(0, count: count, half: true)
            try operand(1, count: count, half: true, written: true)
        case .reluBackward:
            let n = op.param(0)
            if n != batch { throw .badParameter(slot: 0, value: op.paramBits(0)) }
            let count = try product(n, op.param(1), slot: 1)
            try operand(0, count: count, half: true)
            try operand(1, count: count, half: true)
            try operand(2, count: count, half: true, written: true)
            try distinct(2, from: 1)
        case .softmaxCrossEntropy:
            let n = op.param(0), c = op.param(1)
            if n != batch { throw .badParameter(slot: 0, value: op.paramBits(0)) }
            if c != Int(plan.config.classes) { throw .badParameter(slot: 1, value: op.paramBits(1)) }
            let nc = try product(n, c, slot: 1)
            try operand(0, count: nc, half: true)
            try operand(1, count: n, int: true)
            try operand(2, count: 1, float: true, written: true)
            try operand(3, count: nc, half: true, written: true)
            try distinct(3, from: 0)
        case .sgdUpdate, .adamUpdate:
            let count = op.param(0)
            guard let mode = UpdateMode(rawValue: UInt8(truncatingIfNeeded: op.param(1))), op.param(1) < 256 else {
                throw .badParameter(slot: 1, value: op.paramBits(1))
            }
            if count == 0 { throw .badParameter(slot: 0, value: op.paramBits(0)) }
            // A partly trained weight updates its first `count` elements (its trained rows).
            try operand(0, count: count, half: mode != .fp32Master, float: mode == .fp32Master, written: true, atLeast: true)
            if mode == .fp16Kahan {
                try operand(4, count: count, half: true, written: true)
                try distinct(4, from: 0, 1, 2)
            } else if let t = op.operand(4) {
                throw .operandOutOfRange(slot: 4, tensor: t)
            }
            try operand(1, count: count, half: true)
            let state = plan.config.stateDType
            let stateOptional = code == .sgdUpdate
            try operand(2, count: count, half: state == .float16, float: state == .float32, written: true, optional: stateOptional)
            if code == .adamUpdate {
                try operand(3, count: count, half: state == .float16, float: state == .float32, written: true)
            }
            try distinct(0, from: 1)
            try distinct(2, from: 0, 1)
            if code == .adamUpdate { try distinct(3, from: 0, 1, 2) }
        default:
            try runSpatial(code)
        }
    }

    /// The window of a convolution or pooling op, checked consistent.
    func window(pooling: Bool) throws(OpProblem) -> Window2D {
        let g = Window2D(op)
        // Pooling keeps its count-padding flag in the group field (0 or 1); check the rest as group 1.
        var shape = g
        if pooling { shape.group = 1 }
        if !shape.isConsistent { throw .badParameter(slot: 1, value: op.paramBits(1)) }
        if pooling && (g.outputs != g.channels || g.trainedOutputs != 0) { throw .badParameter(slot: 1, value: op.paramBits(1)) }
        if pooling && g.group > 1 { throw .badParameter(slot: 6, value: op.paramBits(6)) }
        return g
    }

    func batchParameter() throws(OpProblem) -> Int {
        let n = op.param(0)
        if n != Int(plan.config.batch) { throw .badParameter(slot: 0, value: op.paramBits(0)) }
        return n
    }

    /// Checks the CNN-era opcodes (everything after `adamUpdate`).
    func runSpatial(_ code: OpCode) throws(OpProblem) {
        let n = try batchParameter()
        switch code {
        case .conv2dForward, .conv2dBackward:
            let g = try window(pooling: false)
            let xs = try product(n, g.inputElements, slot: 1), ys = try product(n, g.outputElements, slot: 3)
            let ws = try product(g.outputs, g.weightsPerOutput, slot: 4)
            if code == .conv2dForward {
                try operand(0, count: xs, half: true)
                try operand(1, count: ws, half: true, float: true)
                try operand(2, count: g.outputs, half: true, float: true, optional: true)
                try operand(3, count: ys, half: true, written: true)
                try distinct(3, from: 0, 1, 2)
            } else {
                try operand(0, count: ys, half: true)
                // x is read only for the weight gradient: a plan may leave it out without one.
                try operand(1, count: xs, half: true, optional: op.operand(4) == nil)
                try operand(2, count: ws, half: true, float: true)
                try operand(3, count: xs, half: true, written: true, optional: true)
                try operand(4, count: g.trainedOutputs * g.weightsPerOutput, half: true, written: true, optional: true)
                try operand(5, count: g.outputs, half: true, written: true, optional: true)
                try distinct(3, from: 0, 1, 2)
                try distinct(4, from: 0, 1, 2)
                try distinct(5, from: 0, 1, 2)
            }
        case .maxPoolForward, .averagePoolForward:
            let g = try window(pooling: true)
            try operand(0, count: try product(n, g.inputElements, slot: 1), half: true)
            try operand(1, count: try product(n, g.outputElements, slot: 3), half: true, written: true)
            try distinct(1, from: 0)
        case .maxPoolBackward:
            let g = try window(pooling: true)
            let xs = try product(n, g.inputElements, slot: 1)
            try operand(0, count: try product(n, g.outputElements, slot: 3), half: true)
            try operand(1, count: xs, half: true)
            try operand(2, count: xs, half: true, written: true)
            try distinct(2, from: 0, 1)
        case .averagePoolBackward:
            let g = try window(pooling: true)
            try operand(0, count: try product(n, g.outputElements, slot: 3), half: true)
            try operand(1, count: try product(n, g.inputElements, slot: 1), half: true, written: true)
            try distinct(1, from: 0)
        case .globalAveragePoolForward, .globalAveragePoolBackward:
            let nc = try product(n, op.param(1), slot: 1), all = try product(nc, op.param(2), slot: 2)
            let forward = code == .globalAveragePoolForward
            try operand(0, count: forward ? all : nc, half: true)
            try operand(1, count: forward ? nc : all, half: true, written: true)
            try distinct(1, from: 0)
        case .add:
            let e = try product(n, op.param(1), slot: 1)
            try operand(0, count: e, half: true)
            try operand(1, count: e, half: true)
            try operand(2, count: e, half: true, written: true)
        case .activationMaskForward, .activationMaskBackward:
            let e = try product(n, op.param(1), slot: 1)
            if e == 0 { throw .badParameter(slot: 1, value: op.paramBits(1)) }
            let words = ActivationMask.words(e)
            if code == .activationMaskForward {
                if op.floatParam(2).isNaN { throw .badParameter(slot: 2, value: op.paramBits(2)) }
                try operand(0, count: e, half: true)
                try operand(1, count: words, int: true, written: true)
            } else {
                try operand(0, count: e, half: true)
                try operand(1, count: words, int: true)
                try operand(2, count: e, half: true, written: true)
                try distinct(2, from: 1)
            }
        case .accumulateGradient:
            let e = op.param(1)
            if e == 0 { throw .badParameter(slot: 1, value: op.paramBits(1)) }
            try operand(0, count: e, half: true, written: true)
            if plan.tensor(op.operand(0)!).role != .gradientSum { throw .operandDType(slot: 0, tensor: op.operand(0)!) }
            try operand(1, count: e, half: true)
            try distinct(0, from: 1)
        case .accumulate:
            let e = try product(n, op.param(1), slot: 1)
            try operand(0, count: e, half: true, written: true)
            try operand(1, count: e, half: true)
            try distinct(0, from: 1)
        case .activationForward, .activationBackward:
            guard let kind = Activation.Kind(rawValue: op.paramBits(2)) else { throw .badParameter(slot: 2, value: op.paramBits(2)) }
            if !op.floatParam(3).isFinite { throw .badParameter(slot: 3, value: op.paramBits(3)) }
            if !op.floatParam(4).isFinite { throw .badParameter(slot: 4, value: op.paramBits(4)) }
            let e = try product(n, op.param(1), slot: 1)
            if code == .activationForward {
                try operand(0, count: e, half: true)
                try operand(1, count: e, half: true, written: true)
                if kind.backwardReadsInput { try distinct(1, from: 0) }
            } else {
                try operand(0, count: e, half: true)
                try operand(1, count: e, half: true)
                try operand(2, count: e, half: true, written: true)
                try distinct(2, from: 1)
            }
        case .channelScale:
            let c = op.param(1)
            let e = try product(try product(n, c, slot: 1), op.param(2), slot: 2)
            try operand(0, count: e, half: true)
            guard let s = op.operand(1), s < plan.tensorCount else { throw .missingOperand(slot: 1) }
            let sc = plan.tensor(s).elementCount ?? -1
            try operand(1, count: sc == 1 ? 1 : c, half: true)
            try operand(2, count: e, half: true, written: true)
            try distinct(2, from: 1)
        case .batchNormForward, .batchNormBackward:
            let c = op.param(1)
            if c == 0 { throw .badParameter(slot: 1, value: op.paramBits(1)) }
            let e = try product(try product(n, c, slot: 1), op.param(2), slot: 2)
            if code == .batchNormForward {
                try operand(0, count: e, half: true)
                try operand(1, count: c, half: true, float: true)
                try operand(2, count: c, half: true, float: true)
                try operand(3, count: c, float: true)
                try operand(4, count: c, float: true)
                try operand(5, count: e, half: true, written: true)
                try distinct(5, from: 0, 1, 2)
            } else {
                try operand(0, count: e, half: true)
                try operand(1, count: e, half: true)
                try operand(2, count: c, half: true, float: true)
                try operand(3, count: c, float: true)
                try operand(4, count: c, float: true)
                try operand(5, count: e, half: true, written: true, optional: true)
                try operand(6, count: c, half: true, written: true, optional: true)
                try operand(7, count: c, half: true, written: true, optional: true)
                try distinct(5, from: 1, 2)
                try distinct(6, from: 0, 1, 2)
                try distinct(7, from: 0, 1, 2)
            }
        case .expandDepthwiseForward:
            var g = Window2D(op)
            let packed = op.paramBits(6)
            let c = Int(packed & 0xFFFF)
            g.group = g.channels
            g.trainedOutputs = 0
            if !g.isConsistent || g.outputs != g.channels || c == 0 { throw .badParameter(slot: 1, value: op.paramBits(1)) }
            guard ExpandDepthwise.Activation(rawValue: (packed >> 16) & 0xFF) != nil,
                  ExpandDepthwise.Activation(rawValue: packed >> 24) != nil else { throw .badParameter(slot: 6, value: packed) }
            let hidden = g.channels
            try operand(0, count: try product(try product(n, c, slot: 6), g.height * g.width, slot: 2), half: true)
            try operand(1, count: try product(hidden, c, slot: 6), half: true, float: true)
            try operand(2, count: hidden, half: true, float: true, optional: true)
            try operand(3, count: try product(hidden, g.kernelHeight * g.kernelWidth, slot: 4), half: true, float: true)
            try operand(4, count: hidden, half: true, float: true, optional: true)
            try operand(5, count: try product(n, g.outputElements, slot: 3), half: true, written: true)
            try operand(6, count: g.height * g.width, half: true, written: true)
            try distinct(5, from: 0, 1, 3)
            try distinct(6, from: 0, 5)
            try distinct(6, from: 1, 3)
        case .copyRows:
            let length = op.param(1), xStride = op.param(2), xOffset = op.param(3), yStride = op.param(4), yOffset = op.param(5)
            if length == 0 { throw .badParameter(slot: 1, value: op.paramBits(1)) }
            if xOffset > xStride || length > xStride - xOffset { throw .badParameter(slot: 3, value: op.paramBits(3)) }
            if yOffset > yStride || length > yStride - yOffset { throw .badParameter(slot: 5, value: op.paramBits(5)) }
            try operand(0, count: try product(n, xStride, slot: 2), half: true)
            try operand(1, count: try product(n, yStride, slot: 4), half: true, written: true)
            try distinct(1, from: 0)
        default:
            throw .badOpcode(raw: op.opcodeRaw)
        }
    }

    func product(_ a: Int, _ b: Int, slot: Int) throws(OpProblem) -> Int {
        let (p, o) = a.multipliedReportingOverflow(by: b)
        if o || b == 0 { throw .badParameter(slot: slot, value: op.paramBits(slot)) }
        return p
    }

    func operand(_ slot: Int, count: Int, half: Bool = false, float: Bool = false, int: Bool = false,
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
    }

    /// The tensor in `slot` must not also sit in slots `a`, `b` or `c` (no variadics: they allocate).
    func distinct(_ slot: Int, from a: Int, _ b: Int = -1, _ c: Int = -1) throws(OpProblem) {
        guard let t = op.operand(slot) else { return }
        if op.operand(a) == t || (b >= 0 && op.operand(b) == t) || (c >= 0 && op.operand(c) == t) {
            throw .forbiddenAlias(slot: slot, tensor: t)
        }
    }
}
