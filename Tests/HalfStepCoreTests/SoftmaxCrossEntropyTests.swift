import Foundation
import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// Tolerance: dlogits are stored in fp16 (relative 2⁻¹¹) and the core's exp/log are within a few
/// Float ulp, so 1e-3 relative + 2e-5 absolute against Double finite differences.
struct SoftmaxCrossEntropyTests {
    let n = 6, c = 10

    func referenceLoss(_ z: [Double], _ labels: [Int32]) -> Double {
        var total = 0.0
        for i in 0 ..< n {
            let row = z[(i * c) ..< (i * c + c)]
            let peak = row.max()!
            let lse = peak + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - peak) })
            total += lse - z[i * c + Int(labels[i])]
        }
        return total / Double(n)
    }

    @Test("loss equals mean cross-entropy computed in Double")
    func lossMatchesReference() {
        var rng = TestRandom(6)
        let z = rng.halves(n * c, -4, 4)
        let labels = (0 ..< n).map { Int32($0 % c) }
        let loss = Buffer<Float>([0]), d = Buffer(repeating: Float16(0), count: n * c)
        SoftmaxCrossEntropy.forwardBackward(loss: loss.view, dlogits: d.view, logits: Buffer(z).view, labels: Buffer(labels).view,
                                            rows: n, classes: c, scale: 1)
        let expected = referenceLoss(z.map(Double.init), labels)
        #expect(abs(Double(loss.array[0]) - expected) <= 1e-6 * max(1, expected))
        #expect(abs(Double(SoftmaxCrossEntropy.loss(logits: Buffer(z).view, labels: Buffer(labels).view, rows: n, classes: c)) - expected) <= 1e-6 * max(1, expected))
    }

    @Test("dlogits equal finite differences of the Double loss")
    func gradientMatchesFiniteDifferences() {
        var rng = TestRandom(7)
        let z = rng.halves(n * c, -4, 4)
        let labels = (0 ..< n).map { Int32(($0 * 3) % c) }
        let loss = Buffer<Float>([0]), d = Buffer(repeating: Float16(0), count: n * c)
        SoftmaxCrossEntropy.forwardBackward(loss: loss.view, dlogits: d.view, logits: Buffer(z).view, labels: Buffer(labels).view,
                                            rows: n, classes: c, scale: 1)
        let base = z.map(Double.init)
        let fd = (0 ..< n * c).map { i in
            var plus = base, minus = base
            plus[i] += 1e-5; minus[i] -= 1e-5
            return (referenceLoss(plus, labels) - referenceLoss(minus, labels)) / 2e-5
        }
        expectClose(d.array, fd, tolerance: .softmaxGradient, "dlogits against finite differences")
    }

    @Test("the loss scale multiplies the gradient but not the reported loss")
    func scaleAppliesToGradientOnly() {
        var rng = TestRandom(8)
        let z = rng.halves(n * c, -2, 2)
        let labels = (0 ..< n).map { Int32($0) }
        let l1 = Buffer<Float>([0]), l2 = Buffer<Float>([0])
        let d1 = Buffer(repeating: Float16(0), count: n * c), d2 = Buffer(repeating: Float16(0), count: n * c)
        SoftmaxCrossEntropy.forwardBackward(loss: l1.view, dlogits: d1.view, logits: Buffer(z).view, labels: Buffer(labels).view, rows: n, classes: c, scale: 1)
        SoftmaxCrossEntropy.forwardBackward(loss: l2.view, dlogits: d2.view, logits: Buffer(z).view, labels: Buffer(labels).view, rows: n, classes: c, scale: 1024)
        #expect(l1.array == l2.array)
        for i in 0 ..< n * c where abs(d1.array[i]) > 1e-3 {
            #expect(abs(Double(d2.array[i]) / Double(d1.array[i]) - 1024) <= 1024 * 2e-3)
        }
    }

    @Test("a label outside the classes makes the loss NaN and reads no logit outside its row",
          arguments: [Int32(-1), 10, Int32.max, Int32.min])
    func labelOutsideTheClassesGivesNaN(_ bad: Int32) {
        var rng = TestRandom(9)
        let z = rng.halves(n * c, -2, 2)
        var labels = (0 ..< n).map { Int32($0) }
        labels[2] = bad
        let loss = Buffer<Float>([0]), d = Buffer(repeating: Float16(0), count: n * c)
        SoftmaxCrossEntropy.forwardBackward(loss: loss.view, dlogits: d.view, logits: Buffer(z).view, labels: Buffer(labels).view,
                                            rows: n, classes: c, scale: 1)
        #expect(loss.array[0].isNaN)
        #expect(SoftmaxCrossEntropy.loss(logits: Buffer(z).view, labels: Buffer(labels).view, rows: n, classes: c).isNaN)
        // The bad row's gradient is the softmax alone: every entry positive, none with the −1 of a label.
        #expect((0 ..< c).allSatisfy { d.array[2 * c + $0] > 0 })
    }
}
