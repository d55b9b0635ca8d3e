import HalfStepCore

/// Turns the core's work counts into estimated instructions and cycles on a Cortex-M core.
///
/// The model counts instructions, then multiplies by an assumed cycles-per-instruction:
/// - Instructions per unit of work were calibrated on QEMU (`validate --qemu`, `-icount`,
///   digits MLP, batch 32): the register-blocked Dense kernels (4 × 5 forward, 4 × 6 input
///   gradient, 5 × 4 weight gradient) take 2.8–2.9 instructions per MAC on the 64-wide layers and
///   3.1 on the 10-wide classifier, dispatch included; elementwise work (ReLU, update arithmetic)
///   about 3.6 instructions per load, store or operation. The model uses 2.9 per MAC; the
///   residual against QEMU's per-step count is printed by `validate --qemu`.
/// - Cycles per instruction are assumptions from the Technical Reference Manuals until a cycle
///   counter is available (QEMU does not emulate DWT.CYCCNT): Cortex-M4F/M33 1.25 (VFMA 3 cycles,
///   loads 2, pipelined), Cortex-M7 0.8 (dual issue), Cortex-M55 0.8.
/// - Cortex-M0+ has no FPU: each fp32 multiply-add is two software float calls (RP2040 boot-ROM
///   routines, roughly 60–70 cycles each) and an fp16 conversion about 20; the per-MAC figure is
///   set accordingly.
public struct CostModel: Sendable, Equatable {
    /// Instructions per multiply-accumulate, including its operand loads and fp16 conversions.
    public var instructionsPerMAC: Double
    /// Instructions per remaining load, store, conversion or elementwise operation.
    public var instructionsPerElementwise: Double
    /// Instructions per exp, log or square root.
    public var instructionsPerTranscendental: Double
    /// Fixed instructions per op (dispatch, views).
    public var instructionsPerOp: Double
    /// Assumed cycles per instruction.
    public var cyclesPerInstruction: Double

    /// The model for `core`.
    public static func forCore(_ core: TargetProfile.Core) -> CostModel {
        switch core {
        case .cortexM0Plus:
            return CostModel(instructionsPerMAC: 150, instructionsPerElementwise: 25, instructionsPerTranscendental: 900,
                             instructionsPerOp: 300, cyclesPerInstruction: 1.0)
        case .cortexM4F, .cortexM33:
            return CostModel(instructionsPerMAC: 2.9, instructionsPerElementwise: 3.6, instructionsPerTranscendental: 40,
                             instructionsPerOp: 300, cyclesPerInstruction: 1.25)
        case .cortexM7, .cortexM55:
            return CostModel(instructionsPerMAC: 2.9, instructionsPerElementwise: 3.6, instructionsPerTranscendental: 40,
                             instructionsPerOp: 300, cyclesPerInstruction: 0.8)
        }
    }

    /// Estimated instructions for `work` spread over `ops` ops.
    public func instructions(_ work: OpWork, ops: Int) -> Double {
        // MAC-bound work already includes the loads and conversions of its operands.
        let elementwise = max(0, work.loads - 2 * work.macs) + max(0, work.conversions - 2 * work.macs) + work.stores + work.other
        return Double(work.macs) * instructionsPerMAC + Double(elementwise) * instructionsPerElementwise
            + Double(work.transcendentals) * instructionsPerTranscendental + Double(ops) * instructionsPerOp
    }

    /// Estimated cycles for `work` spread over `ops` ops.
    public func cycles(_ work: OpWork, ops: Int) -> Double {
        instructions(work, ops: ops) * cyclesPerInstruction
    }
}

extension Plan {
    /// The work of one full training step: every op on `rows` rows per micro-batch, the forward,
    /// loss and backward ops once per micro-batch, the updates once.
    public func stepWork(rows: Int) -> OpWork {
        var total = OpWork()
        var i = 0
        while i < opCount {
            let o = op(i)
            let w = OpWork.of(o, rows: rows)
            var repeats = o.phase == .update ? 1 : config.microBatches
            while repeats > 0 { total = total + w; repeats -= 1 }
            i += 1
        }
        return total
    }
}
