#if arch(x86_64) || arch(arm64)
/// `ReLU` for 64-bit hosts: the same bits, eight elements at a time, without converting to fp32.
///
/// Shapes: E elements. x [E] → y [E], both fp16.
///
/// Why it matches `ReLU.portableForward`/`portableBackward` bit for bit: `v > 0` holds exactly
/// for the fp16 patterns 0x0001 ... 0x7C00 (positive subnormals to +inf; +0, NaNs and every
/// pattern with the sign bit fail it), which as signed 16-bit integers are those in 1 ... 0x7C00.
/// Kept elements are copied unchanged and the rest become +0 (bit pattern 0), as the portable
/// loops' `v > 0 ? v : 0` does. The scalar loop's compare and branch per element (a mispredicted
/// branch for about half of a ReLU's inputs) was a tenth of a digits-CNN training step.
public enum ReLUVectorized {
    typealias Bits = SIMD8<Int16>

    /// All ones in lanes whose fp16 value is greater than 0 (pattern 1 ... 0x7C00), else 0.
    /// Written as wrapping arithmetic and sign shifts: the stdlib's compares against a scalar
    /// (`v .> 0`) compiled to a branch per lane here, slower than the scalar loop.
    @inline(__always)
    static func positive(_ v: Bits) -> Bits {
        // t = v − 1 lies in 0 ..< 0x7C00 exactly for the kept patterns; both sign tests are
        // free of overflow there (and t < 0 already rejects the rest).
        let t = v &- 1
        return ~(t &>> 15) & ((t &- 0x7C00) &>> 15)
    }

    /// `y = max(x, 0)` as `ReLU.portableForward` computes it. `y` may be `x` (in place).
    public static func forward(y: TensorView<Float16>, x: TensorView<Float16>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = x.bits8(i)
            y.storeBits8(v & positive(v), at: i)
            i += 8
        }
        while i < count {
            let v = x[i]
            y[i] = v > 0 ? v : 0
            i += 1
        }
    }

    /// `dx = dy` where `y > 0`, else 0, as `ReLU.portableBackward` computes it. `dx` may be `dy`.
    public static func backward(dx: TensorView<Float16>, dy: TensorView<Float16>, y: TensorView<Float16>, count: Int) {
        var i = 0
        while i + 8 <= count {
            dx.storeBits8(dy.bits8(i) & positive(y.bits8(i)), at: i)
            i += 8
        }
        while i < count {
            dx[i] = y[i] > 0 ? dy[i] : 0
            i += 1
        }
    }
}

extension TensorView where Scalar == Float16 {
    /// Elements `i ..< i + 8` as signed 16-bit bit patterns.
    @inline(__always)
    func bits8(_ i: Int) -> SIMD8<Int16> {
        assert(i >= 0 && i + 8 <= count, "tensor index out of range")
        return UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Int16>.self)
    }

    /// Writes the bit patterns `v` to elements `i ..< i + 8`.
    @inline(__always)
    func storeBits8(_ v: SIMD8<Int16>, at i: Int) {
        assert(i >= 0 && i + 8 <= count, "tensor index out of range")
        UnsafeMutableRawPointer(base + i).storeBytes(of: v, as: SIMD8<Int16>.self)
    }
}
#endif
