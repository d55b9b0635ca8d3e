import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// The register-blocked Dense kernels against the plainest loop there is: one output at a time,
/// its products summed in index order from 0 (a rounded multiply, then a rounded add), then
/// `alpha · sum + beta · b` rounded to fp16. Blocking exists for speed only, so every output must
/// match that loop bit for bit, on every shape the block edges can produce. The one exception is
/// which NaN comes out when two NaNs meet: x86 and Arm propagate different operands, LLVM may
/// commute an add, and no result depends on a NaN's sign or payload, so every NaN compares as one.
struct DenseBlockingTests {
    /// Shapes that exercise every block split: 5+4 and 6+4 decompositions, leftovers of 1–3,
    /// rows below and above the 4-row block, and the digits MLP's own layers.
    static let dims = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 23, 32, 64]
    static let rowCounts = [1, 2, 3, 4, 5, 7, 8, 9, 32]

    func naiveForward(x: [Float16], w: [Float], b: [Float]?, rows: Int, k: Int, m: Int, alpha: Float, beta: Float) -> [UInt16] {
        var y = [UInt16](repeating: 0, count: rows * m)
        for n in 0 ..< rows {
            for j in 0 ..< m {
                var acc: Float = 0
                for i in 0 ..< k { acc = acc + Float(x[n * k + i]) * Float(Float16(w[j * k + i])) }
                var out = alpha * acc
                if let b { out = out + beta * Float(Float16(b[j])) }
                y[n * m + j] = Float16(out).bitPattern
            }
        }
        return y
    }

    func naiveBackward(dy: [Float16], x: [Float16], w: [Float], rows: Int, k: Int, m: Int, trained: Int,
                       alpha: Float, beta: Float) -> (dx: [UInt16], dW: [UInt16], db: [UInt16]) {
        var dx = [UInt16](repeating: 0, count: rows * k), dW = [UInt16](repeating: 0, count: m * k), db = [UInt16](repeating: 0, count: m)
        for n in 0 ..< rows {
            for i in 0 ..< k {
                var acc: Float = 0
                for j in 0 ..< m { acc = acc + Float(dy[n * m + j]) * Float(Float16(w[j * k + i])) }
                dx[n * k + i] = Float16(alpha * acc).bitPattern
            }
        }
        for j in 0 ..< trained {
            for i in 0 ..< k {
                var acc: Float = 0
                for n in 0 ..< rows { acc = acc + Float(dy[n * m + j]) * Float(x[n * k + i]) }
                dW[j * k + i] = Float16(alpha * acc).bitPattern
            }
        }
        for j in 0 ..< m {
            var acc: Float = 0
            for n in 0 ..< rows { acc = acc + Float(dy[n * m + j]) }
            db[j] = Float16(beta * acc).bitPattern
        }
        return (dx, dW, db)
    }

    /// Weights as fp32 values that are not all fp16-exact, so the master path's rounding is seen.
    func weights(_ r: inout TestRandom, _ count: Int) -> [Float] {
        (0 ..< count).map { _ in Float(r.uniform(-1, 1)) }
    }

    func forward(x: [Float16], w: [Float], b: [Float]?, master: Bool, rows: Int, k: Int, m: Int, alpha: Float, beta: Float) -> [UInt16] {
        let y = Buffer(repeating: Float16.nan, count: rows * m)
        let weight: ParameterView = master ? .master(Buffer(w).view) : .half(Buffer(w.map { Float16($0) }).view)
        let bias: ParameterView? = b.map { master ? .master(Buffer($0).view) : .half(Buffer($0.map { Float16($0) }).view) }
        Dense.portableForward(y: y.view, x: Buffer(x).view, weight: weight, bias: bias, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
        return y.array.map(\.bitPattern)
    }

    @Test("blocked forward equals the one-output loop bit for bit on every block split, both weight storages")
    func forwardMatchesNaiveLoop() {
        var r = TestRandom(11)
        for rows in Self.rowCounts {
            for k in Self.dims {
                for m in Self.dims {
                    let x = r.halves(rows * k), w = weights(&r, m * k), b = weights(&r, m)
                    let master = (rows + k + m) % 2 == 0
                    let (alpha, beta): (Float, Float) = (k % 3 == 0) ? (1, 1) : (0.75, -1.5)
                    let want = naiveForward(x: x, w: w, b: b, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
                    let got = forward(x: x, w: w, b: b, master: master, rows: rows, k: k, m: m, alpha: alpha, beta: beta)
                    #expect(got == want, "rows \(rows) k \(k) m \(m) master \(master)")
                }
            }
        }
    }

    @Test("blocked forward without a bias equals the one-output loop bit for bit")
    func forwardWithoutBiasMatchesNaiveLoop() {
        var r = TestRandom(12)
        for (rows, k, m) in [(4, 64, 64), (32, 64, 32), (32, 32, 10), (5, 9, 13), (1, 7, 3)] {
            let x = r.halves(rows * k), w = weights(&r, m * k)
            #expect(forward(x: x, w: w, b: nil, master: false, rows: rows, k: k, m: m, alpha: 1, beta: 1)
                    == naiveForward(x: x, w: w, b: nil, rows: rows, k: k, m: m, alpha: 1, beta: 1))
        }
    }

    @Test("blocked backward gives the one-output loop's dx, dW and db bit for bit on every block split")
    func backwardMatchesNaiveLoop() {
        var r = TestRandom(13)
        for rows in Self.rowCounts {
            for k in Self.dims {
                for m in Self.dims {
                    let dy = r.halves(rows * m), x = r.halves(rows * k), w = weights(&r, m * k)
                    let master = (rows + k + m) % 2 == 1
                    let trained = (k + m) % 4 == 0 ? max(1, m / 2 + 1) : m
                    let (alpha, beta): (Float, Float) = (m % 3 == 0) ? (1, 1) : (-0.5, 2)
                    let want = naiveBackward(dy: dy, x: x, w: w, rows: rows, k: k, m: m, trained: trained, alpha: alpha, beta: beta)
                    let dx = Buffer(repeating: Float16.nan, count: rows * k), dW = Buffer(repeating: Float16(0), count: m * k)
                    let db = Buffer(repeating: Float16.nan, count: m)
                    let weight: ParameterView = master ? .master(Buffer(w).view) : .half(Buffer(w.map { Float16($0) }).view)
                    Dense.portableBackward(dx: dx.view, dW: dW.view, db: db.view, dy: Buffer(dy).view, x: Buffer(x).view, weight: weight,
                                           rows: rows, k: k, m: m, alpha: alpha, beta: beta, trainedOutputs: trained == m ? 0 : trained)
                    #expect(dx.array.map(\.bitPattern) == want.dx, "dx rows \(rows) k \(k) m \(m)")
                    #expect(dW.array.map(\.bitPattern) == want.dW, "dW rows \(rows) k \(k) m \(m) trained \(trained)")
                    #expect(db.array.map(\.bitPattern) == want.db, "db rows \(rows) m \(m)")
                }
            }
        }
    }

    /// Bit patterns, with every NaN as the canonical quiet NaN.
    func bits(_ v: [Float16]) -> [UInt16] { v.map { $0.isNaN ? Float16.nan.bitPattern : $0.bitPattern } }
    func bits(_ v: [UInt16]) -> [UInt16] { bits(v.map { Float16(bitPattern: $0) }) }

    @Test("blocked kernels keep infinities, NaNs, signed zeros and fp16 overflow exactly as the one-output loop")
    func specialValuesMatchNaiveLoop() {
        var r = TestRandom(14)
        let specials: [Float16] = [.infinity, -.infinity, .nan, 0, -0, 65504, -65504, Float16(bitPattern: 1), 300]
        for (rows, k, m) in [(4, 10, 10), (8, 12, 9), (5, 6, 5)] {
            var x = r.halves(rows * k), dy = r.halves(rows * m)
            for t in 0 ..< x.count where t % 5 == 0 { x[t] = specials[t % specials.count] }
            for t in 0 ..< dy.count where t % 4 == 0 { dy[t] = specials[(t / 4) % specials.count] }
            let w = weights(&r, m * k).enumerated().map { $0.offset % 7 == 0 ? -0.0 : $0.element * 300 }
            #expect(bits(forward(x: x, w: w, b: nil, master: false, rows: rows, k: k, m: m, alpha: 1, beta: 1))
                    == bits(naiveForward(x: x, w: w, b: nil, rows: rows, k: k, m: m, alpha: 1, beta: 1)))
            let want = naiveBackward(dy: dy, x: x, w: w, rows: rows, k: k, m: m, trained: m, alpha: 1, beta: 1)
            let dx = Buffer(repeating: Float16(0), count: rows * k), dW = Buffer(repeating: Float16(0), count: m * k)
            let db = Buffer(repeating: Float16(0), count: m)
            Dense.portableBackward(dx: dx.view, dW: dW.view, db: db.view, dy: Buffer(dy).view, x: Buffer(x).view,
                                   weight: .half(Buffer(w.map { Float16($0) }).view), rows: rows, k: k, m: m, alpha: 1, beta: 1)
            #expect(bits(dx.array) == bits(want.dx))
            #expect(bits(dW.array) == bits(want.dW))
            #expect(bits(db.array) == bits(want.db))
            #expect(dW.array.contains { $0.isNaN } && dW.array.contains { $0.isInfinite }, "the case reaches NaN and ∞")
        }
    }

    @Test("the block split takes wide blocks so the rest divides into narrow ones whenever it can")
    func blockingSplitsExactly() {
        #expect(Blocking.count(of: 5, and: 4, in: 64) == 12)   // 60 + 4
        #expect(Blocking.count(of: 5, and: 4, in: 32) == 4)    // 20 + 12
        #expect(Blocking.count(of: 5, and: 4, in: 10) == 2)
        #expect(Blocking.count(of: 6, and: 4, in: 32) == 4)    // 24 + 8
        #expect(Blocking.count(of: 6, and: 4, in: 64) == 10)   // 60 + 4
        #expect(Blocking.count(of: 5, and: 4, in: 7) == 1)     // no exact split: 5, then singles
        #expect(Blocking.count(of: 5, and: 4, in: 3) == 0)
    }
}
