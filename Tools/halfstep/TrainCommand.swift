import Foundation
import HalfStepCore
import HalfStepPlanner

struct TrainCommand: Command {
    let help = """
    usage: halfstep train PLAN.hsplan --inputs X.npy (--labels Y.npy | --targets T.npy) --steps N [options]

    Runs a plan on the host through the same core the device runs: batches from epochs of a seeded
    shuffle (the last partial batch of an epoch is dropped), a progress line, and a summary.

    options:
      --inputs X.npy          training inputs, [N, features] (float32/float16; converted to fp16)
      --labels Y.npy          class indices, [N] (int64/int32/uint8): a cross-entropy plan
      --targets T.npy         float targets shaped like the model's output, [N, outputs] (float32/float16): a
                              plan with --loss mse|l1|huber; for an autoencoder, the inputs file itself
      --steps N               training steps (required)
      --eval-inputs X.npy     evaluation inputs (optional; loss, and accuracy for a classifier, before and after)
      --eval-labels Y.npy     evaluation labels
      --eval-targets T.npy    evaluation targets (a regression plan)
      --eval-every N          also evaluate every N steps (default: only before and after)
      --seed N                data-order seed (default 0)
      --export OUT.onnx       write the adapted weights into a copy of the source ONNX model
      --model MODEL.onnx      the source model for --export (default: the path recorded in the plan)
      --checkpoint FILE       keep the training state in FILE (two alternating, checksummed slots, as on a
                              device's flash); run the same command again after a crash or kill and it
                              resumes from the newest complete state
      --checkpoint-every N    steps between checkpoints (default 50; the last step always saves)
      --report RUN.svg        draw loss, eval accuracy, loss scale and update-underflow rate over the steps
      --json                  print the summary as one JSON object on stdout
      --quiet                 no progress line
    """

    func run(_ argv: [String]) throws -> ExitCode {
        let a = try Arguments(argv, verb: "train", valued: [
            "--inputs", "--labels", "--targets", "--eval-targets", "--steps", "--eval-inputs", "--eval-labels", "--eval-every", "--seed", "--export", "--model", "--report", "--checkpoint", "--checkpoint-every",
        ], flags: ["--json", "--quiet"])
        let path = try a.positionals(1, "the plan file (PLAN.hsplan)", verb: "train")[0]
        let steps = try a.int("--steps", in: 0 ... 100_000_000, default: -1, verb: "train")
        if steps < 0 { throw UsageError("--steps N is required", verb: "train") }
        let inputs = try a.required("--inputs", verb: "train")
        if a.value("--labels") == nil && a.value("--targets") == nil {
            throw UsageError("--labels Y.npy (a classifier) or --targets T.npy (a regression plan) is required", verb: "train")
        }
        if a.value("--labels") != nil && a.value("--targets") != nil {
            throw UsageError("give --labels or --targets, not both: the plan's loss takes one of them", verb: "train")
        }
        let evalTruth = a.value("--eval-labels") ?? a.value("--eval-targets")
        if (a.value("--eval-inputs") == nil) != (evalTruth == nil) || (a.value("--eval-labels") != nil && a.value("--eval-targets") != nil) {
            throw UsageError("--eval-inputs goes with one of --eval-labels or --eval-targets", verb: "train")
        }
        let every = try a.int("--checkpoint-every", in: 1 ... Int.max, default: 50, verb: "train")
        if a.value("--checkpoint-every") != nil && a.value("--checkpoint") == nil {
            throw UsageError("--checkpoint-every needs --checkpoint FILE", verb: "train")
        }
        let settings = TrainingLoop.Settings(
            steps: steps, shuffleSeed: UInt64(try a.int("--seed", in: 0 ... Int.max, default: 0, verb: "train")),
            evalEvery: try a.int("--eval-every", in: 0 ... Int.max, default: 0, verb: "train"),
            checkpoint: a.value("--checkpoint").map { ($0, every) })
        installKillHook()

        let loaded = try loadPlan(path)
        if a.value("--export") != nil {
            // A damaged provenance block is reported before training, not after it.
            do { _ = try loaded.provenance() } catch {
                throw Failure("\(error)", hint: "plan the model again to rewrite the plan's provenance")
            }
        }
        let session = try makeSession(loaded)
        let train = try loadData(inputs: inputs, labels: a.value("--labels"), targets: a.value("--targets"), session: session, plan: path)
        let eval = try a.value("--eval-inputs").map { x throws in
            try loadData(inputs: x, labels: a.value("--eval-labels"), targets: a.value("--eval-targets"), session: session, plan: path,
                         labelsFlag: "--eval-labels", targetsFlag: "--eval-targets")
        }
        let json = a.switches.contains("--json"), quiet = a.switches.contains("--quiet")
        let summary = try runTraining(session, train, eval, settings, quiet: quiet)

        var exported: String? = nil
        if let out = a.value("--export") {
            try export(session, to: out, model: a.value("--model") ?? loaded.sourcePath)
            exported = out
        }
        if let svg = a.value("--report") {
            guard FileManager.default.createFile(atPath: svg, contents: Data(RunReport.svg(summary, title: "halfstep train \(path)").utf8)) else {
                throw Failure("cannot write \(svg)")
            }
        }
        let report = TrainReport(summary, plan: path, exported: exported, loss: loaded.plan.config.lossKind ?? .crossEntropy)
        Terminal.out(json ? report.json() : report.text())
        return .success
    }
}

/// Test hook for power-cut tests: with HALFSTEP_KILL_AFTER_CHECKPOINT_WORDS=N the process kills
/// itself with SIGKILL right after the N-th checkpoint word it writes, mid-checkpoint.
func installKillHook() {
    guard let text = ProcessInfo.processInfo.environment["HALFSTEP_KILL_AFTER_CHECKPOINT_WORDS"], let limit = Int(text) else { return }
    nonisolated(unsafe) var written = 0
    FileFlash.afterWrite = {
        written += 1
        if written == limit { kill(getpid(), SIGKILL) }
    }
}

func makeSession(_ loaded: LoadedPlan) throws -> TrainingSession {
    do { return try TrainingSession(loaded) } catch { throw Failure(error.description) }
}

func loadData(inputs: String, labels: String, session: TrainingSession) throws -> Dataset {
    do {
        return try Dataset.load(inputs: inputs, labels: labels, expectedFeatures: session.features, classes: session.classes)
    } catch {
        throw Failure("\(error)")
    }
}

/// Loads `inputs` with the labels or the targets the plan's loss takes, refusing the other kind
/// with what to give instead. `labelsFlag`/`targetsFlag` are the flags' names in this command.
func loadData(inputs: String, labels: String?, targets: String?, session: TrainingSession, plan: String,
              labelsFlag: String = "--labels", targetsFlag: String = "--targets") throws -> Dataset {
    let loss = session.loaded.plan.config.lossKind ?? .crossEntropy
    if session.regression {
        if labels != nil {
            throw Failure("\(plan) trains \(lossName(loss)) against float targets, so \(labelsFlag) (class labels) does not apply",
                          hint: "give \(targetsFlag) T.npy shaped like the model's output, [samples, \(session.classes)] (for an autoencoder, the inputs file itself)")
        }
        guard let targets else {
            throw Failure("\(plan) trains \(lossName(loss)): \(targetsFlag) T.npy is required", hint: "float targets shaped like the model's output, [samples, \(session.classes)]")
        }
        do {
            return try Dataset.load(inputs: inputs, targets: targets, expectedFeatures: session.features, outputs: session.classes)
        } catch {
            throw Failure("\(error)")
        }
    }
    if targets != nil {
        throw Failure("\(plan) trains cross-entropy against class labels, so \(targetsFlag) does not apply",
                      hint: "give \(labelsFlag) Y.npy, or plan the model with --loss mse|l1|huber to train against targets")
    }
    guard let labels else { throw Failure("\(labelsFlag) Y.npy is required (class indices, [samples])") }
    return try loadData(inputs: inputs, labels: labels, session: session)
}

/// The loss's name as `--loss` spells it.
func lossName(_ kind: LossKind) -> String {
    switch kind {
    case .crossEntropy: return "cross-entropy"
    case .mse: return "MSE"
    case .l1: return "L1"
    case .huber: return "Huber"
    }
}

/// Runs the loop with a progress line on stderr.
func runTraining(_ session: TrainingSession, _ data: Dataset, _ eval: Dataset?, _ settings: TrainingLoop.Settings,
           quiet: Bool) throws -> TrainingLoop.Summary {
    let every = Terminal.stderrIsTTY ? max(1, settings.steps / 200) : max(1, settings.steps / 10)
    do {
        return try TrainingLoop.run(session, train: data, eval: eval, settings: settings) { p in
            // Only the lines printed are formatted: formatting allocates, and a line per step made
            // the host loop's heap allocations grow with the step count (~11 a step).
            guard !quiet && (p.step % every == 0 || p.step == p.steps || p.evaluation != nil) else { return }
            var line = "step \(p.step)/\(p.steps)  epoch \(p.epoch)  loss \(fmt(Double(p.result.loss)))  scale \(formatScaleCLI(p.result.lossScale))"
            if p.result.status == .skippedOverflow { line += "  (overflow: step skipped)" }
            line += "  \(Int(p.stepsPerSecond)) steps/s"
            if let e = p.evaluation { line += e.accuracy.isNaN ? "  eval loss \(fmt(e.loss))" : "  eval acc \(pct(e.accuracy))" }
            Terminal.progress(line, final: p.step == p.steps)
        }
    } catch {
        throw Failure(error.description)
    }
}

func formatScaleCLI(_ s: Float) -> String {
    s >= 1 && s == s.rounded() && s < 1e9 ? String(Int(s)) : "\(s)"
}

/// Writes the session's trained parameters into a copy of `model` (through the plan's provenance;
/// plans without one import the model again and match tensors by name).
func export(_ session: TrainingSession, to out: String, model: String) throws {
    do {
        try TrainedExport.write(session, model: model, to: out)
    } catch let error as PlanLoadError {
        throw Failure("exporting to \(out): \(error)", hint: "plan the model again to rewrite the plan's provenance")
    } catch {
        throw Failure("exporting to \(out): \(error)", hint: "pass the model the plan was made from with --model")
    }
}

/// What `train` prints at the end.
struct TrainReport: Codable {
    var plan: String
    var steps: Int
    var epochs: Int
    var finalLoss: Double
    var recentLoss: Double
    var loss: String
    var evalAccuracyBefore: Double?
    var evalAccuracy: Double?
    var evalLossBefore: Double?
    var evalLoss: Double?
    var clippedSteps: Int
    var finalLearningRate: Float
    var overflows: Int
    var skippedSteps: Int
    var updateUnderflows: Int
    var nonzeroUpdates: Int
    var updateUnderflowRate: Double
    var finalLossScale: Float
    var stepsPerSecond: Double
    var seconds: Double
    var exported: String?
    var tensors: [TensorRow]
    var warnings: [String]
    var resumedFromStep: Int

    struct TensorRow: Codable {
        var name: String
        var update: String
        var nonzeroUpdates: Int
        var updateUnderflows: Int
        var underflowFraction: Double
        var gradientMaxAbs: Float
        var overflowSteps: Int
    }

    init(_ s: TrainingLoop.Summary, plan: String, exported: String?, loss: LossKind) {
        self.plan = plan
        self.loss = lossName(loss)
        evalLossBefore = s.evalBefore?.loss
        clippedSteps = s.clippedSteps
        finalLearningRate = s.finalLearningRate
        steps = s.steps
        epochs = s.epochs
        finalLoss = s.finalLoss
        recentLoss = s.recentLoss
        // Accuracy only for a classifier (a regression plan's is NaN).
        evalAccuracyBefore = s.evalBefore.flatMap { $0.accuracy.isNaN ? nil : $0.accuracy }
        evalAccuracy = s.evalAfter.flatMap { $0.accuracy.isNaN ? nil : $0.accuracy }
        evalLoss = s.evalAfter?.loss
        overflows = s.counters.overflows
        skippedSteps = s.counters.skippedSteps
        updateUnderflows = s.counters.updateUnderflows
        nonzeroUpdates = s.counters.nonzeroUpdates
        updateUnderflowRate = s.counters.nonzeroUpdates > 0 ? Double(s.counters.updateUnderflows) / Double(s.counters.nonzeroUpdates) : 0
        finalLossScale = s.finalLossScale
        stepsPerSecond = s.stepsPerSecond
        seconds = s.seconds
        self.exported = exported
        tensors = s.tensors.map { t in
            TensorRow(name: t.name, update: t.update, nonzeroUpdates: t.diagnostics.nonzeroUpdates,
                      updateUnderflows: t.diagnostics.updateUnderflows,
                      underflowFraction: t.diagnostics.nonzeroUpdates > 0 ? Double(t.diagnostics.updateUnderflows) / Double(t.diagnostics.nonzeroUpdates) : 0,
                      gradientMaxAbs: t.diagnostics.gradientMaxAbs, overflowSteps: t.diagnostics.overflowSteps)
        }
        warnings = s.warnings
        resumedFromStep = s.resumedFromStep
    }

    enum CodingKeys: String, CodingKey {
        case plan, loss, steps, epochs, finalLoss, recentLoss, evalAccuracyBefore, evalAccuracy, evalLossBefore, evalLoss, overflows, skippedSteps
        case clippedSteps, finalLearningRate
        case updateUnderflows, nonzeroUpdates, updateUnderflowRate, finalLossScale, stepsPerSecond, seconds, exported
        case tensors, warnings, resumedFromStep
    }

    /// Absent values are written as null, so scripts always find every key.
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(plan, forKey: .plan)
        try c.encode(loss, forKey: .loss)
        try c.encode(evalLossBefore, forKey: .evalLossBefore)
        try c.encode(clippedSteps, forKey: .clippedSteps)
        try c.encode(finalLearningRate, forKey: .finalLearningRate)
        try c.encode(steps, forKey: .steps)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(finalLoss, forKey: .finalLoss)
        try c.encode(recentLoss, forKey: .recentLoss)
        try c.encode(evalAccuracyBefore, forKey: .evalAccuracyBefore)
        try c.encode(evalAccuracy, forKey: .evalAccuracy)
        try c.encode(evalLoss, forKey: .evalLoss)
        try c.encode(overflows, forKey: .overflows)
        try c.encode(skippedSteps, forKey: .skippedSteps)
        try c.encode(updateUnderflows, forKey: .updateUnderflows)
        try c.encode(nonzeroUpdates, forKey: .nonzeroUpdates)
        try c.encode(updateUnderflowRate, forKey: .updateUnderflowRate)
        try c.encode(finalLossScale, forKey: .finalLossScale)
        try c.encode(stepsPerSecond, forKey: .stepsPerSecond)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(exported, forKey: .exported)
        try c.encode(tensors, forKey: .tensors)
        try c.encode(warnings, forKey: .warnings)
        try c.encode(resumedFromStep, forKey: .resumedFromStep)
    }

    func json() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: (try? e.encode(self)) ?? Data(), as: UTF8.self)
    }

    func text() -> String {
        var s = resumedFromStep > 0 ? "resumed from the checkpoint at step \(resumedFromStep)\n" : ""
        s += "trained \(plan): \(steps) steps (\(epochs) epochs) in \(fmt(seconds, 2)) s, \(Int(stepsPerSecond)) steps/s\n"
        s += "  final loss        \(fmt(finalLoss)) (mean of last 50 applied steps \(fmt(recentLoss)))\n"
        if let before = evalAccuracyBefore, let after = evalAccuracy {
            s += "  eval accuracy     \(pct(before)) before -> \(pct(after)) after (eval loss \(fmt(evalLoss ?? .nan)))\n"
        } else if let before = evalLossBefore, let after = evalLoss {
            s += "  eval \(loss) loss \(fmt(before)) before -> \(fmt(after)) after\n"
        }
        if clippedSteps > 0 { s += "  clipped steps     \(clippedSteps) (gradient norm above --clip-grad-norm)\n" }
        s += "  overflows         \(overflows) (skipped steps \(skippedSteps)), final loss scale \(formatScaleCLI(finalLossScale))\n"
        s += "  update underflows \(updateUnderflows) of \(nonzeroUpdates) nonzero updates (\(pct(updateUnderflowRate))) rounded to no change"
        if let exported { s += "\n  exported          \(exported)" }
        s += "\n\nper tensor:\n" + TextTable(["tensor", "update", "nonzero updates", "underflowed", "max |grad|", "overflow steps"], rows: tensors.map {
            [$0.name, $0.update, "\($0.nonzeroUpdates)", pct($0.underflowFraction), String(format: "%.3g", $0.gradientMaxAbs), "\($0.overflowSteps)"]
        }).render()
        for w in warnings { s += "\nwarning: " + w }
        return s
    }
}
