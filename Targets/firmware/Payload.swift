/// The payload the host packs into flash beside the firmware: the plan and a stream of batches.
///
/// ```
/// offset  size  field (little-endian)
///      0     4  magic "HSPY"
///      4     4  version (1)
///      8     4  plan offset (16-byte aligned)   12  4  plan bytes
///     16     4  steps                           20  4  batch rows per step
///     24     4  features per sample             28  4  inputs offset (fp16 [steps][batch][features])
///     32     4  labels offset (int32 [steps][batch])
///     36     4  flags (bit 0: time every op once after the steps; bit 1: fault on purpose, to
///                test the fault report; bit 2: checkpoint to flash and resume from it)
///     40     4  checkpoint every N steps       44  4  cut power after this many flash words (0: never)
/// ```
struct Payload {
    let base: UnsafeRawPointer

    func u32(_ offset: Int) -> Int { Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }

    var valid: Bool { u32(0) == 0x5950_5348 && u32(4) == 1 }
    var planBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base + u32(8), count: u32(12)) }
    var steps: Int { u32(16) }
    var batch: Int { u32(20) }
    var features: Int { u32(24) }
    var profileOps: Bool { u32(36) & 1 != 0 }
    var faultOnPurpose: Bool { u32(36) & 2 != 0 }
    var checkpoints: Bool { u32(36) & 4 != 0 }
    var checkpointEvery: Int { u32(40) }
    var powerCutAfterWords: Int { u32(44) }

    func inputs(step: Int) -> UnsafePointer<Float16> {
        (base + u32(28) + step * batch * features * 2).assumingMemoryBound(to: Float16.self)
    }

    func labels(step: Int) -> UnsafePointer<Int32> {
        (base + u32(32) + step * batch * 4).assumingMemoryBound(to: Int32.self)
    }
}
