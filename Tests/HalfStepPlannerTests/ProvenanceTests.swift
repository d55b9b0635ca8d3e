import Foundation
import HalfStepCore
import HalfStepTestSupport
import Testing
@testable import HalfStepPlanner

/// The plan's provenance block: which source initializer each tensor holds and how, written by the
/// planner, read back by export; plans without it export by importing the model again.
struct ProvenanceTests {
    static let digits = fixture("Tools/examples/digits")
    static let cnn = fixture("Tools/examples/digits-cnn/model.onnx")
    static let mobilenet = fixture("Tools/examples/mobilenetv2/model.onnx")

    /// A plan of `path` with `options`, loaded as `train` loads it.
    func planned(_ path: String, _ o: PlanOptions) throws -> (graph: Graph, result: Planner.Result, loaded: LoadedPlan) {
        let g = try ONNXImporter.importGraph(path: path)
        let r = try Planner.plan(g, options: o, source: path)
        return (g, r, try LoadedPlan(bytes: r.bytes, path: "t.hsplan"))
    }

    /// Checks that the block reads back as the program recorded it and that every tensor filled from
    /// the model names an initializer of it.
    func expectRoundTrip(_ p: (graph: Graph, result: Planner.Result, loaded: LoadedPlan), model: String,
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        let recorded = PlanProvenance(p.result.program)
        #expect(!recorded.sources.isEmpty, sourceLocation: sourceLocation)
        #expect(p.loaded.hasProvenance, sourceLocation: sourceLocation)
        #expect(try p.loaded.provenance() == recorded, sourceLocation: sourceLocation)
        #expect(p.loaded.notes == p.result.program.notes, "notes stop at the block", sourceLocation: sourceLocation)
        let initializers = Set(try ONNXReader.read(path: model).graph.initializers.map(\.name))
        for (i, t) in p.result.program.tensors.enumerated() {
            if t.parameter != nil || t.trainable {
                #expect(recorded.sources[i] != nil, "\(t.name) has no source", sourceLocation: sourceLocation)
            }
            guard let s = recorded.sources[i] else { continue }
            #expect(initializers.contains(s.initializer), "\(t.name): '\(s.initializer)' is not an initializer", sourceLocation: sourceLocation)
            if let bn = s.batchNorm {
                for name in [bn.gamma, bn.beta, bn.mean, bn.variance] + [bn.convWeight, bn.convBias].compactMap({ $0 }) {
                    #expect(initializers.contains(name), "\(t.name): '\(name)'", sourceLocation: sourceLocation)
                }
            }
        }
    }

    /// Trains `loaded` a few steps on the digits data (`features` inputs).
    func trained(_ loaded: LoadedPlan, steps: Int, data: Dataset) throws -> TrainingSession {
        let session = try TrainingSession(loaded)
        _ = try TrainingLoop.run(session, train: data, eval: nil, settings: .init(steps: steps)) { _ in }
        return session
    }

    func digitsData() throws -> Dataset {
        try Dataset.load(inputs: Self.digits + "/shifted-train-x.npy", labels: Self.digits + "/shifted-train-y.npy", expectedFeatures: 64, classes: 10)
    }

    /// The export as it was before provenance: import the model, match by name, unfold by name.
    func exportByImport(_ session: TrainingSession, model: String) throws -> [UInt8] {
        let original = try ONNXReader.read(path: model)
        let g = try ONNXImporter.importGraph(original)
        return try ONNXExporter.encode(original: original, updating: session.trainedParameters(sourceGraph: g), graph: g)
    }

    /// `bytes` with the provenance block's bytes passed through `edit` (same length) and the CRC
    /// made right again, so the core accepts the plan and only the block is damaged.
    func editingBlock(_ bytes: [UInt8], _ edit: (inout ArraySlice<UInt8>) -> Void) throws -> [UInt8] {
        let loaded = try LoadedPlan(bytes: bytes, path: "t")
        let tail = loaded.namesTail
        let blockStart = try #require(PlanProvenance.start(in: tail))
        let h = loaded.plan.header
        let sectionEnd = Int(h.namesOffset) + Int(h.namesBytes)
        let start = sectionEnd - (tail.endIndex - blockStart)
        var out = bytes
        var block = out[start ..< sectionEnd]
        edit(&block)
        precondition(block.count == sectionEnd - start)
        out.replaceSubrange(start ..< sectionEnd, with: block)
        out.withUnsafeMutableBytes { raw in
            var header = PlanHeader(from: raw.baseAddress!)
            header.crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(raw)[PlanFormat.crcStart...]))
            header.store(to: raw.baseAddress!)
        }
        return out
    }

    @Test("a planned MLP records each weight's and bias's initializer, transposed where the source stores [in, out]")
    func mlpRoundTrips() throws {
        for name in ["mlp.onnx", "mlp-matmul.onnx", "mlp-gemm-variants.onnx"] {
            let model = fixture("Tests/Fixtures/onnx/" + name)
            let p = try planned(model, options(batch: 8, train: .all))
            try expectRoundTrip(p, model: model)
            let sources = try #require(try p.loaded.provenance())
            for (i, t) in p.result.program.tensors.enumerated() {
                guard let param = t.parameter.map({ p.graph.parameters[$0] }) else { continue }
                #expect(sources.sources[i] == TensorSource(initializer: param.name, transform: param.sourceLayout == .transposed2D ? .transposed : .identity), "\(name) \(t.name)")
            }
            if name == "mlp-matmul.onnx" { #expect(sources.sources.values.contains { $0.transform == .transposed }) }
        }
    }

    @Test("a partly trained weight records the rows that train; a bias trains whole")
    func partlyTrainedRows() throws {
        var o = options(batch: 8, train: .all)
        o.trainedChannelFraction = 0.5
        let p = try planned(Self.digits + "/mlp.onnx", o)
        try expectRoundTrip(p, model: Self.digits + "/mlp.onnx")
        let sources = try #require(try p.loaded.provenance())
        let weight = try #require(p.result.program.tensors.firstIndex { $0.trainable && $0.shape == [64, 64] })
        #expect(sources.sources[weight]?.trainedRows == 32)
        let bias = try #require(p.result.program.tensors.firstIndex { $0.trainable && $0.shape == [64] })
        #expect(sources.sources[bias]?.trainedRows == nil, "a bias trains whole")
    }

    @Test("the digits CNN's folded BatchNormalization records its initializers and ε (--fold-batchnorm, and γ frozen)")
    func cnnFoldedRoundTrips() throws {
        var folded = options(batch: 8, train: .all, lr: 0.005)
        folded.foldBatchNorm = true
        var gammaFrozen = options(batch: 8, train: .biases, lr: 0.005)
        gammaFrozen.momentum = 0.9
        var unfolded = options(batch: 8, train: .all, lr: 0.005)
        unfolded.state = .fp32
        for (label, o) in [("fold", folded), ("γ frozen", gammaFrozen), ("unfolded", unfolded)] {
            let p = try planned(Self.cnn, o)
            try expectRoundTrip(p, model: Self.cnn)
            let sources = try #require(try p.loaded.provenance()).sources
            let foldedBias = sources.filter { $0.value.transform == .foldedBias }
            let foldedWeight = sources.filter { $0.value.transform == .foldedWeight }
            if label == "unfolded" {
                #expect(foldedBias.isEmpty && foldedWeight.isEmpty)
                #expect(sources.values.contains { $0.transform == .inverseStd && $0.batchNorm?.epsilon ?? 0 > 0 })
                continue
            }
            #expect(foldedBias.count == 1 && foldedWeight.count == 1, "\(label)")
            let (i, bias) = try #require(foldedBias.first)
            let bn = try #require(bias.batchNorm)
            #expect(bias.initializer == bn.beta && bn.convWeight != nil, "\(label): the folded bias goes back to β")
            // The BatchNormalization the importer saw: its initializers and its ε, bit for bit.
            let pair = try #require(BatchNormFolding.pairs(in: p.graph).first)
            #expect(BatchNormFolding.source(p.graph, batchNorm: pair.batchNorm, conv: pair.conv) == bn)
            guard case .batchNorm(_, _, _, _, let eps) = p.graph.nodes[pair.batchNorm].op else { Issue.record("not a BatchNormalization"); continue }
            #expect(bn.epsilon.bitPattern == eps.bitPattern)
            #expect(p.result.program.tensors[i].trainable)
            let w = try #require(foldedWeight.first)
            #expect(w.value.initializer == bn.convWeight && w.value.batchNorm == bn)
            #expect(p.result.program.tensors[w.key].trainable == (label == "fold"))
        }
    }

    @Test("MobileNetV2 batch 1 last:2 records a source for every tensor read from the model")
    func mobileNetRoundTrips() throws {
        var o = options(batch: 1, train: .last(2), lr: 0.005)
        o.state = .fp32
        try expectRoundTrip(try planned(Self.mobilenet, o), model: Self.mobilenet)
        o.foldBatchNorm = true
        try expectRoundTrip(try planned(Self.mobilenet, o), model: Self.mobilenet)
    }

    @Test("export through the provenance writes the same bytes as export by importing the model again")
    func exportMatchesReimport() throws {
        let data = try digitsData()
        var cases: [(String, PlanOptions, Int)] = []
        for name in ["mlp.onnx", "mlp-matmul.onnx", "mlp-float-data.onnx", "mlp-fp16.onnx", "mlp-dynamo.onnx", "mlp-gemm-variants.onnx"] {
            cases.append(("Tests/Fixtures/onnx/" + name, options(batch: 16, train: .all), 10))
        }
        var channels = options(batch: 16, train: .all, update: .fp16)
        channels.trainedChannelFraction = 0.5
        cases.append(("Tools/examples/digits/mlp.onnx", channels, 10))
        var folded = options(batch: 8, train: .all, lr: 0.005)
        folded.foldBatchNorm = true
        var gammaFrozen = options(batch: 8, train: .biases, lr: 0.005)
        gammaFrozen.update = .fp16
        var layers = options(batch: 8, train: .layers(["bn1.bias", "conv1.weight"]), lr: 0.005)
        layers.state = .fp32
        var unfolded = options(batch: 8, train: .all, lr: 0.005)
        unfolded.trainedChannelFraction = 0.5
        for o in [folded, gammaFrozen, layers, unfolded] { cases.append(("Tools/examples/digits-cnn/model.onnx", o, 8)) }
        for (model, o, steps) in cases {
            let path = fixture(model)
            let p = try planned(path, o)
            #expect(p.loaded.hasProvenance)
            let session = try trained(p.loaded, steps: steps, data: data)
            let viaProvenance = try TrainedExport.encode(session, model: try ONNXReader.read(path: path))
            let viaImport = try exportByImport(session, model: path)
            let same = viaProvenance == viaImport, changed = viaProvenance != (try ONNXReader.read(path: path)).bytes
            #expect(same, "\(model) \(o.train) fold \(o.foldBatchNorm)")
            #expect(changed, "\(model): training changed something")
        }
    }

    @Test("MobileNetV2 last:2 exports the same bytes through the provenance as by importing the model again")
    func mobileNetExportMatchesReimport() throws {
        var o = options(batch: 1, train: .last(2), lr: 0.005)
        o.foldBatchNorm = true
        let p = try planned(Self.mobilenet, o)
        let x = try NpyReader.read(path: fixture("Tools/examples/mobilenetv2/batch-x.npy")).floats()
        let y = try NpyReader.read(path: fixture("Tools/examples/mobilenetv2/batch-y.npy"))
        let features = x.count / y.shape[0]
        let data = Dataset(inputs: Array(x.prefix(features).map { Float16($0) }), labels: [0], count: 1, features: features)
        let session = try trained(p.loaded, steps: 1, data: data)
        let model = try ONNXReader.read(path: Self.mobilenet)
        let same = try TrainedExport.encode(session, model: model) == (try exportByImport(session, model: Self.mobilenet))
        #expect(same)
    }

    @Test("a plan whose provenance block is corrupt loads and trains, and export refuses it naming the file")
    func corruptBlockIsReported() throws {
        let mlp = try planned(Self.digits + "/mlp.onnx", options(batch: 8, train: .all))
        var o = options(batch: 8, train: .all, lr: 0.005)
        o.foldBatchNorm = true
        let cnn = try planned(Self.cnn, o)
        func replacing(_ find: String, _ with: String) -> (inout ArraySlice<UInt8>) -> Void {
            { block in
                let text = String(decoding: block, as: UTF8.self)
                precondition(find.utf8.count == with.utf8.count && text.contains(find), find)
                block = ArraySlice(Array(text.replacingOccurrences(of: find, with: with).utf8))
            }
        }
        let cases: [(String, Planner.Result, String, (inout ArraySlice<UInt8>) -> Void, String)] = [
            ("marker", mlp.result, Self.digits + "/mlp.onnx", replacing("halfstep-provenance 1", "halfstep-provenance 9"), "marker line"),
            ("json", mlp.result, Self.digits + "/mlp.onnx", { $0[$0.endIndex - 1] = UInt8(ascii: "x") }, "JSON does not parse"),
            ("range", mlp.result, Self.digits + "/mlp.onnx", replacing("{\"t\":2},{\"t\":3}", "{\"t\":200000003}"), "outside the plan"),
            ("missing", mlp.result, Self.digits + "/mlp.onnx", replacing("{\"t\":2},{\"t\":3}", "{\"t\":7},{\"t\":3}"), "trains but has no source"),
            ("gamma", cnn.result, Self.cnn, replacing("\"gamma\":\"bn1.weight\"", "\"gamma\":\"bn1.weighs\""), "'bn1.weighs'"),
        ]
        for (label, plan, modelPath, edit, expected) in cases {
            let bytes = try editingBlock(plan.bytes, edit)
            let loaded = try LoadedPlan(bytes: bytes, path: "corrupt-\(label).hsplan")
            #expect(loaded.notes == plan.program.notes, "\(label)")
            let session = try TrainingSession(loaded)
            do {
                _ = try TrainedExport.encode(session, model: try ONNXReader.read(path: modelPath))
                Issue.record("\(label): exported")
            } catch {
                let text = "\(error)"
                #expect(text.contains(expected), "\(label): \(text)")
                if error is PlanLoadError {
                    #expect(text.contains("corrupt-\(label).hsplan") && text.contains("provenance block"), "\(text)")
                } else {
                    #expect(text.contains(modelPath) && text.contains("is this the model the plan was made from?"), "\(text)")
                }
            }
        }
    }

    @Test("damaging any byte of the provenance block never crashes export")
    func everyDamagedByte() throws {
        var folded = options(batch: 8, train: .all, lr: 0.005)
        folded.foldBatchNorm = true
        for (path, o) in [(Self.digits + "/mlp.onnx", options(batch: 8, train: .all)), (Self.cnn, folded)] {
            let p = try planned(path, o)
            let model = try ONNXReader.read(path: path)
            let blockBytes = PlanProvenance.block(p.result.program).count
            for k in 0 ..< blockBytes {
                for value: UInt8 in [0xFF, UInt8(ascii: "1"), UInt8(ascii: "\""), 0] {
                    let bytes = try editingBlock(p.result.bytes) { $0[$0.startIndex + k] = value }
                    let loaded = try LoadedPlan(bytes: bytes, path: "t")
                    _ = loaded.notes
                    _ = loaded.program()
                    let session = try TrainingSession(loaded)
                    _ = try? TrainedExport.encode(session, model: model)
                }
            }
        }
    }

    @Test("the committed v1 plan, without a provenance block, still loads and exports by importing the model")
    func v1FixtureExports() throws {
        let loaded = try LoadedPlan(path: fixture("Tests/Fixtures/plans/digits-last1-v1.hsplan"))
        #expect(!loaded.hasProvenance)
        #expect(try loaded.provenance() == nil)
        let session = try trained(loaded, steps: 10, data: try digitsData())
        let model = Self.digits + "/mlp.onnx"
        let exported = try TrainedExport.encode(session, model: try ONNXReader.read(path: model))
        let same = exported == (try exportByImport(session, model: model))
        #expect(same)
        let back = try ONNXImporter.importGraph(ONNXReader.parse(bytes: exported, path: "e.onnx", baseDirectory: nil))
        let trained = session.trainedParameters()
        #expect(!trained.isEmpty)
        for (name, values) in trained {
            let param = try #require(back.parameters.first { $0.name == name })
            #expect(param.values == values, "\(name)")
        }
    }

    @Test("a new plan with its block blanked out exports the same bytes by the fallback")
    func blankedBlockFallsBack() throws {
        var o = options(batch: 8, train: .all, lr: 0.005)
        o.foldBatchNorm = true
        let p = try planned(Self.cnn, o)
        let bytes = try editingBlock(p.result.bytes) { block in for i in block.indices { block[i] = 0x0A } }
        let blank = try LoadedPlan(bytes: bytes, path: "blank")
        #expect(!blank.hasProvenance && blank.notes == p.result.program.notes)
        let data = try digitsData()
        let a = try trained(p.loaded, steps: 8, data: data), b = try trained(blank, steps: 8, data: data)
        let model = try ONNXReader.read(path: Self.cnn)
        let same = try TrainedExport.encode(a, model: model) == (try TrainedExport.encode(b, model: model))
        #expect(same)
    }

    @Test("ε reads back bit for bit, a name equal to the tensor's is left out, and estimatedBytes counts the block")
    func blockEncoding() throws {
        for eps: Float in [1e-5, 1e-3, 0.1, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1.0000001e-5] {
            let bn = TensorSource.BatchNorm(gamma: "g", beta: "b", mean: "m", variance: "v", epsilon: eps, convWeight: "w", convBias: "c")
            let sources = [0: TensorSource(initializer: "w", transform: .foldedWeight, batchNorm: bn),
                           1: TensorSource(initializer: "b", transform: .foldedBias, batchNorm: bn, trainedRows: 3),
                           2: TensorSource(initializer: "v", transform: .inverseStd, batchNorm: bn)]
            let names = ["w", "renamed", "v.invstd"]
            let block = PlanProvenance(sources: sources).encoded(names: names)
            let back = try PlanProvenance.decode(ArraySlice(block), names: names)
            #expect(back.sources == sources)
            #expect(back.sources[0]?.batchNorm?.epsilon.bitPattern == eps.bitPattern)
            let json = String(decoding: block.dropFirst(PlanProvenance.marker.count), as: UTF8.self)
            #expect(!json.contains("\"from\":\"w\"") && json.contains("\"from\":\"b\"") && json.contains("\"from\":\"v\""), "\(json)")
            #expect(json.components(separatedBy: "\"gamma\"").count == 2, "one BatchNormalization listed once")
        }
        for model in [Self.digits + "/mlp.onnx", Self.cnn] {
            var o = options(batch: 8, train: .all)
            o.foldBatchNorm = model == Self.cnn
            let p = try planned(model, o)
            #expect(PlanWriter.estimatedBytes(p.result.program, source: model) == p.result.bytes.count)
        }
    }
}
