/// Two-operand elementwise ops of a graph's plumbing: residual `Add`, gradient accumulation where a
/// value feeds several nodes, and `Mul` by a constant (a scalar or one value per channel).
///
/// Shapes: E elements; per-channel constants broadcast over planes of P elements.
public enum Elementwise {
    /// `y = a + b`; `y` may be `a` or `b`.
    @inlinable
    public static func add(y: TensorView<Float16>, a: TensorView<Float16>, b: TensorView<Float16>, count: Int) {
        // Two elements per 32-bit load and store (both pairs read before `y`'s is written).
        var i = 0
        let pairsEnd = count & ~1
        while i < pairsEnd {
            let (a0, a1) = a.widenedPair(i), (b0, b1) = b.widenedPair(i)
            y.setRoundedPair(i, a0 + b0, a1 + b1)
            i &+= 2
        }
        if i < count { y[i] = Float16(Float(a[i]) + Float(b[i])) }
    }

    /// `y = x · s[c]` with `channels` constants over planes of `plane` elements (one constant: `channels` 1,
    /// `plane` the elements per sample). Backward is the same call with dy for x.
    @inlinable
    public static func scale(y: TensorView<Float16>, x: TensorView<Float16>, s: TensorView<Float16>,
                             rows: Int, channels: Int, plane: Int) {
        var nc = 0
        while nc < rows * channels {
            let f = Float(s[nc % channels])
            var q = 0
            while q < plane { y[nc * plane + q] = Float16(Float(x[nc * plane + q]) * f); q += 1 }
            nc += 1
        }
    }

    /// Copies `length` elements per sample from `x` (rows of `xStride`, from `xOffset`) into `y`
    /// (rows of `yStride`, from `yOffset`): `Concat` forward and backward on the channel axis.
    @inlinable
    public static func copyRows(y: TensorView<Float16>, yStride: Int, yOffset: Int,
                                x: TensorView<Float16>, xStride: Int, xOffset: Int, length: Int, rows: Int) {
        // Each row with `TensorView.copy` (two 32-bit words per trip): the same elements in the
        // same forward order as an element loop.
        var n = 0
        while n < rows {
            y.slice(n &* yStride &+ yOffset, length).copy(from: x.slice(n &* xStride &+ xOffset, length))
            n &+= 1
        }
    }
}
