import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// Regression losses, learning-rate schedules and gradient clipping through the planner and the
/// trainer, against PyTorch (Tools/fixtures/make_regression.py: a 16-8-16 autoencoder, its batch
/// of 8 as its own targets, five SGD steps at lr 0.5 with momentum 0.9, StepLR(2, 0.5) and
/// clip_grad_norm_(0.05)).
struct RegressionTrainingTests {
    let dir = fixture("Tests/Fixtures/regression")

    struct Reference: Decodable {
        let loss_before: Double
        let loss_after: Double
        let gradient_norms: [Double]
        let first_weights_after: [Float]
    }

    func reference(_ loss: String) throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/reference.json"))
        let all = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let entry = try JSONSerialization.data(withJSONObject: all[loss]!)
        return try JSONDecoder().decode(Reference.self, from: entry)
    }

    func plannedOptions(_ loss: PlanOptions.Loss) -> PlanOptions {
        var o = options(batch: 8, momentum: 0.9, lr: 0.5, lossScale: .none)
        o.loss = loss
        o.schedule = .step(every: 2, gamma: 0.5)
        o.clipGradNorm = 0.05
        o.state = .fp32
        return o
    }

    func session(_ loss: PlanOptions.Loss) throws -> (TrainingSession, Dataset) {
        let g = try importedGraph(path: dir + "/ae.onnx")
        let plan = try Planner.plan(g, options: plannedOptions(loss), source: "ae")
        let session = try TrainingSession(LoadedPlan(bytes: plan.bytes, path: "ae"))
        let data = try Dataset.load(inputs: dir + "/x.npy", targets: dir + "/x.npy", expectedFeatures: 16, outputs: 16)
        return (session, data)
    }

    @Test("MSE, L1 and Huber losses on the batch match PyTorch's, and after five clipped, scheduled steps still do",
          arguments: [("mse", PlanOptions.Loss.mse), ("l1", .l1), ("huber:0.1", .huber(0.1))])
    func lossesMatchPyTorch(name: String, loss: PlanOptions.Loss) throws {
        let ref = try reference(name)
        let (session, data) = try session(loss)
        let before = session.evaluate(data)
        #expect(before.accuracy.isNaN)
        #expect(abs(before.loss - ref.loss_before) <= 2e-4 * max(1, ref.loss_before) + 1e-5, "\(name): \(before.loss) vs \(ref.loss_before)")
        var norms: [Float] = []
        for _ in 0 ..< 5 {
            #expect(session.step(data, samples: 0 ..< 8).status == .applied)
            norms.append(session.trainer.lastGradientNorm)
        }
        expectClose(norms, ref.gradient_norms, tolerance: Tolerance(absolute: 1e-4, relative: 1e-2), "\(name) gradient norms")
        let after = session.evaluate(data)
        #expect(after.loss < before.loss)
        #expect(abs(after.loss - ref.loss_after) <= 2e-4 * max(1, ref.loss_after) + 2e-5, "\(name): \(after.loss) vs \(ref.loss_after)")
        let weights = session.trainedParameters()["0.weight"] ?? []
        expectClose(weights.prefix(8), ref.first_weights_after, tolerance: Tolerance(absolute: 2e-3), "\(name) first weights")
        #expect(session.trainer.learningRate == 0.125)
    }

    @Test("a plan with every extension default writes the 64-byte config; one with a regression loss writes 96 bytes that read back the same")
    func configExtensionRoundTrips() throws {
        let g = try importedGraph(path: dir + "/ae.onnx")
        var plain = options(batch: 8)
        plain.loss = .crossEntropy
        let classic = try Planner.plan(g, options: plain, source: "ae")
        #expect(try LoadedPlan(bytes: classic.bytes, path: "ae").plan.header.configBytes == 64)
        var o = plannedOptions(.huber(0.25))
        o.schedule = .cosine(steps: 300, minimum: 0.01)
        o.warmupSteps = 20
        let extended = try LoadedPlan(bytes: try Planner.plan(g, options: o, source: "ae").bytes, path: "ae").plan
        #expect(extended.header.configBytes == 96)
        let c = extended.config
        #expect(c.lossKind == .huber && c.huberDelta == 0.25 && c.schedule == .cosine && c.scheduleSteps == 300)
        #expect(c.scheduleFactor == 0.01 && c.warmupSteps == 20 && c.clipGradNorm == 0.05 && c.classes == 16)
    }

    @Test("targets whose shape is not the output's, and NaN targets, are refused naming the file and what was expected")
    func badTargetsAreRefused() throws {
        let x = try NpyReader.read(path: dir + "/x.npy")
        let narrow = NpyArray(float32: Array(x.floats().prefix(8 * 15)), shape: [8, 15])
        #expect(throws: NpyError.targetsShape(path: "t.npy", shape: [8, 15], outputs: 16)) {
            try Dataset.make(x, inputsPath: "x.npy", targets: narrow, targetsPath: "t.npy", expectedFeatures: 16, outputs: 16)
        }
        var values = x.floats()
        values[21] = .nan
        let nan = NpyArray(float32: values, shape: [8, 16])
        let error = #expect(throws: NpyError.self) {
            try Dataset.make(x, inputsPath: "x.npy", targets: nan, targetsPath: "t.npy", expectedFeatures: 16, outputs: 16)
        }
        #expect("\(error!)".contains("t.npy: element 21 is nan"))
        let labels = NpyArray(int64: [Int64](repeating: 0, count: 8), shape: [8])
        #expect(throws: NpyError.targetsNotFloats(path: "y.npy", dtype: "int64")) {
            try Dataset.make(x, inputsPath: "x.npy", targets: labels, targetsPath: "y.npy", expectedFeatures: 16, outputs: 16)
        }
    }

    @Test("class labels given to a regression plan are refused before training, saying that it needs targets")
    func labelsForARegressionPlanAreRefused() throws {
        let (session, _) = try session(.mse)
        let x = try NpyReader.read(path: dir + "/x.npy")
        let classes = Dataset(inputs: x.floats().map { Float16($0) }, labels: [Int32](repeating: 0, count: 8), count: 8, features: 16)
        #expect(throws: TrainingError.wrongKindOfData(role: "training", regression: true)) {
            try TrainingLoop.run(session, train: classes, eval: nil, settings: .init(steps: 1)) { _ in }
        }
    }

    @Test("a NaN target that reaches the trainer stops the step before anything changes")
    func nanTargetStopsTheStep() throws {
        let (session, data) = try session(.mse)
        var bad = data
        bad.targets[3 * 16 + 5] = .nan
        let weights = session.trainedParameters()
        #expect(session.step(bad, samples: 0 ..< 8).status == .invalidTarget(row: 3))
        #expect(session.trainedParameters() == weights)
        #expect(session.trainer.counters.steps == 0)
    }

    @Test("clipping refuses fused updates: the norm needs every gradient before the first update")
    func clippingRefusesFusedUpdates() throws {
        var o = plannedOptions(.mse)
        o.fuseUpdates = true
        #expect(throws: PlannerError.self) { try o.validate() }
    }
}
