import CHeapCounter
import Foundation
import Testing
import HalfStepTestSupport
@testable import HalfStepCore
@testable import HalfStepPlanner

/// The core's trainer, driven through plans the planner made.
struct TrainerTests {
    let graph = makeMLP([16, 24, 12, 4], seed: 5)
    let data = syntheticData(count: 512, features: 16, classes: 4, seed: 7)

    func session(_ o: PlanOptions) throws -> TrainingSession {
        let r = try Planner.plan(graph, options: o, source: "s")
        return try TrainingSession(LoadedPlan(bytes: r.bytes, path: "s"))
    }

    @Test("training lowers the loss and raises accuracy, for fp32-master and fp16 updates")
    func learns() throws {
        for update: UpdateMode in [.fp32Master, .fp16] {
            let s = try session(options(batch: 16, update: update, lr: 0.1))
            let before = s.evaluate(data)
            let summary = try TrainingLoop.run(s, train: data, eval: data, settings: .init(steps: 300)) { _ in }
            #expect(summary.evalAfter!.loss < before.loss * 0.7, "\(update): loss \(before.loss) → \(summary.evalAfter!.loss)")
            #expect(summary.evalAfter!.accuracy > before.accuracy + 0.2, "\(update): accuracy \(before.accuracy) → \(summary.evalAfter!.accuracy)")
        }
    }

    @Test("a training step allocates nothing on the heap: 100 steps, zero allocations")
    func stepsDoNotAllocate() throws {
        let s = try session(options(batch: 16))
        // The batch is reloaded before every step: the plan reuses the input and label buffers
        // for gradients once the step no longer needs them.
        s.step(data, samples: 0 ..< 16)   // warm up: first-use runtime work is not the step's
        hs_heap_counting_begin()
        for i in 0 ..< 100 { s.step(data, samples: (i % 8) * 16 ..< (i % 8 + 1) * 16) }
        let allocations = hs_heap_counting_end()
        #expect(allocations == 0)
        #expect(s.trainer.counters.appliedSteps + s.trainer.counters.skippedSteps == 101)
    }

    @Test("the training loop's heap allocations do not grow with the step count: 2,000 steps allocate about what 100 do")
    func loopAllocationsDoNotGrow() throws {
        func allocations(steps: Int) throws -> Int {
            let s = try session(options(batch: 16))
            s.step(data, samples: 0 ..< 16)   // warm up: first-use runtime work is not the loop's
            var printed = 0
            hs_heap_counting_begin()
            let summary = try TrainingLoop.run(s, train: data, eval: nil, settings: .init(steps: steps, shuffleSeed: 3)) { p in
                if p.step == p.steps { printed += 1 }
            }
            let count = hs_heap_counting_end()
            #expect(summary.steps == steps && printed == 1)
            return count
        }
        _ = try allocations(steps: 10)   // the runtime's one-time work (metadata, caches) happens here
        // 512 samples in batches of 16: 100 steps cross 3 epochs, 2,000 steps 63. A loop that
        // allocated per step or per epoch would differ by 60 or more; the Swift runtime's own
        // bookkeeping varies by a few allocations between runs.
        let short = try allocations(steps: 100), long = try allocations(steps: 2000)
        #expect(long - short <= 10, "\(short) allocations for 100 steps, \(long) for 2,000")
    }

    @Test("an overflowing loss scale skips the step, leaves the weights untouched and halves the scale")
    func overflowSkipsStep() throws {
        let s = try session(options(batch: 16, lossScale: .dynamic(initial: 1e9, growthInterval: 2000)))
        let before = s.trainedParameters()
        let first = s.step(data, samples: 0 ..< 16)
        #expect(first.status == .skippedOverflow)
        #expect(s.trainedParameters() == before)
        #expect(s.trainer.scaler.scale == 5e8)
        #expect(s.trainer.counters.overflows == 1 && s.trainer.counters.skippedSteps == 1)
        var steps = 1
        while s.step(data, samples: 0 ..< 16).status != .applied && steps < 40 { steps += 1 }
        #expect(steps < 40)
        #expect(s.trainedParameters() != before)
    }

    @Test("a label outside the classes stops the step before anything runs")
    func invalidLabel() throws {
        let s = try session(options(batch: 4))
        let bad = Dataset(inputs: data.inputs, labels: data.labels.enumerated().map { $0.offset == 2 ? 9 : $0.element },
                          count: data.count, features: data.features)
        let before = s.trainedParameters()
        let r = s.step(bad, samples: 0 ..< 4)
        #expect(r.status == .invalidLabel(row: 2))
        #expect(s.trainedParameters() == before)
        #expect(s.trainer.counters.steps == 0)
    }

    @Test("the same plan, data and seed give bit-identical weights")
    func deterministic() throws {
        func run() throws -> [String: [Float]] {
            let s = try session(options(batch: 16, update: .fp16))
            _ = try TrainingLoop.run(s, train: data, eval: nil, settings: .init(steps: 50, shuffleSeed: 3)) { _ in }
            return s.trainedParameters()
        }
        #expect(try run() == run())
    }

    @Test("pure fp16 updates with a tiny learning rate count their underflows")
    func underflowsAreCounted() throws {
        let s = try session(options(batch: 16, update: .fp16, momentum: 0, lr: 1e-6))
        _ = try TrainingLoop.run(s, train: data, eval: nil, settings: .init(steps: 5)) { _ in }
        let c = s.trainer.counters
        #expect(c.nonzeroUpdates > 0)
        #expect(c.updateUnderflows > c.nonzeroUpdates / 2, "\(c.updateUnderflows) of \(c.nonzeroUpdates)")
        let master = try session(options(batch: 16, update: .fp32Master, momentum: 0, lr: 1e-6))
        _ = try TrainingLoop.run(master, train: data, eval: nil, settings: .init(steps: 5)) { _ in }
        #expect(master.trainer.counters.updateUnderflows < c.updateUnderflows)
    }

    @Test("Adam and AdamW with fp16 state train without collapsing")
    func adamTrains() throws {
        for optimizer: OptimizerKind in [.adam, .adamW] {
            var o = options(batch: 16, update: .fp16, optimizer: optimizer, momentum: nil, lr: 0.01)
            o.state = .fp16
            let s = try session(o)
            let before = s.evaluate(data)
            let summary = try TrainingLoop.run(s, train: data, eval: data, settings: .init(steps: 200)) { _ in }
            #expect(summary.evalAfter!.loss.isFinite)
            #expect(summary.evalAfter!.loss < before.loss * 0.7, "\(optimizer): \(before.loss) → \(summary.evalAfter!.loss)")
        }
    }
}

/// Per-tensor diagnostics and the warnings `train` prints.
struct DiagnosticsTests {
    let graph = makeMLP([16, 24, 12, 4], seed: 5)
    let data = syntheticData(count: 512, features: 16, classes: 4, seed: 7)

    @Test("every trainable tensor reports its updates, underflows and largest gradient")
    func perTensor() throws {
        let r = try Planner.plan(graph, options: options(batch: 16, update: .fp16, momentum: 0, lr: 1e-5), source: "s")
        let s = try TrainingSession(LoadedPlan(bytes: r.bytes, path: "s"))
        let summary = try TrainingLoop.run(s, train: data, eval: nil, settings: .init(steps: 40)) { _ in }
        #expect(summary.tensors.map(\.name) == ["fc0.weight", "fc0.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        let total = summary.tensors.reduce(0) { $0 + $1.diagnostics.updateUnderflows }
        #expect(total == summary.counters.updateUnderflows)
        #expect(summary.tensors.allSatisfy { $0.diagnostics.gradientMaxAbs > 0 && $0.update == "fp16" })
        #expect(summary.underflowRate.count == 40)
    }

    @Test("the largest-gradient figure is the largest finite |g| over the step's gradient, unscaled, and an inf or NaN counts an overflow step")
    func gradientPeakIsExact() throws {
        let r = try Planner.plan(graph, options: options(batch: 16, update: .fp16, momentum: 0, lr: 1e-5,
                                                         lossScale: .dynamic(initial: 1024, growthInterval: 2000)), source: "s")
        let s = try TrainingSession(LoadedPlan(bytes: r.bytes, path: "s"))
        let result = s.step(data, samples: 0 ..< 16)
        #expect(result.status == .applied)
        let plan = s.trainer.plan
        var ordinal = 0
        for i in 0 ..< plan.opCount where plan.op(i).phase == .update {
            let op = plan.op(i)
            let grad = s.trainer.halfView(op.operand(1)!)
            var peak: Float = 0
            for j in 0 ..< op.param(0) where grad[j].isFinite { peak = max(peak, Float(grad[j].magnitude)) }
            #expect(s.trainer.diagnostics![ordinal].gradientMaxAbs == peak / 1024, "update op \(i)")
            #expect(s.trainer.diagnostics![ordinal].overflowSteps == 0)
            ordinal += 1
        }
        // One NaN and one inf in the first gradient: the peak ignores them, the step overflows.
        let first = (0 ..< plan.opCount).first { plan.op($0).phase == .update }!
        let grad = s.trainer.halfView(plan.op(first).operand(1)!)
        grad[0] = .nan
        grad[1] = -.infinity
        grad[2] = 3
        var peak: Float = 0
        for j in 0 ..< plan.op(first).param(0) where grad[j].isFinite { peak = max(peak, Float(grad[j].magnitude)) }
        let before = s.trainer.diagnostics![0]
        #expect(!s.trainer.gradientIsFinite(plan.op(first), ordinal: 0, scale: 2))
        #expect(s.trainer.diagnostics![0].overflowSteps == before.overflowSteps + 1)
        #expect(s.trainer.diagnostics![0].gradientMaxAbs == max(before.gradientMaxAbs, peak / 2) && peak >= 3)
    }

    @Test("a run stalled by fp16 rounding gets a warning naming the tensor and the modes that would help")
    func stallWarning() throws {
        let r = try Planner.plan(graph, options: options(batch: 16, update: .fp16, momentum: 0, lr: 1e-6), source: "s")
        let s = try TrainingSession(LoadedPlan(bytes: r.bytes, path: "s"))
        let summary = try TrainingLoop.run(s, train: data, eval: nil, settings: .init(steps: 80)) { _ in }
        #expect(summary.warnings.contains { $0.contains("fp16-stochastic or fp16-kahan") }, "\(summary.warnings)")
        let fine = try Planner.plan(graph, options: options(batch: 16, update: .fp32Master, lr: 0.1), source: "s")
        let healthy = try TrainingLoop.run(try TrainingSession(LoadedPlan(bytes: fine.bytes, path: "s")), train: data, eval: nil,
                                           settings: .init(steps: 80)) { _ in }
        #expect(healthy.warnings.isEmpty, "\(healthy.warnings)")
    }

    @Test("the run report is one SVG with a panel per signal")
    func report() throws {
        let r = try Planner.plan(graph, options: options(batch: 16), source: "s")
        let s = try TrainingSession(LoadedPlan(bytes: r.bytes, path: "s"))
        let summary = try TrainingLoop.run(s, train: data, eval: data, settings: .init(steps: 30, evalEvery: 10)) { _ in }
        let svg = RunReport.svg(summary, title: "t")
        #expect(svg.hasPrefix("<svg") && svg.components(separatedBy: "<polyline").count - 1 == 4)
        #expect(summary.evalHistory.map(\.step) == [10, 20, 30])
    }
}
