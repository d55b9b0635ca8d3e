/// Loss scaling: multiplies the loss before backward so small gradients survive fp16 storage.
///
/// Dynamic mode follows PyTorch's `torch.amp.GradScaler`: start at `initialScale` (default 2¹⁶),
/// multiply by `growthFactor` (2) after `growthInterval` (2000) consecutive clean steps, multiply
/// by `backoffFactor` (0.5) and skip the step when any gradient is inf/NaN. The scale is fp32:
/// 2¹⁶ is not representable in fp16.
public struct LossScaler {
    public let mode: LossScaleMode
    /// The current scale (1 when mode is `.none`).
    public private(set) var scale: Float
    public let growthFactor: Float
    public let backoffFactor: Float
    public let growthInterval: Int
    /// Clean steps since the last growth or overflow.
    public private(set) var cleanSteps: Int = 0

    /// The scale never drops below the smallest normal Float, so it cannot reach 0.
    public static let floor = Float.leastNormalMagnitude

    public init(mode: LossScaleMode, initialScale: Float, growthFactor: Float, backoffFactor: Float, growthInterval: Int) {
        self.mode = mode
        self.scale = mode == .none ? 1 : initialScale
        self.growthFactor = growthFactor
        self.backoffFactor = backoffFactor
        self.growthInterval = growthInterval
    }

    /// Puts back a checkpointed scale and clean-step count.
    public mutating func restore(scale: Float, cleanSteps: Int) {
        self.scale = scale
        self.cleanSteps = cleanSteps
    }

    /// Records the outcome of a step: `overflow` when any gradient was inf/NaN.
    public mutating func record(overflow: Bool) {
        guard mode == .dynamic else { return }
        if overflow {
            scale = max(scale * backoffFactor, LossScaler.floor)
            cleanSteps = 0
        } else {
            cleanSteps += 1
            if cleanSteps >= growthInterval {
                let grown = scale * growthFactor
                if grown.isFinite { scale = grown }
                cleanSteps = 0
            }
        }
    }
}
