import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// Micro-batches with gradient accumulation: a batch of 32 planned as k × (32/k) must train like
/// the whole batch (the same gradient, up to the fp16 rounding of k partial sums) in less SRAM.
struct MicroBatchTests {
    let digits = fixture("Tools/examples/digits")

    func graph() throws -> Graph { try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx")) }

    func data() throws -> Dataset {
        try Dataset.load(inputs: digits + "/shifted-train-x.npy", labels: digits + "/shifted-train-y.npy", expectedFeatures: 64, classes: 10)
    }

    /// Plain SGD on fp32 master copies without loss scaling, so one step's weight change is
    /// −lr × gradient with nothing else in the way.
    func options(micro: Int?) -> PlanOptions {
        var o = PlanOptions()
        o.batch = 32
        o.microBatch = micro
        o.momentum = 0
        o.learningRate = 0.5
        o.lossScale = .none
        return o
    }

    /// Weight change of every trainable tensor after one step on the first 32 samples.
    func stepDelta(_ g: Graph, _ o: PlanOptions, data: Dataset) throws -> (delta: [String: [Double]], loss: Float) {
        let plan = try Planner.plan(g, options: o, source: "t")
        let session = try TrainingSession(LoadedPlan(bytes: plan.bytes, path: "t"))
        let before = session.trainedParameters()
        let r = session.step(data, samples: 0 ..< 32)
        #expect(r.status == .applied)
        let after = session.trainedParameters()
        var delta: [String: [Double]] = [:]
        for (name, b) in before { delta[name] = zip(after[name]!, b).map { Double($0) - Double($1) } }
        return (delta, r.loss)
    }

    @Test("a batch of 32 run as 4 micro-batches of 8 or 32 of 1 changes the weights as the whole batch does, within fp16 rounding of the partial sums")
    func microBatchesGiveTheWholeBatchGradient() throws {
        let g = try graph(), d = try data()
        let whole = try stepDelta(g, options(micro: nil), data: d)
        for micro in [8, 1] {
            let split = try stepDelta(g, options(micro: micro), data: d)
            // The loss is the mean over the same 32 samples, summed in another order.
            #expect(abs(split.loss - whole.loss) <= 1e-4 * abs(whole.loss), "micro-batch \(micro): loss \(split.loss) vs \(whole.loss)")
            var worst = 0.0, scaleOfChange = 0.0
            for (name, w) in whole.delta {
                let s = split.delta[name]!
                for (a, b) in zip(s, w) { worst = max(worst, abs(a - b)); scaleOfChange = max(scaleOfChange, abs(b)) }
            }
            // Each micro-batch's gradient is rounded to fp16 before it is summed, and the sum is
            // rounded again: ≤ k + 1 roundings of 2⁻¹¹ relative on the largest change, plus the
            // reading of the weights back through fp16 (one fp16 ulp of the weight, ≤ 2⁻¹¹ · 4).
            let tolerance = Double(micro == 8 ? 5 : 33) * 0x1p-11 * scaleOfChange + 0x1p-9
            #expect(worst <= tolerance, "micro-batch \(micro): worst weight-change difference \(worst), tolerance \(tolerance) (largest change \(scaleOfChange))")
            #expect(scaleOfChange > 1e-3, "the step must move the weights for the comparison to mean anything")
        }
    }

    @Test("micro-batches shrink the planned arena: activations for the micro-batch, plus one gradient sum per trainable tensor")
    func microBatchesShrinkTheArena() throws {
        let g = try graph()
        let whole = try Planner.plan(g, options: options(micro: nil), source: "t")
        let eight = try Planner.plan(g, options: options(micro: 8), source: "t")
        let one = try Planner.plan(g, options: options(micro: 1), source: "t")
        #expect(eight.memory.arenaBytes < whole.memory.arenaBytes)
        #expect(one.memory.arenaBytes < eight.memory.arenaBytes)
        let sums = one.program.tensors.filter { $0.role == .gradientSum }
        let trainable = one.program.tensors.filter { $0.trainable }
        #expect(sums.count == trainable.count, "\(sums.count) gradient sums for \(trainable.count) trainable tensors")
        #expect(!whole.program.tensors.contains { $0.role == .gradientSum })
        for plan in [whole, eight, one] {
            #expect(plan.memory.arenaBytes >= plan.memory.lowerBoundBytes)
            let requests = Liveness.requests(for: plan.program)
            for a in requests {
                for b in requests where a.id < b.id && a.firstUse <= b.lastUse && b.firstUse <= a.lastUse && a.bytes > 0 && b.bytes > 0 {
                    let ta = plan.program.tensors[a.id], tb = plan.program.tensors[b.id]
                    #expect(ta.offset + ta.bytes <= tb.offset || tb.offset + tb.bytes <= ta.offset, "\(ta.name) overlaps \(tb.name)")
                }
            }
        }
        #expect(one.program.config.microBatches == 32 && Int(one.program.config.batch) == 1)
    }

    @Test("a micro-batch that does not divide the batch, or fused updates with micro-batches, are refused naming the flag")
    func badMicroBatchesAreRefused() throws {
        let g = try graph()
        var o = options(micro: 5)
        expectError({ _ = try Planner.plan(g, options: o, source: "t") }, throws: { "\($0)".contains("--micro-batch") })
        o = options(micro: 8)
        o.fuseUpdates = true
        expectError({ _ = try Planner.plan(g, options: o, source: "t") }, throws: { "\($0)".contains("--fuse-updates") })
    }

    @Test("the verifier refuses a micro-batched plan whose updates are fused into backward")
    func verifierRefusesFusedUpdatesWithMicroBatches() throws {
        let g = try graph()
        var o = options(micro: nil)
        o.fuseUpdates = true
        var program = try Planner.plan(g, options: o, source: "t").program
        program.config.microBatchesRaw = 4
        let bytes = try PlanWriter.encode(program, arenaBytes: program.tensors.filter { $0.region == .arena }.map { $0.offset + $0.bytes }.max() ?? 0, source: "t")
        expectError({ _ = try LoadedPlan(bytes: bytes, path: "t") }, throws: { "\($0)".contains("op") })
    }
}
