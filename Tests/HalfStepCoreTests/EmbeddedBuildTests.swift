import Foundation
import Testing

/// The device core must stay Embedded-clean: no Foundation, classes, existentials or heap
/// allocation. This builds it exactly as the firmware does (Tools/embedded/build-core.sh).
struct EmbeddedBuildTests {
    @Test("HalfStepCore builds as Embedded Swift for armv7em with -no-allocations")
    func coreBuildsForCortexM() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root.appendingPathComponent("Tools/embedded/build-core.sh").path, "m4f",
                       NSTemporaryDirectory() + "halfstep-embedded-\(getpid())"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(output)")
    }
}
