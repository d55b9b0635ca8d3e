import HalfStepCore

/// The payload the host packs into flash beside the firmware (layout: `PayloadLayout`).
struct Payload {
    let base: UnsafeRawPointer

    func u32(_ offset: Int) -> Int { Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }

    var valid: Bool { u32(PayloadLayout.magicOffset) == Int(PayloadLayout.magic) && u32(PayloadLayout.versionOffset) == Int(PayloadLayout.version) }
    var planBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base + u32(PayloadLayout.planOffset), count: u32(PayloadLayout.planBytes)) }
    var steps: Int { u32(PayloadLayout.steps) }
    var batch: Int { u32(PayloadLayout.batch) }
    var features: Int { u32(PayloadLayout.features) }
    var profileOps: Bool { u32(PayloadLayout.flags) & Int(PayloadLayout.profileOps) != 0 }
    var faultOnPurpose: Bool { u32(PayloadLayout.flags) & Int(PayloadLayout.faultOnPurpose) != 0 }
    var checkpoints: Bool { u32(PayloadLayout.flags) & Int(PayloadLayout.checkpoints) != 0 }
    var regressionTargets: Bool { u32(PayloadLayout.flags) & Int(PayloadLayout.regressionTargets) != 0 }
    var checkpointEvery: Int { u32(PayloadLayout.checkpointEvery) }
    var powerCutAfterWords: Int { u32(PayloadLayout.powerCutAfterWords) }

    func inputs(step: Int) -> UnsafePointer<Float16> {
        (base + u32(PayloadLayout.inputsOffset) + step * batch * features * 2).assumingMemoryBound(to: Float16.self)
    }

    func labels(step: Int) -> UnsafePointer<Int32> {
        (base + u32(PayloadLayout.labelsOffset) + step * batch * 4).assumingMemoryBound(to: Int32.self)
    }

    /// A regression plan's fp16 targets of step `step`, `outputs` per sample.
    func targets(step: Int, outputs: Int) -> UnsafePointer<UInt16> {
        (base + u32(PayloadLayout.labelsOffset) + step * batch * outputs * 2).assumingMemoryBound(to: UInt16.self)
    }
}
