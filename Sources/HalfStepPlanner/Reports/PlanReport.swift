import Foundation
import HalfStepCore

/// What `halfstep inspect` shows: a plan's tensors, step program, training configuration and
/// memory, as tables or as JSON.
public struct PlanReport: Codable, Sendable {
    public struct TensorRow: Codable, Sendable {
        public var index: Int
        public var name: String
        public var role: String
        public var category: String
        public var shape: [Int]
        public var dtype: String
        public var region: String
        /// Arena offset (SRAM) or data-section offset (flash), bytes.
        public var offset: Int
        public var bytes: Int
        /// First and last op index at which the tensor is live (arena tensors).
        public var live: [Int]?
        public var trainable: Bool
    }

    public struct OpRow: Codable, Sendable {
        public var index: Int
        public var phase: String
        public var op: String
        public var operands: [String]
        public var detail: String
    }

    public struct CategoryRow: Codable, Sendable {
        public var category: String
        public var sramBytes: Int
        public var flashBytes: Int
    }

    public struct Memory: Codable, Sendable {
        /// SRAM arena the plan needs (allocator peak), bytes.
        public var arenaBytes: Int
        /// Largest sum of buffers live at one op: no placement can do better, bytes.
        public var lowerBoundBytes: Int
        /// Sum of all arena buffer sizes, as if nothing were reused, bytes.
        public var unsharedBytes: Int
        /// Plan file (flash), bytes.
        public var flashBytes: Int
        /// The same plan with fp32 storage, bytes.
        public var fp32ArenaBytes: Int
        public var fp32FlashBytes: Int
        public var peakOp: Int
        public var byCategory: [CategoryRow]
    }

    public var path: String
    public var source: String
    public var formatVersion: Int
    public var config: [String: String]
    public var tensors: [TensorRow]
    public var program: [OpRow]
    public var memory: Memory
    /// What the planner chose and why, with the bytes each memory lever saves (stored in the plan).
    public var notes: [String]

    /// Reads everything from a verified plan.
    public init(_ loaded: LoadedPlan) {
        let plan = loaded.plan
        let program = loaded.program()
        path = loaded.path
        source = loaded.sourcePath
        notes = loaded.notes
        formatVersion = Int(plan.header.version)
        let requests = Dictionary(uniqueKeysWithValues: Liveness.requests(for: program).map { ($0.id, $0) })
        tensors = program.tensors.enumerated().map { i, t in
            TensorRow(index: i, name: t.name, role: describe(t.role), category: t.category.rawValue, shape: t.shape,
                      dtype: describe(t.dtype), region: t.region == .arena ? "sram" : "flash",
                      offset: t.region == .arena ? t.offset : Int(plan.tensor(i).offset), bytes: t.bytes,
                      live: requests[i].map { [$0.firstUse, $0.lastUse] }, trainable: t.trainable)
        }
        self.program = program.ops.enumerated().map { i, op in
            OpRow(index: i, phase: describe(op.phase), op: "\(op.opcode.name)",
                  operands: op.operands.map { $0.map { program.tensors[$0].name } ?? "-" },
                  detail: detail(op, program))
        }
        let c = plan.config
        var cfg: [String: String] = [
            "optimizer": describe(c.optimizer ?? .sgd),
            "learning_rate": "\(c.learningRate)",
            "weight_decay": "\(c.weightDecay)",
            "batch": "\(c.batch)",
            "classes": "\(c.classes)",
            "input_features": "\(c.inputFeatures)",
            "optimizer_state": describe(c.stateDType ?? .float32),
            "accumulation": c.accumulate == 1 ? "fp16" : "fp32",
            "learning_rate_schedule": describeSchedule(c),
            "seed": "\(c.seed)",
            "loss": describeLoss(c),
        ]
        if c.warmupSteps > 0 { cfg["warmup_steps"] = "\(c.warmupSteps)" }
        if c.clipGradNorm > 0 { cfg["clip_grad_norm"] = "\(c.clipGradNorm)" }
        if c.optimizer == .sgd { cfg["momentum"] = "\(c.momentum)" } else {
            cfg["beta1"] = "\(c.momentum)"; cfg["beta2"] = "\(c.beta2)"; cfg["epsilon"] = "\(c.epsilon)"
        }
        switch c.lossScaleMode ?? .none {
        case .none: cfg["loss_scale"] = "none"
        case .fixed: cfg["loss_scale"] = "static:\(formatScale(c.initialLossScale))"
        case .dynamic:
            cfg["loss_scale"] = "dynamic"
            cfg["loss_scale_initial"] = formatScale(c.initialLossScale)
            cfg["loss_scale_growth"] = "×\(c.growthFactor) every \(c.growthInterval) clean steps"
            cfg["loss_scale_backoff"] = "×\(c.backoffFactor) and skip the step on inf/NaN"
        }
        let modes = Set(program.ops.filter { $0.phase == .update }.map { UpdateMode(rawValue: UInt8($0.params[1]))! })
        cfg["update"] = modes.isEmpty ? "none (nothing trains)" : modes.map(describe).sorted().joined(separator: ", ")
        config = cfg

        var byCategory: [MemoryCategory: (Int, Int)] = [:]
        for t in program.tensors {
            var entry = byCategory[t.category] ?? (0, 0)
            if t.region == .arena { entry.0 += t.bytes }
            if let initial = t.initial { entry.1 += initial.count }
            byCategory[t.category] = entry
        }
        let live = Planner.liveBytesPerOp(program, alignment: PlanFormat.alignment)
        let wide = program.widenedToFP32()
        let wideLayout = ArenaAllocator.place(Liveness.requests(for: wide), alignment: PlanFormat.alignment)
        memory = Memory(
            arenaBytes: plan.arenaBytes, lowerBoundBytes: live.max() ?? 0,
            unsharedBytes: program.tensors.filter { $0.region == .arena }.reduce(0) { $0 + align($1.bytes, PlanFormat.alignment) },
            flashBytes: plan.bytes.count, fp32ArenaBytes: wideLayout.peakBytes,
            fp32FlashBytes: PlanWriter.estimatedBytes(wide, source: loaded.sourcePath),
            peakOp: live.indices.max { live[$0] < live[$1] } ?? 0,
            byCategory: MemoryCategory.allCases.map { cat in
                CategoryRow(category: cat.rawValue, sramBytes: byCategory[cat]?.0 ?? 0, flashBytes: byCategory[cat]?.1 ?? 0)
            })
    }

    /// The report as one JSON object.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// The report as text tables.
    public func text() -> String {
        var out = "plan \(path) (format v\(formatVersion), from \(source))\n\n"
        out += "TENSORS\n"
        let tensorRows: [[String]] = tensors.map { t in
            let shape = "[" + t.shape.map(String.init).joined(separator: ",") + "]"
            let live = t.live.map { "\($0[0])–\($0[1])" } ?? ""
            return [String(t.index), t.name + (t.trainable ? " *" : ""), t.role, shape, t.dtype, t.region,
                    String(t.offset), String(t.bytes), live]
        }
        out += TextTable(["#", "name", "role", "shape", "dtype", "region", "offset", "bytes", "live"], rows: tensorRows).render()
        out += "  * trainable\n\nSTEP PROGRAM\n"
        out += TextTable(["#", "phase", "op", "operands", "detail"], rows: program.map { [String($0.index), $0.phase, $0.op, $0.operands.joined(separator: ", "), $0.detail] }).render()
        out += "\nTRAINING CONFIG\n"
        out += TextTable(["setting", "value"], rows: config.keys.sorted().map { [$0, config[$0]!] }).render()
        out += "\nMEMORY (bytes)\n"
        var rows = memory.byCategory.filter { $0.sramBytes > 0 || $0.flashBytes > 0 }.map {
            [$0.category, String($0.sramBytes), String($0.flashBytes)]
        }
        rows.append(["sum of buffers", String(memory.unsharedBytes), String(memory.byCategory.reduce(0) { $0 + $1.flashBytes })])
        out += TextTable(["category", "sram (unshared)", "flash"], rows: rows).render()
        let m = memory
        out += "\n"
        out += "SRAM arena        \(m.arenaBytes) B (\(formatBytes(m.arenaBytes))), peak at op \(m.peakOp)\n"
        out += "liveness bound    \(m.lowerBoundBytes) B: the arena is \(percent(Double(m.arenaBytes) / Double(max(m.lowerBoundBytes, 1)) - 1)) above it\n"
        out += "reuse saves       \(m.unsharedBytes - m.arenaBytes) B against one buffer per tensor (\(m.unsharedBytes) B)\n"
        out += "flash (plan)      \(m.flashBytes) B (\(formatBytes(m.flashBytes)))\n"
        out += "same plan in fp32 SRAM \(m.fp32ArenaBytes) B (×\(String(format: "%.2f", Double(m.fp32ArenaBytes) / Double(max(m.arenaBytes, 1)))) of fp16), flash \(m.fp32FlashBytes) B (×\(String(format: "%.2f", Double(m.fp32FlashBytes) / Double(max(m.flashBytes, 1)))))\n"
        if !notes.isEmpty {
            out += "\nPLANNER NOTES (levers and what each saves)\n"
            for note in notes { out += "  \(note)\n" }
        }
        return out
    }
}

func percent(_ x: Double) -> String { String(format: "%.1f%%", x * 100) }

func describe(_ d: DType) -> String { d == .float16 ? "fp16" : d == .float32 ? "fp32" : "int32" }
func describe(_ r: TensorRole) -> String {
    switch r {
    case .input: return "input"
    case .labels: return "labels"
    case .activation: return "activation"
    case .activationGradient: return "activation grad"
    case .weight: return "weight"
    case .weightGradient: return "weight grad"
    case .masterWeight: return "fp32 master"
    case .optimizerState: return "optimizer state"
    case .loss: return "loss"
    case .scratch: return "scratch"
    case .gradientSum: return "grad sum"
    }
}
func describe(_ p: Phase) -> String {
    switch p { case .forward: return "forward"; case .loss: return "loss"; case .backward: return "backward"; case .update: return "update" }
}
func describe(_ o: OptimizerKind) -> String { o == .sgd ? "sgd" : o == .adam ? "adam" : "adamw" }
func describe(_ m: UpdateMode) -> String { m.name }

extension UpdateMode {
    /// The mode as `--update` spells it.
    public var name: String { "\(spelling)" }
}

/// The text of an op's `describe`.
struct TextDescriber: OpDescriber {
    var text = ""
    mutating func text(_ s: StaticString) { text += "\(s)" }
    mutating func int(_ v: Int) { text += String(v) }
    mutating func float(_ v: Float) { text += "\(v)" }
}

/// The detail column of `inspect`'s step program: the op file's own description.
func detail(_ op: TrainingProgram.Op, _ program: TrainingProgram) -> String {
    var d = TextDescriber()
    op.record.describe(&d)
    return d.text
}

/// A plain-text table with aligned columns: numbers (and percentages) right-aligned, text left.
public struct TextTable {
    public var header: [String]
    public var rows: [[String]]

    public init(_ header: [String], rows: [[String]]) {
        self.header = header
        self.rows = rows
    }

    public func render() -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: max(0, widths[min(i, widths.count - 1)] - cell.count))
                let numeric = Double(cell.trimmingCharacters(in: CharacterSet(charactersIn: "%x, "))) != nil
                return numeric ? pad + cell : cell + pad
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)).joined(separator: "\n") + "\n"
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// The config's loss as `--loss` spells it.
func describeLoss(_ c: TrainingConfig) -> String {
    switch c.lossKind ?? .crossEntropy {
    case .crossEntropy: return "cross-entropy"
    case .mse: return "mse"
    case .l1: return "l1"
    case .huber: return "huber:\(c.huberDelta)"
    }
}

/// The config's schedule as `--lr-schedule` spells it.
func describeSchedule(_ c: TrainingConfig) -> String {
    switch c.schedule ?? .constant {
    case .constant: return "constant"
    case .step: return "step:\(c.scheduleSteps):\(c.scheduleFactor)"
    case .cosine: return c.scheduleFactor == 0 ? "cosine:\(c.scheduleSteps)" : "cosine:\(c.scheduleSteps):\(c.scheduleFactor)"
    }
}
