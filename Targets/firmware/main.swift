import HalfStepCore

/// Firmware for the emulated Cortex-M boards: runs the packed plan's training steps through the
/// same core the host runs, reports each step's loss bits and the counters over semihosting, dumps
/// the trainable tensors, and exits QEMU with 0 (ran) or a nonzero code (refused or faulted).
///
/// Output lines (one per `say` … `boardPrintEnd`), parsed by the host:
///   HS begin plan=… arena=…
///   HS step i=… loss=<bits> scale=<bits> status=… ticks=…
///   HS op i=… ticks=…              (one timed step, op by op)
///   HS counters overflows=… skipped=… underflows=… nonzero=…
///   HS diag k=… nonzero=… underflows=… gradmax=<bits> overflows=…   (per update op)
///   HS tensor i=… words=…  then  HS w i=… v=<bits>  per 32-bit word
///   HS stack high=…
///   HS end
@main
struct Firmware {
    static func main() {
        let payload = Payload(base: boardPayload())
        guard payload.valid else {
            say("HS error payload")
            boardPrintEnd()
            boardExit(2)
        }
        if payload.faultOnPurpose { boardFaultOnPurpose() }
        let plan: Plan
        do {
            plan = try Plan(bytes: payload.planBytes)
        } catch {
            say("HS error plan")
            boardPrintEnd()
            boardExit(3)
        }
        let arenaBytes = boardArenaBytes()
        var trainer: Trainer
        do {
            trainer = try Trainer(plan: plan, arena: Arena(base: boardArena(), bytes: arenaBytes))
        } catch {
            say("HS error arena")
            field("needed", UInt32(truncatingIfNeeded: plan.arenaBytes))
            field("available", UInt32(truncatingIfNeeded: arenaBytes))
            boardPrintEnd()
            boardExit(4)
        }
        // Per-tensor diagnostics in a static buffer the board provides (no heap on the device).
        if MemoryLayout<TensorDiagnostics>.stride == 16, let storage = boardDiagnostics(Int32(truncatingIfNeeded: trainer.updateOpCount)) {
            let diagnostics = storage.bindMemory(to: TensorDiagnostics.self, capacity: trainer.updateOpCount)
            diagnostics.initialize(repeating: TensorDiagnostics(), count: trainer.updateOpCount)
            trainer.diagnostics = diagnostics
        }
        // Checkpoints: resume from the newest complete state in flash, if there is one.
        var flash = BoardFlash()
        var first = 0
        if payload.checkpoints {
            if boardFlashOpen(UInt32(truncatingIfNeeded: payload.powerCutAfterWords)) == 0 {
                say("HS error flash")
                boardPrintEnd()
                boardExit(8)
            }
            if trainer.restoreCheckpoint(from: flash, base: 0) {
                first = trainer.counters.steps
                say("HS resumed")
                field("step", UInt32(truncatingIfNeeded: first))
                boardPrintEnd()
            }
        }
        say("HS begin")
        field("plan", UInt32(truncatingIfNeeded: payload.planBytes.count))
        field("arena", UInt32(truncatingIfNeeded: plan.arenaBytes))
        field("steps", UInt32(truncatingIfNeeded: payload.steps))
        boardPrintEnd()

        let batch = payload.batch, features = payload.features
        let input = trainer.input, labels = trainer.labels
        var step = first
        while step < payload.steps {
            defer { step += 1 }
            // `batch` is the step's samples; a micro-batched plan takes them a micro-batch at a time.
            let stepInputs = payload.inputs(step: step), stepLabels = payload.labels(step: step)
            let start = boardTicks()
            let result = trainer.step(rows: batch) { _, first, count in
                input.base.update(from: stepInputs + first * features, count: count * features)
                labels.base.update(from: stepLabels + first, count: count)
            }
            let ticks = start &- boardTicks()   // SysTick counts down
            say("HS step")
            field("i", UInt32(truncatingIfNeeded: step))
            field("loss", result.loss.bitPattern, hex: true)
            field("scale", result.lossScale.bitPattern, hex: true)
            let status: UInt32
            switch result.status {
            case .applied: status = 0
            case .skippedOverflow: status = 1
            case .invalidLabel: status = 2
            }
            field("status", status)
            field("ticks", ticks & 0x00FF_FFFF)
            boardPrintEnd()
            if payload.checkpoints && payload.checkpointEvery > 0
                && ((step + 1) % payload.checkpointEvery == 0 || step + 1 == payload.steps) {
                if !trainer.saveCheckpoint(to: &flash, base: 0) {
                    say("HS error checkpoint")
                    boardPrintEnd()
                    boardExit(9)
                }
            }
        }

        if payload.profileOps && payload.steps > 0 {
            // Time the forward and backward ops one by one on the last batch (the updates are
            // not run, so the weights reported below are those of the training steps).
            var i = 0
            while i < plan.opCount {
                let op = plan.op(i)
                if op.phase == .forward || op.phase == .backward {
                    // The same op on no rows first: what dispatch and setup cost before any MAC,
                    // so the host can tell the kernel's per-MAC cost from the fixed part.
                    let idleStart = boardTicks()
                    trainer.run(op, rows: 0)
                    let idle = idleStart &- boardTicks()
                    let start = boardTicks()
                    trainer.run(op, rows: Int(plan.config.batch))   // one micro-batch: what the tensors hold
                    let ticks = start &- boardTicks()
                    say("HS op")
                    field("i", UInt32(truncatingIfNeeded: i))
                    field("ticks", ticks & 0x00FF_FFFF)
                    field("idle", idle & 0x00FF_FFFF)
                    boardPrintEnd()
                }
                i += 1
            }
        }

        let c = trainer.counters
        say("HS counters")
        field("overflows", UInt32(truncatingIfNeeded: c.overflows))
        field("skipped", UInt32(truncatingIfNeeded: c.skippedSteps))
        field("underflows", UInt32(truncatingIfNeeded: c.updateUnderflows))
        field("nonzero", UInt32(truncatingIfNeeded: c.nonzeroUpdates))
        boardPrintEnd()

        if let diagnostics = trainer.diagnostics {
            var k = 0
            while k < trainer.updateOpCount {
                let d = diagnostics[k]
                say("HS diag")
                field("k", UInt32(truncatingIfNeeded: k))
                field("nonzero", UInt32(truncatingIfNeeded: d.nonzeroUpdates))
                field("underflows", UInt32(truncatingIfNeeded: d.updateUnderflows))
                field("gradmax", d.gradientMaxAbs.bitPattern, hex: true)
                field("overflows", UInt32(truncatingIfNeeded: d.overflowSteps))
                boardPrintEnd()
                k += 1
            }
        }

        var t = 0
        while t < plan.tensorCount {
            let record = plan.tensor(t)
            if record.flags & TensorRecord.trainable != 0 {
                let words = (Int(record.bytes) + 3) / 4
                say("HS tensor")
                field("i", UInt32(truncatingIfNeeded: t))
                field("words", UInt32(truncatingIfNeeded: words))
                boardPrintEnd()
                let base = trainer.address(of: t)
                var w = 0
                while w < words {
                    let value = base.loadUnaligned(fromByteOffset: 4 * w, as: UInt32.self)
                    say("HS w")
                    field("v", value, hex: true)
                    boardPrintEnd()
                    w += 1
                }
            }
            t += 1
        }
        say("HS stack")
        field("high", boardStackHighWater())
        boardPrintEnd()
        say("HS end")
        boardPrintEnd()
        boardExit(0)
    }
}
