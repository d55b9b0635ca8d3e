import Foundation
import Testing
import HalfStepCore
import HalfStepPlanner
import HalfStepTestSupport
@testable import HalfStepEmulator

/// The firmware on QEMU, driven directly (host/device parity: `QEMUValidationTests`, and through
/// the command line in the CLI tests).
/// Needs `qemu-system-arm` (installed by `.ci/run`).
struct QEMUTests {
    func profile(sram: Int = 1 << 20, core: String = "cortex-m4f") throws -> TargetProfile {
        try TargetProfile.parse(Data("""
        {"name": "qemu-test", "core": "\(core)", "clock_hz": 25000000, "sram": [{"name": "RAM", "bytes": \(sram)}],
         "flash_bytes": 1048576, "stack_bytes": 16384, "fpu": "f32-f16-conversion", "source": "HalfStep tests"}
        """.utf8), path: "qemu-test.json")
    }

    func work(_ name: String) -> String { NSTemporaryDirectory() + "halfstep-qemu-test-\(getpid())-\(name)" }

    @Test("a hard fault on the device is reported with its registers and a nonzero exit, not a hang")
    func hardFaultIsReported() throws {
        var payload = FirmwarePayload(plan: [UInt8](repeating: 0, count: 64), inputs: [], labels: [], steps: 0, batch: 1,
                                      features: 1, profileOps: false)
        payload.faultOnPurpose = true
        let r = try QEMURunner.run(payload: payload, arenaBytes: 1024, profile: profile(), board: .mps2AN386, reserve: (0, 0),
                                   workDirectory: work("fault"), timeoutSeconds: 60)
        #expect(r.exitStatus == 5)
        #expect(r.fault?.contains("pc=") == true && r.fault?.contains("cfsr=") == true, "\(r.output)")
    }

    @Test("a payload the core refuses makes the firmware exit with a refusal, on every board")
    func badPlanIsRefused() throws {
        let payload = FirmwarePayload(plan: [UInt8](repeating: 0x55, count: 128), inputs: [], labels: [], steps: 0, batch: 1,
                                      features: 1, profileOps: false)
        for board in QEMURunner.Board.allCases {
            let r = try QEMURunner.run(payload: payload, arenaBytes: 1024, profile: profile(core: board.core.rawValue),
                                       board: board, reserve: (0, 0), workDirectory: work("refuse-\(board.rawValue)"), timeoutSeconds: 60)
            #expect(r.exitStatus == 3 && r.fault == "error plan", "\(board): \(r.output)")
        }
    }

    @Test("an image that does not fit the part's SRAM does not link, whatever the board's 4 MiB")
    func tooBigDoesNotLink() throws {
        let payload = FirmwarePayload(plan: [UInt8](repeating: 0, count: 64), inputs: [], labels: [], steps: 0, batch: 1,
                                      features: 1, profileOps: false)
        do {
            _ = try QEMURunner.run(payload: payload, arenaBytes: 64 * 1024, profile: profile(sram: 32 * 1024), board: .mps2AN386,
                                   reserve: (0, 0), workDirectory: work("fit"), timeoutSeconds: 60)
            Issue.record("a 64 KiB arena linked into 32 KiB of SRAM")
        } catch {
            guard let qemuError = error as? QEMUError, case .doesNotFit(let detail) = qemuError else { Issue.record("\(error)"); return }
            #expect(detail.contains("will not fit in region 'SRAM'"))
        }
    }

    @Test("a QEMU run past its limit is stopped and reported as a timeout naming the image, the plan and the limit")
    func runTimeout() throws {
        // A 64-128-10 MLP trained on 16 samples a step for 1000 steps: about two billion
        // instructions, several seconds of QEMU, far past the one-second limit.
        let plan = try Planner.plan(makeMLP([64, 128, 10]), options: options(batch: 16), source: "synthetic")
        let steps = 1000, batch = 16
        let data = syntheticData(count: steps * batch, features: 64, classes: 10, seed: 3)
        let payload = FirmwarePayload(plan: plan.bytes, inputs: data.inputs, labels: data.labels, steps: steps, batch: batch,
                                      features: 64, profileOps: false)
        let board = try TargetProfile.resolve("mps2-an386")   // 4 MiB of flash for the 2 MiB of batches
        do throws(QEMUError) {
            _ = try QEMURunner.run(payload: payload, arenaBytes: plan.memory.arenaBytes, profile: board, board: .mps2AN386,
                                   reserve: (0, 0), workDirectory: work("timeout"), timeoutSeconds: 1, plan: "mlp.hsplan")
            Issue.record("\(steps) steps finished within a second")
        } catch {
            guard case .timeout(let stage, let board, let image, let plan, let seconds, _) = error else { Issue.record("\(error)"); return }
            #expect(stage == .run && board == .mps2AN386 && image.hasSuffix("/image.elf") && plan == "mlp.hsplan" && seconds == 1)
            #expect(error.description.hasPrefix("the QEMU run of \(image) on mps2-an386 (plan mlp.hsplan) did not finish within 1 s (a hang on the device); "))
        }
    }
}
