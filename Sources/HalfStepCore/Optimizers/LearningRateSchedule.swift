/// The learning rate of each step: the config's schedule times a linear warm-up.
///
/// At step `t` (0-based: the steps taken before this one, skipped ones included, as PyTorch's
/// scheduler steps once per iteration):
///
///     rate(t) = schedule(t) · min(1, (t + 1) / warmup)            (no warm-up: factor 1)
///     constant:        lr
///     step:E:G         lr · G^⌊t / E⌋                             (PyTorch StepLR)
///     cosine:S[:MIN]   MIN + (lr − MIN) · (1 + cos(π · min(t, S) / S)) / 2
///
/// The cosine holds at MIN after S steps, where PyTorch's `CosineAnnealingLR` would climb again.
/// Everything is fp32 arithmetic on the core's own `cos`, so host and device agree to the bit.
public enum LearningRateSchedule {
    /// The learning rate of step `step` (≥ 0) under `config`.
    @inlinable
    public static func rate(_ config: TrainingConfig, step: Int) -> Float {
        let lr = config.learningRate
        var rate = lr
        switch config.schedule ?? .constant {
        case .constant:
            break
        case .step:
            // G^k by squaring: at most 31 rounds whatever the step.
            var k = step / max(1, Int(config.scheduleSteps))
            var power: Float = 1, base = config.scheduleFactor
            while k > 0 {
                if k & 1 != 0 { power *= base }
                base *= base
                k >>= 1
            }
            rate = lr * power
        case .cosine:
            let span = max(1, Int(config.scheduleSteps))
            let t = min(step, span)
            let low = config.scheduleFactor
            let angle = Float(t) / Float(span) * (2 * Elementary.halfPiHigh)
            rate = low + (lr - low) * (1 + Elementary.cos(angle)) * 0.5
        }
        let warmup = Int(config.warmupSteps)
        if warmup > 0 && step < warmup {
            rate = rate * Float(step + 1) / Float(warmup)
        }
        return rate
    }
}
