import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// Power-loss-safe training state: two alternating checksummed slots on (emulated) flash.
struct CheckpointTests {
    let graph = makeMLP([16, 24, 12, 4], seed: 5)
    let data = syntheticData(count: 256, features: 16, classes: 4, seed: 7)

    func plan() throws -> [UInt8] { try Planner.plan(graph, options: options(batch: 16, update: .fp32Master), source: "s").bytes }

    func train(_ s: TrainingSession, steps: ClosedRange<Int>) {
        var sampler = EpochSampler(count: data.count, batch: 16, seed: 1)
        for _ in 1 ..< steps.lowerBound { _ = sampler.next() }
        for _ in steps { s.step(data, samples: sampler.next()) }
    }

    @Test("a cut at every write of a checkpoint resumes from the last complete one, never a torn one, and finishes like an uninterrupted run")
    func powerCutAtEveryWrite() throws {
        let bytes = try plan()
        // The uninterrupted run: 20 steps.
        let reference = try TrainingSession(LoadedPlan(bytes: bytes, path: "p"))
        train(reference, steps: 1 ... 20)
        let expected = reference.trainedParameters()

        // Checkpoint A after 10 steps, B after 15; B's save is cut after `cut` flash operations.
        let loaded = try LoadedPlan(bytes: bytes, path: "p")
        let slot = Checkpoint.slotBytes(loaded.plan, pageBytes: 256)
        let a = try TrainingSession(loaded)
        train(a, steps: 1 ... 10)
        var base = MemoryFlash(bytes: 2 * slot, pageBytes: 256)
        #expect(a.saveCheckpoint(to: &base))
        train(a, steps: 11 ... 15)
        let stateA = base
        var probe = stateA
        #expect(a.saveCheckpoint(to: &probe))
        let operations = probe.operations - stateA.operations
        #expect(operations > 100)
        var resumedA = 0, resumedB = 0
        for cut in 0 ... operations {
            var flash = stateA
            flash.writesBeforeCut = cut
            _ = a.saveCheckpoint(to: &flash)
            flash.writesBeforeCut = nil
            let s = try TrainingSession(LoadedPlan(bytes: bytes, path: "p"))
            #expect(s.restoreCheckpoint(from: flash), "cut \(cut): no checkpoint restored")
            let step = s.trainer.counters.steps
            #expect(step == 10 || step == 15, "cut \(cut): resumed at step \(step)")
            if step == 10 { resumedA += 1 } else { resumedB += 1 }
            // Finishing from every few cut points must reproduce the uninterrupted run exactly.
            if cut % 97 == 0 || cut == operations {
                train(s, steps: (step + 1) ... 20)
                #expect(s.trainedParameters() == expected, "cut \(cut): the resumed run differs")
            }
        }
        #expect(resumedB == 1 && resumedA == operations)   // only the commit (the magic word) makes B valid
    }

    @Test("empty or foreign flash restores nothing and leaves the state alone")
    func nothingToRestore() throws {
        let s = try TrainingSession(LoadedPlan(bytes: try plan(), path: "p"))
        let before = s.trainedParameters()
        let slot = Checkpoint.slotBytes(s.loaded.plan, pageBytes: 256)
        #expect(!s.restoreCheckpoint(from: MemoryFlash(bytes: 2 * slot, pageBytes: 256)))
        var other = MemoryFlash(bytes: 2 * slot, pageBytes: 256)
        let different = try TrainingSession(LoadedPlan(bytes: Planner.plan(graph, options: options(batch: 8), source: "s").bytes, path: "q"))
        _ = different.saveCheckpoint(to: &other)
        #expect(!s.restoreCheckpoint(from: other))            // another plan's state is refused (plan CRC)
        #expect(s.trainedParameters() == before)
    }
}
