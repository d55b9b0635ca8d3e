import Foundation
import HalfStepCore
import HalfStepEmulator
import HalfStepPlanner

/// `validate --qemu`: the same plan on an emulated Cortex-M, compared bit for bit with the host.
struct QEMUValidation {
    var board: QEMURunner.Board
    var device: QEMURunner.Result
    /// Per-step (loss bits, scale bits, status) on the host.
    var hostSteps: [QEMURunner.Step]
    var hostTensors: [Int: [UInt32]]
    /// Per update op on the host: name, nonzero updates, underflows, largest |gradient| bits, overflow steps.
    var hostDiagnostics: [(name: String, diagnostics: TensorDiagnostics)]
    var tensorNames: [Int: String]
    var tensorBytes: [Int: Int]
    var opNames: [Int: String]
    var opMACs: [Int: Int]
    var macsPerStep: Int
    /// The cost model's instruction estimate for one step, for the residual.
    var modelInstructionsPerStep: Double

    /// nil when every step's loss, scale and status and every trainable tensor match bit for bit;
    /// else the first mismatch.
    var mismatch: String? {
        if device.steps.count != hostSteps.count {
            return "the device reported \(device.steps.count) steps, the host ran \(hostSteps.count)"
        }
        for (i, (d, h)) in zip(device.steps, hostSteps).enumerated() {
            if d.loss != h.loss { return "step \(i): loss bits 0x\(hex(d.loss)) on the device, 0x\(hex(h.loss)) on the host" }
            if d.scale != h.scale { return "step \(i): loss scale bits differ" }
            if d.status != h.status { return "step \(i): status \(d.status) on the device, \(h.status) on the host" }
        }
        for (k, host) in hostDiagnostics.enumerated() {
            guard let d = device.diagnostics[k] else { return "diagnostics of \(host.name) missing from the device's report" }
            let h = host.diagnostics
            if d["nonzero"] != UInt32(h.nonzeroUpdates) || d["underflows"] != UInt32(h.updateUnderflows)
                || d["gradmax"] != h.gradientMaxAbs.bitPattern || d["overflows"] != UInt32(h.overflowSteps) {
                return "diagnostics of \(host.name) differ: device \(d), host nonzero=\(h.nonzeroUpdates) underflows=\(h.updateUnderflows) overflows=\(h.overflowSteps)"
            }
        }
        for (t, words) in hostTensors.sorted(by: { $0.key < $1.key }) {
            guard let deviceWords = device.tensors[t] else { return "tensor \(tensorNames[t] ?? "\(t)") missing from the device's report" }
            let bytes = tensorBytes[t] ?? words.count * 4
            for w in 0 ..< (bytes + 3) / 4 {
                let mask: UInt32 = (w * 4 + 4 <= bytes) ? 0xFFFF_FFFF : 0x0000_FFFF
                if w >= deviceWords.count || (deviceWords[w] & mask) != (words[w] & mask) {
                    return "tensor \(tensorNames[t] ?? "\(t)") word \(w) (bytes \(4 * w)...): 0x\(hex(w < deviceWords.count ? deviceWords[w] : 0)) on the device, 0x\(hex(words[w])) on the host"
                }
            }
        }
        return nil
    }

    var instructionsPerStep: Double {
        let ticks = device.steps.map(\.ticks)
        guard !ticks.isEmpty else { return 0 }
        return Double(ticks.reduce(0, +)) / Double(ticks.count) * Double(QEMURunner.Result.instructionsPerTick)
    }

    func hex(_ v: UInt32) -> String { String(format: "%08x", v) }

    /// Runs the plan `steps` steps on the host and on `board`, on the same batches.
    static func run(loaded: LoadedPlan, data: Dataset, profile: TargetProfile, board: QEMURunner.Board, reserve: (sram: Int, flash: Int),
                    steps: Int, seed: UInt64, workDirectory: String) throws -> QEMUValidation {
        let plan = loaded.plan
        let batch = Int(plan.config.batch), features = Int(plan.config.inputFeatures)
        let stepBatch = plan.config.stepBatch
        guard data.count >= stepBatch else { throw Failure("the data has \(data.count) samples, fewer than one batch of \(stepBatch)") }
        var sampler = EpochSampler(count: data.count, batch: stepBatch, seed: seed)
        var order: [ArraySlice<Int>] = []
        var inputs: [Float16] = [], labels: [Int32] = []
        for _ in 0 ..< steps {
            let indices = sampler.next()
            order.append(indices)
            for s in indices {
                inputs += data.inputs[(s * features) ..< (s * features + features)]
                labels.append(data.labels[s])
            }
        }
        // Host run on exactly these batches.
        let session = try makeSession(loaded)
        var hostSteps: [QEMURunner.Step] = []
        for indices in order {
            let r = session.step(data, samples: indices)
            let status: Int
            switch r.status { case .applied: status = 0; case .skippedOverflow: status = 1; case .invalidLabel: status = 2 }
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
        let payload = FirmwarePayload(plan: [UInt8](plan.bytes), inputs: inputs, labels: labels, steps: steps, batch: stepBatch,
                                      features: features, profileOps: true)
        let device: QEMURunner.Result
        do {
            device = try QEMURunner.run(payload: payload, arenaBytes: plan.arenaBytes, profile: profile, board: board, reserve: reserve,
                                        workDirectory: workDirectory)
        } catch {
            throw Failure(error.description)
        }
        var opNames: [Int: String] = [:], opMACs: [Int: Int] = [:]
        for i in 0 ..< plan.opCount {
            let op = plan.op(i)
            opNames[i] = op.opcode.map { "\($0)" } ?? "?"
            opMACs[i] = OpWork.of(op, rows: batch).macs   // the firmware times each op once, on one micro-batch
        }
        return QEMUValidation(board: board, device: device, hostSteps: hostSteps, hostTensors: hostTensors,
                              hostDiagnostics: hostDiagnostics, tensorNames: names,
                              tensorBytes: bytes, opNames: opNames, opMACs: opMACs, macsPerStep: plan.stepWork(rows: batch).macs,
                              modelInstructionsPerStep: CostModel.forCore(profile.core).instructions(plan.stepWork(rows: batch), ops: plan.opCount))
    }

    var passed: Bool { device.exitStatus == 0 && device.fault == nil && mismatch == nil }

    func text() -> String {
        var s = "\nQEMU \(board.rawValue) (\(board == .mps2AN386 ? "Cortex-M4F" : "Cortex-M7"), Embedded Swift firmware, -icount shift=0)\n"
        if let fault = device.fault {
            s += "  the device stopped: \(fault) (exit status \(device.exitStatus))\n"
            return s
        }
        let f = device.footprint
        s += "  firmware: text \(f["text"] ?? 0) B, rodata \(f["rodata"] ?? 0) B, data \(f["data"] ?? 0) B, bss \(f["bss"] ?? 0) B, arena \(f["arena"] ?? 0) B, stack \(f["stack"] ?? 0) B (high-water \(device.stackHighWater) B), payload \(f["payload"] ?? 0) B\n"
        let perStep = instructionsPerStep
        s += "  instructions: \(Int(perStep)) per training step, \(String(format: "%.2f", perStep / Double(max(macsPerStep, 1)))) per MAC (\(macsPerStep) MACs per step)\n"
        s += "  cost model: \(Int(modelInstructionsPerStep)) instructions per step estimated, residual \(String(format: "%+.1f%%", (modelInstructionsPerStep / max(perStep, 1) - 1) * 100)) against QEMU\n"
        var rows: [[String]] = []
        for (i, ticks) in device.opTicks.sorted(by: { $0.key < $1.key }) {
            let instructions = ticks * QEMURunner.Result.instructionsPerTick
            let fixed = device.opIdleTicks[i].map { $0 * QEMURunner.Result.instructionsPerTick }
            let macs = opMACs[i] ?? 0
            rows.append(["\(i)", opNames[i] ?? "", "\(instructions)", fixed.map { "\($0)" } ?? "-", "\(macs)",
                         macs > 0 ? String(format: "%.2f", Double(instructions) / Double(macs)) : "-",
                         macs > 0 && fixed != nil ? String(format: "%.2f", Double(instructions - fixed!) / Double(macs)) : "-"])
        }
        s += TextTable(["op", "kernel", "instructions", "fixed", "MACs", "per MAC", "kernel per MAC"], rows: rows).render().split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        s += "  (fixed: the same op on zero rows, i.e. dispatch and setup; kernel per MAC leaves it out)\n"
        if let m = mismatch {
            s += "  weights DIFFER from the host run: first mismatch \(m)\n"
        } else {
            s += "  weights match the host run bit for bit (\(hostTensors.count) trainable tensors; loss, loss scale and status of all \(hostSteps.count) steps identical; \(hostSteps.filter { $0.status == 1 }.count) overflow steps)\n"
            s += "  device diagnostics (identical to the host's):\n"
            s += TextTable(["tensor", "nonzero updates", "underflowed", "max |grad|", "overflow steps"], rows: hostDiagnostics.map {
                [$0.name, "\($0.diagnostics.nonzeroUpdates)", "\($0.diagnostics.updateUnderflows)", String(format: "%.3g", $0.diagnostics.gradientMaxAbs), "\($0.diagnostics.overflowSteps)"]
            }).render().split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n"
        }
        return s
    }

    func json() -> [String: Any] {
        [
            "board": board.rawValue, "exit_status": Int(device.exitStatus), "fault": device.fault as Any,
            "footprint": device.footprint, "stack_high_water_bytes": device.stackHighWater,
            "instructions_per_step": Int(instructionsPerStep), "instructions_per_mac": instructionsPerStep / Double(max(macsPerStep, 1)),
            "op_instructions": Dictionary(uniqueKeysWithValues: device.opTicks.map { ("\($0.key)", $0.value * QEMURunner.Result.instructionsPerTick) }),
            "op_fixed_instructions": Dictionary(uniqueKeysWithValues: device.opIdleTicks.map { ("\($0.key)", $0.value * QEMURunner.Result.instructionsPerTick) }),
            "model_instructions_per_step": Int(modelInstructionsPerStep),
            "bit_exact": mismatch == nil, "first_mismatch": mismatch as Any,
            "device_losses": device.steps.map { Double(Float(bitPattern: $0.loss)) },
        ]
    }
}
