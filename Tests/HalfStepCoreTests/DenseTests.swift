import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// Dense against a Double reference. The loss used for gradient checks is `L = Σ R ⊙ y` for a
/// fixed random R, so dL/dy = R exactly and finite differences of L test each backward output.
/// Tolerance: outputs are stored in fp16 (relative rounding 2⁻¹¹ ≈ 4.9e-4) after fp32
/// accumulation (relative error ~K·2⁻²⁴), so 1e-3 relative plus 1e-4 absolute is ample and still
/// catches any indexing or transposition mistake (those give O(1) errors).
struct DenseTests {
    let n = 5, k = 7, m = 4
    let alpha: Float = 0.5, beta: Float = 2

    func reference(x: [Float16], w: [Float], b: [Float], r: [Float16]) -> Double {
        var total = 0.0
        for i in 0 ..< n {
            for j in 0 ..< m {
                var acc = 0.0
                for t in 0 ..< k { acc += Double(x[i * k + t]) * w[j * k + t].double }
                total += Double(r[i * m + j]) * (Double(alpha) * acc + Double(beta) * b[j].double)
            }
        }
        return total
    }

    @Test("forward matches x·Wᵀ·alpha + beta·b computed in Double, within fp16 rounding")
    func forwardMatchesReference() {
        var rng = TestRandom(1)
        let x = rng.halves(n * k), w = rng.halves(m * k), b = rng.halves(m)
        let y = Buffer(repeating: Float16(0), count: n * m)
        Dense.forward(y: y.view, x: Buffer(x).view, weight: .half(Buffer(w).view), bias: .half(Buffer(b).view),
                      rows: n, k: k, m: m, alpha: alpha, beta: beta)
        var expected: [Double] = []
        for i in 0 ..< n {
            for j in 0 ..< m {
                var acc = 0.0
                for t in 0 ..< k { acc += Double(x[i * k + t]) * Double(w[j * k + t]) }
                expected.append(Double(alpha) * acc + Double(beta) * Double(b[j]))
            }
        }
        expectClose(y.array, expected, tolerance: .dense, "y (row-major, \(n)×\(m))")
    }

    @Test("backward gives dW, db and dx equal to finite differences of a Double reference")
    func backwardMatchesFiniteDifferences() {
        var rng = TestRandom(2)
        let x = rng.halves(n * k), w16 = rng.halves(m * k), b16 = rng.halves(m), r = rng.halves(n * m)
        let w = w16.map(Float.init), b = b16.map(Float.init)
        let dx = Buffer(repeating: Float16(0), count: n * k)
        let dW = Buffer(repeating: Float16(0), count: m * k)
        let db = Buffer(repeating: Float16(0), count: m)
        Dense.backward(dx: dx.view, dW: dW.view, db: db.view, dy: Buffer(r).view, x: Buffer(x).view,
                       weight: .half(Buffer(w16).view), rows: n, k: k, m: m, alpha: alpha, beta: beta)
        let h = 1e-3
        let fdW = (0 ..< m * k).map { i in
            var plus = w, minus = w
            plus[i] = Float(Double(w[i]) + h); minus[i] = Float(Double(w[i]) - h)
            return (reference(x: x, w: plus, b: b, r: r) - reference(x: x, w: minus, b: b, r: r)) / (Double(plus[i]) - Double(minus[i]))
        }
        expectClose(dW.array, fdW, tolerance: .dense, "dW against finite differences")
        let fdb = (0 ..< m).map { j in
            var plus = b, minus = b
            plus[j] = Float(Double(b[j]) + h); minus[j] = Float(Double(b[j]) - h)
            return (reference(x: x, w: w, b: plus, r: r) - reference(x: x, w: w, b: minus, r: r)) / (Double(plus[j]) - Double(minus[j]))
        }
        expectClose(db.array, fdb, tolerance: .dense, "db against finite differences")
        // dx: L is linear in x, so the exact derivative is alpha · Σⱼ R[i,j] W[j,t].
        var expectedDx: [Double] = []
        for i in 0 ..< n {
            for t in 0 ..< k {
                var expected = 0.0
                for j in 0 ..< m { expected += Double(r[i * m + j]) * Double(w[j * k + t]) }
                expectedDx.append(expected * Double(alpha))
            }
        }
        expectClose(dx.array, expectedDx, tolerance: .dense, "dx (row-major, \(n)×\(k))")
    }

    @Test("an fp32 master weight computes exactly what its fp16 rounding computes")
    func masterWeightsRoundToHalfForCompute() {
        var rng = TestRandom(3)
        let x = rng.halves(n * k)
        let master = (0 ..< m * k).map { _ in Float(rng.uniform(-1, 1)) }
        let half = master.map { Float16($0) }
        let y1 = Buffer(repeating: Float16(0), count: n * m), y2 = Buffer(repeating: Float16(0), count: n * m)
        Dense.forward(y: y1.view, x: Buffer(x).view, weight: .master(Buffer(master).view), bias: nil, rows: n, k: k, m: m, alpha: 1, beta: 1)
        Dense.forward(y: y2.view, x: Buffer(x).view, weight: .half(Buffer(half).view), bias: nil, rows: n, k: k, m: m, alpha: 1, beta: 1)
        #expect(y1.array.map(\.bitPattern) == y2.array.map(\.bitPattern))
    }

    @Test("backward with fewer rows than the batch reads and writes only those rows")
    func partialBatchTouchesOnlyItsRows() {
        var rng = TestRandom(4)
        let x = rng.halves(n * k), w = rng.halves(m * k), r = rng.halves(n * m)
        let dx = Buffer(repeating: Float16(7), count: n * k)
        Dense.backward(dx: dx.view, dW: nil, db: nil, dy: Buffer(r).view, x: Buffer(x).view, weight: .half(Buffer(w).view),
                       rows: 2, k: k, m: m, alpha: 1, beta: 1)
        #expect(dx.array[(2 * k)...].allSatisfy { $0 == 7 })
        #expect(dx.array[..<(2 * k)].contains { $0 != 7 })
    }
}

extension Float {
    var double: Double { Double(self) }
}

/// fp16 accumulators (`--accumulate fp16`) against fp32 ones, both against a Double reference.
struct DenseAccumulationTests {
    @Test("fp16 accumulation is measurably less accurate than fp32 accumulation, and still bounded")
    func halfAccumulationError() {
        var rng = TestRandom(11)
        let n = 16, k = 64, m = 16
        let x = rng.halves(n * k, 0, 1), w = rng.halves(m * k, -0.5, 0.5)
        let y32 = Buffer(repeating: Float16(0), count: n * m), y16 = Buffer(repeating: Float16(0), count: n * m)
        Dense.forward(y: y32.view, x: Buffer(x).view, weight: .half(Buffer(w).view), bias: nil, rows: n, k: k, m: m, alpha: 1, beta: 1)
        DenseHalfAccumulation.forward(y: y16.view, x: Buffer(x).view, weight: .half(Buffer(w).view), bias: nil, rows: n, k: k, m: m, alpha: 1, beta: 1)
        var worst32 = 0.0, worst16 = 0.0, scale = 0.0
        for r in 0 ..< n {
            for j in 0 ..< m {
                var exact = 0.0
                for i in 0 ..< k { exact += Double(x[r * k + i]) * Double(w[j * k + i]) }
                scale = max(scale, abs(exact))
                worst32 = max(worst32, abs(Double(y32.array[r * m + j]) - exact))
                worst16 = max(worst16, abs(Double(y16.array[r * m + j]) - exact))
            }
        }
        // fp32 accumulation: only the final rounding to fp16 (half an ulp of |y| ≤ ~4: ≤ 2⁻⁹).
        #expect(worst32 <= 0.002 * max(1, scale), "fp32 accumulation error \(worst32)")
        // fp16 accumulation rounds each of the 64 partial sums and products: larger error, bounded by K half-ulps.
        #expect(worst16 > worst32, "fp16 \(worst16) vs fp32 \(worst32)")
        #expect(worst16 <= Double(k) * 0.002 * max(1, scale), "fp16 accumulation error \(worst16)")
    }

    @Test("fp16-accumulation backward agrees with the fp32 kernels to within fp16 summation error")
    func halfAccumulationBackward() {
        var rng = TestRandom(12)
        let n = 8, k = 12, m = 6
        let x = rng.halves(n * k), w = rng.halves(m * k), dy = rng.halves(n * m)
        let a = (Buffer(repeating: Float16(0), count: n * k), Buffer(repeating: Float16(0), count: m * k), Buffer(repeating: Float16(0), count: m))
        let b = (Buffer(repeating: Float16(0), count: n * k), Buffer(repeating: Float16(0), count: m * k), Buffer(repeating: Float16(0), count: m))
        Dense.backward(dx: a.0.view, dW: a.1.view, db: a.2.view, dy: Buffer(dy).view, x: Buffer(x).view, weight: .half(Buffer(w).view),
                       rows: n, k: k, m: m, alpha: 1, beta: 1)
        DenseHalfAccumulation.backward(dx: b.0.view, dW: b.1.view, db: b.2.view, dy: Buffer(dy).view, x: Buffer(x).view,
                                       weight: .half(Buffer(w).view), rows: n, k: k, m: m, alpha: 1, beta: 1)
        for (p, q) in [(a.0.array, b.0.array), (a.1.array, b.1.array), (a.2.array, b.2.array)] {
            expectClose(q, p, tolerance: .halfAccumulation, "fp16 against fp32 accumulation")
        }
    }
}
