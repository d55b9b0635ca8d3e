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
        var i = 0
        while i < count {
            let v = x[i]
            y[i] = v > 0 ? v : 0
            i += 1
        }
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
        var i = 0
        while i < count {
            dx[i] = y[i] > 0 ? dy[i] : 0
            i += 1
        }
    }
}
