import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepEmulator
@testable import HalfStepPlanner

/// Micro-batched plans under the emulated limits: the per-micro-batch loading allocates nothing,
/// the run stays inside the planned arena, and the work counts see every micro-batch.
struct MicroBatchEmulatorTests {
    func plan(micro: Int?) throws -> Planner.Result {
        let g = try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        var o = PlanOptions()
        o.batch = 16
        o.microBatch = micro
        o.momentum = 0.9
        o.learningRate = 0.005
        return try Planner.plan(g, options: o, source: "t")
    }

    @Test("a micro-batched plan runs under the emulator with no heap allocation and inside its planned arena")
    func runsWithoutAllocating() throws {
        let p = try plan(micro: 4)
        let samples = 48, features = 64
        let inputs = (0 ..< samples * features).map { Float16(Float(($0 * 7919) % 97) / 97 - 0.5) }
        let labels = (0 ..< samples).map { Int32($0 % 10) }
        let r = try Emulator.run(planBytes: p.bytes, planPath: "t", stackBytes: 512 * 1024, inputs: inputs,
                                 labels: labels, steps: 4, json: false, paint: 0xA5)
        #expect(r.heapAllocations == 0)
        #expect(r.arenaTouchedBytes <= p.memory.arenaBytes)
        #expect(r.appliedSteps + r.overflows == 4)
    }

    @Test("a micro-batched step counts the whole batch's MACs: forward and backward once per micro-batch, the updates once")
    func workCountsRepeatPerMicroBatch() throws {
        // The loaded plans own the bytes the `Plan` views read: keep them alive while it is used.
        let whole = try LoadedPlan(bytes: plan(micro: nil).bytes, path: "t")
        let split = try LoadedPlan(bytes: plan(micro: 4).bytes, path: "t")
        #expect(split.plan.config.microBatches == 4)
        let macs = whole.plan.stepWork(rows: 16).macs
        #expect(macs > 0)
        #expect(split.plan.stepWork(rows: 4).macs == macs)
        withExtendedLifetime((whole, split)) {}
    }
}
