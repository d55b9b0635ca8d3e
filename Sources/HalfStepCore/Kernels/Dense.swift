/// Fully connected layer, as ONNX `Gemm` (transB = 1) and PyTorch `nn.Linear` define it.
///
/// Shapes: N batch rows, K input features, M output features.
/// x [N, K] fp16 · W [M, K] · b [M] → y [N, M] fp16, `y = alpha · x Wᵀ + beta · b`.
/// Every dot product accumulates in fp32 and rounds to fp16 once, when it is stored.
public enum Dense {
    /// Computes `y = alpha · x Wᵀ + beta · b` for the first `rows` rows.
    @inlinable
    public static func forward(
        y: TensorView<Float16>,      // [N, M]
        x: TensorView<Float16>,      // [N, K]
        weight: ParameterView,       // [M, K]
        bias: ParameterView?,        // [M]
        rows: Int, k: Int, m: Int, alpha: Float, beta: Float
    ) {
        switch weight {
        case .half(let w): forward(y: y, x: x, w: w, bias: bias, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
        case .master(let w): forward(y: y, x: x, w: w, bias: bias, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
        }
    }

    @inlinable
    static func forward<W: HalfComputable>(
        y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>, bias: ParameterView?,
        rows: Int, k: Int, m: Int, alpha: Float, beta: Float
    ) {
        var n = 0
        while n < rows {
            let xRow = n * k
            var j = 0
            while j < m {
                let wRow = j * k
                var acc: Float = 0
                var i = 0
                while i < k {
                    acc += Float(x[xRow + i]) * w[wRow + i].computeValue
                    i += 1
                }
                var out = alpha * acc
                if let bias { out += beta * bias.computeValue(j) }
                y[n * m + j] = Float16(out)
                j += 1
            }
            n += 1
        }
    }

    /// Gradients of `y = alpha · x Wᵀ + beta · b` for the first `rows` rows. Each present output is
    /// written, not accumulated: `dx = alpha · dy W`, `dW = alpha · dyᵀ x`, `db = beta · Σₙ dy`.
    /// Leave `dx` nil below the first trainable layer, `dW`/`db` nil for frozen parameters.
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
            switch weight {
            case .half(let w): inputGradient(dx: dx, dy: dy, w: w, rows: rows, k: k, m: m, alpha: alpha)
            case .master(let w): inputGradient(dx: dx, dy: dy, w: w, rows: rows, k: k, m: m, alpha: alpha)
            }
        }
        if let dW {
            var j = 0
            while j < m {
                var i = 0
                while i < k {
                    var acc: Float = 0
                    var n = 0
                    while n < rows {
                        acc += Float(dy[n * m + j]) * Float(x[n * k + i])
                        n += 1
                    }
                    dW[j * k + i] = Float16(alpha * acc)
                    i += 1
                }
                j += 1
            }
        }
        if let db {
            var j = 0
            while j < m {
                var acc: Float = 0
                var n = 0
                while n < rows {
                    acc += Float(dy[n * m + j])
                    n += 1
                }
                db[j] = Float16(beta * acc)
                j += 1
            }
        }
    }

    @inlinable
    static func inputGradient<W: HalfComputable>(
        dx: TensorView<Float16>, dy: TensorView<Float16>, w: TensorView<W>,
        rows: Int, k: Int, m: Int, alpha: Float
    ) {
        var n = 0
        while n < rows {
            var i = 0
            while i < k {
                var acc: Float = 0
                var j = 0
                while j < m {
                    acc += Float(dy[n * m + j]) * w[j * k + i].computeValue
                    j += 1
                }
                dx[n * k + i] = Float16(alpha * acc)
                i += 1
            }
            n += 1
        }
    }
}
