/// The C interface's error codes: halfstep.h's `HS_E_*`, with the fixed sentence
/// `hs_error_message` returns for each.
public enum CAPIError: Int32, Sendable {
    case null = -1
    case alignment = -2
    case plan = -3
    case arenaTooSmall = -4
    case notInitialised = -5
    case label = -6
    case inputNaN = -7
    case inputRange = -8
    case rows = -9
    case flash = -10
    case noCheckpoint = -11
    case index = -12
    case target = -13
    case wrongLoss = -14

    /// One sentence a user can act on.
    public var sentence: StaticString {
        switch self {
        case .null: return "a required pointer is NULL"
        case .alignment: return "misaligned: trainer storage needs 8-byte alignment, the arena and the plan 16"
        case .plan: return "the plan does not verify (truncated, corrupt or another format version)"
        case .arenaTooSmall: return "the arena is smaller than the plan needs (hs_plan_arena_bytes)"
        case .notInitialised: return "the trainer is not initialised (hs_trainer_init did not succeed on it)"
        case .label: return "a label is outside the model's classes"
        case .inputNaN: return "an input is NaN"
        case .inputRange: return "an input is outside fp16's range (|x| > 65504)"
        case .rows: return "rows must be between 1 and the plan's batch"
        case .flash: return "checkpoint flash refused: a callback failed or the region is too small"
        case .noCheckpoint: return "no complete checkpoint of this plan in the flash region"
        case .index: return "no trainable tensor with that index"
        case .target: return "a target is NaN or outside fp16's range (|x| > 65504)"
        case .wrongLoss: return "this step does not match the plan's loss: hs_train_step takes class labels (cross-entropy), hs_train_step_targets float targets (--loss mse|l1|huber)"
        }
    }
}

/// `hs_error_message`: the fixed sentence for `error`.
@_cdecl("hs_error_message")
public func hs_error_message(_ error: Int32) -> UnsafePointer<CChar> {
    if error == 0 { return cString("no error") }
    guard let e = CAPIError(rawValue: error) else { return cString("unknown error") }
    return cString(e.sentence)
}

/// `hs_last_error`: the trainer's last error with its figures ("" after a success).
@_cdecl("hs_last_error")
public func hs_last_error(_ t: UnsafeRawPointer?) -> UnsafePointer<CChar> {
    guard let t, UInt(bitPattern: t) % UInt(CTrainerStorage.alignment) == 0 else {
        return cString("hs_last_error: the trainer pointer is NULL or misaligned")
    }
    let magic = t.load(as: UInt32.self)
    guard magic == CTrainerStorage.ready || magic == CTrainerStorage.failed else {
        return cString("the trainer is not initialised (hs_trainer_init did not run on it)")
    }
    return (t + CTrainerStorage.messageOffset).assumingMemoryBound(to: CChar.self)
}

@inline(__always)
func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}
