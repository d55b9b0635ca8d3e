import Testing
import HalfStepTestSupport
@testable import HalfStepCore

struct ReLUTests {
    @Test("forward keeps positive values and zeroes the rest, in place")
    func forwardInPlace() {
        let x = Buffer<Float16>([-2, -0.5, 0, 0.25, 3])
        ReLU.forward(y: x.view, x: x.view, count: 5)
        #expect(x.array == [0, 0, 0, 0.25, 3])
    }

    @Test("backward equals finite differences of max(x, 0) away from the kink")
    func backwardMatchesFiniteDifferences() {
        var rng = TestRandom(5)
        let x = rng.halves(64).map { abs($0) < 0.01 ? Float16(0.5) : $0 }
        let dy = rng.halves(64)
        let y = Buffer(repeating: Float16(0), count: 64)
        ReLU.forward(y: y.view, x: Buffer(x).view, count: 64)
        let dx = Buffer(repeating: Float16(0), count: 64)
        ReLU.backward(dx: dx.view, dy: Buffer(dy).view, y: y.view, count: 64)
        for i in 0 ..< 64 {
            let h = 1e-3, xi = Double(x[i])
            let fd = (max(xi + h, 0) - max(xi - h, 0)) / (2 * h) * Double(dy[i])
            #expect(abs(Double(dx.array[i]) - fd) <= 1e-6, "dx[\(i)] = \(dx.array[i]), finite difference \(fd)")
        }
    }

    @Test("backward at exactly zero passes no gradient, as PyTorch does")
    func zeroPassesNoGradient() {
        let y = Buffer<Float16>([0]), dy = Buffer<Float16>([1]), dx = Buffer<Float16>([5])
        ReLU.backward(dx: dx.view, dy: dy.view, y: y.view, count: 1)
        #expect(dx.array == [0])
    }
}
