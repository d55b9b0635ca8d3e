import HalfStepPlanner

/// Why `QEMUValidation.run` could not compare a device run with a host run.
public enum QEMUValidationError: Error, CustomStringConvertible {
    /// The data holds fewer samples than one training step takes (`stepBatch`: the batch times
    /// the plan's micro-batches).
    case tooFewSamples(samples: Int, stepBatch: Int)
    /// The host could not prepare the plan to run.
    case session(PlanLoadError)
    /// The firmware could not be built or run (a device that runs and faults is a result, not this).
    case qemu(QEMUError)

    public var description: String {
        switch self {
        case .tooFewSamples(let samples, let stepBatch): return "the data has \(samples) samples, fewer than one batch of \(stepBatch)"
        case .session(let error): return error.description
        case .qemu(let error): return error.description
        }
    }
}
