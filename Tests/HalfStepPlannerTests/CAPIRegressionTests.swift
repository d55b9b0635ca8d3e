import Testing
import HalfStepCore
import HalfStepTestSupport
@testable import HalfStepPlanner

/// halfstep.h's float-target steps (`hs_train_step_targets`, `_f16`) for a regression plan, on the
/// host: the same functions a C firmware calls.
struct CAPIRegressionTests {
    typealias Memory = CAPITests.Memory
    static let features = 6, batch = 4

    /// An MLP autoencoder 6-8-6 with MSE, a cosine schedule, warm-up and clipping.
    func planned(loss: PlanOptions.Loss = .mse) throws -> [UInt8] {
        var o = options(batch: Self.batch, lr: 0.2)
        o.loss = loss
        o.schedule = .cosine(steps: 10, minimum: 0.01)
        o.warmupSteps = 3
        o.clipGradNorm = 0.5
        return try Planner.plan(makeMLP([Self.features, 8, Self.features]), options: o, source: "capi-ae").bytes
    }

    func ready(_ bytes: [UInt8]) throws -> Memory {
        let m = Memory(plan: bytes, arenaBytes: hs_plan_arena_bytes(bytes, bytes.count))
        #expect(m.initialise() == 0, "\(m.lastError)")
        return m
    }

    func data() -> Dataset {
        let d = syntheticData(count: 24, features: Self.features, classes: 2, seed: 11)
        return Dataset(inputs: d.inputs, targets: d.inputs, count: d.count, features: Self.features, outputs: Self.features)
    }

    @Test("target steps through the C API end with the host trainer's weights and losses, bit for bit, through the schedule and clipping")
    func targetStepsMatchTheHostTrainer() throws {
        let bytes = try planned()
        let data = data()
        let session = try TrainingSession(LoadedPlan(bytes: bytes, path: "capi-ae"))
        let m = try ready(bytes), h = try ready(bytes)
        for step in 0 ..< 12 {
            let rows = (0 ..< Self.batch).map { (step * Self.batch + $0) % data.count }
            let host = session.step(data, samples: rows[...])
            let x = rows.flatMap { r in data.inputs[r * Self.features ..< (r + 1) * Self.features].map { Float($0) } }
            var report = HSStepReport()
            #expect(hs_train_step_targets(m.storage, x, x, &report) == 0, "\(m.lastError)")
            #expect(report.loss.bitPattern == host.loss.bitPattern, "step \(step)")
            let halves = x.map { Float16($0).bitPattern }
            #expect(hs_train_step_targets_f16(h.storage, halves, halves, nil) == 0)
        }
        let plan = session.loaded.plan
        let trainable = (0 ..< plan.tensorCount).filter { plan.tensor($0).flags & TensorRecord.trainable != 0 }
        let host = trainable.map { Array(UnsafeRawBufferPointer(start: session.trainer.address(of: $0), count: Int(plan.tensor($0).bytes))) }
        let device = CAPITests().parameterBytes(m)
        #expect(device == host)
        #expect(CAPITests().parameterBytes(h) == host)
    }

    @Test("labels given to a regression plan, and targets to a classifier, are refused as the wrong loss")
    func wrongStepForTheLoss() throws {
        let m = try ready(try planned())
        let x = [Float](repeating: 0.5, count: Self.batch * Self.features)
        #expect(hs_train_step(m.storage, x, [0, 0, 0, 0], nil) == CAPIError.wrongLoss.rawValue)
        #expect(m.lastError.contains("hs_train_step_targets"))
        let classifier = try ready(try Planner.plan(makeMLP([Self.features, 8, 3]), options: options(batch: Self.batch), source: "c").bytes)
        #expect(hs_train_step_targets(classifier.storage, x, x, nil) == CAPIError.wrongLoss.rawValue)
    }

    @Test("a NaN target and a target past fp16's range are refused with the sample and output, before the step changes anything")
    func badTargetsRefused() throws {
        let m = try ready(try planned())
        let before = CAPITests().parameterBytes(m)
        let x = [Float](repeating: 0.5, count: Self.batch * Self.features)
        var t = x
        t[2 * Self.features + 3] = .nan
        #expect(hs_train_step_targets(m.storage, x, t, nil) == CAPIError.target.rawValue)
        #expect(m.lastError.contains("sample 2, output 3"), "\(m.lastError)")
        t[2 * Self.features + 3] = 70000
        #expect(hs_train_step_targets(m.storage, x, t, nil) == CAPIError.target.rawValue)
        var h = x.map { Float16($0).bitPattern }
        h[5] = Float16.infinity.bitPattern
        #expect(hs_train_step_targets_f16(m.storage, x.map { Float16($0).bitPattern }, h, nil) == CAPIError.target.rawValue)
        #expect(CAPITests().parameterBytes(m) == before)
        var counters = HSCounters()
        _ = hs_counters_get(m.storage, &counters)
        #expect(counters.steps == 0)
    }
}
