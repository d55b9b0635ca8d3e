import Foundation
import HalfStepCore
import HalfStepPlanner

/// `halfstep export`: a device's checkpoint back into the source ONNX model.
struct ExportCommand: Command {
    let help = """
    usage: halfstep export PLAN.hsplan --checkpoint REGION.bin -o ADAPTED.onnx [--model MODEL.onnx]

    Turns the training state a device saved (hs_checkpoint_save, `train --checkpoint`) into the adapted
    model: the plan's source ONNX model with every trained tensor replaced by its value in the newest
    complete checkpoint of this plan in REGION.bin. REGION.bin is the checkpoint region's bytes as read
    out of the device's flash (e.g. `st-flash read`, `nrfjprog --readcode`, `picotool save -r`), from
    the region's first byte; any page size.

    options:
      --checkpoint FILE   the checkpoint region's bytes (required)
      -o, --output FILE   where to write the adapted ONNX model (required)
      --model MODEL.onnx  the source model (default: the path recorded in the plan)
    """

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "export", valued: ["--checkpoint", "-o", "--output", "--model"], flags: [])
        let planPath = try a.positionals(1, "PLAN.hsplan", verb: "export")[0]
        guard let regionPath = a.value("--checkpoint") else {
            throw UsageError("--checkpoint REGION.bin is required (the checkpoint region read out of the device's flash)", verb: "export")
        }
        guard let out = a.value("-o") ?? a.value("--output") else { throw UsageError("-o ADAPTED.onnx is required", verb: "export") }
        let loaded = try loadPlan(planPath)
        let session: TrainingSession
        do { session = try TrainingSession(loaded) } catch { throw Failure("\(error)") }
        let found = try restoreDeviceCheckpoint(session, regionPath: regionPath, planPath: planPath)
        try export(session, to: out, model: a.value("--model") ?? loaded.sourcePath)
        let c = session.trainer.counters
        Terminal.out("exported \(out) from \(regionPath): checkpoint sequence \(found.sequence) at byte \(found.offset), " +
                     "step \(c.steps) (\(c.appliedSteps) applied), loss scale \(formatScaleCLI(session.trainer.scaler.scale))")
        return .success
    }
}

/// Where a device checkpoint was found in a region read out of flash.
struct FoundCheckpoint {
    var sequence: UInt32
    /// Byte offset of its slot in the region.
    var offset: Int
    /// The page size that puts the second slot where it was found.
    var pageBytes: Int
}

/// Restores the newest complete checkpoint of `session`'s plan in the region file at `regionPath`.
///
/// The region does not record the device's flash page size, which decides where the second slot
/// starts; every power of two from 4 bytes to 256 KiB is tried and the valid slot with the highest
/// sequence wins (a slot is only valid with the right magic, version, size, plan CRC and state CRC).
func restoreDeviceCheckpoint(_ session: TrainingSession, regionPath: String, planPath: String) throws -> FoundCheckpoint {
    guard let data = FileManager.default.contents(atPath: regionPath) else {
        throw Failure("cannot read \(regionPath)", hint: "pass the checkpoint region's bytes as read out of the device's flash")
    }
    let bytes = [UInt8](data)
    var best: (found: FoundCheckpoint, flash: MemoryFlash)? = nil
    var page = 4
    while page <= 256 * 1024 {
        var flash = MemoryFlash(bytes: 0, pageBytes: page)
        flash.bytes = bytes
        let (slot, sequence) = session.trainer.newestSlot(flash, base: 0)
        if slot >= 0 && (best == nil || sequence > best!.found.sequence) {
            let offset = slot * Checkpoint.slotBytes(session.loaded.plan, pageBytes: page)
            best = (FoundCheckpoint(sequence: sequence, offset: offset, pageBytes: page), flash)
        }
        page *= 2
    }
    guard let best, session.restoreCheckpoint(from: best.flash) else {
        // Say what the region does hold, so a checkpoint of another plan is recognisable as such.
        var others: [String] = []
        var at = 0
        while at + 24 <= bytes.count {
            let word = { (k: Int) in UInt32(bytes[at + k]) | UInt32(bytes[at + k + 1]) << 8 | UInt32(bytes[at + k + 2]) << 16 | UInt32(bytes[at + k + 3]) << 24 }
            if word(0) == Checkpoint.magic { others.append("byte \(at): plan CRC 0x\(String(word(20), radix: 16))") }
            at += 4
        }
        let planCRC = "0x" + String(session.loaded.plan.header.crc, radix: 16)
        throw Failure("\(regionPath) (\(bytes.count) bytes) holds no complete checkpoint of \(planPath) (plan CRC \(planCRC))" +
                      (others.isEmpty ? "" : "; checkpoint headers found at " + others.joined(separator: ", ")),
                      hint: others.isEmpty ? "read the region from its first byte, after hs_checkpoint_save returned 0"
                                           : "export with the plan that saved it: a checkpoint only restores into the plan with its CRC")
    }
    return best.found
}
