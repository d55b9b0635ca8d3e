/// Why a `.npy` file was refused. Every case renders one line naming the file, the place and what
/// was expected against what was found.
public enum NpyError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String)
    case unwritable(path: String)
    /// The first bytes are not `\x93NUMPY`.
    case badMagic(path: String)
    case unsupportedVersion(path: String, major: Int, minor: Int)
    /// The file ends before `needed` bytes at `offset`.
    case truncated(path: String, offset: Int, needed: Int, available: Int)
    /// The header dictionary cannot be parsed: `detail` says where and what.
    case badHeader(path: String, detail: String)
    /// A dtype this reader does not take (big-endian, objects, other kinds).
    case unsupportedDType(path: String, found: String)
    case fortranOrder(path: String)
    case badShape(path: String, detail: String)
    /// The data section's length disagrees with the shape.
    case sizeMismatch(path: String, expectedBytes: Int, foundBytes: Int)
    /// Class labels must be integers.
    case labelsNotIntegers(path: String, dtype: String)
    case labelOutOfRange(path: String, index: Int, value: Int64, classes: Int)
    case notFinite(path: String, index: Int, value: String)
    case countMismatch(inputs: String, inputCount: Int, labels: String, labelCount: Int)
    case featureMismatch(path: String, found: Int, expected: Int)
    case labelsShape(path: String, shape: [Int])
    /// Regression targets whose per-sample element count is not the model output's.
    case targetsShape(path: String, shape: [Int], outputs: Int)
    /// Regression targets must be float32 or float16.
    case targetsNotFloats(path: String, dtype: String)

    public var description: String {
        switch self {
        case .unreadable(let p): return "\(p): cannot read the file (does it exist?)"
        case .unwritable(let p): return "\(p): cannot write the file"
        case .badMagic(let p): return "\(p): bytes 0..<6 are not \\x93NUMPY: not a NumPy .npy file"
        case .unsupportedVersion(let p, let major, let minor): return "\(p): .npy format version \(major).\(minor) at byte 6; versions 1.0, 2.0 and 3.0 are read"
        case .truncated(let p, let offset, let needed, let available): return "\(p): truncated at byte \(offset): \(needed) bytes needed, \(available) remain"
        case .badHeader(let p, let detail): return "\(p): malformed header: \(detail)"
        case .unsupportedDType(let p, let found): return "\(p): dtype '\(found)' is not supported; expected little-endian <f4 (float32), <f2 (float16), <i8 (int64), <i4 (int32) or |u1 (uint8)"
        case .fortranOrder(let p): return "\(p): array is in Fortran order; save it C-ordered (numpy.ascontiguousarray)"
        case .badShape(let p, let detail): return "\(p): bad shape: \(detail)"
        case .sizeMismatch(let p, let expected, let found): return "\(p): the shape needs \(expected) data bytes, the file has \(found)"
        case .labelsNotIntegers(let p, let dtype): return "\(p): labels are \(dtype); class indices must be int64, int32 or uint8"
        case .labelOutOfRange(let p, let index, let value, let classes): return "\(p): the label at index \(index) is \(value), outside 0..<\(classes)"
        case .notFinite(let p, let index, let value): return "\(p): element \(index) is \(value); inputs and targets must be finite"
        case .countMismatch(let x, let nx, let y, let ny): return "\(x) has \(nx) samples but \(y) has \(ny)"
        case .featureMismatch(let p, let found, let expected): return "\(p): \(found) features per sample, the model takes \(expected)"
        case .labelsShape(let p, let shape): return "\(p): labels have shape \(shape); a 1-D array of class indices is expected"
        case .targetsShape(let p, let shape, let outputs):
            let found = shape.dropFirst().reduce(1, *)
            return "\(p): targets have shape \(shape) (\(found) values per sample); the model's output has \(outputs) per sample, so [samples, \(outputs)] or the output's own shape is expected"
        case .targetsNotFloats(let p, let dtype): return "\(p): targets are \(dtype); regression targets must be float32 or float16"
        }
    }
}
