import Foundation
import HalfStepCore

/// Writes a session's trained tensors back into a copy of the source ONNX model (`train --export`).
///
/// A plan with a provenance block (`PlanProvenance`) maps each trainable tensor to its initializer
/// through it, undoing the recorded transform: a transposed weight goes back to `[in, out]`, a
/// folded one is divided by `s = γ / √(var + ε)` again, with γ, var, mean and the convolution's
/// bias read from the initializers the block names and ε from the block, exactly as the fold
/// computed them. The model is read, never imported. A plan written before the planner recorded
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
        let (updating, layouts) = try trainedInitializers(session, provenance, model: model)
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
    static func trainedInitializers(_ session: TrainingSession, _ provenance: PlanProvenance, model: ONNXModel) throws
        -> (values: [String: [Float]], layouts: [String: ONNXExporter.Layout]) {
        let loaded = session.loaded, plan = loaded.plan
        var values: [String: [Float]] = [:], layouts: [String: ONNXExporter.Layout] = [:]
        func corrupt(_ i: Int, _ detail: String) -> PlanLoadError {
            .badProvenance(path: loaded.path, detail: "tensor \(i) '\(loaded.name(of: i))' \(detail)")
        }
        var constants: [String: ONNXTensor]? = nil
        /// The values of initializer `name` (`count` of them), for undoing a fold.
        func floats(_ name: String, count: Int, of i: Int) throws -> [Float] {
            if constants == nil { constants = ONNXImporter.constantTensors(model) }
            guard let t = constants?[name], let f = t.floats, f.count == count else {
                throw ONNXError.graph(path: model.path, detail: "the plan's tensor '\(loaded.name(of: i))' was folded with '\(name)' (\(count) values), which the model does not hold (is this the model the plan was made from?)")
            }
            return f
        }
        /// `s` per channel of a fold and, for its bias, `(b − mean) · s`.
        func factors(_ bn: TensorSource.BatchNorm, channels: Int, of i: Int) throws -> (scale: [Double], offset: [Double]) {
            let scale = BatchNormFolding.scale(gamma: try floats(bn.gamma, count: channels, of: i),
                                               variance: try floats(bn.variance, count: channels, of: i), epsilon: bn.epsilon)
            let b0 = try bn.convBias.map { try floats($0, count: channels, of: i) } ?? [Float](repeating: 0, count: channels)
            return (scale, BatchNormFolding.offset(bias: b0, mean: try floats(bn.mean, count: channels, of: i), scale: scale))
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
                guard let bn = source.batchNorm, shape.count >= 2, shape[0] > 0 else { throw corrupt(i, "is a folded weight of shape \(shape)") }
                v = BatchNormFolding.unfoldWeight(v, scale: try factors(bn, channels: shape[0], of: i).scale)
            case .foldedBias:
                // As `BatchNormFolding.unfold`: β = b′ − (b − mean) · s.
                guard let bn = source.batchNorm, shape.count == 1 else { throw corrupt(i, "is a folded bias of shape \(shape)") }
                v = BatchNormFolding.unfoldBias(v, offset: try factors(bn, channels: shape[0], of: i).offset)
            case .inverseStd:
                throw corrupt(i, "trains but is a BatchNormalization's inverse standard deviation")
            }
            values[source.initializer] = v
            layouts[source.initializer] = .init(shape: shape, transposed: source.transform == .transposed)
        }
        return (values, layouts)
    }
}
