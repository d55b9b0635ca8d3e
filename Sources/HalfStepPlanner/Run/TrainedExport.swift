import Foundation
import HalfStepCore

/// Writes a session's trained tensors back into a copy of the source ONNX model (`train --export`).
///
/// A plan with a provenance block (`PlanProvenance`) maps each trainable tensor to its initializer
/// through it, undoing the recorded transform (a fold is divided out again with the factors the
/// planner used); the model is read, never imported. A plan written before the planner recorded
/// provenance (format v1 plans of earlier builds) exports the old way: the model is imported
/// again and tensors are matched to initializers by name, re-deriving BatchNorm folding.
/// Both give the same bytes.
public enum TrainedExport {
    /// Writes the exported model to `out`.
    public static func write(_ session: TrainingSession, model path: String, to out: String) throws {
        let bytes = try encode(session, model: try ONNXReader.read(path: path))
        guard FileManager.default.createFile(atPath: out, contents: Data(bytes)) else { throw ONNXError.unwritable(path: out) }
    }

    /// The exported model's bytes: `model` with the session's trained tensors written back.
    /// - Throws: `PlanLoadError.badProvenance` when the plan's block is damaged, `ONNXError` when
    ///   `model` does not hold the initializers the plan trained.
    public static func encode(_ session: TrainingSession, model: ONNXModel) throws -> [UInt8] {
        guard let provenance = try session.loaded.provenance() else {
            let graph = try ONNXImporter.importGraph(model)
            return try ONNXExporter.encode(original: model, updating: session.trainedParameters(sourceGraph: graph), graph: graph)
        }
        let (updating, layouts) = try trainedInitializers(session, provenance)
        let dims = Dictionary(model.graph.initializers.map { ($0.name, $0.dims) }, uniquingKeysWith: { a, _ in a })
        for (name, values) in updating.sorted(by: { $0.key < $1.key }) {
            guard let d = dims[name], let layout = layouts[name] else { continue } // not an initializer: encode names it
            let fits = layout.transposed ? d == [layout.shape[1], layout.shape[0]] : d.reduce(1, *) == values.count
            guard fits else {
                throw ONNXError.graph(path: model.path, detail: "'\(name)' has shape \(d); the plan trained it as \(layout.shape)\(layout.transposed ? " (transposed)" : "") (is this the model the plan was made from?)")
            }
        }
        return try ONNXExporter.encode(original: model, updating: updating) { layouts[$0] }
    }

    /// Each trainable tensor's values under its initializer's name, in HalfStep's layout, with the
    /// recorded transform undone.
    static func trainedInitializers(_ session: TrainingSession, _ provenance: PlanProvenance) throws(PlanLoadError)
        -> (values: [String: [Float]], layouts: [String: ONNXExporter.Layout]) {
        let loaded = session.loaded, plan = loaded.plan
        var values: [String: [Float]] = [:], layouts: [String: ONNXExporter.Layout] = [:]
        func corrupt(_ i: Int, _ detail: String) -> PlanLoadError {
            .badProvenance(path: loaded.path, detail: "tensor \(i) '\(loaded.name(of: i))' \(detail)")
        }
        for i in 0 ..< plan.tensorCount {
            let r = plan.tensor(i)
            guard r.flags & TensorRecord.trainable != 0 else { continue }
            guard let source = provenance.sources[i] else { throw corrupt(i, "trains but has no source") }
            var v = session.trainedValues(of: i)
            let shape = (0 ..< Int(r.rank)).map { r.dim($0) }
            switch source.transform {
            case .identity:
                break
            case .transposed:
                guard shape.count == 2 else { throw corrupt(i, "is transposed but has shape \(shape)") }
            case .foldedWeight:
                // As `BatchNormFolding.unfold`: each output channel divided by its `s` again.
                guard let scale = source.scale, !scale.isEmpty, v.count % scale.count == 0 else {
                    throw corrupt(i, "is a folded weight without one scale per output channel")
                }
                let per = v.count / scale.count
                v = v.enumerated().map { Float(Double($0.element) / scale[$0.offset / per]) }
            case .foldedBias:
                // As `BatchNormFolding.unfold`: β = b′ − (b − mean) · s.
                guard let offset = source.offset, offset.count == v.count else {
                    throw corrupt(i, "is a folded bias without one offset per channel")
                }
                v = v.indices.map { Float(Double(v[$0]) - offset[$0]) }
            case .inverseStd:
                throw corrupt(i, "trains but is a BatchNormalization's inverse standard deviation")
            }
            values[source.initializer] = v
            layouts[source.initializer] = .init(shape: shape, transposed: source.transform == .transposed)
        }
        return (values, layouts)
    }
}
