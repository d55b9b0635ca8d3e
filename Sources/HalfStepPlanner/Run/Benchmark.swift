import Foundation
import HalfStepCore

/// Host measurements behind `halfstep bench`: steps per second of whole plans, and Dense kernel
/// throughput. Wall-clock figures; they belong in benchmarks, never in tests.
public enum Benchmark {
    /// Training steps per second of `plan` on `data`, best of `repeats` runs of `steps` steps.
    public static func stepsPerSecond(plan bytes: [UInt8], data: Dataset, steps: Int, repeats: Int = 3) throws -> Double {
        var best = 0.0
        for _ in 0 ..< repeats {
            let session = try TrainingSession(LoadedPlan(bytes: bytes, path: "bench"))
            var sampler = EpochSampler(count: data.count, batch: session.stepBatch, seed: 0)
            session.step(data, samples: sampler.next())   // warm-up
            let clock = ContinuousClock()
            let start = clock.now
            for _ in 0 ..< steps { session.step(data, samples: sampler.next()) }
            best = max(best, Double(steps) / seconds(clock.now - start))
        }
        return best
    }

    /// Dense forward and backward (dx and dW) throughput in MACs per second for one layer shape.
    public static func denseMACsPerSecond(rows n: Int, k: Int, m: Int, iterations: Int) -> (forward: Double, backward: Double) {
        func buffer(_ count: Int, _ seed: Int) -> UnsafeMutablePointer<Float16> {
            let p = UnsafeMutablePointer<Float16>.allocate(capacity: count)
            for i in 0 ..< count { p[i] = Float16(Float((i * 7919 + seed) % 199) / 199 - 0.5) }
            return p
        }
        let x = buffer(n * k, 1), w = buffer(m * k, 2), y = buffer(n * m, 3), dx = buffer(n * k, 4), dW = buffer(m * k, 5)
        defer { [x, w, y, dx, dW].forEach { $0.deallocate() } }
        let xv = TensorView(base: x, count: n * k), wv = ParameterView.half(TensorView(base: w, count: m * k))
        let yv = TensorView(base: y, count: n * m)
        let clock = ContinuousClock()
        var start = clock.now
        for _ in 0 ..< iterations {
            Dense.forward(y: yv, x: xv, weight: wv, bias: nil, rows: n, k: k, m: m, alpha: 1, beta: 1)
        }
        let forward = Double(iterations * n * k * m) / seconds(clock.now - start)
        start = clock.now
        for _ in 0 ..< iterations {
            Dense.backward(dx: TensorView(base: dx, count: n * k), dW: TensorView(base: dW, count: m * k), db: nil,
                           dy: yv, x: xv, weight: wv, rows: n, k: k, m: m, alpha: 1, beta: 1)
        }
        let backward = Double(iterations * 2 * n * k * m) / seconds(clock.now - start)
        return (forward, backward)
    }

    static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return max(Double(c.seconds) + Double(c.attoseconds) * 1e-18, 1e-9)
    }
}
