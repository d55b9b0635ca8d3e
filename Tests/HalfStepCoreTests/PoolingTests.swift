import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// Max, average and global average pooling against Double references; backward against finite
/// differences of `L = Σ R ⊙ y` (inputs are distinct, so max pooling is differentiable there).
struct PoolingTests {
    let rows = 2
    static let overlapping = Window2D(channels: 3, outputs: 3, height: 5, width: 6, outHeight: 3, outWidth: 3,
                                      kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
                                      padTop: 1, padLeft: 1, group: 0, trainedOutputs: 0)


    /// Distinct values, so no window has a tie.
    func distinct(_ count: Int, seed: UInt64) -> [Float16] {
        var rng = TestRandom(seed)
        var v = (0 ..< count).map { Float16(Double($0) / Double(count) * 4 - 2) }
        for i in stride(from: count - 1, to: 0, by: -1) { v.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return v
    }

    func windowPositions(_ g: Window2D, _ oh: Int, _ ow: Int) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        for kh in 0 ..< g.kernelHeight {
            for kw in 0 ..< g.kernelWidth {
                let ih = oh * g.strideHeight - g.padTop + kh, iw = ow * g.strideWidth - g.padLeft + kw
                if ih >= 0, ih < g.height, iw >= 0, iw < g.width { out.append((ih, iw)) }
            }
        }
        return out
    }

    func reference(_ g: Window2D, _ x: [Double], max: Bool) -> [Double] {
        var y: [Double] = []
        for nc in 0 ..< rows * g.channels {
            for oh in 0 ..< g.outHeight {
                for ow in 0 ..< g.outWidth {
                    let v = windowPositions(g, oh, ow).map { x[nc * g.height * g.width + $0.0 * g.width + $0.1] }
                    let divisor = g.group == 1 ? Double(g.kernelHeight * g.kernelWidth) : Double(v.count)
                    y.append(max ? v.max()! : v.reduce(0, +) / divisor)
                }
            }
        }
        return y
    }

    @Test("max pooling forward picks each window's largest element; backward routes dy to it", arguments: [false, true])
    func maxPool(overlap: Bool) {
        var g = Self.overlapping
        if !overlap { g.kernelHeight = 2; g.kernelWidth = 2; g.padTop = 0; g.padLeft = 0; g.outHeight = 2; g.outWidth = 3 }
        let x16 = distinct(rows * g.inputElements, seed: 21), x = x16.map(Double.init)
        var rng = TestRandom(22)
        let r = rng.halves(rows * g.outputElements)
        let y = Buffer(repeating: Float16(0), count: r.count), dx = Buffer(repeating: Float16(9), count: x.count)
        MaxPool2D.forward(y: y.view, x: Buffer(x16).view, rows: rows, window: g)
        let expected = reference(g, x, max: true)
        #expect(y.array.map(Double.init) == expected)
        MaxPool2D.backward(dx: dx.view, dy: Buffer(r).view, x: Buffer(x16).view, rows: rows, window: g)
        let h = 1e-4
        let fdx = x.indices.map { i in
            var p = x, m = x
            p[i] += h; m[i] -= h
            let lp = zip(reference(g, p, max: true), r).reduce(0.0) { $0 + $1.0 * Double($1.1) }
            let lm = zip(reference(g, m, max: true), r).reduce(0.0) { $0 + $1.0 * Double($1.1) }
            return (lp - lm) / (2 * h)
        }
        expectClose(dx.array, fdx, tolerance: .pooling, "dx against finite differences")
    }

    @Test("average pooling matches the reference with and without padding in the divisor", arguments: [0, 1])
    func averagePool(includePad: Int) {
        var g = Self.overlapping
        g.group = includePad
        var rng = TestRandom(23)
        let x16 = rng.halves(rows * g.inputElements), x = x16.map(Double.init), r = rng.halves(rows * g.outputElements)
        let y = Buffer(repeating: Float16(0), count: r.count), dx = Buffer(repeating: Float16(0), count: x.count)
        AveragePool2D.forward(y: y.view, x: Buffer(x16).view, rows: rows, window: g)
        let expected = reference(g, x, max: false)
        expectClose(y.array, expected, tolerance: .pooling, "y")
        AveragePool2D.backward(dx: dx.view, dy: Buffer(r).view, rows: rows, window: g)
        let fdx = x.indices.map { i in
            var p = x, m = x
            p[i] += 1e-3; m[i] -= 1e-3
            return (zip(reference(g, p, max: false), r).reduce(0.0) { $0 + $1.0 * Double($1.1) }
                - zip(reference(g, m, max: false), r).reduce(0.0) { $0 + $1.0 * Double($1.1) }) / 2e-3
        }
        expectClose(dx.array, fdx, tolerance: .pooling, "dx against finite differences")
    }

    @Test("global average pooling averages each channel's plane and spreads dy evenly back")
    func globalAveragePool() {
        var rng = TestRandom(24)
        let channels = 3, plane = 10
        let x = rng.halves(rows * channels * plane), dy = rng.halves(rows * channels)
        let y = Buffer(repeating: Float16(0), count: rows * channels), dx = Buffer(repeating: Float16(0), count: x.count)
        AveragePool2D.globalForward(y: y.view, x: Buffer(x).view, rows: rows, channels: channels, plane: plane)
        AveragePool2D.globalBackward(dx: dx.view, dy: Buffer(dy).view, rows: rows, channels: channels, plane: plane)
        let means = (0 ..< rows * channels).map { nc in x[nc * plane ..< (nc + 1) * plane].map(Double.init).reduce(0, +) / Double(plane) }
        expectClose(y.array, means, tolerance: .pooling, "y (each channel's mean)")
        expectClose(dx.array, (0 ..< rows * channels * plane).map { Double(dy[$0 / plane]) / Double(plane) }, tolerance: .pooling, "dx (dy spread evenly)")
    }
}
