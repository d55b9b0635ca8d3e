import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// The planner's memory levers (`PlanOptions`: fused updates, trained channel fraction, BatchNorm
/// folding, what trains, update mode, optimizer-state type, momentum) on the CNN fixtures: each
/// lowers the arena where it claims to and never raises it, every plan keeps the allocator's
/// invariants, backward stops where it should, and fused updates train as unfused ones do.
///
/// Every lever starts from one base plan holding the memory-hungry setting of each lever: fp32
/// master copies, fp32 optimizer state, SGD momentum 0.9, unfused updates, whole channels, a
/// BatchNormalization folded only where its γ is frozen. Figures are bytes: `arena` is the planned
/// SRAM peak, `bound` the liveness lower bound (the largest total live at one op). Tests print them.
struct PlannerLeverTests {
    static let digitsCNN = fixture("Tools/examples/digits-cnn/model.onnx")
    static let mobileNet = fixture("Tools/examples/mobilenetv2/model.onnx")
    /// What `--train` can select on the digits CNN, whose layers are conv1 (with bn1), dw, pw, expand, fc.
    static let selections: [PlanOptions.TrainSelection] = [.all, .last(4), .last(3), .last(2), .last(1), .biases]

    /// The base plan: every lever off.
    static func base(_ train: PlanOptions.TrainSelection, batch: Int = 8) -> PlanOptions {
        var o = PlanOptions()
        o.batch = batch
        o.train = train
        o.update = .fp32Master
        o.state = .fp32
        o.momentum = 0.9
        o.learningRate = 0.005
        return o
    }

    static func cnn() throws -> Graph { try importedGraph(path: digitsCNN) }

    // MARK: - Arena peak

    @Test("each lever switched on alone never raises the digits CNN's arena peak, from any train selection at batch 8 or 32")
    func leversNeverRaiseThePeak() throws {
        let g = try Self.cnn()
        for batch in [8, 32] {
            for train in Self.selections {
                let base = try Planner.plan(g, options: Self.base(train, batch: batch), source: "t").memory
                var line = "digits CNN batch \(batch) --train \(train): base \(base.arenaBytes)"
                let levers = PlanLever.all + (train == .all ? [PlanLever.biases] : [])
                for lever in levers {
                    let on = try Planner.plan(g, options: lever.on(Self.base(train, batch: batch)), source: "t").memory
                    #expect(on.arenaBytes <= base.arenaBytes, "\(lever.flag) from batch \(batch) --train \(train): \(base.arenaBytes) B -> \(on.arenaBytes) B")
                    line += ", \(lever.flag) \(on.arenaBytes)"
                }
                print(line)
            }
        }
    }

    /// Where each lever must bite: the plan (digits CNN, batch 8) in which the bytes it removes are
    /// live at the peak.
    static let strictCases: [StrictCase] = [
        .init(lever: .fuse, train: .all, why: "unfused, every weight gradient is live at the first update"),
        .init(lever: .halfChannels, train: .last(2), why: "expand's and fc's gradients and momentum halve"),
        .init(lever: .biases, train: .all, why: "no weight gradients, master copies or momentum for weights"),
        .init(lever: .fp16Update, train: .all, why: "the fp32 master copies, live all step, become fp16 weights"),
        .init(lever: .fp16State, train: .all, why: "the fp32 momentum, live all step, becomes fp16"),
        .init(lever: .noMomentum, train: .all, why: "the momentum buffers go"),
        .init(lever: .fold, train: .all, why: "γ trains under --train all, so bn1 is not folded without the lever; folded, its op and saved activation go"),
    ]

    @Test("each lever lowers the digits CNN's arena peak on the plan where the bytes it removes are live at the peak", arguments: strictCases)
    func leverLowersThePeak(_ c: StrictCase) throws {
        let g = try Self.cnn()
        let base = try Planner.plan(g, options: Self.base(c.train), source: "t").memory
        let on = try Planner.plan(g, options: c.lever.on(Self.base(c.train)), source: "t").memory
        print("digits CNN batch 8 --train \(c.train) \(c.lever.flag): arena \(base.arenaBytes) -> \(on.arenaBytes) B, bound \(base.lowerBoundBytes) -> \(on.lowerBoundBytes) B (\(c.why))")
        #expect(on.arenaBytes < base.arenaBytes, "\(c.lever.flag) on --train \(c.train): \(c.why); arena \(base.arenaBytes) -> \(on.arenaBytes) B")
    }

    @Test("fp16 updates, fp16 state and momentum 0 lower the liveness bound by exactly the bytes of the master copies or state they drop")
    func persistentLeversSaveExactly() throws {
        // Master copies and optimizer state are live at every op, so what a lever removes from
        // them comes off the bound whole, whatever the rest of the plan does.
        let g = try Self.cnn()
        func aligned(_ bytes: Int) -> Int { (bytes + PlanFormat.alignment - 1) / PlanFormat.alignment * PlanFormat.alignment }
        for train in Self.selections {
            let base = try Planner.plan(g, options: Self.base(train), source: "t")
            let masters = base.program.tensors.filter { $0.role == .masterWeight && $0.region == .arena }
            let state = base.program.tensors.filter { $0.role == .optimizerState && $0.region == .arena }
            #expect(!masters.isEmpty && !state.isEmpty)
            let expected: [(PlanLever, Int)] = [
                (.fp16Update, masters.reduce(0) { $0 + aligned($1.bytes) - aligned($1.elementCount * 2) }),
                (.fp16State, state.reduce(0) { $0 + aligned($1.bytes) - aligned($1.elementCount * 2) }),
                (.noMomentum, state.reduce(0) { $0 + aligned($1.bytes) }),
            ]
            for (lever, saved) in expected {
                let on = try Planner.plan(g, options: lever.on(Self.base(train)), source: "t").memory
                #expect(base.memory.lowerBoundBytes - on.lowerBoundBytes == saved,
                        "\(lever.flag) on --train \(train): bound \(base.memory.lowerBoundBytes) -> \(on.lowerBoundBytes) B, expected -\(saved) B")
            }
        }
    }

    @Test("on MobileNetV2 (batch 1, --train last:2) each lever switched on alone never raises the arena peak, and folding BatchNorm lowers it")
    func mobileNetLevers() throws {
        let plans = try Self.mobileNetLeverPlans.get()
        let base = plans[0].result.memory.arenaBytes
        print("MobileNetV2 batch 1 --train last:2: " + plans.map { "\($0.label) \($0.result.memory.arenaBytes)" }.joined(separator: ", "))
        for (label, r) in plans.dropFirst() {
            #expect(r.memory.arenaBytes <= base, "\(label): \(base) B -> \(r.memory.arenaBytes) B")
        }
        // The last convolution's BatchNormalization trains under last:2, so only the lever folds it.
        let folded = plans.first { $0.label == PlanLever.fold.flag }!.result.memory.arenaBytes
        #expect(folded < base, "--fold-batchnorm: \(base) B -> \(folded) B")
    }

    /// MobileNetV2's base plan (batch 1, `--train last:2`) and the plan of each lever switched on
    /// alone, made once (about a second each in a debug build). `planUnchecked` builds and places
    /// exactly as `plan` does, without the fp32 what-if placement.
    static let mobileNetLeverPlans = Result<[(label: String, result: Planner.Result)], Error> {
        let g = try importedGraph(path: mobileNet)
        let base = Self.base(.last(2), batch: 1)
        var plans = [("base", try Planner.planUnchecked(g, options: base, source: "t"))]
        for lever in PlanLever.all { plans.append((lever.flag, try Planner.planUnchecked(g, options: lever.on(base), source: "t"))) }
        return plans
    }

    // MARK: - Allocator invariants

    @Test("every lever plan keeps the allocator's invariants: no two live arena tensors share bytes, each lies inside the arena, the peak is at least the liveness bound")
    func leverPlansKeepInvariants() throws {
        let g = try Self.cnn()
        for batch in [8, 32] {
            for train in Self.selections {
                let levers = PlanLever.all + (train == .all ? [PlanLever.biases] : [])
                try expectPlacementInvariants(Planner.plan(g, options: Self.base(train, batch: batch), source: "t"), "batch \(batch) --train \(train)")
                for lever in levers {
                    try expectPlacementInvariants(Planner.plan(g, options: lever.on(Self.base(train, batch: batch)), source: "t"),
                                                  "batch \(batch) --train \(train) \(lever.flag)")
                }
            }
        }
        for (label, r) in try Self.mobileNetLeverPlans.get() { expectPlacementInvariants(r, "MobileNetV2 last:2 \(label)") }
    }

    @Test("switching one more lever on, from any combination of the others, never raises the digits CNN's liveness bound")
    func leversNeverRaiseTheBound() throws {
        // The bound is what a lever controls; the arena is the greedy allocator's placement above it
        // (see `placementCanMissTheBound` for where that placement does rise).
        let g = try Self.cnn()
        var bounds: [String: Int] = [:]
        /// The largest live total at one op (what the allocator reports as its bound), without placing.
        func bound(_ o: PlanOptions) throws -> Int {
            let key = "\(o.train) \(o.trainedChannelFraction) \(o.update) \(o.state) \(o.effectiveMomentum) \(o.fuseUpdates) \(o.foldBatchNorm)"
            if let b = bounds[key] { return b }
            let b = Planner.liveBytesPerOp(try ProgramBuilder.build(g, o), alignment: PlanFormat.alignment).max() ?? 0
            bounds[key] = b
            return b
        }
        var checked = 0
        for train in Self.selections {
            for fraction in [1, 0.5, 0.25, 0.125] {
                for update: UpdateMode in [.fp32Master, .fp16] {
                    for state: PlanOptions.StateType in [.fp32, .fp16] {
                        for momentum: Float in [0.9, 0] {
                            for fuse in [false, true] {
                                for fold in [false, true] {
                                    var o = Self.base(train)
                                    (o.trainedChannelFraction, o.update, o.state, o.momentum, o.fuseUpdates, o.foldBatchNorm) = (fraction, update, state, momentum, fuse, fold)
                                    let here = try bound(o)
                                    var next: [(String, PlanOptions)] = []
                                    if !fuse { next.append(("--fuse-updates", PlanLever.fuse.on(o))) }
                                    if !fold { next.append(("--fold-batchnorm", PlanLever.fold.on(o))) }
                                    if update == .fp32Master { next.append(("--update fp16", PlanLever.fp16Update.on(o))) }
                                    if state == .fp32 { next.append(("--state fp16", PlanLever.fp16State.on(o))) }
                                    if momentum > 0 { next.append(("--momentum 0", PlanLever.noMomentum.on(o))) }
                                    if fraction > 0.125 { var p = o; p.trainedChannelFraction = fraction / 2; next.append(("--train-channels \(fraction / 2)", p)) }
                                    if train == .all { next.append(("--train biases", PlanLever.biases.on(o))) }
                                    for (flag, p) in next {
                                        let there = try bound(p)
                                        checked += 1
                                        #expect(there <= here, "\(flag) from --train \(train) --train-channels \(fraction) --update \(update.name) --state \(state.rawValue) --momentum \(momentum) fuse \(fuse) fold \(fold): bound \(here) -> \(there) B")
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        print("checked \(checked) lever switches over \(bounds.count) digits CNN plans (batch 8)")
    }

    @Test("a lever that lowers the bound can still raise the arena when combined with others: the greedy placement misses the bound (known)")
    func placementCanMissTheBound() throws {
        // Found while writing these tests: of 13,248 single-lever switches over every combination
        // of the others (digits CNN and MLP, batch 1, 8, 32), 21 raise the arena although every one
        // lowers or keeps the bound; the allocator lands up to 3% above the bound there. Here:
        // batch 32, --train all, fused updates, then halving the trained channels.
        let g = try Self.cnn()
        let fused = PlanLever.fuse.on(Self.base(.all, batch: 32))
        let before = try Planner.plan(g, options: fused, source: "t").memory
        let after = try Planner.plan(g, options: PlanLever.halfChannels.on(fused), source: "t").memory
        print("digits CNN batch 32 --train all --fuse-updates: arena \(before.arenaBytes) B (bound \(before.lowerBoundBytes)); with --train-channels 0.5: arena \(after.arenaBytes) B (bound \(after.lowerBoundBytes))")
        #expect(after.lowerBoundBytes < before.lowerBoundBytes)
        withKnownIssue("ArenaAllocator's greedy orders and local search end above the bound on this plan") {
            #expect(after.arenaBytes <= before.arenaBytes, "arena \(before.arenaBytes) -> \(after.arenaBytes) B")
        }
    }

    // MARK: - Backward

    /// Activation-gradient tensors per selection, counted by hand from the graph: dlogits; fc's
    /// input gradient once anything below fc trains; avg's input gradient (ReLU then works in place);
    /// expand's input gradient once pw or below trains; pw's input gradient once dw or below trains;
    /// with conv1 training, the Add's second branch gets a copy and dw and the MaxPool each get an
    /// input gradient (bn1 and the first ReLU work in place).
    static let backwardCases: [BackwardCase] = [
        .init(train: .last(1), firstLayer: "/fc/Gemm", gradients: 1),
        .init(train: .last(2), firstLayer: "/expand/Conv", gradients: 3),
        .init(train: .last(3), firstLayer: "/pw/Conv", gradients: 4),
        .init(train: .last(4), firstLayer: "/dw/Conv", gradients: 5),
        .init(train: .all, firstLayer: "/conv1/Conv", gradients: 8),
    ]

    @Test("backward stops at the first trainable layer of the digits CNN: no op below it, no input gradient for it, and the activation gradients counted by hand", arguments: backwardCases)
    func backwardStopsAtFirstTrainableLayer(_ c: BackwardCase) throws {
        let g = try Self.cnn()
        let r = try Planner.plan(g, options: Self.base(c.train), source: "t")
        let first = try #require(g.nodes.firstIndex { $0.name == c.firstLayer })
        let position = Dictionary(uniqueKeysWithValues: g.nodes.enumerated().map { ($0.element.name, $0.offset) })
        let backward = r.program.ops.filter { $0.phase == .backward }
        for op in backward {
            let at = try #require(position[op.node], "backward op \(op.opcode) of unknown node \(op.node)")
            #expect(at >= first, "--train \(c.train): \(op.opcode) for \(op.node), below the first trainable layer \(c.firstLayer)")
        }
        let firstBackward = try #require(backward.last { $0.node == c.firstLayer })
        #expect(firstBackward.operands[3] == nil, "--train \(c.train): \(c.firstLayer) computes an input gradient nothing uses")
        let gradients = r.program.tensors.filter { $0.role == .activationGradient }
        print("digits CNN --train \(c.train): \(gradients.count) activation gradients \(gradients.map(\.name)), \(backward.count) backward ops")
        #expect(gradients.count == c.gradients, "--train \(c.train): \(gradients.map(\.name))")
    }

    // MARK: - Fused updates

    @Test("with fused updates every update op comes right after the backward ops of the node producing its gradient, and that gradient is read by nothing else", arguments: [PlanOptions.TrainSelection.all, .last(3)])
    func fusedUpdateOrder(_ train: PlanOptions.TrainSelection) throws {
        let g = try Self.cnn()
        let ops = try Planner.plan(g, options: PlanLever.fuse.on(Self.base(train)), source: "t").program.ops
        let updates = ops.indices.filter { ops[$0].phase == .update }
        #expect(updates.count == ops.filter { $0.phase == .update }.count && !updates.isEmpty)
        for i in updates {
            let gradient = try #require(ops[i].operands[1])
            let readers = ops.indices.filter { ops[$0].operands.contains(gradient) }
            let producer = try #require(readers.first, "nothing produces the gradient of \(ops[i].node)")
            #expect(ops[producer].phase == .backward && readers == [producer, i],
                    "gradient of \(ops[i].node) is used by ops \(readers.map { "\($0) \(ops[$0].opcode) \(ops[$0].node)" })")
            // Between them only updates and the producing node's other backward ops (the accumulate
            // that hands a convolution's input gradient to a value that already has one).
            let between = ops[(producer + 1) ..< i].filter { $0.phase != .update && $0.node != ops[producer].node }
            #expect(between.isEmpty, "update of \(ops[i].node) waits for \(between.map { "\($0.opcode) \($0.node)" })")
        }
        // Without the lever every update waits for the whole backward pass.
        let unfused = try Planner.plan(g, options: Self.base(train), source: "t").program.ops
        let unfusedLast = try #require(unfused.lastIndex { $0.phase == .backward })
        #expect(unfused.indices.filter { unfused[$0].phase == .update }.allSatisfy { $0 > unfusedLast })
    }

    @Test("with fused updates no two layers' weight gradients are live at the same op")
    func fusedGradientsDoNotCoexist() throws {
        let g = try Self.cnn()
        func gradientLayersLive(_ o: PlanOptions) throws -> (layers: Int, bytes: Int) {
            let program = try Planner.plan(g, options: o, source: "t").program
            let producer = Dictionary(program.ops.flatMap { op in op.phase == .backward ? op.operands.compactMap { $0 }.map { ($0, op.node) } : [] },
                                      uniquingKeysWith: { first, _ in first })
            let gradients = Liveness.requests(for: program).filter { program.tensors[$0.id].role == .weightGradient }
            var most = (layers: 0, bytes: 0)
            for op in program.ops.indices {
                let live = gradients.filter { $0.firstUse <= op && op <= $0.lastUse }
                most.layers = max(most.layers, Set(live.map { producer[$0.id] ?? "?" }).count)
                most.bytes = max(most.bytes, live.reduce(0) { $0 + $1.bytes })
            }
            return most
        }
        let fused = try gradientLayersLive(PlanLever.fuse.on(Self.base(.all)))
        let unfused = try gradientLayersLive(Self.base(.all))
        print("digits CNN --train all: weight gradients live at once: unfused \(unfused.layers) layers / \(unfused.bytes) B, fused \(fused.layers) layer / \(fused.bytes) B")
        #expect(fused.layers == 1)
        #expect(unfused.layers == 6, "conv1, bn1, dw, pw, expand, fc")
    }

    /// Parameters after `steps` SGD steps (momentum 0, lr 0.05) on the first 8 shifted digits, and
    /// each step's status and loss.
    static func train(fused: Bool, update: UpdateMode, lossScale: PlanOptions.LossScaling, steps: Int)
        throws -> (parameters: [String: [UInt32]], steps: [String], overflows: Int) {
        var o = base(.all)
        o.momentum = 0
        o.learningRate = 0.05
        o.update = update
        o.lossScale = lossScale
        o.fuseUpdates = fused
        let plan = try Planner.plan(try cnn(), options: o, source: "t")
        let session = try TrainingSession(LoadedPlan(bytes: plan.bytes, path: "t"))
        // The updates after the last backward op (conv1's) run after the overflow check, as unfused ones do.
        #expect((session.trainer.fusedUpdateCount > 0) == fused)
        let data = try Dataset.load(inputs: fixture("Tools/examples/digits/shifted-train-x.npy"),
                                    labels: fixture("Tools/examples/digits/shifted-train-y.npy"), expectedFeatures: 64, classes: 10)
        var log: [String] = []
        for _ in 0 ..< steps {
            let r = session.step(data, samples: 0 ..< 8)
            log.append("\(r.status) loss \(r.loss.bitPattern)")
        }
        return (session.trainedParameters().mapValues { $0.map(\.bitPattern) }, log, session.trainer.counters.overflows)
    }

    @Test("fused and unfused plans train bit-identically (SGD without momentum, 5 steps on a fixed batch) when no step overflows", arguments: [UpdateMode.fp32Master, .fp16])
    func fusedTrainsIdentically(_ update: UpdateMode) throws {
        // A static scale of 1024 does not overflow on this batch; the default dynamic scale does
        // (see `fusedOverflowKeepsEarlierUpdates`).
        let unfused = try Self.train(fused: false, update: update, lossScale: .fixed(1024), steps: 5)
        let fused = try Self.train(fused: true, update: update, lossScale: .fixed(1024), steps: 5)
        #expect(unfused.overflows == 0 && fused.overflows == 0)
        #expect(fused.steps == unfused.steps)
        let differing = unfused.parameters.keys.sorted().filter { fused.parameters[$0] != unfused.parameters[$0] }
        #expect(fused.parameters.keys.sorted() == unfused.parameters.keys.sorted())
        #expect(differing.isEmpty, "\(update.name): \(differing) differ")
    }

    @Test("with fused updates, a step whose gradients overflow part-way through backward keeps the updates already applied, where the unfused step changes nothing")
    func fusedOverflowKeepsEarlierUpdates() throws {
        // The documented cost of --fuse-updates ("an overflow then skips the rest of that step's
        // updates"). At a scale of 2^14 only conv1's weight gradient, the last one backward makes,
        // overflows: the fused step has updated every layer above it before it sees the overflow.
        let initial = try Self.train(fused: false, update: .fp32Master, lossScale: .none, steps: 0).parameters
        let unfused = try Self.train(fused: false, update: .fp32Master, lossScale: .fixed(16384), steps: 1)
        let fused = try Self.train(fused: true, update: .fp32Master, lossScale: .fixed(16384), steps: 1)
        #expect(unfused.overflows == 1 && fused.overflows == 1, "both steps are reported skipped")
        #expect(unfused.parameters == initial)
        let changed = initial.keys.sorted().filter { fused.parameters[$0] != initial[$0] }
        print("fused plan, one step at loss scale 2^14 (reported skipped): changed \(changed), unchanged \(initial.keys.sorted().filter { !changed.contains($0) })")
        #expect(changed.contains("fc.weight") && changed.count < initial.count, "changed: \(changed)")
    }

    @Test("under the default dynamic loss scale (2^16) fused and unfused plans of the digits CNN train differently from the first step that overflows part-way")
    func fusedDivergesUnderDynamicScaling() throws {
        // Why `fusedTrainsIdentically` uses a static scale: the dynamic scale halves from 2^16 over
        // the first steps on this batch; at 2^14 the unfused step skips and the fused one has updated
        // every layer but conv1. `plan --fit` turns fusion on unless --fuse-updates is given.
        let dynamic = PlanOptions.LossScaling.dynamic(initial: 65536, growthInterval: 2000)
        let unfused = try Self.train(fused: false, update: .fp32Master, lossScale: dynamic, steps: 4)
        let fused = try Self.train(fused: true, update: .fp32Master, lossScale: dynamic, steps: 4)
        print("dynamic scale, 4 steps: unfused \(unfused.steps), \(unfused.overflows) overflows; fused \(fused.steps), \(fused.overflows) overflows")
        #expect(Array(unfused.steps.prefix(3)) == Array(fused.steps.prefix(3)), "the same losses and verdicts up to the partial step")
        #expect(unfused.steps[3] != fused.steps[3] && unfused.parameters != fused.parameters)
    }
}

/// One lever, switched on.
struct PlanLever: Sendable, CustomTestStringConvertible {
    var flag: String
    var apply: @Sendable (inout PlanOptions) -> Void

    var testDescription: String { flag }

    func on(_ options: PlanOptions) -> PlanOptions {
        var o = options
        apply(&o)
        return o
    }

    static let fuse = PlanLever(flag: "--fuse-updates") { $0.fuseUpdates = true }
    static let halfChannels = PlanLever(flag: "--train-channels 0.5") { $0.trainedChannelFraction = 0.5 }
    static let fp16Update = PlanLever(flag: "--update fp16") { $0.update = .fp16 }
    static let fp16State = PlanLever(flag: "--state fp16") { $0.state = .fp16 }
    static let noMomentum = PlanLever(flag: "--momentum 0") { $0.momentum = 0 }
    static let fold = PlanLever(flag: "--fold-batchnorm") { $0.foldBatchNorm = true }
    /// Only from `--train all`: training biases needs backward through every layer, so it can need
    /// more than `last:K`.
    static let biases = PlanLever(flag: "--train biases") { $0.train = .biases }
    /// The levers that apply from any selection.
    static let all: [PlanLever] = [fuse, halfChannels, fp16Update, fp16State, noMomentum, fold]
}

struct StrictCase: Sendable, CustomTestStringConvertible {
    var lever: PlanLever
    var train: PlanOptions.TrainSelection
    var why: String
    var testDescription: String { "\(lever.flag) from --train \(train)" }
}

struct BackwardCase: Sendable, CustomTestStringConvertible {
    var train: PlanOptions.TrainSelection
    var firstLayer: String
    var gradients: Int
    var testDescription: String { "--train \(train)" }
}

/// Checks the placement a plan carries, on the offsets the plan file holds: the allocator's own
/// overlap check (`ArenaLayout.overlaps`), every arena tensor aligned and inside the arena, the
/// bound the largest live total at any op, and the arena at least that bound.
func expectPlacementInvariants(_ r: Planner.Result, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let a = PlanFormat.alignment
    let requests = Liveness.requests(for: r.program).map {
        BufferRequest(id: $0.id, bytes: ($0.bytes + a - 1) / a * a, firstUse: $0.firstUse, lastUse: $0.lastUse)
    }
    let offsets = Dictionary(uniqueKeysWithValues: requests.map { ($0.id, r.program.tensors[$0.id].offset) })
    let layout = ArenaLayout(offsets: offsets, peakBytes: r.memory.arenaBytes, lowerBoundBytes: r.memory.lowerBoundBytes, requests: requests)
    let overlaps = layout.overlaps().map { "\(r.program.tensors[$0.0].name) and \(r.program.tensors[$0.1].name)" }
    #expect(overlaps.isEmpty, "\(label): live at the same op and sharing bytes: \(overlaps.prefix(3))", sourceLocation: sourceLocation)
    let outside = requests.filter { offsets[$0.id]! < 0 || offsets[$0.id]! % a != 0 || offsets[$0.id]! + $0.bytes > r.memory.arenaBytes }
        .map { "\(r.program.tensors[$0.id].name) at \(offsets[$0.id]!) (+\($0.bytes))" }
    #expect(outside.isEmpty, "\(label): misaligned or outside the \(r.memory.arenaBytes) B arena: \(outside.prefix(3))", sourceLocation: sourceLocation)
    let live = Planner.liveBytesPerOp(r.program, alignment: a).max() ?? 0
    #expect(r.memory.lowerBoundBytes == live, "\(label): bound \(r.memory.lowerBoundBytes) B, largest live total \(live) B", sourceLocation: sourceLocation)
    #expect(r.memory.arenaBytes >= r.memory.lowerBoundBytes, "\(label): arena \(r.memory.arenaBytes) B under the bound \(r.memory.lowerBoundBytes) B", sourceLocation: sourceLocation)
    if let plan = try? LoadedPlan(bytes: r.bytes, path: label) {
        #expect(plan.plan.arenaBytes == r.memory.arenaBytes, "\(label): the plan file's arena differs", sourceLocation: sourceLocation)
    } else {
        Issue.record("\(label): the plan does not load", sourceLocation: sourceLocation)
    }
}

/// `PlanFit.search`, the engine of `plan --fit`: what it chooses under a budget, and what it says
/// when nothing fits.
struct PlanFitSearchTests {
    /// MobileNetV2 at batch 1 under 256 KiB SRAM and 1 MiB flash, searched once for the tests below.
    ///
    /// The channel fraction is pinned at 1, leaving 108 plans (54 selections × 2 update modes),
    /// ~45 s in a debug build. The full grid (426 plans) takes ~57 s in a release build but over
    /// 20 min in a debug one: for many fractional-channel plans the allocator lands a few bytes above
    /// the bound and its local search (up to 400 greedy passes) runs up to 25 s per plan. The full
    /// grid chooses the same plan (`--train last:1`, fp32 master copies, 198,736 B).
    static let mobileNet = Result<(graph: Graph, base: PlanOptions, result: PlanFit.Result), Error> {
        let graph = try importedGraph(path: PlannerLeverTests.mobileNet)
        var base = PlanOptions()
        base.batch = 1
        base.sramBudget = 256 * 1024
        base.flashBudget = 1 << 20
        var pinned = PlanFit.Pinned()
        pinned.channels = true
        let started = Date()
        let result = PlanFit.search(graph, base: base, pinned: pinned, source: "t")
        print("MobileNetV2 fit search: \(result.tried.count) plans in \(String(format: "%.1f", Date().timeIntervalSince(started))) s; "
              + (result.best.map { "chose \($0.flags): \($0.trainedElements) elements, \($0.arenaBytes) B SRAM, \($0.flashBytes) B flash" } ?? "nothing fits"))
        return (graph, base, result)
    }

    /// The digits CNN at batch 8 with SGD momentum 0.9, every lever searched.
    static func digitsCNN(sram: Int) throws -> (graph: Graph, base: PlanOptions, result: PlanFit.Result) {
        let graph = try PlannerLeverTests.cnn()
        var base = PlanOptions()
        base.batch = 8
        base.momentum = 0.9
        base.sramBudget = sram
        base.flashBudget = 1 << 20
        return (graph, base, PlanFit.search(graph, base: base, pinned: .init(), source: "t"))
    }

    /// Plans `candidate` as `plan --fit` does: its options with the search's budgets.
    static func replan(_ candidate: PlanFit.Candidate, _ graph: Graph, _ base: PlanOptions) throws -> Planner.Result {
        var o = candidate.options
        o.sramBudget = base.sramBudget
        o.flashBudget = base.flashBudget
        return try Planner.plan(graph, options: o, source: "t")
    }

    @Test("on MobileNetV2 at batch 1 under 256 KiB SRAM and 1 MiB flash the chosen plan fits, and plans under those budgets with the arena and flash the search measured")
    func mobileNetChoiceFits() throws {
        let (graph, base, result) = try Self.mobileNet.get()
        let best = try #require(result.best, "nothing fits: \(result.reasons)")
        #expect(best.fits && best.arenaBytes <= 256 * 1024 && best.flashBytes <= 1 << 20)
        let planned = try Self.replan(best, graph, base)
        #expect(planned.memory.arenaBytes == best.arenaBytes)
        #expect(planned.memory.flashBytes == best.flashBytes)
        #expect(planned.program.trainedElements == best.trainedElements)
        expectPlacementInvariants(planned, "MobileNetV2 \(best.flags)")
        print("MobileNetV2 fit: \(result.reasons.joined(separator: "; "))")
    }

    @Test("on MobileNetV2 no plan that fits 256 KiB SRAM and 1 MiB flash trains more elements than the chosen one")
    func mobileNetChoiceTrainsMost() throws {
        // At this budget the grid's suffixes fit only --train last:1; the greedy phase then adds
        // layers and biases below it while the plan still fits. The ranking by trained elements
        // bites in `mobileNetChannelsRanking` and `digitsCNNRanking`.
        let result = try Self.mobileNet.get().result
        let best = try #require(result.best)
        #expect(result.tried.count >= 108, "54 selections × 2 update modes, then the greedy phase")
        #expect(result.tried.filter(\.fits).allSatisfy { $0.trainedElements <= best.trainedElements },
                "\(result.tried.filter { $0.fits && $0.trainedElements > best.trainedElements }.map(\.flags))")
        // Checked on the measured figures too, not only on the search's own verdict.
        let more = result.tried.filter { $0.trainedElements > best.trainedElements }
        #expect(!more.isEmpty && more.allSatisfy { $0.arenaBytes > 256 * 1024 || $0.flashBytes > 1 << 20 },
                "\(more.filter { $0.arenaBytes <= 256 * 1024 && $0.flashBytes <= 1 << 20 }.map(\.flags))")
    }

    @Test("on MobileNetV2 training the classifier under 256 KiB, where every channel fraction fits, the search trains whole channels with fp32 master copies")
    func mobileNetChannelsRanking() throws {
        let graph = try Self.mobileNet.get().graph
        var base = try Self.mobileNet.get().base
        base.train = .last(1)
        var pinned = PlanFit.Pinned()
        pinned.train = true
        let result = PlanFit.search(graph, base: base, pinned: pinned, source: "t")
        // 4 channel fractions × 2 update modes, then the same plan without fused updates.
        #expect(result.tried.count >= 4 * 2 && result.tried.prefix(8).allSatisfy(\.fits))
        let best = try #require(result.best)
        print("MobileNetV2 --train last:1 fit: " + result.tried.map { "\($0.flags): \($0.trainedElements) elements, \($0.arenaBytes) B" }.joined(separator: "; "))
        #expect(best.options.trainedChannelFraction == 1 && best.options.update == .fp32Master, "chose \(best.flags)")
        #expect(result.tried.allSatisfy { $0.trainedElements <= best.trainedElements })
    }

    @Test("on the digits CNN under 6 KiB the search measures the whole grid and chooses what its ranking says: the most trained elements that fit, then fp32 master copies, then momentum, then the smaller arena")
    func digitsCNNRanking() throws {
        let (graph, base, result) = try Self.digitsCNN(sram: 6 * 1024)
        // 5 selections with 4 channel fractions and biases with 1, × 2 update modes × 2 momenta ×
        // whole batch or micro-batches of 1; then the greedy phase and the unfused check.
        #expect(result.tried.count >= (5 * 4 + 1) * 2 * 2 * 2)
        #expect(result.tried.allSatisfy { $0.fits == ($0.arenaBytes <= 6 * 1024 && $0.flashBytes <= 1 << 20) })
        let best = try #require(result.best)
        let most = try #require(result.tried.filter(\.fits).map(\.trainedElements).max())
        // The ranking's keys: trained elements, fp32 master copies, momentum, then whole batches.
        func key(_ c: PlanFit.Candidate) -> [Int] {
            [c.trainedElements, c.options.update == .fp32Master ? 1 : 0, c.options.effectiveMomentum > 0 ? 1 : 0,
             (c.options.microBatch ?? c.options.batch) < c.options.batch ? 0 : 1]
        }
        print("digits CNN under 6 KiB: chose \(best.flags) (\(best.trainedElements) elements, \(best.arenaBytes) B) of \(result.tried.filter(\.fits).count) that fit")
        #expect(best.fits && best.trainedElements == most)
        #expect(!result.tried.contains { $0.fits && key(best).lexicographicallyPrecedes(key($0)) }, "a fitting plan ranks above the choice")
        // Fused updates only when the same plan without them does not fit.
        if best.options.fuseUpdates {
            #expect(!result.tried.contains { $0.fits && !$0.options.fuseUpdates && key($0) == key(best) && $0.options.train == best.options.train })
        }
        #expect(best.trainedElements < result.tried.map(\.trainedElements).max()!, "the budget binds")
        #expect(try Self.replan(best, graph, base).memory.arenaBytes == best.arenaBytes)
    }

    @Test("under a 1 KiB budget nothing fits the digits CNN: there is no best, and the smallest candidate needs the least SRAM of every plan tried")
    func impossibleBudget() throws {
        let (graph, _, result) = try Self.digitsCNN(sram: 1024)
        #expect(result.best == nil)
        #expect(result.tried.allSatisfy { !$0.fits })
        let smallest = try #require(result.smallest)
        let least = try #require(result.tried.filter { $0.trainedElements > 0 }.map(\.arenaBytes).min())
        #expect(smallest.arenaBytes == least)
        #expect(smallest.arenaBytes > 1024)
        // The figure it names is what that plan needs: planned under exactly that budget, it fits.
        var o = smallest.options
        o.sramBudget = smallest.arenaBytes
        o.flashBudget = smallest.flashBytes
        #expect(try Planner.plan(graph, options: o, source: "t").memory.arenaBytes == smallest.arenaBytes)
        print("digits CNN under 1 KiB: smallest \(smallest.flags) needs \(smallest.arenaBytes) B SRAM, \(smallest.flashBytes) B flash")
    }
}
