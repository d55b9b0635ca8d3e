// The C interface of halfstep.h: set-up, training steps, prediction and the plan's figures.
// Every entry point checks its pointers and the caller's data before touching the trainer, so a
// C caller's mistake is an error code and a sentence, never a trap.

/// halfstep.h's `hs_step_report`.
public struct HSStepReport {
    public var loss: Float = 0
    public var lossScale: Float = 0
    public var applied: Int32 = 0
    public var step: UInt32 = 0
    public init() {}
}

/// halfstep.h's `hs_plan_info`.
public struct HSPlanInfo {
    public var batch: UInt32 = 0
    public var predictRows: UInt32 = 0
    public var features: UInt32 = 0
    public var outputs: UInt32 = 0
    public var arenaBytes: UInt32 = 0
    public var parameters: UInt32 = 0
    public init() {}
}

/// halfstep.h's `hs_counters`.
public struct HSCounters {
    public var steps: UInt32 = 0
    public var appliedSteps: UInt32 = 0
    public var overflows: UInt32 = 0
    public var skippedSteps: UInt32 = 0
    public var nonzeroUpdates: UInt32 = 0
    public var updateUnderflows: UInt32 = 0
    public var lossScale: Float = 0
    public init() {}
}

/// halfstep.h's `hs_parameter`.
public struct HSParameter {
    public var data: UnsafeRawPointer? = nil
    public var bytes: UInt32 = 0
    public var elements: UInt32 = 0
    public var dtype: UInt32 = 0
    public var tensor: UInt32 = 0
    public init() {}
}

/// `hs_trainer_bytes`: storage one trainer needs on this build, bytes.
@_cdecl("hs_trainer_bytes")
public func hs_trainer_bytes() -> Int { CTrainerStorage.bytes }

/// `hs_plan_arena_bytes`: the arena `plan` needs, bytes; 0 when it does not verify.
@_cdecl("hs_plan_arena_bytes")
public func hs_plan_arena_bytes(_ plan: UnsafeRawPointer?, _ planBytes: Int) -> Int {
    guard let plan, planBytes > 0 else { return 0 }
    do {
        return try Plan(bytes: UnsafeRawBufferPointer(start: plan, count: planBytes)).arenaBytes
    } catch {
        return 0
    }
}

/// `hs_trainer_init`: verifies the plan and sets a trainer up in `t`.
@_cdecl("hs_trainer_init")
public func hs_trainer_init(_ t: UnsafeMutableRawPointer?, _ plan: UnsafeRawPointer?, _ planBytes: Int,
                            _ arena: UnsafeMutableRawPointer?, _ arenaBytes: Int) -> Int32 {
    guard let t else { return CAPIError.null.rawValue }
    guard UInt(bitPattern: t) % UInt(CTrainerStorage.alignment) == 0 else { return CAPIError.alignment.rawValue }
    t.storeBytes(of: CTrainerStorage.failed, as: UInt32.self)
    guard let plan, let arena else {
        var w = CTrainerStorage.fail(t, .null)
        w.append(plan == nil ? ": the plan" : ": the arena")
        return CAPIError.null.rawValue
    }
    guard UInt(bitPattern: arena) % UInt(PlanFormat.alignment) == 0 else {
        var w = CTrainerStorage.fail(t, .alignment)
        w.append(" (the arena is not)")
        return CAPIError.alignment.rawValue
    }
    let verified: Plan
    do {
        verified = try Plan(bytes: UnsafeRawBufferPointer(start: plan, count: max(planBytes, 0)))
    } catch {
        var w = CTrainerStorage.fail(t, error.isMisalignment ? .alignment : .plan)
        error.describe(into: &w)
        return error.isMisalignment ? CAPIError.alignment.rawValue : CAPIError.plan.rawValue
    }
    guard arenaBytes >= verified.arenaBytes else {
        var w = CTrainerStorage.fail(t, .arenaTooSmall)
        w.append(": the plan needs ")
        w.append(verified.arenaBytes)
        w.append(" bytes, ")
        w.append(arenaBytes)
        w.append(" given")
        return CAPIError.arenaTooSmall.rawValue
    }
    let trainer: Trainer
    do {
        trainer = try Trainer(plan: verified, arena: Arena(base: arena, bytes: arenaBytes))
    } catch {
        var w = CTrainerStorage.fail(t, .plan)
        error.describe(into: &w)
        return CAPIError.plan.rawValue
    }
    (t + CTrainerStorage.trainerOffset).bindMemory(to: Trainer.self, capacity: 1).initialize(to: trainer)
    t.storeBytes(of: CTrainerStorage.ready, as: UInt32.self)
    CTrainerStorage.succeed(t)
    return 0
}

/// `hs_train_step`: one step on the plan's whole batch of float32 inputs and int32 labels.
@_cdecl("hs_train_step")
public func hs_train_step(_ t: UnsafeMutableRawPointer?, _ inputs: UnsafePointer<Float>?,
                          _ labels: UnsafePointer<Int32>?, _ report: UnsafeMutableRawPointer?) -> Int32 {
    guard let trainer = CTrainerStorage.trainer(t), let t else { return CAPIError.notInitialised.rawValue }
    guard let inputs else { return refuseNull(t, ": inputs") }
    let config = trainer.pointee.plan.config
    let features = Int(config.inputFeatures)
    if let refused = checkInputs(t, inputs, rows: config.stepBatch, features: features) { return refused }
    let input = trainer.pointee.input
    return trainStep(t, trainer, labels, report) { first, count in
        convert(inputs + first * features, count: count * features, into: input)
    }
}

/// `hs_train_step_f16`: `hs_train_step` with inputs already in fp16 (IEEE binary16 bit patterns),
/// copied as they are: for samples stored at half the size.
@_cdecl("hs_train_step_f16")
public func hs_train_step_f16(_ t: UnsafeMutableRawPointer?, _ inputs: UnsafePointer<UInt16>?,
                              _ labels: UnsafePointer<Int32>?, _ report: UnsafeMutableRawPointer?) -> Int32 {
    guard let trainer = CTrainerStorage.trainer(t), let t else { return CAPIError.notInitialised.rawValue }
    guard let inputs else { return refuseNull(t, ": inputs") }
    let config = trainer.pointee.plan.config
    let features = Int(config.inputFeatures)
    if let refused = checkHalfInputs(t, inputs, rows: config.stepBatch, features: features) { return refused }
    let input = trainer.pointee.input
    return trainStep(t, trainer, labels, report) { first, count in
        UnsafeMutableRawPointer(input.base).copyMemory(from: inputs + first * features, byteCount: 2 * count * features)
    }
}

/// `hs_train_step_targets`: one step of a regression plan on float32 inputs and targets.
@_cdecl("hs_train_step_targets")
public func hs_train_step_targets(_ t: UnsafeMutableRawPointer?, _ inputs: UnsafePointer<Float>?,
                                  _ targets: UnsafePointer<Float>?, _ report: UnsafeMutableRawPointer?) -> Int32 {
    guard let trainer = CTrainerStorage.trainer(t), let t else { return CAPIError.notInitialised.rawValue }
    guard trainer.pointee.regression else { return refuseLoss(t) }
    guard let inputs else { return refuseNull(t, ": inputs") }
    guard let targets else { return refuseNull(t, ": targets") }
    let config = trainer.pointee.plan.config
    let features = Int(config.inputFeatures), outputs = Int(config.classes)
    if let refused = checkInputs(t, inputs, rows: config.stepBatch, features: features) { return refused }
    var i = 0
    while i < config.stepBatch * outputs {
        if targets[i].isNaN || targets[i].magnitude > 65504 { return refuseTarget(t, at: i, outputs: outputs) }
        i += 1
    }
    let input = trainer.pointee.input, targetView = trainer.pointee.targets
    return regressionStep(t, trainer, report) { first, count in
        convert(inputs + first * features, count: count * features, into: input)
        convert(targets + first * outputs, count: count * outputs, into: targetView)
    }
}

/// `hs_train_step_targets_f16`: `hs_train_step_targets` with fp16 bit patterns, copied as they are.
@_cdecl("hs_train_step_targets_f16")
public func hs_train_step_targets_f16(_ t: UnsafeMutableRawPointer?, _ inputs: UnsafePointer<UInt16>?,
                                      _ targets: UnsafePointer<UInt16>?, _ report: UnsafeMutableRawPointer?) -> Int32 {
    guard let trainer = CTrainerStorage.trainer(t), let t else { return CAPIError.notInitialised.rawValue }
    guard trainer.pointee.regression else { return refuseLoss(t) }
    guard let inputs else { return refuseNull(t, ": inputs") }
    guard let targets else { return refuseNull(t, ": targets") }
    let config = trainer.pointee.plan.config
    let features = Int(config.inputFeatures), outputs = Int(config.classes)
    if let refused = checkHalfInputs(t, inputs, rows: config.stepBatch, features: features) { return refused }
    var i = 0
    while i < config.stepBatch * outputs {
        if targets[i] & 0x7C00 == 0x7C00 { return refuseTarget(t, at: i, outputs: outputs) }
        i += 1
    }
    let input = trainer.pointee.input, targetView = trainer.pointee.targets
    return regressionStep(t, trainer, report) { first, count in
        UnsafeMutableRawPointer(input.base).copyMemory(from: inputs + first * features, byteCount: 2 * count * features)
        UnsafeMutableRawPointer(targetView.base).copyMemory(from: targets + first * outputs, byteCount: 2 * count * outputs)
    }
}

/// The step of both targets entry points, after their checks: `load` fills each micro-batch.
func regressionStep(_ t: UnsafeMutableRawPointer, _ trainer: UnsafeMutablePointer<Trainer>, _ report: UnsafeMutableRawPointer?,
                    load: (_ first: Int, _ count: Int) -> Void) -> Int32 {
    let rows = trainer.pointee.plan.config.stepBatch
    let result = trainer.pointee.step(rows: rows) { _, first, count in load(first, count) }
    writeReport(report, result, trainer)
    CTrainerStorage.succeed(t)
    return 0
}

/// Records which target was refused, as sample and output.
func refuseTarget(_ t: UnsafeMutableRawPointer, at i: Int, outputs: Int) -> Int32 {
    var w = CTrainerStorage.fail(t, .target)
    w.append(": sample ")
    w.append(i / max(outputs, 1))
    w.append(", output ")
    w.append(i % max(outputs, 1))
    return CAPIError.target.rawValue
}

func refuseLoss(_ t: UnsafeMutableRawPointer) -> Int32 {
    _ = CTrainerStorage.fail(t, .wrongLoss)
    return CAPIError.wrongLoss.rawValue
}

func writeReport(_ report: UnsafeMutableRawPointer?, _ result: StepResult, _ trainer: UnsafeMutablePointer<Trainer>) {
    guard let report else { return }
    var r = HSStepReport()
    r.loss = result.loss
    r.lossScale = result.lossScale
    r.applied = result.status == .applied ? 1 : 0
    r.step = UInt32(truncatingIfNeeded: trainer.pointee.counters.steps)
    report.assumingMemoryBound(to: HSStepReport.self).pointee = r
}

/// The step both label entry points share: labels checked, then the step with `load` filling each
/// micro-batch's input rows `first ..< first + count`.
func trainStep(_ t: UnsafeMutableRawPointer, _ trainer: UnsafeMutablePointer<Trainer>, _ labels: UnsafePointer<Int32>?,
               _ report: UnsafeMutableRawPointer?, load: (_ first: Int, _ count: Int) -> Void) -> Int32 {
    if trainer.pointee.regression { return refuseLoss(t) }
    guard let labels else { return refuseNull(t, ": labels") }
    let config = trainer.pointee.plan.config
    let rows = config.stepBatch, classes = Int(config.classes)
    var row = 0
    while row < rows {
        let label = Int(labels[row])
        if label < 0 || label >= classes {
            var w = CTrainerStorage.fail(t, .label)
            w.append(": sample ")
            w.append(row)
            w.append(" has label ")
            w.append(label)
            w.append(", classes are 0 ..< ")
            w.append(classes)
            return CAPIError.label.rawValue
        }
        row += 1
    }
    let labelView = trainer.pointee.labels
    let result = trainer.pointee.step(rows: rows) { _, first, count in
        load(first, count)
        labelView.base.update(from: labels + first, count: count)
    }
    writeReport(report, result, trainer)
    CTrainerStorage.succeed(t)
    return 0
}

func refuseNull(_ t: UnsafeMutableRawPointer, _ what: StaticString) -> Int32 {
    var w = CTrainerStorage.fail(t, .null)
    w.append(what)
    return CAPIError.null.rawValue
}

/// `hs_predict`: the model's outputs for `rows` samples with the current weights (forward only).
@_cdecl("hs_predict")
public func hs_predict(_ t: UnsafeMutableRawPointer?, _ inputs: UnsafePointer<Float>?, _ rows: Int,
                       _ outputs: UnsafeMutablePointer<Float>?) -> Int32 {
    guard let trainer = CTrainerStorage.trainer(t), let t else { return CAPIError.notInitialised.rawValue }
    guard let inputs, let outputs else {
        var w = CTrainerStorage.fail(t, .null)
        w.append(inputs == nil ? ": inputs" : ": outputs")
        return CAPIError.null.rawValue
    }
    let config = trainer.pointee.plan.config
    let batch = Int(config.batch), features = Int(config.inputFeatures), classes = Int(config.classes)
    guard rows >= 1 && rows <= batch else {
        var w = CTrainerStorage.fail(t, .rows)
        w.append(": ")
        w.append(rows)
        w.append(" given, the plan predicts at most ")
        w.append(batch)
        return CAPIError.rows.rawValue
    }
    if let refused = checkInputs(t, inputs, rows: rows, features: features) { return refused }
    convert(inputs, count: rows * features, into: trainer.pointee.input)
    trainer.pointee.forward(rows: rows)
    let logits = trainer.pointee.logits
    var i = 0
    while i < rows * classes {
        outputs[i] = Float(logits[i])
        i += 1
    }
    CTrainerStorage.succeed(t)
    return 0
}

/// `hs_plan_info_get`: the plan's sizes.
@_cdecl("hs_plan_info_get")
public func hs_plan_info_get(_ t: UnsafeRawPointer?, _ info: UnsafeMutableRawPointer?) -> Int32 {
    guard let trainer = CTrainerStorage.trainer(UnsafeMutableRawPointer(mutating: t)) else { return CAPIError.notInitialised.rawValue }
    guard let info else { return CAPIError.null.rawValue }
    let plan = trainer.pointee.plan, c = plan.config
    var out = HSPlanInfo()
    out.batch = UInt32(truncatingIfNeeded: c.stepBatch)
    out.predictRows = UInt32(c.batch)
    out.features = c.inputFeatures
    out.outputs = c.classes
    out.arenaBytes = UInt32(truncatingIfNeeded: plan.arenaBytes)
    out.parameters = UInt32(truncatingIfNeeded: trainableTensor(plan, index: Int.max).count)
    info.assumingMemoryBound(to: HSPlanInfo.self).pointee = out
    return 0
}

/// `hs_counters_get`: the training counters and the current loss scale.
@_cdecl("hs_counters_get")
public func hs_counters_get(_ t: UnsafeRawPointer?, _ counters: UnsafeMutableRawPointer?) -> Int32 {
    guard let trainer = CTrainerStorage.trainer(UnsafeMutableRawPointer(mutating: t)) else { return CAPIError.notInitialised.rawValue }
    guard let counters else { return CAPIError.null.rawValue }
    let c = trainer.pointee.counters
    var out = HSCounters()
    out.steps = UInt32(truncatingIfNeeded: c.steps)
    out.appliedSteps = UInt32(truncatingIfNeeded: c.appliedSteps)
    out.overflows = UInt32(truncatingIfNeeded: c.overflows)
    out.skippedSteps = UInt32(truncatingIfNeeded: c.skippedSteps)
    out.nonzeroUpdates = UInt32(truncatingIfNeeded: c.nonzeroUpdates)
    out.updateUnderflows = UInt32(truncatingIfNeeded: c.updateUnderflows)
    out.lossScale = trainer.pointee.scaler.scale
    counters.assumingMemoryBound(to: HSCounters.self).pointee = out
    return 0
}

/// `hs_parameter_get`: trainable tensor `index`, where it is and how it is stored.
@_cdecl("hs_parameter_get")
public func hs_parameter_get(_ t: UnsafeRawPointer?, _ index: UInt32, _ parameter: UnsafeMutableRawPointer?) -> Int32 {
    guard let trainer = CTrainerStorage.trainer(UnsafeMutableRawPointer(mutating: t)) else { return CAPIError.notInitialised.rawValue }
    guard let parameter else { return CAPIError.null.rawValue }
    let plan = trainer.pointee.plan
    let found = trainableTensor(plan, index: Int(index))
    guard let tensor = found.tensor else { return CAPIError.index.rawValue }
    let record = plan.tensor(tensor)
    var out = HSParameter()
    out.data = UnsafeRawPointer(trainer.pointee.address(of: tensor))
    out.bytes = record.bytes
    out.elements = UInt32(truncatingIfNeeded: record.elementCount ?? 0)
    out.dtype = record.dtype == .float32 ? 2 : 1
    out.tensor = UInt32(truncatingIfNeeded: tensor)
    parameter.assumingMemoryBound(to: HSParameter.self).pointee = out
    return 0
}

// MARK: - Helpers

/// The tensor-table index of the `index`-th trainable tensor (nil past the last), and how many
/// trainable tensors come before it (all of them when `index` is past the last).
func trainableTensor(_ plan: Plan, index: Int) -> (tensor: Int?, count: Int) {
    var seen = 0
    var i = 0
    while i < plan.tensorCount {
        if plan.tensor(i).flags & TensorRecord.trainable != 0 {
            if seen == index { return (i, seen) }
            seen += 1
        }
        i += 1
    }
    return (nil, seen)
}

/// Refuses NaN inputs and inputs fp16 cannot hold, naming the first; nil when all are fine.
func checkInputs(_ t: UnsafeMutableRawPointer, _ inputs: UnsafePointer<Float>, rows: Int, features: Int) -> Int32? {
    var i = 0
    while i < rows * features {
        let x = inputs[i]
        if x.isNaN || x.magnitude > 65504 { return refuseInput(t, x.isNaN ? .inputNaN : .inputRange, at: i, features: features) }
        i += 1
    }
    return nil
}

/// `checkInputs` for fp16 bit patterns: NaN or infinity (every exponent bit set) is refused.
func checkHalfInputs(_ t: UnsafeMutableRawPointer, _ inputs: UnsafePointer<UInt16>, rows: Int, features: Int) -> Int32? {
    var i = 0
    while i < rows * features {
        if inputs[i] & 0x7C00 == 0x7C00 {
            return refuseInput(t, inputs[i] & 0x03FF != 0 ? .inputNaN : .inputRange, at: i, features: features)
        }
        i += 1
    }
    return nil
}

/// Records which input was refused, as sample and feature.
func refuseInput(_ t: UnsafeMutableRawPointer, _ error: CAPIError, at i: Int, features: Int) -> Int32 {
    var w = CTrainerStorage.fail(t, error)
    w.append(": sample ")
    w.append(i / max(features, 1))
    w.append(", feature ")
    w.append(i % max(features, 1))
    return error.rawValue
}

/// Rounds `count` float32 values to fp16 into the start of `input` (round to nearest even, as the
/// host's .npy loader does).
func convert(_ source: UnsafePointer<Float>, count: Int, into input: TensorView<Float16>) {
    var i = 0
    while i < count {
        input[i] = Float16(source[i])
        i += 1
    }
}

extension PlanError {
    /// A misaligned plan buffer is the caller's placement, not a corrupt plan.
    var isMisalignment: Bool {
        if case .misalignedBuffer = self { return true }
        return false
    }

    /// The figures of the refusal, after the error code's sentence.
    func describe(into w: inout MessageWriter) {
        switch self {
        case .tooSmall(let bytes):
            w.append(": ")
            w.append(bytes)
            w.append(" bytes is shorter than a plan header")
        case .misalignedBuffer:
            w.append(" (the plan is not)")
        case .badMagic:
            w.append(": not a HalfStep plan (its first bytes are not \"HSPL\")")
        case .unsupportedVersion(let found, let supported):
            w.append(": format version ")
            w.append(Int(found))
            w.append(", this library reads ")
            w.append(Int(supported))
        case .sizeMismatch(let header, let actual):
            w.append(": its header says ")
            w.append(Int(header))
            w.append(" bytes, ")
            w.append(actual)
            w.append(" given (truncated?)")
        case .badChecksum:
            w.append(": its CRC does not match (corrupted)")
        case .sectionOutOfBounds(let section, _, _, _):
            w.append(": section ")
            w.append(Int(section.rawValue))
            w.append(" reaches outside the plan")
        case .headerFieldOutOfRange(let byteOffset, _):
            w.append(": header byte ")
            w.append(byteOffset)
            w.append(" is out of range")
        case .tensor(let index, _):
            w.append(": tensor record ")
            w.append(index)
            w.append(" is malformed")
        case .op(let index, _):
            w.append(": op record ")
            w.append(index)
            w.append(" is malformed")
        case .config:
            w.append(": its training configuration is malformed")
        case .arenaTooSmall(let needed, let available):
            w.append(": the plan needs ")
            w.append(needed)
            w.append(" bytes, ")
            w.append(available)
            w.append(" given")
        }
    }
}
