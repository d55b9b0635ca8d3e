import HalfStepCore

/// Turns the core's work counts into estimated instructions and cycles on a Cortex-M core.
///
/// Each op is priced by its kernel family (`StepOp.family`): a fixed part (dispatch, views,
/// loop setup), instructions per multiply-accumulate (its operand loads and fp16 conversions
/// included) and per remaining elementwise operation (`OpWork.elementwiseOperations`), plus a
/// price per exp, log or square root. One figure per MAC for every family cannot hold: on QEMU's
/// Cortex-M4F a register-blocked Dense GEMM takes 2.6 instructions per MAC, the blocked 3×3
/// convolutions about 3, a 1×1 convolution about 3.6, and the fused expansion + depthwise op 5.7.
///
/// - The M4F, M7, M33 and M55 rates are fitted to QEMU's per-op instruction counts (`validate --qemu
///   --json`: `op_instructions`, `op_fixed_instructions`, `op_work`) on the digits MLP (batch 32),
///   the digits CNN (batch 8, every layer trained; with and without convolution panels) and the
///   MobileNetV2 `--fit` plan for 256 KiB / 1 MiB on each core's QEMU board (mps2-an386, mps2-an500,
///   mps2-an505, mps3-an547); `Tools/costmodel/measure.sh` counts those
///   plans and refits (`fit.py`), and `validate --qemu` prints the residual against QEMU for any
///   plan. A kernel change moves the rates: QEMUValidationTests fails past ±15%, then refit.
/// - Cycles per instruction are assumptions from the Technical Reference Manuals until a cycle
///   counter is available (QEMU does not emulate DWT.CYCCNT): Cortex-M4F/M33 1.25 (VFMA 3 cycles,
///   loads 2, pipelined), Cortex-M7 0.8 (dual issue), Cortex-M55 0.8.
/// - Cortex-M0+ has no FPU: each fp32 multiply-add is two software float calls (RP2040 boot-ROM
///   routines, roughly 60–70 cycles each) and an fp16 conversion about 20; its rates are set
///   accordingly, not measured.
public struct CostModel: Sendable, Equatable {
    /// What the ops of one kernel family cost, in instructions.
    public struct Rate: Sendable, Equatable {
        /// Instructions per op run, whatever its size (dispatch, views, loop setup).
        public var perOp: Double
        /// Instructions per multiply-accumulate, its operand loads and conversions included.
        public var perMAC: Double
        /// Instructions per elementwise operation beyond the MACs (`OpWork.elementwiseOperations`).
        public var perElementwise: Double

        public init(perOp: Double, perMAC: Double, perElementwise: Double) {
            self.perOp = perOp; self.perMAC = perMAC; self.perElementwise = perElementwise
        }
    }

    /// The rate of each kernel family.
    public var rates: [KernelFamily: Rate]
    /// Instructions per exp, log or square root, in any family.
    public var instructionsPerTranscendental: Double
    /// Assumed cycles per instruction.
    public var cyclesPerInstruction: Double

    /// The rate of `family` (every family has one in the bundled models).
    public func rate(_ family: KernelFamily) -> Rate {
        rates[family] ?? Rate(perOp: 300, perMAC: 3, perElementwise: 4)
    }

    /// Estimated instructions of `ops` runs of `family` doing `work` in all.
    public func instructions(_ family: KernelFamily, _ work: OpWork, ops: Int) -> Double {
        let r = rate(family)
        return Double(ops) * r.perOp + Double(work.macs) * r.perMAC + Double(work.elementwiseOperations) * r.perElementwise
            + Double(work.transcendentals) * instructionsPerTranscendental
    }

    /// Estimated instructions of one training step whose work is `work` (`Plan.familyWork`).
    public func instructions(_ work: [KernelFamily: FamilyWork]) -> Double {
        work.reduce(0) { $0 + instructions($1.key, $1.value.work, ops: $1.value.ops) }
    }

    /// Estimated cycles of one training step whose work is `work`.
    public func cycles(_ work: [KernelFamily: FamilyWork]) -> Double {
        instructions(work) * cyclesPerInstruction
    }

    /// The model for `core`.
    public static func forCore(_ core: TargetProfile.Core) -> CostModel {
        switch core {
        case .cortexM0Plus:
            // Software floating point: every family is MAC- or conversion-bound alike.
            let r = Rate(perOp: 300, perMAC: 150, perElementwise: 25)
            return CostModel(rates: Dictionary(uniqueKeysWithValues: KernelFamily.all.map { ($0, r) }),
                             instructionsPerTranscendental: 900, cyclesPerInstruction: 1.0)
        case .cortexM4F:
            return CostModel(rates: m4fRates, instructionsPerTranscendental: 40, cyclesPerInstruction: 1.25)
        case .cortexM33:
            return CostModel(rates: m33Rates, instructionsPerTranscendental: 40, cyclesPerInstruction: 1.25)
        case .cortexM7:
            return CostModel(rates: m7Rates, instructionsPerTranscendental: 40, cyclesPerInstruction: 0.8)
        case .cortexM55:
            return CostModel(rates: m55Rates, instructionsPerTranscendental: 40, cyclesPerInstruction: 0.8)
        }
    }

    /// Fitted on QEMU's Cortex-M4F (mps2-an386); see the type's documentation.
    static let m4fRates: [KernelFamily: Rate] = [
        .denseForward: Rate(perOp: 840, perMAC: 2.56, perElementwise: 1.45),
        .denseBackward: Rate(perOp: 2720, perMAC: 2.57, perElementwise: 2.00),
        .convolutionForward: Rate(perOp: 1040, perMAC: 3.24, perElementwise: 0.00),
        .convolutionBackward: Rate(perOp: 2160, perMAC: 2.89, perElementwise: 0.00),
        .convolutionPanel: Rate(perOp: 960, perMAC: 2.39, perElementwise: 5.85),
        .pointwiseForward: Rate(perOp: 920, perMAC: 3.62, perElementwise: 0.72),
        .pointwiseBackward: Rate(perOp: 960, perMAC: 3.06, perElementwise: 2.58),
        .depthwiseForward: Rate(perOp: 920, perMAC: 3.75, perElementwise: 0.00),
        .depthwiseBackward: Rate(perOp: 1000, perMAC: 1.91, perElementwise: 12.26),
        .expandDepthwise: Rate(perOp: 1080, perMAC: 5.69, perElementwise: 0.00),
        .pooling: Rate(perOp: 560, perMAC: 0.00, perElementwise: 1.96),
        .elementwise: Rate(perOp: 560, perMAC: 0.00, perElementwise: 1.83),
        .loss: Rate(perOp: 560, perMAC: 0.00, perElementwise: 1.83),
        .update: Rate(perOp: 1120, perMAC: 0.00, perElementwise: 1.48),
    ]

    /// Fitted on QEMU's Cortex-M33 (mps2-an505); see the type's documentation.
    static let m33Rates: [KernelFamily: Rate] = [
        .denseForward: Rate(perOp: 850, perMAC: 2.56, perElementwise: 1.42),
        .denseBackward: Rate(perOp: 2700, perMAC: 2.57, perElementwise: 2.01),
        .convolutionForward: Rate(perOp: 1100, perMAC: 3.24, perElementwise: 0.00),
        .convolutionBackward: Rate(perOp: 2150, perMAC: 2.89, perElementwise: 0.00),
        .convolutionPanel: Rate(perOp: 950, perMAC: 2.39, perElementwise: 5.85),
        .pointwiseForward: Rate(perOp: 900, perMAC: 3.62, perElementwise: 0.73),
        .pointwiseBackward: Rate(perOp: 950, perMAC: 3.06, perElementwise: 2.58),
        .depthwiseForward: Rate(perOp: 900, perMAC: 3.75, perElementwise: 0.00),
        .depthwiseBackward: Rate(perOp: 1000, perMAC: 1.91, perElementwise: 12.26),
        .expandDepthwise: Rate(perOp: 1100, perMAC: 5.58, perElementwise: 0.00),
        .pooling: Rate(perOp: 600, perMAC: 0.00, perElementwise: 1.96),
        .elementwise: Rate(perOp: 550, perMAC: 0.00, perElementwise: 1.83),
        .loss: Rate(perOp: 550, perMAC: 0.00, perElementwise: 1.83),
        .update: Rate(perOp: 1094, perMAC: 0.00, perElementwise: 1.46),
    ]

    /// Fitted on QEMU's Cortex-M55 (mps3-an547), the portable kernels as the compiler vectorises
    /// them with Helium; see the type's documentation.
    static let m55Rates: [KernelFamily: Rate] = [
        .denseForward: Rate(perOp: 688, perMAC: 2.53, perElementwise: 1.24),
        .denseBackward: Rate(perOp: 1969, perMAC: 1.80, perElementwise: 0.00),
        .convolutionForward: Rate(perOp: 813, perMAC: 3.17, perElementwise: 0.00),
        .convolutionBackward: Rate(perOp: 1781, perMAC: 2.57, perElementwise: 0.00),
        .convolutionPanel: Rate(perOp: 688, perMAC: 2.31, perElementwise: 5.14),
        .pointwiseForward: Rate(perOp: 688, perMAC: 3.06, perElementwise: 1.21),
        .pointwiseBackward: Rate(perOp: 719, perMAC: 2.40, perElementwise: 5.19),
        .depthwiseForward: Rate(perOp: 688, perMAC: 3.33, perElementwise: 0.00),
        .depthwiseBackward: Rate(perOp: 750, perMAC: 1.87, perElementwise: 10.89),
        .expandDepthwise: Rate(perOp: 813, perMAC: 4.16, perElementwise: 0.00),
        .pooling: Rate(perOp: 375, perMAC: 0.00, perElementwise: 1.79),
        .elementwise: Rate(perOp: 375, perMAC: 0.00, perElementwise: 1.74),
        .loss: Rate(perOp: 375, perMAC: 0.00, perElementwise: 1.74),
        .update: Rate(perOp: 1100, perMAC: 0.00, perElementwise: 1.42),
    ]

    /// Fitted on QEMU's Cortex-M7 (mps2-an500); see the type's documentation.
    static let m7Rates: [KernelFamily: Rate] = [
        .denseForward: Rate(perOp: 920, perMAC: 2.56, perElementwise: 1.45),
        .denseBackward: Rate(perOp: 2760, perMAC: 2.57, perElementwise: 2.00),
        .convolutionForward: Rate(perOp: 1160, perMAC: 3.24, perElementwise: 0.00),
        .convolutionBackward: Rate(perOp: 2280, perMAC: 2.89, perElementwise: 0.00),
        .convolutionPanel: Rate(perOp: 1000, perMAC: 2.39, perElementwise: 5.85),
        .pointwiseForward: Rate(perOp: 1000, perMAC: 3.62, perElementwise: 0.72),
        .pointwiseBackward: Rate(perOp: 1040, perMAC: 3.06, perElementwise: 2.58),
        .depthwiseForward: Rate(perOp: 1000, perMAC: 3.77, perElementwise: 0.00),
        .depthwiseBackward: Rate(perOp: 1080, perMAC: 1.91, perElementwise: 12.34),
        .expandDepthwise: Rate(perOp: 1160, perMAC: 5.58, perElementwise: 0.00),
        .pooling: Rate(perOp: 640, perMAC: 0.00, perElementwise: 1.96),
        .elementwise: Rate(perOp: 640, perMAC: 0.00, perElementwise: 1.83),
        .loss: Rate(perOp: 640, perMAC: 0.00, perElementwise: 1.83),
        .update: Rate(perOp: 1124, perMAC: 0.00, perElementwise: 1.50),
    ]
}

extension KernelFamily {
    /// Every family (the core's enum is not `CaseIterable`: `allCases` allocates in Embedded Swift).
    public static var all: [KernelFamily] { (0 ... UInt8.max).compactMap(KernelFamily.init(rawValue:)) }
}

/// The work of one family's ops in a step, and how many op runs it spans.
public struct FamilyWork: Sendable, Equatable {
    /// Their work summed.
    public var work = OpWork()
    /// Op runs (an op of the forward, loss or backward phase runs once per micro-batch).
    public var ops = 0

    public init() {}
}

extension Plan {
    /// The work of one full training step: every op on `rows` rows per micro-batch, the forward,
    /// loss and backward ops once per micro-batch, the updates once.
    public func stepWork(rows: Int) -> OpWork {
        familyWork(rows: rows).values.reduce(OpWork()) { $0 + $1.work }
    }

    /// `stepWork(rows:)` by kernel family, with the op runs of each: what `CostModel` prices.
    public func familyWork(rows: Int) -> [KernelFamily: FamilyWork] {
        var byFamily: [KernelFamily: FamilyWork] = [:]
        var i = 0
        while i < opCount {
            let o = op(i)
            if let family = o.family {
                let w = OpWork.of(o, rows: rows)
                let repeats = o.phase == .update ? 1 : Int(config.microBatches)
                var f = byFamily[family] ?? FamilyWork()
                for _ in 0 ..< repeats { f.work = f.work + w }
                f.ops += repeats
                byFamily[family] = f
            }
            i += 1
        }
        return byFamily
    }
}
