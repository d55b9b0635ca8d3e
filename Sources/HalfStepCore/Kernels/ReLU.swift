/// Rectified linear unit, elementwise.
///
/// Shapes: E elements (batch rows × elements per sample). x [E] → y [E], both fp16.
public enum ReLU {
    /// `y = max(x, 0)`. `y` may be `x` (in place): backward needs only `y`.
    @inlinable
    public static func forward(y: TensorView<Float16>, x: TensorView<Float16>, count: Int) {
        #if arch(x86_64) || arch(arm64)
        ReLUVectorized.forward(y: y, x: x, count: count)
        #else
        portableForward(y: y, x: x, count: count)
        #endif
    }

    /// `forward` in plain scalar code, the loop the device runs; any other implementation must
    /// give its results bit for bit.
    @inlinable
    public static func portableForward(y: TensorView<Float16>, x: TensorView<Float16>, count: Int) {
        // In integer arithmetic on the patterns, four per two 32-bit words: `v > 0` holds exactly
        // for the patterns 0x0001...0x7C00 (positive subnormals to +∞; NaNs and −0 fail), and the
        // result is then `v`'s own bits, else +0; +0 itself may pass (`nonNegativeLanes`).
        let src = UnsafeRawPointer(x.base), dst = UnsafeMutableRawPointer(y.base)
        let quadsEnd = (count &>> 2) &<< 3, pairsEnd = (count &>> 1) &<< 2
        var at = 0
        while at < quadsEnd {
            let w0 = src.loadUnaligned(fromByteOffset: at, as: UInt32.self)
            let w1 = src.loadUnaligned(fromByteOffset: at &+ 4, as: UInt32.self)
            dst.storeBytes(of: w0 & nonNegativeLanes(w0), toByteOffset: at, as: UInt32.self)
            dst.storeBytes(of: w1 & nonNegativeLanes(w1), toByteOffset: at &+ 4, as: UInt32.self)
            at &+= 8
        }
        if at < pairsEnd {
            let w = src.loadUnaligned(fromByteOffset: at, as: UInt32.self)
            dst.storeBytes(of: w & nonNegativeLanes(w), toByteOffset: at, as: UInt32.self)
        }
        if count & 1 != 0 {
            let v = x[count &- 1]
            y[count &- 1] = v > 0 ? v : 0
        }
    }

    /// 0x7FFF in each 16-bit lane of `w` whose pattern is 0x0000...0x7C00 (+0 to +∞), else 0: with
    /// the sign bits forced on, lane bit 15 of `o − 0x7C01` is `|h| ≥ 0x7C01` (no borrow crosses a
    /// lane); the flag, for a clear sign, spreads over the lane's low 15 bits.
    @inlinable @inline(__always)
    static func nonNegativeLanes(_ w: UInt32) -> UInt32 {
        let flag = ~(((w | 0x8000_8000) &- 0x7C01_7C01) | w) & 0x8000_8000
        return flag &- (flag &>> 15)
    }

    /// 0xFFFF in each 16-bit lane of `w` whose fp16 value is > 0 (pattern 0x0001...0x7C00), else 0:
    /// with the sign bits forced on, lane bit 15 of `o − 0x0001` is `|h| ≥ 1` and of `o − 0x7C01`
    /// is `|h| ≥ 0x7C01` (no borrow crosses a lane); the flag, for a clear sign, spreads over its lane.
    @inlinable @inline(__always)
    static func positiveLanes(_ w: UInt32) -> UInt32 {
        let o = w | 0x8000_8000
        let flag = (o &- 0x0001_0001) & ~((o &- 0x7C01_7C01) | w) & 0x8000_8000
        return flag | (flag &- (flag &>> 15))
    }

    /// `dx = dy` where `y > 0`, else 0 (PyTorch's choice at 0). `dx` may be `dy` (in place).
    @inlinable
    public static func backward(dx: TensorView<Float16>, dy: TensorView<Float16>, y: TensorView<Float16>, count: Int) {
        #if arch(x86_64) || arch(arm64)
        ReLUVectorized.backward(dx: dx, dy: dy, y: y, count: count)
        #else
        portableBackward(dx: dx, dy: dy, y: y, count: count)
        #endif
    }

    /// `backward` in plain scalar code, the loop the device runs; any other implementation must
    /// give its results bit for bit.
    @inlinable
    public static func portableBackward(dx: TensorView<Float16>, dy: TensorView<Float16>, y: TensorView<Float16>, count: Int) {
        // Two per 32-bit word: dy's bits where y's pattern is 0x0001...0x7C00 (`y > 0`), else +0.
        let ys = UnsafeRawPointer(y.base), src = UnsafeRawPointer(dy.base), dst = UnsafeMutableRawPointer(dx.base)
        let end = (count &>> 1) &<< 2
        var at = 0
        while at < end {
            let keep = positiveLanes(ys.loadUnaligned(fromByteOffset: at, as: UInt32.self))
            dst.storeBytes(of: src.loadUnaligned(fromByteOffset: at, as: UInt32.self) & keep, toByteOffset: at, as: UInt32.self)
            at &+= 4
        }
        if count & 1 != 0 {
            let i = count &- 1
            dx[i] = y[i] > 0 ? dy[i] : 0
        }
    }
}
