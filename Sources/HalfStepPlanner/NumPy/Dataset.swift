/// A labelled training or evaluation set, ready for the core: inputs in fp16, labels as class
/// indices.
public struct Dataset: Sendable, Equatable {
    /// Inputs, `[count, features]` row-major, fp16.
    public var inputs: [Float16]
    /// Class indices, `[count]`.
    public var labels: [Int32]
    /// Samples.
    public var count: Int
    /// Input elements per sample.
    public var features: Int

    public init(inputs: [Float16], labels: [Int32], count: Int, features: Int) {
        self.inputs = inputs
        self.labels = labels
        self.count = count
        self.features = features
    }

    /// Loads `inputs` (float32/float16, `[N, …]`, trailing dimensions flattened) and `labels`
    /// (int64/int32/uint8, `[N]`), checks them against the model and converts inputs to fp16.
    /// Refuses NaN/inf inputs, inputs beyond fp16's range (±65504), and labels outside `0..<classes`.
    public static func load(inputs: String, labels: String, expectedFeatures: Int?, classes: Int?) throws(NpyError) -> Dataset {
        let x = try NpyReader.read(path: inputs)
        let y = try NpyReader.read(path: labels)
        return try make(x, inputsPath: inputs, y, labelsPath: labels, expectedFeatures: expectedFeatures, classes: classes)
    }

    /// `load` on arrays already in memory.
    public static func make(_ x: NpyArray, inputsPath: String, _ y: NpyArray, labelsPath: String,
                            expectedFeatures: Int?, classes: Int?) throws(NpyError) -> Dataset {
        guard x.dtype == .float32 || x.dtype == .float16 else {
            throw .unsupportedDType(path: inputsPath, found: "\(x.dtype.rawValue) (\(x.dtype.name)); inputs must be float32 or float16, found")
        }
        guard let n = x.shape.first, x.shape.count >= 1 else { throw .badShape(path: inputsPath, detail: "a scalar; [samples, features] expected") }
        let features = x.shape.dropFirst().reduce(1, *)
        if let expectedFeatures, features != expectedFeatures {
            throw .featureMismatch(path: inputsPath, found: features, expected: expectedFeatures)
        }
        guard y.shape.count == 1 else { throw .labelsShape(path: labelsPath, shape: y.shape) }
        guard y.dtype == .int64 || y.dtype == .int32 || y.dtype == .uint8 else {
            throw .labelsNotIntegers(path: labelsPath, dtype: y.dtype.name)
        }
        guard y.shape[0] == n else { throw .countMismatch(inputs: inputsPath, inputCount: n, labels: labelsPath, labelCount: y.shape[0]) }
        var halves = [Float16](repeating: 0, count: x.count)
        for i in 0 ..< x.count {
            let v = x.float(at: i)
            if !v.isFinite || abs(v) > 65504 {
                throw .notFinite(path: inputsPath, index: i, value: v.isFinite ? "\(v), beyond fp16's ±65504" : "\(v)")
            }
            halves[i] = Float16(v)
        }
        var labelValues = [Int32](repeating: 0, count: n)
        for i in 0 ..< n {
            let v = y.integer(at: i)!
            if v < 0 || v > Int64(Int32.max) || (classes.map { v >= Int64($0) } ?? false) {
                throw .labelOutOfRange(path: labelsPath, index: i, value: v, classes: classes ?? Int(Int32.max))
            }
            labelValues[i] = Int32(v)
        }
        return Dataset(inputs: halves, labels: labelValues, count: n, features: features)
    }
}
