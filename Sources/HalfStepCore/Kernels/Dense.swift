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
        #if arch(x86_64) || arch(arm64)
        DenseVectorized.forward(y: y, x: x, weight: weight, bias: bias, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
        #else
        portableForward(y: y, x: x, weight: weight, bias: bias, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
        #endif
    }

    /// `forward` in plain scalar code, the loops the device runs; any other implementation must
    /// give its results bit for bit.
    @inlinable
    public static func portableForward(
        y: TensorView<Float16>, x: TensorView<Float16>, weight: ParameterView, bias: ParameterView?,
        rows: Int, k: Int, m: Int, alpha: Float, beta: Float
    ) {
        switch weight {
        case .half(let w):
            if k % 2 == 0 {
                forwardPairs(y: y, x: x, w: w, bias: bias, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
            } else {
                forward(y: y, x: x, w: w, bias: bias, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
            }
        case .master(let w): forward(y: y, x: x, w: w, bias: bias, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
        }
    }

    @inlinable
    static func forward<W: HalfComputable>(
        y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>, bias: ParameterView?,
        rows: Int, k: Int, m: Int, alpha: Float, beta: Float
    ) {
        // Register blocking: 4 rows × 4 outputs share each loaded operand, 16 MACs per 8 loads.
        // Every output still sums its K products in order from 0, so the result is bit for bit that
        // of the one-output-at-a-time loop, on every target.
        var n = 0
        while n + 4 <= rows {
            var j = 0
            while j + 4 <= m {
                var a0 = SIMD4<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                // Row views hoisted out of the loop: the inner loop indexes with `i` alone.
                let w0 = w.slice(j * k, k), w1 = w.slice((j + 1) * k, k), w2 = w.slice((j + 2) * k, k), w3 = w.slice((j + 3) * k, k)
                let x0 = x.slice(n * k, k), x1 = x.slice((n + 1) * k, k), x2 = x.slice((n + 2) * k, k), x3 = x.slice((n + 3) * k, k)
                var i = 0
                while i < k {
                    let wv = SIMD4<Float>(w0[i].computeValue, w1[i].computeValue, w2[i].computeValue, w3[i].computeValue)
                    a0 += Float(x0[i]) * wv
                    a1 += Float(x1[i]) * wv
                    a2 += Float(x2[i]) * wv
                    a3 += Float(x3[i]) * wv
                    i &+= 1
                }
                store(y, row: n, j: j, m: m, a0, alpha: alpha, beta: beta, bias: bias)
                store(y, row: n + 1, j: j, m: m, a1, alpha: alpha, beta: beta, bias: bias)
                store(y, row: n + 2, j: j, m: m, a2, alpha: alpha, beta: beta, bias: bias)
                store(y, row: n + 3, j: j, m: m, a3, alpha: alpha, beta: beta, bias: bias)
                j += 4
            }
            while j < m {
                var r = 0
                while r < 4 {
                    forwardOne(y: y, x: x, w: w, bias: bias, row: n + r, j: j, k: k, m: m, alpha: alpha, beta: beta)
                    r += 1
                }
                j += 1
            }
            n += 4
        }
        while n < rows {
            var j = 0
            while j < m {
                forwardOne(y: y, x: x, w: w, bias: bias, row: n, j: j, k: k, m: m, alpha: alpha, beta: beta)
                j += 1
            }
            n += 1
        }
    }

    /// `forward` for fp16 weights and an even K: operands are read two at a time as 32-bit words.
    /// The sums run in the same order, so results are identical to `forward`'s.
    @inlinable
    static func forwardPairs(
        y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<Float16>, bias: ParameterView?,
        rows: Int, k: Int, m: Int, alpha: Float, beta: Float
    ) {
        var n = 0
        while n + 4 <= rows {
            var j = 0
            while j + 4 <= m {
                var a0 = SIMD4<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                let w0 = w.slice(j * k, k), w1 = w.slice((j + 1) * k, k), w2 = w.slice((j + 2) * k, k), w3 = w.slice((j + 3) * k, k)
                let x0 = x.slice(n * k, k), x1 = x.slice((n + 1) * k, k), x2 = x.slice((n + 2) * k, k), x3 = x.slice((n + 3) * k, k)
                var i = 0
                while i < k {
                    let (p0, q0) = w0.widenedPair(i), (p1, q1) = w1.widenedPair(i)
                    let (p2, q2) = w2.widenedPair(i), (p3, q3) = w3.widenedPair(i)
                    let first = SIMD4<Float>(p0, p1, p2, p3), second = SIMD4<Float>(q0, q1, q2, q3)
                    let (u0, v0) = x0.widenedPair(i), (u1, v1) = x1.widenedPair(i)
                    let (u2, v2) = x2.widenedPair(i), (u3, v3) = x3.widenedPair(i)
                    a0 += u0 * first
                    a1 += u1 * first
                    a2 += u2 * first
                    a3 += u3 * first
                    a0 += v0 * second
                    a1 += v1 * second
                    a2 += v2 * second
                    a3 += v3 * second
                    i &+= 2
                }
                store(y, row: n, j: j, m: m, a0, alpha: alpha, beta: beta, bias: bias)
                store(y, row: n + 1, j: j, m: m, a1, alpha: alpha, beta: beta, bias: bias)
                store(y, row: n + 2, j: j, m: m, a2, alpha: alpha, beta: beta, bias: bias)
                store(y, row: n + 3, j: j, m: m, a3, alpha: alpha, beta: beta, bias: bias)
                j += 4
            }
            while j < m {
                // One output, four rows: the weight row is read once for all four.
                var acc = SIMD4<Float>(repeating: 0)
                let wr = w.slice(j * k, k)
                let x0 = x.slice(n * k, k), x1 = x.slice((n + 1) * k, k), x2 = x.slice((n + 2) * k, k), x3 = x.slice((n + 3) * k, k)
                var i = 0
                while i < k {
                    let (p, q) = wr.widenedPair(i)
                    let (u0, v0) = x0.widenedPair(i), (u1, v1) = x1.widenedPair(i)
                    let (u2, v2) = x2.widenedPair(i), (u3, v3) = x3.widenedPair(i)
                    acc += SIMD4<Float>(u0, u1, u2, u3) * p
                    acc += SIMD4<Float>(v0, v1, v2, v3) * q
                    i &+= 2
                }
                var r = 0
                while r < 4 {
                    var out = alpha * acc[r]
                    if let bias { out += beta * bias.computeValue(j) }
                    y[(n + r) * m + j] = Float16(out)
                    r += 1
                }
                j += 1
            }
            n += 4
        }
        while n < rows {
            var j = 0
            while j < m {
                forwardOne(y: y, x: x, w: w, bias: bias, row: n, j: j, k: k, m: m, alpha: alpha, beta: beta)
                j += 1
            }
            n += 1
        }
    }

    /// One output element, for the edges the 4 × 4 blocks do not cover.
    @inlinable @inline(__always)
    static func forwardOne<W: HalfComputable>(
        y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>, bias: ParameterView?,
        row: Int, j: Int, k: Int, m: Int, alpha: Float, beta: Float
    ) {
        var acc: Float = 0
        var i = 0
        while i < k {
            acc += Float(x[row * k + i]) * w[j * k + i].computeValue
            i += 1
        }
        var out = alpha * acc
        if let bias { out += beta * bias.computeValue(j) }
        y[row * m + j] = Float16(out)
    }

    @inlinable @inline(__always)
    static func store(_ y: TensorView<Float16>, row: Int, j: Int, m: Int, _ acc: SIMD4<Float>,
                      alpha: Float, beta: Float, bias: ParameterView?) {
        var lane = 0
        while lane < 4 {
            var out = alpha * acc[lane]
            if let bias { out += beta * bias.computeValue(j + lane) }
            y[row * m + j + lane] = Float16(out)
            lane += 1
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
        rows: Int, k: Int, m: Int, alpha: Float, beta: Float, trainedOutputs: Int = 0
    ) {
        #if arch(x86_64) || arch(arm64)
        DenseVectorized.backward(dx: dx, dW: dW, db: db, dy: dy, x: x, weight: weight, rows: rows, k: k, m: m,
                                 alpha: alpha, beta: beta, trainedOutputs: trainedOutputs)
        #else
        portableBackward(dx: dx, dW: dW, db: db, dy: dy, x: x, weight: weight, rows: rows, k: k, m: m,
                         alpha: alpha, beta: beta, trainedOutputs: trainedOutputs)
        #endif
    }

    /// `backward` in plain scalar code, the loops the device runs; any other implementation must
    /// give its results bit for bit.
    @inlinable
    public static func portableBackward(
        dx: TensorView<Float16>?, dW: TensorView<Float16>?, db: TensorView<Float16>?,
        dy: TensorView<Float16>, x: TensorView<Float16>, weight: ParameterView,
        rows: Int, k: Int, m: Int, alpha: Float, beta: Float, trainedOutputs: Int = 0
    ) {
        if let dx {
            switch weight {
            case .half(let w): inputGradient(dx: dx, dy: dy, w: w, rows: rows, k: k, m: m, alpha: alpha)
            case .master(let w): inputGradient(dx: dx, dy: dy, w: w, rows: rows, k: k, m: m, alpha: alpha)
            }
        }
        // dW rows: the first `trainedOutputs` outputs (0: all of them); dy keeps its M columns.
        if let dW { weightGradient(dW: dW, dy: dy, x: x, rows: rows, k: k, m: m, trained: trainedOutputs == 0 ? m : trainedOutputs, alpha: alpha) }
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

    /// `dx = alpha · dy W`, blocked 4 rows × 4 inputs; each element sums over M in order.
    @inlinable
    static func inputGradient<W: HalfComputable>(
        dx: TensorView<Float16>, dy: TensorView<Float16>, w: TensorView<W>,
        rows: Int, k: Int, m: Int, alpha: Float
    ) {
        var n = 0
        while n + 4 <= rows {
            var i = 0
            while i + 4 <= k {
                var a0 = SIMD4<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                let d0 = dy.slice(n * m, m), d1 = dy.slice((n + 1) * m, m), d2 = dy.slice((n + 2) * m, m), d3 = dy.slice((n + 3) * m, m)
                var row = i
                var j = 0
                while j < m {
                    let wv = SIMD4<Float>(w[row].computeValue, w[row &+ 1].computeValue,
                                          w[row &+ 2].computeValue, w[row &+ 3].computeValue)
                    a0 += Float(d0[j]) * wv
                    a1 += Float(d1[j]) * wv
                    a2 += Float(d2[j]) * wv
                    a3 += Float(d3[j]) * wv
                    row &+= k
                    j &+= 1
                }
                storeScaled(dx, at: n * k + i, a0, alpha)
                storeScaled(dx, at: (n + 1) * k + i, a1, alpha)
                storeScaled(dx, at: (n + 2) * k + i, a2, alpha)
                storeScaled(dx, at: (n + 3) * k + i, a3, alpha)
                i += 4
            }
            while i < k {
                var r = 0
                while r < 4 {
                    inputGradientOne(dx: dx, dy: dy, w: w, row: n + r, i: i, k: k, m: m, alpha: alpha)
                    r += 1
                }
                i += 1
            }
            n += 4
        }
        while n < rows {
            var i = 0
            while i < k {
                inputGradientOne(dx: dx, dy: dy, w: w, row: n, i: i, k: k, m: m, alpha: alpha)
                i += 1
            }
            n += 1
        }
    }

    @inlinable @inline(__always)
    static func inputGradientOne<W: HalfComputable>(
        dx: TensorView<Float16>, dy: TensorView<Float16>, w: TensorView<W>, row: Int, i: Int, k: Int, m: Int, alpha: Float
    ) {
        var acc: Float = 0
        var j = 0
        while j < m {
            acc += Float(dy[row * m + j]) * w[j * k + i].computeValue
            j += 1
        }
        dx[row * k + i] = Float16(alpha * acc)
    }

    /// `dW = alpha · dyᵀ x`, blocked 4 outputs × 4 inputs; each element sums over the rows in order.
    @inlinable
    static func weightGradient(dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                               rows: Int, k: Int, m: Int, trained: Int, alpha: Float) {
        var j = 0
        while j + 4 <= trained {
            var i = 0
            while i + 4 <= k {
                var a0 = SIMD4<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                var xi = i, dj = j
                var n = 0
                while n < rows {
                    let xv = x.widenedQuad(xi), dv = dy.widenedQuad(dj)
                    a0 += dv[0] * xv
                    a1 += dv[1] * xv
                    a2 += dv[2] * xv
                    a3 += dv[3] * xv
                    xi &+= k
                    dj &+= m
                    n &+= 1
                }
                storeScaled(dW, at: j * k + i, a0, alpha)
                storeScaled(dW, at: (j + 1) * k + i, a1, alpha)
                storeScaled(dW, at: (j + 2) * k + i, a2, alpha)
                storeScaled(dW, at: (j + 3) * k + i, a3, alpha)
                i += 4
            }
            while i < k {
                var r = 0
                while r < 4 {
                    weightGradientOne(dW: dW, dy: dy, x: x, j: j + r, i: i, rows: rows, k: k, m: m, alpha: alpha)
                    r += 1
                }
                i += 1
            }
            j += 4
        }
        while j < trained {
            var i = 0
            while i < k {
                weightGradientOne(dW: dW, dy: dy, x: x, j: j, i: i, rows: rows, k: k, m: m, alpha: alpha)
                i += 1
            }
            j += 1
        }
    }

    @inlinable @inline(__always)
    static func weightGradientOne(dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                                  j: Int, i: Int, rows: Int, k: Int, m: Int, alpha: Float) {
        var acc: Float = 0
        var n = 0
        while n < rows {
            acc += Float(dy[n * m + j]) * Float(x[n * k + i])
            n += 1
        }
        dW[j * k + i] = Float16(alpha * acc)
    }

    @inlinable @inline(__always)
    static func storeScaled(_ out: TensorView<Float16>, at index: Int, _ acc: SIMD4<Float>, _ alpha: Float) {
        out[index] = Float16(alpha * acc[0])
        out[index + 1] = Float16(alpha * acc[1])
        out[index + 2] = Float16(alpha * acc[2])
        out[index + 3] = Float16(alpha * acc[3])
    }
}
