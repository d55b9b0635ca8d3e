import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// Conv2D against a Double reference, for a plain, a strided/padded, a depthwise and a 1×1 layer.
/// Gradients are checked as in `DenseTests`: `L = Σ R ⊙ y` for a fixed random R, so dL/dy = R and
/// central differences of the Double reference give each backward output. Tolerance: fp16 storage
/// (2⁻¹¹ relative) after fp32 sums: 2e-3 relative plus 2e-3 absolute, far below an indexing error.
struct Conv2DTests {
    struct Case: CustomStringConvertible {
        var name: String
        var window: Window2D
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "3x3 stride 1 pad 1", window: .init(channels: 3, outputs: 4, height: 5, width: 6, outHeight: 5, outWidth: 6,
                                                       kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                                                       padTop: 1, padLeft: 1, group: 1, trainedOutputs: 4)),
        Case(name: "3x2 stride 2 pad 1, odd sizes", window: .init(channels: 2, outputs: 3, height: 7, width: 5, outHeight: 4, outWidth: 3,
                                                                  kernelHeight: 3, kernelWidth: 2, strideHeight: 2, strideWidth: 2,
                                                                  padTop: 1, padLeft: 1, group: 1, trainedOutputs: 3)),
        Case(name: "depthwise 3x3 stride 2", window: .init(channels: 4, outputs: 4, height: 6, width: 6, outHeight: 3, outWidth: 3,
                                                           kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
                                                           padTop: 1, padLeft: 1, group: 4, trainedOutputs: 4)),
        Case(name: "grouped (2 groups)", window: .init(channels: 4, outputs: 6, height: 4, width: 4, outHeight: 4, outWidth: 4,
                                                       kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                                                       padTop: 1, padLeft: 1, group: 2, trainedOutputs: 6)),
        Case(name: "1x1 (the pointwise fast path)", window: .init(channels: 5, outputs: 6, height: 3, width: 3, outHeight: 3, outWidth: 3,
                                                                   kernelHeight: 1, kernelWidth: 1, strideHeight: 1, strideWidth: 1,
                                                                   padTop: 0, padLeft: 0, group: 1, trainedOutputs: 6)),
    ]
    let rows = 2

    /// y in Double, [rows, M, OH, OW].
    static func reference(_ g: Window2D, x: [Double], w: [Double], b: [Double], rows: Int) -> [Double] {
        let cg = g.channels / g.group, mg = g.outputs / g.group
        var y = [Double](repeating: 0, count: rows * g.outputElements)
        for n in 0 ..< rows {
            for m in 0 ..< g.outputs {
                for oh in 0 ..< g.outHeight {
                    for ow in 0 ..< g.outWidth {
                        var acc = b[m]
                        for c in 0 ..< cg {
                            let ci = (m / mg) * cg + c
                            for kh in 0 ..< g.kernelHeight {
                                for kw in 0 ..< g.kernelWidth {
                                    let ih = oh * g.strideHeight - g.padTop + kh, iw = ow * g.strideWidth - g.padLeft + kw
                                    guard ih >= 0, ih < g.height, iw >= 0, iw < g.width else { continue }
                                    acc += x[((n * g.channels + ci) * g.height + ih) * g.width + iw]
                                        * w[((m * cg + c) * g.kernelHeight + kh) * g.kernelWidth + kw]
                                }
                            }
                        }
                        y[((n * g.outputs + m) * g.outHeight + oh) * g.outWidth + ow] = acc
                    }
                }
            }
        }
        return y
    }

    static func loss(_ y: [Double], _ r: [Float16]) -> Double { zip(y, r).reduce(0) { $0 + $1.0 * Double($1.1) } }

    @Test("forward matches the Double reference within fp16 rounding", arguments: cases)
    func forwardMatchesReference(_ c: Case) {
        let g = c.window
        var rng = TestRandom(11)
        let x = rng.halves(rows * g.inputElements), w = rng.halves(g.outputs * g.weightsPerOutput), b = rng.halves(g.outputs)
        let y = Buffer(repeating: Float16(0), count: rows * g.outputElements)
        Conv2D.forward(y: y.view, x: Buffer(x).view, weight: .half(Buffer(w).view), bias: .half(Buffer(b).view), rows: rows, window: g)
        let expected = Self.reference(g, x: x.map(Double.init), w: w.map(Double.init), b: b.map(Double.init), rows: rows)
        expectClose(y.array, expected, tolerance: .convolution, "\(c): y")
    }

    @Test("backward gives dx, dW and db equal to finite differences of the Double reference", arguments: cases)
    func backwardMatchesFiniteDifferences(_ c: Case) {
        let g = c.window
        var rng = TestRandom(12)
        let x16 = rng.halves(rows * g.inputElements), w16 = rng.halves(g.outputs * g.weightsPerOutput)
        let b16 = rng.halves(g.outputs), r = rng.halves(rows * g.outputElements)
        let x = x16.map(Double.init), w = w16.map(Double.init), b = b16.map(Double.init)
        let dx = Buffer(repeating: Float16(0), count: x.count), dW = Buffer(repeating: Float16(0), count: w.count)
        let db = Buffer(repeating: Float16(0), count: b.count)
        Conv2D.backward(dx: dx.view, dW: dW.view, db: db.view, dy: Buffer(r).view, x: Buffer(x16).view,
                        weight: .half(Buffer(w16).view), rows: rows, window: g)
        let h = 1e-3
        func fd(_ f: (Double) -> Double) -> Double { (f(h) - f(-h)) / (2 * h) }
        let fdW = w.indices.map { i in fd { e in var v = w; v[i] += e; return Self.loss(Self.reference(g, x: x, w: v, b: b, rows: rows), r) } }
        expectClose(dW.array, fdW, tolerance: .convolution, "\(c): dW against finite differences")
        let fdb = b.indices.map { i in fd { e in var v = b; v[i] += e; return Self.loss(Self.reference(g, x: x, w: w, b: v, rows: rows), r) } }
        expectClose(db.array, fdb, tolerance: .convolution, "\(c): db against finite differences")
        let fdx = x.indices.map { i in fd { e in var v = x; v[i] += e; return Self.loss(Self.reference(g, x: v, w: w, b: b, rows: rows), r) } }
        expectClose(dx.array, fdx, tolerance: .convolution, "\(c): dx against finite differences")
    }

    @Test("a partly trained layer writes weight gradients for its first output channels only")
    func trainedOutputsLimitTheWeightGradient() {
        var g = Self.cases[0].window
        g.trainedOutputs = 2
        var rng = TestRandom(13)
        let x = rng.halves(rows * g.inputElements), w = rng.halves(g.outputs * g.weightsPerOutput), r = rng.halves(rows * g.outputElements)
        let full = Buffer(repeating: Float16(0), count: w.count)
        let part = Buffer(repeating: Float16.nan, count: 2 * g.weightsPerOutput + 1)
        var all = g
        all.trainedOutputs = g.outputs
        Conv2D.backward(dx: nil, dW: full.view, db: nil, dy: Buffer(r).view, x: Buffer(x).view, weight: .half(Buffer(w).view), rows: rows, window: all)
        Conv2D.backward(dx: nil, dW: part.view, db: nil, dy: Buffer(r).view, x: Buffer(x).view, weight: .half(Buffer(w).view), rows: rows, window: g)
        #expect(Array(part.array.prefix(2 * g.weightsPerOutput)) == Array(full.array.prefix(2 * g.weightsPerOutput)))
        #expect(part.array.last!.isNaN, "the element after the trained rows was written")
    }

    @Test("an fp32 master weight computes exactly what its fp16 rounding computes")
    func masterWeightsRoundToHalf() {
        let g = Self.cases[1].window
        var rng = TestRandom(14)
        let x = rng.halves(rows * g.inputElements)
        let w32 = (0 ..< g.outputs * g.weightsPerOutput).map { _ in Float(rng.uniform(-1, 1)) }
        let a = Buffer(repeating: Float16(0), count: rows * g.outputElements), b = Buffer(repeating: Float16(0), count: rows * g.outputElements)
        Conv2D.forward(y: a.view, x: Buffer(x).view, weight: .master(Buffer(w32).view), bias: nil, rows: rows, window: g)
        Conv2D.forward(y: b.view, x: Buffer(x).view, weight: .half(Buffer(w32.map { Float16($0) }).view), bias: nil, rows: rows, window: g)
        #expect(a.array.map(\.bitPattern) == b.array.map(\.bitPattern))
    }

    /// Windows wide enough that the blocked interior paths run beside the border: 4 outputs per
    /// group (4×4 blocks), depthwise and 2 outputs per group (1×4 blocks), stride 2, a kernel
    /// wider than tall, and a row too narrow for any interior.
    static let blockedCases: [Case] = [
        Case(name: "3x3 stride 1 pad 1, 9 outputs", window: .init(channels: 3, outputs: 9, height: 7, width: 13, outHeight: 7, outWidth: 13,
                                                                   kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                                                                   padTop: 1, padLeft: 1, group: 1, trainedOutputs: 9)),
        Case(name: "3x3 stride 2 pad 1", window: .init(channels: 2, outputs: 8, height: 12, width: 19, outHeight: 6, outWidth: 10,
                                                       kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
                                                       padTop: 1, padLeft: 1, group: 1, trainedOutputs: 8)),
        Case(name: "depthwise 3x3 stride 1", window: .init(channels: 5, outputs: 5, height: 6, width: 11, outHeight: 6, outWidth: 11,
                                                           kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                                                           padTop: 1, padLeft: 1, group: 5, trainedOutputs: 5)),
        Case(name: "2 outputs per group, 2x5 no padding", window: .init(channels: 4, outputs: 4, height: 5, width: 12, outHeight: 4, outWidth: 8,
                                                                        kernelHeight: 2, kernelWidth: 5, strideHeight: 1, strideWidth: 1,
                                                                        padTop: 0, padLeft: 0, group: 2, trainedOutputs: 4)),
        Case(name: "5x5 pad 2 on a 4-wide input", window: .init(channels: 2, outputs: 4, height: 4, width: 4, outHeight: 4, outWidth: 4,
                                                                kernelHeight: 5, kernelWidth: 5, strideHeight: 1, strideWidth: 1,
                                                                padTop: 2, padLeft: 2, group: 1, trainedOutputs: 4)),
    ]

    /// y as the one-output loop computes it: per output, fp32 products summed in (channel, kernel
    /// row, kernel column) order with padding taps skipped, the bias added, rounded to fp16 once.
    static func oneOutputLoop(_ g: Window2D, x: [Float16], w: [Float16], b: [Float16], rows: Int) -> [Float16] {
        let cg = g.channels / g.group, mg = g.outputs / g.group
        var y = [Float16](repeating: 0, count: rows * g.outputElements)
        for n in 0 ..< rows {
            for m in 0 ..< g.outputs {
                for oh in 0 ..< g.outHeight {
                    for ow in 0 ..< g.outWidth {
                        var acc: Float = 0
                        for c in 0 ..< cg {
                            let ci = (m / mg) * cg + c
                            for kh in 0 ..< g.kernelHeight {
                                for kw in 0 ..< g.kernelWidth {
                                    let ih = oh * g.strideHeight - g.padTop + kh, iw = ow * g.strideWidth - g.padLeft + kw
                                    guard ih >= 0, ih < g.height, iw >= 0, iw < g.width else { continue }
                                    acc += Float(x[((n * g.channels + ci) * g.height + ih) * g.width + iw])
                                        * Float(w[((m * cg + c) * g.kernelHeight + kh) * g.kernelWidth + kw])
                                }
                            }
                        }
                        y[((n * g.outputs + m) * g.outHeight + oh) * g.outWidth + ow] = Float16(acc + Float(b[m]))
                    }
                }
            }
        }
        return y
    }

    @Test("blocked forward equals the one-output loop bit for bit, borders and interior", arguments: blockedCases, Conv2DEntry.allCases)
    func blockedForwardIsBitExact(_ c: Case, entry: Conv2DEntry) {
        let g = c.window
        var rng = TestRandom(21)
        var x = rng.halves(rows * g.inputElements, -4, 4)
        let w = rng.halves(g.outputs * g.weightsPerOutput), b = rng.halves(g.outputs)
        // Values where a changed order or an added padding product would show: infinities, NaN,
        // signed zeros, and a product that overflows fp16 but not the fp32 sum.
        let specials: [Float16] = [.infinity, -.infinity, .nan, -0.0, 0.0, 60000, -60000]
        for (k, v) in specials.enumerated() { x[(k * 37) % x.count] = v }
        let y = Buffer(repeating: Float16(0), count: rows * g.outputElements)
        entry.forward(y: y.view, x: Buffer(x).view, weight: .half(Buffer(w).view), bias: .half(Buffer(b).view), rows: rows, window: g)
        let expected = Self.oneOutputLoop(g, x: x, w: w, b: b, rows: rows)
        #expect(y.array.nanCanonicalBits == expected.nanCanonicalBits, "\(c), \(entry)")
    }

    /// dx and dW as the one-output loops compute them: dx sums (output channel, kernel row, kernel
    /// column), dW sums (sample, output row, output column), in fp32, each rounded once.
    static func oneOutputGradients(_ g: Window2D, dy: [Float16], x: [Float16], w: [Float16], rows: Int) -> (dx: [Float16], dW: [Float16]) {
        let cg = g.channels / g.group, mg = g.outputs / g.group
        var dx = [Float16](repeating: 0, count: rows * g.inputElements)
        for n in 0 ..< rows {
            for c in 0 ..< g.channels {
                let group = c / cg, local = c % cg
                for ih in 0 ..< g.height {
                    for iw in 0 ..< g.width {
                        var acc: Float = 0
                        for ml in 0 ..< mg {
                            let m = group * mg + ml
                            for kh in 0 ..< g.kernelHeight {
                                let th = ih + g.padTop - kh
                                guard th >= 0, th % g.strideHeight == 0, th / g.strideHeight < g.outHeight else { continue }
                                for kw in 0 ..< g.kernelWidth {
                                    let tw = iw + g.padLeft - kw
                                    guard tw >= 0, tw % g.strideWidth == 0, tw / g.strideWidth < g.outWidth else { continue }
                                    acc += Float(dy[((n * g.outputs + m) * g.outHeight + th / g.strideHeight) * g.outWidth + tw / g.strideWidth])
                                        * Float(w[((m * cg + local) * g.kernelHeight + kh) * g.kernelWidth + kw])
                                }
                            }
                        }
                        dx[((n * g.channels + c) * g.height + ih) * g.width + iw] = Float16(acc)
                    }
                }
            }
        }
        var dW = [Float16](repeating: 0, count: g.outputs * g.weightsPerOutput)
        for m in 0 ..< g.outputs {
            for c in 0 ..< cg {
                for kh in 0 ..< g.kernelHeight {
                    for kw in 0 ..< g.kernelWidth {
                        var acc: Float = 0
                        for n in 0 ..< rows {
                            for oh in 0 ..< g.outHeight {
                                let ih = oh * g.strideHeight - g.padTop + kh
                                guard ih >= 0, ih < g.height else { continue }
                                for ow in 0 ..< g.outWidth {
                                    let iw = ow * g.strideWidth - g.padLeft + kw
                                    guard iw >= 0, iw < g.width else { continue }
                                    acc += Float(dy[((n * g.outputs + m) * g.outHeight + oh) * g.outWidth + ow])
                                        * Float(x[((n * g.channels + (m / mg) * cg + c) * g.height + ih) * g.width + iw])
                                }
                            }
                        }
                        dW[((m * cg + c) * g.kernelHeight + kh) * g.kernelWidth + kw] = Float16(acc)
                    }
                }
            }
        }
        return (dx, dW)
    }

    @Test("blocked backward gives the one-output loops' dx and dW bit for bit, borders and interior", arguments: blockedCases, Conv2DEntry.allCases)
    func blockedBackwardIsBitExact(_ c: Case, entry: Conv2DEntry) {
        let g = c.window
        var rng = TestRandom(23)
        var dy = rng.halves(rows * g.outputElements, -4, 4)
        let x = rng.halves(rows * g.inputElements, -4, 4), w = rng.halves(g.outputs * g.weightsPerOutput)
        let specials: [Float16] = [.infinity, -.infinity, .nan, -0.0, 0.0, 60000, -60000]
        for (k, v) in specials.enumerated() { dy[(k * 29) % dy.count] = v }
        let dx = Buffer(repeating: Float16(0), count: rows * g.inputElements), dW = Buffer(repeating: Float16(0), count: g.outputs * g.weightsPerOutput)
        entry.backward(dx: dx.view, dW: dW.view, db: nil, dy: Buffer(dy).view, x: Buffer(x).view, weight: .half(Buffer(w).view), rows: rows, window: g)
        let expected = Self.oneOutputGradients(g, dy: dy, x: x, w: w, rows: rows)
        #expect(dx.array.nanCanonicalBits == expected.dx.nanCanonicalBits, "\(c): dx")
        #expect(dW.array.nanCanonicalBits == expected.dW.nanCanonicalBits, "\(c): dW")
    }
}

/// The depthwise (one channel per group) and pointwise (1×1) paths, bit for bit against the
/// one-output loops: planes from 1×1 to 12×12 (all border, border and interior, rows too narrow
/// for a block of 4), stride 1 and 2, with and without padding (also padding only at the bottom
/// and right), a kernel the 3×3 path does not take, channel counts that are no multiple of 4,
/// half and fp32 master weights, and partly trained layers.
struct Conv2DDepthwisePointwiseTests {
    typealias Case = Conv2DTests.Case
    var rows = 2

    /// A depthwise window: `channels` planes of `size`×`size`, kernel k×k, stride s, padding p at
    /// the top and left, the output size PyTorch gives for symmetric padding `p + extra` at the
    /// bottom and right minus `extra` (so `extra` 1 pads only the bottom and right once more).
    static func depthwise(_ channels: Int, _ size: Int, k: Int = 3, s: Int, p: Int, bottomRight: Int? = nil) -> Case {
        let q = bottomRight ?? p
        let out = (size + p + q - k) / s + 1
        return Case(name: "depthwise \(channels)x\(size)x\(size) k\(k) s\(s) pad \(p)/\(q)",
                    window: .init(channels: channels, outputs: channels, height: size, width: size, outHeight: out, outWidth: out,
                                  kernelHeight: k, kernelWidth: k, strideHeight: s, strideWidth: s,
                                  padTop: p, padLeft: p, group: channels, trainedOutputs: channels))
    }

    /// A 1×1 window: `c` inputs, `m` outputs, an h×w plane.
    static func pointwise(_ c: Int, _ m: Int, _ h: Int, _ w: Int) -> Case {
        Case(name: "pointwise \(c)->\(m) on \(h)x\(w)",
             window: .init(channels: c, outputs: m, height: h, width: w, outHeight: h, outWidth: w,
                           kernelHeight: 1, kernelWidth: 1, strideHeight: 1, strideWidth: 1,
                           padTop: 0, padLeft: 0, group: 1, trainedOutputs: m))
    }

    static let cases: [Case] = [
        depthwise(3, 1, s: 1, p: 1), depthwise(3, 2, s: 1, p: 1), depthwise(5, 4, s: 1, p: 1),
        depthwise(2, 7, s: 1, p: 1), depthwise(3, 12, s: 1, p: 1),
        depthwise(3, 1, s: 2, p: 1), depthwise(3, 2, s: 2, p: 1), depthwise(2, 4, s: 2, p: 1),
        depthwise(2, 7, s: 2, p: 1), depthwise(3, 12, s: 2, p: 1), depthwise(2, 13, s: 2, p: 1),
        depthwise(2, 6, s: 1, p: 0), depthwise(2, 12, s: 2, p: 0, bottomRight: 1), depthwise(2, 9, s: 1, p: 0, bottomRight: 1),
        depthwise(2, 7, k: 5, s: 1, p: 2), depthwise(2, 9, k: 5, s: 2, p: 2),
        depthwise(3, 5, s: 1, p: 2), depthwise(2, 9, s: 1, p: 1), depthwise(2, 8, s: 1, p: 1, bottomRight: 0),
        depthwise(2, 3, s: 1, p: 1), depthwise(2, 6, s: 1, p: 2, bottomRight: 0),
        Case(name: "depthwise 4x5x9 (non-square) k3 s1 pad 1",
             window: .init(channels: 4, outputs: 4, height: 5, width: 9, outHeight: 5, outWidth: 9,
                           kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                           padTop: 1, padLeft: 1, group: 4, trainedOutputs: 4)),
        Case(name: "depthwise multiplier 2 (2 outputs per group)",
             window: .init(channels: 3, outputs: 6, height: 5, width: 5, outHeight: 5, outWidth: 5,
                           kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                           padTop: 1, padLeft: 1, group: 3, trainedOutputs: 6)),
        pointwise(5, 7, 3, 3), pointwise(8, 16, 4, 4), pointwise(3, 2, 1, 1), pointwise(6, 5, 2, 3),
        pointwise(9, 13, 5, 7), pointwise(4, 4, 1, 2), pointwise(1, 1, 1, 1),
    ]

    /// Inputs with values where a changed summation order or an added padding product shows:
    /// infinities, NaN, signed zeros, and a product that overflows fp16 but not the fp32 sum.
    /// The values a test feeds the kernels.
    enum Values: CaseIterable, CustomStringConvertible {
        /// Uniform values with infinities, signed zeros and a product that overflows fp16 but not
        /// the fp32 sum mixed in; every NaN a result holds is then one the arithmetic generated
        /// (∞ − ∞), the same default NaN whichever order, so results compare bit for bit.
        case specials
        /// The same with NaN inputs. A NaN's sign and payload follow which operand of an fp32 add
        /// the compiler put first (LLVM treats `a + b` as commutative), so NaNs compare as NaN.
        case nans
        /// Half zeros, the rest ±2⁻⁷, ±1, ±2⁷: products ±2⁻¹⁴ ... ±2¹⁴ cancel exactly and a 2¹⁴
        /// partial sum absorbs a 2⁻¹⁴ term, and the zeros keep sums short enough that the result
        /// shows it: a changed summation order changes outputs (uniform values hide it: a
        /// reordered fp32 sum rarely rounds to another fp16 value).
        case wide

        var description: String { self == .specials ? "specials" : self == .nans ? "NaN inputs" : "wide magnitudes" }

        func values(_ rng: inout TestRandom, _ count: Int, stride: Int) -> [Float16] {
            if self == .wide {
                return (0 ..< count).map { _ in
                    let k = Int(rng.uniform(0, 6).rounded(.down))
                    let m: Float16 = k == 0 ? 1.0 / 128 : k == 1 ? 1 : k == 2 ? 128 : 0
                    return rng.uniform(0, 1) < 0.5 ? -m : m
                }
            }
            var v = rng.halves(count, -4, 4)
            let specials: [Float16] = [.infinity, -.infinity, self == .nans ? .nan : 1, -0.0, 0.0, 60000, -60000]
            for (k, s) in specials.enumerated() where v.count > 8 { v[(k * stride) % v.count] = s }
            return v
        }

        func bits(_ v: [Float16]) -> [UInt16] { self == .nans ? v.nanCanonicalBits : v.map(\.bitPattern) }
    }

    @Test("forward equals the one-output loop bit for bit (half and master weights)", arguments: cases, Values.allCases)
    func forwardIsBitExact(_ c: Case, values: Values) {
        for entry in Conv2DEntry.allCases { forwardIsBitExact(c, values: values, entry: entry) }
    }

    func forwardIsBitExact(_ c: Case, values: Values, entry: Conv2DEntry) {
        let g = c.window
        var rng = TestRandom(31)
        let x = values.values(&rng, rows * g.inputElements, stride: 37)
        let w32 = values == .wide ? values.values(&rng, g.outputs * g.weightsPerOutput, stride: 1).map { Float($0) * 1.0001 }
                                  : (0 ..< g.outputs * g.weightsPerOutput).map { _ in Float(rng.uniform(-1, 1)) }
        let w = w32.map { Float16($0) }, b = rng.halves(g.outputs)
        let expected = values.bits(Conv2DTests.oneOutputLoop(g, x: x, w: w, b: b, rows: rows))
        let y = Buffer(repeating: Float16(0), count: rows * g.outputElements)
        entry.forward(y: y.view, x: Buffer(x).view, weight: .half(Buffer(w).view), bias: .half(Buffer(b).view), rows: rows, window: g)
        #expect(values.bits(y.array) == expected, "\(c), \(entry): half weights")
        let ym = Buffer(repeating: Float16(0), count: rows * g.outputElements)
        entry.forward(y: ym.view, x: Buffer(x).view, weight: .master(Buffer(w32).view),
                       bias: .master(Buffer(b.map { Float($0) }).view), rows: rows, window: g)
        #expect(values.bits(ym.array) == expected, "\(c): master weights")
        let yn = Buffer(repeating: Float16(0), count: rows * g.outputElements)
        entry.forward(y: yn.view, x: Buffer(x).view, weight: .half(Buffer(w).view), bias: nil, rows: rows, window: g)
        let zero = [Float16](repeating: 0, count: g.outputs)
        #expect(values.bits(yn.array) == values.bits(Conv2DTests.oneOutputLoop(g, x: x, w: w, b: zero, rows: rows)), "\(c): no bias")
    }

    @Test("backward gives the one-output loops' dx and dW bit for bit (half and master weights)", arguments: cases, Values.allCases)
    func backwardIsBitExact(_ c: Case, values: Values) {
        for entry in Conv2DEntry.allCases { backwardIsBitExact(c, values: values, entry: entry) }
    }

    func backwardIsBitExact(_ c: Case, values: Values, entry: Conv2DEntry) {
        let g = c.window
        var rng = TestRandom(33)
        let dy = values.values(&rng, rows * g.outputElements, stride: 29)
        let x = values.values(&rng, rows * g.inputElements, stride: 41)
        let w32 = values == .wide ? values.values(&rng, g.outputs * g.weightsPerOutput, stride: 1).map { Float($0) * 1.0001 }
                                  : (0 ..< g.outputs * g.weightsPerOutput).map { _ in Float(rng.uniform(-1, 1)) }
        let w = w32.map { Float16($0) }
        let expected = Conv2DTests.oneOutputGradients(g, dy: dy, x: x, w: w, rows: rows)
        for (label, weight) in [("half", ParameterView.half(Buffer(w).view)), ("master", .master(Buffer(w32).view))] {
            let dx = Buffer(repeating: Float16(0), count: rows * g.inputElements)
            let dW = Buffer(repeating: Float16(0), count: g.outputs * g.weightsPerOutput)
            entry.backward(dx: dx.view, dW: dW.view, db: nil, dy: Buffer(dy).view, x: Buffer(x).view, weight: weight, rows: rows, window: g)
            #expect(values.bits(dx.array) == values.bits(expected.dx), "\(c), \(entry): dx, \(label) weights")
            #expect(values.bits(dW.array) == values.bits(expected.dW), "\(c), \(entry): dW, \(label) weights")
        }
        // One sample: the sums over (sample, row, column) start over.
        let one = Conv2DTests.oneOutputGradients(g, dy: dy, x: x, w: w, rows: 1)
        let dW1 = Buffer(repeating: Float16(0), count: g.outputs * g.weightsPerOutput)
        entry.backward(dx: nil, dW: dW1.view, db: nil, dy: Buffer(dy).view, x: Buffer(x).view, weight: .half(Buffer(w).view), rows: 1, window: g)
        #expect(values.bits(dW1.array) == values.bits(one.dW), "\(c): dW of one sample")
    }

    @Test("a partly trained layer writes the weight gradients of its first output channels only", arguments: cases)
    func trainedOutputsLimitTheWeightGradient(_ c: Case) {
        var g = c.window
        guard g.outputs > 1 else { return }
        g.trainedOutputs = g.outputs - 1 - (g.outputs > 5 ? 2 : 0)
        var rng = TestRandom(35)
        let x = rng.halves(rows * g.inputElements, -4, 4), dy = rng.halves(rows * g.outputElements, -4, 4)
        let w = rng.halves(g.outputs * g.weightsPerOutput)
        let trained = g.trainedOutputs * g.weightsPerOutput
        let part = Buffer(repeating: Float16.nan, count: trained + 1)
        Conv2D.backward(dx: nil, dW: part.view, db: nil, dy: Buffer(dy).view, x: Buffer(x).view, weight: .half(Buffer(w).view), rows: rows, window: g)
        let expected = Conv2DTests.oneOutputGradients(g, dy: dy, x: x, w: w, rows: rows)
        #expect(Array(part.array.prefix(trained)).map(\.bitPattern) == Array(expected.dW.prefix(trained)).map(\.bitPattern), "\(c)")
        #expect(part.array.last!.isNaN, "\(c): the element after the trained rows was written")
    }
}

extension Conv2DTests {
    /// The 3×3 paths (forward blocks of 4 outputs × 4 pixels at column stride 1 or 2 that handle the
    /// row's first and last pixel in place, weight gradient rows streamed 4 outputs × 3 kernel
    /// columns at a time, the depthwise stride-1 tiles), bit for bit against the one-output loops
    /// with the harness above: one input channel as in the digits CNN's first layer (8 and 16
    /// outputs), several channels, output counts that leave a channel over, widths from 3 (no block)
    /// to 17 (blocks and single pixels), padding 0, 1 and 2, padding only at the bottom and right, row
    /// and column strides of 2, groups, batches of 1 to 3.
    struct Blocks3x3 {
        /// A 3×3 window: c → m channels on an h×w plane, padding p top/left and q bottom/right, strides sh × sw.
        static func window(_ c: Int, _ m: Int, _ h: Int, _ w: Int, p: Int = 1, q: Int? = nil, sh: Int = 1, sw: Int = 1,
                           groups: Int = 1) -> Case {
            let q = q ?? p
            let oh = (h + p + q - 3) / sh + 1, ow = (w + p + q - 3) / sw + 1
            return Case(name: "3x3 \(c)->\(m) on \(h)x\(w) pad \(p)/\(q) stride \(sh)x\(sw)\(groups > 1 ? " groups \(groups)" : "")",
                        window: .init(channels: c, outputs: m, height: h, width: w, outHeight: oh, outWidth: ow,
                                      kernelHeight: 3, kernelWidth: 3, strideHeight: sh, strideWidth: sw,
                                      padTop: p, padLeft: p, group: groups, trainedOutputs: m))
        }

        static let cases: [Case] = [
            window(1, 8, 8, 8), window(1, 16, 8, 8), window(1, 8, 5, 4), window(1, 4, 3, 3), window(1, 4, 4, 5),
            window(2, 5, 5, 7), window(3, 9, 7, 13), window(1, 8, 6, 6, p: 0), window(1, 4, 7, 9, p: 2),
            window(1, 4, 6, 8, p: 0, q: 1), window(2, 4, 9, 8, sh: 2), window(4, 8, 5, 6, groups: 2),
            window(2, 12, 4, 10, p: 1, q: 0),
            // Depthwise (the tiled stride-1 paths).
            window(4, 4, 4, 4, groups: 4), window(3, 3, 5, 9, groups: 3), window(2, 2, 7, 6, p: 0, q: 1, groups: 2),
            window(2, 2, 6, 5, p: 2, groups: 2), window(2, 2, 2, 8, groups: 2), window(2, 2, 9, 4, p: 1, q: 0, groups: 2),
            // Column stride 2 (forward blocks reading 9 inputs a kernel row), as the strided CNN's second layer.
            window(3, 8, 8, 8, sh: 2, sw: 2), window(1, 4, 7, 9, sh: 2, sw: 2), window(2, 4, 6, 10, p: 0, sh: 2, sw: 2),
            window(1, 4, 5, 8, p: 1, q: 0, sh: 2, sw: 2), window(2, 5, 5, 7, sw: 2), window(1, 4, 6, 12, p: 2, sh: 2, sw: 2),
            window(4, 8, 6, 17, sh: 1, sw: 2, groups: 2),
        ]

        @Test("forward equals the one-output loop bit for bit (half and master weights, batches 1 to 3)",
              arguments: cases, Conv2DDepthwisePointwiseTests.Values.allCases)
        func forwardIsBitExact(_ c: Case, values: Conv2DDepthwisePointwiseTests.Values) {
            for rows in 1 ... 3 {
                let harness = Conv2DDepthwisePointwiseTests(rows: rows)
                for entry in Conv2DEntry.allCases { harness.forwardIsBitExact(c, values: values, entry: entry) }
            }
        }

        @Test("backward gives the one-output loops' dx and dW bit for bit (half and master weights, batches 1 to 3)",
              arguments: cases, Conv2DDepthwisePointwiseTests.Values.allCases)
        func backwardIsBitExact(_ c: Case, values: Conv2DDepthwisePointwiseTests.Values) {
            for rows in 1 ... 3 {
                let harness = Conv2DDepthwisePointwiseTests(rows: rows)
                for entry in Conv2DEntry.allCases { harness.backwardIsBitExact(c, values: values, entry: entry) }
            }
        }

        @Test("a partly trained layer writes the weight gradients of its first output channels only", arguments: cases)
        func trainedOutputsLimitTheWeightGradient(_ c: Case) {
            Conv2DDepthwisePointwiseTests().trainedOutputsLimitTheWeightGradient(c)
        }

        /// The depthwise tiles add +0 · weight for a tap in the padding, which is NaN for an infinite
        /// or NaN weight: with one, the layer must still give the one-output loops' results (which
        /// skip the tap), padded borders included.
        @Test("depthwise stride 1 with an infinite or NaN weight equals the one-output loops", arguments: [
            window(3, 3, 4, 4, groups: 3), window(2, 2, 5, 9, groups: 2),
        ])
        func nonFiniteDepthwiseWeights(_ c: Case) {
            let g = c.window, rows = 2
            var rng = TestRandom(37)
            let x = rng.halves(rows * g.inputElements, -4, 4), dy = rng.halves(rows * g.outputElements, -4, 4)
            var w = rng.halves(g.outputs * g.weightsPerOutput)
            w[0] = .infinity
            w[g.weightsPerOutput + 8] = .nan
            let b = rng.halves(g.outputs)
            let expected = Conv2DTests.oneOutputLoop(g, x: x, w: w, b: b, rows: rows)
            let gradients = Conv2DTests.oneOutputGradients(g, dy: dy, x: x, w: w, rows: rows)
            for entry in Conv2DEntry.allCases {
                let y = Buffer(repeating: Float16(0), count: rows * g.outputElements)
                entry.forward(y: y.view, x: Buffer(x).view, weight: .half(Buffer(w).view), bias: .half(Buffer(b).view), rows: rows, window: g)
                #expect(y.array.nanCanonicalBits == expected.nanCanonicalBits, "\(c), \(entry): y")
                let dx = Buffer(repeating: Float16(0), count: rows * g.inputElements)
                entry.backward(dx: dx.view, dW: nil, db: nil, dy: Buffer(dy).view, x: Buffer(x).view, weight: .half(Buffer(w).view),
                               rows: rows, window: g)
                #expect(dx.array.nanCanonicalBits == gradients.dx.nanCanonicalBits, "\(c), \(entry): dx")
            }
        }
    }
}

extension Array where Element == Float16 {
    /// The bit patterns with every NaN as the one quiet NaN 0x7E00: a NaN's sign and payload
    /// follow which operand of an fp32 add the compiler put first (LLVM treats `a + b` as
    /// commutative; x86 returns the first operand's NaN, and generates a negative one), not the
    /// order of a sum's terms, which every other bit pins.
    var nanCanonicalBits: [UInt16] { map { $0.isNaN ? 0x7E00 : $0.bitPattern } }
}

/// Which entry point a bit-exactness test drives. On x86_64 and arm64 `Conv2D.forward`/`backward`
/// dispatch to the host SIMD kernels (`Conv2DVectorized`); the device runs the portable loops, so
/// those are driven directly too: both must equal the one-output loops.
enum Conv2DEntry: CaseIterable, CustomStringConvertible {
    case dispatched, portable

    var description: String { self == .dispatched ? "Conv2D.forward/backward" : "Conv2D.portableForward/portableBackward" }

    func forward(y: TensorView<Float16>, x: TensorView<Float16>, weight: ParameterView, bias: ParameterView?, rows: Int, window g: Window2D) {
        switch self {
        case .dispatched: Conv2D.forward(y: y, x: x, weight: weight, bias: bias, rows: rows, window: g)
        case .portable: Conv2D.portableForward(y: y, x: x, weight: weight, bias: bias, rows: rows, window: g)
        }
    }

    func backward(dx: TensorView<Float16>?, dW: TensorView<Float16>?, db: TensorView<Float16>?, dy: TensorView<Float16>,
                  x: TensorView<Float16>, weight: ParameterView, rows: Int, window g: Window2D) {
        switch self {
        case .dispatched: Conv2D.backward(dx: dx, dW: dW, db: db, dy: dy, x: x, weight: weight, rows: rows, window: g)
        case .portable: Conv2D.portableBackward(dx: dx, dW: dW, db: db, dy: dy, x: x, weight: weight, rows: rows, window: g)
        }
    }
}
