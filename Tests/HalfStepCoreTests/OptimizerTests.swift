import Testing
import HalfStepTestSupport
@testable import HalfStepCore

struct OptimizerTests {
    @Test("SGD with momentum follows PyTorch's recurrence over three steps")
    func sgdMomentumRecurrence() {
        let w = Buffer<Float>([1.0, -2.0]), v = Buffer<Float>([0, 0])
        let grads: [[Float16]] = [[0.5, -0.25], [0.25, 0.125], [-1, 0.5]]
        var expectedW: [Double] = [1, -2], buf: [Double] = [0, 0]
        for g in grads {
            _ = SGD.update(param: w.view, grad: Buffer(g).view, momentum: v.view, count: 2,
                           learningRate: 0.1, momentumFactor: 0.9, weightDecay: 0.01, inverseScale: 1)
            for i in 0 ..< 2 {
                let gi = Double(g[i]) + 0.01 * expectedW[i]
                buf[i] = 0.9 * buf[i] + gi
                expectedW[i] -= 0.1 * buf[i]
            }
        }
        for i in 0 ..< 2 { #expect(abs(Double(w.array[i]) - expectedW[i]) < 1e-6) }
    }

    @Test("the inverse loss scale undoes the scale before the update")
    func inverseScaleUnscales() {
        let a = Buffer<Float>([1]), b = Buffer<Float>([1])
        _ = SGD.update(param: a.view, grad: Buffer<Float16>([0.5]).view, momentum: Optional<TensorView<Float>>.none, count: 1,
                       learningRate: 0.1, momentumFactor: 0, weightDecay: 0, inverseScale: 1)
        _ = SGD.update(param: b.view, grad: Buffer<Float16>([512]).view, momentum: Optional<TensorView<Float>>.none, count: 1,
                       learningRate: 0.1, momentumFactor: 0, weightDecay: 0, inverseScale: 1.0 / 1024)
        #expect(a.array == b.array)
    }

    @Test("every fp16 weight counts an underflow exactly when a tiny update leaves it unchanged")
    func underflowCountedExhaustively() {
        // All 63,488 finite fp16 patterns (65,536 minus infinities and NaNs), one SGD step each.
        var finite: [Float16] = []
        for bits in 0 ... UInt16.max { let h = Float16(bitPattern: bits); if h.isFinite { finite.append(h) } }
        let w = Buffer(finite), g = Buffer(repeating: Float16(1), count: finite.count)
        let tally = SGD.update(param: w.view, grad: g.view, momentum: Optional<TensorView<Float16>>.none, count: finite.count,
                               learningRate: 1e-4, momentumFactor: 0, weightDecay: 0, inverseScale: 1)
        let after = w.array
        var unchanged = 0
        for i in 0 ..< finite.count where after[i] == finite[i] { unchanged += 1 }
        #expect(tally.nonzeroUpdates == finite.count)
        #expect(tally.underflows == unchanged)
        #expect(unchanged > 0 && unchanged < finite.count)
        // The expected result is fp16(w - 1e-4) for every pattern.
        var mismatches = 0
        for i in 0 ..< finite.count where after[i] != Float16(Float(finite[i]) - 1e-4) { mismatches += 1 }
        #expect(mismatches == 0)
    }

    @Test("Adam with fp16 state does not collapse when gradients are far below fp16's range for g²")
    func adamHalfStateSurvivesTinyGradients() {
        // g = 1e-4: g² = 1e-8 underflows in fp16; storing √v keeps the step at ≈ lr.
        let w = Buffer<Float16>([1]), m = Buffer<Float16>([0]), r = Buffer<Float16>([0])
        var b1: Float = 1, b2: Float = 1
        for _ in 0 ..< 10 {
            b1 *= 0.9; b2 *= 0.999
            _ = Adam.update(param: w.view, grad: Buffer<Float16>([1e-4]).view, m: m.view, r: r.view, count: 1,
                            learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false,
                            beta1Power: b1, beta2Power: b2, inverseScale: 1)
        }
        // Ten steps of ≈1e-3 each from 1.0: ≈0.99 (fp16 spacing near 1 is 4.9e-4).
        #expect(abs(Double(w.array[0]) - 0.99) < 2e-3, "w = \(w.array[0])")
        #expect(w.array[0].isFinite)
    }

    @Test("Adam matches PyTorch's bias-corrected update on a short fp32 sequence")
    func adamMatchesReference() {
        let w = Buffer<Float>([0.5]), m = Buffer<Float>([0]), r = Buffer<Float>([0])
        let grads: [Float16] = [0.1, -0.2, 0.3]
        var b1: Float = 1, b2: Float = 1
        var ew = 0.5, em = 0.0, ev = 0.0
        for (t, g) in grads.enumerated() {
            b1 *= 0.9; b2 *= 0.999
            _ = Adam.update(param: w.view, grad: Buffer([g]).view, m: m.view, r: r.view, count: 1, learningRate: 0.01,
                            beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false,
                            beta1Power: b1, beta2Power: b2, inverseScale: 1)
            let gd = Double(g)
            em = 0.9 * em + 0.1 * gd
            ev = 0.999 * ev + 0.001 * gd * gd
            let mh = em / (1 - pow(0.9, Double(t + 1))), vh = ev / (1 - pow(0.999, Double(t + 1)))
            ew -= 0.01 * mh / (vh.squareRoot() + 1e-8)
        }
        #expect(abs(Double(w.array[0]) - ew) < 1e-5)
    }
}

func pow(_ a: Double, _ n: Double) -> Double {
    var r = 1.0
    for _ in 0 ..< Int(n) { r *= a }
    return r
}
