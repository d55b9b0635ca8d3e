import HalfStepCore

/// When each arena buffer of a training step is live, in op indices (inclusive).
///
/// State that outlives a step or a micro-batch (trainable parameters, master copies, optimizer
/// state, micro-batch gradient sums, the loss read after the step) is live across the whole program; the input batch and labels are live
/// from the start, because the caller fills them before the first op. Everything else lives from
/// its first to its last use.
public enum Liveness {
    /// Lifetimes of the arena tensors of `program`, as allocator requests (id = tensor index).
    public static func requests(for program: TrainingProgram) -> [BufferRequest] {
        let last = max(0, program.ops.count - 1)
        var first = [Int: Int](), lastUse = [Int: Int]()
        for (i, op) in program.ops.enumerated() {
            for case let t? in op.operands {
                first[t] = min(first[t] ?? i, i)
                lastUse[t] = max(lastUse[t] ?? i, i)
            }
        }
        var requests: [BufferRequest] = []
        for (i, t) in program.tensors.enumerated() where t.region == .arena {
            let (start, end): (Int, Int)
            switch t.role {
            case .weight, .masterWeight, .optimizerState, .loss, .gradientSum:
                (start, end) = (0, last)
            case .input, .labels:
                (start, end) = (0, lastUse[i] ?? 0)
            default:
                (start, end) = (first[i] ?? 0, lastUse[i] ?? first[i] ?? 0)
            }
            requests.append(BufferRequest(id: i, bytes: t.bytes, firstUse: start, lastUse: end))
        }
        return requests
    }
}
