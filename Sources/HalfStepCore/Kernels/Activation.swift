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

        /// True when backward needs the input rather than the output.
        @inlinable public var backwardReadsInput: Bool { self == .hardSwish }
    }

    @inlinable
    public static func forward(_ kind: Kind, y: TensorView<Float16>, x: TensorView<Float16>, count: Int, a: Float, b: Float) {
        // The kind is chosen once per call, not per element: each case runs its own loop.
        switch kind {
        case .clip: map(y, x, count) { v in min(max(v, a), b) }
        case .hardSigmoid: map(y, x, count) { v in max(0, min(1, a * v + b)) }
        case .hardSwish: map(y, x, count) { v in v * max(0, min(1, v / 6 + 0.5)) }
        case .sigmoid: map(y, x, count) { v in 1 / (1 + Elementary.exp(-v)) }
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
        case .clip: zipMap(dx, dy, saved, count) { d, s in s > a && s < b ? d : 0 }
        case .hardSigmoid: zipMap(dx, dy, saved, count) { d, s in s > 0 && s < 1 ? d * a : 0 }
        case .hardSwish: zipMap(dx, dy, saved, count) { d, s in s < -3 ? 0 : (s > 3 ? d : d * (s / 3 + 0.5)) }
        case .sigmoid: zipMap(dx, dy, saved, count) { d, s in d * s * (1 - s) }
        }
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
