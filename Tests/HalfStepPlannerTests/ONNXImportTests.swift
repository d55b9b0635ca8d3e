import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// Importing the committed fixture models (Tools/fixtures/make_digits.py made them with PyTorch
/// and checked each against onnxruntime).
struct ONNXImportTests {
    let onnxDir = fixture("Tests/Fixtures/onnx")

    func load(_ name: String) throws -> Graph { try ONNXImporter.importGraph(path: onnxDir + "/" + name) }

    /// Logits of `graph` on the fixture batch, computed by the core (fp16 storage, fp32 accumulation).
    func coreLogits(_ graph: Graph) throws -> [Float] {
        let x = try NpyReader.read(path: onnxDir + "/batch-x.npy")
        var o = PlanOptions()
        o.batch = 8
        o.train = .none
        let plan = try Planner.plan(graph, options: o, source: "t")
        let session = try TrainingSession(LoadedPlan(bytes: plan.bytes, path: "t"))
        let data = Dataset(inputs: x.floats().map { Float16($0) }, labels: [Int32](repeating: 0, count: 8), count: 8, features: 64)
        session.load(data, samples: 0 ..< 8)
        session.trainer.forward(rows: 8)
        let logits = session.trainer.logits
        return (0 ..< 80).map { Float(logits[$0]) }
    }

    /// The logits against onnxruntime's, within `Tolerance.mlpLogits` (why that value: there).
    func expectClose(_ a: [Float], _ b: [Float], _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        HalfStepTestSupport.expectClose(a, b, tolerance: .mlpLogits, label, sourceLocation: sourceLocation)
    }

    @Test("the legacy-exporter MLP imports as three dense layers with ReLUs and matches onnxruntime's logits")
    func legacyExport() throws {
        let g = try load("mlp.onnx")
        #expect(g.nodes.map(\.op).count == 5)
        #expect(g.parameters.map(\.shape) == [[64, 64], [64], [32, 64], [32], [10, 32], [10]])
        #expect(g.values[g.input].shape == [64])
        expectClose(try coreLogits(g), try NpyReader.read(path: onnxDir + "/mlp-logits.npy").floats(), "mlp.onnx")
    }

    @Test("every fixture encoding of the same weights imports to the same parameters and logits")
    func encodingsAgree() throws {
        let reference = try load("mlp.onnx")
        for name in ["mlp-dynamo.onnx", "mlp-dynamo-inline.onnx", "mlp-float-data.onnx", "mlp-matmul.onnx", "mlp-fp16.onnx"] {
            let g = try load(name)
            #expect(g.parameters.map(\.shape) == reference.parameters.map(\.shape), "\(name)")
            for (p, q) in zip(g.parameters, reference.parameters) {
                let tolerance: Float = name == "mlp-fp16.onnx" ? 1e-3 : 0
                let worst = zip(p.values, q.values).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= tolerance, "\(name) \(p.name): differs by \(worst)")
            }
            let expected = try NpyReader.read(path: onnxDir + "/" + name.replacingOccurrences(of: ".onnx", with: "-logits.npy")).floats()
            expectClose(try coreLogits(g), expected, name)
        }
    }

    @Test("the dynamo export reads its weights from the external data file beside it")
    func externalData() throws {
        let model = try ONNXReader.read(path: onnxDir + "/mlp-dynamo.onnx")
        #expect(model.graph.initializers.contains { $0.external })
        #expect(model.opsetVersion >= 18)
    }

    @Test("Gemm with transB=0, alpha and beta, Flatten, Identity and Reshape(Constant) import and compute correctly")
    func gemmVariants() throws {
        let g = try load("mlp-gemm-variants.onnx")
        guard case .dense(_, _, let alpha, let beta) = g.nodes[2].op else { Issue.record("node 2 is \(g.nodes[2].op)"); return }
        #expect(alpha == 0.5 && beta == 2)
        #expect(g.parameters[2].sourceLayout == .transposed2D)
        expectClose(try coreLogits(g), try NpyReader.read(path: onnxDir + "/mlp-gemm-variants-logits.npy").floats(), "gemm variants")
    }

    @Test("an unsupported operator names the operator, the node and the supported operators")
    func unsupportedOperator() throws {
        // The fixture's Tanh is supported now; the same model with the op renamed Asin (same length,
        // so every protobuf length stays valid) is not.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: onnxDir + "/unsupported-op.onnx")))
        let tanh = Array("Tanh".utf8)
        let at = try #require((0 ... bytes.count - 4).first { Array(bytes[$0 ..< $0 + 4]) == tanh })
        bytes.replaceSubrange(at ..< at + 4, with: Array("Asin".utf8))
        let path = NSTemporaryDirectory() + "halfstep-unsupported-\(getpid()).onnx"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        expectError {
            _ = try ONNXImporter.importGraph(path: path)
        } throws: { error in
            let text = "\(error)"
            return text.contains("Asin") && text.contains("tanh0") && text.contains("Gemm") && text.contains("Tanh")
        }
    }

    @Test("the fp16 model keeps its element type through export")
    func fp16SourceFlag() throws {
        let g = try load("mlp-fp16.onnx")
        #expect(g.parameters.allSatisfy { $0.sourceIsFloat16 })
    }
}

/// Exporting adapted weights into a copy of the source model.
struct ONNXExportTests {
    let onnxDir = fixture("Tests/Fixtures/onnx")

    func roundTrip(_ name: String) throws {
        let original = try ONNXReader.read(path: onnxDir + "/" + name)
        let graph = try ONNXImporter.importGraph(original)
        var updated: [String: [Float]] = [:]
        for p in graph.parameters { updated[p.name] = p.values.enumerated().map { Float(Float16($1 + Float($0 % 7) * 0.125)) } }
        let bytes = try ONNXExporter.encode(original: original, updating: updated, graph: graph)
        let back = try ONNXImporter.importGraph(ONNXReader.parse(bytes: bytes, path: "exported.onnx", baseDirectory: nil))
        for p in back.parameters { #expect(p.values == updated[p.name], "\(name) \(p.name)") }
        #expect(back.nodes == graph.nodes)
        let reread = try ONNXReader.parse(bytes: bytes, path: "exported.onnx", baseDirectory: nil)
        #expect(reread.graph.initializers.allSatisfy { !$0.external })
        #expect(reread.opsetVersion == original.opsetVersion && reread.producerName == original.producerName)
    }

    @Test("exported weights read back exactly, for Gemm, MatMul (transposed), float_data, fp16 and external-data models")
    func exportRoundTrips() throws {
        for name in ["mlp.onnx", "mlp-matmul.onnx", "mlp-float-data.onnx", "mlp-fp16.onnx", "mlp-dynamo.onnx", "mlp-gemm-variants.onnx"] {
            try roundTrip(name)
        }
    }

    @Test("exporting unchanged weights reproduces the original parameters")
    func unchangedExport() throws {
        let original = try ONNXReader.read(path: onnxDir + "/mlp.onnx")
        let graph = try ONNXImporter.importGraph(original)
        let bytes = try ONNXExporter.encode(original: original, updating: [:], graph: graph)
        #expect(bytes == original.bytes)
    }

    @Test("exporting a name that is not an initializer is refused")
    func unknownName() throws {
        let original = try ONNXReader.read(path: onnxDir + "/mlp.onnx")
        let graph = try ONNXImporter.importGraph(original)
        #expect(throws: ONNXError.self) { _ = try ONNXExporter.encode(original: original, updating: ["nope": [1]], graph: graph) }
    }
}
