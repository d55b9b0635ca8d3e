/// The backward pass of ReLU and ReLU6 needs only where the output is strictly inside its linear
/// range, one bit per element, not the fp16 output itself: a sixteenth of the memory when nothing
/// else in backward reads that output (frozen layers above it, biases-only training).
///
/// Shapes: E elements (batch rows × elements per sample). y [E] fp16 → mask [⌈E/32⌉] 32-bit words,
/// bit `i % 32` of word `i / 32` for element i.
///
/// Both directions work on whole 32-element mask words, two fp16 elements per 32-bit load or
/// store, in integer arithmetic on the fp16 bit patterns (no fp32 conversion, no compare per
/// element); the elements past the last whole word go one at a time.
public enum ActivationMask {
    /// Sets bit i of `mask` when `low < y[i] < high`, the condition under which
    /// `Activation.backward(.clip)` passes the gradient (ReLU6: 0 and 6). `high` NaN means no
    /// upper limit, which is ReLU's: `ReLU.backward` passes an overflowed +∞ output's gradient too.
    /// Writes every word that holds one of the `count` bits; bits past `count` are zero.
    @inlinable
    public static func forward(mask: TensorView<UInt32>, y: TensorView<Float16>, count: Int, low: Float, high: Float) {
        guard let range = BitRange(low: low, high: high) else {
            return floatForward(mask: mask, y: y, count: count, low: low, high: high)
        }
        let lo2 = range.lo &* 0x0001_0001, hi2 = range.hi &* 0x0001_0001
        let words = count &>> 5
        var bytes = UnsafeRawPointer(y.base)
        var word = 0
        while word < words {
            // Two elements per load: with the sign bits forced on, lane bit 15 of `o - lo2` is
            // `|h| ≥ lo` and of `o - hi2` is `|h| ≥ hi` (no borrow crosses a lane: lo, hi ≤ 0x7C01);
            // the element's bit is the first and not the second, for a clear sign. Even elements'
            // bits collect in bits 0-15 of `s`, odd ones' in 16-31 (each shifted down once per pair).
            var s: UInt32 = 0
            var b = 0
            while b < 64 {
                let w0 = bytes.loadUnaligned(fromByteOffset: b, as: UInt32.self)
                let w1 = bytes.loadUnaligned(fromByteOffset: b &+ 4, as: UInt32.self)
                let o0 = w0 | 0x8000_8000, o1 = w1 | 0x8000_8000
                s = (s &>> 1) | ((o0 &- lo2) & ~((o0 &- hi2) | w0) & 0x8000_8000)
                s = (s &>> 1) | ((o1 &- lo2) & ~((o1 &- hi2) | w1) & 0x8000_8000)
                b &+= 8
            }
            mask[word] = interleave(s)
            bytes += 64
            word &+= 1
        }
        let done = words &<< 5
        if done < count {
            var bits: UInt32 = 0
            var i = done
            while i < count {
                let h = UInt32(y[i].bitPattern)
                if h >= range.lo && h < range.hi { bits |= 1 &<< UInt32(i &- done) }
                i &+= 1
            }
            mask[words] = bits
        }
    }

    /// The limits as fp16 bit patterns: an element's bit is set iff its pattern `h` has a clear
    /// sign and `lo ≤ h < hi`. Exists when `low ≥ 0` is an fp16 value and `high` is NaN (no upper
    /// limit: +∞ passes, NaN does not), ≤ 0, or an fp16 value; then for every fp16 `v`,
    /// `v > low && !(v >= high)` is exactly that test (positive fp16 patterns order as their values,
    /// NaNs lie above +∞, a set sign bit is never above a low ≥ 0).
    @usableFromInline
    struct BitRange {
        @usableFromInline let lo: UInt32, hi: UInt32

        @inlinable
        init?(low: Float, high: Float) {
            guard low >= 0, Float(Float16(low)) == low else { return nil }
            lo = (low == 0 ? 0 : UInt32(Float16(low).bitPattern)) &+ 1
            if high.isNaN {
                hi = 0x7C01
            } else if high <= 0 {
                hi = 0
            } else {
                guard Float(Float16(high)) == high else { return nil }
                hi = UInt32(Float16(high).bitPattern)
            }
        }
    }

    /// Bits 0-15 of `s` to the even bits, 16-31 to the odd bits (an outer perfect shuffle).
    @inlinable @inline(__always)
    static func interleave(_ s: UInt32) -> UInt32 {
        var x = s, t: UInt32
        t = (x ^ (x &>> 8)) & 0x0000_FF00; x = x ^ t ^ (t &<< 8)
        t = (x ^ (x &>> 4)) & 0x00F0_00F0; x = x ^ t ^ (t &<< 4)
        t = (x ^ (x &>> 2)) & 0x0C0C_0C0C; x = x ^ t ^ (t &<< 2)
        t = (x ^ (x &>> 1)) & 0x2222_2222; x = x ^ t ^ (t &<< 1)
        return x
    }

    /// The inverse of `interleave`: even bits to 0-15, odd bits to 16-31.
    @inlinable @inline(__always)
    static func deinterleave(_ s: UInt32) -> UInt32 {
        var x = s, t: UInt32
        t = (x ^ (x &>> 1)) & 0x2222_2222; x = x ^ t ^ (t &<< 1)
        t = (x ^ (x &>> 2)) & 0x0C0C_0C0C; x = x ^ t ^ (t &<< 2)
        t = (x ^ (x &>> 4)) & 0x00F0_00F0; x = x ^ t ^ (t &<< 4)
        t = (x ^ (x &>> 8)) & 0x0000_FF00; x = x ^ t ^ (t &<< 8)
        return x
    }

    /// `forward` for limits `BitRange` does not cover (a negative low, limits between fp16 values):
    /// compares in fp32, one element at a time.
    @inlinable
    static func floatForward(mask: TensorView<UInt32>, y: TensorView<Float16>, count: Int, low: Float, high: Float) {
        var word = 0
        while word * 32 < count {
            var bits: UInt32 = 0
            let first = word * 32, end = min(count, first + 32)
            var i = first
            while i < end {
                let v = Float(y[i])
                if v > low && !(v >= high) { bits |= 1 << UInt32(i - first) }
                i += 1
            }
            mask[word] = bits
            word += 1
        }
    }

    /// `dx = dy` where the mask bit is set, else 0. `dx` may be `dy` (in place).
    @inlinable
    public static func backward(dx: TensorView<Float16>, dy: TensorView<Float16>, mask: TensorView<UInt32>, count: Int) {
        let words = count &>> 5
        let src = UnsafeRawPointer(dy.base), dst = UnsafeMutableRawPointer(dx.base)
        var word = 0, at = 0
        while word < words {
            // Two elements per load and store: the word's bits for even elements moved to bits
            // 0-15 and odd ones to 16-31, so `s & 0x0001_0001` holds a pair's two bits, one per
            // 16-bit lane, and times 0xFFFF keeps or clears each lane (+0 where the bit is clear).
            var s = deinterleave(mask[word])
            let end = at &+ 64
            while at < end {
                let w0 = src.loadUnaligned(fromByteOffset: at, as: UInt32.self)
                let w1 = src.loadUnaligned(fromByteOffset: at &+ 4, as: UInt32.self)
                dst.storeBytes(of: w0 & ((s & 0x0001_0001) &* 0xFFFF), toByteOffset: at, as: UInt32.self)
                dst.storeBytes(of: w1 & (((s &>> 1) & 0x0001_0001) &* 0xFFFF), toByteOffset: at &+ 4, as: UInt32.self)
                s &>>= 2
                at &+= 8
            }
            word &+= 1
        }
        var i = words &<< 5
        if i < count {
            let bits = mask[words]
            while i < count {
                dx[i] = (bits &>> UInt32(i & 31)) & 1 != 0 ? dy[i] : 0
                i &+= 1
            }
        }
    }

    /// Words a mask of `count` elements takes.
    @inlinable
    public static func words(_ count: Int) -> Int { count / 32 + (count % 32 == 0 ? 0 : 1) }
}
