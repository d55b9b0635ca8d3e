import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// The portable elementwise kernels against one-element-at-a-time references written the way the
/// kernels were first written (fp32 per element, one rounding to fp16): bit for bit, over every
/// fp16 bit pattern (NaNs of both signs and payloads, ±inf, ±0, 65504, subnormals), at odd sizes
/// and odd start addresses, so kernels that read two elements per word or 32 per mask word keep
/// exactly the old results.
struct ElementwiseBitExactTests {
    /// Every fp16 bit pattern in a scrambled order, so each pair and each 32-element group mixes
    /// special values with ordinary ones.
    static let scrambled: [Float16] = {
        var rng = TestRandom(1313)
        var v = (0 ... UInt16.max).map { Float16(bitPattern: $0) }
        for i in stride(from: v.count - 1, to: 0, by: -1) { v.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return v
    }()
    /// Every fp16 bit pattern in order (pairs of neighbours: NaN next to NaN, inf next to 65504).
    static let ordered: [Float16] = (0 ... UInt16.max).map { Float16(bitPattern: $0) }
    /// Sizes around the pair, 4, 8 and 32-element boundaries.
    static let sizes = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 34, 63, 64, 65, 95, 97, 129]
    static let specials: [Float16] = [.nan, -.nan, Float16(bitPattern: 0x7C01), Float16(bitPattern: 0xFD55), .infinity,
                                      -.infinity, 0, -0, 65504, -65504, Float16(bitPattern: 1), Float16(bitPattern: 0x83FF),
                                      6, -6, 1, -1, 0.5, 3, -3, Float16(bitPattern: 0x4601), Float16(bitPattern: 0x45FF)]

    /// Calls `check(values, offset)` on: all patterns (both orders), and windows of each size at
    /// start offsets 0 and 1 of the scrambled patterns with the specials mixed in.
    static func cases(_ check: ([Float16], Int) -> Void) {
        check(scrambled, 0); check(ordered, 0); check(ordered, 1)
        var mixed = specials + Array(scrambled.prefix(300))
        mixed += specials.reversed()
        for n in sizes {
            for offset in [0, 1] {
                for start in [0, 5, 21] where start + n <= mixed.count { check(Array(mixed[start ..< start + n]), offset) }
            }
        }
        check(Array(mixed), 1)
    }

    /// A view of `values` starting `offset` elements into a fresh buffer (offset 1: the view is
    /// not 4-byte aligned), and the buffer.
    static func view(_ values: [Float16], _ offset: Int) -> TensorView<Float16> {
        let b = Buffer([Float16](repeating: Float16(bitPattern: 0x1234), count: offset) + values + [Float16(bitPattern: 0x4321)])
        return TensorView(base: b.pointer + offset, count: values.count)
    }
    static func out(_ n: Int, _ offset: Int) -> (TensorView<Float16>, Buffer<Float16>) {
        let b = Buffer(repeating: Float16(bitPattern: 0x5A5A), count: n + offset + 1)
        return (TensorView(base: b.pointer + offset, count: n), b)
    }
    static func bits(_ v: TensorView<Float16>) -> [UInt16] { (0 ..< v.count).map { v[$0].bitPattern } }
    /// Bit patterns with NaNs brought to one form: the quiet bit set (whether a conversion quiets a
    /// signalling NaN depends on how the host compiled it, here the debug test module against the
    /// core), and with `anyNaN` every NaN the same (an op of two NaN operands keeps whichever the
    /// compiler put first; the kernels keep their expressions, so this only spares the reference).
    static func canonical(_ b: [UInt16], anyNaN: Bool = false) -> [UInt16] {
        b.map { $0 & 0x7C00 == 0x7C00 && $0 & 0x03FF != 0 ? (anyNaN ? 0x7E00 : $0 | 0x0200) : $0 }
    }
    /// The guard elements around an output stay untouched.
    static func guarded(_ b: Buffer<Float16>, _ offset: Int, _ n: Int) -> Bool {
        (0 ..< offset).allSatisfy { b.pointer[$0].bitPattern == 0x5A5A } && b.pointer[offset + n].bitPattern == 0x5A5A
    }

    // MARK: references (the kernels as first written: one element at a time)

    static func refForward(_ kind: Activation.Kind, _ v: Float, _ a: Float, _ b: Float) -> Float {
        switch kind {
        case .clip: return min(max(v, a), b)
        case .hardSigmoid: return max(0, min(1, a * v + b))
        case .hardSwish: return v * max(0, min(1, v / 6 + 0.5))
        case .sigmoid: return 1 / (1 + Elementary.exp(-v))
        case .tanh: return 1 - 2 / (1 + Elementary.exp(2 * v))
        case .leakyRelu: return v > 0 ? v : a * v
        }
    }
    static func refBackward(_ kind: Activation.Kind, _ d: Float, _ s: Float, _ a: Float, _ b: Float) -> Float {
        switch kind {
        case .clip: return s > a && s < b ? d : 0
        case .hardSigmoid: return s > 0 && s < 1 ? d * a : 0
        case .hardSwish: return s < -3 ? 0 : (s > 3 ? d : d * (s / 3 + 0.5))
        case .sigmoid: return d * s * (1 - s)
        case .tanh: return d * (1 - s * s)
        case .leakyRelu: return s > 0 ? d : d * a
        }
    }

    static let parameters: [(Activation.Kind, Float, Float)] = [
        (.clip, 0, 6), (.clip, 0, .infinity), (.clip, -1, 1), (.clip, 0.1, 6), (.clip, -0.0, 6), (.clip, 0, 0.1),
        (.clip, 6, 0), (.clip, .nan, 6), (.clip, 0, .nan), (.clip, 1, 1), (.clip, -.infinity, 65504), (.clip, 0, 65520),
        (.clip, 2, 6), (.clip, Float(Float16(bitPattern: 1)), 65504),
        (.hardSigmoid, 0.2, 0.5), (.hardSigmoid, 1.0 / 6, 0.5), (.hardSwish, 0, 0), (.sigmoid, 0, 0),
        (.tanh, 0, 0), (.leakyRelu, 0.01, 0), (.leakyRelu, 0, 0),
    ]

    @Test("Activation.forward matches the per-element reference bit for bit, every kind and parameter")
    func activationForward() {
        for (kind, a, b) in Self.parameters {
            Self.cases { values, offset in
                let x = Self.view(values, offset), (y, buffer) = Self.out(values.count, offset)
                Activation.forward(kind, y: y, x: x, count: values.count, a: a, b: b)
                let expected = values.map { Float16(Self.refForward(kind, Float($0), a, b)).bitPattern }
                let anyNaN = kind == .hardSwish
                #expect(Self.canonical(Self.bits(y), anyNaN: anyNaN) == Self.canonical(expected, anyNaN: anyNaN),
                        "\(kind) a=\(a) b=\(b) n=\(values.count) offset=\(offset)")
                #expect(Self.guarded(buffer, offset, values.count))
                // In place (allowed unless backward reads the input; the kernel must not care).
                let inPlace = Self.view(values, offset)
                Activation.forward(kind, y: inPlace, x: inPlace, count: values.count, a: a, b: b)
                #expect(Self.canonical(Self.bits(inPlace), anyNaN: anyNaN) == Self.canonical(expected, anyNaN: anyNaN),
                        "in place \(kind) a=\(a) b=\(b) n=\(values.count)")
            }
        }
    }

    @Test("Activation.backward matches the per-element reference bit for bit, every kind and parameter")
    func activationBackward() {
        var rng = TestRandom(77)
        for (kind, a, b) in Self.parameters {
            Self.cases { values, offset in
                var grads = rng.halves(values.count, -8, 8)
                for i in stride(from: 0, to: grads.count, by: 7) { grads[i] = Self.specials[(i / 7) % Self.specials.count] }
                let dy = Self.view(grads, offset), s = Self.view(values, offset), (dx, buffer) = Self.out(values.count, offset)
                Activation.backward(kind, dx: dx, dy: dy, saved: s, count: values.count, a: a, b: b)
                let expected = (0 ..< values.count).map {
                    Float16(Self.refBackward(kind, Float(grads[$0]), Float(values[$0]), a, b)).bitPattern
                }
                let anyNaN = kind != .clip
                #expect(Self.canonical(Self.bits(dx), anyNaN: anyNaN) == Self.canonical(expected, anyNaN: anyNaN),
                        "\(kind) a=\(a) b=\(b) n=\(values.count) offset=\(offset)")
                #expect(Self.guarded(buffer, offset, values.count))
                Activation.backward(kind, dx: dy, dy: dy, saved: s, count: values.count, a: a, b: b)
                #expect(Self.canonical(Self.bits(dy), anyNaN: anyNaN) == Self.canonical(expected, anyNaN: anyNaN),
                        "in place \(kind) a=\(a) b=\(b) n=\(values.count)")
            }
        }
    }

    static let maskLimits: [(Float, Float)] = [
        (0, .nan), (0, 6), (-1, 1), (0.1, 6), (-0.0, 6), (0, .infinity), (1, 0.5), (0, 0), (6, 6), (-.infinity, .nan),
        (0, 65504), (0, 65520), (Float(Float16(bitPattern: 1)), 6), (2, .nan), (-6, -1), (0, -1),
    ]

    @Test("ActivationMask.forward sets exactly the bits of the per-element rule, clears the rest of the last word")
    func maskForward() {
        for (low, high) in Self.maskLimits {
            Self.cases { values, offset in
                let y = Self.view(values, offset), words = ActivationMask.words(values.count)
                let mask = Buffer(repeating: UInt32(0xDEAD_BEEF), count: words + 1)
                ActivationMask.forward(mask: TensorView(base: mask.pointer, count: words), y: y, count: values.count, low: low, high: high)
                var expected = [UInt32](repeating: 0, count: words)
                for (i, h) in values.enumerated() {
                    let v = Float(h)
                    if v > low && !(v >= high) { expected[i / 32] |= 1 << UInt32(i % 32) }
                }
                #expect(Array(mask.array.prefix(words)) == expected, "low=\(low) high=\(high) n=\(values.count)")
                #expect(mask.pointer[words] == 0xDEAD_BEEF)
            }
        }
    }

    @Test("ActivationMask.backward passes dy exactly where the bit is set and +0 elsewhere, in place too")
    func maskBackward() {
        var rng = TestRandom(99)
        Self.cases { values, offset in
            let n = values.count, words = ActivationMask.words(n)
            var bits = (0 ..< words).map { _ in UInt32(truncatingIfNeeded: rng.next()) }
            if words > 1 { bits[0] = 0; bits[words - 1] = .max }
            let mask = Buffer(bits), dy = Self.view(values, offset), (dx, buffer) = Self.out(n, offset)
            ActivationMask.backward(dx: dx, dy: dy, mask: mask.view, count: n)
            let expected = (0 ..< n).map { (bits[$0 >> 5] >> UInt32($0 & 31)) & 1 != 0 ? values[$0].bitPattern : 0 }
            #expect(Self.bits(dx) == expected, "n=\(n) offset=\(offset)")
            #expect(Self.guarded(buffer, offset, n))
            ActivationMask.backward(dx: dy, dy: dy, mask: mask.view, count: n)
            #expect(Self.bits(dy) == expected, "in place n=\(n)")
        }
    }

    @Test("Elementwise.add matches Float16(Float(a) + Float(b)) bit for bit, in place on either operand")
    func add() {
        Self.cases { values, offset in
            let n = values.count
            let other = (0 ..< n).map { values[(($0 &* 7919) &+ 13) % n] }
            let a = Self.view(values, offset), b = Self.view(other, offset), (y, buffer) = Self.out(n, offset)
            Elementwise.add(y: y, a: a, b: b, count: n)
            let expected = (0 ..< n).map { Float16(Float(values[$0]) + Float(other[$0])).bitPattern }
            #expect(Self.canonical(Self.bits(y), anyNaN: true) == Self.canonical(expected, anyNaN: true), "n=\(n) offset=\(offset)")
            #expect(Self.guarded(buffer, offset, n))
            Elementwise.add(y: a, a: a, b: b, count: n)
            #expect(Self.canonical(Self.bits(a), anyNaN: true) == Self.canonical(expected, anyNaN: true))
            let a2 = Self.view(values, offset)
            Elementwise.add(y: b, a: a2, b: b, count: n)
            #expect(Self.canonical(Self.bits(b), anyNaN: true) == Self.canonical(expected, anyNaN: true))
        }
    }

    @Test("Elementwise.scale and copyRows match their per-element references bit for bit")
    func scaleAndCopy() {
        let values = Array(Self.scrambled.prefix(3 * 5 * 7 + 1))
        for (rows, channels, plane) in [(3, 5, 7), (1, 1, 1), (2, 1, 9), (1, 3, 2), (2, 4, 33)] where rows * channels * plane <= values.count {
            let n = rows * channels * plane
            let x = Self.view(Array(values.prefix(n)), 1)
            let s: [Float16] = Array(Self.specials.prefix(channels))
            let (y, _) = Self.out(n, 1)
            Elementwise.scale(y: y, x: x, s: Buffer(s).view, rows: rows, channels: channels, plane: plane)
            let expected = (0 ..< n).map { Float16(Float(values[$0]) * Float(s[($0 / plane) % channels])).bitPattern }
            #expect(Self.canonical(Self.bits(y), anyNaN: true) == Self.canonical(expected, anyNaN: true))
        }
        for (length, rows, xStride, xOffset, yStride, yOffset) in [(1, 3, 4, 1, 5, 2), (7, 2, 9, 1, 11, 3), (33, 3, 40, 0, 70, 37)] {
            let x = Self.view(Array(Self.scrambled.prefix(xStride * rows)), 1), (y, buffer) = Self.out(yStride * rows, 0)
            let before = Self.bits(y)
            Elementwise.copyRows(y: y, yStride: yStride, yOffset: yOffset, x: x, xStride: xStride, xOffset: xOffset, length: length, rows: rows)
            var expected = before
            for n in 0 ..< rows { for i in 0 ..< length { expected[n * yStride + yOffset + i] = x[n * xStride + xOffset + i].bitPattern } }
            #expect(Self.bits(y) == expected)
            #expect(Self.guarded(buffer, 0, yStride * rows))
        }
    }

    @Test("BatchNorm forward and backward match their per-element references bit for bit, fp16 and fp32 parameters")
    func batchNorm() {
        for (rows, channels, plane) in [(2, 3, 5), (1, 1, 1), (3, 2, 2), (1, 4, 33), (2, 21, 3)] {
            let n = rows * channels * plane
            let xs = Array(Self.scrambled.suffix(n)), dys = Array(Self.scrambled.prefix(n))
            let gammaH = (0 ..< channels).map { Self.specials[($0 * 5 + 6) % Self.specials.count] }
            let betaH = (0 ..< channels).map { Self.specials[($0 * 3 + 14) % Self.specials.count] }
            let gammaF = (0 ..< channels).map { Float($0) * 0.37 - 1.1 }, betaF = (0 ..< channels).map { 0.1 - Float($0) * 0.013 }
            let mean = (0 ..< channels).map { Float($0) * 0.25 - 0.3 }, inv = (0 ..< channels).map { 1.5 / Float($0 + 1) }
            for master in [false, true] {
                let g: ParameterView = master ? .master(Buffer(gammaF).view) : .half(Buffer(gammaH).view)
                let bt: ParameterView = master ? .master(Buffer(betaF).view) : .half(Buffer(betaH).view)
                let x = Self.view(xs, 1), (y, _) = Self.out(n, 1)
                BatchNorm.forward(y: y, x: x, gamma: g, beta: bt, mean: Buffer(mean).view, invStd: Buffer(inv).view,
                                  rows: rows, channels: channels, plane: plane)
                let expected = (0 ..< n).map { i -> UInt16 in
                    let c = (i / plane) % channels
                    return Float16(g.computeValue(c) * ((Float(xs[i]) - mean[c]) * inv[c]) + bt.computeValue(c)).bitPattern
                }
                #expect(Self.canonical(Self.bits(y), anyNaN: true) == Self.canonical(expected, anyNaN: true), "forward \(rows)x\(channels)x\(plane) master=\(master)")

                let dy = Self.view(dys, 1), (dx, _) = Self.out(n, 1)
                let dG = Buffer(repeating: Float16(7), count: channels), dB = Buffer(repeating: Float16(7), count: channels)
                BatchNorm.backward(dx: dx, dGamma: dG.view, dBeta: dB.view, dy: dy, x: x, gamma: g, mean: Buffer(mean).view,
                                   invStd: Buffer(inv).view, rows: rows, channels: channels, plane: plane)
                var eDx = [UInt16](repeating: 0, count: n), eG = [UInt16](), eB = [UInt16]()
                for c in 0 ..< channels {
                    let gc = g.computeValue(c), mu = mean[c], s = inv[c]
                    var sumG: Float = 0, sumB: Float = 0
                    for r in 0 ..< rows {
                        for q in 0 ..< plane {
                            let at = (r * channels + c) * plane + q, d = Float(dys[at])
                            sumG += d * ((Float(xs[at]) - mu) * s); sumB += d
                            eDx[at] = Float16(d * gc * s).bitPattern
                        }
                    }
                    eG.append(Float16(sumG).bitPattern); eB.append(Float16(sumB).bitPattern)
                }
                #expect(Self.canonical(Self.bits(dx), anyNaN: true) == Self.canonical(eDx, anyNaN: true), "backward dx \(rows)x\(channels)x\(plane) master=\(master)")
                #expect(Self.canonical(dG.array.map(\.bitPattern), anyNaN: true) == Self.canonical(eG, anyNaN: true))
                #expect(Self.canonical(dB.array.map(\.bitPattern), anyNaN: true) == Self.canonical(eB, anyNaN: true))
                let dG2 = Buffer(repeating: Float16(7), count: channels)
                BatchNorm.backward(dx: nil, dGamma: dG2.view, dBeta: nil, dy: dy, x: x, gamma: g, mean: Buffer(mean).view,
                                   invStd: Buffer(inv).view, rows: rows, channels: channels, plane: plane)
                #expect(Self.canonical(dG2.array.map(\.bitPattern), anyNaN: true) == Self.canonical(eG, anyNaN: true))
            }
        }
    }

    @Test("global average pooling forward and backward match their per-element references bit for bit")
    func globalAveragePool() {
        for (rows, channels, plane) in [(2, 3, 5), (1, 1, 1), (1, 2, 49), (3, 5, 4), (1, 7, 65)] {
            let n = rows * channels * plane
            let xs = Array(Self.scrambled.suffix(n + 77).prefix(n))
            let x = Self.view(xs, 1), (y, _) = Self.out(rows * channels, 1)
            AveragePool2D.globalForward(y: y, x: x, rows: rows, channels: channels, plane: plane)
            let expected = (0 ..< rows * channels).map { nc -> UInt16 in
                var acc: Float = 0
                for q in 0 ..< plane { acc += Float(xs[nc * plane + q]) }
                return Float16(acc / Float(plane)).bitPattern
            }
            #expect(Self.canonical(Self.bits(y), anyNaN: true) == Self.canonical(expected, anyNaN: true))
            let dys = Array(Self.scrambled.prefix(rows * channels))
            let dy = Self.view(dys, 1), (dx, buffer) = Self.out(n, 1)
            AveragePool2D.globalBackward(dx: dx, dy: dy, rows: rows, channels: channels, plane: plane)
            let eDx = (0 ..< n).map { Float16(Float(dys[$0 / plane]) / Float(plane)).bitPattern }
            #expect(Self.canonical(Self.bits(dx)) == Self.canonical(eDx))
            #expect(Self.guarded(buffer, 1, n))
        }
    }

    @Test("ReLU's portable loops match the per-element reference bit for bit")
    func reluPortable() {
        Self.cases { values, offset in
            let n = values.count
            let x = Self.view(values, offset), (y, _) = Self.out(n, offset)
            ReLU.portableForward(y: y, x: x, count: n)
            #expect(Self.bits(y) == values.map { ($0 > 0 ? $0 : 0).bitPattern })
            let grads = (0 ..< n).map { values[(($0 &* 31) &+ 3) % n] }
            let dy = Self.view(grads, offset), (dx, _) = Self.out(n, offset)
            ReLU.portableBackward(dx: dx, dy: dy, y: x, count: n)
            #expect(Self.bits(dx) == (0 ..< n).map { (values[$0] > 0 ? grads[$0] : 0).bitPattern })
        }
    }
}
