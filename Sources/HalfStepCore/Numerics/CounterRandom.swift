/// Counter-based random numbers: a pure function of (seed, step, stream, index), so stochastic
/// rounding needs no generator state and gives the same numbers on the host and on a device.
///
/// Each input is folded in through the "lowbias32" integer hash (Chris Wellons' hash prospector),
/// a 32-bit mixer with low avalanche bias; 32-bit arithmetic only, cheap on a Cortex-M.
public enum CounterRandom {
    @inlinable @inline(__always)
    static func mix(_ value: UInt32) -> UInt32 {
        var x = value
        x ^= x >> 16
        x &*= 0x7FEB_352D
        x ^= x >> 15
        x &*= 0x846C_A68B
        x ^= x >> 16
        return x
    }

    /// 32 random bits for the given counters.
    @inlinable
    public static func bits(seed: UInt32, step: UInt32, stream: UInt32, index: UInt32) -> UInt32 {
        mix(mix(mix(mix(seed ^ 0x9E37_79B9) ^ step) ^ stream) ^ index)
    }

    /// A uniform Float in [0, 1) with 24 random bits.
    @inlinable
    public static func unit(seed: UInt32, step: UInt32, stream: UInt32, index: UInt32) -> Float {
        Float(Int(bits(seed: seed, step: step, stream: stream, index: index) >> 8)) * (1.0 / 16_777_216)
    }
}
