import Foundation
import HalfStepCore

/// The host planner: graph + options → a verified, budget-checked plan file.
public enum Planner {
    /// A finished plan and the figures that explain it.
    public struct Result: Sendable {
        /// The `.hsplan` bytes.
        public var bytes: [UInt8]
        /// The program with every arena offset filled in.
        public var program: TrainingProgram
        public var memory: MemoryFigures
    }

    /// Memory figures of a plan, bytes.
    public struct MemoryFigures: Sendable, Equatable {
        /// The arena the plan needs (the SRAM peak the allocator achieved).
        public var arenaBytes: Int
        /// No placement can beat this: the largest sum of buffers live at one op.
        public var lowerBoundBytes: Int
        /// The plan file (flash): frozen weights, initial values, tables.
        public var flashBytes: Int
        /// Op index at which the most bytes are live.
        public var peakOp: Int
        /// Arena the same plan would need with fp32 storage everywhere (no master copies).
        public var fp32ArenaBytes: Int
        /// Flash the same plan would need with fp32 storage.
        public var fp32FlashBytes: Int
        /// Sum of sizes per category in SRAM (before reuse) and flash.
        public var sramByCategory: [MemoryCategory: Int]
        public var flashByCategory: [MemoryCategory: Int]
    }

    /// Builds, places and encodes a plan; checks it against `options`' budgets.
    /// - Parameter source: the model path recorded in the plan for `train --export`.
    /// - Parameter explainLevers: also measure, for every memory lever the options switch on,
    ///   the arena without it, and record the bytes each saves in the plan's notes (one extra
    ///   plan build per lever).
    public static func plan(_ graph: Graph, options: PlanOptions, source: String, explainLevers: Bool = false) throws(PlannerError) -> Result {
        var result = try planUnchecked(graph, options: options, source: source, explainLevers: explainLevers)
        let fp32 = place(result.program.widenedToFP32(), alignment: options.alignment)
        result.memory.fp32ArenaBytes = fp32.layout.peakBytes
        result.memory.fp32FlashBytes = PlanWriter.estimatedBytes(fp32.program, source: source)
        if let budget = options.sramBudget, result.memory.arenaBytes > budget {
            throw .overBudget(overBudget(graph, options, result, region: "SRAM", needed: result.memory.arenaBytes, budget: budget, source: source))
        }
        if let budget = options.flashBudget, result.memory.flashBytes > budget {
            throw .overBudget(overBudget(graph, options, result, region: "flash", needed: result.memory.flashBytes, budget: budget, source: source))
        }
        return result
    }

    /// Builds, places and encodes a plan without checking budgets.
    public static func planUnchecked(_ graph: Graph, options: PlanOptions, source: String, explainLevers: Bool = false) throws(PlannerError) -> Result {
        var built = try ProgramBuilder.build(graph, options)
        if explainLevers {
            let arena = place(built, alignment: options.alignment).layout.peakBytes
            built.notes += leverNotes(graph, options, arenaBytes: arena, source: source)
        }
        let (program, layout) = place(built, alignment: options.alignment)
        let bytes = try PlanWriter.encode(program, arenaBytes: layout.peakBytes, source: source)
        try verify(bytes)
        var sram: [MemoryCategory: Int] = [:], flash: [MemoryCategory: Int] = [:]
        for t in program.tensors {
            if t.region == .arena { sram[t.category, default: 0] += t.bytes }
            if t.region == .flash { flash[t.category, default: 0] += t.bytes }
            if t.region == .arena, let initial = t.initial { flash[t.category, default: 0] += initial.count }
        }
        let figures = MemoryFigures(
            arenaBytes: layout.peakBytes, lowerBoundBytes: layout.lowerBoundBytes, flashBytes: bytes.count,
            peakOp: peakOp(program, alignment: options.alignment), fp32ArenaBytes: 0, fp32FlashBytes: 0,
            sramByCategory: sram, flashByCategory: flash)
        return Result(bytes: bytes, program: program, memory: figures)
    }

    /// Loads `bytes` through the core's verifier, as a device would before its first step: the
    /// planner reports success only for plans the core accepts.
    static func verify(_ bytes: [UInt8]) throws(PlannerError) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: PlanFormat.alignment)
        defer { storage.deallocate() }
        storage.copyBytes(from: bytes)
        do {
            _ = try Plan(bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[0 ..< bytes.count]))
        } catch {
            throw .refusedByVerifier(error)
        }
    }

    /// The memory figures of a plan without encoding it: arena peak, liveness bound, estimated
    /// flash and the elements that train. What `--fit` evaluates for every candidate.
    public static func measure(_ graph: Graph, options: PlanOptions, source: String) throws(PlannerError)
        -> (arenaBytes: Int, lowerBoundBytes: Int, flashBytes: Int, trainedElements: Int) {
        let built = try ProgramBuilder.build(graph, options)
        let (program, layout) = place(built, alignment: options.alignment)
        return (layout.peakBytes, layout.lowerBoundBytes, PlanWriter.estimatedBytes(program, source: source), program.trainedElements)
    }

    /// One line per memory lever `options` switch on: the SRAM it saves against the same plan
    /// without it (each lever switched off alone).
    static func leverNotes(_ graph: Graph, _ options: PlanOptions, arenaBytes: Int, source: String) -> [String] {
        var levers: [(String, (inout PlanOptions) -> Void)] = []
        if options.fuseFrozenBlocks { levers.append(("frozen expansion + depthwise fusion (always on)", { $0.fuseFrozenBlocks = false })) }
        if options.fuseUpdates { levers.append(("--fuse-updates", { $0.fuseUpdates = false })) }
        if options.activationMasks { levers.append(("--relu-masks", { $0.activationMasks = false })) }
        if options.recompute { levers.append(("--recompute", { $0.recompute = false })) }
        if let m = options.microBatch, m < options.batch { levers.append(("--micro-batch \(m)", { $0.microBatch = nil })) }
        if options.foldBatchNorm { levers.append(("--fold-batchnorm", { $0.foldBatchNorm = false })) }
        if options.trainedChannelFraction < 1 {
            levers.append(("--train-channels \(formatFraction(options.trainedChannelFraction))", { $0.trainedChannelFraction = 1 }))
        }
        if options.update != .fp32Master && options.updateOverrides.isEmpty {
            levers.append(("--update \(options.update.name) (no fp32 master copies)", { $0.update = .fp32Master }))
        }
        if options.state == .fp16 && (options.effectiveMomentum > 0 || options.optimizer != .sgd) {
            levers.append(("--state fp16", { $0.state = .fp32 }))
        }
        var notes: [String] = []
        if options.convPanels {
            var o = options
            o.convPanels = false
            o.sramBudget = nil
            o.flashBudget = nil
            if let without = try? measure(graph, options: o, source: source) {
                let cost = arenaBytes - without.arenaBytes
                notes.append(cost > 0
                    ? "lever --conv-panels on (speed): costs \(cost) B SRAM (arena \(arenaBytes) B; \(without.arenaBytes) B without it)"
                    : "lever --conv-panels on (speed): costs no SRAM on this plan (its panels are not live at the peak)")
            }
        }
        for (name, off) in levers {
            var o = options
            off(&o)
            o.sramBudget = nil
            o.flashBudget = nil
            guard let without = try? measure(graph, options: o, source: source) else { continue }
            let saved = without.arenaBytes - arenaBytes
            notes.append(saved > 0
                ? "lever \(name): saves \(saved) B SRAM (arena \(arenaBytes) B; \(without.arenaBytes) B without it)"
                : "lever \(name): saves nothing on this plan (\(without.arenaBytes) B without it)")
        }
        return notes
    }

    /// Places every arena tensor; returns the program with offsets and the layout.
    static func place(_ program: TrainingProgram, alignment: Int) -> (program: TrainingProgram, layout: ArenaLayout) {
        var program = program
        let layout = ArenaAllocator.place(Liveness.requests(for: program), alignment: alignment)
        for (id, offset) in layout.offsets { program.tensors[id].offset = offset }
        return (program, layout)
    }

    /// The op index with the most live bytes.
    static func peakOp(_ program: TrainingProgram, alignment: Int) -> Int {
        let live = liveBytesPerOp(program, alignment: alignment)
        return live.indices.max { live[$0] < live[$1] } ?? 0
    }

    /// Bytes live at each op index.
    public static func liveBytesPerOp(_ program: TrainingProgram, alignment: Int) -> [Int] {
        var live = [Int](repeating: 0, count: max(1, program.ops.count))
        for r in Liveness.requests(for: program) {
            let size = (r.bytes + alignment - 1) / alignment * alignment
            for i in r.firstUse...r.lastUse { live[i] += size }
        }
        return live
    }

    /// Arena tensors live at op `index`, largest first.
    public static func liveTensors(_ program: TrainingProgram, at index: Int) -> [Int] {
        Liveness.requests(for: program)
            .filter { $0.firstUse <= index && index <= $0.lastUse }
            .sorted { ($0.bytes, -$0.id) > ($1.bytes, -$1.id) }
            .map(\.id)
    }

    static func overBudget(_ graph: Graph, _ options: PlanOptions, _ result: Result, region: String,
                           needed: Int, budget: Int, source: String) -> PlannerError.OverBudget {
        let program = result.program
        var largest: [PlannerError.OverBudget.Contributor] = []
        if region == "SRAM" {
            largest = liveTensors(program, at: result.memory.peakOp).prefix(3).map {
                .init(name: program.tensors[$0].name, category: program.tensors[$0].category.rawValue, bytes: program.tensors[$0].bytes)
            }
        } else {
            largest = program.tensors.indices.filter { program.tensors[$0].initial != nil }
                .sorted { program.tensors[$0].bytes > program.tensors[$1].bytes }.prefix(3).map {
                    .init(name: program.tensors[$0].name, category: program.tensors[$0].category.rawValue, bytes: program.tensors[$0].bytes)
                }
        }
        var alternatives: [PlannerError.OverBudget.Alternative] = []
        func attempt(_ change: String, _ edit: (inout PlanOptions) -> Void) {
            var o = options
            edit(&o)
            guard o != options, let r = try? planUnchecked(graph, options: o, source: source) else { return }
            alternatives.append(.init(change: change, neededBytes: region == "SRAM" ? r.memory.arenaBytes : r.memory.flashBytes))
        }
        if options.update == .fp32Master || options.updateOverrides.values.contains(.fp32Master) {
            attempt("--update fp16") { $0.update = .fp16; $0.updateOverrides = [:] }
        }
        if options.state == .fp32 && (options.effectiveMomentum > 0 || options.optimizer != .sgd) {
            attempt("--state fp16") { $0.state = .fp16 }
        }
        if options.optimizer == .sgd && options.effectiveMomentum > 0 { attempt("--momentum 0") { $0.momentum = 0 } }
        if options.optimizer != .sgd { attempt("--optimizer sgd --momentum 0") { $0.optimizer = .sgd; $0.momentum = 0 } }
        if options.train != .last(1) { attempt("--train last:1") { $0.train = .last(1) } }
        if options.train != .biases { attempt("--train biases") { $0.train = .biases } }
        if options.batch > 1 { attempt("--batch \(options.batch / 2)") { $0.batch = options.batch / 2; $0.microBatch = nil } }
        if options.batch > 1 && (options.microBatch ?? options.batch) > 1 {
            attempt("--micro-batch 1 (same batch, gradients summed over \(options.batch) single samples)") { $0.microBatch = 1; $0.fuseUpdates = false }
        }
        alternatives.sort { $0.neededBytes > $1.neededBytes }
        return .init(region: region, neededBytes: needed, budgetBytes: budget, largest: Array(largest), alternatives: alternatives)
    }
}
