import Foundation
import HalfStepTestSupport

/// The `halfstep` command line the CLI tests run: a release build, made once per test run.
///
/// The CLI tests run `halfstep` as a user does, and several of them plan or train MobileNetV2
/// and the digits models for real; a debug build of the planner and core runs those 5–20× slower
/// than a release one. So the first test that asks builds the release product into a scratch
/// directory of its own (`.build/cli-tests`, apart from `swift test`'s debug build, whose lock it
/// would wait on) and every later one reuses it; SwiftPM's incremental build makes that a no-op
/// when nothing changed since the last test run, and SwiftPM's own lock on the scratch directory
/// serialises concurrent test processes.
///
/// `HALFSTEP_CLI=/path/to/halfstep` runs the tests against that binary instead (for example the
/// debug one beside the test bundle).
enum ReleaseCLI {
    /// The scratch directory the release build goes to.
    static var scratchPath: String { repositoryRoot + "/.build/cli-tests" }

    /// The binary's path, or why it could not be built.
    static let binary = Result<String, BuildFailure> { () throws(BuildFailure) -> String in
        if let path = ProcessInfo.processInfo.environment["HALFSTEP_CLI"], !path.isEmpty { return path }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["swift", "build", "-c", "release", "--product", "halfstep", "--package-path", repositoryRoot,
                       "--scratch-path", scratchPath]
        // A build started from inside `swift test` must not inherit its per-test-run variables.
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("SWIFTPM_") || key.hasPrefix("XCTest") { environment[key] = nil }
        p.environment = environment
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { throw BuildFailure(output: "cannot start swift build: \(error)") }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let path = scratchPath + "/release/halfstep"
        guard p.terminationStatus == 0, FileManager.default.isExecutableFile(atPath: path) else {
            throw BuildFailure(output: "swift build -c release --product halfstep exited \(p.terminationStatus):\n" + output)
        }
        return path
    }

    struct BuildFailure: Error, CustomStringConvertible {
        var output: String
        var description: String { output }
    }
}
