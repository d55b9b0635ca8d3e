import Foundation
import HalfStepCore

/// `halfstep train` as a library call: steps over shuffled epochs, progress, evaluation, summary.
public enum TrainingLoop {
    public struct Settings: Sendable {
        public var steps: Int
        /// Seed of the data order (independent of the plan's seed).
        public var shuffleSeed: UInt64
        /// Evaluate on the eval set every this many steps (0: only before and after).
        public var evalEvery: Int
        /// Power-loss-safe state file and how often (steps) to write it; the run resumes from it.
        public var checkpoint: (path: String, every: Int)?
        public init(steps: Int, shuffleSeed: UInt64 = 0, evalEvery: Int = 0, checkpoint: (path: String, every: Int)? = nil) {
            self.steps = steps
            self.shuffleSeed = shuffleSeed
            self.evalEvery = evalEvery
            self.checkpoint = checkpoint
        }
    }

    /// What the loop reports after each step.
    public struct Progress: Sendable {
        public var step: Int
        public var steps: Int
        public var epoch: Int
        public var result: StepResult
        public var stepsPerSecond: Double
        /// Set on steps where the eval set was evaluated.
        public var evaluation: Evaluation?
    }

    /// The end-of-run summary (`--json` prints it as one object).
    public struct Summary: Sendable {
        public var steps: Int
        public var epochs: Int
        /// Loss of the last applied step.
        public var finalLoss: Double
        /// Mean loss of the last min(50, steps) applied steps.
        public var recentLoss: Double
        public var evalBefore: Evaluation?
        public var evalAfter: Evaluation?
        public var counters: TrainingCounters
        public var finalLossScale: Float
        public var stepsPerSecond: Double
        public var seconds: Double
        /// (step, loss, loss scale, applied) for every step, for reports.
        public var history: [(step: Int, loss: Float, scale: Float, applied: Bool)]
        /// Fraction of nonzero updates that underflowed, per step (0 for skipped steps).
        public var underflowRate: [Double]
        /// (step, eval accuracy) at every `evalEvery` evaluation; the eval loss for a regression plan.
        public var evalHistory: [(step: Int, accuracy: Double)]
        /// Per trainable tensor: name, update mode and what it went through.
        public var tensors: [(name: String, update: String, diagnostics: TensorDiagnostics)]
        /// Numerical reasons the run may be stalling, each naming what would help.
        public var warnings: [String]
        /// The step the run resumed from (0: a fresh start).
        public var resumedFromStep: Int = 0
        /// Applied steps whose gradients were clipped (their norm above the plan's `--clip-grad-norm`).
        public var clippedSteps: Int = 0
        /// The learning rate of the last step (the schedule's; the plan's `--lr` without one).
        public var finalLearningRate: Float = 0
    }

    /// Trains `session` on `train` for `settings.steps` steps.
    /// - Throws: `TrainingError` when the data does not match the plan.
    public static func run(_ session: TrainingSession, train: Dataset, eval: Dataset?, settings: Settings,
                           progress: (Progress) -> Void) throws(TrainingError) -> Summary {
        let batch = session.stepBatch
        try check(train, against: session, role: "training")
        if let eval { try check(eval, against: session, role: "eval") }
        guard train.count >= batch else {
            throw .tooFewSamples(samples: train.count, batch: batch)
        }
        let before = eval.map { session.evaluate($0) }
        var sampler = EpochSampler(count: train.count, batch: batch, seed: settings.shuffleSeed)
        var flash: FileFlash? = nil
        var resumed = 0
        if let checkpoint = settings.checkpoint {
            let slot = Checkpoint.slotBytes(session.loaded.plan, pageBytes: 4096)
            flash = try FileFlash(path: checkpoint.path, bytes: 2 * slot)
            if session.restoreCheckpoint(from: flash!) {
                resumed = session.trainer.counters.steps
                // The data order is a function of the seed: replay it to where the state was saved.
                for _ in 0 ..< resumed { _ = sampler.next() }
            }
        }
        var history: [(step: Int, loss: Float, scale: Float, applied: Bool)] = []
        history.reserveCapacity(settings.steps)
        var underflowRate: [Double] = []
        underflowRate.reserveCapacity(settings.steps)
        var evalHistory: [(step: Int, accuracy: Double)] = []
        var last = session.trainer.counters
        let clip = session.loaded.plan.config.clipGradNorm
        var clipped = 0
        let clock = ContinuousClock()
        let start = clock.now
        var trainingTime: Duration = .zero
        for step in 1 ... max(settings.steps, 1) where settings.steps > 0 && step > resumed {
            let indices = sampler.next()
            let t0 = clock.now
            let result = session.step(train, samples: indices)
            trainingTime += clock.now - t0
            if case .invalidLabel(let row) = result.status {
                throw .invalidLabel(sample: indices[indices.startIndex + row], value: Int(train.labels[indices[indices.startIndex + row]]), classes: session.classes)
            }
            if case .invalidTarget(let row) = result.status {
                throw .invalidTarget(sample: indices[indices.startIndex + row])
            }
            if clip > 0 && result.status == .applied && session.trainer.lastGradientNorm + 1e-6 > clip { clipped += 1 }
            history.append((step, result.loss, result.lossScale, result.status == .applied))
            let now = session.trainer.counters
            let nonzero = now.nonzeroUpdates - last.nonzeroUpdates
            underflowRate.append(nonzero > 0 ? Double(now.updateUnderflows - last.updateUnderflows) / Double(nonzero) : 0)
            last = now
            var evaluation: Evaluation? = nil
            if let flash, let every = settings.checkpoint?.every, every > 0, step % every == 0 || step == settings.steps {
                if !session.saveCheckpoint(to: flash) { throw .checkpoint("could not write \(flash.path)") }
            }
            if let eval, settings.evalEvery > 0, step % settings.evalEvery == 0 {
                evaluation = session.evaluate(eval)
                evalHistory.append((step, session.regression ? evaluation!.loss : evaluation!.accuracy))
            }
            progress(Progress(step: step, steps: settings.steps, epoch: sampler.epoch, result: result,
                              stepsPerSecond: Double(step) / seconds(trainingTime), evaluation: evaluation))
        }
        let wall = seconds(clock.now - start)
        let after = eval.map { session.evaluate($0) }
        let applied = history.filter(\.applied)
        let recent = applied.suffix(50)
        return Summary(
            steps: settings.steps, epochs: sampler.epoch,
            finalLoss: Double(applied.last?.loss ?? .nan),
            recentLoss: recent.isEmpty ? .nan : recent.reduce(0) { $0 + Double($1.loss) } / Double(recent.count),
            evalBefore: before, evalAfter: after, counters: session.trainer.counters,
            finalLossScale: session.trainer.scaler.scale,
            stepsPerSecond: settings.steps > 0 ? Double(settings.steps) / seconds(trainingTime) : 0,
            seconds: wall, history: history, underflowRate: underflowRate, evalHistory: evalHistory,
            tensors: session.tensorDiagnostics(),
            warnings: diagnose(history: history, underflowRate: underflowRate, tensors: session.tensorDiagnostics(),
                               lossScaleMode: session.loaded.plan.config.lossScaleMode ?? .none),
            resumedFromStep: resumed, clippedSteps: clipped, finalLearningRate: session.trainer.learningRate)
    }

    /// Numerical reasons a run may be stalling, with the option that would help.
    static func diagnose(history: [(step: Int, loss: Float, scale: Float, applied: Bool)], underflowRate: [Double],
                         tensors: [(name: String, update: String, diagnostics: TensorDiagnostics)],
                         lossScaleMode: LossScaleMode) -> [String] {
        var warnings: [String] = []
        let applied = history.filter(\.applied)
        let quarter = max(1, applied.count / 4)
        let early = applied.prefix(quarter).reduce(0.0) { $0 + Double($1.loss) } / Double(quarter)
        let late = applied.suffix(quarter).reduce(0.0) { $0 + Double($1.loss) } / Double(quarter)
        let stalling = applied.count >= 8 && !(late < early * 0.95)
        for t in tensors where t.update == "fp16" && t.diagnostics.nonzeroUpdates > 0 {
            let rate = Double(t.diagnostics.updateUnderflows) / Double(t.diagnostics.nonzeroUpdates)
            if rate > 0.5 && stalling {
                warnings.append(String(format: "the loss is not falling and %.0f%% of the updates to %@ rounded to no change in fp16: --update fp16-stochastic or fp16-kahan (or fp32-master:%@) would keep them", 100 * rate, t.name, t.name))
            }
        }
        let skipped = history.count - applied.count
        if history.count >= 10 && Double(skipped) > 0.2 * Double(history.count) {
            warnings.append("\(skipped) of \(history.count) steps were skipped on inf/NaN gradients: start the loss scale lower (--loss-scale dynamic:1024) or lower the learning rate")
        }
        if applied.isEmpty && !history.isEmpty {
            warnings.append("no step was applied: every step overflowed (loss scale \(history.last!.scale)); the weights are unchanged")
        }
        if lossScaleMode == .none && stalling, let small = tensors.first(where: { $0.diagnostics.gradientMaxAbs > 0 && $0.diagnostics.gradientMaxAbs < 1e-4 }) {
            warnings.append("the loss is not falling and the gradients of \(small.name) stay below 1e-4, where fp16 loses precision: --loss-scale dynamic would help")
        }
        return warnings
    }

    static func check(_ data: Dataset, against session: TrainingSession, role: String) throws(TrainingError) {
        if data.features != session.features {
            throw .featureMismatch(role: role, found: data.features, expected: session.features)
        }
        if session.regression != data.isRegression {
            throw .wrongKindOfData(role: role, regression: session.regression)
        }
        if data.isRegression && data.outputs != session.classes {
            throw .targetMismatch(role: role, found: data.outputs, expected: session.classes)
        }
        if let bad = data.labels.firstIndex(where: { $0 < 0 || Int($0) >= session.classes }) {
            throw .invalidLabel(sample: bad, value: Int(data.labels[bad]), classes: session.classes)
        }
        if let bad = data.targets.firstIndex(where: { !$0.isFinite }) {
            throw .invalidTarget(sample: bad / max(1, data.outputs))
        }
    }

    static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return max(Double(c.seconds) + Double(c.attoseconds) * 1e-18, 1e-9)
    }
}

/// Why a training run could not start or continue.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    case featureMismatch(role: String, found: Int, expected: Int)
    case tooFewSamples(samples: Int, batch: Int)
    case invalidLabel(sample: Int, value: Int, classes: Int)
    case invalidTarget(sample: Int)
    /// Labels given to a regression plan, or targets to a classifier.
    case wrongKindOfData(role: String, regression: Bool)
    case targetMismatch(role: String, found: Int, expected: Int)
    case checkpoint(String)

    public var description: String {
        switch self {
        case .featureMismatch(let role, let found, let expected):
            return "the \(role) inputs have \(found) features per sample; the plan's model takes \(expected)"
        case .tooFewSamples(let samples, let batch):
            return "the training set has \(samples) samples, fewer than one batch of \(batch) (plan with a smaller --batch)"
        case .invalidLabel(let sample, let value, let classes):
            return "label of sample \(sample) is \(value), outside 0..<\(classes)"
        case .invalidTarget(let sample):
            return "a target of sample \(sample) is NaN or infinite"
        case .wrongKindOfData(let role, let regression):
            return regression
                ? "the plan trains a regression loss: the \(role) set needs float targets (--targets), not class labels"
                : "the plan trains cross-entropy: the \(role) set needs class labels (--labels), not targets"
        case .targetMismatch(let role, let found, let expected):
            return "the \(role) targets have \(found) values per sample; the model's output has \(expected)"
        case .checkpoint(let what):
            return "checkpoint: \(what)"
        }
    }
}
