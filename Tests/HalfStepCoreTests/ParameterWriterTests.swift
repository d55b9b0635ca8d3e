import Testing
import HalfStepTestSupport
@testable import HalfStepCore

struct ParameterWriterTests {
    @Test("stochastic rounding is unbiased: the mean of many rounded updates is the exact fp32 result")
    func stochasticIsUnbiased() {
        // 1.0 + 1e-4 lies between fp16 neighbours 1.0 and 1.0009766; nearest rounding always gives 1.0.
        let count = 20_000
        let values = Buffer(repeating: Float16(1), count: count)
        var writer = StochasticWriter(values.view, seed: 7, step: 3, stream: 1)
        for i in 0 ..< count { _ = writer.write(i, old: 1, delta: 1e-4) }
        let mean = values.array.reduce(0.0) { $0 + Double($1) } / Double(count)
        #expect(abs(mean - 1.0001) < 2e-5, "mean \(mean)")
        #expect(Set(values.array) == [1, Float16(1).nextUp])
    }

    @Test("stochastic rounding is a pure function of seed, step, stream and element")
    func stochasticIsReproducible() {
        let a = Buffer(repeating: Float16(0.5), count: 512), b = Buffer(repeating: Float16(0.5), count: 512)
        var wa = StochasticWriter(a.view, seed: 1, step: 9, stream: 2), wb = StochasticWriter(b.view, seed: 1, step: 9, stream: 2)
        for i in 0 ..< 512 { _ = wa.write(i, old: 0.5, delta: 3e-5); _ = wb.write(i, old: 0.5, delta: 3e-5) }
        #expect(a.array == b.array)
        let c = Buffer(repeating: Float16(0.5), count: 512)
        var wc = StochasticWriter(c.view, seed: 2, step: 9, stream: 2)
        for i in 0 ..< 512 { _ = wc.write(i, old: 0.5, delta: 3e-5) }
        #expect(c.array != a.array)
    }

    @Test("Kahan compensation accumulates updates that round to nothing on their own")
    func kahanAccumulates() {
        let nearest = Buffer<Float16>([1]), kahan = Buffer<Float16>([1]), compensation = Buffer<Float16>([0])
        var n = NearestWriter(nearest.view)
        var k = KahanWriter(kahan.view, compensation: compensation.view)
        for _ in 0 ..< 1000 {
            _ = n.write(0, old: n.read(0), delta: 1e-4)
            _ = k.write(0, old: k.read(0), delta: 1e-4)
        }
        #expect(nearest.array[0] == 1)                          // every update underflowed
        #expect(abs(Double(kahan.array[0]) - 1.1) < 2e-3)       // 1000 × 1e-4 arrived
    }

    @Test("counter-based random numbers are uniform in [0, 1)")
    func counterRandomUniform() {
        var buckets = [Int](repeating: 0, count: 10)
        for i in 0 ..< 100_000 {
            let u = CounterRandom.unit(seed: 5, step: 0, stream: 0, index: UInt32(i))
            #expect(u >= 0 && u < 1)
            buckets[Int(u * 10)] += 1
        }
        #expect(buckets.allSatisfy { abs($0 - 10_000) < 500 }, "\(buckets)")
    }
}
