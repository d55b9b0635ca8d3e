import Testing
import HalfStepCore

/// `LearningRateSchedule`: the rate of each step, as PyTorch's StepLR, the first half-period of
/// CosineAnnealingLR and a linear warm-up factor give it.
struct LearningRateScheduleTests {
    func config(_ schedule: ScheduleKind, steps: UInt32 = 0, factor: Float = 0, warmup: UInt32 = 0) -> TrainingConfig {
        var c = TrainingConfig()
        c.learningRate = 0.1
        c.scheduleRaw = schedule.rawValue
        c.scheduleSteps = steps
        c.scheduleFactor = factor
        c.warmupSteps = warmup
        return c
    }

    @Test("a constant schedule is the config's learning rate at every step, bit for bit")
    func constant() {
        for t in [0, 1, 999, 1 << 30] { #expect(LearningRateSchedule.rate(config(.constant), step: t) == 0.1) }
    }

    @Test("step:E:G multiplies by G every E steps")
    func stepDecay() {
        let c = config(.step, steps: 3, factor: 0.5)
        let rates = (0 ..< 10).map { LearningRateSchedule.rate(c, step: $0) }
        #expect(rates == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125])
        // Far steps take a bounded number of multiplications and reach 0, never NaN.
        #expect(LearningRateSchedule.rate(c, step: 1 << 30) == 0)
    }

    @Test("cosine:S:MIN runs from the rate to MIN over S steps, within 1e-6 of the formula, then holds at MIN")
    func cosine() {
        let c = config(.cosine, steps: 100, factor: 0.01)
        for t in 0 ... 100 {
            let expected = 0.01 + (0.1 - 0.01) * (1 + Foundation_cos(Double.pi * Double(t) / 100)) / 2
            #expect(abs(Double(LearningRateSchedule.rate(c, step: t)) - expected) < 1e-6, "step \(t)")
        }
        #expect(LearningRateSchedule.rate(c, step: 0) == 0.1)
        #expect(LearningRateSchedule.rate(c, step: 5000) == LearningRateSchedule.rate(c, step: 100))
    }

    @Test("warm-up scales the schedule by (t + 1) / W for the first W steps")
    func warmup() {
        let c = config(.constant, warmup: 4)
        #expect((0 ..< 6).map { LearningRateSchedule.rate(c, step: $0) } == [0.025, 0.05, 0.075, 0.1, 0.1, 0.1])
    }

    @Test("the core's cos is within 2e-7 of Double cos over [0, π]")
    func cosAccuracy() {
        for i in 0 ... 1000 {
            let x = Float(Double.pi * Double(i) / 1000)
            #expect(abs(Double(Elementary.cos(x)) - Foundation_cos(Double(x))) < 2e-7, "x = \(x)")
        }
    }
}

/// Double-precision cosine by its series, so this test needs no Foundation on any platform.
func Foundation_cos(_ x: Double) -> Double {
    var term = 1.0, sum = 1.0
    for k in 1 ... 30 {
        term *= -x * x / Double((2 * k - 1) * (2 * k))
        sum += term
    }
    return sum
}
