import Foundation
import HalfStepCore
import HalfStepEmulator
import HalfStepPlanner

struct BenchCommand: Command {
    let help = """
    usage: halfstep bench [--batches 1,8,32,128] [--steps N] [--python PATH] [--no-qemu] [--json]

    Speed and memory of the bundled digits MLP (64-64-32-10) continuation, side by side with PyTorch:
    host training steps/s per batch size and update mode, Dense kernel throughput (MAC/s and the
    fraction of this core's FMA peak), memory (arena vs liveness bound, fp16 plan vs fp32), and
    instructions per MAC on QEMU's Cortex-M4F when qemu-system-arm is installed. Wall-clock figures:
    run on an idle machine.

      --batches LIST   batch sizes (default 1,8,32,128)
      --steps N        timed steps per measurement (default 2000)
      --python PATH    a Python with torch, to time Tools/bench/pytorch_step.py in the same run
                       (default: python3 if it imports torch)
      --no-qemu        skip the QEMU instruction count
      --json           one JSON object
    """

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "bench", valued: ["--batches", "--steps", "--python", "--data"], flags: ["--json", "--no-qemu"])
        _ = try a.positionals(0, "", verb: "bench")
        let steps = try a.int("--steps", in: 10 ... 10_000_000, default: 2000, verb: "bench")
        let batches = try (a.value("--batches") ?? "1,8,32,128").split(separator: ",").map { b throws -> Int in
            guard let v = Int(b), v >= 1, v <= 1200 else { throw UsageError("--batches \(b): expected sizes in 1...1200", verb: "bench") }
            return v
        }
        let dir = a.value("--data") ?? defaultExampleFolder()
        let model = dir + "/mlp.onnx"
        let graph = try importModel(model)
        let json = a.switches.contains("--json")
        func note(_ s: String) { if !json { Terminal.err(s) } }

        // PyTorch, in the same run.
        var torch: [Int: Double] = [:]
        let python = a.value("--python") ?? "python3"
        let script = URL(fileURLWithPath: dir).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("bench/pytorch_step.py").path
        note("timing PyTorch (\(python) \(script))...")
        if let out = try? capture(python, [script, "--batches", batches.map(String.init).joined(separator: ","), "--steps", "\(steps)"]) {
            for line in out.split(separator: "\n") {
                if let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   let b = o["batch"] as? Int, let s = o["steps_per_second"] as? Double { torch[b] = s }
            }
        }
        if torch.isEmpty { note("PyTorch not available (pass --python PATH to a Python with torch); its column stays empty") }

        var rows: [[String]] = []
        var results: [[String: Any]] = []
        for batch in batches {
            for update in [UpdateMode.fp32Master, .fp16] {
                var o = PlanOptions()
                o.batch = batch
                o.optimizer = .sgd
                o.learningRate = 0.05
                o.momentum = 0.9
                o.update = update
                let plan = try makePlan(graph, o, source: model)
                let loaded = try LoadedPlan(bytes: plan.bytes, path: "bench")
                let data = try loadData(inputs: dir + "/shifted-train-x.npy", labels: dir + "/shifted-train-y.npy", session: try makeSession(loaded))
                note("timing batch \(batch), \(update.name)...")
                let sps = try Benchmark.stepsPerSecond(plan: plan.bytes, data: data, steps: steps)
                let ratio = torch[batch].map { sps / $0 }
                rows.append(["\(batch)", update.name, String(format: "%.0f", sps),
                             torch[batch].map { String(format: "%.0f", $0) } ?? "-", ratio.map { String(format: "%.2fx", $0) } ?? "-",
                             "\(plan.memory.arenaBytes)", "\(plan.memory.lowerBoundBytes)", "\(plan.memory.fp32ArenaBytes)"])
                results.append(["batch": batch, "update": update.name, "steps_per_second": sps,
                                "pytorch_steps_per_second": torch[batch] as Any, "ratio_to_pytorch": ratio as Any,
                                "arena_bytes": plan.memory.arenaBytes, "lower_bound_bytes": plan.memory.lowerBoundBytes,
                                "fp32_arena_bytes": plan.memory.fp32ArenaBytes])
            }
        }

        note("timing Dense kernels (64x64, batch 32)...")
        let dense = Benchmark.denseMACsPerSecond(rows: 32, k: 64, m: 64, iterations: max(200, steps))
        let clockMHz = cpuMHz()
        // AVX2 + FMA: two 8-lane FMA units per core, 16 MACs per cycle.
        let peak = clockMHz.map { $0 * 1e6 * 16 }

        var qemu: QEMUValidation? = nil
        if !a.switches.contains("--no-qemu"), (try? capture("/usr/bin/env", ["qemu-system-arm", "--version"])) != nil {
            note("counting instructions on QEMU mps2-an386...")
            var o = PlanOptions()
            o.batch = 32
            o.momentum = 0.9
            o.update = .fp16
            let plan = try makePlan(graph, o, source: model)
            let loaded = try LoadedPlan(bytes: plan.bytes, path: "bench")
            let data = try loadData(inputs: dir + "/shifted-train-x.npy", labels: dir + "/shifted-train-y.npy", session: try makeSession(loaded))
            let profile = try loadProfile("mps2-an386")
            qemu = try? QEMUValidation.run(loaded: loaded, data: data, profile: profile, board: .mps2AN386, reserve: (0, 0), steps: 20,
                                           seed: 0, workDirectory: NSTemporaryDirectory() + "halfstep-bench-\(getpid())")
        }

        if json {
            var object: [String: Any] = ["plans": results, "dense_forward_macs_per_second": dense.forward,
                                         "dense_backward_macs_per_second": dense.backward]
            if let peak { object["fma_peak_macs_per_second"] = peak; object["dense_fraction_of_peak"] = dense.forward / peak }
            if let q = qemu { object["qemu"] = q.json() }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            Terminal.out(String(decoding: data, as: UTF8.self))
            return .success
        }
        var s = "digits MLP 64-64-32-10, SGD momentum 0.9, one thread (steps/s: best of 3 runs of \(steps) steps)\n"
        s += TextTable(["batch", "update", "HalfStep steps/s", "PyTorch steps/s", "ratio", "arena B", "bound B", "fp32 arena B"], rows: rows).render()
        s += String(format: "\n\nDense 64x64, batch 32: forward %.2f GMAC/s, backward %.2f GMAC/s", dense.forward / 1e9, dense.backward / 1e9)
        if let peak, let mhz = clockMHz {
            s += String(format: " (%.1f%% / %.1f%% of the %.0f GMAC/s FMA peak at %.0f MHz)", 100 * dense.forward / peak, 100 * dense.backward / peak, peak / 1e9, mhz)
        }
        if let q = qemu { s += "\n" + q.text() }
        Terminal.out(s)
        return .success
    }
}

/// Runs a command and returns its stdout; throws when it cannot start or fails.
func capture(_ executable: String, _ arguments: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
    p.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw Failure("\(executable) exited with \(p.terminationStatus)") }
    return String(decoding: data, as: UTF8.self)
}

func cpuMHz() -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("cpu MHz") {
        return Double(line.split(separator: ":").last!.trimmingCharacters(in: .whitespaces))
    }
    return nil
}
