/// The backward pass of ReLU and ReLU6 needs only where the output is strictly inside its linear
/// range, one bit per element, not the fp16 output itself: a sixteenth of the memory when nothing
/// else in backward reads that output (frozen layers above it, biases-only training).
///
/// Shapes: E elements (batch rows × elements per sample). y [E] fp16 → mask [⌈E/32⌉] 32-bit words,
/// bit `i % 32` of word `i / 32` for element i.
public enum ActivationMask {
    /// Sets bit i of `mask` when `low < y[i] < high`, the condition under which
    /// `Activation.backward(.clip)` passes the gradient (ReLU6: 0 and 6). `high` NaN means no
    /// upper limit, which is ReLU's: `ReLU.backward` passes an overflowed +∞ output's gradient too.
    /// Writes every word that holds one of the `count` bits; bits past `count` are zero.
    @inlinable
    public static func forward(mask: TensorView<UInt32>, y: TensorView<Float16>, count: Int, low: Float, high: Float) {
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
        var i = 0
        while i < count {
            let set = (mask[i >> 5] >> UInt32(i & 31)) & 1 != 0
            dx[i] = set ? dy[i] : 0
            i += 1
        }
    }

    /// Words a mask of `count` elements takes.
    @inlinable
    public static func words(_ count: Int) -> Int { count / 32 + (count % 32 == 0 ? 0 : 1) }
}
