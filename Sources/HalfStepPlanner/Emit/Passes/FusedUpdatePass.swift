import HalfStepCore

/// The `--fuse-updates` lever: each parameter's update runs right after the backward op that wrote
/// its gradient, so the gradient dies there instead of living to the end of backward.
///
/// It writes no note of its own (the plan file holds the notes, and one more would change every
/// fused plan's bytes); the lever lines `halfstep plan` adds (`Planner.leverNotes`) measure what it saves.
extension Lowering {
    /// After a backward op wrote the gradients of `produced`: their updates, when the lever is on.
    mutating func fuseUpdates(_ produced: [Int]) {
        guard options.fuseUpdates else { return }
        for p in produced where trainable.contains(p) && !updates.emitted.contains(p) { emitUpdate(p) }
    }
}
