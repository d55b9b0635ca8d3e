import Foundation
import HalfStepPlanner
import HalfStepCore

struct InspectCommand: Command {
    let help = """
    usage: halfstep inspect PLAN.hsplan [--json] [--svg FILE.svg]
           halfstep inspect PLAN.hsplan --checkpoint REGION.bin [--json]

    Shows what is in a plan: the tensors (name, shape, dtype, region, offset, bytes, lifetime), the
    step program (forward, loss, backward, update), the training configuration, and memory totals by
    category for SRAM and flash, with the liveness lower bound and the same plan's fp32 cost.
    The plan is verified by the core first, exactly as the device would.

      --json          the same as one JSON object
      --svg FILE.svg  also draw the SRAM arena over one training step: one box per tensor from its
                      offset to offset+bytes and its first to last use, coloured by category, with
                      the arena peak and the liveness lower bound (hover a box for its details)
      --checkpoint REGION.bin
                      instead, the newest checkpoint of this plan in a checkpoint region read out of a
                      device's flash (or `train --checkpoint`'s file): where it is, the step, the loss
                      scale and the training counters
    """

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "inspect", valued: ["--svg", "--checkpoint"], flags: ["--json"])
        let path = try a.positionals(1, "the plan file (PLAN.hsplan)", verb: "inspect")[0]
        let loaded = try loadPlan(path)
        if let region = a.value("--checkpoint") {
            return try inspectCheckpoint(loaded, planPath: path, regionPath: region, json: a.switches.contains("--json"))
        }
        let report = PlanReport(loaded)
        // The picture is written before the report is printed, so a failed write leaves stdout empty
        // instead of a report followed by an error a script might miss.
        if let svgPath = a.value("--svg") {
            let svg = ArenaSVG.svg(loaded.program(), arenaBytes: loaded.plan.arenaBytes,
                                   title: "arena of " + (path as NSString).lastPathComponent)
            guard FileManager.default.createFile(atPath: svgPath, contents: Data(svg.utf8)) else {
                throw Failure("cannot write \(svgPath)", hint: "check that the directory exists and is writable")
            }
            Terminal.err("wrote \(svgPath)")
        }
        Terminal.out(a.switches.contains("--json") ? report.json() : report.text())
        return .success
    }
}

func loadPlan(_ path: String) throws -> LoadedPlan {
    do {
        return try LoadedPlan(path: path)
    } catch {
        throw Failure(error.description, hint: error.isVersion ? "re-plan the model with this build of halfstep" : nil)
    }
}

extension PlanLoadError {
    var isVersion: Bool {
        if case .invalid(_, .unsupportedVersion) = self { return true }
        return false
    }
}

/// `inspect --checkpoint`: the newest checkpoint of the plan in a region, and what it holds.
func inspectCheckpoint(_ loaded: LoadedPlan, planPath: String, regionPath: String, json: Bool) throws -> ExitCode {
    let session: TrainingSession
    do { session = try TrainingSession(loaded) } catch { throw Failure("\(error)") }
    let found = try restoreDeviceCheckpoint(session, regionPath: regionPath, planPath: planPath)
    let c = session.trainer.counters
    let scale = session.trainer.scaler.scale
    if json {
        let object: [String: Any] = [
            "checkpoint": regionPath, "plan": planPath, "sequence": Int(found.sequence), "offset": found.offset,
            "step": c.steps, "applied_steps": c.appliedSteps, "overflows": c.overflows, "skipped_steps": c.skippedSteps,
            "nonzero_updates": c.nonzeroUpdates, "update_underflows": c.updateUnderflows, "loss_scale": Double(scale),
            "state_bytes": Checkpoint.stateBytes(loaded.plan),
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        Terminal.out(String(decoding: data, as: UTF8.self))
        return .success
    }
    Terminal.out("""
    checkpoint of \(planPath) in \(regionPath)
      slot              byte \(found.offset), sequence \(found.sequence), \(Checkpoint.stateBytes(loaded.plan)) bytes of state
      step              \(c.steps) (\(c.appliedSteps) applied, \(c.skippedSteps) skipped)
      loss scale        \(formatScaleCLI(scale))
      overflows         \(c.overflows)
      nonzero updates   \(c.nonzeroUpdates)
      update underflows \(c.updateUnderflows)
    """)
    return .success
}
