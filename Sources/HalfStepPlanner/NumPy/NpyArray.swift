/// Element types of the `.npy` files HalfStep reads and writes.
public enum NpyDType: String, Sendable, Equatable {
    case float32 = "<f4"
    case float16 = "<f2"
    case int64 = "<i8"
    case int32 = "<i4"
    case uint8 = "|u1"

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16: return 2
        case .int64: return 8
        case .uint8: return 1
        }
    }

    /// numpy's name for the type, for messages.
    public var name: String {
        switch self {
        case .float32: return "float32"
        case .float16: return "float16"
        case .int64: return "int64"
        case .int32: return "int32"
        case .uint8: return "uint8"
        }
    }
}

/// An n-dimensional array as a `.npy` file holds it: shape, element type, little-endian bytes.
public struct NpyArray: Sendable, Equatable {
    public var shape: [Int]
    public var dtype: NpyDType
    /// Raw little-endian element bytes, C order.
    public var data: [UInt8]

    public init(shape: [Int], dtype: NpyDType, data: [UInt8]) {
        self.shape = shape
        self.dtype = dtype
        self.data = data
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    public init(float32 values: [Float], shape: [Int]) {
        self.init(shape: shape, dtype: .float32, data: values.flatMap { le($0.bitPattern) })
    }

    public init(float16 values: [Float16], shape: [Int]) {
        self.init(shape: shape, dtype: .float16, data: values.flatMap { le($0.bitPattern) })
    }

    public init(int64 values: [Int64], shape: [Int]) {
        self.init(shape: shape, dtype: .int64, data: values.flatMap { le(UInt64(bitPattern: $0)) })
    }

    public init(int32 values: [Int32], shape: [Int]) {
        self.init(shape: shape, dtype: .int32, data: values.flatMap { le(UInt32(bitPattern: $0)) })
    }

    public init(uint8 values: [UInt8], shape: [Int]) {
        self.init(shape: shape, dtype: .uint8, data: values)
    }

    /// Every element converted to Float (integers exactly up to 2²⁴).
    public func floats() -> [Float] {
        (0 ..< count).map { float(at: $0) }
    }

    /// Element `i` as Float.
    public func float(at i: Int) -> Float {
        switch dtype {
        case .float32: return Float(bitPattern: UInt32(load(i, 4)))
        case .float16: return Float(Float16(bitPattern: UInt16(load(i, 2))))
        case .int64: return Float(Int64(bitPattern: load(i, 8)))
        case .int32: return Float(Int32(bitPattern: UInt32(load(i, 4))))
        case .uint8: return Float(data[i])
        }
    }

    /// Element `i` of an integer array as Int64 (nil for float arrays).
    public func integer(at i: Int) -> Int64? {
        switch dtype {
        case .int64: return Int64(bitPattern: load(i, 8))
        case .int32: return Int64(Int32(bitPattern: UInt32(load(i, 4))))
        case .uint8: return Int64(data[i])
        case .float32, .float16: return nil
        }
    }

    func load(_ i: Int, _ width: Int) -> UInt64 {
        var v: UInt64 = 0
        for b in 0 ..< width { v |= UInt64(data[i * width + b]) << (8 * UInt64(b)) }
        return v
    }
}

func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    (0 ..< T.bitWidth / 8).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }
}
