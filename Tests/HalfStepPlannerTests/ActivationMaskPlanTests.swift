import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// `--relu-masks`: a pure memory lever. The masked plan must train bit for bit like the unmasked
/// one, need less SRAM where a ReLU's output is only kept for its own backward, and leave alone
/// the outputs a trained layer's weight gradient reads.
struct ActivationMaskPlanTests {
    let digits = fixture("Tools/examples/digits")

    func options(_ train: PlanOptions.TrainSelection, masks: Bool) -> PlanOptions {
        var o = PlanOptions()
        o.batch = 8
        o.train = train
        o.momentum = 0.9
        o.learningRate = 0.01
        o.activationMasks = masks
        return o
    }

    func trained(_ g: Graph, _ o: PlanOptions, steps: Int) throws -> [String: [Float]] {
        let plan = try Planner.plan(g, options: o, source: "t")
        let session = try TrainingSession(LoadedPlan(bytes: plan.bytes, path: "t"))
        let data = try Dataset.load(inputs: digits + "/shifted-train-x.npy", labels: digits + "/shifted-train-y.npy", expectedFeatures: 64, classes: 10)
        for s in 0 ..< steps { session.step(data, samples: (s * 8) ..< (s * 8 + 8)) }
        return session.trainedParameters()
    }

    @Test("biases-only training of the digits CNN with ReLU masks ends bit for bit where it does without them")
    func masksDoNotChangeTraining() throws {
        let g = try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        let masked = try Planner.plan(g, options: options(.biases, masks: true), source: "t").program
        #expect(masked.ops.contains { $0.opcode == .activationMaskBackward }, "the lever must apply on this plan")
        let a = try trained(g, options(.biases, masks: false), steps: 6)
        let b = try trained(g, options(.biases, masks: true), steps: 6)
        #expect(a.keys.sorted() == b.keys.sorted())
        for (name, v) in a { #expect(v.map(\.bitPattern) == b[name]!.map(\.bitPattern), "\(name)") }
    }

    @Test("ReLU masks lower the MobileNetV2 biases-only peak and never raise a plan's peak")
    func masksLowerThePeak() throws {
        let g = try importedGraph(path: fixture("Tools/examples/mobilenetv2/model.onnx"))
        var plain = options(.biases, masks: false), masked = options(.biases, masks: true)
        plain.batch = 1; masked.batch = 1
        let p = try Planner.plan(g, options: plain, source: "t").memory, m = try Planner.plan(g, options: masked, source: "t").memory
        #expect(m.arenaBytes < p.arenaBytes / 2, "masked \(m.arenaBytes) B vs \(p.arenaBytes) B")
        #expect(m.arenaBytes >= m.lowerBoundBytes)
        let cnn = try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        for train in [PlanOptions.TrainSelection.all, .last(2), .biases] {
            let a = try Planner.plan(cnn, options: options(train, masks: false), source: "t").memory.arenaBytes
            let b = try Planner.plan(cnn, options: options(train, masks: true), source: "t").memory.arenaBytes
            #expect(b <= a, "--train \(train): \(b) B with masks vs \(a) B without")
        }
    }

    @Test("no backward op reads an output that was replaced by a mask, whatever trains")
    func maskedOutputsAreNotReadInBackward() throws {
        let g = try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        for train in [PlanOptions.TrainSelection.all, .last(2), .biases] {
            let program = try Planner.plan(g, options: options(train, masks: true), source: "t").program
            let masked = Set(program.ops.filter { $0.opcode == .activationMaskForward }.compactMap { $0.operands[0] })
            for op in program.ops where op.phase == .backward {
                for case let t? in op.operands { #expect(!masked.contains(t), "--train \(train): \(op.node) reads masked \(program.tensors[t].name)") }
            }
        }
    }
}
