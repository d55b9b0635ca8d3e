/// The fixed-size records of a plan, decoded from and encoded to their byte layout.
///
/// Each record's byte layout is spelled out once, in its `init(from:)` / `store(to:)` pair.

/// The 64-byte header at the start of every plan.
public struct PlanHeader: Equatable, Sendable {
    public var magic: UInt32 = PlanFormat.magic            // 0
    public var version: UInt16 = PlanFormat.version        // 4
    public var headerBytes: UInt16 = UInt16(PlanFormat.headerBytes) // 6
    /// Whole file, bytes.
    public var fileBytes: UInt32 = 0                       // 8
    /// CRC-32 of bytes `crcStart ..< fileBytes`.
    public var crc: UInt32 = 0                             // 12
    public var tensorCount: UInt32 = 0                     // 16
    public var tensorTableOffset: UInt32 = 0               // 20
    public var opCount: UInt32 = 0                         // 24
    public var opTableOffset: UInt32 = 0                   // 28
    public var configOffset: UInt32 = 0                    // 32
    public var configBytes: UInt32 = UInt32(PlanFormat.configBytes) // 36
    /// Start of the data section (flash-resident tensor contents), bytes from file start.
    public var dataOffset: UInt32 = 0                      // 40
    public var dataBytes: UInt32 = 0                       // 44
    /// SRAM the plan needs for its arena, bytes.
    public var arenaBytes: UInt32 = 0                      // 48
    public var namesOffset: UInt32 = 0                     // 52
    /// The whole names section: source path, tensor names, planner notes and, in plans of
    /// planners that record it, the host-only provenance block at its end (see `PlanFormat`).
    /// The device reads only each tensor's name range.
    public var namesBytes: UInt32 = 0                      // 56
    /// The names section starts with the source model's path (UTF-8, this many bytes), so host
    /// tools can export adapted weights back into it; the device ignores it. (Export finds the
    /// initializers through the provenance block at the section's end when the plan has one.)
    public var sourceBytes: UInt32 = 0                     // 60

    public init() {}

    /// Decodes a header from 64 readable bytes.
    public init(from p: UnsafeRawPointer) {
        magic = ByteIO.u32(p, 0)
        version = ByteIO.u16(p, 4)
        headerBytes = ByteIO.u16(p, 6)
        fileBytes = ByteIO.u32(p, 8)
        crc = ByteIO.u32(p, 12)
        tensorCount = ByteIO.u32(p, 16)
        tensorTableOffset = ByteIO.u32(p, 20)
        opCount = ByteIO.u32(p, 24)
        opTableOffset = ByteIO.u32(p, 28)
        configOffset = ByteIO.u32(p, 32)
        configBytes = ByteIO.u32(p, 36)
        dataOffset = ByteIO.u32(p, 40)
        dataBytes = ByteIO.u32(p, 44)
        arenaBytes = ByteIO.u32(p, 48)
        namesOffset = ByteIO.u32(p, 52)
        namesBytes = ByteIO.u32(p, 56)
        sourceBytes = ByteIO.u32(p, 60)
    }

    /// Encodes into 64 writable bytes.
    public func store(to p: UnsafeMutableRawPointer) {
        ByteIO.put(p, 0, magic)
        ByteIO.put(p, 4, version)
        ByteIO.put(p, 6, headerBytes)
        ByteIO.put(p, 8, fileBytes)
        ByteIO.put(p, 12, crc)
        ByteIO.put(p, 16, tensorCount)
        ByteIO.put(p, 20, tensorTableOffset)
        ByteIO.put(p, 24, opCount)
        ByteIO.put(p, 28, opTableOffset)
        ByteIO.put(p, 32, configOffset)
        ByteIO.put(p, 36, configBytes)
        ByteIO.put(p, 40, dataOffset)
        ByteIO.put(p, 44, dataBytes)
        ByteIO.put(p, 48, arenaBytes)
        ByteIO.put(p, 52, namesOffset)
        ByteIO.put(p, 56, namesBytes)
        ByteIO.put(p, 60, sourceBytes)
    }
}

/// One row of the tensor table (48 bytes).
public struct TensorRecord: Equatable, Sendable {
    /// Name, as a byte range of the names section.
    public var nameOffset: UInt32 = 0                      // 0
    public var nameBytes: UInt16 = 0                       // 4
    public var dtypeRaw: UInt8 = DType.float16.rawValue    // 6
    public var regionRaw: UInt8 = Region.arena.rawValue    // 7
    public var roleRaw: UInt8 = TensorRole.activation.rawValue // 8
    public var rank: UInt8 = 0                             // 9
    public var flags: UInt16 = 0                           // 10
    /// Dimensions; unused ones are 0. Element count is the product of the first `rank`.
    public var dims: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0) // 12
    /// Arena offset (region arena) or data-section offset (region flash), bytes.
    public var offset: UInt32 = 0                          // 28
    /// Size in bytes (element count × element width).
    public var bytes: UInt32 = 0                           // 32
    /// Data-section offset of the initial contents when `hasInitialValue` is set, bytes.
    public var initOffset: UInt32 = 0                      // 36

    /// Flag: the arena tensor is filled from `initOffset` when training starts.
    public static let hasInitialValue: UInt16 = 1 << 0
    /// Flag: the first dimension is the batch.
    public static let batchMajor: UInt16 = 1 << 1
    /// Flag: the tensor is a trainable parameter (its values change during training).
    public static let trainable: UInt16 = 1 << 2

    public init() {}

    public var dtype: DType? { DType(rawValue: dtypeRaw) }
    public var region: Region? { Region(rawValue: regionRaw) }
    public var role: TensorRole? { TensorRole(rawValue: roleRaw) }

    /// Dimension `i` (0 ..< 4). A verified plan's dimensions are at most `PlanFormat.maxElements`,
    /// so this converts without a trap on a 32-bit device; unverified records: use `dimBits`.
    public func dim(_ i: Int) -> Int { Int(dimBits(i)) }

    /// Dimension `i` (0 ..< 4), raw.
    public func dimBits(_ i: Int) -> UInt32 {
        switch i {
        case 0: return dims.0
        case 1: return dims.1
        case 2: return dims.2
        default: return dims.3
        }
    }

    /// Sets dimension `i` (0 ..< 4).
    public mutating func setDim(_ i: Int, _ value: Int) {
        let v = UInt32(truncatingIfNeeded: value)
        switch i {
        case 0: dims.0 = v
        case 1: dims.1 = v
        case 2: dims.2 = v
        default: dims.3 = v
        }
    }

    /// Product of the first `rank` dimensions, or nil when it exceeds `PlanFormat.maxElements`
    /// or the rank is above `PlanFormat.maxRank`.
    ///
    /// Computed in `UInt32` with overflow reported and bounded by 2^31 − 1, so the answer is the
    /// same on a 32-bit device as on a 64-bit host, and never traps, whatever the record holds.
    public var elementCount: Int? {
        if Int(rank) > PlanFormat.maxRank { return nil }
        var i = 0
        while i < Int(rank) {
            if dimBits(i) == 0 { return 0 }
            i += 1
        }
        // No dimension is 0, so the partial products only grow: the first past the limit decides.
        let limit = UInt32(PlanFormat.maxElements)
        var n: UInt32 = 1
        i = 0
        while i < Int(rank) {
            let (p, overflow) = n.multipliedReportingOverflow(by: dimBits(i))
            if overflow || p > limit { return nil }
            n = p
            i += 1
        }
        return Int(n)
    }

    public init(from p: UnsafeRawPointer) {
        nameOffset = ByteIO.u32(p, 0)
        nameBytes = ByteIO.u16(p, 4)
        dtypeRaw = ByteIO.u8(p, 6)
        regionRaw = ByteIO.u8(p, 7)
        roleRaw = ByteIO.u8(p, 8)
        rank = ByteIO.u8(p, 9)
        flags = ByteIO.u16(p, 10)
        dims = (ByteIO.u32(p, 12), ByteIO.u32(p, 16), ByteIO.u32(p, 20), ByteIO.u32(p, 24))
        offset = ByteIO.u32(p, 28)
        bytes = ByteIO.u32(p, 32)
        initOffset = ByteIO.u32(p, 36)
    }

    /// What a running op needs of the record at `p`, read in place without decoding the rest (the
    /// byte offsets of `init(from:)`): whether it lives in the arena, its offset and its size in
    /// bytes (a verified plan bounds both by 2^31 − 1, so they convert without a trap).
    @inlinable @inline(__always)
    public static func placement(at p: UnsafeRawPointer) -> (inArena: Bool, offset: Int, bytes: Int) {
        (ByteIO.u8(p, 7) == Region.arena.rawValue, Int(truncatingIfNeeded: ByteIO.u32(p, 28)),
         Int(truncatingIfNeeded: ByteIO.u32(p, 32)))
    }

    /// True when the record at `p` holds fp32 elements (`init(from:)`'s `dtypeRaw`, read in place).
    @inlinable @inline(__always)
    public static func isFloat32(at p: UnsafeRawPointer) -> Bool { ByteIO.u8(p, 6) == DType.float32.rawValue }

    public func store(to p: UnsafeMutableRawPointer) {
        ByteIO.put(p, 0, nameOffset)
        ByteIO.put(p, 4, nameBytes)
        ByteIO.put(p, 6, dtypeRaw)
        ByteIO.put(p, 7, regionRaw)
        ByteIO.put(p, 8, roleRaw)
        ByteIO.put(p, 9, rank)
        ByteIO.put(p, 10, flags)
        ByteIO.put(p, 12, dims.0)
        ByteIO.put(p, 16, dims.1)
        ByteIO.put(p, 20, dims.2)
        ByteIO.put(p, 24, dims.3)
        ByteIO.put(p, 28, offset)
        ByteIO.put(p, 32, bytes)
        ByteIO.put(p, 36, initOffset)
        ByteIO.put(p, 40, UInt32(0))
        ByteIO.put(p, 44, UInt32(0))
    }

    public static func == (a: TensorRecord, b: TensorRecord) -> Bool {
        a.nameOffset == b.nameOffset && a.nameBytes == b.nameBytes && a.dtypeRaw == b.dtypeRaw
            && a.regionRaw == b.regionRaw && a.roleRaw == b.roleRaw && a.rank == b.rank && a.flags == b.flags
            && a.dims.0 == b.dims.0 && a.dims.1 == b.dims.1 && a.dims.2 == b.dims.2 && a.dims.3 == b.dims.3
            && a.offset == b.offset && a.bytes == b.bytes && a.initOffset == b.initOffset
    }
}

/// One operation of the step program (48 bytes).
public struct OpRecord: Equatable, Sendable {
    public var opcodeRaw: UInt16 = 0                       // 0
    public var phaseRaw: UInt8 = 0                         // 2
    public var operandCount: UInt8 = 0                     // 3
    /// Tensor indices, `PlanFormat.noTensor` where absent.
    public var operands: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) =
        (0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF) // 4
    /// Opcode-specific integers or float bit patterns (see `OpCode`).
    public var params: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0, 0) // 20

    public init() {}

    public var opcode: OpCode? { OpCode(rawValue: opcodeRaw) }
    public var phase: Phase? { Phase(rawValue: phaseRaw) }

    /// Operand slot `i` (0 ..< 8) as a tensor index, or nil when the slot is empty.
    @inlinable
    public func operand(_ i: Int) -> Int? {
        let raw = operandBits(i)
        return raw == PlanFormat.noTensor ? nil : Int(raw)
    }

    /// Operand slot `i` (0 ..< 8), raw (`PlanFormat.noTensor` when empty).
    @inlinable
    public func operandBits(_ i: Int) -> UInt16 {
        switch i {
        case 0: return operands.0
        case 1: return operands.1
        case 2: return operands.2
        case 3: return operands.3
        case 4: return operands.4
        case 5: return operands.5
        case 6: return operands.6
        default: return operands.7
        }
    }

    /// Sets operand slot `i`; nil empties it.
    public mutating func setOperand(_ i: Int, _ tensor: Int?) {
        let raw = tensor.map { UInt16(truncatingIfNeeded: $0) } ?? PlanFormat.noTensor
        switch i {
        case 0: operands.0 = raw
        case 1: operands.1 = raw
        case 2: operands.2 = raw
        case 3: operands.3 = raw
        case 4: operands.4 = raw
        case 5: operands.5 = raw
        case 6: operands.6 = raw
        default: operands.7 = raw
        }
    }

    /// Parameter slot `i` (0 ..< 7) as an integer: its value, or `PlanFormat.maxElements`
    /// (2^31 − 1) for any value above that, on every word size.
    ///
    /// No count or size a plan can hold is that large, so a clamped value is refused wherever it
    /// is checked, and reading a parameter never traps on a 32-bit device (where `Int(UInt32)` of
    /// 2^31 or more would). Use `paramBits` for bit patterns and packed fields.
    @inlinable
    public func param(_ i: Int) -> Int {
        let bits = paramBits(i)
        return bits > UInt32(PlanFormat.maxElements) ? PlanFormat.maxElements : Int(bits)
    }

    /// Parameter slot `i` as a Float.
    @inlinable
    public func floatParam(_ i: Int) -> Float { Float(bitPattern: paramBits(i)) }

    /// Parameter slot `i`, raw.
    @inlinable
    public func paramBits(_ i: Int) -> UInt32 {
        switch i {
        case 0: return params.0
        case 1: return params.1
        case 2: return params.2
        case 3: return params.3
        case 4: return params.4
        case 5: return params.5
        default: return params.6
        }
    }

    /// Sets parameter slot `i` to raw bits.
    public mutating func setParamBits(_ i: Int, _ v: UInt32) {
        switch i {
        case 0: params.0 = v
        case 1: params.1 = v
        case 2: params.2 = v
        case 3: params.3 = v
        case 4: params.4 = v
        case 5: params.5 = v
        default: params.6 = v
        }
    }

    public init(from p: UnsafeRawPointer) {
        opcodeRaw = ByteIO.u16(p, 0)
        phaseRaw = ByteIO.u8(p, 2)
        operandCount = ByteIO.u8(p, 3)
        operands = (ByteIO.u16(p, 4), ByteIO.u16(p, 6), ByteIO.u16(p, 8), ByteIO.u16(p, 10),
                    ByteIO.u16(p, 12), ByteIO.u16(p, 14), ByteIO.u16(p, 16), ByteIO.u16(p, 18))
        params = (ByteIO.u32(p, 20), ByteIO.u32(p, 24), ByteIO.u32(p, 28), ByteIO.u32(p, 32),
                  ByteIO.u32(p, 36), ByteIO.u32(p, 40), ByteIO.u32(p, 44))
    }

    public func store(to p: UnsafeMutableRawPointer) {
        ByteIO.put(p, 0, opcodeRaw)
        ByteIO.put(p, 2, phaseRaw)
        ByteIO.put(p, 3, operandCount)
        var i = 0
        while i < PlanFormat.maxOperands {
            ByteIO.put(p, 4 + 2 * i, operand(i).map { UInt16(truncatingIfNeeded: $0) } ?? PlanFormat.noTensor)
            i += 1
        }
        i = 0
        while i < PlanFormat.maxParams {
            ByteIO.put(p, 20 + 4 * i, paramBits(i))
            i += 1
        }
    }

    public static func == (a: OpRecord, b: OpRecord) -> Bool {
        if a.opcodeRaw != b.opcodeRaw || a.phaseRaw != b.phaseRaw || a.operandCount != b.operandCount { return false }
        var i = 0
        while i < PlanFormat.maxOperands { if a.operand(i) != b.operand(i) { return false }; i += 1 }
        i = 0
        while i < PlanFormat.maxParams { if a.paramBits(i) != b.paramBits(i) { return false }; i += 1 }
        return true
    }
}

/// The training configuration: everything `train` needs besides the tensors and ops. 64 bytes,
/// or 96 with the extension (bytes 64 ..< 96), written only when a field there is not its default.
public struct TrainingConfig: Equatable, Sendable {
    public var optimizerRaw: UInt8 = OptimizerKind.sgd.rawValue      // 0
    public var lossScaleModeRaw: UInt8 = LossScaleMode.none.rawValue // 1
    /// 0: fp32 accumulators in every dot product; 1: fp16 accumulators (`DenseHalfAccumulation`).
    public var accumulate: UInt8 = 0                                 // 2
    /// Element type of optimizer state (momentum, Adam moments).
    public var stateDTypeRaw: UInt8 = DType.float32.rawValue         // 3
    /// Samples per micro-batch: the batch dimension of every batch-major tensor.
    public var batch: UInt16 = 1                                     // 4
    /// Micro-batches per step, whose weight gradients are summed before one update; 0 and 1
    /// both mean one. (Format v1 stored `batch` as 32 bits; batches are at most 65535, so a v1
    /// plan reads here as 0.)
    public var microBatchesRaw: UInt16 = 0                           // 6
    public var learningRate: Float = 0.01                            // 8
    /// SGD momentum, or Adam's beta1.
    public var momentum: Float = 0                                   // 12
    public var weightDecay: Float = 0                                // 16
    /// Adam's beta2.
    public var beta2: Float = 0.999                                  // 20
    /// Adam's epsilon, added in fp32 arithmetic.
    public var epsilon: Float = 1e-8                                 // 24
    public var initialLossScale: Float = 1                           // 28
    public var growthFactor: Float = 2                               // 32
    public var backoffFactor: Float = 0.5                            // 36
    /// Clean steps before a dynamic scale grows.
    public var growthInterval: UInt32 = 2000                         // 40
    public var inputTensor: UInt16 = 0                               // 44
    public var labelsTensor: UInt16 = 0                              // 46
    public var logitsTensor: UInt16 = 0                              // 48
    public var lossTensor: UInt16 = 0                                // 50
    public var classes: UInt32 = 0                                   // 52
    /// Seed for anything random on the device (reserved for stochastic rounding).
    public var seed: UInt32 = 0                                      // 56
    /// Input elements per sample.
    public var inputFeatures: UInt32 = 0                             // 60
    // The extension: a 64-byte config reads as these defaults.
    /// The loss (`LossKind`). For a regression loss `classes` counts outputs per sample and the
    /// labels tensor holds fp16 targets, [batch, classes].
    public var lossKindRaw: UInt8 = LossKind.crossEntropy.rawValue   // 64
    /// The learning-rate schedule (`ScheduleKind`).
    public var scheduleRaw: UInt8 = ScheduleKind.constant.rawValue   // 65
    /// Reserved, 0.
    public var reserved66: UInt16 = 0                                // 66
    /// Huber's delta (where the loss turns from quadratic to linear); 0 for other losses.
    public var huberDelta: Float = 0                                 // 68
    /// Steps between decays (`step`), or the length of the cosine (`cosine`); 0 for `constant`.
    public var scheduleSteps: UInt32 = 0                             // 72
    /// The decay factor (`step`), or the final learning rate (`cosine`).
    public var scheduleFactor: Float = 0                             // 76
    /// Steps over which the learning rate ramps linearly up to the schedule's (0: none).
    public var warmupSteps: UInt32 = 0                               // 80
    /// Largest global L2 norm of the unscaled gradients; larger ones are scaled down to it
    /// (PyTorch `clip_grad_norm_`). 0: no clipping.
    public var clipGradNorm: Float = 0                               // 84
    /// Reserved, 0.
    public var reserved88: UInt32 = 0                                // 88
    public var reserved92: UInt32 = 0                                // 92

    public init() {}

    public var lossKind: LossKind? { LossKind(rawValue: lossKindRaw) }
    public var schedule: ScheduleKind? { ScheduleKind(rawValue: scheduleRaw) }

    /// True when a field of the extension differs from its default: the config then takes
    /// `PlanFormat.extendedConfigBytes`, else `PlanFormat.configBytes`.
    public var usesExtension: Bool {
        lossKindRaw != 0 || scheduleRaw != 0 || reserved66 != 0 || huberDelta.bitPattern != 0 || scheduleSteps != 0
            || scheduleFactor.bitPattern != 0 || warmupSteps != 0 || clipGradNorm.bitPattern != 0
            || reserved88 != 0 || reserved92 != 0
    }

    /// The config's size in a plan file, bytes.
    public var storedBytes: Int { usesExtension ? PlanFormat.extendedConfigBytes : PlanFormat.configBytes }

    public var optimizer: OptimizerKind? { OptimizerKind(rawValue: optimizerRaw) }
    public var lossScaleMode: LossScaleMode? { LossScaleMode(rawValue: lossScaleModeRaw) }
    public var stateDType: DType? { DType(rawValue: stateDTypeRaw) }
    /// Micro-batches per step (at least 1).
    public var microBatches: Int { max(1, Int(microBatchesRaw)) }
    /// Samples per step: `batch` × `microBatches` (the verifier keeps it below 2^31).
    public var stepBatch: Int { Int(batch) * microBatches }

    /// Reads a config of `bytes` bytes (`PlanFormat.configBytes` or `extendedConfigBytes`).
    public init(from p: UnsafeRawPointer, bytes: Int = PlanFormat.configBytes) {
        optimizerRaw = ByteIO.u8(p, 0)
        lossScaleModeRaw = ByteIO.u8(p, 1)
        accumulate = ByteIO.u8(p, 2)
        stateDTypeRaw = ByteIO.u8(p, 3)
        batch = ByteIO.u16(p, 4)
        microBatchesRaw = ByteIO.u16(p, 6)
        learningRate = ByteIO.f32(p, 8)
        momentum = ByteIO.f32(p, 12)
        weightDecay = ByteIO.f32(p, 16)
        beta2 = ByteIO.f32(p, 20)
        epsilon = ByteIO.f32(p, 24)
        initialLossScale = ByteIO.f32(p, 28)
        growthFactor = ByteIO.f32(p, 32)
        backoffFactor = ByteIO.f32(p, 36)
        growthInterval = ByteIO.u32(p, 40)
        inputTensor = ByteIO.u16(p, 44)
        labelsTensor = ByteIO.u16(p, 46)
        logitsTensor = ByteIO.u16(p, 48)
        lossTensor = ByteIO.u16(p, 50)
        classes = ByteIO.u32(p, 52)
        seed = ByteIO.u32(p, 56)
        inputFeatures = ByteIO.u32(p, 60)
        if bytes >= PlanFormat.extendedConfigBytes {
            lossKindRaw = ByteIO.u8(p, 64)
            scheduleRaw = ByteIO.u8(p, 65)
            reserved66 = ByteIO.u16(p, 66)
            huberDelta = ByteIO.f32(p, 68)
            scheduleSteps = ByteIO.u32(p, 72)
            scheduleFactor = ByteIO.f32(p, 76)
            warmupSteps = ByteIO.u32(p, 80)
            clipGradNorm = ByteIO.f32(p, 84)
            reserved88 = ByteIO.u32(p, 88)
            reserved92 = ByteIO.u32(p, 92)
        }
    }

    /// Writes the config's `storedBytes` bytes.
    public func store(to p: UnsafeMutableRawPointer) {
        ByteIO.put(p, 0, optimizerRaw)
        ByteIO.put(p, 1, lossScaleModeRaw)
        ByteIO.put(p, 2, accumulate)
        ByteIO.put(p, 3, stateDTypeRaw)
        ByteIO.put(p, 4, batch)
        ByteIO.put(p, 6, microBatchesRaw)
        ByteIO.put(p, 8, learningRate)
        ByteIO.put(p, 12, momentum)
        ByteIO.put(p, 16, weightDecay)
        ByteIO.put(p, 20, beta2)
        ByteIO.put(p, 24, epsilon)
        ByteIO.put(p, 28, initialLossScale)
        ByteIO.put(p, 32, growthFactor)
        ByteIO.put(p, 36, backoffFactor)
        ByteIO.put(p, 40, growthInterval)
        ByteIO.put(p, 44, inputTensor)
        ByteIO.put(p, 46, labelsTensor)
        ByteIO.put(p, 48, logitsTensor)
        ByteIO.put(p, 50, lossTensor)
        ByteIO.put(p, 52, classes)
        ByteIO.put(p, 56, seed)
        ByteIO.put(p, 60, inputFeatures)
        if usesExtension {
            ByteIO.put(p, 64, lossKindRaw)
            ByteIO.put(p, 65, scheduleRaw)
            ByteIO.put(p, 66, reserved66)
            ByteIO.put(p, 68, huberDelta)
            ByteIO.put(p, 72, scheduleSteps)
            ByteIO.put(p, 76, scheduleFactor)
            ByteIO.put(p, 80, warmupSteps)
            ByteIO.put(p, 84, clipGradNorm)
            ByteIO.put(p, 88, reserved88)
            ByteIO.put(p, 92, reserved92)
        }
    }
}
