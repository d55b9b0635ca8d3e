/// Packs a plan and a stream of batches into the payload the firmware reads from flash
/// (layout in `Targets/firmware/Payload.swift`).
public struct FirmwarePayload {
    public var plan: [UInt8]
    /// fp16 inputs, `[steps][batch][features]`.
    public var inputs: [Float16]
    /// Class indices, `[steps][batch]`.
    public var labels: [Int32]
    public var steps: Int
    public var batch: Int
    public var features: Int
    /// Also time every forward/backward op once, after the steps.
    public var profileOps: Bool
    /// Make the firmware fault before it starts (tests the fault report).
    public var faultOnPurpose = false
    /// Checkpoint every N steps to the board's flash (`checkpoint.flash` in the work directory) and
    /// resume from it on start (0: no checkpoints).
    public var checkpointEvery = 0
    /// Cut the power (stop the run) after this many flash words (0: never).
    public var powerCutAfterWords = 0

    public init(plan: [UInt8], inputs: [Float16], labels: [Int32], steps: Int, batch: Int, features: Int, profileOps: Bool) {
        self.plan = plan
        self.inputs = inputs
        self.labels = labels
        self.steps = steps
        self.batch = batch
        self.features = features
        self.profileOps = profileOps
    }

    /// The payload bytes.
    public func encode() -> [UInt8] {
        func align16(_ n: Int) -> Int { (n + 15) / 16 * 16 }
        let planOffset = 48
        let inputsOffset = align16(planOffset + plan.count)
        let labelsOffset = align16(inputsOffset + inputs.count * 2)
        var out = [UInt8](repeating: 0, count: labelsOffset + labels.count * 4)
        func put(_ at: Int, _ v: UInt32) { for i in 0 ..< 4 { out[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }
        put(0, 0x5950_5348)
        put(4, 1)
        put(8, UInt32(planOffset))
        put(12, UInt32(plan.count))
        put(16, UInt32(steps))
        put(20, UInt32(batch))
        put(24, UInt32(features))
        put(28, UInt32(inputsOffset))
        put(32, UInt32(labelsOffset))
        put(36, (profileOps ? 1 : 0) | (faultOnPurpose ? 2 : 0) | (checkpointEvery > 0 ? 4 : 0))
        put(40, UInt32(checkpointEvery))
        put(44, UInt32(powerCutAfterWords))
        out.replaceSubrange(planOffset ..< planOffset + plan.count, with: plan)
        for (i, h) in inputs.enumerated() {
            out[inputsOffset + 2 * i] = UInt8(h.bitPattern & 0xFF)
            out[inputsOffset + 2 * i + 1] = UInt8(h.bitPattern >> 8)
        }
        for (i, l) in labels.enumerated() { put(labelsOffset + 4 * i, UInt32(bitPattern: l)) }
        return out
    }
}
