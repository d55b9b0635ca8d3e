import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// Clip (ReLU6), HardSigmoid, HardSwish, Sigmoid, Tanh and LeakyRelu against Double references; backward against
/// central differences, at inputs kept away from the kinks where a difference quotient straddles two pieces.
struct ActivationTests {
    struct Case: CustomStringConvertible {
        var kind: Activation.Kind
        var a: Float, b: Float
        var f: (Double) -> Double
        var kinks: [Double]
        var description: String { "\(kind)" }
    }

    static let cases: [Case] = [
        Case(kind: .clip, a: 0, b: 6, f: { min(max($0, 0), 6) }, kinks: [0, 6]),
        Case(kind: .hardSigmoid, a: 0.2, b: 0.5, f: { max(0, min(1, 0.2 * $0 + 0.5)) }, kinks: [-2.5, 2.5]),
        Case(kind: .hardSwish, a: 0, b: 0, f: { $0 * max(0, min(1, $0 / 6 + 0.5)) }, kinks: [-3, 3]),
        Case(kind: .sigmoid, a: 0, b: 0, f: { 1 / (1 + Foundation_exp(-$0)) }, kinks: []),
        Case(kind: .tanh, a: 0, b: 0, f: { 1 - 2 / (1 + Foundation_exp(2 * $0)) }, kinks: []),
        Case(kind: .leakyRelu, a: 0.1, b: 0, f: { $0 > 0 ? $0 : 0.1 * $0 }, kinks: [0]),
    ]

    @Test("tanh saturates to exactly ±1 where e^2x overflows or vanishes, and NaN stays NaN")
    func tanhSaturates() {
        let xs: [Float16] = [60000, -60000, .infinity, -.infinity, .nan]
        let y = Buffer(repeating: Float16(0), count: xs.count)
        Activation.forward(.tanh, y: y.view, x: Buffer(xs).view, count: xs.count, a: 0, b: 0)
        #expect(Array(y.array.prefix(4)) == [1, -1, 1, -1])
        #expect(y.array[4].isNaN)
    }

    @Test("forward matches the function and backward its derivative", arguments: cases)
    func matchesReference(_ c: Case) {
        var rng = TestRandom(31)
        var xs: [Float16] = []
        while xs.count < 200 {
            let v = Float16(rng.uniform(-8, 8))
            if c.kinks.allSatisfy({ abs(Double(v) - $0) > 0.05 }) { xs.append(v) }
        }
        let dy = rng.halves(xs.count)
        let y = Buffer(repeating: Float16(0), count: xs.count)
        Activation.forward(c.kind, y: y.view, x: Buffer(xs).view, count: xs.count, a: c.a, b: c.b)
        let dx = Buffer(dy)
        let saved = c.kind.backwardReadsInput ? Buffer(xs) : Buffer(y.array)
        Activation.backward(c.kind, dx: dx.view, dy: dx.view, saved: saved.view, count: xs.count, a: c.a, b: c.b)
        expectClose(y.array, xs.map { c.f(Double($0)) }, tolerance: .activation, "\(c): f(x)")
        let expectedDx = xs.indices.map { i in
            let x = Double(xs[i])
            return Double(dy[i]) * (c.f(x + 1e-4) - c.f(x - 1e-4)) / 2e-4
        }
        expectClose(dx.array, expectedDx, tolerance: .activationGradient, "\(c): dx = dy·f′(x)")
    }
}

/// `exp` for the references (the core has its own; Foundation is not imported into core tests).
func Foundation_exp(_ x: Double) -> Double {
    // exp(x) = 2^(x / ln 2), by squaring a Taylor series of a small argument: exact enough for references.
    let k = (x / 0.6931471805599453).rounded()
    let r = x - k * 0.6931471805599453
    var term = 1.0, sum = 1.0
    for i in 1 ... 20 { term *= r / Double(i); sum += term }
    return sum * Double(sign: .plus, exponent: Int(k), significand: 1)
}
