/// Why a QEMU run could not be carried out.
public enum QEMUError: Error, CustomStringConvertible {
    /// What was running when a limit passed.
    public enum Stage: String, Sendable {
        /// `Targets/build-firmware.sh` building the image.
        case build = "firmware build"
        /// `qemu-system-arm` running the image.
        case run = "QEMU run"
    }

    case missingQEMU
    case build(String)
    case doesNotFit(detail: String)
    /// `stage` did not finish within `seconds` and was stopped: SIGTERM to its process group, and
    /// SIGKILL too when `killed` (it outlived SIGTERM by the grace period). `image` is the ELF file
    /// being built or run; `plan` the plan's file when the caller named it.
    case timeout(stage: Stage, board: QEMURunner.Board, image: String, plan: String?, seconds: Double, killed: Bool)
    case io(String)
    case noBoard(core: String)

    public var description: String {
        switch self {
        case .missingQEMU: return "qemu-system-arm is not installed (Debian: apt-get install -y qemu-system-arm)"
        case .build(let output): return "the firmware did not build:\n" + output
        case .doesNotFit(let detail): return "the firmware image does not fit the part (it was sized to the part's memories, not the board's 4 MiB):\n" + detail
        case .timeout(let stage, let board, let image, let plan, let seconds, let killed):
            let subject = "the \(stage.rawValue) of \(image) on \(board.rawValue)" + (plan.map { " (plan \($0))" } ?? "")
            let why = stage == .run ? " (a hang on the device)" : ""
            let how = killed ? "it ignored SIGTERM and was killed (SIGKILL)" : "it was stopped (SIGTERM)"
            return "\(subject) did not finish within \(Int(seconds)) s\(why); \(how)"
        case .io(let what): return what
        case .noBoard(let core): return "no emulated board for a \(core) core (QEMU runs use mps2-an386 for Cortex-M4F, mps2-an500 for Cortex-M7, mps2-an505 for Cortex-M33 and mps3-an547 for Cortex-M55)"
        }
    }
}
