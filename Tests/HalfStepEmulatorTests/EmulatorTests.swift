import Foundation
import Testing
import HalfStepCore
import HalfStepTestSupport
@testable import HalfStepEmulator
@testable import HalfStepPlanner

/// The emulator run in process (faults are exercised in subprocesses by the CLI tests).
struct EmulatorTests {
    /// Debug builds use far more host stack than the device would; these runs are about memory,
    /// not the stack limit, so they get plenty.
    let roomyStack = 512 * 1024

    func randomMLP(_ rng: inout SplitMix64) -> (Graph, PlanOptions) {
        let depth = 1 + Int(rng.next() % 3)
        var sizes = [4 + Int(rng.next() % 60)]
        for _ in 0 ..< depth { sizes.append(2 + Int(rng.next() % 40)) }
        var g = Graph()
        g.values.append(.init(name: "input", shape: [sizes[0]]))
        for (i, (k, m)) in zip(sizes, sizes.dropFirst()).enumerated() {
            let w = (0 ..< k * m).map { _ in Float(Int(rng.next() % 200) - 100) / 400 }
            g.parameters.append(.init(name: "w\(i)", shape: [m, k], values: w))
            g.parameters.append(.init(name: "b\(i)", shape: [m], values: [Float](repeating: 0.01, count: m)))
            let x = g.values.count - 1
            g.values.append(.init(name: "h\(i)", shape: [m]))
            g.nodes.append(.init(name: "fc\(i)", op: .dense(weight: 2 * i, bias: 2 * i + 1, alpha: 1, beta: 1), inputs: [x], outputs: [x + 1]))
            if i < depth - 1 {
                g.values.append(.init(name: "r\(i)", shape: [m]))
                g.nodes.append(.init(name: "relu\(i)", op: .relu, inputs: [x + 1], outputs: [x + 2]))
            }
        }
        g.output = g.values.count - 1
        g.outputName = g.values[g.output].name
        var o = PlanOptions()
        o.batch = 1 + Int(rng.next() % 16)
        o.train = [.all, .biases, .last(1)][Int(rng.next() % 3)]
        o.update = rng.next() % 2 == 0 ? .fp16 : .fp32Master
        o.momentum = rng.next() % 2 == 0 ? 0.9 : 0
        o.learningRate = 0.01
        return (g, o)
    }

    @Test("for random MLP shapes the SRAM a run touches is the planner's reported peak, to within one alignment slot")
    func touchedArenaMatchesPlannedPeak() throws {
        var rng = SplitMix64(seed: 2024)
        for trial in 0 ..< 12 {
            let (graph, options) = randomMLP(&rng)
            let plan = try Planner.plan(graph, options: options, source: "random")
            let features = graph.values[0].shape[0], classes = graph.values[graph.output].shape[0]
            let samples = 3 * options.batch
            let inputs = (0 ..< samples * features).map { Float16(Float(($0 * 7919) % 97) / 97 - 0.5) }
            let labels = (0 ..< samples).map { Int32($0 % classes) }
            var touched = 0
            for paint: UInt8 in [0x00, 0xFF] {
                let r = try Emulator.run(planBytes: plan.bytes, planPath: "random", stackBytes: roomyStack, inputs: inputs,
                                         labels: labels, steps: 3, json: false, paint: paint)
                #expect(r.arenaBytes == plan.memory.arenaBytes)
                #expect(r.heapAllocations == 0, "trial \(trial): \(r.heapAllocations) allocations")
                touched = max(touched, r.arenaTouchedBytes)
            }
            #expect(touched <= plan.memory.arenaBytes, "trial \(trial)")
            #expect(touched > plan.memory.arenaBytes - PlanFormat.alignment, "trial \(trial): touched \(touched) of \(plan.memory.arenaBytes)")
        }
    }

    @Test("the emulated run trains: the loss falls and the stack high-water is measured")
    func emulatedRunTrains() throws {
        var rng = SplitMix64(seed: 7)
        let (graph, _) = randomMLP(&rng)
        var o = PlanOptions()
        o.batch = 8
        o.learningRate = 0.1
        o.momentum = 0.9
        let plan = try Planner.plan(graph, options: o, source: "r")
        let features = graph.values[0].shape[0], classes = graph.values[graph.output].shape[0]
        let inputs = (0 ..< 8 * features).map { Float16(Float(($0 * 31) % 17) / 17) }
        let labels = (0 ..< 8).map { Int32($0 % classes) }
        let r = try Emulator.run(planBytes: plan.bytes, planPath: "r", stackBytes: roomyStack, inputs: inputs, labels: labels, steps: 60, json: false)
        #expect(r.lastLoss < r.firstLoss)
        #expect(r.stackHighWaterBytes > 256 && r.stackHighWaterBytes < roomyStack)
        #expect(r.stepWork.macs > 0)
    }

    @Test("a regression plan's emulated run trains on its targets; missing targets or labels are refused before the run, never indexed")
    func regressionRunAndMismatchedData() throws {
        var rng = SplitMix64(seed: 7)
        let (graph, _) = randomMLP(&rng)
        var o = PlanOptions()
        o.batch = 8
        o.learningRate = 0.1
        o.momentum = 0.9
        o.loss = .mse
        o.clipGradNorm = 1
        let plan = try Planner.plan(graph, options: o, source: "r")
        let features = graph.values[0].shape[0], outputs = graph.values[graph.output].shape[0]
        let inputs = (0 ..< 8 * features).map { Float16(Float(($0 * 31) % 17) / 17) }
        let targets = (0 ..< 8 * outputs).map { Float16(Float(($0 * 7) % 5) / 5) }
        let r = try Emulator.run(planBytes: plan.bytes, planPath: "r", stackBytes: roomyStack, inputs: inputs, labels: [],
                                 targets: targets, steps: 40, json: false)
        #expect(r.lastLoss < r.firstLoss)
        #expect(r.heapAllocations == 0)
        #expect(throws: EmulatorError.self) {
            try Emulator.run(planBytes: plan.bytes, planPath: "r", stackBytes: roomyStack, inputs: inputs, labels: [Int32](repeating: 0, count: 8), steps: 1, json: false)
        }
    }

    @Test("work counts follow the kernels' loops: a dense layer's forward is N·K·M MACs")
    func workCounts() throws {
        var g = Graph()
        g.values = [.init(name: "x", shape: [5]), .init(name: "y", shape: [3])]
        g.parameters = [.init(name: "w", shape: [3, 5], values: [Float](repeating: 0.1, count: 15))]
        g.nodes = [.init(name: "fc", op: .dense(weight: 0, bias: nil, alpha: 1, beta: 1), inputs: [0], outputs: [1])]
        g.output = 1
        var o = PlanOptions()
        o.batch = 4
        let plan = try Planner.plan(g, options: o, source: "w")
        let loaded = try LoadedPlan(bytes: plan.bytes, path: "w")
        let forward = OpWork.of(loaded.plan.op(0), rows: 4)
        #expect(forward.macs == 4 * 5 * 3)
        // Backward of the only layer computes dW (no dx below the first layer): N·K·M again.
        let step = loaded.plan.stepWork(rows: 4)
        #expect(step.macs == 2 * 4 * 5 * 3)
        // Software floating point makes a MAC several times dearer on a Cortex-M0+ than on an M4F.
        var big = OpWork()
        big.macs = 1_000_000
        big.loads = 2_000_000
        big.conversions = 2_000_000
        func cycles(_ core: TargetProfile.Core) -> Double {
            let model = CostModel.forCore(core)
            return model.instructions(.denseForward, big, ops: 1) * model.cyclesPerInstruction
        }
        #expect(cycles(.cortexM0Plus) > 5 * cycles(.cortexM4F))
        #expect(cycles(.cortexM7) < cycles(.cortexM4F))
    }

    @Test("every kernel family has its own rate on every core the cost model knows")
    func everyFamilyPriced() {
        #expect(KernelFamily.all.count == 14)
        for core in [TargetProfile.Core.cortexM0Plus, .cortexM4F, .cortexM33, .cortexM7, .cortexM55] {
            let model = CostModel.forCore(core)
            for family in KernelFamily.all { #expect(model.rates[family] != nil, "\(core) has no rate for \(family)") }
        }
    }

    @Test("a CNN step's work by kernel family adds up to its whole work, each convolution in the family its window says")
    func familyWorkAddsUp() throws {
        let g = try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        var o = PlanOptions()
        o.batch = 8
        let loaded = try LoadedPlan(bytes: try Planner.plan(g, options: o, source: "cnn").bytes, path: "cnn")
        let byFamily = loaded.plan.familyWork(rows: 8)
        #expect(byFamily.values.reduce(OpWork()) { $0 + $1.work } == loaded.plan.stepWork(rows: 8))
        #expect(byFamily.values.reduce(0) { $0 + $1.ops } == loaded.plan.opCount)
        // The digits CNN has a 3×3 convolution, a depthwise one and two 1×1 ones, all trained.
        for family in [KernelFamily.convolutionForward, .convolutionBackward, .depthwiseForward, .depthwiseBackward,
                       .pointwiseForward, .pointwiseBackward, .denseForward, .pooling, .elementwise, .loss, .update] {
            #expect((byFamily[family]?.work.macs ?? 0) > 0 || (byFamily[family]?.ops ?? 0) > 0, "no \(family) work")
        }
        #expect(byFamily[.expandDepthwise] == nil)
        withExtendedLifetime(loaded) {}
    }
}
