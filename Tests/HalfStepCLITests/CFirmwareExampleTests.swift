import Foundation
import Testing
import HalfStepEmulator

/// `halfstep package` as a C developer uses it: Targets/examples/c-firmware, a CMake project built
/// with Debian's arm-none-eabi-gcc against the package alone, trains the digits MLP on QEMU's
/// mps2-an386, saves a checkpoint, resets, restores it; `halfstep export --checkpoint` turns the
/// region it read out into the adapted ONNX model.
struct CFirmwareExampleTests {
    let cli = CLITests()

    /// Runs `executable` in `directory`, output and errors together, stopped past `seconds`.
    /// ChildProcess, not Process: it hands the child an empty signal mask, and CMake waits for its
    /// compiler checks on SIGCHLD, which the test runner's threads block.
    func tool(_ executable: String, _ arguments: [String], in directory: String, seconds: Double = 300) throws -> (status: Int32, output: String) {
        let r = try ChildProcess.run("/usr/bin/env", [executable] + arguments, directory: directory, timeoutSeconds: seconds)
        return (r.timedOut ? -1 : r.status, r.output + (r.timedOut ? "\n(stopped after \(Int(seconds)) s)" : ""))
    }

    /// The example's "key value" lines.
    func values(_ output: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for line in output.split(separator: "\n") {
            let w = line.split(separator: " ")
            if w.count == 2, let v = Int(w[1]) { out[String(w[0])] = v }
        }
        return out
    }

    @Test("the C example, built with arm-none-eabi-gcc against the package only, trains the digits on QEMU by 25+ points, refuses a corrupt plan, and restores its checkpoint after a reset; export turns the region into an ONNX model that scores as the device did")
    func cFirmwareTrainsAndRestores() throws {
        let work = cli.temporary("c-firmware")
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let plan = work + "/digits.hsplan", package = work + "/pkg", build = work + "/build"
        let planned = try cli.run(["plan", CLITests.digits + "/mlp.onnx", "--lr", "0.05", "--momentum", "0.9", "-o", plan])
        #expect(planned.status == 0, "\(planned.err)")
        let packaged = try cli.run(["package", plan, "--target", "mps2-an386", "-o", package])
        #expect(packaged.status == 0, "\(packaged.err)")
        for file in ["include/halfstep.h", "lib/libhalfstep.a", "plan/plan.c", "plan/plan.h", "README.md"] {
            #expect(FileManager.default.fileExists(atPath: package + "/" + file), "\(file) missing")
        }

        let example = CLITests.root + "/Targets/examples/c-firmware"
        let configure = try tool("cmake", ["-S", example, "-B", build, "-DHALFSTEP_PACKAGE=" + package,
                                           "-DCMAKE_TOOLCHAIN_FILE=" + example + "/arm-none-eabi-gcc.cmake"], in: work)
        try #require(configure.status == 0, "cmake configure (install cmake, gcc-arm-none-eabi, libnewlib-arm-none-eabi): \(configure.output)")
        let compiled = try tool("cmake", ["--build", build], in: work)
        try #require(compiled.status == 0, "cmake --build: \(compiled.output)")

        let run = try tool("qemu-system-arm", ["-M", "mps2-an386", "-cpu", "cortex-m4", "-nographic", "-monitor", "none", "-serial", "none",
                                               "-semihosting-config", "enable=on,target=native", "-kernel", build + "/c-firmware.elf"], in: work, seconds: 120)
        #expect(run.status == 0, "\(run.output)")
        let v = values(run.output)
        let samples = try #require(v["test_samples"])
        let before = try #require(v["correct_before"]), after = try #require(v["correct_after"])
        #expect(Double(after - before) / Double(samples) >= 0.25, "held-out \(before)/\(samples) -> \(after)/\(samples)")
        #expect(v["corrupt_plan_status"] == -3 && v["truncated_plan_arena_bytes"] == 0)
        #expect(run.output.contains("corrupt_plan the plan does not verify"))
        #expect(run.output.contains("the plan needs \(v["arena_bytes"] ?? -1) bytes"))
        #expect(v["restored_step"] == 120 && v["correct_restored"] == after)
        #expect((v["trainer_bytes"] ?? .max) <= 1024)

        // The region as read out of flash, back into the source model; the host scores it in fp32.
        let adapted = work + "/adapted.onnx"
        let exported = try cli.run(["export", plan, "--checkpoint", work + "/checkpoint-region.bin", "-o", adapted])
        #expect(exported.status == 0 && exported.out.contains("step 120"), "\(exported.err)")
        let scored = try cli.run(["eval", adapted, "--inputs", CLITests.digits + "/shifted-test-x.npy",
                                  "--labels", CLITests.digits + "/shifted-test-y.npy", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(scored.out.utf8)) as? [String: Any], "\(scored.err)")
        let accuracy = try #require(object["accuracy"] as? Double)
        // fp32 arithmetic on the host against the device's fp16: a close call may flip, no more.
        #expect(abs(accuracy * Double(samples) - Double(after)) <= 3, "ONNX \(accuracy * Double(samples)) vs device \(after)")
    }

    @Test("package builds for Cortex-M33 and M55 parts (RP2350, STM32N6), and a C program links against each with arm-none-eabi-gcc and the README's flags",
          arguments: ["rp2350", "stm32n657"])
    func packageForM33AndM55(part: String) throws {
        let plan = cli.temporary("pkg-\(part).hsplan"), out = cli.temporary("pkg-\(part)")
        _ = try cli.run(["plan", CLITests.digits + "/mlp.onnx", "-o", plan])
        let r = try cli.run(["package", plan, "--target", part, "-o", out])
        #expect(r.status == 0, "\(r.err)")
        let readme = (try? String(contentsOfFile: out + "/README.md", encoding: .utf8)) ?? ""
        let flags = part == "rp2350" ? "-mcpu=cortex-m33 -mthumb -mfpu=fpv5-sp-d16 -mfloat-abi=hard" : "-mcpu=cortex-m55 -mthumb -mfloat-abi=hard"
        #expect(readme.contains(flags), "\(readme.prefix(600))")
        let main = out + "/main.c"
        try """
        #include "halfstep.h"
        #include "plan.h"
        static unsigned long long storage[HS_TRAINER_MAX_BYTES / 8];
        static unsigned char arena[HS_PLAN_ARENA_BYTES] __attribute__((aligned(16)));
        static float x[HS_PLAN_BYTES > 0 ? 32 * 64 : 1];
        static int32_t labels[32];
        int main(void) {
            hs_trainer *t = (hs_trainer *)storage;
            if (hs_trainer_init(t, hs_plan, hs_plan_bytes, arena, sizeof arena) != 0) return 1;
            hs_step_report r;
            return hs_train_step(t, x, labels, &r);
        }
        """.write(toFile: main, atomically: true, encoding: .utf8)
        let args = flags.split(separator: " ").map(String.init) + ["-Os", "-I", out + "/include", "-I", out + "/plan", main, out + "/plan/plan.c",
                    out + "/lib/libhalfstep.a", "-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections", "-Wl,-e,main", "-o", out + "/image.elf"]
        let linked = try tool("arm-none-eabi-gcc", args, in: out, seconds: 120)
        #expect(linked.status == 0, "\(linked.output)")
    }

    @Test("package refuses a part whose core the library does not build for, naming the cores it does")
    func packageRefusesUnsupportedCore() throws {
        let plan = cli.temporary("pkg-refuse.hsplan")
        _ = try cli.run(["plan", CLITests.digits + "/mlp.onnx", "-o", plan])
        let r = try cli.run(["package", plan, "--target", "rp2040", "-o", cli.temporary("pkg-refused")])
        #expect(r.status == 1 && r.err.contains("cortex-m0plus") && r.err.contains("cortex-m33, cortex-m4f, cortex-m55, cortex-m7"), "\(r.err)")
        let missing = try cli.run(["package", plan, "-o", cli.temporary("pkg-refused")])
        #expect(missing.status == 2 && missing.err.contains("--target"))
        let noOutput = try cli.run(["package", plan, "--target", "mps2-an386"])
        #expect(noOutput.status == 2 && noOutput.err.contains("-o DIR is required"))
        let typo = try cli.run(["package", plan, "--taget", "mps2-an386", "-o", cli.temporary("pkg-refused")])
        #expect(typo.status == 2 && typo.err.contains("--target"), "\(typo.err)")
        let noPlan = try cli.run(["package", cli.temporary("no-such.hsplan"), "--target", "mps2-an386", "-o", cli.temporary("pkg-refused")])
        #expect(noPlan.status == 1 && noPlan.err.contains("cannot read"))
    }

    @Test("export and inspect --checkpoint refuse a region with no checkpoint of the plan, saying what they looked for")
    func exportRefusesEmptyRegion() throws {
        let plan = cli.temporary("export-empty.hsplan")
        _ = try cli.run(["plan", CLITests.digits + "/mlp.onnx", "-o", plan])
        let region = cli.temporary("empty-region.bin")
        FileManager.default.createFile(atPath: region, contents: Data(repeating: 0xFF, count: 8192))
        let r = try cli.run(["export", plan, "--checkpoint", region, "-o", cli.temporary("never.onnx")])
        #expect(r.status == 1 && r.err.contains("holds no complete checkpoint of") && r.err.contains("plan CRC"), "\(r.err)")
        let i = try cli.run(["inspect", plan, "--checkpoint", region])
        #expect(i.status == 1 && i.err.contains("holds no complete checkpoint"))
        let gone = try cli.run(["export", plan, "--checkpoint", cli.temporary("no-such-region.bin"), "-o", cli.temporary("never.onnx")])
        #expect(gone.status == 1 && gone.err.contains("cannot read"))
    }

    @Test("inspect --checkpoint shows the step, loss scale and counters of train --checkpoint's file")
    func inspectShowsTrainCheckpoint() throws {
        let plan = cli.temporary("inspect-ck.hsplan"), state = cli.temporary("inspect-ck.state")
        try? FileManager.default.removeItem(atPath: state)
        _ = try cli.run(["plan", CLITests.digits + "/mlp.onnx", "-o", plan])
        let trained = try cli.run(["train", plan, "--inputs", CLITests.digits + "/shifted-train-x.npy", "--labels",
                                   CLITests.digits + "/shifted-train-y.npy", "--steps", "30", "--checkpoint", state, "--quiet"])
        #expect(trained.status == 0, "\(trained.err)")
        let r = try cli.run(["inspect", plan, "--checkpoint", state, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r.err)")
        #expect(object["step"] as? Int == 30)
        #expect((object["loss_scale"] as? Double ?? 0) > 0)
    }
}
