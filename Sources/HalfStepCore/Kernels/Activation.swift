/// Elementwise activations beside ReLU, computed in fp32 from fp16 storage.
///
/// Shapes: E elements. x [E] → y [E]. Backward reads `y` (clip, hard sigmoid, sigmoid: so the
/// forward may run in place) or `x` (hard swish), as `Activation.Kind.backwardReadsInput` says.
public enum Activation {
    /// Which function; parameters `a` and `b` as each case says.
    public enum Kind: UInt32, Sendable {
        /// `min(max(x, a), b)` (ONNX `Clip`; ReLU6 is a = 0, b = 6).
        case clip = 1
        /// `max(0, min(1, a·x + b))` (ONNX `HardSigmoid`, alpha = a, beta = b).
        case hardSigmoid = 2
        /// `x · max(0, min(1, x/6 + 1/2))` (ONNX `HardSwish`).
        case hardSwish = 3
        /// `1 / (1 + e^−x)`.
        case sigmoid = 4
        /// `1 − 2 / (1 + e^2x)` (ONNX `Tanh`): ±1 where e^2x overflows or vanishes.
        case tanh = 5
        /// `x` for `x > 0`, else `a·x` (ONNX `LeakyRelu`, alpha = a ≥ 0, so the output's sign is
        /// the input's and backward reads the output).
        case leakyRelu = 6

        /// True when backward needs the input rather than the output.
        @inlinable public var backwardReadsInput: Bool { self == .hardSwish }
    }

    @inlinable
    public static func forward(_ kind: Kind, y: TensorView<Float16>, x: TensorView<Float16>, count: Int, a: Float, b: Float) {
        // The kind is chosen once per call, not per element: each case runs its own loop.
        switch kind {
        case .clip:
            guard let bits = ClipBits(a: a, b: b) else { return map(y, x, count) { v in min(max(v, a), b) } }
            if bits.low == 0 {
                clipPairs(y, x, count, bits, a: a, b: b, lowIsZero: true)
            } else {
                clipPairs(y, x, count, bits, a: a, b: b, lowIsZero: false)
            }
        case .hardSigmoid: map(y, x, count) { v in max(0, min(1, a * v + b)) }
        case .hardSwish: map(y, x, count) { v in v * max(0, min(1, v / 6 + 0.5)) }
        case .sigmoid: map(y, x, count) { v in 1 / (1 + Elementary.exp(-v)) }
        case .tanh: map(y, x, count) { v in 1 - 2 / (1 + Elementary.exp(2 * v)) }
        case .leakyRelu: map(y, x, count) { v in v > 0 ? v : a * v }
        }
    }

    /// Clip's limits as fp16 bit patterns read as signed 16-bit integers, when `+0 ≤ a ≤ b` are
    /// both fp16 values (ReLU6: 0 and 0x4600). Then for every fp16 `h` that is not a NaN,
    /// `Float16(min(max(Float(h), a), b))` is `h` as an Int16 clamped to `low...high`: positive
    /// patterns order as their values, a set sign bit (−0, negatives, −∞) reads as negative and
    /// gives `a`, and `a`, `b` and `h` itself come back exactly from fp32.
    @usableFromInline
    struct ClipBits {
        @usableFromInline let low: Int32, high: Int32

        @inlinable
        init?(a: Float, b: Float) {
            guard a.sign == .plus, b.sign == .plus, a <= b, Float(Float16(a)) == a, Float(Float16(b)) == b else { return nil }
            low = Int32(Float16(a).bitPattern)
            high = Int32(Float16(b).bitPattern)
        }
    }

    /// Clip two elements per 32-bit load and store, in integer arithmetic on the bit patterns
    /// (`ClipBits`); a pair holding a NaN, and an odd last element, go through fp32 as `map` does.
    /// `lowIsZero` (ReLU6) clamps below with a mask of the sign instead of a compare.
    @inlinable @inline(__always)
    static func clipPairs(_ y: TensorView<Float16>, _ x: TensorView<Float16>, _ count: Int, _ bits: ClipBits,
                          a: Float, b: Float, lowIsZero: Bool) {
        let src = UnsafeRawPointer(x.base), dst = UnsafeMutableRawPointer(y.base)
        let low = bits.low, high = bits.high
        let end = (count &>> 1) &<< 2
        var at = 0
        while at < end {
            let w = src.loadUnaligned(fromByteOffset: at, as: UInt32.self)
            if ((w & 0x7FFF_7FFF) &+ 0x03FF_03FF) & 0x8000_8000 != 0 {
                // A lane's magnitude above 0x7C00 (+∞) carries into its bit 15: a NaN.
                let i = at &>> 1
                let v0 = Float(x[i]), v1 = Float(x[i &+ 1])
                y[i] = Float16(min(max(v0, a), b))
                y[i &+ 1] = Float16(min(max(v1, a), b))
            } else {
                let s0 = Int32(truncatingIfNeeded: Int16(truncatingIfNeeded: w)), s1 = Int32(bitPattern: w) &>> 16
                let m0 = lowIsZero ? s0 & ~(s0 &>> 31) : max(s0, low)
                let m1 = lowIsZero ? s1 & ~(s1 &>> 31) : max(s1, low)
                let r0 = UInt32(truncatingIfNeeded: min(m0, high)), r1 = UInt32(truncatingIfNeeded: min(m1, high))
                dst.storeBytes(of: (r0 & 0xFFFF) | (r1 &<< 16), toByteOffset: at, as: UInt32.self)
            }
            at &+= 4
        }
        if count & 1 != 0 {
            let i = count &- 1
            y[i] = Float16(min(max(Float(x[i]), a), b))
        }
    }

    /// `y[i] = Float16(f(Float(x[i])))` for `i < count`.
    @inlinable @inline(__always)
    static func map(_ y: TensorView<Float16>, _ x: TensorView<Float16>, _ count: Int, _ f: (Float) -> Float) {
        var i = 0
        while i < count {
            y[i] = Float16(f(Float(x[i])))
            i &+= 1
        }
    }

    /// `dx = dy · f′`, from `saved` (the output, or the input for hard swish). `dx` may be `dy`.
    @inlinable
    public static func backward(_ kind: Kind, dx: TensorView<Float16>, dy: TensorView<Float16>, saved: TensorView<Float16>,
                                count: Int, a: Float, b: Float) {
        switch kind {
        case .clip:
            guard let bits = ClipBits(a: a, b: b) else { return zipMap(dx, dy, saved, count) { d, s in s > a && s < b ? d : 0 } }
            clipBackwardPairs(dx, dy, saved, count, bits, a: a, b: b)
        case .hardSigmoid: zipMap(dx, dy, saved, count) { d, s in s > 0 && s < 1 ? d * a : 0 }
        case .hardSwish: zipMap(dx, dy, saved, count) { d, s in s < -3 ? 0 : (s > 3 ? d : d * (s / 3 + 0.5)) }
        case .sigmoid: zipMap(dx, dy, saved, count) { d, s in d * s * (1 - s) }
        case .tanh: zipMap(dx, dy, saved, count) { d, s in d * (1 - s * s) }
        case .leakyRelu: zipMap(dx, dy, saved, count) { d, s in s > 0 ? d : d * a }
        }
    }

    /// Clip's backward two elements per 32-bit load and store, in integer arithmetic on the bit
    /// patterns: `a < s < b` is `low < s < high` on `s`'s pattern read as a signed 16-bit integer
    /// (`ClipBits`; a NaN `s` fails either bound, as in fp32), and `dy` passes unchanged, as it
    /// comes back exactly from fp32 unless it is a NaN. A pair whose `dy` holds a NaN, and an odd
    /// last element, go through fp32 as `zipMap` does.
    @inlinable @inline(__always)
    static func clipBackwardPairs(_ dx: TensorView<Float16>, _ dy: TensorView<Float16>, _ saved: TensorView<Float16>, _ count: Int,
                                  _ bits: ClipBits, a: Float, b: Float) {
        // low < s < high as one unsigned comparison: s − low − 1 < high − low − 1 (none when high ≤ low + 1).
        let low = bits.low &+ 1, span = UInt32(bitPattern: max(bits.high &- low, 0))
        var i = 0
        let pairsEnd = count & ~1
        while i < pairsEnd {
            let d = dy.pairBits(i), w = saved.pairBits(i)
            if ((d & 0x7FFF_7FFF) &+ 0x03FF_03FF) & 0x8000_8000 != 0 {
                // A lane's magnitude above 0x7C00 (+∞) carries into its bit 15: a NaN.
                clipBackwardInFloat(dx, dy, saved, i, a: a, b: b)
                clipBackwardInFloat(dx, dy, saved, i &+ 1, a: a, b: b)
            } else {
                let s0 = Int32(truncatingIfNeeded: Int16(truncatingIfNeeded: w)), s1 = Int32(bitPattern: w) &>> 16
                let keep0: UInt32 = UInt32(bitPattern: s0 &- low) < span ? 0x0000_FFFF : 0
                let keep1: UInt32 = UInt32(bitPattern: s1 &- low) < span ? 0xFFFF_0000 : 0
                dx.setPairBits(i, d & (keep0 | keep1))
            }
            i &+= 2
        }
        if i < count { clipBackwardInFloat(dx, dy, saved, i, a: a, b: b) }
    }

    /// Element `i` of clip's backward as `zipMap` computes it, out of line: the pairs whose `dy`
    /// holds a NaN.
    @usableFromInline @inline(never)
    static func clipBackwardInFloat(_ dx: TensorView<Float16>, _ dy: TensorView<Float16>, _ saved: TensorView<Float16>, _ i: Int,
                                    a: Float, b: Float) {
        let s = Float(saved[i])
        dx[i] = Float16(s > a && s < b ? Float(dy[i]) : 0)
    }

    /// `dx[i] = Float16(f(Float(dy[i]), Float(saved[i])))` for `i < count`.
    @inlinable @inline(__always)
    static func zipMap(_ dx: TensorView<Float16>, _ dy: TensorView<Float16>, _ saved: TensorView<Float16>, _ count: Int,
                       _ f: (Float, Float) -> Float) {
        var i = 0
        while i < count {
            dx[i] = Float16(f(Float(dy[i]), Float(saved[i])))
            i &+= 1
        }
    }
}
