import HalfStepCore

/// Deterministic test data: SplitMix64, so every run sees the same numbers.
public struct TestRandom {
    public var state: UInt64
    public init(_ seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * Double(next() >> 11) / Double(1 << 53)
    }
    /// `count` values uniform in [lo, hi), rounded to fp16.
    public mutating func halves(_ count: Int, _ lo: Double = -1, _ hi: Double = 1) -> [Float16] {
        (0 ..< count).map { _ in Float16(uniform(lo, hi)) }
    }
}

/// Memory for a test tensor, with a view of it.
///
/// Never freed: tests write `Buffer(x).view` inline, and ARC may release a temporary as soon as
/// its view has been read, leaving the view dangling. Test buffers are small; leaking them for
/// the life of the test process is the simple, safe choice.
public final class Buffer<T> {
    public let pointer: UnsafeMutablePointer<T>
    public let count: Int
    public init(_ values: [T]) {
        count = values.count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(from: values, count: count)
    }
    public init(repeating v: T, count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: v, count: count)
    }
    public var view: TensorView<T> { TensorView(base: pointer, count: count) }
    public var array: [T] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
