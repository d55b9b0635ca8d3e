import Foundation
import HalfStepCore
import HalfStepEmulator
import HalfStepPlanner

struct BenchCommand: Command {
    let help = """
    usage: halfstep bench [--models mlp,cnn,strided,mobilenetv2] [--batches 1,8,32,128] [--steps N] [--python PATH]
                          [--boards mps2-an386,mps2-an500,mps2-an505,mps3-an547] [--no-qemu] [--json]

    Speed of the bundled examples' continuation, side by side with PyTorch (CPU, fp32, one thread):
      mlp          the digits MLP (64-64-32-10): host steps/s per batch size and update mode, Dense kernel
                   throughput (MAC/s and the fraction of this core's FMA peak), memory (arena vs liveness
                   bound, fp16 plan vs fp32)
      cnn          the digits CNN (3x3, depthwise and 1x1 convolutions, BatchNorm, pooling), batch 32,
                   every layer trained: host steps/s
      strided      a small CNN (two 3x3 convolutions, the second strided, and a Linear layer), batch 32,
                   every layer trained: host steps/s
      mobilenetv2  MobileNetV2 0.35 at 96x96, batch 1, every layer trained: host steps/s
    Then, when qemu-system-arm is installed, each model's plan on QEMU's Cortex-M4F (mps2-an386) and
    Cortex-M7 (mps2-an500): instructions per step and per MAC, the cost model's residual, and instructions
    per MAC by kernel family beyond each op's fixed part (the digits MLP at batch 32, the digits CNN at
    batch 8 with every layer trained, the strided CNN likewise, MobileNetV2's `plan --fit --budget
    sram=256KiB,flash=1MiB` plan).
    Last, the cost model's estimated milliseconds per step of those plans on every bundled part profile.
    Wall-clock figures: run on an idle machine. Instruction counts are exact and repeatable.

      --models LIST    which examples (default mlp,cnn,strided,mobilenetv2)
      --batches LIST   the MLP's batch sizes (default 1,8,32,128)
      --steps N        timed MLP steps per measurement (default 2000); the CNNs time N/4, MobileNetV2
                       N/100 (at least 5)
      --python PATH    a Python with torch, to time Tools/bench/pytorch_step.py in the same run
                       (default: python3 if it imports torch)
      --boards LIST    QEMU boards (default mps2-an386,mps2-an500,mps2-an505,mps3-an547)
      --no-qemu        skip the QEMU instruction counts
      --json           one JSON object
    """

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "bench", valued: ["--batches", "--steps", "--python", "--data", "--models", "--boards"],
                              flags: ["--json", "--no-qemu"])
        _ = try a.positionals(0, "", verb: "bench")
        let steps = try a.int("--steps", in: 10 ... 10_000_000, default: 2000, verb: "bench")
        let batches = try (a.value("--batches") ?? "1,8,32,128").split(separator: ",").map { b throws -> Int in
            guard let v = Int(b), v >= 1, v <= 1200 else { throw UsageError("--batches \(b): expected sizes in 1...1200", verb: "bench") }
            return v
        }
        let models = try list(a.value("--models") ?? "mlp,cnn,strided,mobilenetv2", of: BenchModel.allCases.map(\.rawValue), flag: "--models")
            .compactMap(BenchModel.init(rawValue:))
        let boards = try list(a.value("--boards") ?? QEMURunner.Board.allCases.map(\.rawValue).joined(separator: ","), of: QEMURunner.Board.allCases.map(\.rawValue), flag: "--boards")
            .compactMap(QEMURunner.Board.init(rawValue:))
        let examples = URL(fileURLWithPath: a.value("--data") ?? defaultExampleFolder()).deletingLastPathComponent().path
        let json = a.switches.contains("--json")
        let bench = Bench(examples: examples, python: a.value("--python") ?? "python3", quiet: json)

        var object: [String: Any] = [:]
        var text: [String] = []
        if models.contains(.mlp) {
            let (o, t) = try bench.mlp(batches: batches, steps: steps)
            object.merge(o) { $1 }
            text.append(t)
        }
        let plans = try models.map { try bench.plan($0) }
        let convolutional = plans.filter { $0.model != .mlp }
        if !convolutional.isEmpty {
            let (o, t) = try bench.hostSteps(convolutional, steps: steps)
            object["models"] = o
            text.append(t)
        }
        if !a.switches.contains("--no-qemu") && !boards.isEmpty {
            if (try? capture("/usr/bin/env", ["qemu-system-arm", "--version"])) != nil {
                let (o, t) = try bench.qemu(plans, boards: boards)
                object["qemu_runs"] = o
                text.append(t)
            } else {
                bench.note("qemu-system-arm is not installed: no instruction counts (apt-get install qemu-system-arm)")
            }
        }
        let (o, t) = try bench.estimates(plans)
        object["estimates"] = o
        text.append(t)

        if json {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            Terminal.out(String(decoding: data, as: UTF8.self))
        } else {
            Terminal.out(text.joined(separator: "\n\n"))
        }
        return .success
    }

    /// The comma list `value` checked against `allowed`, each at most once.
    func list(_ value: String, of allowed: [String], flag: String) throws -> [String] {
        let items = value.split(separator: ",").map(String.init)
        guard !items.isEmpty, items.allSatisfy(allowed.contains), Set(items).count == items.count else {
            throw UsageError("\(flag) \(value): expected a comma list of \(allowed.joined(separator: ", ")) (each at most once)", verb: "bench")
        }
        return items
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
