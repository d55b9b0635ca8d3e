/// A training or evaluation set, ready for the core: inputs in fp16, and either class indices
/// (a classification plan) or fp16 targets (a regression plan).
public struct Dataset: Sendable, Equatable {
    /// Inputs, `[count, features]` row-major, fp16.
    public var inputs: [Float16]
    /// Class indices, `[count]`; empty for a regression set.
    public var labels: [Int32]
    /// Regression targets, `[count, outputs]` row-major, fp16; empty for a classification set.
    public var targets: [Float16]
    /// Samples.
    public var count: Int
    /// Input elements per sample.
    public var features: Int
    /// Target elements per sample (0 for a classification set).
    public var outputs: Int

    public init(inputs: [Float16], labels: [Int32], count: Int, features: Int) {
        self.inputs = inputs
        self.labels = labels
        self.targets = []
        self.count = count
        self.features = features
        self.outputs = 0
    }

    /// A regression set: `targets` holds `outputs` values per sample.
    public init(inputs: [Float16], targets: [Float16], count: Int, features: Int, outputs: Int) {
        self.inputs = inputs
        self.labels = []
        self.targets = targets
        self.count = count
        self.features = features
        self.outputs = outputs
    }

    /// True for a set of regression targets.
    public var isRegression: Bool { outputs > 0 }

    /// Loads `inputs` (as `load`) and float `targets` with `outputs` values per sample (float32 or
    /// float16, `[N, …]` trailing dimensions flattened; for an autoencoder the inputs file itself).
    /// Refuses a sample count or per-sample size that does not match, and NaN, infinite or
    /// beyond-fp16 targets, naming the file and the element.
    public static func load(inputs: String, targets: String, expectedFeatures: Int?, outputs: Int) throws(NpyError) -> Dataset {
        let x = try NpyReader.read(path: inputs)
        let y = inputs == targets ? x : try NpyReader.read(path: targets)
        return try make(x, inputsPath: inputs, targets: y, targetsPath: targets, expectedFeatures: expectedFeatures, outputs: outputs)
    }

    /// `load(inputs:targets:…)` on arrays already in memory.
    public static func make(_ x: NpyArray, inputsPath: String, targets y: NpyArray, targetsPath: String,
                            expectedFeatures: Int?, outputs: Int) throws(NpyError) -> Dataset {
        let (halves, n, features) = try fp16Inputs(x, path: inputsPath, expectedFeatures: expectedFeatures)
        guard y.dtype == .float32 || y.dtype == .float16 else { throw .targetsNotFloats(path: targetsPath, dtype: y.dtype.name) }
        guard let ny = y.shape.first else { throw .targetsShape(path: targetsPath, shape: y.shape, outputs: outputs) }
        guard ny == n else { throw .countMismatch(inputs: inputsPath, inputCount: n, labels: targetsPath, labelCount: ny) }
        guard y.shape.dropFirst().reduce(1, *) == outputs else { throw .targetsShape(path: targetsPath, shape: y.shape, outputs: outputs) }
        var targets = [Float16](repeating: 0, count: y.count)
        for i in 0 ..< y.count {
            let v = y.float(at: i)
            if !v.isFinite || abs(v) > 65504 {
                throw .notFinite(path: targetsPath, index: i, value: v.isFinite ? "\(v), beyond fp16's ±65504" : "\(v)")
            }
            targets[i] = Float16(v)
        }
        return Dataset(inputs: halves, targets: targets, count: n, features: features, outputs: outputs)
    }

    /// The inputs as fp16 `[N, features]`, refused when not finite or beyond fp16's range.
    static func fp16Inputs(_ x: NpyArray, path inputsPath: String, expectedFeatures: Int?) throws(NpyError) -> ([Float16], Int, Int) {
        guard x.dtype == .float32 || x.dtype == .float16 else {
            throw .unsupportedDType(path: inputsPath, found: "\(x.dtype.rawValue) (\(x.dtype.name)); inputs must be float32 or float16, found")
        }
        guard let n = x.shape.first, x.shape.count >= 1 else { throw .badShape(path: inputsPath, detail: "a scalar; [samples, features] expected") }
        let features = x.shape.dropFirst().reduce(1, *)
        if let expectedFeatures, features != expectedFeatures {
            throw .featureMismatch(path: inputsPath, found: features, expected: expectedFeatures)
        }
        var halves = [Float16](repeating: 0, count: x.count)
        for i in 0 ..< x.count {
            let v = x.float(at: i)
            if !v.isFinite || abs(v) > 65504 {
                throw .notFinite(path: inputsPath, index: i, value: v.isFinite ? "\(v), beyond fp16's ±65504" : "\(v)")
            }
            halves[i] = Float16(v)
        }
        return (halves, n, features)
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
        guard y.shape.count == 1 else { throw .labelsShape(path: labelsPath, shape: y.shape) }
        guard y.dtype == .int64 || y.dtype == .int32 || y.dtype == .uint8 else {
            throw .labelsNotIntegers(path: labelsPath, dtype: y.dtype.name)
        }
        guard y.shape[0] == n else { throw .countMismatch(inputs: inputsPath, inputCount: n, labels: labelsPath, labelCount: y.shape[0]) }
        let (halves, _, features) = try fp16Inputs(x, path: inputsPath, expectedFeatures: expectedFeatures)
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
