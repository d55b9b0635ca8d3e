/// Runs a verified plan: one training step at a time, inside a caller-owned arena.
///
/// Start-up zeroes the arena and copies every trainable tensor's initial value from the plan's
/// data section (flash) into SRAM. A step is forward, loss, backward, an inf/NaN check of every
/// gradient, then the updates; nothing allocates, nothing throws, every buffer is where the plan
/// put it. The same code runs on the host and on the device.
public struct Trainer {
    public let plan: Plan
    public let arena: Arena
    public private(set) var scaler: LossScaler
    public private(set) var counters = TrainingCounters()
    /// Where the trainer writes the index of the op it is about to run (-1 between steps), for an
    /// emulator's fault reports. nil (the default) costs one branch per op.
    public var opTrace: UnsafeMutablePointer<Int32>? = nil
    /// Caller-owned per-tensor diagnostics, one per update op in program order (see
    /// `updateOpCount`); nil (the default) skips collecting them.
    public var diagnostics: UnsafeMutablePointer<TensorDiagnostics>? = nil
    /// β₁ᵗ and β₂ᵗ for Adam's bias correction (t = applied steps).
    public private(set) var beta1Power: Float = 1
    public private(set) var beta2Power: Float = 1
    /// The learning rate of the step running, or of the last one (`LearningRateSchedule`).
    public private(set) var learningRate: Float
    /// The global L2 norm of the last applied step's unscaled gradients, before clipping; computed
    /// only when the plan clips (`TrainingConfig.clipGradNorm`), else 0.
    public private(set) var lastGradientNorm: Float = 0

    /// First op index of each phase (forward starts at 0). `updateStart` is the first update op
    /// after the last backward op: earlier update ops are fused into the backward pass.
    let lossStart: Int
    let backwardStart: Int
    let updateStart: Int
    /// Update ops in the program, fused or not.
    let updateOps: Int

    /// Prepares `plan` to run in `arena`, which must hold at least `plan.arenaBytes` bytes (a host
    /// may give more: its vectorised kernels use the bytes past the plan's, `KernelScratch`).
    public init(plan: Plan, arena: Arena) throws(PlanError) {
        if arena.bytes < plan.arenaBytes { throw .arenaTooSmall(needed: plan.arenaBytes, available: arena.bytes) }
        self.plan = plan
        self.arena = arena
        let c = plan.config
        learningRate = c.learningRate
        scaler = LossScaler(mode: c.lossScaleMode ?? .none, initialScale: c.initialLossScale,
                            growthFactor: c.growthFactor, backoffFactor: c.backoffFactor,
                            growthInterval: Int(c.growthInterval))
        var loss = plan.opCount, backward = plan.opCount, lastBackward = -1, updates = 0
        var i = plan.opCount - 1
        while i >= 0 {
            switch plan.op(i).phase {
            case .loss?: loss = i
            case .backward?:
                backward = i
                if lastBackward < 0 { lastBackward = i }
            case .update?: updates += 1
            case .forward?, nil: break
            }
            i -= 1
        }
        lossStart = loss
        backwardStart = max(backward, loss + 1)
        updateStart = max(lastBackward + 1, backwardStart)
        updateOps = updates
        reset()
    }

    /// Returns every persistent tensor to its initial value and the counters and loss scale to
    /// their start.
    ///
    /// Only state that persists across steps is initialised: trainable tensors from the plan's
    /// data, optimizer state and the loss to zero. Every other buffer is written by its producing
    /// op before anything reads it, so the rest of the arena is left as it is, which lets an
    /// emulator paint the arena and see exactly which bytes a step touches.
    public mutating func reset() {
        var i = 0
        while i < plan.tensorCount {
            let t = plan.tensor(i)
            if t.region == .arena {
                let at = arena.base + Int(t.offset)
                if t.flags & TensorRecord.hasInitialValue != 0 {
                    at.copyMemory(from: plan.data(at: Int(t.initOffset)), byteCount: Int(t.bytes))
                } else if t.role == .optimizerState || t.role == .loss {
                    at.initializeMemory(as: UInt8.self, repeating: 0, count: Int(t.bytes))
                }
            }
            i += 1
        }
        counters = TrainingCounters()
        let c = plan.config
        scaler = LossScaler(mode: c.lossScaleMode ?? .none, initialScale: c.initialLossScale,
                            growthFactor: c.growthFactor, backoffFactor: c.backoffFactor,
                            growthInterval: Int(c.growthInterval))
        beta1Power = 1
        beta2Power = 1
        learningRate = LearningRateSchedule.rate(c, step: 0)
        lastGradientNorm = 0
    }

    /// Number of update ops: the size of a `diagnostics` buffer.
    public var updateOpCount: Int { updateOps }

    /// Update ops fused into the backward pass (they run as soon as their gradient exists).
    public var fusedUpdateCount: Int { updateOps - (plan.opCount - updateStart) }

    /// Puts back the scalar state a checkpoint holds.
    mutating func restoreScalars(scale: Float, cleanSteps: Int, beta1Power: Float, beta2Power: Float,
                                 steps: Int, applied: Int, overflows: Int, skipped: Int, nonzero: Int, underflows: Int) {
        scaler.restore(scale: scale, cleanSteps: cleanSteps)
        self.beta1Power = beta1Power
        self.beta2Power = beta2Power
        counters.steps = steps
        counters.appliedSteps = applied
        counters.overflows = overflows
        counters.skippedSteps = skipped
        counters.nonzeroUpdates = nonzero
        counters.updateUnderflows = underflows
    }

    // MARK: - Tensor access

    /// A context for running ops on `rows` rows with the trainer's current scalars.
    @inlinable
    func context(rows: Int) -> StepContext {
        var c = StepContext(plan: plan, arena: arena, rows: rows)
        c.beta1Power = beta1Power
        c.beta2Power = beta2Power
        c.appliedSteps = counters.appliedSteps
        c.learningRate = learningRate
        return c
    }

    /// Where tensor `i` lives in memory.
    @inlinable
    public func address(of i: Int) -> UnsafeMutableRawPointer { context(rows: 0).address(of: i) }

    /// Tensor `i` as fp16 elements (the verifier checked its type where the plan uses it so).
    @inlinable
    public func halfView(_ i: Int) -> TensorView<Float16> { context(rows: 0).half(i) }

    /// Tensor `i` as fp32 elements.
    @inlinable
    public func floatView(_ i: Int) -> TensorView<Float> { context(rows: 0).float(i) }

    /// Tensor `i` as int32 elements.
    @inlinable
    public func intView(_ i: Int) -> TensorView<Int32> { context(rows: 0).int(i) }

    /// Tensor `i` as raw 32-bit words (bit masks).
    @inlinable
    public func wordView(_ i: Int) -> TensorView<UInt32> { context(rows: 0).words(i) }

    /// Tensor `i` as a parameter, whichever its storage type.
    @inlinable
    public func parameterView(_ i: Int) -> ParameterView { context(rows: 0).parameter(i) }

    /// The input batch, [batch, features] fp16: the caller fills it before each step.
    public var input: TensorView<Float16> { halfView(Int(plan.config.inputTensor)) }
    /// The labels, [batch] int32 class indices: the caller fills them before each step (a
    /// classification plan, `LossKind.crossEntropy`).
    public var labels: TensorView<Int32> { intView(Int(plan.config.labelsTensor)) }
    /// The targets, [batch, outputs] fp16: the caller fills them before each step (a regression
    /// plan; the same tensor as `labels`, read as fp16).
    public var targets: TensorView<Float16> { halfView(Int(plan.config.labelsTensor)) }
    /// True when the plan's loss is a regression loss: the caller fills `targets`, not `labels`.
    public var regression: Bool { plan.config.lossKind?.isRegression ?? false }
    /// The logits of the last forward pass, [batch, classes] fp16.
    public var logits: TensorView<Float16> { halfView(Int(plan.config.logitsTensor)) }

    // MARK: - Running

    /// Runs the forward phase on the first `rows` rows of `input` (rows ≤ batch).
    public func forward(rows: Int) {
        var i = 0
        while i < lossStart {
            trace(i)
            run(plan.op(i), rows: rows)
            i += 1
        }
        trace(-1)
    }

    @inline(__always)
    func trace(_ op: Int) {
        if let opTrace { opTrace.pointee = Int32(truncatingIfNeeded: op) }
    }

    /// One training step on the first `rows` rows of `input` and `labels` (rows ≤ batch), for a
    /// plan with one micro-batch per step. A micro-batched plan needs `step(rows:loadMicroBatch:)`:
    /// its input holds one micro-batch, so this runs only the first `batch` rows.
    public mutating func step(rows: Int) -> StepResult {
        step(rows: min(rows, Int(plan.config.batch))) { _, _, _ in }
    }

    /// One training step on `rows` samples (rows ≤ `plan.config.stepBatch`), run as micro-batches
    /// of at most `plan.config.batch` rows whose weight gradients are summed before one update.
    ///
    /// Before each micro-batch the trainer calls `load(index, firstRow, count)`; the caller fills
    /// `input` and `labels` with the step's samples `firstRow ..< firstRow + count`. The loss is
    /// the mean over all `rows` samples and each micro-batch's logits gradient is scaled by its
    /// share of them, so the summed gradient is the whole batch's. With one micro-batch this is
    /// exactly `step(rows:)` with the input already loaded.
    public mutating func step(rows: Int, loadMicroBatch load: (_ index: Int, _ firstRow: Int, _ count: Int) -> Void) -> StepResult {
        let micro = Int(plan.config.batch)
        let chunks = rows <= micro ? 1 : (rows + micro - 1) / micro
        let scale = scaler.scale
        learningRate = LearningRateSchedule.rate(plan.config, step: counters.steps)
        if plan.config.microBatches > 1 { zeroGradientSums() }
        var lossTotal: Float = 0
        var fusedOverflow = false
        var ordinal = 0
        var chunk = 0
        while chunk < chunks {
            let firstRow = chunk * micro, count = chunks == 1 ? rows : min(micro, rows - firstRow)
            load(chunk, firstRow, count)
            if let bad = firstInvalidRow(count) {
                return StepResult(status: regression ? .invalidTarget(row: firstRow + bad) : .invalidLabel(row: firstRow + bad),
                                  loss: .nan, lossScale: scaler.scale)
            }
            if chunk == 0 { counters.steps += 1 }
            // Each micro-batch's share of the mean: scale · count / rows, exactly `scale` for one.
            let share = chunks == 1 ? scale : scale * Float(count) / Float(rows)
            runForwardAndLoss(rows: count, scale: share)
            let chunkLoss = floatView(Int(plan.config.lossTensor))[0]
            lossTotal = chunks == 1 ? chunkLoss : lossTotal + chunkLoss * Float(count) / Float(rows)
            if chunk == 0 {
                // Fused updates (one micro-batch only: the verifier refuses them otherwise) apply
                // as soon as their gradient exists, so Adam's powers advance first.
                fusedOverflow = !chunkLoss.isFinite
                if updateOps > plan.opCount - updateStart {
                    beta1Power *= plan.config.momentum
                    beta2Power *= plan.config.beta2
                }
            }
            runBackward(rows: count, scale: scale, fusedOverflow: &fusedOverflow, ordinal: &ordinal)
            chunk += 1
        }
        let loss = lossTotal
        if chunks > 1 { floatView(Int(plan.config.lossTensor))[0] = loss }
        if !loss.isFinite { fusedOverflow = true }
        return finishStep(loss: loss, scale: scale, overflowSeen: fusedOverflow, ordinal: ordinal)
    }

    /// The first of the loaded `rows` rows whose label is outside the classes or whose targets
    /// are not all finite, or nil.
    func firstInvalidRow(_ rows: Int) -> Int? {
        if regression {
            let outputs = Int(plan.config.classes), targets = self.targets
            var row = 0
            while row < rows {
                var bad: UInt16 = 0
                var i = row * outputs
                let end = i + outputs
                while i < end {
                    bad |= targets[i].bitPattern & 0x7C00 == 0x7C00 ? 1 : 0
                    i &+= 1
                }
                if bad != 0 { return row }
                row += 1
            }
            return nil
        }
        let classes = Int32(truncatingIfNeeded: plan.config.classes)
        let labelView = labels
        var row = 0
        while row < rows {
            let label = labelView[row]
            if label < 0 || label >= classes { return row }
            row += 1
        }
        return nil
    }

    /// The overflow check of every unfused update's gradient, then those updates (or the skip).
    mutating func finishStep(loss: Float, scale: Float, overflowSeen: Bool, ordinal first: Int) -> StepResult {
        var ordinal = first
        let c = plan.config
        var inverseScale = 1 / scale
        trace(-1)
        var overflow = overflowSeen
        var j = updateStart
        while j < plan.opCount {
            if !gradientIsFinite(plan.op(j), ordinal: ordinal + j - updateStart, scale: scale) {
                overflow = true
                if diagnostics == nil { break }
            }
            j += 1
        }
        scaler.record(overflow: overflow)
        if overflow {
            counters.overflows += 1
            counters.skippedSteps += 1
            return StepResult(status: .skippedOverflow, loss: loss, lossScale: scale)
        }
        if updateOps == plan.opCount - updateStart {
            beta1Power *= c.momentum
            beta2Power *= c.beta2
        }
        if c.clipGradNorm > 0 {
            // PyTorch's clip_grad_norm_: scale by max / (norm + 1e-6) when that is below 1. The
            // factor joins the unscaling, so the updates see the clipped gradient.
            lastGradientNorm = gradientNorm() / scale
            let factor = c.clipGradNorm / (lastGradientNorm + 1e-6)
            if factor < 1 { inverseScale *= factor }
        }
        var i = updateStart
        while i < plan.opCount {
            trace(i)
            apply(plan.op(i), ordinal: ordinal, inverseScale: inverseScale)
            ordinal += 1
            i += 1
        }
        trace(-1)
        counters.appliedSteps += 1
        return StepResult(status: .applied, loss: loss, lossScale: scale)
    }

    // The phases of a step live in functions of their own so that `step`'s frame stays small:
    // an unoptimised (debug) host build gives every call site its own stack slots, and the step
    // frame sits under every kernel on a device-sized stack.

    /// The forward and loss ops of one micro-batch of `rows` rows, the logits gradient scaled by `scale`.
    func runForwardAndLoss(rows: Int, scale: Float) {
        var c = context(rows: rows)
        c.lossScale = scale
        var i = 0
        while i < backwardStart {
            trace(i)
            plan.op(i).run(&c)
            i += 1
        }
    }

    /// The backward ops of one micro-batch, with any fused updates: an update applies unless an
    /// overflow was seen, which then stops every later update of the step (earlier ones have applied).
    mutating func runBackward(rows: Int, scale: Float, fusedOverflow: inout Bool, ordinal: inout Int) {
        var i = backwardStart
        while i < updateStart {
            let op = plan.op(i)
            trace(i)
            if op.phase == .update {
                if !fusedOverflow && gradientIsFinite(op, ordinal: ordinal, scale: scale) {
                    apply(op, ordinal: ordinal, inverseScale: 1 / scale)
                } else {
                    fusedOverflow = true
                }
                ordinal += 1
            } else {
                run(op, rows: rows)
            }
            i += 1
        }
    }

    /// Zeroes every micro-batch gradient sum before a step's first micro-batch.
    func zeroGradientSums() {
        var t = 0
        while t < plan.tensorCount {
            let r = plan.tensor(t)
            if r.role == .gradientSum { address(of: t).initializeMemory(as: UInt8.self, repeating: 0, count: Int(r.bytes)) }
            t += 1
        }
    }

    /// Runs update op `op` (the `ordinal`-th update of the program) and counts what it did.
    mutating func apply(_ op: OpRecord, ordinal: Int, inverseScale: Float) {
        var c = context(rows: 0)
        c.inverseScale = inverseScale
        op.run(&c)
        let tally = c.tally
        counters.nonzeroUpdates += tally.nonzeroUpdates
        counters.updateUnderflows += tally.underflows
        if let diagnostics {
            diagnostics[ordinal].nonzeroUpdates += tally.nonzeroUpdates
            diagnostics[ordinal].updateUnderflows += tally.underflows
        }
    }

    /// The L2 norm of every update's gradient as stored (scaled by the loss scale): fp32 sums of
    /// squares in program order, element order within a tensor. Clipping plans fuse no update
    /// (the verifier refuses them), so every gradient is complete here.
    func gradientNorm() -> Float {
        var total: Float = 0
        var j = updateStart
        while j < plan.opCount {
            let (tensor, count) = UpdateSlots.gradient(of: plan.op(j))
            let grad = halfView(tensor)
            var sum: Float = 0
            var k = 0
            while k < count {
                let g = Float(grad[k])
                sum += g * g
                k &+= 1
            }
            total += sum
            j += 1
        }
        return total.squareRoot()
    }

    /// True when the gradient update op `op` reads is finite. With diagnostics, also records the
    /// tensor's largest |gradient| (unscaled) and whether it overflowed.
    func gradientIsFinite(_ op: OpRecord, ordinal: Int, scale: Float) -> Bool {
        let (tensor, count) = UpdateSlots.gradient(of: op)
        let grad = halfView(tensor)
        // An fp16 value is inf or NaN exactly when its exponent bits are all ones, and finite
        // values order by magnitude as their bits without the sign do: both tests are integer
        // operations with no branch per element, so the host vectorises the loop. An overflow is
        // rare enough not to need an early exit.
        var allOnes: UInt16 = 0
        var peakBits: UInt16 = 0
        var j = 0
        if diagnostics == nil {
            while j < count {
                allOnes |= (grad[j].bitPattern & 0x7C00 == 0x7C00) ? 1 : 0
                j &+= 1
            }
            return allOnes == 0
        }
        while j < count {
            let magnitude = grad[j].bitPattern & 0x7FFF
            let bad = magnitude >= 0x7C00
            allOnes |= bad ? 1 : 0
            peakBits = max(peakBits, bad ? 0 : magnitude)
            j &+= 1
        }
        let finite = allOnes == 0
        let peak = Float(Float16(bitPattern: peakBits))
        if let diagnostics {
            let unscaled = peak / scale
            if unscaled > diagnostics[ordinal].gradientMaxAbs { diagnostics[ordinal].gradientMaxAbs = unscaled }
            if !finite { diagnostics[ordinal].overflowSteps += 1 }
        }
        return finite
    }

    /// Runs one forward or backward op on its own (the trainer uses it inside `forward` and
    /// `step`; profilers call it to time single ops). Loss and update ops do nothing here: the
    /// loss runs inside `step` with the loss scale, updates after the overflow check.
    @inlinable
    public func run(_ op: OpRecord, rows: Int) {
        if op.phase == .loss || op.phase == .update { return }
        var c = context(rows: rows)
        op.run(&c)
    }
}
