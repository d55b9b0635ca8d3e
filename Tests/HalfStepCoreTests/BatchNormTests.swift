import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// BatchNorm with frozen statistics, and the elementwise plumbing ops (Add, Mul by a constant,
/// row copies for Concat), against Double references.
struct BatchNormTests {
    let rows = 2, channels = 3, plane = 4

    func reference(x: [Double], g: [Double], b: [Double], mean: [Float], invStd: [Float]) -> [Double] {
        x.indices.map { i in
            let c = (i / plane) % channels
            return g[c] * ((x[i] - Double(mean[c])) * Double(invStd[c])) + b[c]
        }
    }

    @Test("forward normalises with the frozen statistics; backward matches finite differences for x, γ and β")
    func matchesFiniteDifferences() {
        var rng = TestRandom(41)
        let x16 = rng.halves(rows * channels * plane), g16 = rng.halves(channels, 0.5, 1.5), b16 = rng.halves(channels)
        let mean = (0 ..< channels).map { _ in Float(rng.uniform(-0.5, 0.5)) }, invStd = (0 ..< channels).map { _ in Float(rng.uniform(0.5, 2)) }
        let r = rng.halves(x16.count)
        let x = x16.map(Double.init), g = g16.map(Double.init), b = b16.map(Double.init)
        let y = Buffer(repeating: Float16(0), count: x.count)
        BatchNorm.forward(y: y.view, x: Buffer(x16).view, gamma: .half(Buffer(g16).view), beta: .half(Buffer(b16).view),
                          mean: Buffer(mean).view, invStd: Buffer(invStd).view, rows: rows, channels: channels, plane: plane)
        let expected = reference(x: x, g: g, b: b, mean: mean, invStd: invStd)
        expectClose(y.array, expected, tolerance: .batchNorm, "y")

        let dx = Buffer(r), dg = Buffer(repeating: Float16(0), count: channels), db = Buffer(repeating: Float16(0), count: channels)
        BatchNorm.backward(dx: dx.view, dGamma: dg.view, dBeta: db.view, dy: dx.view, x: Buffer(x16).view, gamma: .half(Buffer(g16).view),
                           mean: Buffer(mean).view, invStd: Buffer(invStd).view, rows: rows, channels: channels, plane: plane)
        func loss(_ x: [Double], _ g: [Double], _ b: [Double]) -> Double {
            zip(reference(x: x, g: g, b: b, mean: mean, invStd: invStd), r).reduce(0) { $0 + $1.0 * Double($1.1) }
        }
        var fdg: [Double] = [], fdb: [Double] = []
        for c in 0 ..< channels {
            var p = g, m = g
            p[c] += 1e-3; m[c] -= 1e-3
            fdg.append((loss(x, p, b) - loss(x, m, b)) / 2e-3)
            p = b; m = b
            p[c] += 1e-3; m[c] -= 1e-3
            fdb.append((loss(x, g, p) - loss(x, g, m)) / 2e-3)
        }
        expectClose(dg.array, fdg, tolerance: .batchNormGradient, "dγ")
        expectClose(db.array, fdb, tolerance: .batchNormGradient, "dβ")
        let fdx = x.indices.map { i in
            var p = x, m = x
            p[i] += 1e-3; m[i] -= 1e-3
            return (loss(p, g, b) - loss(m, g, b)) / 2e-3
        }
        expectClose(dx.array, fdx, tolerance: .batchNormGradient, "dx (in place over dy)")
    }

    @Test("Add sums, Mul scales per channel or by one constant, and row copies place a concat's parts")
    func plumbing() {
        let a: [Float16] = [1, 2, 3, 4], b: [Float16] = [0.5, -2, 0.25, 8]
        let y = Buffer(repeating: Float16(0), count: 4)
        Elementwise.add(y: y.view, a: Buffer(a).view, b: Buffer(b).view, count: 4)
        #expect(y.array == [1.5, 0, 3.25, 12])
        Elementwise.scale(y: y.view, x: Buffer(a).view, s: Buffer([Float16(2), -1]).view, rows: 1, channels: 2, plane: 2)
        #expect(y.array == [2, 4, -3, -4])
        Elementwise.scale(y: y.view, x: Buffer(a).view, s: Buffer([Float16(0.5)]).view, rows: 1, channels: 1, plane: 4)
        #expect(y.array == [0.5, 1, 1.5, 2])
        let out = Buffer(repeating: Float16(0), count: 6)
        Elementwise.copyRows(y: out.view, yStride: 3, yOffset: 1, x: Buffer(a).view, xStride: 2, xOffset: 0, length: 2, rows: 2)
        #expect(out.array == [0, 1, 2, 0, 3, 4])
    }
}
