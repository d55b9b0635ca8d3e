import HalfStepCore

/// Turns the core's work counts into estimated cycles on a Cortex-M core.
///
/// Cycles per unit of work, per core, for the reference kernels (a scalar loop per element, no
/// SIMD). Sources: the Cortex-M4 and Cortex-M7 Technical Reference Manuals' instruction timings
/// (M4 FPU: VFMA/VMLA 3 cycles, VCVTB 1, VLDR/LDRH 2 with pipelining to 1, VSQRT/VDIV 14; M7:
/// dual issue, FMA throughput 1), the Cortex-M33 TRM (FPv5-SP, M4-like timing), and for the
/// Cortex-M0+ (no FPU) the cost of software floating point (RP2040 boot-ROM float routines:
/// roughly 60–70 cycles per add or multiply, ~20 per fp16 conversion). Each op adds a fixed
/// dispatch overhead. These are estimates until the QEMU issue calibrates them against counted
/// instructions; `validate` labels its times as estimates.
public struct CostModel: Sendable, Equatable {
    public var cyclesPerMAC: Double
    public var cyclesPerConversion: Double
    public var cyclesPerLoad: Double
    public var cyclesPerStore: Double
    public var cyclesPerTranscendental: Double
    public var cyclesPerOther: Double
    public var cyclesPerOp: Double

    /// The model for `core`.
    public static func forCore(_ core: TargetProfile.Core) -> CostModel {
        switch core {
        case .cortexM0Plus:
            return CostModel(cyclesPerMAC: 130, cyclesPerConversion: 20, cyclesPerLoad: 2, cyclesPerStore: 2,
                             cyclesPerTranscendental: 900, cyclesPerOther: 60, cyclesPerOp: 200)
        case .cortexM4F, .cortexM33:
            return CostModel(cyclesPerMAC: 3, cyclesPerConversion: 2, cyclesPerLoad: 1.5, cyclesPerStore: 1,
                             cyclesPerTranscendental: 45, cyclesPerOther: 1.5, cyclesPerOp: 100)
        case .cortexM7:
            return CostModel(cyclesPerMAC: 1.5, cyclesPerConversion: 1, cyclesPerLoad: 1, cyclesPerStore: 1,
                             cyclesPerTranscendental: 30, cyclesPerOther: 1, cyclesPerOp: 80)
        case .cortexM55:
            return CostModel(cyclesPerMAC: 1.5, cyclesPerConversion: 1, cyclesPerLoad: 1, cyclesPerStore: 1,
                             cyclesPerTranscendental: 30, cyclesPerOther: 1, cyclesPerOp: 80)
        }
    }

    /// Estimated cycles for `work` spread over `ops` ops.
    public func cycles(_ work: OpWork, ops: Int) -> Double {
        Double(work.macs) * cyclesPerMAC + Double(work.conversions) * cyclesPerConversion
            + Double(work.loads) * cyclesPerLoad + Double(work.stores) * cyclesPerStore
            + Double(work.transcendentals) * cyclesPerTranscendental + Double(work.other) * cyclesPerOther
            + Double(ops) * cyclesPerOp
    }
}

extension Plan {
    /// The work of one full training step (every op, `rows` rows).
    public func stepWork(rows: Int) -> OpWork {
        var total = OpWork()
        var i = 0
        while i < opCount {
            total = total + OpWork.of(op(i), rows: rows, plan: self)
            i += 1
        }
        return total
    }
}
