import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// The im2col panel forward (`--conv-panels`) against the direct kernel: the same bits for finite
/// weights, whatever the panel's width, the window's stride, padding and groups, and the inputs'
/// infinities, NaNs, signed zeros and fp16-overflowing products.
struct Conv2DPanelTests {
    /// Windows of every shape the panel must handle; panel widths that split output rows, leave
    /// fewer than four pixels at the end, or hold the whole plane.
    static let cases: [(Conv2DTests.Case, [Int])] = Conv2DTests.blockedCases.map { ($0, [1, 3, 4, 6, 16]) } + [
        (Conv2DTests.Case(name: "digits conv1: 1→8 3x3 pad 1 on 8x8", window: .init(channels: 1, outputs: 8, height: 8, width: 8, outHeight: 8, outWidth: 8,
                                                                                 kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1,
                                                                                 padTop: 1, padLeft: 1, group: 1, trainedOutputs: 8)), [16, 64]),
        (Conv2DTests.Case(name: "MobileNetV2 stem shape: 3→6 3x3 stride 2 on 9x10", window: .init(channels: 3, outputs: 6, height: 9, width: 10, outHeight: 5, outWidth: 5,
                                                                                            kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
                                                                                            padTop: 1, padLeft: 1, group: 1, trainedOutputs: 6)), [4, 16, 25]),
        (Conv2DTests.Case(name: "stride 3, 5 outputs, pad 2", window: .init(channels: 2, outputs: 5, height: 11, width: 13, outHeight: 4, outWidth: 5,
                                                                           kernelHeight: 3, kernelWidth: 4, strideHeight: 3, strideWidth: 3,
                                                                           padTop: 2, padLeft: 2, group: 1, trainedOutputs: 5)), [2, 5, 8]),
    ]
    static let arguments: [(Conv2DTests.Case, Int)] = cases.flatMap { c, widths in widths.map { (c, $0) } }
    let rows = 2

    @Test("the panel forward equals the direct kernel bit for bit, for every panel width", arguments: arguments)
    func panelEqualsDirect(_ c: Conv2DTests.Case, pixels: Int) {
        let g = c.window
        var rng = TestRandom(31)
        var x = rng.halves(rows * g.inputElements, -4, 4)
        let w = rng.halves(g.outputs * g.weightsPerOutput), b = rng.halves(g.outputs)
        let specials: [Float16] = [.infinity, -.infinity, .nan, -0.0, 0.0, 60000, -60000]
        for (k, v) in specials.enumerated() { x[(k * 37) % x.count] = v }
        let direct = Buffer(repeating: Float16(0), count: rows * g.outputElements)
        let panel = Buffer(repeating: Float16.nan, count: pixels * g.weightsPerOutput)
        let y = Buffer(repeating: Float16(0), count: rows * g.outputElements)
        Conv2D.forward(y: direct.view, x: Buffer(x).view, weight: .half(Buffer(w).view), bias: .half(Buffer(b).view), rows: rows, window: g)
        Conv2DPanel.forward(y: y.view, x: Buffer(x).view, weight: .half(Buffer(w).view), bias: .half(Buffer(b).view),
                            panel: panel.view, rows: rows, window: g)
        #expect(y.array.map(\.bitPattern) == direct.array.map(\.bitPattern), "\(c), \(pixels) pixels per panel")
    }

    @Test("with fp32 master weights and no bias the panel forward still equals the direct kernel")
    func masterWeightsWithoutBias() {
        let g = Conv2DTests.blockedCases[1].window
        var rng = TestRandom(32)
        let x = rng.halves(rows * g.inputElements)
        let w32 = (0 ..< g.outputs * g.weightsPerOutput).map { _ in Float(rng.uniform(-1, 1)) }
        let direct = Buffer(repeating: Float16(0), count: rows * g.outputElements), y = Buffer(repeating: Float16(0), count: rows * g.outputElements)
        Conv2D.forward(y: direct.view, x: Buffer(x).view, weight: .master(Buffer(w32).view), bias: nil, rows: rows, window: g)
        Conv2DPanel.forward(y: y.view, x: Buffer(x).view, weight: .master(Buffer(w32).view), bias: nil,
                            panel: Buffer(repeating: Float16(0), count: 16 * g.weightsPerOutput).view, rows: rows, window: g)
        #expect(y.array.map(\.bitPattern) == direct.array.map(\.bitPattern))
    }

    @Test("an output whose taps all lie in the padding is its bias, not −0 or NaN, as in the direct kernel")
    func paddingOnlyOutputsAreTheBias() {
        // A 1×1 input with a 3×3 window and padding 3: the outer ring of outputs sees padding only.
        let g = Window2D(channels: 1, outputs: 4, height: 1, width: 1, outHeight: 5, outWidth: 5, kernelHeight: 3, kernelWidth: 3,
                         strideHeight: 1, strideWidth: 1, padTop: 3, padLeft: 3, group: 1, trainedOutputs: 4)
        let w = [Float16](repeating: -1.5, count: 4 * 9), b: [Float16] = [-0.0, 0.0, 1, -2]
        let y = Buffer(repeating: Float16.nan, count: g.outputElements), direct = Buffer(repeating: Float16.nan, count: g.outputElements)
        Conv2D.forward(y: direct.view, x: Buffer([Float16(-0.0)]).view, weight: .half(Buffer(w).view), bias: .half(Buffer(b).view), rows: 1, window: g)
        Conv2DPanel.forward(y: y.view, x: Buffer([Float16(-0.0)]).view, weight: .half(Buffer(w).view), bias: .half(Buffer(b).view),
                            panel: Buffer(repeating: Float16(0), count: 9 * 9).view, rows: 1, window: g)
        #expect(y.array.map(\.bitPattern) == direct.array.map(\.bitPattern))
        #expect(y.array[0].bitPattern == Float16(0).bitPattern, "−0 bias plus an empty sum is +0")
    }
}
