import Foundation
import Testing

/// `halfstep targets`, `plan --target` and `validate`, run as a user runs them.
struct ValidateCLITests {
    let cli = CLITests()
    var digits: String { CLITests.digits }

    /// A profile file for tests: its stack is roomy unless a test is about the stack, so the tests
    /// also pass against a debug `halfstep` (`HALFSTEP_CLI`), whose host stack frames are far
    /// larger than a release build's.
    func profile(sram: Int, stack: Int = 256 * 1024, flash: Int = 1 << 20) -> String {
        let path = cli.temporary("part-\(sram)-\(stack).json")
        let json = """
        {"name": "test-part", "core": "cortex-m4f", "clock_hz": 64000000,
         "sram": [{"name": "RAM", "bytes": \(sram)}, {"name": "STACK", "bytes": \(stack)}], "arena_region": "RAM", "stack_region": "STACK",
         "flash_bytes": \(flash), "stack_bytes": \(stack), "fpu": "f32-f16-conversion", "source": "HalfStep tests"}
        """
        _ = FileManager.default.createFile(atPath: path, contents: Data(json.utf8))
        return path
    }

    func plan(_ extra: [String] = []) throws -> String {
        let out = cli.temporary("v\(extra.joined()).hsplan".replacingOccurrences(of: "/", with: "_"))
        let r = try cli.run(["plan", digits + "/mlp.onnx", "--batch", "32", "--momentum", "0.9", "-o", out] + extra)
        #expect(r.status == 0, "\(r.err)")
        return out
    }

    func validate(_ plan: String, _ target: String, _ extra: [String] = []) throws -> CLITests.Result {
        try cli.run(["validate", plan, "--target", target, "--inputs", digits + "/shifted-train-x.npy",
                     "--labels", digits + "/shifted-train-y.npy", "--steps", "5"] + extra)
    }

    @Test("targets lists every bundled part")
    func targets() throws {
        let r = try cli.run(["targets"])
        #expect(r.status == 0)
        for name in ["nrf52840", "stm32f446re", "stm32h743", "rp2040", "stm32u585", "mps2-an386", "mps2-an500"] {
            #expect(r.out.contains(name), "\(name)")
        }
    }

    @Test("a plan that fits passes on its part, with the table, the estimate and the verdict")
    func passes() throws {
        let r = try validate(try plan(), profile(sram: 128 * 1024))
        #expect(r.status == 0, "\(r.out)\(r.err)")
        #expect(r.out.contains("SRAM arena (RAM)") && r.out.contains("heap allocations") && r.out.contains("ms at 64 MHz"))
        #expect(r.out.contains("PASS:"))
    }

    @Test("the same plan on a smaller part fails with the numbers")
    func smallerPartFails() throws {
        let r = try validate(try plan(), profile(sram: 32 * 1024))
        #expect(r.status == 1)
        #expect(r.out.contains("FAIL:") && r.out.contains("SRAM arena (RAM) needs 60800 B, budget 32768 (over by 28032)"), "\(r.out)")
    }

    @Test("--json reports the same verdict and limits")
    func json() throws {
        let r = try validate(try plan(), profile(sram: 32 * 1024), ["--json"])
        let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        #expect(object?["verdict"] as? String == "fail")
        #expect((object?["limits"] as? [[String: Any]])?.first?["used"] as? Int == 60800)
        #expect(object?["estimated_ms_per_step"] as? Double ?? 0 > 0)
    }

    @Test("a stack smaller than the step needs is reported as a stack overflow")
    func stackTooSmall() throws {
        let r = try validate(try plan(), profile(sram: 1 << 20, stack: 4096))
        #expect(r.status != 0)
        #expect((r.err + r.out).contains("stack"), "\(r.err)\(r.out)")
    }

    @Test("each emulated violation is caught and reported: arena overflow, flash write, stack overflow, heap")
    func injectedViolations() throws {
        let p = try plan(), part = profile(sram: 1 << 20)
        let arena = try validate(p, part, ["--inject", "arena-overflow"])
        #expect(arena.status == 3 && arena.err.contains("arena overflow at offset 60800 (step program op 0)"), "\(arena.err)")
        let flash = try validate(p, part, ["--inject", "flash-write"])
        #expect(flash.status == 3 && flash.err.contains("write to flash at plan byte"), "\(flash.err)")
        let stack = try validate(p, part, ["--inject", "stack-overflow"])
        #expect(stack.status == 3 && stack.err.contains("stack overflow"), "\(stack.err)")
        let heap = try validate(p, part, ["--inject", "heap"])
        #expect(heap.status == 1 && heap.out.contains("heap allocations needs 1, budget 0"), "\(heap.out)")
        let json = try validate(p, part, ["--inject", "flash-write", "--json"])
        #expect(json.status == 3 && json.out.contains("\"violation\": \"flash-write\""))
    }

    @Test("plan --target takes its budget from the profile less the reserve")
    func planWithTarget() throws {
        let fits = try cli.run(["plan", digits + "/mlp.onnx", "--target", "nrf52840", "--reserve", "sram=24KiB,flash=128KiB",
                                "--batch", "16", "-o", cli.temporary("t.hsplan")])
        #expect(fits.status == 0 && fits.out.contains("of 224.0 KiB budget"), "\(fits.out)\(fits.err)")
        let over = try cli.run(["plan", digits + "/mlp.onnx", "--target", "nrf52840", "--reserve", "sram=240KiB",
                                "-o", cli.temporary("t.hsplan")])
        #expect(over.status == 1 && over.err.contains("budget is 8.0 KiB"), "\(over.err)")
        let both = try cli.run(["plan", digits + "/mlp.onnx", "--target", "nrf52840", "--budget", "sram=1K", "-o", cli.temporary("t")])
        #expect(both.status == 2)
        let unknown = try cli.run(["plan", digits + "/mlp.onnx", "--target", "esp32", "-o", cli.temporary("t")])
        #expect(unknown.status == 1 && unknown.err.contains("no bundled target 'esp32'"))
    }

    @Test("a malformed profile passed by path is refused naming the file and field")
    func malformedProfile() throws {
        let path = cli.temporary("bad.json")
        _ = FileManager.default.createFile(atPath: path, contents: Data("{\"name\": \"x\", \"core\": \"cortex-m4f\"}".utf8))
        let r = try validate(try plan(), path)
        #expect(r.status == 1 && r.err.contains(path) && r.err.contains("field \"fpu\" is missing"), "\(r.err)")
    }
}
