import Foundation
import HalfStepCore
import HalfStepPlanner

/// `validate --qemu`: the same plan trained for the same steps on the same batches on the host and
/// on an emulated Cortex-M, compared bit for bit, with the device's instruction counts beside the
/// cost model's estimate.
///
/// The host run goes through `TrainingSession` (the core's `Trainer` in a plan-sized arena); the
/// device run through `QEMURunner` (the Embedded Swift firmware under `qemu-system-arm`). Both see
/// identical batches, drawn by `EpochSampler` from the data with the given seed and packed into the
/// firmware's payload in that order. `mismatch` is the first difference, `text()` and `json()` the
/// report (`QEMUValidation+Report.swift`).
public struct QEMUValidation {
    /// The board the plan ran on.
    public var board: QEMURunner.Board
    /// What the firmware reported.
    public var device: QEMURunner.Result
    /// Per step on the host: loss bits, loss-scale bits, status (0 applied, 1 skipped on overflow,
    /// 2 invalid label); `ticks` is 0.
    public var hostSteps: [QEMURunner.Step]
    /// Trainable tensor index → its bytes on the host after the last step, as little-endian 32-bit
    /// words (the last word zero-padded when the tensor's bytes are not a multiple of 4).
    public var hostTensors: [Int: [UInt32]]
    /// Per update op on the host, in program order: the updated tensor's name and its counters
    /// (nonzero updates, underflows, largest |gradient|, overflow steps).
    public var hostDiagnostics: [(name: String, diagnostics: TensorDiagnostics)]
    /// Trainable tensor index → its name in the plan.
    public var tensorNames: [Int: String]
    /// Trainable tensor index → its size, bytes.
    public var tensorBytes: [Int: Int]
    /// Op index → its opcode's name ("?" for an opcode this build does not know).
    public var opNames: [Int: String]
    /// Op index → its multiply-accumulates on one micro-batch (the firmware times each op once, on one).
    public var opMACs: [Int: Int]
    /// Op index → its kernel family and work on one micro-batch, for fitting the cost model.
    public var opWork: [Int: (family: KernelFamily, work: OpWork)]
    /// Multiply-accumulates of one training step.
    public var macsPerStep: Int
    /// The cost model's instruction estimate for one step, for the residual against QEMU.
    public var modelInstructionsPerStep: Double

    /// The first difference between the device's report and the host run (nil: every step's loss,
    /// scale and status, every update op's counters and every trainable tensor match bit for bit).
    public var mismatch: Mismatch? {
        Mismatch.first(device: device, hostSteps: hostSteps, hostTensors: hostTensors, hostDiagnostics: hostDiagnostics,
                       tensorNames: tensorNames, tensorBytes: tensorBytes)
    }

    /// Instructions per training step on the device: the mean of the steps' SysTick ticks times
    /// the board's instructions per tick (0 when no step was reported).
    public var instructionsPerStep: Double {
        let ticks = device.steps.map(\.ticks)
        guard !ticks.isEmpty else { return 0 }
        return Double(ticks.reduce(0, +)) / Double(ticks.count) * device.instructionsPerTick
    }

    /// The firmware exited cleanly, did not fault and matched the host bit for bit.
    public var passed: Bool { device.exitStatus == 0 && device.fault == nil && mismatch == nil }

    /// Trains `loaded` for `steps` steps on the host and on `board`, on the same batches of `data`
    /// (`EpochSampler` order from `seed`), and collects what to compare. The firmware image is sized
    /// to `profile` less `reserve` (bytes) and built in `workDirectory`; `timeoutSeconds` bounds the
    /// QEMU run (`QEMURunner.run`).
    ///
    /// A device that faults, refuses the plan or differs from the host is a result, not an error
    /// (`passed`, `mismatch`); errors are what kept the comparison from happening.
    public static func run(loaded: LoadedPlan, data: Dataset, profile: TargetProfile, board: QEMURunner.Board,
                           reserve: (sram: Int, flash: Int), steps: Int, seed: UInt64, workDirectory: String,
                           timeoutSeconds: Double = 300) throws(QEMUValidationError) -> QEMUValidation {
        let plan = loaded.plan
        let batch = Int(plan.config.batch), features = Int(plan.config.inputFeatures)
        let stepBatch = plan.config.stepBatch
        guard data.count >= stepBatch else { throw .tooFewSamples(samples: data.count, stepBatch: stepBatch) }
        var sampler = EpochSampler(count: data.count, batch: stepBatch, seed: seed)
        var order: [ArraySlice<Int>] = []
        var inputs: [Float16] = [], labels: [Int32] = [], targets: [Float16] = []
        let outputs = data.outputs
        for _ in 0 ..< steps {
            let indices = sampler.next()
            order.append(indices)
            for s in indices {
                inputs += data.inputs[(s * features) ..< (s * features + features)]
                if data.isRegression {
                    targets += data.targets[(s * outputs) ..< (s * outputs + outputs)]
                } else {
                    labels.append(data.labels[s])
                }
            }
        }
        // Host run on exactly these batches.
        let session: TrainingSession
        do { session = try TrainingSession(loaded) } catch { throw .session(error) }
        var hostSteps: [QEMURunner.Step] = []
        for indices in order {
            let r = session.step(data, samples: indices)
            let status: Int
            switch r.status { case .applied: status = 0; case .skippedOverflow: status = 1; case .invalidLabel, .invalidTarget: status = 2 }
            hostSteps.append(.init(loss: r.loss.bitPattern, scale: r.lossScale.bitPattern, status: status, ticks: 0))
        }
        var hostTensors: [Int: [UInt32]] = [:], names: [Int: String] = [:], bytes: [Int: Int] = [:]
        for t in 0 ..< plan.tensorCount where plan.tensor(t).flags & TensorRecord.trainable != 0 {
            let n = Int(plan.tensor(t).bytes)
            let base = session.trainer.address(of: t)
            hostTensors[t] = (0 ..< (n + 3) / 4).map { base.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self) }
            names[t] = loaded.name(of: t)
            bytes[t] = n
        }
        let hostDiagnostics = session.tensorDiagnostics().map { ($0.name, $0.diagnostics) }
        var payload = FirmwarePayload(plan: [UInt8](plan.bytes), inputs: inputs, labels: labels, steps: steps, batch: stepBatch,
                                      features: features, profileOps: true)
        payload.targets = targets
        let device: QEMURunner.Result
        do {
            device = try QEMURunner.run(payload: payload, arenaBytes: plan.arenaBytes, profile: profile, board: board, reserve: reserve,
                                        workDirectory: workDirectory, timeoutSeconds: timeoutSeconds, plan: loaded.path)
        } catch {
            throw .qemu(error)
        }
        var opNames: [Int: String] = [:], opMACs: [Int: Int] = [:], opWork: [Int: (family: KernelFamily, work: OpWork)] = [:]
        for i in 0 ..< plan.opCount {
            let op = plan.op(i)
            opNames[i] = op.opcode.map { "\($0)" } ?? "?"
            let work = OpWork.of(op, rows: batch)   // the firmware times each op once, on one micro-batch
            opMACs[i] = work.macs
            if let family = op.family { opWork[i] = (family, work) }
        }
        return QEMUValidation(board: board, device: device, hostSteps: hostSteps, hostTensors: hostTensors,
                              hostDiagnostics: hostDiagnostics, tensorNames: names,
                              tensorBytes: bytes, opNames: opNames, opMACs: opMACs, opWork: opWork, macsPerStep: plan.stepWork(rows: batch).macs,
                              modelInstructionsPerStep: CostModel.forCore(profile.core).instructions(plan.familyWork(rows: batch)))
    }
}
