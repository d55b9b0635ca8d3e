import Foundation
import HalfStepCore
import HalfStepEmulator
import HalfStepPlanner

struct DemoCommand: Command {
    let help = """
    usage: halfstep demo [digits|sensors] [--data DIR] [--out DIR] [--steps N]

    `halfstep demo` (or `demo digits`), the whole slice on the bundled example: a PyTorch-pretrained digits MLP (64-64-32-10) meets
    rotated, shifted, noisy digits and continues training in fp16 on the host core.
    Plans it for a 64 KiB SRAM / 256 KiB flash budget, shows the plan, trains it with fp32 master
    weights and with pure fp16 updates, exports the adapted model as ONNX, evaluates it, validates
    the plan against the nRF52840's limits, and ends with a summary next to PyTorch's fp32
    continuation.

      --data DIR    the example folder (default: Tools/examples/digits of this checkout)
      --out DIR     where plans and the adapted model go (default: a fresh temporary folder)
      --steps N     training steps per run (default 600)

    `halfstep demo sensors`: the sequence and regression examples. A 1-D CNN on accelerometer
    windows meets sensor gain and offset drift (Tools/examples/sensor-drift), and an autoencoder
    for vibration anomaly scoring meets a drifted machine (Tools/examples/anomaly, MSE loss). Each
    is planned (SRAM against fp32), continued over five data orders and compared with PyTorch's
    fp32 continuation; the autoencoder's anomaly scores are checked as a ROC AUC.
    """

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "demo", valued: ["--data", "--out", "--steps"], flags: [])
        switch a.positional.first {
        case nil, "digits": break
        case "sensors":
            _ = try a.positionals(1, "", verb: "demo")
            if a.value("--data") != nil || a.value("--steps") != nil {
                throw UsageError("demo sensors takes --out only (its recipes are the PyTorch references')", verb: "demo")
            }
            return try SequenceDemo(out: a.value("--out")).run()
        case let other?:
            throw UsageError("unknown demo '\(other)': digits (the default) or sensors", verb: "demo")
        }
        _ = try a.positionals(a.positional.isEmpty ? 0 : 1, "", verb: "demo")
        let steps = try a.int("--steps", in: 1 ... 1_000_000, default: 600, verb: "demo")
        let data = a.value("--data") ?? defaultExampleFolder()
        let model = data + "/mlp.onnx"
        guard FileManager.default.fileExists(atPath: model) else {
            throw Failure("no example model at \(model)", hint: "run from the repository root or pass --data Tools/examples/digits")
        }
        let out = a.value("--out") ?? (NSTemporaryDirectory() + "halfstep-demo-\(getpid())")
        try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let trainX = data + "/shifted-train-x.npy", trainY = data + "/shifted-train-y.npy"
        let testX = data + "/shifted-test-x.npy", testY = data + "/shifted-test-y.npy"

        func banner(_ s: String) { Terminal.out("\n== \(s)") }

        banner("1. plan: \(model), batch 32, all layers train, SGD lr 0.05 momentum 0.9, dynamic loss scaling, budget sram=64KiB,flash=256KiB")
        let graph = try importModel(model)
        var options = PlanOptions()
        options.batch = 32
        options.train = .all
        options.optimizer = .sgd
        options.learningRate = 0.05
        options.momentum = 0.9
        options.lossScale = .dynamic(initial: 65536, growthInterval: 2000)
        options.sramBudget = 64 * 1024
        options.flashBudget = 256 * 1024
        var plans: [(mode: String, path: String)] = []
        for (mode, update) in [("fp32-master", UpdateMode.fp32Master), ("fp16", UpdateMode.fp16)] {
            options.update = update
            let result = try makePlan(graph, options, source: absolutePath(model))
            let path = out + "/mlp-\(mode).hsplan"
            guard FileManager.default.createFile(atPath: path, contents: Data(result.bytes)) else { throw Failure("cannot write \(path)") }
            Terminal.out(PlanSummary(graph: graph, result: result, options: options, output: path).text())
            plans.append((mode, path))
        }

        banner("2. inspect \(plans[0].path)")
        Terminal.out(PlanReport(try loadPlan(plans[0].path)).text())

        banner("3. eval the pretrained model on the shifted test set")
        let before = try evaluate(model, testX, testY)
        Terminal.out("\(model): accuracy \(pct(before.accuracy)), loss \(fmt(before.loss))")

        var rows: [(String, Double, TrainReport)] = []
        for (index, plan) in plans.enumerated() {
            banner("\(4 + 2 * index). train \(plan.path) for \(steps) steps, export, eval")
            let loaded = try loadPlan(plan.path)
            let session = try makeSession(loaded)
            let trainSet = try loadData(inputs: trainX, labels: trainY, session: session)
            let testSet = try loadData(inputs: testX, labels: testY, session: session)
            let summary = try runTraining(session, trainSet, testSet, .init(steps: steps), quiet: false)
            let exported = out + "/adapted-\(plan.mode).onnx"
            try export(session, to: exported, model: model)
            let report = TrainReport(summary, plan: plan.path, exported: exported, loss: .crossEntropy)
            Terminal.out(report.text())
            let after = try evaluate(exported, testX, testY)
            Terminal.out("eval \(exported): accuracy \(pct(after.accuracy)), loss \(fmt(after.loss))")
            // Seed-to-seed spread is larger than the fp16-vs-fp32 difference: compare means over
            // the same five data orders PyTorch's reference used.
            var accuracies = [after.accuracy]
            for seed in 1 ..< 5 {
                let again = try makeSession(loaded)
                let s = try runTraining(again, trainSet, testSet, .init(steps: steps, shuffleSeed: UInt64(seed)), quiet: true)
                accuracies.append(s.evalAfter?.accuracy ?? .nan)
            }
            Terminal.out("data-order seeds 0-4: " + accuracies.map(pct).joined(separator: ", "))
            rows.append((plan.mode, accuracies.reduce(0, +) / Double(accuracies.count), report))
        }

        banner("\(4 + 2 * plans.count). validate \(plans[0].path) on the nrf52840 profile (50 emulated steps)")
        let profile = try loadProfile("nrf52840")
        let loaded = try loadPlan(plans[0].path)
        let trainSet = try loadData(inputs: trainX, labels: trainY, session: try makeSession(loaded))
        let emulated: Emulator.Result
        do {
            emulated = try Emulator.run(planBytes: [UInt8](loaded.plan.bytes), planPath: plans[0].path, stackBytes: profile.stackBytes,
                                        inputs: trainSet.inputs, labels: trainSet.labels, steps: 50, json: false)
        } catch {
            throw Failure(error.description)
        }
        let validation = ValidationReport(plan: plans[0].path, profile: profile, reserve: (0, 0), result: emulated, memory: PlanReport(loaded).memory)
        Terminal.out(validation.text())

        banner("summary")
        func row(_ label: String, _ value: String, _ note: String = "") -> String {
            "  " + label + String(repeating: " ", count: max(1, 48 - label.count)) + value + (note.isEmpty ? "" : "   " + note)
        }
        var lines = ["shifted digits test set (\(before.samples) samples), accuracy:",
                     row("pretrained fp32 model, before continuation", pct(before.accuracy))]
        for (mode, accuracy, report) in rows {
            lines.append(row("HalfStep fp16, \(mode) updates (5 seeds)", pct(accuracy),
                             "seed 0: \(report.overflows) overflow steps skipped, \(pct(report.updateUnderflowRate)) of updates underflowed, \(Int(report.stepsPerSecond)) steps/s"))
        }
        if let reference = pytorchReference(data) {
            lines.append(row("PyTorch fp32, same recipe (5 seeds)", pct(reference), "recorded by Tools/fixtures/make_digits.py"))
        }
        lines.append(validation.verdict)
        lines.append("files in \(out)")
        Terminal.out(lines.joined(separator: "\n"))
        return .success
    }

    func evaluate(_ model: String, _ x: String, _ y: String) throws -> Evaluation {
        let session = try makeSession(try loadForEval(model, batch: 64))
        return session.evaluate(try loadData(inputs: x, labels: y, session: session))
    }

    /// PyTorch's fp32 continuation accuracy, from the fixture script's record when present.
    func pytorchReference(_ data: String) -> Double? {
        for path in [data + "/reference.json", data + "/../../../Tests/Fixtures/digits/reference.json"] {
            guard let d = FileManager.default.contents(atPath: path),
                  let json = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { continue }
            if let v = findNumber(json, keys: ["fp32_continuation_accuracy", "continuation_accuracy_mean", "accuracy_after_mean", "after_mean"]) {
                return v
            }
        }
        return nil
    }
}

func findNumber(_ object: Any, keys: [String]) -> Double? {
    if let dict = object as? [String: Any] {
        for k in keys { if let v = dict[k] as? Double { return v } }
        for (_, v) in dict { if let found = findNumber(v, keys: keys) { return found } }
    }
    return nil
}

/// `Tools/examples/digits` of the checkout this binary was built from, else of the working directory.
func defaultExampleFolder() -> String {
    let fromSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/digits").path
    if FileManager.default.fileExists(atPath: fromSource + "/mlp.onnx") { return fromSource }
    return "Tools/examples/digits"
}
