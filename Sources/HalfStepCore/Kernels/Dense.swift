/// Fully connected layer, as ONNX `Gemm` (transB = 1) and PyTorch `nn.Linear` define it.
///
/// Shapes: N batch rows, K input features, M output features.
/// x [N, K] fp16 · W [M, K] · b [M] → y [N, M] fp16, `y = alpha · x Wᵀ + beta · b`.
/// Every dot product accumulates in fp32 and rounds to fp16 once, when it is stored.
///
/// The portable kernels are register-blocked for a Cortex-M4F: an fp16 operand costs three
/// instructions to bring into an FPU register (`ldrh`, `vmov`, `vcvtb`), so each one loaded is
/// shared by 4 to 6 MACs, with up to 24 fp32 accumulators in the FPU's 32 single registers.
/// Blocking never changes a result: every output sums its products in index order from 0, with
/// a separately rounded multiply and add, exactly as the one-output-at-a-time loop does.
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
        case .half(let w): forward(y: y, x: x, w: w, bias: bias, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
        case .master(let w): forward(y: y, x: x, w: w, bias: bias, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
        }
    }

    @inlinable
    static func forward<W: HalfComputable>(
        y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>, bias: ParameterView?,
        rows: Int, k: Int, m: Int, alpha: Float, beta: Float
    ) {
        let out = OutputRounding(alpha: alpha, beta: beta, bias: bias)
        // Outputs in blocks of 5, then 4 (M = 5a + 4b whenever it can be), then one at a time;
        // within a block of outputs, rows four at a time. Output blocks are the outer loop so each
        // output's bias term is read once per call, not once per row block.
        let wide = 5 * Blocking.count(of: 5, and: 4, in: m)
        let fullRows = rows & ~3, evenK = k & ~1
        var j = 0
        while j < wide {
            let w0 = w.slice(j &* k, k), w1 = w.slice((j &+ 1) &* k, k), w2 = w.slice((j &+ 2) &* k, k)
            let w3 = w.slice((j &+ 3) &* k, k), w4 = w.slice((j &+ 4) &* k, k)
            let b0 = out.biasTerm(j), b1 = out.biasTerm(j &+ 1), b2 = out.biasTerm(j &+ 2)
            let b3 = out.biasTerm(j &+ 3), b4 = out.biasTerm(j &+ 4)
            var n = 0
            while n < fullRows {
                let x0 = x.slice(n &* k, k), x1 = x.slice((n &+ 1) &* k, k), x2 = x.slice((n &+ 2) &* k, k), x3 = x.slice((n &+ 3) &* k, k)
                // Accumulators are columns: lane r of c_q is row n + r, output j + q. Inputs go two
                // at a time, each pair one 32-bit load (fp16 weights), i before i + 1.
                var c0 = SIMD4<Float>(repeating: 0), c1 = c0, c2 = c0, c3 = c0, c4 = c0
                var i = 0
                while i < evenK {
                    let (p0, q0) = w0.computePair(i), (p1, q1) = w1.computePair(i), (p2, q2) = w2.computePair(i)
                    let (p3, q3) = w3.computePair(i), (p4, q4) = w4.computePair(i)
                    let (u0, v0) = x0.widenedPair(i), (u1, v1) = x1.widenedPair(i)
                    let (u2, v2) = x2.widenedPair(i), (u3, v3) = x3.widenedPair(i)
                    let lo = SIMD4<Float>(u0, u1, u2, u3), hi = SIMD4<Float>(v0, v1, v2, v3)
                    c0 += lo * p0
                    c1 += lo * p1
                    c2 += lo * p2
                    c3 += lo * p3
                    c4 += lo * p4
                    c0 += hi * q0
                    c1 += hi * q1
                    c2 += hi * q2
                    c3 += hi * q3
                    c4 += hi * q4
                    i &+= 2
                }
                if i < k {
                    let xv = SIMD4<Float>(Float(x0[i]), Float(x1[i]), Float(x2[i]), Float(x3[i]))
                    c0 += xv * w0[i].computeValue
                    c1 += xv * w1[i].computeValue
                    c2 += xv * w2[i].computeValue
                    c3 += xv * w3[i].computeValue
                    c4 += xv * w4[i].computeValue
                }
                let at = n &* m &+ j
                out.storeColumn(y, c0, b0, at: at, stride: m)
                out.storeColumn(y, c1, b1, at: at &+ 1, stride: m)
                out.storeColumn(y, c2, b2, at: at &+ 2, stride: m)
                out.storeColumn(y, c3, b3, at: at &+ 3, stride: m)
                out.storeColumn(y, c4, b4, at: at &+ 4, stride: m)
                n &+= 4
            }
            while n < rows {
                // A row the 4-row blocks leave (all of them at batch 1): five outputs at a time.
                let xr = x.slice(n &* k, k)
                var acc = SIMD4<Float>(repeating: 0), last: Float = 0
                var i = 0
                while i < k {
                    let u = Float(xr[i])
                    acc += u * SIMD4<Float>(w0[i].computeValue, w1[i].computeValue, w2[i].computeValue, w3[i].computeValue)
                    last += u * w4[i].computeValue
                    i &+= 1
                }
                let at = n &* m &+ j
                y[at] = out.round(acc[0], b0)
                y[at &+ 1] = out.round(acc[1], b1)
                y[at &+ 2] = out.round(acc[2], b2)
                y[at &+ 3] = out.round(acc[3], b3)
                y[at &+ 4] = out.round(last, b4)
                n &+= 1
            }
            j &+= 5
        }
        while j + 4 <= m {
            let w0 = w.slice(j &* k, k), w1 = w.slice((j &+ 1) &* k, k), w2 = w.slice((j &+ 2) &* k, k), w3 = w.slice((j &+ 3) &* k, k)
            let b0 = out.biasTerm(j), b1 = out.biasTerm(j &+ 1), b2 = out.biasTerm(j &+ 2), b3 = out.biasTerm(j &+ 3)
            var n = 0
            while n < fullRows {
                let x0 = x.slice(n &* k, k), x1 = x.slice((n &+ 1) &* k, k), x2 = x.slice((n &+ 2) &* k, k), x3 = x.slice((n &+ 3) &* k, k)
                var c0 = SIMD4<Float>(repeating: 0), c1 = c0, c2 = c0, c3 = c0
                var i = 0
                while i < evenK {
                    let (p0, q0) = w0.computePair(i), (p1, q1) = w1.computePair(i)
                    let (p2, q2) = w2.computePair(i), (p3, q3) = w3.computePair(i)
                    let (u0, v0) = x0.widenedPair(i), (u1, v1) = x1.widenedPair(i)
                    let (u2, v2) = x2.widenedPair(i), (u3, v3) = x3.widenedPair(i)
                    let lo = SIMD4<Float>(u0, u1, u2, u3), hi = SIMD4<Float>(v0, v1, v2, v3)
                    c0 += lo * p0
                    c1 += lo * p1
                    c2 += lo * p2
                    c3 += lo * p3
                    c0 += hi * q0
                    c1 += hi * q1
                    c2 += hi * q2
                    c3 += hi * q3
                    i &+= 2
                }
                if i < k {
                    let xv = SIMD4<Float>(Float(x0[i]), Float(x1[i]), Float(x2[i]), Float(x3[i]))
                    c0 += xv * w0[i].computeValue
                    c1 += xv * w1[i].computeValue
                    c2 += xv * w2[i].computeValue
                    c3 += xv * w3[i].computeValue
                }
                let at = n &* m &+ j
                out.storeColumn(y, c0, b0, at: at, stride: m)
                out.storeColumn(y, c1, b1, at: at &+ 1, stride: m)
                out.storeColumn(y, c2, b2, at: at &+ 2, stride: m)
                out.storeColumn(y, c3, b3, at: at &+ 3, stride: m)
                n &+= 4
            }
            while n < rows {
                let xr = x.slice(n &* k, k)
                var acc = SIMD4<Float>(repeating: 0)
                var i = 0
                while i < k {
                    acc += Float(xr[i]) * SIMD4<Float>(w0[i].computeValue, w1[i].computeValue, w2[i].computeValue, w3[i].computeValue)
                    i &+= 1
                }
                let at = n &* m &+ j
                y[at] = out.round(acc[0], b0)
                y[at &+ 1] = out.round(acc[1], b1)
                y[at &+ 2] = out.round(acc[2], b2)
                y[at &+ 3] = out.round(acc[3], b3)
                n &+= 1
            }
            j &+= 4
        }
        while j < m {
            // One output: the weight row is read once for four rows.
            let wr = w.slice(j &* k, k)
            let b0 = out.biasTerm(j)
            var n = 0
            while n < fullRows {
                let x0 = x.slice(n &* k, k), x1 = x.slice((n &+ 1) &* k, k), x2 = x.slice((n &+ 2) &* k, k), x3 = x.slice((n &+ 3) &* k, k)
                var c0 = SIMD4<Float>(repeating: 0)
                var i = 0
                while i < k {
                    c0 += SIMD4<Float>(Float(x0[i]), Float(x1[i]), Float(x2[i]), Float(x3[i])) * wr[i].computeValue
                    i &+= 1
                }
                out.storeColumn(y, c0, b0, at: n &* m &+ j, stride: m)
                n &+= 4
            }
            while n < rows {
                let xr = x.slice(n &* k, k)
                var acc: Float = 0
                var i = 0
                while i < k {
                    acc += Float(xr[i]) * wr[i].computeValue
                    i &+= 1
                }
                y[n &* m &+ j] = out.round(acc, b0)
                n &+= 1
            }
            j &+= 1
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
        if let db { biasGradient(db: db, dy: dy, rows: rows, m: m, beta: beta) }
    }

    /// `dx = alpha · dy W`, blocked 4 rows × 6 (then 4) inputs; each element sums over M in order.
    @inlinable
    static func inputGradient<W: HalfComputable>(
        dx: TensorView<Float16>, dy: TensorView<Float16>, w: TensorView<W>,
        rows: Int, k: Int, m: Int, alpha: Float
    ) {
        // Two copies, one knowing alpha is 1: the stores then test nothing (the device would
        // otherwise compare alpha again for every column it stores).
        if alpha == 1 {
            inputGradient(dx: dx, dy: dy, w: w, rows: rows, k: k, m: m, out: OutputRounding(alpha: 1, beta: 0, bias: nil))
        } else {
            inputGradient(dx: dx, dy: dy, w: w, rows: rows, k: k, m: m, out: OutputRounding(alpha: alpha, beta: 0, bias: nil))
        }
    }

    @inlinable @inline(__always)
    static func inputGradient<W: HalfComputable>(
        dx: TensorView<Float16>, dy: TensorView<Float16>, w: TensorView<W>,
        rows: Int, k: Int, m: Int, out: OutputRounding
    ) {
        let wide = 6 * Blocking.count(of: 6, and: 4, in: k)
        var n = 0
        while n + 4 <= rows {
            let d0 = dy.slice(n * m, m), d1 = dy.slice((n + 1) * m, m), d2 = dy.slice((n + 2) * m, m), d3 = dy.slice((n + 3) * m, m)
            var i = 0
            while i < wide {
                // a_r_q: row n + r, input i + q; the six weights W[j, i ..< i+6] are adjacent. Plain
                // scalars: with vectors, LLVM shuffles the 24 accumulators between registers.
                var a00: Float = 0, a01: Float = 0, a02: Float = 0, a03: Float = 0, a04: Float = 0, a05: Float = 0
                var a10: Float = 0, a11: Float = 0, a12: Float = 0, a13: Float = 0, a14: Float = 0, a15: Float = 0
                var a20: Float = 0, a21: Float = 0, a22: Float = 0, a23: Float = 0, a24: Float = 0, a25: Float = 0
                var a30: Float = 0, a31: Float = 0, a32: Float = 0, a33: Float = 0, a34: Float = 0, a35: Float = 0
                var at = i
                var j = 0
                while j < m {
                    let w0 = w[at].computeValue
                    let w1 = w[at &+ 1].computeValue
                    let w2 = w[at &+ 2].computeValue
                    let w3 = w[at &+ 3].computeValue
                    let w4 = w[at &+ 4].computeValue
                    let w5 = w[at &+ 5].computeValue
                    let u0 = Float(d0[j])
                    a00 += u0 * w0; a01 += u0 * w1; a02 += u0 * w2; a03 += u0 * w3; a04 += u0 * w4; a05 += u0 * w5
                    let u1 = Float(d1[j])
                    a10 += u1 * w0; a11 += u1 * w1; a12 += u1 * w2; a13 += u1 * w3; a14 += u1 * w4; a15 += u1 * w5
                    let u2 = Float(d2[j])
                    a20 += u2 * w0; a21 += u2 * w1; a22 += u2 * w2; a23 += u2 * w3; a24 += u2 * w4; a25 += u2 * w5
                    let u3 = Float(d3[j])
                    a30 += u3 * w0; a31 += u3 * w1; a32 += u3 * w2; a33 += u3 * w3; a34 += u3 * w4; a35 += u3 * w5
                    at &+= k
                    j &+= 1
                }
                out.storeColumn(dx, SIMD4(a00, a10, a20, a30), at: n &* k &+ i, stride: k, output: i)
                out.storeColumn(dx, SIMD4(a01, a11, a21, a31), at: n &* k &+ i &+ 1, stride: k, output: i &+ 1)
                out.storeColumn(dx, SIMD4(a02, a12, a22, a32), at: n &* k &+ i &+ 2, stride: k, output: i &+ 2)
                out.storeColumn(dx, SIMD4(a03, a13, a23, a33), at: n &* k &+ i &+ 3, stride: k, output: i &+ 3)
                out.storeColumn(dx, SIMD4(a04, a14, a24, a34), at: n &* k &+ i &+ 4, stride: k, output: i &+ 4)
                out.storeColumn(dx, SIMD4(a05, a15, a25, a35), at: n &* k &+ i &+ 5, stride: k, output: i &+ 5)
                i += 6
            }
            while i + 4 <= k {
                var c0 = SIMD4<Float>(repeating: 0), c1 = c0, c2 = c0, c3 = c0
                var at = i
                var j = 0
                while j < m {
                    let dv = SIMD4<Float>(Float(d0[j]), Float(d1[j]), Float(d2[j]), Float(d3[j]))
                    c0 += dv * w[at].computeValue
                    c1 += dv * w[at &+ 1].computeValue
                    c2 += dv * w[at &+ 2].computeValue
                    c3 += dv * w[at &+ 3].computeValue
                    at &+= k
                    j &+= 1
                }
                out.storeColumn(dx, c0, at: n &* k &+ i, stride: k, output: i)
                out.storeColumn(dx, c1, at: n &* k &+ i &+ 1, stride: k, output: i &+ 1)
                out.storeColumn(dx, c2, at: n &* k &+ i &+ 2, stride: k, output: i &+ 2)
                out.storeColumn(dx, c3, at: n &* k &+ i &+ 3, stride: k, output: i &+ 3)
                i += 4
            }
            while i < k {
                var c0 = SIMD4<Float>(repeating: 0)
                var at = i
                var j = 0
                while j < m {
                    c0 += SIMD4<Float>(Float(d0[j]), Float(d1[j]), Float(d2[j]), Float(d3[j])) * w[at].computeValue
                    at &+= k
                    j &+= 1
                }
                out.storeColumn(dx, c0, at: n &* k &+ i, stride: k, output: i)
                i += 1
            }
            n += 4
        }
        while n < rows {
            let dr = dy.slice(n * m, m)
            var i = 0
            while i < k {
                var acc: Float = 0
                var j = 0
                while j < m {
                    acc += Float(dr[j]) * w[j * k + i].computeValue
                    j &+= 1
                }
                dx[n * k + i] = out.round(acc, output: i)
                i += 1
            }
            n += 1
        }
    }

    /// `dW = alpha · dyᵀ x` for the first `trained` outputs, blocked 5 (then 4) outputs × 4
    /// inputs; each element sums over the rows in order.
    @inlinable
    static func weightGradient(dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                               rows: Int, k: Int, m: Int, trained: Int, alpha: Float) {
        // As `inputGradient`: a copy that knows alpha is 1.
        if alpha == 1 {
            weightGradient(dW: dW, dy: dy, x: x, rows: rows, k: k, m: m, trained: trained, out: OutputRounding(alpha: 1, beta: 0, bias: nil))
        } else {
            weightGradient(dW: dW, dy: dy, x: x, rows: rows, k: k, m: m, trained: trained, out: OutputRounding(alpha: alpha, beta: 0, bias: nil))
        }
    }

    @inlinable @inline(__always)
    static func weightGradient(dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                               rows: Int, k: Int, m: Int, trained: Int, out: OutputRounding) {
        let wide = 5 * Blocking.count(of: 5, and: 4, in: trained)
        var j = 0
        while j < wide {
            var i = 0
            while i + 4 <= k {
                // Lane q of a_r is output j + r, input i + q: four adjacent x, five adjacent dy per row.
                var a0 = SIMD4<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0, a4 = a0
                var xi = i, dj = j
                var n = 0
                while n < rows {
                    let xv = SIMD4<Float>(Float(x[xi]), Float(x[xi &+ 1]), Float(x[xi &+ 2]), Float(x[xi &+ 3]))
                    a0 += Float(dy[dj]) * xv
                    a1 += Float(dy[dj &+ 1]) * xv
                    a2 += Float(dy[dj &+ 2]) * xv
                    a3 += Float(dy[dj &+ 3]) * xv
                    a4 += Float(dy[dj &+ 4]) * xv
                    xi &+= k
                    dj &+= m
                    n &+= 1
                }
                out.storeRow(dW, a0, at: j &* k &+ i)
                out.storeRow(dW, a1, at: (j &+ 1) &* k &+ i)
                out.storeRow(dW, a2, at: (j &+ 2) &* k &+ i)
                out.storeRow(dW, a3, at: (j &+ 3) &* k &+ i)
                out.storeRow(dW, a4, at: (j &+ 4) &* k &+ i)
                i += 4
            }
            while i < k {
                var r = 0
                while r < 5 {
                    weightGradientOne(dW: dW, dy: dy, x: x, j: j + r, i: i, rows: rows, k: k, m: m, out: out)
                    r += 1
                }
                i += 1
            }
            j += 5
        }
        while j + 4 <= trained {
            var i = 0
            while i + 4 <= k {
                var a0 = SIMD4<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                var xi = i, dj = j
                var n = 0
                while n < rows {
                    let xv = SIMD4<Float>(Float(x[xi]), Float(x[xi &+ 1]), Float(x[xi &+ 2]), Float(x[xi &+ 3]))
                    a0 += Float(dy[dj]) * xv
                    a1 += Float(dy[dj &+ 1]) * xv
                    a2 += Float(dy[dj &+ 2]) * xv
                    a3 += Float(dy[dj &+ 3]) * xv
                    xi &+= k
                    dj &+= m
                    n &+= 1
                }
                out.storeRow(dW, a0, at: j &* k &+ i)
                out.storeRow(dW, a1, at: (j &+ 1) &* k &+ i)
                out.storeRow(dW, a2, at: (j &+ 2) &* k &+ i)
                out.storeRow(dW, a3, at: (j &+ 3) &* k &+ i)
                i += 4
            }
            while i < k {
                var r = 0
                while r < 4 {
                    weightGradientOne(dW: dW, dy: dy, x: x, j: j + r, i: i, rows: rows, k: k, m: m, out: out)
                    r += 1
                }
                i += 1
            }
            j += 4
        }
        while j < trained {
            // One output: four inputs at a time, then one.
            var i = 0
            while i + 4 <= k {
                var a0 = SIMD4<Float>(repeating: 0)
                var xi = i, dj = j
                var n = 0
                while n < rows {
                    a0 += Float(dy[dj]) * SIMD4<Float>(Float(x[xi]), Float(x[xi &+ 1]), Float(x[xi &+ 2]), Float(x[xi &+ 3]))
                    xi &+= k
                    dj &+= m
                    n &+= 1
                }
                out.storeRow(dW, a0, at: j &* k &+ i)
                i += 4
            }
            while i < k {
                weightGradientOne(dW: dW, dy: dy, x: x, j: j, i: i, rows: rows, k: k, m: m, out: out)
                i += 1
            }
            j += 1
        }
    }

    @inlinable @inline(__always)
    static func weightGradientOne(dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                                  j: Int, i: Int, rows: Int, k: Int, m: Int, out: OutputRounding) {
        var acc: Float = 0
        var n = 0
        while n < rows {
            acc += Float(dy[n * m + j]) * Float(x[n * k + i])
            n += 1
        }
        dW[j * k + i] = out.round(acc, output: j)
    }

    /// `db = beta · Σₙ dy`, four outputs at a time; each sums over the rows in order.
    @inlinable
    static func biasGradient(db: TensorView<Float16>, dy: TensorView<Float16>, rows: Int, m: Int, beta: Float) {
        let out = OutputRounding(alpha: beta, beta: 0, bias: nil)
        var j = 0
        while j + 4 <= m {
            var acc = SIMD4<Float>(repeating: 0)
            var at = j
            var n = 0
            while n < rows {
                acc += SIMD4<Float>(Float(dy[at]), Float(dy[at &+ 1]), Float(dy[at &+ 2]), Float(dy[at &+ 3]))
                at &+= m
                n &+= 1
            }
            out.storeRow(db, acc, at: j)
            j += 4
        }
        while j < m {
            var acc: Float = 0
            var n = 0
            while n < rows {
                acc += Float(dy[n &* m &+ j])
                n += 1
            }
            db[j] = out.round(acc, output: j)
            j += 1
        }
    }
}

/// How a finished fp32 sum becomes a stored fp16 output: `fp16(alpha · sum + beta · b[j])`.
///
/// Multiplying by an alpha of exactly 1 is skipped, since `1 · s` is `s` bit for bit, which
/// saves one instruction per stored element on the device. The bias term `beta · b[j]` is
/// computed once per output and passed in; nil bias adds nothing (not even `+ 0`, which would
/// turn a -0 sum into +0).
@usableFromInline
struct OutputRounding {
    @usableFromInline let alpha: Float
    @usableFromInline let beta: Float
    @usableFromInline let bias: ParameterView?
    @usableFromInline let scaled: Bool

    @inlinable @inline(__always)
    init(alpha: Float, beta: Float, bias: ParameterView?) {
        self.alpha = alpha
        self.beta = beta
        self.bias = bias
        scaled = alpha != 1
    }

    /// `beta · b[j]`, or nil without a bias.
    @inlinable @inline(__always)
    func biasTerm(_ j: Int) -> Float? {
        guard let bias else { return nil }
        return beta * bias.computeValue(j)
    }

    /// The stored value for the fp32 sum `acc` and bias term `term`.
    @inlinable @inline(__always)
    func round(_ acc: Float, _ term: Float?) -> Float16 {
        var out = scaled ? alpha * acc : acc
        if let term { out += term }
        return Float16(out)
    }

    /// Output `j`'s stored value for the fp32 sum `acc`.
    @inlinable @inline(__always)
    func round(_ acc: Float, output j: Int) -> Float16 {
        round(acc, biasTerm(j))
    }

    /// Four rows of one output, `acc[r]` going to `y[at + r · stride]`.
    @inlinable @inline(__always)
    func storeColumn(_ y: TensorView<Float16>, _ acc: SIMD4<Float>, _ term: Float?, at: Int, stride: Int) {
        var v = scaled ? alpha * acc : acc
        if let term { v += term }
        // Wrapping index arithmetic: the verifier bounded every index, and a checked add costs a
        // branch per stored element on the device.
        y[at] = Float16(v[0])
        y[at &+ stride] = Float16(v[1])
        y[at &+ 2 &* stride] = Float16(v[2])
        y[at &+ 3 &* stride] = Float16(v[3])
    }

    /// Four rows of output `j`, `acc[r]` going to `y[at + r · stride]`.
    @inlinable @inline(__always)
    func storeColumn(_ y: TensorView<Float16>, _ acc: SIMD4<Float>, at: Int, stride: Int, output j: Int) {
        storeColumn(y, acc, biasTerm(j), at: at, stride: stride)
    }

    /// Four adjacent outputs without bias, `acc[q]` going to `y[at + q]`.
    @inlinable @inline(__always)
    func storeRow(_ y: TensorView<Float16>, _ acc: SIMD4<Float>, at: Int) {
        let v = scaled ? alpha * acc : acc
        y[at] = Float16(v[0])
        y[at &+ 1] = Float16(v[1])
        y[at &+ 2] = Float16(v[2])
        y[at &+ 3] = Float16(v[3])
    }
}

/// How the blocked kernels split a dimension into register blocks.
@usableFromInline
enum Blocking {
    /// The number of `wide`-element blocks to take so that the rest splits into `narrow`-element
    /// blocks with nothing left over (e.g. 32 = 5·4 &+ 4·3), or as many as fit when no split is
    /// exact (the rest then ends in single elements).
    @inlinable
    static func count(of wide: Int, and narrow: Int, in n: Int) -> Int {
        var a = n / wide
        while a >= 0 {
            if (n - a * wide) % narrow == 0 { return a }
            a -= 1
        }
        return n / wide
    }
}
