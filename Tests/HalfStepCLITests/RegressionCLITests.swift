import Foundation
import Testing

/// Regression plans, schedules and clipping from the command line: the flags users script against,
/// the refusals that name the file and what was expected, and clipping on a recipe that diverges.
struct RegressionCLITests {
    let cli = CLITests()
    let dir = CLITests.root + "/Tests/Fixtures/regression"

    func plan(_ extra: [String], _ name: String) throws -> String {
        let out = cli.temporary(name)
        let r = try cli.run(["plan", dir + "/ae.onnx", "--batch", "4", "-o", out] + extra)
        #expect(r.status == 0, "\(r.err)")
        return out
    }

    func json(_ r: CLITests.Result) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any] ?? [:]
    }

    @Test("an MSE plan trains with --targets, and --json reports eval_loss_before and eval_loss but no accuracy")
    func trainsWithTargets() throws {
        let p = try plan(["--loss", "mse", "--lr", "0.5", "--momentum", "0.9"], "ae-mse.hsplan")
        let x = dir + "/x.npy"
        let r = try cli.run(["train", p, "--inputs", x, "--targets", x, "--eval-inputs", x, "--eval-targets", x, "--steps", "20", "--json", "--quiet"])
        #expect(r.status == 0, "\(r.err)")
        let o = json(r)
        let before = o["eval_loss_before"] as? Double ?? .nan, after = o["eval_loss"] as? Double ?? .nan
        #expect(after < before, "\(r.out)")
        #expect(o["eval_accuracy"] is NSNull && o["eval_accuracy_before"] is NSNull)
        #expect(o["loss"] as? String == "MSE")
    }

    @Test("--labels given to an MSE plan is refused, saying the plan trains against float targets and what to give")
    func labelsForAnMSEPlan() throws {
        let p = try plan(["--loss", "mse"], "ae-labels.hsplan")
        let y = CLITests.root + "/Tests/Fixtures/conv1d/labels.npy"
        let r = try cli.run(["train", p, "--inputs", dir + "/x.npy", "--labels", y, "--steps", "1"])
        #expect(r.status == 1 && r.err.contains("trains MSE against float targets") && r.err.contains("--targets"), "\(r.err)")
    }

    /// Writes a float32 .npy of `shape` holding `values`.
    func npy(_ values: [Float], shape: [Int], _ name: String) throws -> String {
        let path = cli.temporary(name)
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape.map(String.init).joined(separator: ", ") + ",), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data += Data(header.utf8)
        values.withUnsafeBytes { data += Data($0) }
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("targets whose shape is not the output's are refused naming the file and the output's size")
    func targetsOfTheWrongShape() throws {
        let p = try plan(["--loss", "l1"], "ae-shape.hsplan")
        let wrong = try npy([Float](repeating: 0.5, count: 8 * 15), shape: [8, 15], "narrow-targets.npy")
        for verb in [["eval", p], ["train", p, "--steps", "1"]] {
            let r = try cli.run(verb + ["--inputs", dir + "/x.npy", "--targets", wrong])
            #expect(r.status == 1 && r.err.contains("narrow-targets.npy") && r.err.contains("16 per sample"), "\(verb[0]): \(r.err)")
        }
        let fewer = CLITests.root + "/Tests/Fixtures/conv1d/x.npy"   // 4 samples against the inputs' 8
        let r = try cli.run(["train", p, "--inputs", dir + "/x.npy", "--targets", fewer, "--steps", "1"])
        #expect(r.status == 1 && r.err.contains("has 8 samples but") && r.err.contains("has 4"), "\(r.err)")
    }

    @Test("NaN targets are refused naming the file and the element")
    func nanTargets() throws {
        let p = try plan(["--loss", "mse"], "ae-nan.hsplan")
        var values = [Float](repeating: 0.5, count: 8 * 16)
        values[37] = .nan
        let path = try npy(values, shape: [8, 16], "nan-targets.npy")
        let r = try cli.run(["train", p, "--inputs", dir + "/x.npy", "--targets", path, "--steps", "1"])
        #expect(r.status == 1 && r.err.contains("nan-targets.npy: element 37 is nan"), "\(r.err)")
    }

    @Test("eval --per-sample-loss writes each sample's loss, whose mean is the reported loss")
    func perSampleLoss() throws {
        let x = dir + "/x.npy", out = cli.temporary("scores.npy")
        let r = try cli.run(["eval", dir + "/ae.onnx", "--inputs", x, "--targets", x, "--per-sample-loss", out, "--json"])
        #expect(r.status == 0, "\(r.err)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
        let scores = bytes.suffix(32).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(scores.count == 8 && scores.allSatisfy { $0 > 0 })
        let mean = scores.reduce(0, +) / 8
        #expect(abs(Double(mean) - (json(r)["loss"] as? Double ?? .nan)) < 1e-5)
    }

    @Test("malformed --loss, --lr-schedule, --warmup and --clip-grad-norm values exit 2 naming the flag and what was expected",
          arguments: [["--loss", "hubber"], ["--loss", "huber:-1"], ["--lr-schedule", "step:0:0.5"], ["--lr-schedule", "cosine"],
                      ["--lr-schedule", "step:10:2"], ["--warmup", "-3"], ["--clip-grad-norm", "0"], ["--clip-grad-norm", "nan"]])
    func malformedOptions(_ args: [String]) throws {
        let r = try cli.run(["plan", dir + "/ae.onnx", "-o", cli.temporary("bad.hsplan")] + args)
        #expect(r.status == 2 || r.status == 1, "\(args): \(r.status)")
        #expect(r.err.contains(args[0]), "\(args): \(r.err)")
    }

    @Test("clipping with --fuse-updates is refused: the norm needs every gradient before the first update")
    func clippingWithFusedUpdates() throws {
        let r = try cli.run(["plan", dir + "/ae.onnx", "-o", cli.temporary("fused.hsplan"), "--clip-grad-norm", "1", "--fuse-updates"])
        #expect(r.status == 2 && r.err.contains("--fuse-updates") && r.err.contains("clip"), "\(r.err)")
    }

    @Test("on the digits CNN at lr 0.05 with momentum 0.9, data order 0 diverges to chance without clipping and reaches over 90% with --clip-grad-norm 1")
    func clippingRescuesTheDivergingRecipe() throws {
        let digits = CLITests.digits, model = CLITests.root + "/Tools/examples/digits-cnn/model.onnx"
        var accuracy: [String: Double] = [:]
        for clip in [[], ["--clip-grad-norm", "1.0"]] {
            let p = cli.temporary("cnn-clip-\(clip.count).hsplan")
            let planned = try cli.run(["plan", model, "--lr", "0.05", "--momentum", "0.9", "-o", p] + clip)
            #expect(planned.status == 0, "\(planned.err)")
            let r = try cli.run(["train", p, "--inputs", digits + "/shifted-train-x.npy", "--labels", digits + "/shifted-train-y.npy",
                                 "--eval-inputs", digits + "/shifted-test-x.npy", "--eval-labels", digits + "/shifted-test-y.npy",
                                 "--steps", "600", "--seed", "0", "--json", "--quiet"])
            accuracy[clip.isEmpty ? "plain" : "clipped"] = json(r)["eval_accuracy"] as? Double ?? .nan
        }
        #expect(accuracy["plain"]! < 0.2, "\(accuracy)")
        #expect(accuracy["clipped"]! > 0.9, "\(accuracy)")
    }

    @Test("demo sensors plans and continues both examples and ends with a summary beside PyTorch's, for SRAM and fp32")
    func demoSensors() throws {
        let r = try cli.run(["demo", "sensors", "--out", cli.temporary("demo-sensors")])
        #expect(r.status == 0, "\(r.err)")
        for line in ["sensor drift, 1-D CNN", "anomaly autoencoder", "PyTorch fp32", "SRAM (arena) / as fp32", "AUC"] {
            #expect(r.out.contains(line), "\(line)")
        }
        let bad = try cli.run(["demo", "gestures"])
        #expect(bad.status == 2 && bad.err.contains("digits (the default) or sensors"))
    }

    @Test("package of an MSE plan builds, and its README steps with hs_train_step_targets")
    func packageOfARegressionPlan() throws {
        let p = try plan(["--loss", "mse", "--clip-grad-norm", "1"], "ae-package.hsplan")
        let out = cli.temporary("ae-package")
        let r = try cli.run(["package", p, "--target", "mps2-an386", "-o", out])
        #expect(r.status == 0, "\(r.err)")
        let readme = (try? String(contentsOfFile: out + "/README.md", encoding: .utf8)) ?? ""
        #expect(readme.contains("hs_train_step_targets(t, inputs, targets, &report);   /* 4 samples x 16 floats, 4 x 16 target floats */"), "\(readme)")
    }

    @Test("plan and inspect say which loss, schedule, warm-up and clipping a plan trains with")
    func planAndInspectDescribeTheTraining() throws {
        let out = cli.temporary("ae-describe.hsplan")
        let planned = try cli.run(["plan", dir + "/ae.onnx", "-o", out, "--loss", "huber:0.5", "--lr-schedule", "cosine:300:0.001",
                                   "--warmup", "10", "--clip-grad-norm", "2"])
        #expect(planned.out.contains("training      huber:0.5 loss, lr 0.01 on cosine:300:0.001, warm-up 10 steps, gradients clipped to global norm 2.0"), "\(planned.out)")
        let inspected = try cli.run(["inspect", out, "--json"])
        let config = json(inspected)["config"] as? [String: Any] ?? [:]
        #expect(config["loss"] as? String == "huber:0.5" && config["learning_rate_schedule"] as? String == "cosine:300:0.001", "\(inspected.out.prefix(400))")
        #expect(config["warmup_steps"] as? String == "10" && config["clip_grad_norm"] as? String == "2.0")
    }

    @Test("plan --target says when --accumulate fp16 does not pay on the part's core, with or without fp16 arithmetic")
    func accumulationNoteFollowsTheProfile() throws {
        let model = CLITests.digits + "/mlp.onnx"
        let m4 = try cli.run(["plan", model, "--target", "nrf52840", "--accumulate", "fp16", "-o", cli.temporary("acc-m4.hsplan")])
        #expect(m4.status == 0 && m4.out.contains("nrf52840's cortex-m4f has no fp16 arithmetic (f32-f16-conversion)"), "\(m4.out)")
        let m55 = try cli.run(["plan", model, "--target", "stm32n657", "--accumulate", "fp16", "-o", cli.temporary("acc-m55.hsplan")])
        #expect(m55.status == 0 && m55.out.contains("stm32n657's cortex-m55 computes in fp16, but the fp16-accumulation kernels are portable code"), "\(m55.out)")
        let fp32 = try cli.run(["plan", model, "--target", "stm32n657", "-o", cli.temporary("acc-fp32.hsplan")])
        #expect(fp32.status == 0 && !fp32.out.contains("accumulation kernels"))
    }
}
