import Foundation
import HalfStepPlanner

extension QEMUValidation {
    /// The report `validate --qemu` prints after the host validation: the firmware's footprint,
    /// instructions per step and per MAC against the cost model, a table of per-op instructions,
    /// and the parity verdict with the device's update diagnostics. Opens with a blank line and
    /// ends with a newline; a device fault replaces everything after the first line.
    public func text() -> String {
        var s = "\nQEMU \(board.rawValue) (\(board.coreTitle), Embedded Swift firmware, -icount shift=0,sleep=off)\n"
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
            let instructions = device.instructions(ticks)
            let fixed = device.opIdleTicks[i].map { device.instructions($0) }
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

    /// The same as `text()` as a JSON object (for `JSONSerialization`): board, exit status, fault,
    /// footprint (bytes by section), stack high-water (bytes), instructions per step and per MAC,
    /// per-op and per-op fixed instructions and per-op kernel family and work (keyed by op index),
    /// the cost model's estimate,
    /// `bit_exact`, `first_mismatch` and the device's per-step losses.
    public func json() -> [String: Any] {
        [
            "board": board.rawValue, "exit_status": Int(device.exitStatus), "fault": device.fault as Any,
            "footprint": device.footprint, "stack_high_water_bytes": device.stackHighWater,
            "instructions_per_step": Int(instructionsPerStep), "instructions_per_mac": instructionsPerStep / Double(max(macsPerStep, 1)),
            "op_instructions": Dictionary(uniqueKeysWithValues: device.opTicks.map { ("\($0.key)", device.instructions($0.value)) }),
            "op_fixed_instructions": Dictionary(uniqueKeysWithValues: device.opIdleTicks.map { ("\($0.key)", device.instructions($0.value)) }),
            "op_work": Dictionary(uniqueKeysWithValues: opWork.map { i, o in
                ("\(i)", ["family": "\(o.family)", "macs": o.work.macs, "elementwise": o.work.elementwiseOperations,
                          "transcendentals": o.work.transcendentals] as [String: Any])
            }),
            "model_instructions_per_step": Int(modelInstructionsPerStep),
            "bit_exact": mismatch == nil, "first_mismatch": mismatch?.description as Any,
            "device_losses": device.steps.map { Double(Float(bitPattern: $0.loss)) },
        ]
    }
}
