import Foundation
import HalfStepEmulator
import HalfStepPlanner

struct TargetsCommand: Command {
    let help = """
    usage: halfstep targets [--json]

    The bundled target profiles (Targets/profiles/*.json) as a table: core, clock, SRAM (regions),
    the region the arena goes in, flash, stack and FPU. `plan --target` and `validate --target`
    take these names, or the path of any profile file.
    """

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "targets", valued: [], flags: ["--json"])
        _ = try a.positionals(0, "", verb: "targets")
        let profiles: [TargetProfile]
        do { profiles = try TargetProfile.bundled() } catch { throw Failure(error.description) }
        if a.switches.contains("--json") {
            let list = profiles.map { p -> [String: Any] in
                ["name": p.name, "core": p.core.rawValue, "clock_hz": p.clockHz, "fpu": p.fpu.rawValue,
                 "sram": p.sram.map { ["name": $0.name, "bytes": $0.bytes] }, "arena_region": p.arenaRegion,
                 "flash_bytes": p.flashBytes, "stack_bytes": p.stackBytes, "source": p.source]
            }
            let data = try JSONSerialization.data(withJSONObject: list, options: [.prettyPrinted, .sortedKeys])
            Terminal.out(String(decoding: data, as: UTF8.self))
            return .success
        }
        var rows: [[String]] = []
        for p in profiles {
            rows.append([p.name, p.core.rawValue, "\(p.clockHz / 1_000_000) MHz", formatBytes(p.totalSRAMBytes),
                         "\(p.arenaRegion) \(formatBytes(p.arenaRegionBytes))", formatBytes(p.flashBytes), formatBytes(p.stackBytes), p.fpu.rawValue])
        }
        Terminal.out(TextTable(["target", "core", "clock", "sram", "arena region", "flash", "stack", "fpu"], rows: rows).render())
        Terminal.out("profiles: \(TargetProfile.bundledDirectory)")
        return .success
    }
}

