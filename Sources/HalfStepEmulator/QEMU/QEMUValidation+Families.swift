import HalfStepCore

extension QEMUValidation {
    /// What the ops of one kernel family cost on the device in one run of each (one micro-batch),
    /// as the firmware timed them.
    public struct FamilyCount: Sendable, Equatable {
        /// Instructions of the family's timed ops, summed.
        public var instructions = 0
        /// The part of `instructions` the same ops take on zero rows (dispatch, views, setup).
        public var fixed = 0
        /// Multiply-accumulates of those ops on one micro-batch.
        public var macs = 0
        /// Their elementwise operations beyond the MACs (`OpWork.elementwiseOperations`).
        public var elementwise = 0
        /// Timed ops of the family.
        public var ops = 0

        public init() {}

        /// Instructions per MAC beyond the fixed part: the kernel's inner-loop cost, which the
        /// convolution targets are stated in (nil for a family without MACs).
        public var kernelInstructionsPerMAC: Double? {
            macs > 0 ? Double(instructions - fixed) / Double(macs) : nil
        }
    }

    /// The device's per-op counts summed by kernel family. The firmware times every forward and
    /// backward op but not the loss and the updates (timing an update would change the weights it
    /// reports), so those families are absent.
    public func familyCounts() -> [KernelFamily: FamilyCount] {
        var counts: [KernelFamily: FamilyCount] = [:]
        for (i, ticks) in device.opTicks {
            guard let (family, work) = opWork[i] else { continue }
            var c = counts[family] ?? FamilyCount()
            c.instructions += device.instructions(ticks)
            c.fixed += device.instructions(device.opIdleTicks[i] ?? 0)
            c.macs += work.macs
            c.elementwise += work.elementwiseOperations
            c.ops += 1
            counts[family] = c
        }
        return counts
    }
}
