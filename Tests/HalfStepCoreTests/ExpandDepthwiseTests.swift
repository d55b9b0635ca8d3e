import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// The fused expansion + depthwise forward must be a pure memory lever: the same bits as running
/// `Conv2D` (1×1), the activation, `Conv2D` (depthwise) and the activation one after another.
struct ExpandDepthwiseTests {
    struct Case: CustomStringConvertible {
        var name: String
        var channels: Int, hidden: Int, height: Int, width: Int
        var kernel: Int, stride: Int, pad: Int
        var first: ExpandDepthwise.Activation, second: ExpandDepthwise.Activation
        var biases: Bool
        var description: String { name }

        var expand: Window2D {
            .init(channels: channels, outputs: hidden, height: height, width: width, outHeight: height, outWidth: width,
                  kernelHeight: 1, kernelWidth: 1, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0, group: 1, trainedOutputs: hidden)
        }
        var depthwise: Window2D {
            let oh = (height + 2 * pad - kernel) / stride + 1, ow = (width + 2 * pad - kernel) / stride + 1
            return .init(channels: hidden, outputs: hidden, height: height, width: width, outHeight: oh, outWidth: ow,
                         kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride, strideWidth: stride,
                         padTop: pad, padLeft: pad, group: hidden, trainedOutputs: hidden)
        }
    }

    static let cases: [Case] = [
        Case(name: "ReLU6, 3x3 stride 1", channels: 4, hidden: 12, height: 6, width: 6, kernel: 3, stride: 1, pad: 1,
             first: .relu6, second: .relu6, biases: true),
        Case(name: "ReLU6, 3x3 stride 2, odd plane", channels: 3, hidden: 9, height: 7, width: 5, kernel: 3, stride: 2, pad: 1,
             first: .relu6, second: .relu6, biases: true),
        Case(name: "ReLU then ReLU6, no biases", channels: 5, hidden: 6, height: 4, width: 4, kernel: 3, stride: 1, pad: 1,
             first: .relu, second: .relu6, biases: false),
        Case(name: "5x5 stride 2, one input channel", channels: 1, hidden: 4, height: 9, width: 9, kernel: 5, stride: 2, pad: 2,
             first: .relu, second: .relu, biases: true),
    ]

    static func activate(_ a: ExpandDepthwise.Activation, _ t: TensorView<Float16>, count: Int) {
        switch a {
        case .none: break
        case .relu: ReLU.forward(y: t, x: t, count: count)
        case .relu6: Activation.forward(.clip, y: t, x: t, count: count, a: 0, b: 6)
        }
    }

    @Test("the fused forward gives bit for bit what the four unfused ops give", arguments: cases)
    func fusedEqualsUnfused(_ c: Case) {
        let rows = 2
        var rng = TestRandom(31)
        let e = c.expand, d = c.depthwise
        // Weights scaled so a good share of values clip at 0 and at 6: both activation edges run.
        let x = Buffer(rng.halves(rows * e.inputElements, -3, 3))
        let we = Buffer(rng.halves(c.hidden * c.channels, -2, 2)), be = Buffer(rng.halves(c.hidden, -1, 1))
        let wd = Buffer(rng.halves(c.hidden * c.kernel * c.kernel, -1.5, 1.5)), bd = Buffer(rng.halves(c.hidden, -1, 1))
        let expandBias: ParameterView? = c.biases ? .half(be.view) : nil
        let depthwiseBias: ParameterView? = c.biases ? .half(bd.view) : nil

        let hidden = Buffer(repeating: Float16(0), count: rows * e.outputElements)
        let reference = Buffer(repeating: Float16(0), count: rows * d.outputElements)
        Conv2D.forward(y: hidden.view, x: x.view, weight: .half(we.view), bias: expandBias, rows: rows, window: e)
        Self.activate(c.first, hidden.view, count: hidden.count)
        Conv2D.forward(y: reference.view, x: hidden.view, weight: .half(wd.view), bias: depthwiseBias, rows: rows, window: d)
        Self.activate(c.second, reference.view, count: reference.count)

        let fused = Buffer(repeating: Float16(0), count: rows * d.outputElements)
        let scratch = Buffer(repeating: Float16(0), count: c.height * c.width)
        ExpandDepthwise.forward(y: fused.view, x: x.view, expand: .half(we.view), expandBias: expandBias,
                                depthwise: .half(wd.view), depthwiseBias: depthwiseBias, scratch: scratch.view,
                                rows: rows, channels: c.channels, window: d, first: c.first, second: c.second)
        let want = reference.array.map(\.bitPattern), got = fused.array.map(\.bitPattern)
        let mismatches = want.indices.filter { want[$0] != got[$0] }
        #expect(mismatches.isEmpty, "\(c): \(mismatches.count) of \(want.count) outputs differ, first at \(mismatches.first ?? -1)")
        // The case must exercise both clipping edges, or it proves less than it says.
        let values = reference.array
        #expect(values.contains(0))
        if c.second == .relu6 { #expect(values.contains(6)) }
    }

    @Test("the fused forward reads fp32 master weights rounded to fp16, like the unfused ops")
    func masterWeightsRoundLikeUnfused() {
        let c = Self.cases[0], rows = 1
        var rng = TestRandom(32)
        let e = c.expand, d = c.depthwise
        let x = Buffer(rng.halves(rows * e.inputElements, -3, 3))
        let we = Buffer((0 ..< c.hidden * c.channels).map { _ in Float(rng.uniform(-2, 2)) })
        let wd = Buffer((0 ..< c.hidden * 9).map { _ in Float(rng.uniform(-1.5, 1.5)) })
        let hidden = Buffer(repeating: Float16(0), count: rows * e.outputElements)
        let reference = Buffer(repeating: Float16(0), count: rows * d.outputElements)
        Conv2D.forward(y: hidden.view, x: x.view, weight: .master(we.view), bias: nil, rows: rows, window: e)
        Self.activate(.relu6, hidden.view, count: hidden.count)
        Conv2D.forward(y: reference.view, x: hidden.view, weight: .master(wd.view), bias: nil, rows: rows, window: d)
        Self.activate(.relu6, reference.view, count: reference.count)
        let fused = Buffer(repeating: Float16(0), count: rows * d.outputElements)
        ExpandDepthwise.forward(y: fused.view, x: x.view, expand: .master(we.view), expandBias: nil,
                                depthwise: .master(wd.view), depthwiseBias: nil, scratch: Buffer(repeating: Float16(0), count: 36).view,
                                rows: rows, channels: c.channels, window: d, first: .relu6, second: .relu6)
        #expect(fused.array.map(\.bitPattern) == reference.array.map(\.bitPattern))
    }
}

/// The fused forward pinned bit for bit against a one-output loop (every hidden value and every
/// output computed on its own, in the kernel's documented order), over the shapes and values
/// where a blocked kernel can go wrong: planes too small for a block, odd channel counts, hidden
/// counts that leave a remainder, stride 2, padding that makes the output larger than the input,
/// every activation pair, and inputs that are NaN, infinite or overflow fp16 on the way.
struct ExpandDepthwiseOrderTests {
    struct Case: CustomStringConvertible, Sendable {
        var channels: Int, hidden: Int, height: Int, width: Int
        var kernel: Int, stride: Int, pad: Int
        var first: ExpandDepthwise.Activation, second: ExpandDepthwise.Activation
        var biases: Bool = true
        var description: String {
            "C\(channels)→\(hidden) \(height)x\(width) k\(kernel) s\(stride) p\(pad) \(first)/\(second)\(biases ? "" : " no biases")"
        }
        var window: Window2D {
            let oh = (height + 2 * pad - kernel) / stride + 1, ow = (width + 2 * pad - kernel) / stride + 1
            return .init(channels: hidden, outputs: hidden, height: height, width: width, outHeight: oh, outWidth: ow,
                         kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride, strideWidth: stride,
                         padTop: pad, padLeft: pad, group: hidden, trainedOutputs: 0)
        }
    }

    static let cases: [Case] = [
        Case(channels: 3, hidden: 5, height: 1, width: 1, kernel: 3, stride: 1, pad: 1, first: .relu6, second: .relu6),
        Case(channels: 1, hidden: 4, height: 1, width: 1, kernel: 1, stride: 1, pad: 0, first: .none, second: .relu),
        Case(channels: 5, hidden: 9, height: 3, width: 3, kernel: 3, stride: 2, pad: 1, first: .relu, second: .none),
        Case(channels: 8, hidden: 8, height: 3, width: 3, kernel: 3, stride: 1, pad: 1, first: .relu6, second: .relu),
        Case(channels: 7, hidden: 13, height: 6, width: 6, kernel: 3, stride: 1, pad: 1, first: .relu6, second: .relu6),
        Case(channels: 8, hidden: 12, height: 6, width: 6, kernel: 3, stride: 2, pad: 1, first: .relu6, second: .relu6),
        Case(channels: 3, hidden: 6, height: 6, width: 6, kernel: 3, stride: 2, pad: 0, first: .none, second: .none),
        Case(channels: 3, hidden: 17, height: 12, width: 12, kernel: 3, stride: 1, pad: 1, first: .none, second: .relu6),
        Case(channels: 8, hidden: 48, height: 12, width: 12, kernel: 3, stride: 2, pad: 1, first: .relu6, second: .none),
        Case(channels: 5, hidden: 11, height: 12, width: 12, kernel: 5, stride: 2, pad: 2, first: .relu, second: .relu6),
        Case(channels: 3, hidden: 9, height: 7, width: 5, kernel: 3, stride: 2, pad: 1, first: .relu, second: .relu),
        Case(channels: 4, hidden: 6, height: 6, width: 6, kernel: 3, stride: 1, pad: 2, first: .relu6, second: .relu6),
        Case(channels: 2, hidden: 7, height: 5, width: 9, kernel: 3, stride: 1, pad: 0, first: .none, second: .relu6),
        Case(channels: 16, hidden: 20, height: 12, width: 12, kernel: 3, stride: 1, pad: 1, first: .none, second: .none, biases: false),
        Case(channels: 9, hidden: 10, height: 12, width: 12, kernel: 3, stride: 2, pad: 1, first: .relu, second: .relu6, biases: false),
    ]

    /// The one-output loop: each hidden value sums over the input channels in order, each output
    /// over (kernel row, kernel column) with padding taps skipped, in fp32 from 0; each rounds to
    /// fp16 once, adds its bias before rounding and is activated after.
    static func reference(x: [Float16], we: [Float], be: [Float]?, wd: [Float], bd: [Float]?,
                          rows: Int, channels: Int, _ g: Window2D, _ first: ExpandDepthwise.Activation,
                          _ second: ExpandDepthwise.Activation) -> [Float16] {
        let plane = g.height * g.width, taps = g.kernelHeight * g.kernelWidth
        var y: [Float16] = []
        for n in 0 ..< rows {
            for h in 0 ..< g.channels {
                var hidden = [Float16](repeating: 0, count: plane)
                for q in 0 ..< plane {
                    var acc: Float = 0
                    for c in 0 ..< channels { acc += Float(x[(n * channels + c) * plane + q]) * we[h * channels + c] }
                    hidden[q] = first.apply(Float16(acc + (be?[h] ?? 0)))
                }
                for oh in 0 ..< g.outHeight {
                    for ow in 0 ..< g.outWidth {
                        var acc: Float = 0
                        for kh in 0 ..< g.kernelHeight {
                            let ih = oh * g.strideHeight - g.padTop + kh
                            guard ih >= 0 && ih < g.height else { continue }
                            for kw in 0 ..< g.kernelWidth {
                                let iw = ow * g.strideWidth - g.padLeft + kw
                                guard iw >= 0 && iw < g.width else { continue }
                                acc += Float(hidden[ih * g.width + iw]) * wd[h * taps + kh * g.kernelWidth + kw]
                            }
                        }
                        y.append(second.apply(Float16(acc + (bd?[h] ?? 0))))
                    }
                }
            }
        }
        return y
    }

    /// What a case's data is made of.
    enum Data: CaseIterable, Sendable {
        /// Uniform in a range.
        case plain
        /// About one in 12 NaN, ±inf, ±65504, ±0, a subnormal or large enough that products and
        /// sums overflow fp16.
        case special
        /// Powers of two from 2^-6 to 2^12 of either sign: products 2^24 apart, so an fp32 sum
        /// loses its small terms or keeps them depending on its order, and the fp16 result shows it.
        case cancelling
    }

    /// `count` fp16 values in [lo, hi] (`.plain`), or as `data` says.
    static func values(_ rng: inout TestRandom, _ count: Int, _ lo: Double, _ hi: Double, _ data: Data) -> [Float16] {
        let specials: [Float16] = [.nan, .infinity, -.infinity, 65504, -65504, 0, -0.0, 6e-8, -6e-8, 300, -300, 2000]
        let powers: [Float16] = [4096, -4096, 1, -1, 0.015625, -0.015625, 64, -0.5]
        return rng.halves(count, lo, hi).map { v in
            switch data {
            case .plain: return v
            case .special: return rng.next() % 12 == 0 ? specials[Int(rng.next() % UInt64(specials.count))] : v
            case .cancelling: return powers[Int(rng.next() % UInt64(powers.count))]
            }
        }
    }

    /// Same bits, or both NaN (a NaN's sign and payload are not a value the order decides).
    static func mismatches(_ got: [Float16], _ want: [Float16]) -> [Int] {
        want.indices.filter { got[$0].bitPattern != want[$0].bitPattern && !(got[$0].isNaN && want[$0].isNaN) }
    }

    @Test("the fused forward equals the one-output loop bit for bit", arguments: cases, Data.allCases)
    func fusedEqualsOneOutputLoop(_ c: Case, data: Data) {
        let rows = 2, g = c.window, plane = c.height * c.width, taps = c.kernel * c.kernel
        var rng = TestRandom(UInt64(41 + c.channels * 131 + c.hidden * 7 + c.height))
        let x = Self.values(&rng, rows * c.channels * plane, -3, 3, data)
        let we = Self.values(&rng, c.hidden * c.channels, -2, 2, data)
        let wd = Self.values(&rng, c.hidden * taps, -1.5, 1.5, data)
        let be = rng.halves(c.hidden, -1, 1), bd = rng.halves(c.hidden, -1, 1)
        // fp16 weights, then fp32 masters that compute sees rounded to fp16 (a share of them off the fp16 grid).
        for master in [false, true] {
            let weFloat = we.map { master ? Float($0) * (1 + 1e-4) : Float($0) }
            let wdFloat = wd.map { master ? Float($0) * (1 - 3e-4) : Float($0) }
            let want = Self.reference(x: x, we: weFloat.map { Float(Float16($0)) }, be: c.biases ? be.map(Float.init) : nil,
                                      wd: wdFloat.map { Float(Float16($0)) }, bd: c.biases ? bd.map(Float.init) : nil,
                                      rows: rows, channels: c.channels, g, c.first, c.second)
            let weBuffer = Buffer(weFloat), wdBuffer = Buffer(wdFloat)
            let weHalf = Buffer(we), wdHalf = Buffer(wd), beBuffer = Buffer(be), bdBuffer = Buffer(bd)
            let expand: ParameterView = master ? .master(weBuffer.view) : .half(weHalf.view)
            let depthwise: ParameterView = master ? .master(wdBuffer.view) : .half(wdHalf.view)
            // One sample more than the rows run, and garbage everywhere: every output of the rows
            // run must be written, nothing past them touched.
            let sentinel = Float16(bitPattern: 0x7E5A)
            let y = Buffer(repeating: sentinel, count: (rows + 1) * g.outputElements)
            let scratch = Buffer(repeating: sentinel, count: plane)
            ExpandDepthwise.forward(y: y.view, x: Buffer(x).view, expand: expand, expandBias: c.biases ? .half(beBuffer.view) : nil,
                                    depthwise: depthwise, depthwiseBias: c.biases ? .half(bdBuffer.view) : nil, scratch: scratch.view,
                                    rows: rows, channels: c.channels, window: g, first: c.first, second: c.second)
            let got = Array(y.array[0 ..< rows * g.outputElements])
            let bad = Self.mismatches(got, want)
            #expect(bad.isEmpty, "\(c) master \(master) \(data): \(bad.count) of \(want.count) outputs differ, first at \(bad.first ?? -1): \(bad.first.map { "\(got[$0]) vs \(want[$0])" } ?? "")")
            #expect(y.array.dropFirst(rows * g.outputElements).allSatisfy { $0.bitPattern == sentinel.bitPattern }, "\(c): wrote past the rows run")
            if data == .plain {
                // Finite data must reach finite, non-trivial outputs, or the case proves little.
                #expect(want.contains { $0 != 0 && $0.isFinite })
            }
        }
    }
}
