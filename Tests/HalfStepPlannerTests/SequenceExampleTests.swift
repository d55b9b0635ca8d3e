import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// The two examples of issue 16 against their PyTorch fp32 references (means over data orders
/// 0-4, Tools/fixtures/make_sensor_drift.py and make_anomaly.py): a 1-D CNN under sensor gain
/// and offset drift within 2 points of PyTorch's accuracy, an MSE autoencoder on a drifted machine
/// within 10% of its MSE with its anomaly ROC AUC within 0.01.
struct SequenceExampleTests {
    static func reference(_ example: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture("Tools/examples/\(example)/reference.json")))) as! [String: Any]
    }

    static func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }

    func continuation(_ ref: [String: Any]) -> (recipe: [String: Any], results: [String: Any]) {
        let c = ref["fp32_continuation"] as! [String: Any]
        return (c["recipe"] as! [String: Any], c)
    }

    func options(_ r: [String: Any], loss: PlanOptions.Loss) -> PlanOptions {
        var o = PlanOptions()
        o.batch = r["batch"] as! Int
        o.learningRate = Float(r["lr"] as! Double)
        o.momentum = Float(r["momentum"] as! Double)
        o.loss = loss
        return o
    }

    @Test("the sensor-drift 1-D CNN continues from 44.5% to within 2 points of PyTorch fp32's mean accuracy")
    func sensorDrift() throws {
        let dir = fixture("Tools/examples/sensor-drift")
        let (recipe, results) = continuation(try Self.reference("sensor-drift"))
        let plan = try Planner.plan(try importedGraph(path: dir + "/model.onnx"), options: options(recipe, loss: .crossEntropy), source: "sensor-drift")
        let loaded = try LoadedPlan(bytes: plan.bytes, path: "sensor-drift")
        let probe = try TrainingSession(loaded)
        let train = try Dataset.load(inputs: dir + "/drift-train-x.npy", labels: dir + "/drift-train-y.npy", expectedFeatures: probe.features, classes: probe.classes)
        let test = try Dataset.load(inputs: dir + "/drift-test-x.npy", labels: dir + "/drift-test-y.npy", expectedFeatures: probe.features, classes: probe.classes)
        #expect(abs(probe.evaluate(test).accuracy - 0.445) < 0.005)
        var accuracies: [Double] = []
        for seed in 0 ..< 5 {
            let s = try TrainingLoop.run(try TrainingSession(loaded), train: train, eval: test,
                                         settings: .init(steps: recipe["steps"] as! Int, shuffleSeed: UInt64(seed))) { _ in }
            accuracies.append(s.evalAfter!.accuracy)
        }
        let pytorch = ((results["drift_test_accuracy"] as! [String: Any])["per_seed"] as! [Double])
        #expect(abs(Self.mean(accuracies) - Self.mean(pytorch)) <= 0.02, "HalfStep \(accuracies), PyTorch \(pytorch)")
    }

    @Test("the anomaly autoencoder continues on drifted normal samples to within 10% of PyTorch fp32's MSE, and its anomaly AUC to within 0.01")
    func anomalyAutoencoder() throws {
        let dir = fixture("Tools/examples/anomaly")
        let (recipe, results) = continuation(try Self.reference("anomaly"))
        let plan = try Planner.plan(try importedGraph(path: dir + "/model.onnx"), options: options(recipe, loss: .mse), source: "anomaly")
        let loaded = try LoadedPlan(bytes: plan.bytes, path: "anomaly")
        func set(_ file: String) throws -> Dataset {
            try Dataset.load(inputs: dir + "/" + file, targets: dir + "/" + file, expectedFeatures: 32, outputs: 32)
        }
        let train = try set("drift-train-x.npy"), normal = try set("drift-test-x.npy"), faults = try set("anomaly-test-x.npy")
        var mse: [Double] = [], aucs: [Double] = []
        for seed in 0 ..< 5 {
            let session = try TrainingSession(loaded)
            _ = try TrainingLoop.run(session, train: train, eval: nil, settings: .init(steps: recipe["steps"] as! Int, shuffleSeed: UInt64(seed))) { _ in }
            let n = session.evaluate(normal, perSampleLoss: true), f = session.evaluate(faults, perSampleLoss: true)
            mse.append(n.loss)
            aucs.append(Self.auc(n.perSampleLoss, f.perSampleLoss))
        }
        let torchMSE = (results["drift_test_mse"] as! [String: Any])["per_seed"] as! [Double]
        let torchAUC = (results["roc_auc"] as! [String: Any])["per_seed"] as! [Double]
        #expect(abs(Self.mean(mse) - Self.mean(torchMSE)) <= 0.1 * Self.mean(torchMSE), "HalfStep \(mse), PyTorch \(torchMSE)")
        #expect(abs(Self.mean(aucs) - Self.mean(torchAUC)) <= 0.01, "HalfStep \(aucs), PyTorch \(torchAUC)")
    }

    /// ROC AUC by pairs (ties count half): the fraction of (normal, fault) pairs the score orders right.
    static func auc(_ negative: [Float], _ positive: [Float]) -> Double {
        var wins = 0.0
        for p in positive { for n in negative { wins += p > n ? 1 : (p == n ? 0.5 : 0) } }
        return wins / Double(positive.count * negative.count)
    }
}
