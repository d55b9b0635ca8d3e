#if arch(x86_64) || arch(arm64)
import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// DenseVectorized against the portable kernels the device runs, bit for bit: every output,
/// and every element a kernel must not write, compared as fp16 bit patterns. No tolerance: the
/// vector kernels promise the same operations in the same order. (A NaN's sign and payload are
/// the one exception: see `same`.)
struct DenseVectorizedTests {
    /// Shapes that hit every edge: single elements, lane and block tails (7, 9, 15, 17, 33) and
    /// exact multiples of the 8- and 16-lane blocks.
    static let sizes = [1, 2, 3, 7, 8, 9, 15, 16, 17, 33, 64]
    static let rowCounts = Array(1 ... 9) + [32]

    /// Operands for one shape; the output buffers start filled with a sentinel so elements a
    /// kernel must not touch are compared too.
    struct Case {
        let rows: Int, k: Int, m: Int
        var x: [Float16], w16: [Float16], w32: [Float], b16: [Float16], b32: [Float], dy: [Float16]

        init(rows: Int, k: Int, m: Int, seed: UInt64, range: Double = 2) {
            self.rows = rows; self.k = k; self.m = m
            var rng = TestRandom(seed)
            x = rng.halves(rows * k, -range, range)
            w16 = rng.halves(m * k, -range, range)
            w32 = (0 ..< m * k).map { _ in Float(rng.uniform(-range, range)) }
            b16 = rng.halves(m, -range, range)
            b32 = (0 ..< m).map { _ in Float(rng.uniform(-range, range)) }
            dy = rng.halves(rows * m, -range, range)
        }
    }

    enum Storage { case half, master }

    static let sentinel = Float16(bitPattern: 0x5A5A)

    /// Runs `body` with views of copies of the case's operands, so neither kernel sees the
    /// other's writes.
    static func withOperands<R>(_ c: Case, _ storage: Storage, bias: Bool,
                                _ body: (TensorView<Float16>, ParameterView, ParameterView?, TensorView<Float16>) -> R) -> R {
        var x = c.x, w16 = c.w16, w32 = c.w32, b16 = c.b16, b32 = c.b32, dy = c.dy
        return x.withUnsafeMutableBufferPointer { xp in
            w16.withUnsafeMutableBufferPointer { w16p in
                w32.withUnsafeMutableBufferPointer { w32p in
                    b16.withUnsafeMutableBufferPointer { b16p in
                        b32.withUnsafeMutableBufferPointer { b32p in
                            dy.withUnsafeMutableBufferPointer { dyp in
                                let weight: ParameterView, b: ParameterView
                                switch storage {
                                case .half:
                                    weight = .half(TensorView(base: w16p.baseAddress!, count: w16p.count))
                                    b = .half(TensorView(base: b16p.baseAddress!, count: b16p.count))
                                case .master:
                                    weight = .master(TensorView(base: w32p.baseAddress!, count: w32p.count))
                                    b = .master(TensorView(base: b32p.baseAddress!, count: b32p.count))
                                }
                                return body(TensorView(base: xp.baseAddress!, count: xp.count), weight, bias ? b : nil,
                                            TensorView(base: dyp.baseAddress!, count: dyp.count))
                            }
                        }
                    }
                }
            }
        }
    }

    /// A sentinel-filled output and its view.
    static func output(_ count: Int, _ body: (TensorView<Float16>) -> Void) -> [UInt16] {
        var out = [Float16](repeating: sentinel, count: max(count, 1))
        out.withUnsafeMutableBufferPointer { body(TensorView(base: $0.baseAddress!, count: count)) }
        return out.map(\.bitPattern)
    }

    /// Equal bit patterns, or both NaN.
    ///
    /// Why NaNs are compared as NaNs: when both operands of an x86 add or multiply are NaN the
    /// result is the *first* operand's NaN, and which operand is first is the compiler's choice
    /// (IEEE add and multiply commute, and LLVM swaps them freely), in the portable kernel as in
    /// the vector one. So `inf · 0` (x86's default NaN, sign set: 0xFE00 in fp16) meeting a
    /// propagated input NaN (0x7E00) can give either sign, in either kernel. Every other bit
    /// pattern, including infinities, signed zeros and subnormals, must match exactly.
    static func same(_ a: UInt16, _ b: UInt16) -> Bool {
        a == b || (Float16(bitPattern: a).isNaN && Float16(bitPattern: b).isNaN)
    }

    /// Where the two results differ, described for the failure message; nil when identical.
    static func firstDifference(_ name: String, _ got: [UInt16], _ expected: [UInt16]) -> String? {
        guard let i = got.indices.first(where: { !same(got[$0], expected[$0]) }) else { return nil }
        let count = zip(got, expected).filter { !same($0, $1) }.count
        return "\(name)[\(i)]: 0x\(String(got[i], radix: 16)) vs portable 0x\(String(expected[i], radix: 16)) (\(count) differ)"
    }

    /// nil when forward matches the portable kernel on this case, else the first difference.
    /// With `scratch`, the vectorised kernel gets host working memory (rows as lanes), filled
    /// with NaN so a read of an element it did not write would show.
    static func forwardDifference(_ c: Case, _ storage: Storage, bias: Bool, alpha: Float, beta: Float, scratch: Bool = false) -> String? {
        withOperands(c, storage, bias: bias) { x, weight, b, _ in
            let expected = output(c.rows * c.m) {
                Dense.portableForward(y: $0, x: x, weight: weight, bias: b, rows: c.rows, k: c.k, m: c.m, alpha: alpha, beta: beta)
            }
            let floats = DenseVectorized.scratchFloats(rows: c.rows, k: c.k, m: c.m)
            let memory = Buffer<Float>(repeating: .nan, count: floats)
            let got = withExtendedLifetime(memory) {
                output(c.rows * c.m) {
                    DenseVectorized.forward(y: $0, x: x, weight: weight, bias: b, rows: c.rows, k: c.k, m: c.m, alpha: alpha, beta: beta,
                                            scratch: scratch ? KernelScratch(base: UnsafeMutableRawPointer(memory.pointer), bytes: floats * 4) : nil)
                }
            }
            return firstDifference("y", got, expected).map { "rows \(c.rows) k \(c.k) m \(c.m), scratch \(scratch): \($0)" }
        }
    }

    /// Which gradients a backward call asks for.
    struct Outputs { var dx = true, dW = true, db = true }

    /// nil when backward matches the portable kernel on this case, else the first difference.
    static func backwardDifference(_ c: Case, _ storage: Storage, alpha: Float, beta: Float,
                                   trained: Int = 0, outputs: Outputs = Outputs()) -> String? {
        withOperands(c, storage, bias: false) { x, weight, _, dy in
            func run(_ vectorized: Bool) -> [[UInt16]] {
                var dxBits: [UInt16] = [], dWBits: [UInt16] = []
                var dbBits: [UInt16] = []
                dxBits = output(c.rows * c.k) { dx in
                    dWBits = output(c.m * c.k) { dW in
                        dbBits = output(c.m) { db in
                            let dxv = outputs.dx ? dx : nil, dWv = outputs.dW ? dW : nil, dbv = outputs.db ? db : nil
                            if vectorized {
                                DenseVectorized.backward(dx: dxv, dW: dWv, db: dbv, dy: dy, x: x, weight: weight,
                                                         rows: c.rows, k: c.k, m: c.m, alpha: alpha, beta: beta, trainedOutputs: trained)
                            } else {
                                Dense.portableBackward(dx: dxv, dW: dWv, db: dbv, dy: dy, x: x, weight: weight,
                                                       rows: c.rows, k: c.k, m: c.m, alpha: alpha, beta: beta, trainedOutputs: trained)
                            }
                        }
                    }
                }
                return [dxBits, dWBits, dbBits]
            }
            let got = run(true), expected = run(false)
            for (name, (g, e)) in zip(["dx", "dW", "db"], zip(got, expected)) {
                if let d = firstDifference(name, g, e) { return "rows \(c.rows) k \(c.k) m \(c.m): \(d)" }
            }
            return nil
        }
    }

    /// Every shape in the grid; returns the differences found (empty when all match).
    static func overAllShapes(_ check: (Case) -> String?) -> [String] {
        var differences: [String] = []
        var seed: UInt64 = 100
        for rows in rowCounts {
            for k in sizes {
                for m in sizes {
                    seed += 1
                    if let d = check(Case(rows: rows, k: k, m: m, seed: seed)) { differences.append(d) }
                }
            }
        }
        return differences
    }

    // MARK: - Forward

    @Test("forward with fp16 weights and bias matches the portable kernel bit for bit on every shape")
    func forwardHalfWeightsWithBias() {
        let d = Self.overAllShapes { Self.forwardDifference($0, .half, bias: true, alpha: 1, beta: 1) }
        #expect(d.isEmpty, "\(d.count) shapes differ; first: \(d.first ?? "")")
    }

    @Test("forward with fp32 master weights and bias, alpha and beta not 1, matches bit for bit on every shape")
    func forwardMasterWeightsScaled() {
        let d = Self.overAllShapes { Self.forwardDifference($0, .master, bias: true, alpha: 0.3, beta: -1.7) }
        #expect(d.isEmpty, "\(d.count) shapes differ; first: \(d.first ?? "")")
    }

    @Test("forward without bias matches bit for bit on every shape, for both weight storages")
    func forwardWithoutBias() {
        let half = Self.overAllShapes { Self.forwardDifference($0, .half, bias: false, alpha: 1.25, beta: 1) }
        let master = Self.overAllShapes { Self.forwardDifference($0, .master, bias: false, alpha: 1, beta: 1) }
        #expect(half.isEmpty, "fp16: \(half.count) shapes differ; first: \(half.first ?? "")")
        #expect(master.isEmpty, "fp32: \(master.count) shapes differ; first: \(master.first ?? "")")
    }

    // MARK: - Backward

    @Test("forward with host scratch (rows as lanes) matches bit for bit on every shape, both storages, with and without bias")
    func forwardWithScratch() {
        let half = Self.overAllShapes { Self.forwardDifference($0, .half, bias: true, alpha: 1, beta: 1, scratch: true) }
        let master = Self.overAllShapes { Self.forwardDifference($0, .master, bias: true, alpha: 0.3, beta: -1.7, scratch: true) }
        let plain = Self.overAllShapes { Self.forwardDifference($0, .master, bias: false, alpha: 1.25, beta: 1, scratch: true) }
        let d = half + master + plain
        #expect(d.isEmpty, "\(d.count) shapes differ; first: \(d.first ?? "")")
    }

    @Test("backward with fp16 weights matches dx, dW and db bit for bit on every shape")
    func backwardHalfWeights() {
        let d = Self.overAllShapes { Self.backwardDifference($0, .half, alpha: 1, beta: 1) }
        #expect(d.isEmpty, "\(d.count) shapes differ; first: \(d.first ?? "")")
    }

    @Test("backward with fp32 master weights, alpha and beta not 1, matches bit for bit on every shape")
    func backwardMasterWeightsScaled() {
        let d = Self.overAllShapes { Self.backwardDifference($0, .master, alpha: 0.6, beta: 3.5) }
        #expect(d.isEmpty, "\(d.count) shapes differ; first: \(d.first ?? "")")
    }

    @Test("backward with fewer trained outputs writes only their dW rows, as the portable kernel does")
    func backwardPartialTrainedOutputs() {
        var differences: [String] = []
        var seed: UInt64 = 5000
        for rows in [1, 4, 5, 32] {
            for k in Self.sizes {
                for m in [2, 3, 9, 17, 33, 64] {
                    for trained in Set([1, m / 2, m - 1]) where trained > 0 {
                        seed += 1
                        if let d = Self.backwardDifference(Case(rows: rows, k: k, m: m, seed: seed), .half,
                                                           alpha: 1, beta: 1, trained: trained) {
                            differences.append("trained \(trained): \(d)")
                        }
                    }
                }
            }
        }
        #expect(differences.isEmpty, "\(differences.count) differ; first: \(differences.first ?? "")")
    }

    @Test("backward leaves every gradient it is not given untouched and still matches the ones it is")
    func backwardWithMissingGradients() {
        let choices = [Outputs(dx: true, dW: false, db: false), Outputs(dx: false, dW: true, db: false),
                       Outputs(dx: false, dW: false, db: true), Outputs(dx: false, dW: true, db: true)]
        var differences: [String] = []
        for (index, outputs) in choices.enumerated() {
            for (rows, k, m) in [(1, 9, 17), (5, 16, 8), (32, 64, 64), (7, 33, 3)] {
                let c = Case(rows: rows, k: k, m: m, seed: UInt64(9000 + index * 10 + rows))
                if let d = Self.backwardDifference(c, .master, alpha: 0.5, beta: 2, outputs: outputs) {
                    differences.append("choice \(index): \(d)")
                }
            }
        }
        #expect(differences.isEmpty, "\(differences.count) differ; first: \(differences.first ?? "")")
    }

    // MARK: - Special values

    /// A case whose operands are drawn from fp16 infinities, a NaN, signed zeros, subnormals and
    /// values near fp16's maximum (products that overflow fp16 but not fp32).
    static func specialCase(rows: Int, k: Int, m: Int, seed: UInt64) -> Case {
        let specials: [Float16] = [.infinity, -.infinity, .nan, 0, -0, Float16(bitPattern: 0x0001),
                                   Float16(bitPattern: 0x8001), Float16(bitPattern: 0x03FF), 65504, -65504,
                                   300, -300, 1, -1, 0.5]
        var rng = TestRandom(seed)
        var c = Case(rows: rows, k: k, m: m, seed: seed)
        func pick() -> Float16 {
            // Mostly ordinary values, so sums are not all NaN.
            rng.next() % 4 == 0 ? specials[Int(rng.next() % UInt64(specials.count))] : Float16(rng.uniform(-2, 2))
        }
        c.x = c.x.map { _ in pick() }
        c.w16 = c.w16.map { _ in pick() }
        c.w32 = c.w16.map { Float($0) * Float(1 + rng.uniform(-1e-3, 1e-3)) }
        c.b16 = c.b16.map { _ in pick() }
        c.b32 = c.b16.map(Float.init)
        c.dy = c.dy.map { _ in pick() }
        return c
    }

    @Test("forward matches bit for bit on infinities, NaN, signed zeros, subnormals and fp16-overflowing products")
    func forwardSpecialValues() {
        var differences: [String] = []
        for (index, (rows, k, m)) in [(1, 1, 1), (3, 9, 17), (8, 16, 8), (9, 33, 15), (32, 64, 64)].enumerated() {
            let c = Self.specialCase(rows: rows, k: k, m: m, seed: UInt64(700 + index))
            for storage in [Storage.half, .master] {
                // alpha far below 1 brings fp32 sums beyond fp16's range back into it.
                for (alpha, beta) in [(Float(1), Float(1)), (1e-5, 1e-3)] {
                    for scratch in [false, true] {
                        if let d = Self.forwardDifference(c, storage, bias: true, alpha: alpha, beta: beta, scratch: scratch) { differences.append(d) }
                    }
                }
            }
        }
        #expect(differences.isEmpty, "\(differences.count) differ; first: \(differences.first ?? "")")
    }

    @Test("backward matches bit for bit on infinities, NaN, signed zeros, subnormals and fp16-overflowing products")
    func backwardSpecialValues() {
        var differences: [String] = []
        for (index, (rows, k, m)) in [(1, 1, 1), (3, 9, 17), (8, 16, 8), (9, 33, 15), (32, 64, 64)].enumerated() {
            let c = Self.specialCase(rows: rows, k: k, m: m, seed: UInt64(800 + index))
            for storage in [Storage.half, .master] {
                for (alpha, beta) in [(Float(1), Float(1)), (1e-5, 1e-3)] {
                    if let d = Self.backwardDifference(c, storage, alpha: alpha, beta: beta) { differences.append(d) }
                }
            }
        }
        #expect(differences.isEmpty, "\(differences.count) differ; first: \(differences.first ?? "")")
    }

    @Test("a product that overflows fp16 but not fp32 is carried in fp32 and scaled back into range")
    func overflowingProductsStayInFp32() {
        // 256 · 256 = 65536 > 65504: finite only because the product and sum are fp32;
        // 8 of them, scaled by 1/64, give 8192 exactly.
        var c = Case(rows: 1, k: 8, m: 8, seed: 1)
        c.x = [Float16](repeating: 256, count: 8)
        c.w16 = [Float16](repeating: 256, count: 64)
        let y = Self.withOperands(c, .half, bias: false) { x, weight, _, _ in
            Self.output(8) { DenseVectorized.forward(y: $0, x: x, weight: weight, bias: nil, rows: 1, k: 8, m: 8, alpha: 1.0 / 64, beta: 1) }
        }
        #expect(y.allSatisfy { Float(Float16(bitPattern: $0)) == 8192 }, "y = \(y.map { Float16(bitPattern: $0) })")
    }
}
#endif
