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
