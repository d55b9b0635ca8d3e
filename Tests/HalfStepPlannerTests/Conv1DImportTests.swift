import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// 1-D models (Tools/fixtures/make_conv1d.py: PyTorch Conv1d, BatchNorm1d, MaxPool1d, AvgPool1d,
/// AdaptiveAvgPool1d over [N, C, L], legacy exporter): imported as the 2-D ops over [C, 1, L].
struct Conv1DImportTests {
    let dir = fixture("Tests/Fixtures/conv1d")

    @Test("a PyTorch Conv1d classifier imports with every convolution and pooling window one row high, BatchNorm1d included")
    func importsAsOneRowImages() throws {
        let g = try importedGraph(path: dir + "/conv1d.onnx")
        #expect(g.nodes.contains { if case .batchNorm = $0.op { return true }; return false })
        let windows = g.nodes.compactMap { node -> Window2D? in
            switch node.op {
            case .conv(_, _, let w), .maxPool(let w), .averagePool(let w): return w
            default: return nil
            }
        }
        #expect(windows.count == 6)
        #expect(windows.allSatisfy { $0.height == 1 && $0.kernelHeight == 1 && $0.strideHeight == 1 && $0.padTop == 0 })
        #expect(windows.map(\.kernelWidth) == [5, 2, 3, 1, 3, 2])
        #expect(g.values[g.input].shape == [3, 1, 32])
    }

    @Test("its forward pass on the core matches onnxruntime's logits")
    func forwardMatchesOnnxRuntime() throws {
        let g = try importedGraph(path: dir + "/conv1d.onnx")
        let x = try NpyReader.read(path: dir + "/x.npy")
        var o = PlanOptions()
        o.batch = 4
        o.train = .none
        let plan = try Planner.plan(g, options: o, source: "conv1d")
        let session = try TrainingSession(LoadedPlan(bytes: plan.bytes, path: "conv1d"))
        let data = Dataset(inputs: x.floats().map { Float16($0) }, labels: [0, 0, 0, 0], count: 4, features: 96)
        session.load(data, samples: 0 ..< 4)
        session.trainer.forward(rows: 4)
        let logits = (0 ..< 16).map { Float(session.trainer.logits[$0]) }
        expectClose(logits, try NpyReader.read(path: dir + "/logits.npy").floats(), tolerance: .smallCNNLogits, "Conv1d logits")
    }

    @Test("trained and exported, the model keeps its 1-D weight shapes and imports again with the trained values")
    func exportKeepsOneDimensionalShapes() throws {
        let path = dir + "/conv1d.onnx"
        let g = try importedGraph(path: path)
        let plan = try Planner.plan(g, options: options(batch: 4), source: path)
        let session = try TrainingSession(LoadedPlan(bytes: plan.bytes, path: "conv1d"))
        let x = try NpyReader.read(path: dir + "/x.npy")
        let data = Dataset(inputs: x.floats().map { Float16($0) }, labels: [0, 1, 2, 3], count: 4, features: 96)
        for _ in 0 ..< 5 { session.step(data, samples: 0 ..< 4) }
        let out = NSTemporaryDirectory() + "halfstep-conv1d-\(getpid()).onnx"
        try TrainedExport.write(session, model: path, to: out)
        let model = try ONNXReader.read(path: out)
        let c2 = try #require(model.graph.initializers.first { $0.name == "c2.weight" })
        #expect(c2.dims == [12, 12, 3])
        let again = try ONNXImporter.importGraph(path: out)
        let trained = try #require(session.trainedParameters(sourceGraph: g)["c2.weight"])
        let original = try #require(g.parameters.first { $0.name == "c2.weight" }?.values)
        #expect(trained != original)
        #expect(again.parameters.first { $0.name == "c2.weight" }?.values == trained)
    }

    @Test("a 1-D convolution whose strides name two dimensions is refused, naming the attribute and the count expected")
    func wrongAttributeCountRefused() {
        #expect {
            _ = try ONNXImporter.importGraph(path: dir + "/conv1d-bad-strides.onnx")
        } throws: { error in
            "\(error)".contains("attribute strides has 2 values; 1 expected for a 1-D op")
        }
    }

    @Test("the dynamo exporter's form of the same model (BatchNorm folded, the adaptive pool as Unsqueeze, ReduceMean, Squeeze and Reshape) gives the same logits")
    func dynamoExportMatches() throws {
        let g = try importedGraph(path: dir + "/conv1d-dynamo.onnx")
        #expect(g.nodes.contains { if case .globalAveragePool = $0.op { return true }; return false })
        let x = try NpyReader.read(path: dir + "/x.npy")
        var o = PlanOptions()
        o.batch = 4
        o.train = .none
        let plan = try Planner.plan(g, options: o, source: "conv1d-dynamo")
        let session = try TrainingSession(LoadedPlan(bytes: plan.bytes, path: "conv1d-dynamo"))
        let data = Dataset(inputs: x.floats().map { Float16($0) }, labels: [0, 0, 0, 0], count: 4, features: 96)
        session.load(data, samples: 0 ..< 4)
        session.trainer.forward(rows: 4)
        let logits = (0 ..< 16).map { Float(session.trainer.logits[$0]) }
        expectClose(logits, try NpyReader.read(path: dir + "/logits.npy").floats(), tolerance: .smallCNNLogits, "dynamo Conv1d logits")
    }

    @Test("the dynamo model plans and trains: its loss on a fixed batch falls")
    func dynamoExportTrains() throws {
        let g = try importedGraph(path: dir + "/conv1d-dynamo.onnx")
        let plan = try Planner.plan(g, options: options(batch: 4, lr: 0.02), source: "conv1d-dynamo")
        let session = try TrainingSession(LoadedPlan(bytes: plan.bytes, path: "conv1d-dynamo"))
        let x = try NpyReader.read(path: dir + "/x.npy")
        let data = Dataset(inputs: x.floats().map { Float16($0) }, labels: [0, 1, 2, 3], count: 4, features: 96)
        let before = session.evaluate(data).loss
        for _ in 0 ..< 20 { session.step(data, samples: 0 ..< 4) }
        #expect(session.evaluate(data).loss < before)
    }

    @Test("a ReduceMean over the channel axis is refused, naming the axes and what is supported")
    func reduceOverChannelsRefused() {
        #expect {
            _ = try ONNXImporter.importGraph(path: dir + "/conv1d-dynamo-bad-reduce.onnx")
        } throws: { error in
            "\(error)".contains("ReduceMean over axes [1]") && "\(error)".contains("only the mean over every spatial axis")
        }
    }
}
