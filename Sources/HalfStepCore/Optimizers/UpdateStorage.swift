/// How a stored number is read into fp32 and written back after an update.
///
/// Parameters and optimizer state are stored as fp16 or fp32; the update arithmetic is always
/// fp32, and this protocol is the one place the rounding back happens.
public protocol UpdateStorage {
    /// The stored value, widened to Float (exact).
    var widened: Float { get }
    /// `value` rounded to this storage type (round to nearest even).
    init(rounding value: Float)
}

extension Float16: UpdateStorage {
    @inlinable @inline(__always) public var widened: Float { Float(self) }
    @inlinable @inline(__always) public init(rounding value: Float) { self.init(value) }
}

extension Float: UpdateStorage {
    @inlinable @inline(__always) public var widened: Float { self }
    @inlinable @inline(__always) public init(rounding value: Float) { self = value }
}

/// Optimizer state as the update loop sees it.
public enum StateView {
    case half(TensorView<Float16>)
    case single(TensorView<Float>)
}

/// What one update op did, for the trainer's counters.
public struct UpdateTally {
    /// Elements whose update was nonzero.
    public var nonzeroUpdates: Int = 0
    /// Elements whose nonzero update left the stored parameter unchanged (rounded away).
    public var underflows: Int = 0

    public init() {}
}
