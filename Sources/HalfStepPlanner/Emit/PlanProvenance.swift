import Foundation
import HalfStepCore

/// Where a plan tensor's values come from in the source ONNX model, and how to map them back.
///
/// The planner records one source per tensor it fills from an initializer (a weight, a bias, a
/// BatchNormalization statistic or a `Mul` constant, or a transform of one), so `train --export`
/// can write trained tensors back into the source model without importing it again.
public struct TensorSource: Sendable, Equatable {
    /// How the plan tensor relates to its initializer.
    public enum Transform: String, Sendable, Codable {
        /// The initializer's values, in its layout (an fp16 copy, or an fp32 master copy).
        case identity
        /// A 2-D initializer stored transposed in the source (`MatMul`, `Gemm` with `transB = 0`):
        /// the plan holds `[out, in]`, the source `[in, out]`.
        case transposed
        /// A convolution weight with a BatchNormalization folded in: `W′ = W · s` per output
        /// channel, `s = γ / √(var + ε)`. Export divides by `s` again.
        case foldedWeight = "folded-weight"
        /// The bias of a folded pair, `b′ = (b − mean) · s + β`, written back as β:
        /// export subtracts `(b − mean) · s` again.
        case foldedBias = "folded-bias"
        /// `1 / √(var + ε)` of a BatchNormalization's variance (frozen statistics, fp32).
        case inverseStd = "inverse-std"
    }

    /// The initializers of a BatchNormalization a transform involves, its ε (a node attribute, not
    /// an initializer), and the convolution it follows when folded. Export reads `s` and
    /// `(b − mean) · s` from these initializers of the model it writes, as the fold computed them.
    public struct BatchNorm: Sendable, Equatable, Hashable, Codable {
        public var gamma: String
        public var beta: String
        public var mean: String
        public var variance: String
        /// Stored in the block as the binary64 value of this binary32, so it reads back exactly.
        public var epsilon: Float
        /// The folded convolution's weight and bias (nil when not folded, or the conv has no bias).
        public var convWeight: String?
        public var convBias: String?

        public init(gamma: String, beta: String, mean: String, variance: String, epsilon: Float, convWeight: String? = nil, convBias: String? = nil) {
            self.gamma = gamma
            self.beta = beta
            self.mean = mean
            self.variance = variance
            self.epsilon = epsilon
            self.convWeight = convWeight
            self.convBias = convBias
        }

        enum CodingKeys: String, CodingKey {
            case gamma, beta, mean, variance = "var", epsilon = "eps", convWeight = "conv", convBias = "convBias"
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            gamma = try c.decode(String.self, forKey: .gamma)
            beta = try c.decode(String.self, forKey: .beta)
            mean = try c.decode(String.self, forKey: .mean)
            variance = try c.decode(String.self, forKey: .variance)
            let eps = try c.decode(Double.self, forKey: .epsilon)
            guard let exact = Float(exactly: eps) else {
                throw DecodingError.dataCorruptedError(forKey: .epsilon, in: c, debugDescription: "ε \(eps) is not a binary32 value")
            }
            epsilon = exact
            convWeight = try c.decodeIfPresent(String.self, forKey: .convWeight)
            convBias = try c.decodeIfPresent(String.self, forKey: .convBias)
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(gamma, forKey: .gamma)
            try c.encode(beta, forKey: .beta)
            try c.encode(mean, forKey: .mean)
            try c.encode(variance, forKey: .variance)
            try c.encode(Double(epsilon), forKey: .epsilon)
            try c.encodeIfPresent(convWeight, forKey: .convWeight)
            try c.encodeIfPresent(convBias, forKey: .convBias)
        }
    }

    /// The initializer the tensor holds (a transform of); export writes the tensor back under it.
    public var initializer: String
    public var transform: Transform
    /// The BatchNormalization of a folded or inverse-std tensor.
    public var batchNorm: BatchNorm?
    /// Rows (output channels) that train when fewer than the first dimension (`--train-channels`):
    /// the rest keep their source values, as stored.
    public var trainedRows: Int?

    public init(initializer: String, transform: Transform, batchNorm: BatchNorm? = nil, trainedRows: Int? = nil) {
        self.initializer = initializer
        self.transform = transform
        self.batchNorm = batchNorm
        self.trainedRows = trainedRows
    }
}

/// The provenance block of a plan: a host-only section appended to the names section, after the
/// source path, the tensor names and the planner's notes.
///
/// ```
/// 0x00 "halfstep-provenance 1" 0x0A  JSON (UTF-8) to the end of the names section
/// ```
/// The NUL byte ends the notes (notes never contain one). The JSON is
/// `{"batchnorms":[{"beta","conv","convBias","eps","gamma","mean","var"}…],"tensors":[{"t":INDEX,"from":NAME,"as":TRANSFORM,"bn":K,"rows":R}…]}`
/// (keys sorted, absent ones left out: `from` when the initializer has the tensor's own name,
/// `as` for identity; `bn` an index into `batchnorms`, each BatchNormalization listed once).
/// The core never reads the names section beyond each tensor's name range, so the device format
/// (version 1) is unchanged; plans without the block export by importing the model again.
public struct PlanProvenance: Sendable, Equatable {
    /// The block's first line, NUL first.
    public static let marker = Array("\u{0}halfstep-provenance 1\n".utf8)

    /// The source of plan tensor `i` (absent: not from the model: activations, gradients, state).
    public var sources: [Int: TensorSource]

    public init(sources: [Int: TensorSource]) { self.sources = sources }

    /// The sources a program records, by tensor index.
    public init(_ program: TrainingProgram) {
        var s: [Int: TensorSource] = [:]
        for (i, t) in program.tensors.enumerated() { if let source = t.source { s[i] = source } }
        sources = s
    }

    /// The block `PlanWriter` appends for `program` (names as the plan stores them: at most 65535 bytes).
    public static func block(_ program: TrainingProgram) -> [UInt8] {
        PlanProvenance(program).encoded(names: program.tensors.map { String(decoding: $0.name.utf8.prefix(Int(UInt16.max)), as: UTF8.self) })
    }

    /// The block's bytes (marker and JSON); empty when no tensor has a source. `names[i]` is
    /// tensor i's name as the plan stores it.
    public func encoded(names: [String]) -> [UInt8] {
        guard !sources.isEmpty else { return [] }
        var batchNorms: [TensorSource.BatchNorm] = []
        var bnIndex: [TensorSource.BatchNorm: Int] = [:]
        var rows: [Row] = []
        for (i, s) in sources.sorted(by: { $0.key < $1.key }) {
            var k: Int? = nil
            if let bn = s.batchNorm {
                if let existing = bnIndex[bn] { k = existing } else {
                    k = batchNorms.count
                    bnIndex[bn] = batchNorms.count
                    batchNorms.append(bn)
                }
            }
            let from = i < names.count && names[i] == s.initializer ? nil : s.initializer
            rows.append(Row(t: i, from: from, as: s.transform == .identity ? nil : s.transform, bn: k, rows: s.trainedRows))
        }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? e.encode(Block(batchnorms: batchNorms, tensors: rows))) ?? Data()
        return Self.marker + [UInt8](json)
    }

    /// Where a block starts in the bytes after the last tensor name (the notes end there).
    static func start(in tail: ArraySlice<UInt8>) -> Int? {
        tail.firstIndex(of: 0)
    }

    /// Decodes a block (marker included); `names` are the plan's tensor names (their count bounds
    /// the block's tensor indices).
    /// - Throws: a description of what is wrong.
    public static func decode(_ bytes: ArraySlice<UInt8>, names: [String]) throws(ProvenanceError) -> PlanProvenance {
        let tensorCount = names.count
        guard bytes.starts(with: marker) else {
            let line = bytes.prefix(40).split(separator: 0x0A).first.map { String(decoding: $0.dropFirst(), as: UTF8.self) } ?? ""
            throw ProvenanceError("it does not start with the marker line 'halfstep-provenance 1' (found '\(line)'; a newer planner's block?)")
        }
        let block: Block
        do {
            block = try JSONDecoder().decode(Block.self, from: Data(bytes.dropFirst(marker.count)))
        } catch {
            throw ProvenanceError("its JSON does not parse (\(Self.describe(error)))")
        }
        var sources: [Int: TensorSource] = [:]
        for row in block.tensors {
            guard row.t >= 0 && row.t < tensorCount else { throw ProvenanceError("tensor index \(row.t) is outside the plan's \(tensorCount) tensors") }
            guard sources[row.t] == nil else { throw ProvenanceError("tensor \(row.t) has two sources") }
            var bn: TensorSource.BatchNorm? = nil
            if let k = row.bn {
                guard k >= 0 && k < block.batchnorms.count else { throw ProvenanceError("tensor \(row.t) names BatchNormalization \(k) of \(block.batchnorms.count)") }
                bn = block.batchnorms[k]
            }
            let transform = row.as ?? .identity
            switch transform {
            case .foldedWeight, .foldedBias, .inverseStd:
                guard bn != nil else { throw ProvenanceError("tensor \(row.t) is \(transform.rawValue) but names no BatchNormalization") }
            case .identity, .transposed:
                break
            }
            sources[row.t] = TensorSource(initializer: row.from ?? names[row.t], transform: transform, batchNorm: bn, trainedRows: row.rows)
        }
        return PlanProvenance(sources: sources)
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c): return c.debugDescription
        case DecodingError.keyNotFound(let k, let c): return "missing '\(k.stringValue)'" + (c.codingPath.isEmpty ? "" : " at \(c.codingPath.map(\.stringValue).joined(separator: "."))")
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            return "unexpected value at \(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        default: return "\(error)"
        }
    }

    struct Row: Codable {
        var t: Int
        var from: String?
        var `as`: TensorSource.Transform?
        var bn: Int?
        var rows: Int?
    }

    struct Block: Codable {
        var batchnorms: [TensorSource.BatchNorm]
        var tensors: [Row]
    }
}

/// What is wrong with a plan's provenance block.
public struct ProvenanceError: Error, Equatable, CustomStringConvertible {
    public var detail: String
    public init(_ detail: String) { self.detail = detail }
    public var description: String { detail }
}
