import HalfStepPlanner

struct InspectCommand: Command {
    let help = """
    usage: halfstep inspect PLAN.hsplan [--json]

    Shows what is in a plan: the tensors (name, shape, dtype, region, offset, bytes, lifetime), the
    step program (forward, loss, backward, update), the training configuration, and memory totals by
    category for SRAM and flash, with the liveness lower bound and the same plan's fp32 cost.
    The plan is verified by the core first, exactly as the device would.

      --json    the same as one JSON object
    """

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "inspect", valued: [], flags: ["--json"])
        let path = try a.positionals(1, "the plan file (PLAN.hsplan)", verb: "inspect")[0]
        let loaded = try loadPlan(path)
        let report = PlanReport(loaded)
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
