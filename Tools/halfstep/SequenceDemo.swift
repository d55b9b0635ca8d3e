import Foundation
import HalfStepCore
import HalfStepPlanner

/// `halfstep demo sensors`: a 1-D CNN under sensor drift and an MSE autoencoder for anomaly
/// scoring, each continued over five data orders with the recipe of its PyTorch reference
/// (`reference.json` beside the example, written by its fixture script) and compared with it.
struct SequenceDemo {
    let out: String
    let root: String

    init(out: String?) {
        self.out = out ?? (NSTemporaryDirectory() + "halfstep-demo-sensors-\(getpid())")
        root = URL(fileURLWithPath: defaultExampleFolder()).deletingLastPathComponent().path
    }

    /// A recipe as the reference records it.
    struct Recipe {
        var lr: Float, momentum: Float, batch: Int, steps: Int
        var loss: PlanOptions.Loss = .crossEntropy
        var schedule: PlanOptions.Schedule = .constant
        var warmup = 0
        var clip: Float? = nil
        /// Micro-batches of this many samples (the same summed gradient, a quarter of the activations).
        var microBatch: Int? = nil

        init(_ json: [String: Any]) throws {
            func number(_ k: String) throws -> Double {
                guard let v = json[k] as? Double ?? (json[k] as? Int).map(Double.init) else { throw Failure("reference recipe has no \(k)") }
                return v
            }
            lr = Float(try number("lr"))
            momentum = Float(try number("momentum"))
            batch = Int(try number("batch"))
            steps = Int(try number("steps"))
            if (json["loss"] as? String) == "mse" { loss = .mse }
            if let s = json["lr_schedule"] as? String { schedule = try PlanOptions.parseSchedule(s) }
            warmup = json["warmup"] as? Int ?? 0
            clip = (json["clip_grad_norm"] as? Double).map(Float.init)
        }

        func options() -> PlanOptions {
            var o = PlanOptions()
            o.batch = batch
            o.learningRate = lr
            o.momentum = momentum
            o.loss = loss
            o.schedule = schedule
            o.warmupSteps = warmup
            o.clipGradNorm = clip
            o.microBatch = microBatch
            return o
        }
    }

    func reference(_ example: String) throws -> [String: Any] {
        let path = root + "/\(example)/reference.json"
        guard let d = FileManager.default.contents(atPath: path), let json = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else {
            throw Failure("cannot read \(path)", hint: "run from the repository root")
        }
        return json
    }

    func entry(_ json: [String: Any], _ path: String...) -> Any? {
        var node: Any? = json
        for k in path { node = (node as? [String: Any])?[k] }
        return node
    }

    func banner(_ s: String) { Terminal.out("\n== \(s)") }

    func plan(_ model: String, _ recipe: Recipe, name: String) throws -> (String, LoadedPlan, fp32Arena: Int) {
        let graph = try importModel(model)
        let result = try makePlan(graph, recipe.options(), source: absolutePath(model))
        let path = out + "/\(name).hsplan"
        guard FileManager.default.createFile(atPath: path, contents: Data(result.bytes)) else { throw Failure("cannot write \(path)") }
        Terminal.out(PlanSummary(graph: graph, result: result, options: recipe.options(), output: path).text())
        return (path, try loadPlan(path), result.memory.fp32ArenaBytes)
    }

    func run() throws -> ExitCode {
        try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var lines: [String] = []
        try sensors(&lines)
        try anomaly(&lines)
        banner("summary (means over data orders 0-4; PyTorch fp32 with the same recipe)")
        Terminal.out(lines.joined(separator: "\n") + "\nfiles in \(out)")
        return .success
    }

    func spread(_ v: [Double], _ f: (Double) -> String) -> String {
        "\(f(v.reduce(0, +) / Double(v.count))) (\(f(v.min() ?? .nan)) … \(f(v.max() ?? .nan)))"
    }

    func sensors(_ lines: inout [String]) throws {
        let dir = root + "/sensor-drift", ref = try reference("sensor-drift")
        guard let recipeJSON = entry(ref, "fp32_continuation", "recipe") as? [String: Any] else { throw Failure("\(dir)/reference.json has no fp32_continuation recipe") }
        var recipe = try Recipe(recipeJSON)
        // A batch of 32 windows needs 344 KiB of activations; micro-batches of 8 sum the same
        // gradient in 119 KiB, which a 256 KiB part holds.
        recipe.microBatch = 8
        banner("1. sensor drift: plan \(dir)/model.onnx (1-D CNN, [N, 3, 64] accelerometer windows), SGD lr \(recipe.lr) momentum \(recipe.momentum), batch \(recipe.batch) as micro-batches of 8")
        let (path, loaded, fp32) = try plan(dir + "/model.onnx", recipe, name: "sensor-drift")
        let session = try makeSession(loaded)
        let train = try loadData(inputs: dir + "/drift-train-x.npy", labels: dir + "/drift-train-y.npy", targets: nil, session: session, plan: path)
        let test = try loadData(inputs: dir + "/drift-test-x.npy", labels: dir + "/drift-test-y.npy", targets: nil, session: session, plan: path)
        banner("2. continue \(recipe.steps) steps on \(train.count) drifted windows, data orders 0-4")
        var accuracies: [Double] = []
        var before = Double.nan
        for seed in 0 ..< 5 {
            let s = try runTraining(try makeSession(loaded), train, test, .init(steps: recipe.steps, shuffleSeed: UInt64(seed)), quiet: seed > 0)
            before = s.evalBefore?.accuracy ?? .nan
            accuracies.append(s.evalAfter?.accuracy ?? .nan)
            Terminal.out("order \(seed): drifted test accuracy \(pct(before)) -> \(pct(accuracies.last!))")
        }
        lines.append("sensor drift, 1-D CNN (\(test.count) drifted test windows), accuracy:")
        lines.append(row("pretrained, before continuation", pct(before)))
        lines.append(row("HalfStep fp16, fp32 master weights", spread(accuracies, pct)))
        if let torch = entry(ref, "fp32_continuation", "drift_test_accuracy", "per_seed") as? [Double] {
            lines.append(row("PyTorch fp32", spread(torch, pct)))
        }
        lines.append(row("SRAM (arena) / as fp32", "\(loaded.plan.arenaBytes) B / \(fp32) B"))
    }

    func anomaly(_ lines: inout [String]) throws {
        let dir = root + "/anomaly", ref = try reference("anomaly")
        guard let recipeJSON = entry(ref, "fp32_continuation", "recipe") as? [String: Any] else { throw Failure("\(dir)/reference.json has no fp32_continuation recipe") }
        let recipe = try Recipe(recipeJSON)
        banner("3. anomaly scoring: plan \(dir)/model.onnx (autoencoder, 32 band energies), --loss mse, SGD lr \(recipe.lr) momentum \(recipe.momentum), batch \(recipe.batch)")
        let (path, loaded, fp32) = try plan(dir + "/model.onnx", recipe, name: "anomaly")
        let session = try makeSession(loaded)
        func targets(_ file: String) throws -> Dataset {
            try loadData(inputs: dir + "/" + file, labels: nil, targets: dir + "/" + file, session: session, plan: path)
        }
        let train = try targets("drift-train-x.npy"), normal = try targets("drift-test-x.npy"), faults = try targets("anomaly-test-x.npy")
        let before = session.evaluate(normal, perSampleLoss: true), beforeFaults = session.evaluate(faults, perSampleLoss: true)
        Terminal.out("pretrained on the drifted machine: normal MSE \(fmt(before.loss)), ROC AUC \(fmt(auc(before.perSampleLoss, beforeFaults.perSampleLoss)))")
        banner("4. continue \(recipe.steps) steps on \(train.count) drifted normal samples (targets = inputs), data orders 0-4")
        var mse: [Double] = [], aucs: [Double] = []
        for seed in 0 ..< 5 {
            let s = try makeSession(loaded)
            _ = try runTraining(s, train, nil, .init(steps: recipe.steps, shuffleSeed: UInt64(seed)), quiet: seed > 0)
            let n = s.evaluate(normal, perSampleLoss: true), f = s.evaluate(faults, perSampleLoss: true)
            mse.append(n.loss)
            aucs.append(auc(n.perSampleLoss, f.perSampleLoss))
            Terminal.out("order \(seed): normal MSE \(fmt(before.loss)) -> \(fmt(n.loss)), ROC AUC \(fmt(aucs.last!))")
        }
        lines.append("anomaly autoencoder (\(normal.count) drifted normal, \(faults.count) faulty samples):")
        lines.append(row("pretrained, before continuation", "MSE \(fmt(before.loss)), AUC \(fmt(auc(before.perSampleLoss, beforeFaults.perSampleLoss)))"))
        lines.append(row("HalfStep fp16, fp32 master weights", "MSE \(spread(mse) { fmt($0) }), AUC \(spread(aucs) { fmt($0) })"))
        if let torch = entry(ref, "fp32_continuation", "drift_test_mse", "per_seed") as? [Double],
           let torchAUC = entry(ref, "fp32_continuation", "roc_auc", "per_seed") as? [Double] {
            lines.append(row("PyTorch fp32", "MSE \(spread(torch) { fmt($0) }), AUC \(spread(torchAUC) { fmt($0) })"))
        }
        lines.append(row("SRAM (arena) / as fp32", "\(loaded.plan.arenaBytes) B / \(fp32) B"))
    }

    func row(_ label: String, _ value: String) -> String {
        "  " + label + String(repeating: " ", count: max(1, 40 - label.count)) + value
    }
}

/// ROC AUC of scores where `positive` should score higher than `negative`: the probability that
/// a random positive outranks a random negative, ties counting half (Mann-Whitney U).
func auc(_ negative: [Float], _ positive: [Float]) -> Double {
    guard !negative.isEmpty, !positive.isEmpty else { return .nan }
    let all = (negative.map { ($0, false) } + positive.map { ($0, true) }).sorted { $0.0 < $1.0 }
    var rankSum = 0.0, i = 0
    while i < all.count {
        var j = i
        while j + 1 < all.count && all[j + 1].0 == all[i].0 { j += 1 }
        let rank = Double(i + j) / 2 + 1
        for k in i ... j where all[k].1 { rankSum += rank }
        i = j + 1
    }
    let p = Double(positive.count), n = Double(negative.count)
    return (rankSum - p * (p + 1) / 2) / (p * n)
}
