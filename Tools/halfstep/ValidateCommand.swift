import Foundation
import HalfStepCore
import HalfStepEmulator
import HalfStepPlanner

struct ValidateCommand: Command {
    let help = """
    usage: halfstep validate PLAN.hsplan --target NAME|PROFILE.json --inputs X.npy (--labels Y.npy | --targets T.npy) [options]

    Proves on Linux, before anything is flashed, that a plan keeps to a part's limits: it runs the
    plan's training steps through the core with the arena exactly the plan's size between
    inaccessible guard pages, the plan mapped read-only as flash, the training on a thread whose
    stack is the part's stack size (guarded, painted, measured), and every heap allocation counted.
    Prints one table (limit, budget, used, margin, verdict), memory by category, the estimated time
    per step on the part, and a one-line verdict. A crossed limit exits 1; a fault (arena overflow,
    write to flash, stack overflow) is reported as such and exits 3.

    options:
      --target NAME|FILE     a bundled profile (see `halfstep targets`) or a profile file
      --inputs X.npy         inputs for the emulated steps
      --labels Y.npy         labels (a cross-entropy plan)
      --targets T.npy        float targets shaped like the output (a plan with --loss mse|l1|huber)
      --steps N              training steps to run (default 50)
      --reserve R            SRAM/flash kept for the rest of the firmware: sram=SIZE,flash=SIZE (default none)
      --json                 the same report as one JSON object
      --qemu                 also build the Embedded Swift firmware, run the plan on the QEMU board with the
                             part's core (Cortex-M4F mps2-an386, M7 mps2-an500, M33 mps2-an505, M55
                             mps3-an547) with the image sized to the part, and compare the weights with a
                             host run bit for bit
      --seed N               data-order seed of the --qemu batches (default 0)
    """

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "validate", valued: ["--target", "--inputs", "--labels", "--targets", "--steps", "--reserve", "--inject", "--seed"],
                              flags: ["--json", "--qemu"])
        let path = try a.positionals(1, "the plan file (PLAN.hsplan)", verb: "validate")[0]
        let targetName = try a.required("--target", verb: "validate")
        let steps = try a.int("--steps", in: 1 ... 1_000_000, default: 50, verb: "validate")
        let inputs = try a.required("--inputs", verb: "validate")
        if (a.value("--labels") == nil) == (a.value("--targets") == nil) {
            throw UsageError("give one of --labels Y.npy (a classifier) or --targets T.npy (a regression plan)", verb: "validate")
        }
        var injection: Emulator.Injection? = nil
        if let i = a.value("--inject") {
            guard let kind = Emulator.Injection(rawValue: i) else {
                throw UsageError("--inject \(i): expected one of " + Emulator.Injection.allCases.map(\.rawValue).joined(separator: ", "), verb: "validate")
            }
            injection = kind
        }
        let reserve: (sram: Int, flash: Int) = try a.value("--reserve").map { r throws in try parseReserve(r) } ?? (0, 0)
        let json = a.switches.contains("--json")
        let profile = try loadProfile(targetName)
        let loaded = try loadPlan(path)
        let session = try makeSession(loaded)
        let data = try loadData(inputs: inputs, labels: a.value("--labels"), targets: a.value("--targets"), session: session, plan: path)
        guard data.count >= 1 else { throw Failure("\(inputs) holds no samples") }

        let bytes = [UInt8](loaded.plan.bytes)
        let result: Emulator.Result
        do {
            result = try Emulator.run(planBytes: bytes, planPath: path, stackBytes: profile.stackBytes, inputs: data.inputs,
                                      labels: data.labels, targets: data.targets, steps: steps, json: json, injection: injection)
        } catch {
            throw Failure(error.description)
        }
        let report = ValidationReport(plan: path, profile: profile, reserve: reserve, result: result, memory: PlanReport(loaded).memory)
        var qemu: QEMUValidation? = nil
        if a.switches.contains("--qemu") {
            guard let board = QEMURunner.Board.forProfile(profile) else {
                throw Failure("no emulated board for \(profile.name)'s \(profile.core.rawValue) core",
                              hint: "QEMU runs use mps2-an386 for Cortex-M4F, mps2-an500 for Cortex-M7, mps2-an505 for Cortex-M33 and mps3-an547 for Cortex-M55 parts")
            }
            if !json { Terminal.err("building the firmware for \(board.rawValue) and running \(steps) steps under qemu-system-arm...") }
            let seed = UInt64(try a.int("--seed", in: 0 ... Int.max, default: 0, verb: "validate"))
            do {
                qemu = try QEMUValidation.run(loaded: loaded, data: data, profile: profile, board: board, reserve: reserve, steps: steps,
                                              seed: seed, workDirectory: NSTemporaryDirectory() + "halfstep-qemu-\(getpid())")
            } catch {
                throw Failure(error.description)
            }
        }
        if json {
            var object = (try? JSONSerialization.jsonObject(with: Data(report.json().utf8))) as? [String: Any] ?? [:]
            if let qemu { object["qemu"] = qemu.json() }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
            Terminal.out(String(decoding: data, as: UTF8.self))
        } else {
            Terminal.out(report.text() + (qemu?.text() ?? ""))
        }
        return report.passed && (qemu?.passed ?? true) ? .success : .failure
    }
}

func parseReserve(_ text: String) throws -> (sram: Int, flash: Int) {
    do {
        let r = try PlanOptions.parseBudget(text, flag: "--reserve")
        return (r.sram ?? 0, r.flash ?? 0)
    } catch {
        throw Failure(error.description)
    }
}

func loadProfile(_ name: String) throws -> TargetProfile {
    do { return try TargetProfile.resolve(name) } catch { throw Failure(error.description, hint: "`halfstep targets` lists the bundled profiles") }
}

/// The outcome of `validate`: every limit with its budget, use, margin and verdict.
struct ValidationReport {
    struct Limit {
        var name: String
        var budget: Int
        var used: Int
        var unit: String
        var note: String
        var passed: Bool { used <= budget }
    }

    var plan: String
    var profile: TargetProfile
    var limits: [Limit]
    var result: Emulator.Result
    var memory: PlanReport.Memory
    var cycles: Double
    var reserve: (sram: Int, flash: Int)

    init(plan: String, profile: TargetProfile, reserve: (sram: Int, flash: Int), result: Emulator.Result, memory: PlanReport.Memory) {
        self.plan = plan
        self.profile = profile
        self.result = result
        self.memory = memory
        self.reserve = reserve
        let stackNote = profile.stackSharesArenaRegion ? "region \(profile.arenaRegion) also holds the \(profile.stackBytes) B stack" : ""
        let reserveNote = reserve.sram > 0 ? "\(reserve.sram) B reserved" : ""
        limits = [
            Limit(name: "SRAM arena (\(profile.arenaRegion))", budget: profile.sramBudget(reserving: reserve.sram), used: result.arenaBytes, unit: "B",
                  note: [stackNote, reserveNote].filter { !$0.isEmpty }.joined(separator: "; ")),
            Limit(name: "flash (plan)", budget: profile.flashBudget(reserving: reserve.flash), used: result.flashBytes, unit: "B",
                  note: reserve.flash > 0 ? "\(reserve.flash) B reserved" : ""),
            Limit(name: "stack high-water", budget: profile.stackBytes, used: result.stackHighWaterBytes, unit: "B",
                  note: "measured on the host (x86-64 frames); the device figure comes from the QEMU run"),
            Limit(name: "heap allocations", budget: 0, used: result.heapAllocations, unit: "", note: "during \(result.steps) steps"),
            Limit(name: "writes to flash", budget: 0, used: 0, unit: "", note: "the image is mapped read-only: a write would have stopped the run"),
        ]
        cycles = CostModel.forCore(profile.core).cycles(result.familyWork)
    }

    var passed: Bool { limits.allSatisfy(\.passed) }
    var millisecondsPerStep: Double { cycles / Double(profile.clockHz) * 1000 }

    var verdict: String {
        let failed = limits.filter { !$0.passed }
        if failed.isEmpty {
            return "PASS: \(plan) fits \(profile.name): SRAM \(pct(Double(result.arenaBytes) / Double(max(1, limits[0].budget)))) used, ~\(fmt(millisecondsPerStep, 1)) ms per step"
        }
        return "FAIL: \(plan) does not fit \(profile.name): " + failed.map { "\($0.name) needs \($0.used)\($0.unit.isEmpty ? "" : " " + $0.unit), budget \($0.budget) (over by \($0.used - $0.budget))" }.joined(separator: "; ")
    }

    func text() -> String {
        var s = "validate \(plan) on \(profile.name) (\(profile.core.rawValue) at \(profile.clockHz / 1_000_000) MHz, \(profile.fpu.rawValue)), \(result.steps) emulated steps\n\n"
        s += TextTable(["limit", "budget", "used", "margin", "verdict", "note"], rows: limits.map {
            [$0.name, "\($0.budget)", "\($0.used)", "\($0.budget - $0.used)", $0.passed ? "ok" : "OVER", $0.note]
        }).render()
        s += "\n\nmemory by category (bytes; SRAM before arena reuse)\n"
        var rows = memory.byCategory.filter { $0.sramBytes > 0 || $0.flashBytes > 0 }.map { [$0.category, "\($0.sramBytes)", "\($0.flashBytes)"] }
        rows.append(["stack high-water", "\(result.stackHighWaterBytes)", "0"])
        s += TextTable(["category", "sram", "flash"], rows: rows).render()
        s += "\n\narena \(memory.arenaBytes) B (liveness bound \(memory.lowerBoundBytes) B)\n"
        let w = result.stepWork
        s += "time per step (estimate, \(profile.core.rawValue) cost model): ~\(Int(cycles)) cycles = \(fmt(millisecondsPerStep, 2)) ms at \(profile.clockHz / 1_000_000) MHz, \(fmt(1000 / millisecondsPerStep, 1)) steps/s\n"
        s += "  work per step: \(w.macs) MACs, \(w.conversions) fp16<->fp32 conversions, \(w.loads) loads, \(w.stores) stores, \(w.transcendentals) exp/log\n"
        s += "loss: \(fmt(Double(result.firstLoss))) at the first step, \(fmt(Double(result.lastLoss))) at the last (\(result.overflows) overflow steps skipped)\n\n"
        s += verdict
        return s
    }

    func json() -> String {
        let object: [String: Any] = [
            "plan": plan, "target": profile.name, "core": profile.core.rawValue, "clock_hz": profile.clockHz,
            "verdict": passed ? "pass" : "fail", "summary": verdict,
            "limits": limits.map { ["limit": $0.name, "budget": $0.budget, "used": $0.used, "margin": $0.budget - $0.used, "ok": $0.passed, "note": $0.note] as [String: Any] },
            "memory": memory.byCategory.map { ["category": $0.category, "sram_bytes": $0.sramBytes, "flash_bytes": $0.flashBytes] as [String: Any] },
            "arena_bytes": result.arenaBytes, "stack_high_water_bytes": result.stackHighWaterBytes, "heap_allocations": result.heapAllocations,
            "estimated_cycles_per_step": Int(cycles), "estimated_ms_per_step": millisecondsPerStep, "estimated_steps_per_second": 1000 / millisecondsPerStep,
            "work_per_step": ["macs": result.stepWork.macs, "conversions": result.stepWork.conversions, "loads": result.stepWork.loads,
                              "stores": result.stepWork.stores, "transcendentals": result.stepWork.transcendentals, "other": result.stepWork.other],
            "first_loss": Double(result.firstLoss), "last_loss": Double(result.lastLoss), "steps": result.steps, "overflows": result.overflows,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
