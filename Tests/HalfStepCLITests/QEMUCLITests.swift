import Foundation
import Testing

/// `validate --qemu`: the same plan on the emulated Cortex-M4F and Cortex-M7, bit for bit as on the host.
struct QEMUCLITests {
    let cli = CLITests()

    func plan(_ update: String) throws -> String {
        let out = cli.temporary("qemu-\(update).hsplan")
        let r = try cli.run(["plan", CLITests.digits + "/mlp.onnx", "--batch", "32", "--momentum", "0.9", "--lr", "0.05",
                             "--update", update, "--loss-scale", "dynamic", "-o", out])
        #expect(r.status == 0, "\(r.err)")
        return out
    }

    func qemu(_ plan: String, _ target: String, steps: Int = 12) throws -> [String: Any] {
        let r = try cli.run(["validate", plan, "--target", target, "--inputs", CLITests.digits + "/shifted-train-x.npy",
                             "--labels", CLITests.digits + "/shifted-train-y.npy", "--steps", "\(steps)", "--qemu", "--json"])
        let object = (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any] ?? [:]
        #expect(!object.isEmpty, "no JSON: \(r.err)")
        return object["qemu"] as? [String: Any] ?? [:]
    }

    @Test("a Conv1d plan (sequences over [N, C, L]) trains on the Cortex-M4F bit for bit as on the host")
    func conv1dParity() throws {
        let dir = CLITests.root + "/Tests/Fixtures/conv1d", out = cli.temporary("qemu-conv1d.hsplan")
        let planned = try cli.run(["plan", dir + "/conv1d.onnx", "--batch", "4", "--momentum", "0.9", "-o", out])
        #expect(planned.status == 0, "\(planned.err)")
        let r = try cli.run(["validate", out, "--target", "mps2-an386", "--inputs", dir + "/x.npy", "--labels", dir + "/labels.npy",
                             "--steps", "6", "--qemu", "--json"])
        let object = (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any] ?? [:]
        let q = object["qemu"] as? [String: Any] ?? [:]
        #expect(q["bit_exact"] as? Bool == true, "\(q["first_mismatch"] ?? r.err)")
    }

    @Test("an MSE (and an L1) autoencoder plan with a cosine schedule, warm-up and gradient clipping trains on the Cortex-M4F and M7 bit for bit as on the host",
          arguments: [("mse", "mps2-an386"), ("l1", "mps2-an386"), ("mse", "mps2-an500")])
    func regressionScheduleClippingParity(loss: String, board: String) throws {
        let dir = CLITests.root + "/Tests/Fixtures/regression", out = cli.temporary("qemu-ae-\(loss)-\(board).hsplan")
        // lr 0.5 and a clip of 0.03: most of the steps are clipped (the gradient norm starts near 0.036).
        let planned = try cli.run(["plan", dir + "/ae.onnx", "--batch", "4", "--loss", loss, "--lr", "0.5", "--momentum", "0.9",
                                   "--lr-schedule", "cosine:6:0.05", "--warmup", "2", "--clip-grad-norm", "0.03", "-o", out])
        #expect(planned.status == 0, "\(planned.err)")
        let r = try cli.run(["validate", out, "--target", board, "--inputs", dir + "/x.npy", "--targets", dir + "/x.npy",
                             "--steps", "8", "--qemu", "--json"])
        let object = (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any] ?? [:]
        let q = object["qemu"] as? [String: Any] ?? [:]
        #expect(q["bit_exact"] as? Bool == true, "\(q["first_mismatch"] ?? r.err)")
        let host = try cli.run(["train", out, "--inputs", dir + "/x.npy", "--targets", dir + "/x.npy", "--steps", "8", "--json", "--quiet"])
        let summary = (try? JSONSerialization.jsonObject(with: Data(host.out.utf8))) as? [String: Any] ?? [:]
        #expect((summary["clipped_steps"] as? Int ?? 0) >= 1, "\(host.out) \(host.err)")
    }

    @Test("fp32-master and fp16 plans end with the host's exact weights and losses on both boards, through loss-scale overflows")
    func bitExactParity() throws {
        for update in ["fp32-master", "fp16"] {
            let p = try plan(update)
            for board in ["mps2-an386", "mps2-an500"] {
                let q = try qemu(p, board)
                #expect(q["bit_exact"] as? Bool == true, "\(update) on \(board): \(q["first_mismatch"] ?? "no report")")
                #expect(q["exit_status"] as? Int == 0)
            }
        }
        // The dynamic scale starts at 2^16 and overflows in the first steps of this task, so the
        // parity above covers skipped steps too.
        let host = try cli.run(["train", try plan("fp16"), "--inputs", CLITests.digits + "/shifted-train-x.npy",
                                "--labels", CLITests.digits + "/shifted-train-y.npy", "--steps", "12", "--json"])
        let summary = try JSONSerialization.jsonObject(with: Data(host.out.utf8)) as? [String: Any]
        #expect((summary?["overflows"] as? Int ?? 0) >= 1)
    }

    @Test("stochastic and Kahan-compensated fp16 updates are bit for bit the host's on the Cortex-M4F")
    func newModesParity() throws {
        for update in ["fp16-stochastic", "fp16-kahan"] {
            let q = try qemu(try plan(update), "mps2-an386")
            #expect(q["bit_exact"] as? Bool == true, "\(update): \(q["first_mismatch"] ?? "no report")")
        }
    }

    @Test("a CNN plan run as 4 micro-batches per step is bit for bit the host's on the Cortex-M4F")
    func microBatchParity() throws {
        let out = cli.temporary("qemu-micro.hsplan")
        let model = URL(fileURLWithPath: CLITests.digits).deletingLastPathComponent().appendingPathComponent("digits-cnn/model.onnx").path
        let r = try cli.run(["plan", model, "--batch", "16", "--micro-batch", "4", "--momentum", "0.9", "--lr", "0.005", "-o", out])
        #expect(r.status == 0, "\(r.err)")
        let q = try qemu(out, "mps2-an386", steps: 4)
        #expect(q["bit_exact"] as? Bool == true, "\(q["first_mismatch"] ?? "no report")")
        #expect(q["exit_status"] as? Int == 0)
    }

    @Test("instruction counts are the same run to run")
    func deterministicCounts() throws {
        let p = try plan("fp16")
        let a = try qemu(p, "mps2-an386", steps: 3), b = try qemu(p, "mps2-an386", steps: 3)
        #expect(a["instructions_per_step"] as? Int == b["instructions_per_step"] as? Int)
        #expect((a["instructions_per_step"] as? Int ?? 0) > 100_000)
    }
}
