import Foundation
import HalfStepCore

/// What `halfstep plan` prints once a plan is written: the model, what trains and how, and the
/// memory figures against the budget, preceded by `--fit`'s choice and the planner's notes
/// (what each memory lever did), as text or as JSON (snake_case keys).
public struct PlanSummary: Codable, Sendable, Equatable {
    /// Where the plan was written.
    public var output: String
    /// The source model, as the graph names it (its file path).
    public var model: String
    /// Nodes of the imported graph.
    public var layers: Int
    /// Parameter elements of the model.
    public var parameters: Int
    /// Parameter elements the plan trains.
    public var trainableParameters: Int
    /// The `--train` selection, as given on the command line.
    public var train: String
    /// `sgd`, `adam` or `adamw`.
    public var optimizer: String
    /// The update mode, then the per-tensor overrides as `MODE:NAME`, comma-separated.
    public var update: String
    /// The loss-scale policy, described.
    public var lossScale: String
    /// The loss (`--loss`): `cross-entropy`, `mse`, `l1` or `huber:DELTA`.
    public var loss: String = "cross-entropy"
    /// The learning rate and its schedule, as `--lr-schedule` spells it.
    public var learningRate: Float = 0
    public var lrSchedule: String = "constant"
    /// Steps of linear warm-up (0: none).
    public var warmupSteps: Int = 0
    /// The global gradient-norm limit (`--clip-grad-norm`), or nil.
    public var clipGradNorm: Float? = nil
    /// Dot-product accumulators: `fp32` or `fp16`.
    public var accumulation: String
    /// Samples per training step.
    public var batch: Int
    /// Samples per micro-batch (equal to `batch` without micro-batches).
    public var microBatch: Int
    /// SRAM arena the plan needs, bytes.
    public var arenaBytes: Int
    /// The liveness bound no placement can beat, bytes.
    public var lowerBoundBytes: Int
    /// The plan file (flash), bytes.
    public var flashBytes: Int
    /// Arena and flash the same plan would need with fp32 storage, bytes.
    public var fp32ArenaBytes: Int
    public var fp32FlashBytes: Int
    /// The budgets planned against, bytes (nil: unchecked).
    public var sramBudget: Int?
    public var flashBudget: Int?
    /// What the planner chose and why, one line each (`TrainingProgram.notes`).
    public var notes: [String]
    /// `--fit`'s choice and reasons, one line each (`PlanFit.Result.summaryLines`); nil without `--fit`.
    public var fit: [String]? = nil
    /// The cost model's time for one training step (set by the caller, which has the cost model).
    public var estimate: StepEstimate? = nil

    /// What one training step of the plan costs on a core, by the cost model.
    public struct StepEstimate: Codable, Sendable, Equatable {
        /// The core priced, e.g. `cortex-m4f`.
        public var core: String
        /// Estimated instructions per step.
        public var instructionsPerStep: Int
        /// Multiply-accumulates per step.
        public var macsPerStep: Int
        /// The part whose clock gives `millisecondsPerStep` (nil: no part, no time).
        public var part: String?
        /// Milliseconds per step at that part's clock.
        public var millisecondsPerStep: Double?

        public init(core: String, instructionsPerStep: Int, macsPerStep: Int, part: String? = nil, millisecondsPerStep: Double? = nil) {
            self.core = core; self.instructionsPerStep = instructionsPerStep; self.macsPerStep = macsPerStep
            self.part = part; self.millisecondsPerStep = millisecondsPerStep
        }
    }

    /// The summary of `result`, planned from `graph` with `options` and written to `output`.
    public init(graph: Graph, result: Planner.Result, options: PlanOptions, output: String) {
        self.output = output
        model = graph.source
        layers = graph.nodes.count
        parameters = graph.parameters.reduce(0) { $0 + $1.elementCount }
        trainableParameters = result.program.trainedElements
        train = options.train.description
        optimizer = options.optimizer == .sgd ? "sgd" : options.optimizer == .adam ? "adam" : "adamw"
        update = ([options.update.name] + options.updateOverrides.sorted { $0.key < $1.key }.map { "\($0.value.name):\($0.key)" })
            .joined(separator: ",")
        lossScale = options.lossScale.description
        loss = options.loss.description
        learningRate = options.learningRate
        lrSchedule = options.schedule.description
        warmupSteps = options.warmupSteps
        clipGradNorm = options.clipGradNorm
        accumulation = options.accumulateHalf ? "fp16" : "fp32"
        batch = options.batch
        microBatch = options.microBatch ?? options.batch
        arenaBytes = result.memory.arenaBytes
        lowerBoundBytes = result.memory.lowerBoundBytes
        flashBytes = result.memory.flashBytes
        fp32ArenaBytes = result.memory.fp32ArenaBytes
        fp32FlashBytes = result.memory.fp32FlashBytes
        sramBudget = options.sramBudget
        flashBudget = options.flashBudget
        notes = result.program.notes
    }

    /// The summary as one pretty-printed JSON object, keys sorted and in snake_case; absent
    /// budgets and `fit` are left out.
    public func json() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: (try? e.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// The estimate line (with its leading newline), or nothing.
    var estimateText: String {
        guard let e = estimate else { return "" }
        var s = String(format: "\n  time (est.)   %.2f M instructions per step (%.2f per MAC) on a %@", Double(e.instructionsPerStep) / 1e6,
                       Double(e.instructionsPerStep) / Double(max(1, e.macsPerStep)), e.core)
        if let part = e.part, let ms = e.millisecondsPerStep { s += String(format: ", ~%.1f ms per step on the %@", ms, part) }
        return s + " (cost model)"
    }

    /// The summary as text: `fit` and `note` lines first, then the plan's figures, one per line,
    /// with the share of each budget used and left. No trailing newline.
    public func text() -> String {
        func budget(_ used: Int, _ b: Int?) -> String {
            guard let b else { return "" }
            return String(format: "  of %@ budget (%.0f%%, %@ spare)", formatBytes(b), 100 * Double(used) / Double(b), formatBytes(b - used))
        }
        let fitText = (fit ?? []).map { "  fit           \($0)\n" }.joined()
        let notesText = notes.map { "  note          \($0)\n" }.joined()
        return fitText + notesText + """
        planned \(model) -> \(output)
          model         \(layers) layers, \(parameters) parameters; training \(trainableParameters) (--train \(train))
          numerics      fp16 storage, \(accumulation) accumulation, \(update) updates, \(optimizer), loss scale \(lossScale)
          training      \(loss) loss, lr \(learningRate)\(lrSchedule == "constant" ? "" : " on \(lrSchedule)")\(warmupSteps > 0 ? ", warm-up \(warmupSteps) steps" : "")\(clipGradNorm.map { ", gradients clipped to global norm \($0)" } ?? "")
          batch         \(batch)\(microBatch < batch ? " as \(batch / microBatch) micro-batches of \(microBatch), gradients summed before one update" : "")
          SRAM arena    \(arenaBytes) B (\(formatBytes(arenaBytes)))\(budget(arenaBytes, sramBudget))
          lower bound   \(lowerBoundBytes) B: the arena is within \(String(format: "%.1f%%", 100 * (Double(arenaBytes) / Double(max(lowerBoundBytes, 1)) - 1))) of the liveness bound
          flash (plan)  \(flashBytes) B (\(formatBytes(flashBytes)))\(budget(flashBytes, flashBudget))\(estimateText)
          fp32 storage  would need \(fp32ArenaBytes) B SRAM (x\(String(format: "%.2f", Double(fp32ArenaBytes) / Double(max(arenaBytes, 1))))) and \(fp32FlashBytes) B flash (x\(String(format: "%.2f", Double(fp32FlashBytes) / Double(max(flashBytes, 1)))))
        """
    }
}
