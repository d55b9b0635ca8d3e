import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// Plans written by earlier builds: one committed fixture per format version, read or refused by
/// version with a message that says which version is needed.
struct PlanCompatibilityTests {
    let v1 = fixture("Tests/Fixtures/plans/digits-last1-v1.hsplan")

    func bytes() throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: v1))) }

    @Test("the committed format v1 plan still loads, verifies and trains")
    func v1Loads() throws {
        let loaded = try LoadedPlan(path: v1)
        #expect(loaded.plan.header.version == 1)
        let session = try TrainingSession(loaded)
        let digits = fixture("Tools/examples/digits")
        let data = try Dataset.load(inputs: digits + "/shifted-train-x.npy", labels: digits + "/shifted-train-y.npy", expectedFeatures: 64, classes: 10)
        let summary = try TrainingLoop.run(session, train: data, eval: nil, settings: .init(steps: 20)) { _ in }
        #expect(summary.counters.appliedSteps > 0 && summary.finalLoss.isFinite)
    }

    @Test("a plan of another format version is refused naming the version found and the one this build reads")
    func otherVersionsRefused() throws {
        for version: UInt16 in [0, 2, 7] {
            var b = try bytes()
            b.withUnsafeMutableBytes { raw in
                var h = PlanHeader(from: raw.baseAddress!)
                h.version = version
                h.store(to: raw.baseAddress!)
                h.crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(raw)[PlanFormat.crcStart...]))
                h.store(to: raw.baseAddress!)
            }
            do {
                _ = try LoadedPlan(bytes: b, path: "old.hsplan")
                Issue.record("version \(version) accepted")
            } catch {
                #expect(error.description.contains("format version \(version) at byte 4; this build reads version 1"), "\(error)")
            }
        }
    }
}

/// Numerical faults: each gives a clear report and leaves the weights at their last good values.
struct NumericalFaultTests {
    let graph = makeMLP([16, 24, 12, 4], seed: 5)
    let data = syntheticData(count: 256, features: 16, classes: 4, seed: 7)

    @Test("a run where every step overflows applies nothing, keeps the weights and says so")
    func allOverflow() throws {
        let r = try Planner.plan(graph, options: options(batch: 16, lossScale: .fixed(1e30)), source: "s")
        let s = try TrainingSession(LoadedPlan(bytes: r.bytes, path: "s"))
        let before = s.trainedParameters()
        let summary = try TrainingLoop.run(s, train: data, eval: nil, settings: .init(steps: 12)) { _ in }
        #expect(summary.counters.appliedSteps == 0 && summary.counters.skippedSteps == 12)
        #expect(s.trainedParameters() == before)
        #expect(summary.warnings.contains { $0.contains("no step was applied") }, "\(summary.warnings)")
    }

    @Test("NaN or infinite inputs are refused on load, naming the file and element")
    func nonFiniteInputs() throws {
        let x = NpyArray(float32: [0, 1, .infinity, 3], shape: [2, 2])
        #expect(throws: NpyError.notFinite(path: "x.npy", index: 2, value: "inf")) {
            _ = try Dataset.make(x, inputsPath: "x.npy", NpyArray(uint8: [0, 1], shape: [2]), labelsPath: "y.npy", expectedFeatures: 2, classes: 2)
        }
    }

    @Test("a label out of range stops training with the sample and value")
    func labelOutOfRange() throws {
        let r = try Planner.plan(graph, options: options(batch: 16), source: "s")
        let s = try TrainingSession(LoadedPlan(bytes: r.bytes, path: "s"))
        let bad = Dataset(inputs: data.inputs, labels: data.labels.enumerated().map { $0.offset == 5 ? 9 : $0.element }, count: data.count, features: data.features)
        #expect(throws: TrainingError.invalidLabel(sample: 5, value: 9, classes: 4)) {
            _ = try TrainingLoop.run(s, train: bad, eval: nil, settings: .init(steps: 3)) { _ in }
        }
    }
}
