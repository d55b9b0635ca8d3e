import Foundation
import HalfStepTestSupport

/// The `halfstep` command line the CLI tests run: the one `swift test` built beside the test
/// bundle.
///
/// The CLI tests run `halfstep` as a user does, and several plan or train MobileNetV2 and the
/// digits models for real. The core and the planner compile with -O in debug builds too
/// (Package.swift), so the debug binary runs those at release speed, and no second build of the
/// package is needed (a release build took about 85 s of the suite's two cores).
///
/// `HALFSTEP_CLI=/path/to/halfstep` runs the tests against that binary instead (for example a
/// release build).
enum TestedCLI {
    /// The binary's path, or why there is none.
    static let binary = Result<String, Missing> { () throws(Missing) -> String in
        if let path = ProcessInfo.processInfo.environment["HALFSTEP_CLI"], !path.isEmpty { return path }
        // The test runner is an executable in the build's products directory, next to `halfstep`
        // (HalfStepCLITests depends on the `halfstep` target, so `swift test` builds it first).
        let runner = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let path = runner.deletingLastPathComponent().appendingPathComponent("halfstep").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(description: "no halfstep binary beside the test runner at \(path); run `swift build` first or set HALFSTEP_CLI")
        }
        return path
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }
}
