import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// `--recompute`: MaxPool and HardSwish outputs are computed again in backward instead of kept
/// from the forward pass. A pure memory lever: the same bits, never a higher peak.
struct RecomputeTests {
    let digits = fixture("Tools/examples/digits")

    func options(recompute: Bool, train: PlanOptions.TrainSelection = .all) -> PlanOptions {
        var o = PlanOptions()
        o.batch = 32
        o.train = train
        o.momentum = 0.9
        o.learningRate = 0.005
        o.recompute = recompute
        return o
    }

    func trained(_ g: Graph, _ o: PlanOptions, steps: Int) throws -> [String: [Float]] {
        let plan = try Planner.plan(g, options: o, source: "t")
        let session = try TrainingSession(LoadedPlan(bytes: plan.bytes, path: "t"))
        let data = try Dataset.load(inputs: digits + "/shifted-train-x.npy", labels: digits + "/shifted-train-y.npy", expectedFeatures: 64, classes: 10)
        for s in 0 ..< steps { session.step(data, samples: (s * 32) ..< (s * 32 + 32)) }
        return session.trainedParameters()
    }

    @Test("recomputing the digits CNN's MaxPool output in backward lowers the peak and trains bit for bit the same")
    func maxPoolRecomputation() throws {
        let g = try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        let kept = try Planner.plan(g, options: options(recompute: false), source: "t")
        let again = try Planner.plan(g, options: options(recompute: true), source: "t")
        let recomputes = again.program.ops.filter { $0.phase == .backward && $0.opcode == .maxPoolForward }
        #expect(recomputes.count == 1)
        #expect(again.program.notes.contains { $0.contains("recomputes") && $0.contains("MaxPool") }, "the plan says which it chose")
        #expect(again.memory.arenaBytes < kept.memory.arenaBytes, "\(again.memory.arenaBytes) B vs \(kept.memory.arenaBytes) B")
        #expect(again.memory.lowerBoundBytes <= kept.memory.lowerBoundBytes)
        let a = try trained(g, options(recompute: false), steps: 5), b = try trained(g, options(recompute: true), steps: 5)
        for (name, v) in a { #expect(v.map(\.bitPattern) == b[name]!.map(\.bitPattern), "\(name)") }
    }

    @Test("nothing is recomputed where the producer's backward does not run (frozen layers below)")
    func noRecomputationWithoutTheInput() throws {
        let g = try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        let p = try Planner.plan(g, options: options(recompute: true, train: .last(1)), source: "t")
        #expect(!p.program.ops.contains { $0.phase == .backward && ($0.opcode == .maxPoolForward || $0.opcode == .activationForward) })
    }
}
