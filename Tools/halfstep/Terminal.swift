import Foundation

/// Where the CLI writes: results to stdout, progress and errors to stderr, so `--json` output
/// can be piped while progress stays visible.
enum Terminal {
    static let stderrIsTTY = isatty(2) != 0

    static func out(_ s: String) {
        FileHandle.standardOutput.write((s + "\n").data(using: .utf8)!)
    }

    static func err(_ s: String) {
        FileHandle.standardError.write((s + "\n").data(using: .utf8)!)
    }

    /// A progress line that redraws in place on a terminal and prints plain lines when piped.
    static func progress(_ s: String, final: Bool = false) {
        if stderrIsTTY {
            FileHandle.standardError.write(("\r\u{1B}[K" + s + (final ? "\n" : "")).data(using: .utf8)!)
        } else {
            err(s)
        }
    }
}

/// Exit statuses: 0 success, 1 the work failed (bad input file, over budget), 2 usage error.
enum ExitCode: Int32 {
    case success = 0
    case failure = 1
    case usage = 2
}

/// A failure that ends the verb with a message (and optional hint) on stderr.
struct Failure: Error {
    var message: String
    var hint: String?
    init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
}

func fmt(_ x: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", x) }
func pct(_ x: Double) -> String { String(format: "%.2f%%", x * 100) }
