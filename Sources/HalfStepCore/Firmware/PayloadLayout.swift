/// The layout of the payload a host packs into flash beside our QEMU firmware: the plan and a
/// stream of batches. The host writer (`FirmwarePayload`) and the firmware's reader both use
/// these constants, so the two cannot drift apart.
///
/// ```
/// offset  size  field (little-endian)
///      0     4  magic "HSPY"
///      4     4  version (1)
///      8     4  plan offset (16-byte aligned)   12  4  plan bytes
///     16     4  steps                           20  4  batch rows per step
///     24     4  features per sample             28  4  inputs offset (fp16 [steps][batch][features])
///     32     4  labels offset (int32 [steps][batch]; with `regressionTargets`, fp16 [steps][batch][outputs])
///     36     4  flags (`profileOps`, `faultOnPurpose`, `checkpoints`)
///     40     4  checkpoint every N steps       44  4  cut power after this many flash words (0: never)
///     48     …  the plan, then inputs and labels, each 16-byte aligned
/// ```
public enum PayloadLayout {
    /// `"HSPY"` read as a little-endian UInt32.
    public static let magic: UInt32 = 0x5950_5348
    public static let version: UInt32 = 1
    /// Header size in bytes: where the plan starts.
    public static let headerBytes = 48
    // Field offsets, bytes.
    public static let magicOffset = 0
    public static let versionOffset = 4
    public static let planOffset = 8
    public static let planBytes = 12
    public static let steps = 16
    public static let batch = 20
    public static let features = 24
    public static let inputsOffset = 28
    public static let labelsOffset = 32
    public static let flags = 36
    public static let checkpointEvery = 40
    public static let powerCutAfterWords = 44
    /// Flag: time every forward/backward op once after the steps.
    public static let profileOps: UInt32 = 1 << 0
    /// Flag: fault on purpose before starting (tests the fault report).
    public static let faultOnPurpose: UInt32 = 1 << 1
    /// Flag: checkpoint to flash and resume from it.
    public static let checkpoints: UInt32 = 1 << 2
    /// Flag: the labels section holds fp16 targets (a regression plan), the plan's outputs per sample.
    public static let regressionTargets: UInt32 = 1 << 3
}
