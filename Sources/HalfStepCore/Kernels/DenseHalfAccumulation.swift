/// Dense with fp16 accumulators (`--accumulate fp16`), for cores with fp16 arithmetic.
///
/// Shapes as `Dense`: N batch rows, K inputs, M outputs. Every product and every partial sum is
/// rounded to fp16, as a core doing the arithmetic in fp16 would; on other cores (and on the host)
/// Swift's Float16 operators give the same bits by computing in fp32 and rounding each result.
/// Cheaper on an M55-class core, less accurate everywhere: each of the K additions can lose half
/// an fp16 ulp of the running sum. The tests measure that error against fp32 accumulation.
public enum DenseHalfAccumulation {
    /// `y = alpha · x Wᵀ + beta · b`, sums in fp16.
    @inlinable
    public static func forward(
        y: TensorView<Float16>,      // [N, M]
        x: TensorView<Float16>,      // [N, K]
        weight: ParameterView,       // [M, K]
        bias: ParameterView?,        // [M]
        rows: Int, k: Int, m: Int, alpha: Float, beta: Float
    ) {
        var n = 0
        while n < rows {
            var j = 0
            while j < m {
                var acc: Float16 = 0
                var i = 0
                while i < k {
                    acc += x[n * k + i] * Float16(weight.computeValue(j * k + i))
                    i += 1
                }
                var out = Float16(alpha) * acc
                if let bias { out += Float16(beta) * Float16(bias.computeValue(j)) }
                y[n * m + j] = out
                j += 1
            }
            n += 1
        }
    }

    /// `dx = alpha · dy W`, `dW = alpha · dyᵀ x`, `db = beta · Σₙ dy`, sums in fp16 (written, not accumulated).
    @inlinable
    public static func backward(
        dx: TensorView<Float16>?,    // [N, K]
        dW: TensorView<Float16>?,    // [M, K]
        db: TensorView<Float16>?,    // [M]
        dy: TensorView<Float16>,     // [N, M]
        x: TensorView<Float16>,      // [N, K]
        weight: ParameterView,       // [M, K]
        rows: Int, k: Int, m: Int, alpha: Float, beta: Float
    ) {
        if let dx {
            var n = 0
            while n < rows {
                var i = 0
                while i < k {
                    var acc: Float16 = 0
                    var j = 0
                    while j < m {
                        acc += dy[n * m + j] * Float16(weight.computeValue(j * k + i))
                        j += 1
                    }
                    dx[n * k + i] = Float16(alpha) * acc
                    i += 1
                }
                n += 1
            }
        }
        if let dW {
            var j = 0
            while j < m {
                var i = 0
                while i < k {
                    var acc: Float16 = 0
                    var n = 0
                    while n < rows {
                        acc += dy[n * m + j] * x[n * k + i]
                        n += 1
                    }
                    dW[j * k + i] = Float16(alpha) * acc
                    i += 1
                }
                j += 1
            }
        }
        if let db {
            var j = 0
            while j < m {
                var acc: Float16 = 0
                var n = 0
                while n < rows {
                    acc += dy[n * m + j]
                    n += 1
                }
                db[j] = Float16(beta) * acc
                j += 1
            }
        }
    }
}
