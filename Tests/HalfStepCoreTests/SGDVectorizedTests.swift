#if arch(x86_64) || arch(arm64)
import Testing
import HalfStepTestSupport
@testable import HalfStepCore

/// SGDVectorized against `SGD.update` (the loop a device runs) through `NearestWriter`, bit for
/// bit: parameters, momentum and the tally, for fp32 and fp16 parameters and momentum, with and
/// without momentum, lengths around the 8-lane vector. (A NaN's sign and payload are the one
/// exception, as in `DenseVectorizedTests.same`.)
struct SGDVectorizedTests {
    struct Settings: CustomStringConvertible {
        var learningRate: Float, momentum: Float, weightDecay: Float, inverseScale: Float
        var description: String { "η \(learningRate) μ \(momentum) λ \(weightDecay) s \(inverseScale)" }
    }

    static let settings = [
        Settings(learningRate: 0.005, momentum: 0.9, weightDecay: 0, inverseScale: 1.0 / 65536),
        Settings(learningRate: 0.1, momentum: 0, weightDecay: 1e-4, inverseScale: 1),
        Settings(learningRate: 1e-4, momentum: 0.5, weightDecay: 0.01, inverseScale: 1.0 / 1024),
        Settings(learningRate: 0, momentum: 0.9, weightDecay: 0, inverseScale: 1),
    ]

    static let lengths = [1, 7, 8, 9, 16, 17, 63, 100]

    /// Equal bits, or both NaN.
    static func same<T: BinaryFloatingPoint>(_ a: T, _ b: T) -> Bool {
        a.isNaN ? b.isNaN : (a == b && a.sign == b.sign)
    }

    /// nil when the vectorised update matches `SGD.update`, else the first difference.
    static func difference<P: UpdateLanes & BinaryFloatingPoint, S: UpdateLanes & BinaryFloatingPoint>(
        param: [P], grad: [Float16], momentum: [S]?, _ s: Settings
    ) -> String? {
        let count = param.count
        func run(_ vectorized: Bool) -> ([P], [S]?, UpdateTally) {
            let p = Buffer(param), g = Buffer(grad), m = momentum.map { Buffer($0) }
            let tally: UpdateTally
            if vectorized {
                tally = SGDVectorized.update(param: p.view, grad: g.view, momentum: m?.view, count: count,
                                             learningRate: s.learningRate, momentumFactor: s.momentum,
                                             weightDecay: s.weightDecay, inverseScale: s.inverseScale)
            } else {
                tally = SGD.update(param: p.view, grad: g.view, momentum: m?.view, count: count,
                                   learningRate: s.learningRate, momentumFactor: s.momentum,
                                   weightDecay: s.weightDecay, inverseScale: s.inverseScale)
            }
            return (p.array, m?.array, tally)
        }
        let (p1, m1, t1) = run(true), (p0, m0, t0) = run(false)
        let label = "\(P.self) params, \(momentum == nil ? "no" : "\(S.self)") momentum, \(count) elements, \(s)"
        if let i = p1.indices.first(where: { !same(p1[$0], p0[$0]) }) { return "\(label): param[\(i)] \(p1[i]) vs \(p0[i])" }
        if let m1, let m0, let i = m1.indices.first(where: { !same(m1[$0], m0[$0]) }) { return "\(label): momentum[\(i)] \(m1[i]) vs \(m0[i])" }
        if t1.nonzeroUpdates != t0.nonzeroUpdates || t1.underflows != t0.underflows {
            return "\(label): tally \(t1.nonzeroUpdates)/\(t1.underflows) vs \(t0.nonzeroUpdates)/\(t0.underflows)"
        }
        return nil
    }

    /// Every length and setting for one storage pair; the differences found.
    static func sweep<P: UpdateLanes & BinaryFloatingPoint, S: UpdateLanes & BinaryFloatingPoint>(
        _: P.Type, _: S.Type, specials: Bool, seed: UInt64
    ) -> [String] {
        var rng = TestRandom(seed)
        var found: [String] = []
        let values: [Float16] = [.infinity, -.infinity, .nan, -0.0, 0.0, 60000, -60000, Float16(bitPattern: 0x0001), 2048]
        for n in lengths {
            for s in settings {
                var param = rng.halves(n, -2, 2).map { P(Float($0) + Float(rng.uniform(-1e-3, 1e-3))) }
                var grad = rng.halves(n, -1000, 1000)
                var momentum = rng.halves(n, -0.5, 0.5).map { S(Float($0)) }
                if specials {
                    for (k, v) in values.enumerated() where k < n {
                        grad[(k * 5) % n] = v
                        param[(k * 3 + 1) % n] = P(Float(v))
                        momentum[(k * 7 + 2) % n] = S(Float(v))
                    }
                    // Zero gradients on signed-zero weights: Δ = 0 keeps −0 (no write).
                    grad[n - 1] = 0
                    param[n - 1] = -0.0
                    momentum[n - 1] = 0
                }
                if let d = difference(param: param, grad: grad, momentum: s.momentum == 0 ? nil : momentum, s) { found.append(d) }
            }
        }
        return found
    }

    @Test("the vectorised SGD step matches SGD.update bit for bit, tally included, for every storage pair")
    func matchesPortable() {
        let d = Self.sweep(Float.self, Float16.self, specials: false, seed: 1) + Self.sweep(Float.self, Float.self, specials: false, seed: 2)
            + Self.sweep(Float16.self, Float16.self, specials: false, seed: 3) + Self.sweep(Float16.self, Float.self, specials: false, seed: 4)
        #expect(d.isEmpty, "\(d.count) differ; first: \(d.first ?? "")")
    }

    @Test("the vectorised SGD step matches on infinities, NaN, signed zeros, subnormals and zero updates")
    func specialValues() {
        let d = Self.sweep(Float.self, Float16.self, specials: true, seed: 5) + Self.sweep(Float.self, Float.self, specials: true, seed: 6)
            + Self.sweep(Float16.self, Float16.self, specials: true, seed: 7) + Self.sweep(Float16.self, Float.self, specials: true, seed: 8)
        #expect(d.isEmpty, "\(d.count) differ; first: \(d.first ?? "")")
    }

    @Test("every fp16 weight underflows in the vectorised step exactly as in the scalar one")
    func underflowsExhaustively() {
        var finite: [Float16] = []
        for bits in 0 ... UInt16.max { let h = Float16(bitPattern: bits); if h.isFinite { finite.append(h) } }
        let grad = [Float16](repeating: 1, count: finite.count)
        let d = Self.difference(param: finite, grad: grad, momentum: Optional<[Float16]>.none,
                                Settings(learningRate: 1e-4, momentum: 0, weightDecay: 0, inverseScale: 1))
        #expect(d == nil, "\(d ?? "")")
    }
}
#endif
