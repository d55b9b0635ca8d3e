import Foundation
import HalfStepPlanner

struct InspectCommand: Command {
    let help = """
    usage: halfstep inspect PLAN.hsplan [--json] [--svg FILE.svg]

    Shows what is in a plan: the tensors (name, shape, dtype, region, offset, bytes, lifetime), the
    step program (forward, loss, backward, update), the training configuration, and memory totals by
    category for SRAM and flash, with the liveness lower bound and the same plan's fp32 cost.
    The plan is verified by the core first, exactly as the device would.

      --json          the same as one JSON object
      --svg FILE.svg  also draw the SRAM arena over one training step: one box per tensor from its
                      offset to offset+bytes and its first to last use, coloured by category, with
                      the arena peak and the liveness lower bound (hover a box for its details)
    """

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "inspect", valued: ["--svg"], flags: ["--json"])
        let path = try a.positionals(1, "the plan file (PLAN.hsplan)", verb: "inspect")[0]
        let loaded = try loadPlan(path)
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
