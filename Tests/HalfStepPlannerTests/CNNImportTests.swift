import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// The convolutional fixtures (Tools/fixtures/make_cnn.py exported them from PyTorch and recorded
/// onnxruntime's logits) imported and run forward by the core.
struct CNNImportTests {
    let cnn = fixture("Tests/Fixtures/cnn")

    /// Logits of `graph` on the samples in `inputs`, from a plan that trains nothing.
    func coreLogits(_ graph: Graph, inputs: String, options: PlanOptions? = nil) throws -> [Float] {
        let x = try NpyReader.read(path: inputs)
        let count = x.shape[0]
        var o = options ?? PlanOptions()
        o.batch = count
        if options == nil { o.train = .none }
        let plan = try Planner.plan(graph, options: o, source: "t")
        let session = try TrainingSession(LoadedPlan(bytes: plan.bytes, path: "t"))
        let features = x.shape.dropFirst().reduce(1, *)
        let data = Dataset(inputs: x.floats().map { Float16($0) }, labels: [Int32](repeating: 0, count: count), count: count, features: features)
        session.load(data, samples: 0 ..< count)
        session.trainer.forward(rows: count)
        let logits = session.trainer.logits
        return (0 ..< logits.count).map { Float(logits[$0]) }
    }

    // Tolerances: `Tolerance.cnnLogits` and the named ones beside it. A wrong layout, padding or
    // group mapping gives errors of the logits' own size.

    @Test("the small digits CNN imports (Conv, BatchNormalization, MaxPool, depthwise, residual Add, Clip, AveragePool) and matches onnxruntime")
    func digitsCNNForward() throws {
        let g = try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        let expected = try NpyReader.read(path: cnn + "/digits-cnn-logits.npy").floats()
        expectClose(try coreLogits(g, inputs: cnn + "/digits-cnn-x.npy"), expected, tolerance: .digitsCNNLogits, "digits CNN")
    }

    @Test("MobileNetV2 0.35 at 96x96 imports (52 convolutions, 10 residual Adds) and matches onnxruntime")
    func mobileNetForward() throws {
        let g = try importedGraph(path: fixture("Tools/examples/mobilenetv2/model.onnx"))
        let convs = g.nodes.filter { if case .conv = $0.op { return true }; return false }.count
        let adds = g.nodes.filter { $0.op == .add }.count
        #expect(convs == 52 && adds == 10, "\(convs) convolutions, \(adds) Adds")
        let expected = try NpyReader.read(path: cnn + "/mobilenetv2-logits.npy").floats()
        expectClose(try coreLogits(g, inputs: cnn + "/mobilenetv2-x.npy"), expected, tolerance: .mobileNetLogits, "MobileNetV2")
    }

    @Test("frozen MobileNetV2 blocks run fused (expansion + depthwise one hidden plane at a time) and give the unfused plan's logits bit for bit")
    func fusedFrozenBlocksMatchUnfused() throws {
        let g = try importedGraph(path: fixture("Tools/examples/mobilenetv2/model.onnx"))
        var frozen = PlanOptions()
        frozen.train = .none
        frozen.foldBatchNorm = true
        frozen.batch = 2
        var trained = frozen
        trained.train = .all
        let fusedPlan = try Planner.plan(g, options: frozen, source: "t").program
        let unfusedPlan = try Planner.plan(g, options: trained, source: "t").program
        let fusedOps = fusedPlan.ops.filter { $0.opcode == .expandDepthwiseForward }.count
        #expect(fusedOps == 16, "\(fusedOps) fused blocks in the frozen plan")
        #expect(!unfusedPlan.ops.contains { $0.opcode == .expandDepthwiseForward }, "a trained block must not be fused: its hidden activations feed backward")
        let a = try coreLogits(g, inputs: cnn + "/mobilenetv2-x.npy", options: frozen)
        let b = try coreLogits(g, inputs: cnn + "/mobilenetv2-x.npy", options: trained)
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
    }

    @Test("HardSwish, HardSigmoid, Sigmoid, Mul by a constant, Concat, AveragePool without padding counts and GlobalAveragePool match onnxruntime")
    func remainingOperatorsForward() throws {
        let g = try ONNXImporter.importGraph(path: cnn + "/ops.onnx")
        let kinds = Set(g.nodes.compactMap { node -> Activation.Kind? in if case .activation(let k, _, _) = node.op { return k }; return nil })
        #expect(kinds == [.hardSwish, .hardSigmoid, .sigmoid])
        #expect(g.nodes.contains { $0.op == .concat } && g.nodes.contains { if case .scale = $0.op { return true }; return false })
        let expected = try NpyReader.read(path: cnn + "/ops-logits.npy").floats()
        expectClose(try coreLogits(g, inputs: cnn + "/ops-x.npy"), expected, tolerance: .smallCNNLogits, "ops model")
    }

    @Test("a folded BatchNormalization computes what the unfolded one does")
    func foldingKeepsTheFunction() throws {
        let g = try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        var folded = PlanOptions()
        folded.train = .all
        folded.foldBatchNorm = true
        var unfolded = PlanOptions()
        unfolded.train = .all
        let a = try coreLogits(g, inputs: cnn + "/digits-cnn-x.npy", options: folded)
        let b = try coreLogits(g, inputs: cnn + "/digits-cnn-x.npy", options: unfolded)
        expectClose(a, b, tolerance: .smallCNNLogits, "folded vs unfolded")
        let plan = try Planner.plan(g, options: folded, source: "t")
        #expect(!plan.program.ops.contains { $0.opcode == .batchNormForward })
        #expect(plan.program.notes.contains { $0.contains("folded 1 BatchNormalization") })
    }

    @Test("export after training a folded plan writes the convolution weight and β back in the source's parametrisation")
    func foldedExportUnfolds() throws {
        let path = fixture("Tools/examples/digits-cnn/model.onnx")
        let model = try ONNXReader.read(path: path)
        let g = try ONNXImporter.importGraph(model)
        var o = PlanOptions()
        o.batch = 8
        o.train = .all
        o.foldBatchNorm = true
        o.learningRate = 0.005
        o.momentum = 0.9
        let plan = try Planner.plan(g, options: o, source: path)
        let session = try TrainingSession(LoadedPlan(bytes: plan.bytes, path: "t"))
        let data = try Dataset.load(inputs: fixture("Tools/examples/digits/shifted-train-x.npy"),
                                    labels: fixture("Tools/examples/digits/shifted-train-y.npy"), expectedFeatures: 64, classes: 10)
        for s in 0 ..< 20 { _ = session.step(data, samples: (s * 8) ..< (s * 8 + 8)) }
        session.load(data, samples: 0 ..< 8)
        session.trainer.forward(rows: 8)
        let trainedLogits = (0 ..< 80).map { Float(session.trainer.logits[$0]) }
        let exported = try ONNXExporter.encode(original: model, updating: session.trainedParameters(sourceGraph: g), graph: g)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("halfstep-folded-\(getpid()).onnx")
        try Data(exported).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let reimported = try ONNXImporter.importGraph(path: url.path)
        let bn = reimported.parameters.first { $0.name == "bn1.bias" }!, original = g.parameters.first { $0.name == "bn1.bias" }!
        #expect(bn.values != original.values, "β did not change")
        #expect(reimported.parameters.first { $0.name == "bn1.weight" }!.values == g.parameters.first { $0.name == "bn1.weight" }!.values, "γ must stay frozen")
        // The exported model, planned as is (it folds again), computes what the trained plan computes.
        let x = fixture("Tools/examples/digits/shifted-train-x.npy")
        let xs = try NpyReader.read(path: x)
        let first8 = FileManager.default.temporaryDirectory.appendingPathComponent("halfstep-first8-\(getpid()).npy")
        try Data(NpyWriter.encode(NpyArray(float32: Array(xs.floats().prefix(8 * 64)), shape: [8, 64]))).write(to: first8)
        defer { try? FileManager.default.removeItem(at: first8) }
        expectClose(try coreLogits(reimported, inputs: first8.path), trainedLogits, tolerance: .digitsCNNLogits, "exported vs trained")
    }

    @Test("unsupported uses name the node and what is expected")
    func unsupportedUsesAreClear() throws {
        let bad = try onnxModel(nodes: [("Conv", ["input", "w"], ["y"], ["dilations": [2, 2]])],
                                initializers: [("w", [2, 1, 3, 3])], input: [1, 1, 6, 6])
        expectError({ _ = try ONNXImporter.importGraph(bad) }, throws: { "\($0)".contains("dilations") && "\($0)".contains("only 1") })
        let ceil = try onnxModel(nodes: [("MaxPool", ["input"], ["y"], ["kernel_shape": [2, 2], "ceil_mode": [1]])],
                                 initializers: [], input: [1, 1, 6, 6])
        expectError({ _ = try ONNXImporter.importGraph(ceil) }, throws: { "\($0)".contains("ceil_mode") })
        let flat = try onnxModel(nodes: [("Conv", ["input", "w"], ["y"], [:])], initializers: [("w", [2, 1, 3, 3])], input: [1, 36])
        expectError({ _ = try ONNXImporter.importGraph(flat) }, throws: { "\($0)".contains("[channels, height, width]") })
    }
}

/// A one-input ONNX model from node specs `(op, inputs, outputs, integer-list attributes)`, with
/// float initializers of the given shapes (values 0.01·i) and a symbolic batch dimension.
func onnxModel(nodes: [(String, [String], [String], [String: [Int]])], initializers: [(String, [Int])],
               input: [Int], opset: Int64 = 13) throws -> ONNXModel {
    var g = ProtobufWriter()
    for (i, (op, inputs, outputs, attributes)) in nodes.enumerated() {
        var n = ProtobufWriter()
        for x in inputs { n.field(1, string: x) }
        for y in outputs { n.field(2, string: y) }
        n.field(3, string: "\(op.lowercased())\(i)")
        n.field(4, string: op)
        for (name, values) in attributes.sorted(by: { $0.key < $1.key }) {
            var a = ProtobufWriter()
            a.field(1, string: name)
            if values.count == 1 && (name == "group" || name == "ceil_mode" || name == "axis" || name == "count_include_pad") {
                a.field(3, varint: Int64(values[0])); a.field(20, varint: 2)
            } else {
                for v in values { a.field(8, varint: Int64(v)) }
                a.field(20, varint: 7)
            }
            n.field(5, bytes: a.bytes)
        }
        g.field(1, bytes: n.bytes)
    }
    g.field(2, string: "test")
    for (name, dims) in initializers {
        var t = ProtobufWriter()
        for d in dims { t.field(1, varint: Int64(d)) }
        t.field(2, varint: 1)
        t.field(8, string: name)
        let count = dims.reduce(1, *)
        t.field(9, bytes: (0 ..< count).flatMap { i in (0 ..< 4).map { UInt8(truncatingIfNeeded: (Float(i) * 0.01).bitPattern >> (8 * UInt32($0))) } })
        g.field(5, bytes: t.bytes)
    }
    func valueInfo(_ name: String, _ dims: [Int?]) -> [UInt8] {
        var shape = ProtobufWriter()
        for d in dims {
            var dim = ProtobufWriter()
            if let d { dim.field(1, varint: Int64(d)) } else { dim.field(2, string: "batch") }
            shape.field(1, bytes: dim.bytes)
        }
        var tt = ProtobufWriter(); tt.field(1, varint: 1); tt.field(2, bytes: shape.bytes)
        var type = ProtobufWriter(); type.field(1, bytes: tt.bytes)
        var v = ProtobufWriter(); v.field(1, string: name); v.field(2, bytes: type.bytes)
        return v.bytes
    }
    g.field(11, bytes: valueInfo("input", [nil] + input.dropFirst().map { Optional($0) }))
    g.field(12, bytes: valueInfo(nodes.last!.2[0], [nil]))
    var opsetId = ProtobufWriter(); opsetId.field(1, string: ""); opsetId.field(2, varint: opset)
    var w = ProtobufWriter()
    w.field(1, varint: 8)
    w.field(7, bytes: g.bytes)
    w.field(8, bytes: opsetId.bytes)
    return try ONNXReader.parse(bytes: w.bytes, path: "test.onnx", baseDirectory: nil)
}
