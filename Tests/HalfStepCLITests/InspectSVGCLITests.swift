import Foundation
import Testing

/// `halfstep inspect --svg`, run as a user runs it.
struct InspectSVGCLITests {
    let cli = CLITests()

    /// Tests run in parallel, so each plans into its own file.
    func plan(_ name: String) throws -> String {
        let out = cli.temporary("inspect-svg-\(name).hsplan")
        let r = try cli.run(["plan", CLITests.digits + "/mlp.onnx", "--batch", "32", "--momentum", "0.9", "-o", out])
        #expect(r.status == 0, "\(r.err)")
        return out
    }

    @Test("inspect --svg writes the arena picture, leaves the report on stdout unchanged and says so on stderr")
    func writesPicture() throws {
        let plan = try plan("writes"), svg = cli.temporary("arena.svg")
        try? FileManager.default.removeItem(atPath: svg)
        let plain = try cli.run(["inspect", plan])
        let r = try cli.run(["inspect", plan, "--svg", svg])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out == plain.out)
        #expect(r.err.contains("wrote \(svg)"))
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(text.hasPrefix("<svg") && text.hasSuffix("</svg>\n"))
        #expect(text.contains("class=\"buffer\"") && text.contains("class=\"lower-bound\""))
        #expect(text.contains("arena of \((plan as NSString).lastPathComponent)"))

        let json = try cli.run(["inspect", plan, "--json", "--svg", svg])
        #expect(json.status == 0 && (try? JSONSerialization.jsonObject(with: Data(json.out.utf8))) != nil)
    }

    @Test("inspect --svg to a path that cannot be written exits 1 naming the file, with nothing on stdout")
    func unwritable() throws {
        let plan = try plan("unwritable")
        // A missing directory: unwritable even for root, which ignores permission bits.
        let svg = "/nonexistent-halfstep-dir/arena.svg"
        let r = try cli.run(["inspect", plan, "--svg", svg])
        #expect(r.status == 1)
        #expect(r.err.contains("cannot write \(svg)"), "\(r.err)")
        #expect(r.out.isEmpty)
        let missing = try cli.run(["inspect", plan, "--svg"])
        #expect(missing.status == 2 && missing.err.contains("--svg needs a value"))
    }
}
