#if arch(x86_64) || arch(arm64)
/// `DenseVectorized.forward` when the host gave the step a `KernelScratch`: the same results bit
/// for bit, with lanes over rows instead of outputs.
///
/// Shapes: N batch rows, K input features, M output features.
/// x [N, K] fp16 · W [M, K] · b [M] → y [N, M] fp16, `y = alpha · x Wᵀ + beta · b`.
///
/// Scratch (fp32): xᵀ [K, N′] (N′ = N rounded up to 8; rows past N read 0 and are never stored),
/// then W [M, K] as compute sees it. Lanes are 8 consecutive rows; a block is up to 2 row vectors
/// × 5 outputs, each weight broadcast once per input and used by both row vectors. Without
/// scratch, a classifier's few outputs (M = 10: a vector of 8 and 2 left over) leave most of
/// the work to one-output loops bound by the latency of their additions; with rows as lanes every
/// output is vectorised. Each output still sums its products in index order from +0, one
/// separately rounded product at a time, then scales, adds its bias term and rounds to fp16 once.
extension DenseVectorized {
    /// fp32 elements of scratch `forward` uses at up to `rows` rows.
    public static func scratchFloats(rows: Int, k: Int, m: Int) -> Int {
        k * ((rows + 7) & ~7) + m * k
    }

    /// `forward` with `scratch` (at least `scratchFloats` elements).
    static func scratchForward(y: TensorView<Float16>, x: TensorView<Float16>, weight: ParameterView, bias: ParameterView?,
                               rows: Int, k: Int, m: Int, alpha: Float, beta: Float, scratch: TensorView<Float>) {
        let padded = (rows + 7) & ~7
        let xT = scratch.slice(0, k * padded), wf = scratch.slice(k * padded, m * k)
        transpose(x, into: xT, rows: rows, k: k, padded: padded)
        switch weight {
        case .half(let w): widen(w, into: wf)
        case .master(let w): widen(w, into: wf)
        }
        let vectors = padded / 8
        var v = 0
        while v < vectors {
            let rowVectors = min(2, vectors - v)
            var j = 0
            while j < m {
                let outputs = min(5, m - j)
                // Constant block sizes, so each call specialises to straight-line code.
                switch (rowVectors, outputs) {
                case (2, 5): scratchForwardBlock(Block.Two.self, Block.Five.self, y: y, xT: xT, wf: wf, bias: bias, v: v, j: j, rows: rows, k: k, m: m, padded: padded, alpha: alpha, beta: beta)
                case (2, 4): scratchForwardBlock(Block.Two.self, Block.Four.self, y: y, xT: xT, wf: wf, bias: bias, v: v, j: j, rows: rows, k: k, m: m, padded: padded, alpha: alpha, beta: beta)
                case (2, 3): scratchForwardBlock(Block.Two.self, Block.Three.self, y: y, xT: xT, wf: wf, bias: bias, v: v, j: j, rows: rows, k: k, m: m, padded: padded, alpha: alpha, beta: beta)
                case (2, 2): scratchForwardBlock(Block.Two.self, Block.Two.self, y: y, xT: xT, wf: wf, bias: bias, v: v, j: j, rows: rows, k: k, m: m, padded: padded, alpha: alpha, beta: beta)
                case (2, _): scratchForwardBlock(Block.Two.self, Block.One.self, y: y, xT: xT, wf: wf, bias: bias, v: v, j: j, rows: rows, k: k, m: m, padded: padded, alpha: alpha, beta: beta)
                case (_, 5): scratchForwardBlock(Block.One.self, Block.Five.self, y: y, xT: xT, wf: wf, bias: bias, v: v, j: j, rows: rows, k: k, m: m, padded: padded, alpha: alpha, beta: beta)
                case (_, 4): scratchForwardBlock(Block.One.self, Block.Four.self, y: y, xT: xT, wf: wf, bias: bias, v: v, j: j, rows: rows, k: k, m: m, padded: padded, alpha: alpha, beta: beta)
                case (_, 3): scratchForwardBlock(Block.One.self, Block.Three.self, y: y, xT: xT, wf: wf, bias: bias, v: v, j: j, rows: rows, k: k, m: m, padded: padded, alpha: alpha, beta: beta)
                case (_, 2): scratchForwardBlock(Block.One.self, Block.Two.self, y: y, xT: xT, wf: wf, bias: bias, v: v, j: j, rows: rows, k: k, m: m, padded: padded, alpha: alpha, beta: beta)
                case (_, _): scratchForwardBlock(Block.One.self, Block.One.self, y: y, xT: xT, wf: wf, bias: bias, v: v, j: j, rows: rows, k: k, m: m, padded: padded, alpha: alpha, beta: beta)
                }
                j += outputs
            }
            v += rowVectors
        }
    }

    /// `xT[i, n] = x[n, i]` widened for n < rows, 0 for rows ≤ n < padded: 8 × 8 blocks loaded
    /// as rows and transposed in registers; what is left over one element at a time.
    static func transpose(_ x: TensorView<Float16>, into xT: TensorView<Float>, rows: Int, k: Int, padded: Int) {
        let fullRows = rows & ~7
        var n = 0
        while n < fullRows {
            var i = 0
            while i &+ 8 <= k {
                let r = n &* k &+ i
                let t = Conv2DVectorized.transposed(x.row8(r), x.row8(r &+ k), x.row8(r &+ 2 &* k), x.row8(r &+ 3 &* k),
                                                    x.row8(r &+ 4 &* k), x.row8(r &+ 5 &* k), x.row8(r &+ 6 &* k), x.row8(r &+ 7 &* k))
                let d = i &* padded &+ n
                xT.store8(Conv2DVectorized.widened(t.0), at: d); xT.store8(Conv2DVectorized.widened(t.1), at: d &+ padded)
                xT.store8(Conv2DVectorized.widened(t.2), at: d &+ 2 &* padded); xT.store8(Conv2DVectorized.widened(t.3), at: d &+ 3 &* padded)
                xT.store8(Conv2DVectorized.widened(t.4), at: d &+ 4 &* padded); xT.store8(Conv2DVectorized.widened(t.5), at: d &+ 5 &* padded)
                xT.store8(Conv2DVectorized.widened(t.6), at: d &+ 6 &* padded); xT.store8(Conv2DVectorized.widened(t.7), at: d &+ 7 &* padded)
                i &+= 8
            }
            while i < k {
                var r = 0
                while r < 8 { xT[i &* padded &+ n &+ r] = Float(x[(n &+ r) &* k &+ i]); r &+= 1 }
                i &+= 1
            }
            n &+= 8
        }
        if fullRows == padded { return }
        var i = 0
        while i < k {
            var r = fullRows
            while r < padded { xT[i &* padded &+ r] = r < rows ? Float(x[r &* k &+ i]) : 0; r &+= 1 }
            i &+= 1
        }
    }

    /// `wf[t] = w[t]` as compute sees it.
    static func widen<W: Operand>(_ w: TensorView<W>, into wf: TensorView<Float>) {
        let count = wf.count
        var t = 0
        while t &+ 8 <= count {
            wf.store8(computeVector(w.base + t), at: t)
            t &+= 8
        }
        while t < count {
            wf[t] = w[t].computeValue
            t &+= 1
        }
    }

    /// Rows `8·v ..< 8·(v + R.count)` × outputs `j ..< j + J.count`, summing over all of K.
    @inline(__always)
    static func scratchForwardBlock<R: BlockCount, J: BlockCount>(
        _: R.Type, _: J.Type, y: TensorView<Float16>, xT: TensorView<Float>, wf: TensorView<Float>, bias: ParameterView?,
        v: Int, j: Int, rows: Int, k: Int, m: Int, padded: Int, alpha: Float, beta: Float
    ) {
        let vectors = R.count, outputs = J.count
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector(), a4 = Vector()
        var b0 = Vector(), b1 = Vector(), b2 = Vector(), b3 = Vector(), b4 = Vector()
        // Index arithmetic wraps (`&+`): the verifier proved every index in range.
        var xi = v &* 8, wi = j &* k
        let k2 = 2 &* k, k3 = 3 &* k, k4 = 4 &* k
        var i = 0
        while i < k {
            let x0 = xT.vector8(xi), x1 = vectors > 1 ? xT.vector8(xi &+ 8) : x0
            let w0 = Vector(repeating: wf[wi])
            a0 += x0 * w0
            if vectors > 1 { b0 += x1 * w0 }
            if outputs > 1 { let w = Vector(repeating: wf[wi &+ k]); a1 += x0 * w; if vectors > 1 { b1 += x1 * w } }
            if outputs > 2 { let w = Vector(repeating: wf[wi &+ k2]); a2 += x0 * w; if vectors > 1 { b2 += x1 * w } }
            if outputs > 3 { let w = Vector(repeating: wf[wi &+ k3]); a3 += x0 * w; if vectors > 1 { b3 += x1 * w } }
            if outputs > 4 { let w = Vector(repeating: wf[wi &+ k4]); a4 += x0 * w; if vectors > 1 { b4 += x1 * w } }
            xi &+= padded
            wi &+= 1
            i &+= 1
        }
        // `out = alpha · acc`, then `out += beta · b` (as `store` does); lane r is row 8·v + r.
        @inline(__always) func store(_ a: Vector, _ b: Vector, _ q: Int) {
            var lo = alpha * a, hi = alpha * b
            if let bias {
                let term = Vector(repeating: beta * bias.computeValue(j + q))
                lo += term
                hi += term
            }
            let first = v * 8
            var r = 0
            while r < 8 && first + r < rows { y[(first + r) * m + j + q] = Float16(lo[r]); r += 1 }
            if vectors > 1 {
                r = 0
                while r < 8 && first + 8 + r < rows { y[(first + 8 + r) * m + j + q] = Float16(hi[r]); r += 1 }
            }
        }
        store(a0, b0, 0)
        if outputs > 1 { store(a1, b1, 1) }
        if outputs > 2 { store(a2, b2, 2) }
        if outputs > 3 { store(a3, b3, 3) }
        if outputs > 4 { store(a4, b4, 4) }
    }
}
#endif
