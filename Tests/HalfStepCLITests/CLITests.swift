import Foundation
import Testing

/// The `halfstep` command line as users script it: run as a subprocess, exit status and output checked.
struct CLITests {
    init() {}
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let digits = root + "/Tools/examples/digits"

    /// The `halfstep` the tests run: the one built beside the test bundle (`TestedCLI`).
    static var binary: String { get throws { try TestedCLI.binary.get() } }

    struct Result { var status: Int32; var out: String; var err: String }

    func run(_ args: [String]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try Self.binary)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
    }

    func temporary(_ name: String) -> String { NSTemporaryDirectory() + "halfstep-cli-\(getpid())-" + name }

    @Test("--help lists the commands and each command's --help answers")
    func help() throws {
        let top = try run(["--help"])
        #expect(top.status == 0 && top.out.contains("plan") && top.out.contains("inspect") && top.out.contains("train"))
        for verb in ["plan", "inspect", "train", "eval", "demo", "package", "export"] {
            let r = try run([verb, "--help"])
            #expect(r.status == 0 && r.out.contains("usage: halfstep \(verb)"), "\(verb)")
        }
    }

    @Test("an unknown command exits 2 and suggests the nearest one")
    func unknownCommand() throws {
        let r = try run(["trian"])
        #expect(r.status == 2 && r.err.contains("did you mean 'train'"))
        #expect(try run([]).status == 2)
    }

    @Test("malformed plan command lines exit 2 naming the flag")
    func malformedPlanArguments() throws {
        let model = Self.digits + "/mlp.onnx"
        let cases: [([String], String)] = [
            (["plan", model, "-o", temporary("x.hsplan"), "--batch", "zero"], "--batch zero"),
            (["plan", model, "-o", temporary("x.hsplan"), "--batch"], "--batch needs a value"),
            (["plan", model, "--batch", "8"], "-o OUT.hsplan is required"),
            (["plan", "-o", temporary("x.hsplan")], "missing the model file"),
            (["plan", model, "-o", temporary("x.hsplan"), "--bugdet", "sram=1K"], "did you mean --budget"),
            (["plan", model, "-o", temporary("x.hsplan"), "--momentum", "1.5"], "--momentum"),
            (["plan", model, "-o", temporary("x.hsplan"), "--lr", "-1"], "--lr -1"),
            (["plan", model, "-o", temporary("x.hsplan"), "--json=yes"], "--json takes no value"),
        ]
        for (args, message) in cases {
            let r = try run(args)
            #expect(r.status == 2, "\(args): status \(r.status)")
            #expect(r.err.contains(message), "\(args): \(r.err)")
        }
    }

    @Test("bad option values exit 1 with the flag, the value and what was expected")
    func badValues() throws {
        let model = Self.digits + "/mlp.onnx"
        let cases: [([String], String)] = [
            (["--budget", "sram=lots"], "expected a size such as"),
            (["--train", "last:0"], "--train last:0"),
            (["--loss-scale", "static:0"], "--loss-scale static:0"),
            (["--update", "fp8"], "--update fp8"),
            (["--optimizer", "lion"], "--optimizer lion"),
        ]
        for (extra, message) in cases {
            let r = try run(["plan", model, "-o", temporary("x.hsplan")] + extra)
            #expect(r.status == 1 && r.err.contains(message), "\(extra): \(r.err)")
        }
    }

    @Test("a plan over budget exits 1 with the peak, the budget and what would fit")
    func overBudget() throws {
        let r = try run(["plan", Self.digits + "/mlp.onnx", "-o", temporary("x.hsplan"), "--budget", "sram=16KiB"])
        #expect(r.status == 1)
        #expect(r.err.contains("budget is 16.0 KiB") && r.err.contains("largest at the peak") && r.err.contains("--train last:1"))
    }

    @Test("plan prints the cost model's instructions per step beside the SRAM, and with --target the time per step at that part's clock")
    func planEstimatesTime() throws {
        let model = Self.digits + "/mlp.onnx"
        let plain = try run(["plan", model, "-o", temporary("est.hsplan")])
        #expect(plain.status == 0, "\(plain.err)")
        #expect(plain.out.contains("on a cortex-m4f (cost model)"), "\(plain.out)")
        let targeted = try run(["plan", model, "-o", temporary("est.hsplan"), "--target", "stm32h743", "--json"])
        #expect(targeted.status == 0, "\(targeted.err)")
        let e = (try JSONSerialization.jsonObject(with: Data(targeted.out.utf8)) as? [String: Any])?["estimate"] as? [String: Any]
        let instructions = e?["instructions_per_step"] as? Int ?? 0, ms = e?["milliseconds_per_step"] as? Double ?? 0
        #expect(e?["core"] as? String == "cortex-m7" && e?["part"] as? String == "stm32h743")
        // Forward, input gradient and weight gradient of each layer, less the first layer's input gradient.
        #expect(e?["macs_per_step"] as? Int == 3 * 32 * (64 * 64 + 64 * 32 + 32 * 10) - 32 * 64 * 64)
        // The M7's assumed 0.8 cycles per instruction at 480 MHz.
        #expect(instructions > 0 && abs(ms - Double(instructions) * 0.8 / 480e6 * 1000) < 0.01, "\(String(describing: e))")
    }

    @Test("a missing or corrupt input file is named")
    func badFiles() throws {
        #expect(try run(["plan", "/nonexistent.onnx", "-o", temporary("x")]).err.contains("/nonexistent.onnx: cannot read"))
        let corrupt = temporary("corrupt.hsplan")
        _ = FileManager.default.createFile(atPath: corrupt, contents: Data("HSPLnot really a plan at all, just some bytes here......................".utf8))
        let r = try run(["inspect", corrupt])
        #expect(r.status == 1 && r.err.contains(corrupt) && r.err.contains("not a valid plan"))
    }

    @Test("plan, inspect --json, train --json, export and eval work together on the example")
    func endToEnd() throws {
        let plan = temporary("e2e.hsplan"), exported = temporary("e2e.onnx")
        let p = try run(["plan", Self.digits + "/mlp.onnx", "--batch", "32", "--train", "all", "--optimizer", "sgd", "--lr", "0.05",
                         "--momentum", "0.9", "--update", "fp32-master", "--loss-scale", "dynamic", "--budget", "sram=64KiB,flash=256KiB", "-o", plan])
        #expect(p.status == 0, "\(p.err)")
        let i = try run(["inspect", plan, "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(i.out.utf8)) as? [String: Any]
        let memory = report?["memory"] as? [String: Any]
        #expect((memory?["arena_bytes"] as? Int ?? 0) <= 64 * 1024)
        #expect((report?["tensors"] as? [Any])?.isEmpty == false)
        let t = try run(["train", plan, "--inputs", Self.digits + "/shifted-train-x.npy", "--labels", Self.digits + "/shifted-train-y.npy",
                         "--steps", "100", "--eval-inputs", Self.digits + "/shifted-test-x.npy", "--eval-labels", Self.digits + "/shifted-test-y.npy",
                         "--export", exported, "--json"])
        #expect(t.status == 0, "\(t.err)")
        let summary = try JSONSerialization.jsonObject(with: Data(t.out.utf8)) as? [String: Any]
        for key in ["final_loss", "eval_accuracy", "overflows", "skipped_steps", "update_underflows", "steps_per_second"] {
            #expect(summary?[key] != nil, "missing \(key)")
        }
        #expect(t.err.contains("step 100/100"))   // progress goes to stderr as plain lines when piped
        let e = try run(["eval", exported, "--inputs", Self.digits + "/shifted-test-x.npy", "--labels", Self.digits + "/shifted-test-y.npy", "--json"])
        let eval = try JSONSerialization.jsonObject(with: Data(e.out.utf8)) as? [String: Any]
        #expect(abs((eval?["accuracy"] as? Double ?? -1) - (summary?["eval_accuracy"] as? Double ?? -2)) < 1e-9)
    }
}

/// `train --export` with a plan whose host-only provenance block is damaged.
struct ProvenanceCLITests {
    let cli = CLITests()

    /// CRC-32 (IEEE, reflected), as the plan header's.
    func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = ~0
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0 ..< 8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }

    @Test("train --export with a corrupt provenance block exits 1 before training, naming the file and the block")
    func corruptProvenance() throws {
        let plan = cli.temporary("prov.hsplan"), out = cli.temporary("prov.onnx")
        let p = try cli.run(["plan", CLITests.digits + "/mlp.onnx", "--batch", "16", "-o", plan])
        #expect(p.status == 0, "\(p.err)")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: plan)))
        let marker = Array("halfstep-provenance 1\n{".utf8)
        let at = try #require((0 ..< bytes.count - marker.count).first { Array(bytes[$0 ..< $0 + marker.count]) == marker })
        bytes[at + marker.count] = UInt8(ascii: "]")   // the JSON no longer parses
        let crc = crc32(bytes[16...])
        for k in 0 ..< 4 { bytes[12 + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
        try Data(bytes).write(to: URL(fileURLWithPath: plan))
        #expect(try cli.run(["inspect", plan]).status == 0, "the device part of the plan is intact")
        let t = try cli.run(["train", plan, "--inputs", CLITests.digits + "/shifted-train-x.npy", "--labels", CLITests.digits + "/shifted-train-y.npy",
                             "--steps", "5", "--export", out])
        #expect(t.status == 1, "\(t.err)")
        #expect(t.err.contains(plan) && t.err.contains("provenance block") && t.err.contains("corrupt"), "\(t.err)")
        #expect(!t.err.contains("step 5/5"), "refused before training")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}

/// `halfstep bench` runs end to end (its figures are wall-clock and are not asserted).
struct BenchCLITests {
    @Test("bench --json reports steps per second, kernel throughput and memory for every batch size asked, the CNN's host steps/s and each plan's estimate on every part")
    func benchRuns() throws {
        let r = try CLITests().run(["bench", "--models", "mlp,cnn", "--batches", "4,16", "--steps", "20", "--no-qemu",
                                    "--python", "/nonexistent/python", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let plans = object?["plans"] as? [[String: Any]] ?? []
        #expect(plans.map { $0["batch"] as? Int ?? 0 } == [4, 4, 16, 16])
        #expect(plans.allSatisfy { ($0["steps_per_second"] as? Double ?? 0) > 0 && ($0["arena_bytes"] as? Int ?? 0) > 0 })
        #expect((object?["dense_forward_macs_per_second"] as? Double ?? 0) > 0)
        let models = object?["models"] as? [[String: Any]] ?? []
        #expect(models.map { $0["model"] as? String ?? "" } == ["cnn"])
        #expect(models.first?["batch"] as? Int == 32 && (models.first?["steps_per_second"] as? Double ?? 0) > 0)
        #expect(object?["qemu_runs"] == nil)
        // Each plan priced on each bundled part: cycles depend on the core alone, the time on the clock too.
        let estimates = object?["estimates"] as? [[String: Any]] ?? []
        let parts = try FileManager.default.contentsOfDirectory(atPath: CLITests.root + "/Targets/profiles").filter { $0.hasSuffix(".json") }
        #expect(estimates.count == 2 * parts.count)
        for e in estimates {
            let cycles = e["cycles_per_step"] as? Double ?? 0, clock = e["clock_hz"] as? Int ?? 0, ms = e["ms_per_step"] as? Double ?? 0
            #expect(cycles > 0 && abs(ms - cycles / Double(clock) * 1000) < 1e-9 * ms, "\(e)")
            let sameCore = estimates.filter { $0["core"] as? String == e["core"] as? String && $0["model"] as? String == e["model"] as? String }
            #expect(sameCore.allSatisfy { $0["cycles_per_step"] as? Double == cycles }, "\(e)")
        }
    }

    @Test("bench refuses an unknown model or board, naming the ones it knows, with the usage exit status")
    func benchRefusesUnknownNames() throws {
        let r = try CLITests().run(["bench", "--models", "mlp,resnet"])
        #expect(r.status == 2)
        #expect(r.err.contains("--models mlp,resnet: expected a comma list of mlp, cnn, strided, mobilenetv2"), "\(r.err)")
        let b = try CLITests().run(["bench", "--boards", "mps2-an999"])
        #expect(b.status == 2)
        #expect(b.err.contains("mps2-an386, mps2-an500"), "\(b.err)")
    }
}

/// `halfstep study` writes its document and plots.
struct StudyCLITests {
    @Test("study writes numerics.md with every update mode and loss scaling, and valid SVG plots")
    func studyWrites() throws {
        let out = CLITests().temporary("study")
        let r = try CLITests().run(["study", "--out", out, "--seeds", "1", "--steps", "30"])
        #expect(r.status == 0, "\(r.err)")
        let md = try String(contentsOfFile: out + "/numerics.md", encoding: .utf8)
        for needle in ["fp32-master", "fp16-stochastic", "fp16-kahan", "loss scale static:1024", "PyTorch fp32"] {
            #expect(md.contains(needle), "\(needle)")
        }
        for plot in ["numerics-demo-accuracy.svg", "numerics-small-loss.svg"] {
            let svg = try String(contentsOfFile: out + "/" + plot, encoding: .utf8)
            #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        }
    }
}

/// `train --checkpoint`: killed with SIGKILL in the middle of writing a checkpoint, the same command
/// resumes and ends with exactly the weights of a run that was never interrupted.
struct CheckpointCLITests {
    @Test("a SIGKILL mid-checkpoint, then the same command again, exports the uninterrupted run's weights bit for bit")
    func killAndResume() throws {
        let cli = CLITests()
        let plan = cli.temporary("ck.hsplan"), state = cli.temporary("ck.state"), a = cli.temporary("ck-a.onnx"), b = cli.temporary("ck-b.onnx")
        try? FileManager.default.removeItem(atPath: state)
        #expect(try cli.run(["plan", CLITests.digits + "/mlp.onnx", "--batch", "32", "--momentum", "0.9", "--lr", "0.05", "-o", plan]).status == 0)
        let common = ["train", plan, "--inputs", CLITests.digits + "/shifted-train-x.npy", "--labels", CLITests.digits + "/shifted-train-y.npy",
                      "--steps", "200", "--quiet"]
        #expect(try cli.run(common + ["--export", a]).status == 0)
        // Each checkpoint of this plan is ~9,900 words: 30,000 dies inside the fourth save (step 100).
        setenv("HALFSTEP_KILL_AFTER_CHECKPOINT_WORDS", "30000", 1)
        let killed = try cli.run(common + ["--checkpoint", state, "--checkpoint-every", "25", "--export", b])
        unsetenv("HALFSTEP_KILL_AFTER_CHECKPOINT_WORDS")
        #expect(killed.status == 9 || killed.status == 137, "expected SIGKILL, got \(killed.status)")
        let resumed = try cli.run(common + ["--checkpoint", state, "--checkpoint-every", "25", "--export", b])
        #expect(resumed.status == 0 && resumed.out.contains("resumed from the checkpoint at step 75"), "\(resumed.out)\(resumed.err)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b)))
    }
}
