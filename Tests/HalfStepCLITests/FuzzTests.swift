import Foundation
import Testing

/// A short libFuzzer run of every parser (ONNX/protobuf, .npy, the .hsplan verifier with its CRC
/// resealed and as the bytes come, target profiles, command line) with the address sanitizer; the
/// long runs are documented in the issue notes.
struct FuzzTests {
    @Test("every parser survives a short fuzzing run without a crash or sanitizer report")
    func shortFuzzRun() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let out = NSTemporaryDirectory() + "halfstep-fuzz-\(getpid())"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root.appendingPathComponent("Tools/fuzz/run.sh").path, "5", out]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(output)")
        for target in ["onnx", "npy", "plan", "plan-raw", "profile", "cli"] {
            #expect(output.contains("\(target): ") && output.contains("no crash"), "\(target): \(output)")
        }
    }
}
