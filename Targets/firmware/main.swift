import HalfStepCore

/// Firmware for the emulated Cortex-M boards: a client of HalfStep's C API (halfstep.h), as a
/// user's firmware is. It sets the trainer up with `hs_trainer_init`, runs the packed plan's
/// training steps with `hs_train_step_f16`, checkpoints with `hs_checkpoint_save`/`restore`, reads
/// the counters and the trained tensors with `hs_counters_get`/`hs_parameter_get`, and reports
/// them over semihosting; then exits QEMU with 0 (ran) or a nonzero code (refused or faulted).
/// Only what a test harness needs beyond a user goes to the Swift trainer directly: per-op timing
/// and per-tensor diagnostics.
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
        let planBytes = payload.planBytes
        let arenaBytes = boardArenaBytes()
        let t = boardTrainerStorage()
        let initialised = hs_trainer_init(t, planBytes.baseAddress, planBytes.count, boardArena(), arenaBytes)
        if initialised == CAPIError.arenaTooSmall.rawValue {
            say("HS error arena")
            field("needed", UInt32(truncatingIfNeeded: hs_plan_arena_bytes(planBytes.baseAddress, planBytes.count)))
            field("available", UInt32(truncatingIfNeeded: arenaBytes))
            boardPrintEnd()
            boardExit(4)
        }
        guard initialised == 0, let trainer = CTrainerStorage.trainer(t) else {
            say("HS error plan")
            boardPrintEnd()
            boardExit(3)
        }
        let plan = trainer.pointee.plan
        var info = HSPlanInfo()
        _ = hs_plan_info_get(t, &info)
        guard Int(info.batch) == payload.batch && Int(info.features) == payload.features else {
            say("HS error payload")
            boardPrintEnd()
            boardExit(2)
        }
        // Per-tensor diagnostics in a static buffer the board provides (no heap on the device).
        let updates = trainer.pointee.updateOpCount
        if MemoryLayout<TensorDiagnostics>.stride == 16, let storage = boardDiagnostics(Int32(truncatingIfNeeded: updates)) {
            let diagnostics = storage.bindMemory(to: TensorDiagnostics.self, capacity: updates)
            diagnostics.initialize(repeating: TensorDiagnostics(), count: updates)
            trainer.pointee.diagnostics = diagnostics
        }
        // Checkpoints: resume from the newest complete state in flash, if there is one.
        var first = 0
        var flash = HSFlash(context: nil, pageBytes: 256, regionBytes: 0, erasePage: nil, programWord: nil, readWord: nil)
        if payload.checkpoints {
            if boardFlashOpen(UInt32(truncatingIfNeeded: payload.powerCutAfterWords)) == 0 {
                say("HS error flash")
                boardPrintEnd()
                boardExit(8)
            }
            flash = boardCheckpointFlash()
            if hs_checkpoint_restore(t, &flash) == 0 {
                var counters = HSCounters()
                _ = hs_counters_get(t, &counters)
                first = Int(counters.steps)
                say("HS resumed")
                field("step", counters.steps)
                boardPrintEnd()
            }
        }
        say("HS begin")
        field("plan", UInt32(truncatingIfNeeded: planBytes.count))
        field("arena", info.arenaBytes)
        field("steps", UInt32(truncatingIfNeeded: payload.steps))
        boardPrintEnd()

        var step = first
        while step < payload.steps {
            defer { step += 1 }
            // The packed batches are fp16 already: the step takes them as they are.
            let stepInputs = UnsafeRawPointer(payload.inputs(step: step)).assumingMemoryBound(to: UInt16.self)
            var report = HSStepReport()
            let start = boardTicks()
            let result = payload.regressionTargets
                ? hs_train_step_targets_f16(t, stepInputs, payload.targets(step: step, outputs: Int(info.outputs)), &report)
                : hs_train_step_f16(t, stepInputs, payload.labels(step: step), &report)
            let ticks = start &- boardTicks()   // SysTick counts down
            say("HS step")
            field("i", UInt32(truncatingIfNeeded: step))
            field("loss", report.loss.bitPattern, hex: true)
            field("scale", report.lossScale.bitPattern, hex: true)
            field("status", result == CAPIError.label.rawValue || result == CAPIError.target.rawValue ? 2 : report.applied == 1 ? 0 : 1)
            field("ticks", ticks & 0x00FF_FFFF)
            boardPrintEnd()
            if payload.checkpoints && payload.checkpointEvery > 0
                && ((step + 1) % payload.checkpointEvery == 0 || step + 1 == payload.steps) {
                if hs_checkpoint_save(t, &flash) != 0 {
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
                    trainer.pointee.run(op, rows: 0)
                    let idle = idleStart &- boardTicks()
                    let start = boardTicks()
                    trainer.pointee.run(op, rows: Int(plan.config.batch))   // one micro-batch: what the tensors hold
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

        var counters = HSCounters()
        _ = hs_counters_get(t, &counters)
        say("HS counters")
        field("overflows", counters.overflows)
        field("skipped", counters.skippedSteps)
        field("underflows", counters.updateUnderflows)
        field("nonzero", counters.nonzeroUpdates)
        boardPrintEnd()

        if let diagnostics = trainer.pointee.diagnostics {
            var k = 0
            while k < updates {
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

        // The trained tensors, as a user reads them: hs_parameter_get, one per trainable tensor.
        var k: UInt32 = 0
        while k < info.parameters {
            var parameter = HSParameter()
            if hs_parameter_get(t, k, &parameter) == 0, let data = parameter.data {
                let words = (Int(parameter.bytes) + 3) / 4
                say("HS tensor")
                field("i", parameter.tensor)
                field("words", UInt32(truncatingIfNeeded: words))
                boardPrintEnd()
                var w = 0
                while w < words {
                    say("HS w")
                    field("v", data.loadUnaligned(fromByteOffset: 4 * w, as: UInt32.self), hex: true)
                    boardPrintEnd()
                    w += 1
                }
            }
            k += 1
        }
        say("HS stack")
        field("high", boardStackHighWater())
        boardPrintEnd()
        say("HS end")
        boardPrintEnd()
        boardExit(0)
    }
}
