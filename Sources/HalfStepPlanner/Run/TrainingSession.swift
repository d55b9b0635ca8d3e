import Foundation
import HalfStepCore

/// Runs a plan on the host through the core: the same `Trainer` the device runs, in an arena of
/// the plan's size followed by the host kernels' working memory (`KernelScratch`: no tensor
/// lives there, so the plan is unchanged; the emulator gives the plan's size exactly).
public final class TrainingSession {
    public let loaded: LoadedPlan
    public private(set) var trainer: Trainer
    let arenaMemory: UnsafeMutableRawBufferPointer
    let diagnosticsMemory: UnsafeMutablePointer<TensorDiagnostics>

    /// Prepares `loaded` to run in a fresh arena.
    public init(_ loaded: LoadedPlan) throws(PlanLoadError) {
        self.loaded = loaded
        let scratch = KernelScratch.bytes(for: loaded.plan)
        let bytes = scratch > 0 ? KernelScratch.start(of: loaded.plan) + scratch : max(loaded.plan.arenaBytes, 16)
        arenaMemory = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: PlanFormat.alignment)
        do {
            trainer = try Trainer(plan: loaded.plan, arena: Arena(base: arenaMemory.baseAddress!, bytes: bytes))
        } catch {
            arenaMemory.deallocate()
            throw .invalid(path: loaded.path, error: error)
        }
        let updates = max(trainer.updateOpCount, 1)
        diagnosticsMemory = .allocate(capacity: updates)
        diagnosticsMemory.initialize(repeating: TensorDiagnostics(), count: updates)
        trainer.diagnostics = diagnosticsMemory
    }

    deinit {
        arenaMemory.deallocate()
        diagnosticsMemory.deallocate()
    }

    /// Writes the training state to `flash` (two alternating slots from byte 0).
    public func saveCheckpoint<F: FlashWriter>(to flash: F) -> Bool where F: AnyObject {
        var f = flash
        return trainer.saveCheckpoint(to: &f, base: 0)
    }

    /// Writes the training state to in-memory `flash`.
    public func saveCheckpoint(to flash: inout MemoryFlash) -> Bool {
        trainer.saveCheckpoint(to: &flash, base: 0)
    }

    /// Restores the newest complete state in `flash`; false when there is none.
    public func restoreCheckpoint<F: FlashWriter>(from flash: F) -> Bool {
        trainer.restoreCheckpoint(from: flash, base: 0)
    }

    /// Per trainable tensor (by name): updates, underflows, largest gradient, overflow steps.
    public func tensorDiagnostics() -> [(name: String, update: String, diagnostics: TensorDiagnostics)] {
        let plan = loaded.plan
        let updates = (0 ..< plan.opCount).map { plan.op($0) }.filter { $0.phase == .update }
        return updates.indices.map { k in
            let op = updates[k]
            let mode = UpdateMode(rawValue: UInt8(truncatingIfNeeded: op.param(1))) ?? .fp16
            return (loaded.name(of: op.operand(0)!), describe(mode), diagnosticsMemory[k])
        }
    }

    public var batch: Int { Int(loaded.plan.config.batch) }
    /// Samples per training step: the batch times the plan's micro-batches.
    public var stepBatch: Int { loaded.plan.config.stepBatch }
    public var features: Int { Int(loaded.plan.config.inputFeatures) }
    public var classes: Int { Int(loaded.plan.config.classes) }

    /// Copies samples `indices` of `data` into the plan's input and label tensors.
    ///
    /// Concrete overloads rather than one generic: unspecialised generic iteration allocates a
    /// box per element, and the allocation-free test includes loading the batch.
    public func load(_ data: Dataset, samples indices: ArraySlice<Int>) {
        var row = 0
        for s in indices {
            copy(data, sample: s, row: row)
            row += 1
        }
    }

    /// Copies samples `range` of `data` into the plan's input and label tensors.
    public func load(_ data: Dataset, samples range: Range<Int>) {
        var row = 0
        for s in range {
            copy(data, sample: s, row: row)
            row += 1
        }
    }

    /// True when the plan trains a regression loss: datasets carry targets, not labels.
    public var regression: Bool { trainer.regression }

    func copy(_ data: Dataset, sample s: Int, row: Int) {
        Self.copy(data, sample: s, row: row, features: features, input: trainer.input, labels: labelsAddress)
    }

    /// The labels tensor: int32 class indices, or fp16 targets for a regression plan.
    var labelsAddress: UnsafeMutableRawPointer { trainer.address(of: Int(loaded.plan.config.labelsTensor)) }

    /// Copies sample `s` of `data` to row `row` of the input and of the labels tensor at `labels`
    /// (its class index, or its `data.outputs` targets).
    static func copy(_ data: Dataset, sample s: Int, row: Int, features: Int, input: TensorView<Float16>, labels: UnsafeMutableRawPointer) {
        data.inputs.withUnsafeBufferPointer { src in
            (input.base + row * features).update(from: src.baseAddress! + s * features, count: features)
        }
        let outputs = data.outputs
        if outputs > 0 {
            data.targets.withUnsafeBufferPointer { src in
                (labels.assumingMemoryBound(to: Float16.self) + row * outputs).update(from: src.baseAddress! + s * outputs, count: outputs)
            }
        } else {
            labels.assumingMemoryBound(to: Int32.self)[row] = data.labels[s]
        }
    }

    /// One training step on samples `indices` (at most `batch` of them).
    @discardableResult
    public func step(_ data: Dataset, samples indices: ArraySlice<Int>) -> StepResult {
        // The closure must not touch `trainer` (the step holds it exclusively): copy through views.
        let base = indices.startIndex, input = trainer.input, labels = labelsAddress, features = self.features
        return trainer.step(rows: indices.count) { _, first, count in
            for row in 0 ..< count { Self.copy(data, sample: indices[base + first + row], row: row, features: features, input: input, labels: labels) }
        }
    }

    /// One training step on samples `range` (at most `batch` of them).
    @discardableResult
    public func step(_ data: Dataset, samples range: Range<Int>) -> StepResult {
        let input = trainer.input, labels = labelsAddress, features = self.features
        return trainer.step(rows: range.count) { _, first, count in
            for row in 0 ..< count { Self.copy(data, sample: range.lowerBound + first + row, row: row, features: features, input: input, labels: labels) }
        }
    }

    /// Loss (the plan's) and, for a classifier, accuracy over all of `data`, batch by batch (the
    /// last batch may be partial). With `perSampleLoss`, also each sample's own loss (for an
    /// autoencoder, its anomaly score).
    public func evaluate(_ data: Dataset, perSampleLoss: Bool = false) -> Evaluation {
        var correct = 0
        var lossSum: Double = 0
        var perSample: [Float] = []
        if perSampleLoss { perSample.reserveCapacity(data.count) }
        let config = loaded.plan.config
        let kind = config.lossKind ?? .crossEntropy
        var start = 0
        while start < data.count {
            let rows = min(batch, data.count - start)
            load(data, samples: start ..< start + rows)
            trainer.forward(rows: rows)
            let logits = trainer.logits
            if kind.isRegression {
                let targets = trainer.targets
                for r in 0 ..< rows {
                    let l = RegressionLoss.rowLoss(output: logits, targets: targets, row: r, outputs: classes, kind: kind, delta: config.huberDelta)
                    lossSum += Double(l)
                    if perSampleLoss { perSample.append(l) }
                }
            } else if perSampleLoss {
                let labels = trainer.labels
                for r in 0 ..< rows {
                    let l = SoftmaxCrossEntropy.loss(logits: TensorView(base: logits.base + r * classes, count: classes),
                                                     labels: TensorView(base: labels.base + r, count: 1), rows: 1, classes: classes)
                    lossSum += Double(l)
                    perSample.append(l)
                }
            } else {
                lossSum += Double(SoftmaxCrossEntropy.loss(logits: logits, labels: trainer.labels, rows: rows, classes: classes)) * Double(rows)
            }
            if !kind.isRegression {
                for r in 0 ..< rows {
                    var best = 0
                    for c in 1 ..< classes where logits[r * classes + c] > logits[r * classes + best] { best = c }
                    if best == Int(data.labels[start + r]) { correct += 1 }
                }
            }
            start += rows
        }
        return Evaluation(loss: data.count > 0 ? lossSum / Double(data.count) : .nan,
                          accuracy: data.count > 0 && !kind.isRegression ? Double(correct) / Double(data.count) : .nan,
                          samples: data.count, perSampleLoss: perSample)
    }

    /// The current values of every trainable parameter, by tensor name, as compute sees them
    /// (fp32 master copies rounded to fp16), in HalfStep's layout.
    /// Trained values as the source model names and lays them out: BatchNormalizations the plan
    /// folded are unfolded again (`graph` is the source model, imported).
    public func trainedParameters(sourceGraph graph: Graph) -> [String: [Float]] {
        let names = Set((0 ..< loaded.plan.tensorCount).map { loaded.name(of: $0) })
        return BatchNormFolding.unfold(trainedParameters(), graph: graph, planTensors: names)
    }

    public func trainedParameters() -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        let plan = loaded.plan
        for i in 0 ..< plan.tensorCount where plan.tensor(i).flags & TensorRecord.trainable != 0 {
            out[loaded.name(of: i)] = trainedValues(of: i)
        }
        return out
    }

    /// The current values of trainable tensor `i` as compute sees them (an fp32 master copy
    /// rounded to fp16), in HalfStep's layout.
    public func trainedValues(of i: Int) -> [Float] {
        let r = loaded.plan.tensor(i)
        let count = r.elementCount ?? 0
        if r.dtype == .float32 {
            let v = trainer.floatView(i)
            return (0 ..< count).map { Float(Float16(v[$0])) }
        }
        let v = trainer.halfView(i)
        return (0 ..< count).map { Float(v[$0]) }
    }
}

/// Loss and accuracy of a model on a dataset.
public struct Evaluation: Sendable, Equatable {
    /// The plan's loss, the mean over samples (cross-entropy, or the regression loss's mean over
    /// every output).
    public var loss: Double
    /// Fraction of samples whose argmax logit is the label (0 ... 1); NaN for a regression plan.
    public var accuracy: Double
    public var samples: Int
    /// Each sample's loss, when asked for (else empty).
    public var perSampleLoss: [Float] = []

    public init(loss: Double, accuracy: Double, samples: Int, perSampleLoss: [Float] = []) {
        self.loss = loss
        self.accuracy = accuracy
        self.samples = samples
        self.perSampleLoss = perSampleLoss
    }
}
