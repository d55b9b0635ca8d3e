/// What happened numerically during training, counted by the trainer.
public struct TrainingCounters: Equatable, Sendable {
    /// Steps attempted.
    public var steps: Int = 0
    /// Steps whose update reached the weights.
    public var appliedSteps: Int = 0
    /// Steps whose loss or gradients held inf/NaN.
    public var overflows: Int = 0
    /// Steps not applied (every overflow skips its step: the weights keep their last good values).
    public var skippedSteps: Int = 0
    /// Parameter elements that received a nonzero update.
    public var nonzeroUpdates: Int = 0
    /// Nonzero updates that rounded to no change in the stored parameter.
    public var updateUnderflows: Int = 0

    public init() {}
}

/// The outcome of one training step.
public struct StepResult: Equatable, Sendable {
    public enum Status: Equatable, Sendable {
        /// The update was applied.
        case applied
        /// Gradients (or the loss) were not finite; the weights were left untouched.
        case skippedOverflow
        /// `labels[row]` is outside `0 ..< classes`; nothing ran.
        case invalidLabel(row: Int)
        /// Not run: a target of this row of the step's samples is NaN or infinite (a regression
        /// plan); nothing changed.
        case invalidTarget(row: Int)
    }
    public var status: Status
    /// Mean loss of the batch, unscaled, fp32 (NaN when nothing ran).
    public var loss: Float
    /// The loss scale this step used.
    public var lossScale: Float
}

/// What one trainable tensor went through, accumulated over steps (per update op).
public struct TensorDiagnostics: Equatable, Sendable {
    /// Elements that received a nonzero update.
    public var nonzeroUpdates: Int = 0
    /// Nonzero updates that left the stored value unchanged.
    public var updateUnderflows: Int = 0
    /// Largest |gradient| seen (unscaled), over finite gradients.
    public var gradientMaxAbs: Float = 0
    /// Steps in which this tensor's gradient held inf or NaN.
    public var overflowSteps: Int = 0

    public init() {}
}
