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

/// Max and average pooling pinned bit for bit against one-output loops (each output, and each
/// input gradient, computed on its own in the kernels' documented order) over windows with and
/// without padding, strides 1 and 2, planes down to 1×1, ties, NaN and infinities.
struct PoolingOrderTests {
    struct Case: CustomStringConvertible, Sendable {
        var height: Int, width: Int, kernel: Int, stride: Int, pad: Int
        var description: String { "\(height)x\(width) k\(kernel) s\(stride) p\(pad)" }
        func window(includePad: Bool) -> Window2D {
            let oh = (height + 2 * pad - kernel) / stride + 1, ow = (width + 2 * pad - kernel) / stride + 1
            return .init(channels: 3, outputs: 3, height: height, width: width, outHeight: oh, outWidth: ow,
                         kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride, strideWidth: stride,
                         padTop: pad, padLeft: pad, group: includePad ? 1 : 0, trainedOutputs: 0)
        }
    }

    static let cases: [Case] = [
        Case(height: 1, width: 1, kernel: 1, stride: 1, pad: 0),
        Case(height: 1, width: 1, kernel: 3, stride: 1, pad: 1),
        Case(height: 3, width: 3, kernel: 2, stride: 2, pad: 0),
        Case(height: 3, width: 3, kernel: 3, stride: 2, pad: 1),
        Case(height: 6, width: 6, kernel: 2, stride: 2, pad: 0),
        Case(height: 6, width: 6, kernel: 3, stride: 1, pad: 1),
        Case(height: 12, width: 12, kernel: 3, stride: 2, pad: 1),
        Case(height: 12, width: 12, kernel: 2, stride: 2, pad: 1),
        Case(height: 7, width: 5, kernel: 3, stride: 2, pad: 0),
        Case(height: 5, width: 9, kernel: 3, stride: 1, pad: 2),
    ]

    /// Values on a coarse grid (ties in most windows), with NaN and ±inf sprinkled in when `special`.
    static func values(_ rng: inout TestRandom, _ count: Int, special: Bool) -> [Float16] {
        (0 ..< count).map { _ in
            if special && rng.next() % 10 == 0 { return [Float16.nan, .infinity, -.infinity, 65504][Int(rng.next() % 4)] }
            return Float16(Double(Int(rng.next() % 9)) / 4 - 1)
        }
    }

    static func positions(_ g: Window2D, _ oh: Int, _ ow: Int) -> [Int] {
        var out: [Int] = []
        for kh in 0 ..< g.kernelHeight {
            for kw in 0 ..< g.kernelWidth {
                let ih = oh * g.strideHeight - g.padTop + kh, iw = ow * g.strideWidth - g.padLeft + kw
                if ih >= 0, ih < g.height, iw >= 0, iw < g.width { out.append(ih * g.width + iw) }
            }
        }
        return out
    }

    /// The first largest element of a window in row-major order; the first NaN wins outright.
    static func argmax(_ x: ArraySlice<Float16>, _ at: [Int]) -> Int {
        var best = -1, bestValue = -Float16.infinity
        for i in at {
            let v = x[x.startIndex + i]
            if best < 0 || v > bestValue || v.isNaN { best = i; bestValue = v }
            if v.isNaN { return best }
        }
        return best
    }

    static func divisor(_ g: Window2D, _ oh: Int, _ ow: Int) -> Float {
        if g.group == 1 { return Float(g.kernelHeight * g.kernelWidth) }
        let top = oh * g.strideHeight - g.padTop, left = ow * g.strideWidth - g.padLeft
        let rowsIn = min(top + g.kernelHeight, g.height) - max(top, 0), colsIn = min(left + g.kernelWidth, g.width) - max(left, 0)
        return Float(max(rowsIn, 1) * max(colsIn, 1))
    }

    static func same(_ got: [Float16], _ want: [Float16]) -> Bool {
        got.count == want.count && zip(got, want).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
    }

    @Test("max pooling forward and backward equal the one-output loops bit for bit", arguments: cases, [false, true])
    func maxPool(_ c: Case, special: Bool) {
        let rows = 2, g = c.window(includePad: false), plane = c.height * c.width, outPlane = g.outHeight * g.outWidth
        var rng = TestRandom(UInt64(51 + c.height * 17 + c.kernel * 3 + c.pad))
        let x = Self.values(&rng, rows * g.inputElements, special: special), dy = Self.values(&rng, rows * g.outputElements, special: special)
        var wantY: [Float16] = [], wantDx = [Float16](repeating: 0, count: x.count)
        for nc in 0 ..< rows * g.channels {
            let xc = x[nc * plane ..< (nc + 1) * plane]
            for oh in 0 ..< g.outHeight {
                for ow in 0 ..< g.outWidth {
                    let at = Self.argmax(xc, Self.positions(g, oh, ow))
                    wantY.append(xc[xc.startIndex + at])
                    let i = nc * plane + at
                    wantDx[i] = Float16(Float(wantDx[i]) + Float(dy[nc * outPlane + oh * g.outWidth + ow]))
                }
            }
        }
        let y = Buffer(repeating: Float16(7), count: wantY.count), dx = Buffer(repeating: Float16(7), count: x.count)
        MaxPool2D.forward(y: y.view, x: Buffer(x).view, rows: rows, window: g)
        MaxPool2D.backward(dx: dx.view, dy: Buffer(dy).view, x: Buffer(x).view, rows: rows, window: g)
        #expect(Self.same(y.array, wantY), "\(c) y")
        #expect(Self.same(dx.array, wantDx), "\(c) dx")
    }

    @Test("average pooling forward and backward equal the one-output loops bit for bit", arguments: cases, [false, true])
    func averagePool(_ c: Case, includePad: Bool) {
        let rows = 2, g = c.window(includePad: includePad), plane = c.height * c.width, outPlane = g.outHeight * g.outWidth
        var rng = TestRandom(UInt64(61 + c.height * 17 + c.kernel * 3 + c.pad))
        let x = Self.values(&rng, rows * g.inputElements, special: includePad)
        let dy = rng.halves(rows * g.outputElements, -2, 2)
        var wantY: [Float16] = [], wantDx: [Float16] = []
        for nc in 0 ..< rows * g.channels {
            for oh in 0 ..< g.outHeight {
                for ow in 0 ..< g.outWidth {
                    var acc: Float = 0
                    for i in Self.positions(g, oh, ow) { acc += Float(x[nc * plane + i]) }
                    wantY.append(Float16(acc / Self.divisor(g, oh, ow)))
                }
            }
            // dx sums over the windows containing each input, output row then column.
            for ih in 0 ..< g.height {
                for iw in 0 ..< g.width {
                    var acc: Float = 0
                    for oh in 0 ..< g.outHeight {
                        for ow in 0 ..< g.outWidth where Self.positions(g, oh, ow).contains(ih * g.width + iw) {
                            acc += Float(dy[nc * outPlane + oh * g.outWidth + ow]) / Self.divisor(g, oh, ow)
                        }
                    }
                    wantDx.append(Float16(acc))
                }
            }
        }
        let y = Buffer(repeating: Float16(7), count: wantY.count), dx = Buffer(repeating: Float16(7), count: x.count)
        AveragePool2D.forward(y: y.view, x: Buffer(x).view, rows: rows, window: g)
        AveragePool2D.backward(dx: dx.view, dy: Buffer(dy).view, rows: rows, window: g)
        #expect(Self.same(y.array, wantY), "\(c) y")
        #expect(Self.same(dx.array, wantDx), "\(c) dx")
    }
}

/// The 2×2, stride-2, unpadded pooling loops (`Window2D.tilesPairs`) pinned bit for bit against the
/// general loops they stand in for, on planes with and without an odd last row and column and on
/// values full of ties, ±0, infinities, subnormals and NaNs of both signs and several payloads.
struct PoolingPairsTests {
    /// (height, width) of the planes: even, odd last row, odd last column, both, a single window.
    static let planes: [(Int, Int)] = [(2, 2), (4, 6), (5, 6), (4, 7), (5, 9), (8, 8)]

    static func window(_ height: Int, _ width: Int, includePad: Bool = false) -> Window2D {
        Window2D(channels: 3, outputs: 3, height: height, width: width, outHeight: height / 2, outWidth: width / 2,
                 kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2, padTop: 0, padLeft: 0,
                 group: includePad ? 1 : 0, trainedOutputs: 0)
    }

    /// Patterns drawn mostly from a few ordinary values (ties in most windows, −0 beside +0), with
    /// about one element in twelve a NaN (quiet, signalling, negative).
    static func values(_ rng: inout TestRandom, _ count: Int) -> [Float16] {
        let ordinary: [UInt16] = [0x0000, 0x8000, 0x3C00, 0xBC00, 0x3800, 0xB800, 0x7C00, 0xFC00, 0x0001, 0x8001, 0x7BFF, 0xFBFF]
        let nans: [UInt16] = [0x7E00, 0x7C01, 0xFE00, 0xFC01, 0x7FFF]
        return (0 ..< count).map { _ in
            let r = Int(rng.next() % 60)
            return Float16(bitPattern: r < 5 ? nans[r] : ordinary[r % ordinary.count])
        }
    }

    static func bits(_ v: [Float16]) -> [UInt16] { v.map(\.bitPattern) }

    /// One 2×4 plane: two windows side by side.
    static let single = Window2D(channels: 1, outputs: 1, height: 2, width: 4, outHeight: 1, outWidth: 2, kernelHeight: 2,
                                 kernelWidth: 2, strideHeight: 2, strideWidth: 2, padTop: 0, padLeft: 0, group: 0, trainedOutputs: 0)

    @Test("every 2×2 stride-2 unpadded window inside the input takes the pairs loops, and nothing else does")
    func pairsPathChoice() {
        #expect(Self.window(5, 7).tilesPairs)
        var padded = Self.window(6, 6)
        padded.padTop = 1; padded.padLeft = 1; padded.outHeight = 4; padded.outWidth = 4
        #expect(!padded.tilesPairs)
        var ceilMode = Self.window(5, 5)
        ceilMode.outHeight = 3
        #expect(!ceilMode.tilesPairs, "a last window hanging over the bottom edge")
        var wide = Self.window(6, 6)
        wide.kernelWidth = 3; wide.outWidth = 2
        #expect(!wide.tilesPairs)
    }

    @Test("2×2 stride-2 max pooling forward picks the general loop's winner, bit for bit", arguments: 0 ..< 6)
    func maxForward(_ p: Int) {
        let (h, w) = Self.planes[p], g = Self.window(h, w), rows = 2
        var rng = TestRandom(UInt64(90 + p))
        let x = Buffer(Self.values(&rng, rows * g.inputElements))
        let pairs = Buffer(repeating: Float16(7), count: rows * g.outputElements), general = Buffer(repeating: Float16(7), count: pairs.count)
        MaxPool2D.pairsForward(y: pairs.view, x: x.view, rows: rows, g)
        MaxPool2D.generalForward(y: general.view, x: x.view, rows: rows, g)
        #expect(Self.bits(pairs.array) == Self.bits(general.array), "\(h)x\(w)")
    }

    @Test("2×2 stride-2 max pooling backward routes dy where the general loop does and zeroes the rest", arguments: 0 ..< 6)
    func maxBackward(_ p: Int) {
        let (h, w) = Self.planes[p], g = Self.window(h, w), rows = 2
        var rng = TestRandom(UInt64(100 + p))
        let x = Buffer(Self.values(&rng, rows * g.inputElements)), dy = Buffer(Self.values(&rng, rows * g.outputElements))
        let pairs = Buffer(repeating: Float16(7), count: x.count), general = Buffer(repeating: Float16(7), count: x.count)
        MaxPool2D.pairsBackward(dx: pairs.view, dy: dy.view, x: x.view, rows: rows, g)
        MaxPool2D.generalBackward(dx: general.view, dy: dy.view, x: x.view, rows: rows, g)
        #expect(Self.bits(pairs.array) == Self.bits(general.array), "\(h)x\(w)")
    }

    @Test("2×2 max pooling keeps the first of −0 and +0, in either order")
    func signedZeroTie() {
        // Window 0: −0, +0 / +0, +0 → −0. Window 1: +0, −0 / −0, −0 → +0.
        let x = Buffer([0x8000, 0x0000, 0x0000, 0x8000, 0x0000, 0x0000, 0x8000, 0x8000].map { Float16(bitPattern: UInt16($0)) })
        let y = Buffer(repeating: Float16(7), count: 2)
        MaxPool2D.forward(y: y.view, x: x.view, rows: 1, window: Self.single)
        #expect(Self.bits(y.array) == [0x8000, 0x0000])
    }

    @Test("2×2 max pooling returns a window's first NaN whatever follows it, and routes dy there")
    func firstNaN() {
        // Window 0: 1, NaN(0x7E01), +∞, NaN(0xFE00) → the first NaN. Window 1: −∞, 2, −NaN, 3 → −NaN.
        let x = Buffer([0x3C00, 0x7E01, 0xFC00, 0x4000, 0x7C00, 0xFE00, 0xFE02, 0x4200].map { Float16(bitPattern: UInt16($0)) })
        let g = Self.single
        let y = Buffer(repeating: Float16(7), count: 2), dx = Buffer(repeating: Float16(7), count: 8)
        MaxPool2D.forward(y: y.view, x: x.view, rows: 1, window: g)
        MaxPool2D.backward(dx: dx.view, dy: Buffer([Float16(0.5), -0.25]).view, x: x.view, rows: 1, window: g)
        #expect(Self.bits(y.array) == [0x7E01, 0xFE02])
        #expect(dx.array == [0, 0.5, 0, 0, 0, 0, -0.25, 0])
    }

    @Test("2×2 stride-2 average pooling forward equals the general loop bit for bit, either divisor mode, NaNs as NaNs",
          arguments: 0 ..< 6, [false, true])
    func averageForward(_ p: Int, includePad: Bool) {
        let (h, w) = Self.planes[p], g = Self.window(h, w, includePad: includePad), rows = 2
        var rng = TestRandom(UInt64(110 + p))
        let x = Buffer(Self.values(&rng, rows * g.inputElements))
        let pairs = Buffer(repeating: Float16(7), count: rows * g.outputElements), general = Buffer(repeating: Float16(7), count: pairs.count)
        AveragePool2D.pairsForward(y: pairs.view, x: x.view, rows: rows, g)
        AveragePool2D.generalForward(y: general.view, x: x.view, rows: rows, g)
        // Which NaN a sum of two NaNs keeps is the compiler's choice of operand order (the one
        // difference the kernels allow): any NaN matches any NaN here.
        #expect(PoolingOrderTests.same(pairs.array, general.array), "\(h)x\(w)")
    }

    @Test("2×2 stride-2 average pooling backward equals the general loop bit for bit and zeroes uncovered inputs",
          arguments: 0 ..< 6, [false, true])
    func averageBackward(_ p: Int, includePad: Bool) {
        let (h, w) = Self.planes[p], g = Self.window(h, w, includePad: includePad), rows = 2
        var rng = TestRandom(UInt64(120 + p))
        let dy = Buffer(Self.values(&rng, rows * g.outputElements))
        let pairs = Buffer(repeating: Float16(7), count: rows * g.inputElements), general = Buffer(repeating: Float16(7), count: pairs.count)
        AveragePool2D.pairsBackward(dx: pairs.view, dy: dy.view, rows: rows, g)
        AveragePool2D.generalBackward(dx: general.view, dy: dy.view, rows: rows, g)
        #expect(Self.bits(pairs.array) == Self.bits(general.array), "\(h)x\(w)")
    }
}
