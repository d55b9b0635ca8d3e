import HalfStepCore

/// Packs a plan and a stream of batches into the payload the firmware reads from flash
/// (layout: `PayloadLayout`, which the firmware reads through too).
public struct FirmwarePayload {
    public var plan: [UInt8]
    /// fp16 inputs, `[steps][batch][features]`.
    public var inputs: [Float16]
    /// Class indices, `[steps][batch]`.
    public var labels: [Int32]
    /// fp16 targets of a regression plan, `[steps][batch][outputs]` (then `labels` is empty).
    public var targets: [Float16] = []
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
        typealias L = PayloadLayout
        func align16(_ n: Int) -> Int { (n + 15) / 16 * 16 }
        let planOffset = L.headerBytes
        let inputsOffset = align16(planOffset + plan.count)
        let labelsOffset = align16(inputsOffset + inputs.count * 2)
        var out = [UInt8](repeating: 0, count: labelsOffset + labels.count * 4 + targets.count * 2)
        func put(_ at: Int, _ v: UInt32) { for i in 0 ..< 4 { out[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }
        put(L.magicOffset, L.magic)
        put(L.versionOffset, L.version)
        put(L.planOffset, UInt32(planOffset))
        put(L.planBytes, UInt32(plan.count))
        put(L.steps, UInt32(steps))
        put(L.batch, UInt32(batch))
        put(L.features, UInt32(features))
        put(L.inputsOffset, UInt32(inputsOffset))
        put(L.labelsOffset, UInt32(labelsOffset))
        put(L.flags, (profileOps ? L.profileOps : 0) | (faultOnPurpose ? L.faultOnPurpose : 0) | (checkpointEvery > 0 ? L.checkpoints : 0)
            | (targets.isEmpty ? 0 : L.regressionTargets))
        put(L.checkpointEvery, UInt32(checkpointEvery))
        put(L.powerCutAfterWords, UInt32(powerCutAfterWords))
        out.replaceSubrange(planOffset ..< planOffset + plan.count, with: plan)
        for (i, h) in inputs.enumerated() {
            out[inputsOffset + 2 * i] = UInt8(h.bitPattern & 0xFF)
            out[inputsOffset + 2 * i + 1] = UInt8(h.bitPattern >> 8)
        }
        for (i, l) in labels.enumerated() { put(labelsOffset + 4 * i, UInt32(bitPattern: l)) }
        for (i, h) in targets.enumerated() {
            out[labelsOffset + 2 * i] = UInt8(h.bitPattern & 0xFF)
            out[labelsOffset + 2 * i + 1] = UInt8(h.bitPattern >> 8)
        }
        return out
    }
}
