import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepEmulator
@testable import HalfStepPlanner

/// Checkpoints on the emulated Cortex-M: the run is stopped (power cut) in the middle of writing a
/// checkpoint to the board's flash, restarted, and must end with the weights of a run that was never cut.
struct QEMUCheckpointTests {
    func payload(cutAfter words: Int) throws -> (FirmwarePayload, Int, TargetProfile) {
        let digits = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tools/examples/digits").path
        let graph = try importedGraph(path: digits + "/mlp.onnx")
        var o = PlanOptions()
        o.batch = 16
        o.momentum = 0.9
        o.learningRate = 0.05
        let plan = try Planner.plan(graph, options: o, source: "m")
        let data = try Dataset.load(inputs: digits + "/shifted-train-x.npy", labels: digits + "/shifted-train-y.npy", expectedFeatures: 64, classes: 10)
        let steps = 24
        var inputs: [Float16] = [], labels: [Int32] = []
        for s in 0 ..< steps * 16 {
            let sample = (s * 37) % data.count
            inputs += data.inputs[(sample * 64) ..< (sample * 64 + 64)]
            labels.append(data.labels[sample])
        }
        var p = FirmwarePayload(plan: plan.bytes, inputs: inputs, labels: labels, steps: steps, batch: 16, features: 64, profileOps: false)
        p.checkpointEvery = 8
        p.powerCutAfterWords = words
        let profile = try TargetProfile.resolve("mps2-an386")
        return (p, plan.memory.arenaBytes, profile)
    }

    @Test("a power cut mid-checkpoint on the Cortex-M4F resumes from the last complete checkpoint and ends bit for bit like an uncut run")
    func powerCutResumes() throws {
        let base = NSTemporaryDirectory() + "halfstep-qemu-ck-\(getpid())"
        // Uncut reference.
        let (clean, arena, profile) = try payload(cutAfter: 0)
        let reference = try QEMURunner.run(payload: clean, arenaBytes: arena, profile: profile, board: .mps2AN386, reserve: (0, 0),
                                           workDirectory: base + "-clean", timeoutSeconds: 240)
        #expect(reference.exitStatus == 0, "\(reference.output.suffix(400))")
        // Cut in the middle of the second checkpoint (after step 16): each checkpoint is a few thousand words.
        let words = (Checkpoint.stateBytes(try LoadedPlan(bytes: clean.plan, path: "p").plan) + 24) / 4
        let (cut, _, _) = try payload(cutAfter: words + words / 2)
        let first = try QEMURunner.run(payload: cut, arenaBytes: arena, profile: profile, board: .mps2AN386, reserve: (0, 0),
                                       workDirectory: base + "-cut", timeoutSeconds: 240)
        #expect(first.powerCut && first.exitStatus == 7, "\(first.output.suffix(400))")
        let (again, _, _) = try payload(cutAfter: 0)
        let second = try QEMURunner.run(payload: again, arenaBytes: arena, profile: profile, board: .mps2AN386, reserve: (0, 0),
                                        workDirectory: base + "-cut", timeoutSeconds: 240)
        #expect(second.exitStatus == 0)
        #expect(second.resumedFromStep == 8, "resumed at \(String(describing: second.resumedFromStep))")
        #expect(!second.tensors.isEmpty && second.tensors == reference.tensors)
    }
}
