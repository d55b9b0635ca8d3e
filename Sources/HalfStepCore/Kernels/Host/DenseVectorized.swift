#if arch(x86_64) || arch(arm64)
/// `Dense` for 64-bit hosts: the same results bit for bit, computed eight outputs at a time in
/// 256-bit vectors (AVX on x86_64, a pair of NEON registers on arm64).
///
/// Shapes: N batch rows, K input features, M output features.
/// x [N, K] fp16 · W [M, K] · b [M] → y [N, M] fp16, `y = alpha · x Wᵀ + beta · b`.
///
/// Why it matches `Dense.portableForward`/`portableBackward` bit for bit: each output is still one
/// fp32 sum started at +0 and extended in index order by separately rounded products (Swift
/// never contracts `a + b * c` into a fused multiply-add), then scaled and rounded to fp16 once.
/// The vector lanes hold *different outputs*, never parts of one sum, so no sum is reassociated.
/// Edges (a block of fewer than 8 outputs, a K tail) continue the same accumulators in the same
/// order, in scalar code where a vector would read past a tensor.
///
/// Blocking:
/// - forward: 8 rows × 8 outputs in 8 accumulators. W is [M, K], so the 8 weights an output
///   block needs at one `i` are a column of W: gathered once per `i`, used by all 8 rows.
/// - dx: 4 rows × 16 inputs (W row j is contiguous in i; dy[n, j] is broadcast).
/// - dW: 4 outputs × 16 inputs (x row n is contiguous in i; dy[n, j] is broadcast).
/// - db: 8 outputs per vector.
///
/// Kernels never allocate and use no stack buffers: everything lives in registers (the emulator
/// holds the host stack to a microcontroller's limits).
public enum DenseVectorized {
    /// Computes `y = alpha · x Wᵀ + beta · b` for the first `rows` rows; the parameters and the
    /// result are those of `Dense.portableForward`, bit for bit. With `scratch` (host working
    /// memory, `DenseVectorized+Scratch`) the lanes run over rows.
    public static func forward(
        y: TensorView<Float16>,      // [N, M]
        x: TensorView<Float16>,      // [N, K]
        weight: ParameterView,       // [M, K]
        bias: ParameterView?,        // [M]
        rows: Int, k: Int, m: Int, alpha: Float, beta: Float, scratch: KernelScratch? = nil
    ) {
        if let s = scratch?.floats(scratchFloats(rows: rows, k: k, m: m)) {
            return scratchForward(y: y, x: x, weight: weight, bias: bias, rows: rows, k: k, m: m, alpha: alpha, beta: beta, scratch: s)
        }
        switch weight {
        case .half(let w): forward(y: y, x: x, w: w, bias: bias, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
        case .master(let w): forward(y: y, x: x, w: w, bias: bias, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
        }
    }

    /// Gradients of `y = alpha · x Wᵀ + beta · b` for the first `rows` rows, written (not
    /// accumulated): `dx = alpha · dy W`, `dW = alpha · dyᵀ x` for the first `trainedOutputs`
    /// outputs (0: all), `db = beta · Σₙ dy`. The parameters and the results are those of
    /// `Dense.portableBackward`, bit for bit.
    public static func backward(
        dx: TensorView<Float16>?,    // [N, K]
        dW: TensorView<Float16>?,    // [M, K]
        db: TensorView<Float16>?,    // [M]
        dy: TensorView<Float16>,     // [N, M]
        x: TensorView<Float16>,      // [N, K]
        weight: ParameterView,       // [M, K]
        rows: Int, k: Int, m: Int, alpha: Float, beta: Float, trainedOutputs: Int = 0
    ) {
        if let dx {
            switch weight {
            case .half(let w): inputGradient(dx: dx, dy: dy, w: w, rows: rows, k: k, m: m, alpha: alpha)
            case .master(let w): inputGradient(dx: dx, dy: dy, w: w, rows: rows, k: k, m: m, alpha: alpha)
            }
        }
        if let dW {
            weightGradient(dW: dW, dy: dy, x: x, rows: rows, k: k, m: m,
                           trained: trainedOutputs == 0 ? m : trainedOutputs, alpha: alpha)
        }
        if let db { biasGradient(db: db, dy: dy, rows: rows, m: m, beta: beta) }
    }

    // MARK: - Operands

    /// A storage element that can be read eight at a time as compute sees it (fp16, widened).
    /// A protocol rather than a closure so each kernel is specialised per storage type and the
    /// conversion inlines to `vcvtph2ps` (and `vcvtps2ph` first for fp32 masters).
    protocol Operand: HalfComputable {
        /// Elements `p[0 ..< 8]` as fp16 bit patterns (fp32 masters rounded to nearest even).
        static func halfBits(_ p: UnsafeMutablePointer<Self>) -> SIMD8<UInt16>
        /// Elements `p[0]`, `p[stride]`, … `p[7 · stride]` as compute sees them.
        static func column(_ p: UnsafeMutablePointer<Self>, stride: Int) -> SIMD8<Float>
    }

    /// Elements `p[0 ..< 8]` as compute sees them: rounded to fp16, widened (exact).
    @inline(__always)
    static func computeVector<W: Operand>(_ p: UnsafeMutablePointer<W>) -> Vector {
        widened(unsafeBitCast(W.halfBits(p), to: SIMD8<Float16>.self))
    }

    typealias Vector = SIMD8<Float>

    /// `h` widened lane by lane. Spelled out rather than `SIMD8<Float>(h)`: the stdlib's generic
    /// conversion initialiser is not always inlined (in the package build it stayed a call per
    /// vector, a third of dW's speed); eight scalar conversions always become one `vcvtph2ps`.
    @inline(__always)
    static func widened(_ h: SIMD8<Float16>) -> Vector {
        Vector(Float(h[0]), Float(h[1]), Float(h[2]), Float(h[3]), Float(h[4]), Float(h[5]), Float(h[6]), Float(h[7]))
    }

    /// `v` rounded to fp16 lane by lane (nearest even, as `Float16(_:)`); see `widened`.
    @inline(__always)
    static func rounded(_ v: Vector) -> SIMD8<Float16> {
        SIMD8<Float16>(Float16(v[0]), Float16(v[1]), Float16(v[2]), Float16(v[3]),
                       Float16(v[4]), Float16(v[5]), Float16(v[6]), Float16(v[7]))
    }

    @inline(__always)
    static func widen(_ p: UnsafeMutablePointer<Float16>) -> Vector {
        widened(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float16>.self))
    }

    @inline(__always)
    static func narrow(_ v: Vector, to p: UnsafeMutablePointer<Float16>) {
        UnsafeMutableRawPointer(p).storeBytes(of: rounded(v), as: SIMD8<Float16>.self)
    }

    @inline(__always)
    static func splat(_ v: Float) -> Vector { Vector(repeating: v) }

    /// The bias of outputs `j ..< j + 8` as compute sees it.
    @inline(__always)
    static func biasVector(_ bias: ParameterView, _ j: Int) -> Vector {
        switch bias {
        case .half(let b): return computeVector(b.base + j)
        case .master(let b): return computeVector(b.base + j)
        }
    }

    // MARK: - Forward

    static func forward<W: Operand>(
        y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>, bias: ParameterView?,
        rows: Int, k: Int, m: Int, alpha: Float, beta: Float
    ) {
        var j = 0
        while j + 8 <= m {
            var n = 0
            while n + 8 <= rows {
                forwardBlock(8, y: y, x: x, w: w, bias: bias, n: n, j: j, k: k, m: m, alpha: alpha, beta: beta)
                n += 8
            }
            // Constant block heights, so each call specialises to straight-line code.
            switch rows - n {
            case 7: forwardBlock(7, y: y, x: x, w: w, bias: bias, n: n, j: j, k: k, m: m, alpha: alpha, beta: beta)
            case 6: forwardBlock(6, y: y, x: x, w: w, bias: bias, n: n, j: j, k: k, m: m, alpha: alpha, beta: beta)
            case 5: forwardBlock(5, y: y, x: x, w: w, bias: bias, n: n, j: j, k: k, m: m, alpha: alpha, beta: beta)
            case 4: forwardBlock(4, y: y, x: x, w: w, bias: bias, n: n, j: j, k: k, m: m, alpha: alpha, beta: beta)
            case 3: forwardBlock(3, y: y, x: x, w: w, bias: bias, n: n, j: j, k: k, m: m, alpha: alpha, beta: beta)
            case 2: forwardBlock(2, y: y, x: x, w: w, bias: bias, n: n, j: j, k: k, m: m, alpha: alpha, beta: beta)
            case 1: forwardBlock(1, y: y, x: x, w: w, bias: bias, n: n, j: j, k: k, m: m, alpha: alpha, beta: beta)
            default: break
            }
            j += 8
        }
        // Fewer than 8 outputs left: a vector would read past W's last row.
        while j < m {
            var n = 0
            while n < rows {
                var acc: Float = 0
                let xr = x.base + n * k, wr = w.base + j * k
                var i = 0
                while i < k {
                    acc += Float(xr[i]) * wr[i].computeValue
                    i += 1
                }
                var out = alpha * acc
                if let bias { out += beta * bias.computeValue(j) }
                y[n * m + j] = Float16(out)
                n += 1
            }
            j += 1
        }
    }

    /// `height` (1...8) rows × outputs `j ..< j + 8`, summing over all of K.
    ///
    /// W is [M, K], so the 8 weights the block needs at one `i` are a column, 8 rows apart:
    /// gathered element by element, widened once, then used by all `height` rows. (An in-register
    /// 8 × 8 transpose needs fewer instructions on paper, but the optimiser rewrites the shuffle
    /// network into a longer blend sequence and spills; the gather stays as written.)
    @inline(__always)
    static func forwardBlock<W: Operand>(
        _ height: Int, y: TensorView<Float16>, x: TensorView<Float16>, w: TensorView<W>, bias: ParameterView?,
        n: Int, j: Int, k: Int, m: Int, alpha: Float, beta: Float
    ) {
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector()
        var a4 = Vector(), a5 = Vector(), a6 = Vector(), a7 = Vector()
        // Rows past the block alias row 0: never read, never stored.
        let x0 = x.base + n * k
        let x1 = height > 1 ? x0 + k : x0, x2 = height > 2 ? x0 + 2 * k : x0, x3 = height > 3 ? x0 + 3 * k : x0
        let x4 = height > 4 ? x0 + 4 * k : x0, x5 = height > 5 ? x0 + 5 * k : x0
        let x6 = height > 6 ? x0 + 6 * k : x0, x7 = height > 7 ? x0 + 7 * k : x0
        var p = w.base + j * k
        var i = 0
        while i < k {
            let c = W.column(p, stride: k)
            a0 += splat(x0 + i) * c
            if height > 1 { a1 += splat(x1 + i) * c }
            if height > 2 { a2 += splat(x2 + i) * c }
            if height > 3 { a3 += splat(x3 + i) * c }
            if height > 4 { a4 += splat(x4 + i) * c }
            if height > 5 { a5 += splat(x5 + i) * c }
            if height > 6 { a6 += splat(x6 + i) * c }
            if height > 7 { a7 += splat(x7 + i) * c }
            p += 1
            i += 1
        }
        let b = bias.map { beta * biasVector($0, j) }
        let out = y.base + n * m + j
        store(a0, alpha: alpha, bias: b, to: out)
        if height > 1 { store(a1, alpha: alpha, bias: b, to: out + m) }
        if height > 2 { store(a2, alpha: alpha, bias: b, to: out + 2 * m) }
        if height > 3 { store(a3, alpha: alpha, bias: b, to: out + 3 * m) }
        if height > 4 { store(a4, alpha: alpha, bias: b, to: out + 4 * m) }
        if height > 5 { store(a5, alpha: alpha, bias: b, to: out + 5 * m) }
        if height > 6 { store(a6, alpha: alpha, bias: b, to: out + 6 * m) }
        if height > 7 { store(a7, alpha: alpha, bias: b, to: out + 7 * m) }
    }

    /// `p[0]` in every lane, widened.
    @inline(__always)
    static func splat(_ p: UnsafeMutablePointer<Float16>) -> Vector {
        Vector(SIMD8<Float16>(repeating: p.pointee))
    }

    /// `out = alpha · acc`, then `out += beta · b`, in that order (as the portable kernel does).
    @inline(__always)
    static func store(_ acc: Vector, alpha: Float, bias scaledBias: Vector?, to p: UnsafeMutablePointer<Float16>) {
        var out = alpha * acc
        if let scaledBias { out += scaledBias }
        narrow(out, to: p)
    }

    // MARK: - Backward

    /// `dx = alpha · dy W`: blocks of 4 rows × 16 inputs, each element summing over M in order.
    static func inputGradient<W: Operand>(
        dx: TensorView<Float16>, dy: TensorView<Float16>, w: TensorView<W>,
        rows: Int, k: Int, m: Int, alpha: Float
    ) {
        var n = 0
        while n < rows {
            let height = min(4, rows - n)
            var i = 0
            while i + 16 <= k {
                switch height {
                case 4: inputGradientBlock(4, wide: true, dx: dx, dy: dy, w: w, n: n, i: i, k: k, m: m, alpha: alpha)
                case 3: inputGradientBlock(3, wide: true, dx: dx, dy: dy, w: w, n: n, i: i, k: k, m: m, alpha: alpha)
                case 2: inputGradientBlock(2, wide: true, dx: dx, dy: dy, w: w, n: n, i: i, k: k, m: m, alpha: alpha)
                default: inputGradientBlock(1, wide: true, dx: dx, dy: dy, w: w, n: n, i: i, k: k, m: m, alpha: alpha)
                }
                i += 16
            }
            if i + 8 <= k {
                switch height {
                case 4: inputGradientBlock(4, wide: false, dx: dx, dy: dy, w: w, n: n, i: i, k: k, m: m, alpha: alpha)
                case 3: inputGradientBlock(3, wide: false, dx: dx, dy: dy, w: w, n: n, i: i, k: k, m: m, alpha: alpha)
                case 2: inputGradientBlock(2, wide: false, dx: dx, dy: dy, w: w, n: n, i: i, k: k, m: m, alpha: alpha)
                default: inputGradientBlock(1, wide: false, dx: dx, dy: dy, w: w, n: n, i: i, k: k, m: m, alpha: alpha)
                }
                i += 8
            }
            // Fewer than 8 inputs left: a vector would read past the end of W's row.
            while i < k {
                var r = n
                while r < n + height {
                    var acc: Float = 0
                    let d = dy.base + r * m
                    var j = 0
                    while j < m {
                        acc += Float(d[j]) * w[j * k + i].computeValue
                        j += 1
                    }
                    dx[r * k + i] = Float16(alpha * acc)
                    r += 1
                }
                i += 1
            }
            n += height
        }
    }

    /// `height` (1...4) rows × inputs `i ..< i + 16` (`wide`) or `i ..< i + 8`, summing over M.
    @inline(__always)
    static func inputGradientBlock<W: Operand>(
        _ height: Int, wide: Bool, dx: TensorView<Float16>, dy: TensorView<Float16>, w: TensorView<W>,
        n: Int, i: Int, k: Int, m: Int, alpha: Float
    ) {
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector()
        var b0 = Vector(), b1 = Vector(), b2 = Vector(), b3 = Vector()
        let d0 = dy.base + n * m
        let d1 = height > 1 ? d0 + m : d0, d2 = height > 2 ? d0 + 2 * m : d0, d3 = height > 3 ? d0 + 3 * m : d0
        var wp = w.base + i
        var j = 0
        while j < m {
            let lo = computeVector(wp)
            let hi = wide ? computeVector(wp + 8) : lo
            let s0 = splat(Float(d0[j]))
            a0 += s0 * lo
            if wide { b0 += s0 * hi }
            if height > 1 {
                let s1 = splat(Float(d1[j]))
                a1 += s1 * lo
                if wide { b1 += s1 * hi }
            }
            if height > 2 {
                let s2 = splat(Float(d2[j]))
                a2 += s2 * lo
                if wide { b2 += s2 * hi }
            }
            if height > 3 {
                let s3 = splat(Float(d3[j]))
                a3 += s3 * lo
                if wide { b3 += s3 * hi }
            }
            wp += k
            j += 1
        }
        let out = dx.base + n * k + i
        narrow(alpha * a0, to: out)
        if wide { narrow(alpha * b0, to: out + 8) }
        if height > 1 {
            narrow(alpha * a1, to: out + k)
            if wide { narrow(alpha * b1, to: out + k + 8) }
        }
        if height > 2 {
            narrow(alpha * a2, to: out + 2 * k)
            if wide { narrow(alpha * b2, to: out + 2 * k + 8) }
        }
        if height > 3 {
            narrow(alpha * a3, to: out + 3 * k)
            if wide { narrow(alpha * b3, to: out + 3 * k + 8) }
        }
    }

    /// `dW = alpha · dyᵀ x` for outputs `0 ..< trained`: blocks of 4 outputs × 16 inputs, each
    /// element summing over the rows in order.
    static func weightGradient(dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
                               rows: Int, k: Int, m: Int, trained: Int, alpha: Float) {
        var j = 0
        while j < trained {
            let height = min(4, trained - j)
            var i = 0
            while i + 16 <= k {
                switch height {
                case 4: weightGradientBlock(4, wide: true, dW: dW, dy: dy, x: x, j: j, i: i, rows: rows, k: k, m: m, alpha: alpha)
                case 3: weightGradientBlock(3, wide: true, dW: dW, dy: dy, x: x, j: j, i: i, rows: rows, k: k, m: m, alpha: alpha)
                case 2: weightGradientBlock(2, wide: true, dW: dW, dy: dy, x: x, j: j, i: i, rows: rows, k: k, m: m, alpha: alpha)
                default: weightGradientBlock(1, wide: true, dW: dW, dy: dy, x: x, j: j, i: i, rows: rows, k: k, m: m, alpha: alpha)
                }
                i += 16
            }
            if i + 8 <= k {
                switch height {
                case 4: weightGradientBlock(4, wide: false, dW: dW, dy: dy, x: x, j: j, i: i, rows: rows, k: k, m: m, alpha: alpha)
                case 3: weightGradientBlock(3, wide: false, dW: dW, dy: dy, x: x, j: j, i: i, rows: rows, k: k, m: m, alpha: alpha)
                case 2: weightGradientBlock(2, wide: false, dW: dW, dy: dy, x: x, j: j, i: i, rows: rows, k: k, m: m, alpha: alpha)
                default: weightGradientBlock(1, wide: false, dW: dW, dy: dy, x: x, j: j, i: i, rows: rows, k: k, m: m, alpha: alpha)
                }
                i += 8
            }
            // Fewer than 8 inputs left: a vector would read past the end of x's row.
            while i < k {
                var q = j
                while q < j + height {
                    var acc: Float = 0
                    var n = 0
                    while n < rows {
                        acc += Float(dy[n * m + q]) * Float(x[n * k + i])
                        n += 1
                    }
                    dW[q * k + i] = Float16(alpha * acc)
                    q += 1
                }
                i += 1
            }
            j += height
        }
    }

    /// `height` (1...4) outputs from `j` × inputs `i ..< i + 16` (`wide`) or `i ..< i + 8`,
    /// summing over the rows.
    @inline(__always)
    static func weightGradientBlock(
        _ height: Int, wide: Bool, dW: TensorView<Float16>, dy: TensorView<Float16>, x: TensorView<Float16>,
        j: Int, i: Int, rows: Int, k: Int, m: Int, alpha: Float
    ) {
        var a0 = Vector(), a1 = Vector(), a2 = Vector(), a3 = Vector()
        var b0 = Vector(), b1 = Vector(), b2 = Vector(), b3 = Vector()
        var xp = x.base + i
        var dp = dy.base + j
        var n = 0
        while n < rows {
            let lo = widen(xp)
            let hi = wide ? widen(xp + 8) : lo
            let s0 = splat(Float(dp[0]))
            a0 += s0 * lo
            if wide { b0 += s0 * hi }
            if height > 1 {
                let s1 = splat(Float(dp[1]))
                a1 += s1 * lo
                if wide { b1 += s1 * hi }
            }
            if height > 2 {
                let s2 = splat(Float(dp[2]))
                a2 += s2 * lo
                if wide { b2 += s2 * hi }
            }
            if height > 3 {
                let s3 = splat(Float(dp[3]))
                a3 += s3 * lo
                if wide { b3 += s3 * hi }
            }
            xp += k
            dp += m
            n += 1
        }
        let out = dW.base + j * k + i
        narrow(alpha * a0, to: out)
        if wide { narrow(alpha * b0, to: out + 8) }
        if height > 1 {
            narrow(alpha * a1, to: out + k)
            if wide { narrow(alpha * b1, to: out + k + 8) }
        }
        if height > 2 {
            narrow(alpha * a2, to: out + 2 * k)
            if wide { narrow(alpha * b2, to: out + 2 * k + 8) }
        }
        if height > 3 {
            narrow(alpha * a3, to: out + 3 * k)
            if wide { narrow(alpha * b3, to: out + 3 * k + 8) }
        }
    }

    /// `db = beta · Σₙ dy`, 8 outputs per vector; each sums over the rows in order.
    static func biasGradient(db: TensorView<Float16>, dy: TensorView<Float16>, rows: Int, m: Int, beta: Float) {
        var j = 0
        while j + 8 <= m {
            var acc = Vector()
            var dp = dy.base + j
            var n = 0
            while n < rows {
                acc += widen(dp)
                dp += m
                n += 1
            }
            narrow(beta * acc, to: db.base + j)
            j += 8
        }
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

extension Float16: DenseVectorized.Operand {
    @inline(__always)
    static func halfBits(_ p: UnsafeMutablePointer<Float16>) -> SIMD8<UInt16> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<UInt16>.self)
    }

    @inline(__always)
    static func column(_ p: UnsafeMutablePointer<Float16>, stride s: Int) -> SIMD8<Float> {
        SIMD8<Float>(SIMD8<Float16>(p[0], p[s], p[2 * s], p[3 * s], p[4 * s], p[5 * s], p[6 * s], p[7 * s]))
    }
}

extension Float: DenseVectorized.Operand {
    /// Rounded to fp16 as `computeValue` does: a master weight computes what its fp16 copy would.
    @inline(__always)
    static func halfBits(_ p: UnsafeMutablePointer<Float>) -> SIMD8<UInt16> {
        unsafeBitCast(DenseVectorized.rounded(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)), to: SIMD8<UInt16>.self)
    }

    @inline(__always)
    static func column(_ p: UnsafeMutablePointer<Float>, stride s: Int) -> SIMD8<Float> {
        DenseVectorized.widened(DenseVectorized.rounded(SIMD8<Float>(p[0], p[s], p[2 * s], p[3 * s], p[4 * s], p[5 * s], p[6 * s], p[7 * s])))
    }
}
#endif
