import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepEmulator
@testable import HalfStepPlanner

/// `QEMUValidation`, the library behind `validate --qemu`: a plan trained on the host and on the
/// emulated Cortex-M on the same batches, and the comparison that says where they part.
/// The runs need `qemu-system-arm` (installed by `.ci/run`); the comparisons do not.
struct QEMUValidationTests {
    static let digits = fixture("Tools/examples/digits")

    func digitsPlan(batch: Int = 16) throws -> LoadedPlan {
        var o = PlanOptions()
        o.batch = batch
        o.momentum = 0.9
        o.learningRate = 0.05
        o.update = .fp16
        let plan = try Planner.plan(try importedGraph(path: Self.digits + "/mlp.onnx"), options: o, source: "mlp.onnx")
        return try LoadedPlan(bytes: plan.bytes, path: "digits-mlp.hsplan")
    }

    func digitsData() throws -> Dataset {
        try Dataset.load(inputs: Self.digits + "/shifted-train-x.npy", labels: Self.digits + "/shifted-train-y.npy",
                         expectedFeatures: 64, classes: 10)
    }

    func work(_ name: String) -> String { NSTemporaryDirectory() + "halfstep-qemu-validation-\(getpid())-\(name)" }

    // MARK: - Runs on QEMU

    @Test("a digits plan trained on the Cortex-M4F through the library ends bit for bit as on the host")
    func cortexM4FMatchesHost() throws {
        let v = try QEMUValidation.run(loaded: try digitsPlan(), data: try digitsData(), profile: try TargetProfile.resolve("mps2-an386"),
                                       board: .mps2AN386, reserve: (0, 0), steps: 4, seed: 0, workDirectory: work("m4f"))
        #expect(v.mismatch == nil, "\(v.mismatch.map(\.description) ?? "")")
        #expect(v.passed, "\(v.device.output.suffix(400))")
        #expect(v.device.steps.count == 4 && v.hostSteps.count == 4)
        #expect(v.hostTensors.count == 6 && v.hostDiagnostics.count == 6)
        #expect(v.instructionsPerStep > 100_000)
        #expect(v.text().contains("weights match the host run bit for bit (6 trainable tensors"))
        #expect(v.json()["bit_exact"] as? Bool == true)
    }

    /// The digits CNN (every layer trained, batch 8): 3×3, strided, depthwise and 1×1 convolutions,
    /// BatchNorm, pooling and a Dense classifier, each priced by its own kernel family.
    func digitsCNNPlan(panels: Bool = false) throws -> LoadedPlan {
        var o = PlanOptions()
        o.batch = 8
        o.convPanels = panels
        let plan = try Planner.plan(try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx")), options: o, source: "model.onnx")
        return try LoadedPlan(bytes: plan.bytes, path: "digits-cnn.hsplan")
    }

    /// The runs also prove parity: `passed` holds only when the device's weights, losses and
    /// scales equal the host's bit for bit (with convolution panels on too).
    @Test("the cost model's step estimate is within 15% of QEMU's instruction count for the digits MLP and CNN on the Cortex-M4F, M7, M33 and M55",
          arguments: [("mlp", QEMURunner.Board.mps2AN386), ("mlp", .mps2AN500), ("cnn", .mps2AN386), ("cnn", .mps2AN500),
                      ("cnn --conv-panels on", .mps2AN386), ("mlp", .mps2AN505), ("cnn", .mps3AN547), ("mlp", .mps3AN547)])
    func costModelResidual(model: String, board: QEMURunner.Board) throws {
        let loaded = model == "mlp" ? try digitsPlan(batch: 32) : try digitsCNNPlan(panels: model.hasSuffix("on"))
        let v = try QEMUValidation.run(loaded: loaded, data: try digitsData(), profile: try TargetProfile.resolve(board.rawValue),
                                       board: board, reserve: (0, 0), steps: 2, seed: 0, workDirectory: work("cost-\(model.prefix(3))-\(model.count)-\(board.rawValue)"))
        #expect(v.passed, "\(v.device.output.suffix(400))")
        let residual = v.modelInstructionsPerStep / v.instructionsPerStep - 1
        #expect(abs(residual) <= 0.15, "\(model) on \(board.rawValue): model \(Int(v.modelInstructionsPerStep)), QEMU \(Int(v.instructionsPerStep))")
    }

    @Test("the digits MLP with fp16 updates and the digits CNN train on the Cortex-M33 (mps2-an505) and M55 (mps3-an547) bit for bit as on the host",
          arguments: [("mlp", QEMURunner.Board.mps2AN505), ("mlp", .mps3AN547), ("cnn", .mps2AN505), ("cnn", .mps3AN547)])
    func newBoardsParity(model: String, board: QEMURunner.Board) throws {
        let loaded = model == "mlp" ? try digitsPlan(batch: 32) : try digitsCNNPlan(panels: false)
        let v = try QEMUValidation.run(loaded: loaded, data: try digitsData(), profile: try TargetProfile.resolve(board.rawValue),
                                       board: board, reserve: (0, 0), steps: 3, seed: 0, workDirectory: work("parity-\(model)-\(board.rawValue)"))
        #expect(v.passed, "\(model) on \(board.rawValue): \(v.mismatch.map { "\($0)" } ?? v.device.output.suffix(400).description)")
        #expect(v.device.steps.count == 3)
    }

    @Test("fewer samples than one training step takes are refused before any firmware is built")
    func tooFewSamples() throws {
        let data = syntheticData(count: 3, features: 64, classes: 10, seed: 1)
        let loaded = try digitsPlan(), profile = try TargetProfile.resolve("mps2-an386")
        do throws(QEMUValidationError) {
            _ = try QEMUValidation.run(loaded: loaded, data: data, profile: profile,
                                       board: .mps2AN386, reserve: (0, 0), steps: 1, seed: 0, workDirectory: work("few"))
            Issue.record("3 samples made a batch of 16")
        } catch {
            guard case .tooFewSamples(let samples, let stepBatch) = error else { Issue.record("\(error)"); return }
            #expect(samples == 3 && stepBatch == 16)
            #expect(error.description == "the data has 3 samples, fewer than one batch of 16")
        }
    }

    // MARK: - The comparison, on reports written out by hand

    /// A device report as the firmware prints it: two steps, one update op's counters, one tensor
    /// of 3 fp16 elements (6 bytes: the second word's upper half is padding).
    let report = """
    HS begin plan=1 arena=1024
    HS step i=0 loss=40000000 scale=47800000 status=1 ticks=100
    HS step i=1 loss=3f800000 scale=47000000 status=0 ticks=120
    HS op i=0 ticks=30 idle=4
    HS counters overflows=1 skipped=1 underflows=0 nonzero=3
    HS diag k=0 nonzero=3 underflows=0 gradmax=3f000000 overflows=1
    HS tensor i=2 words=2
    HS w i=0 v=3c003800
    HS w i=1 v=abcd3400
    HS stack high=512
    HS end
    """

    var hostSteps: [QEMURunner.Step] {
        [.init(loss: 0x4000_0000, scale: 0x4780_0000, status: 1, ticks: 0), .init(loss: 0x3F80_0000, scale: 0x4700_0000, status: 0, ticks: 0)]
    }

    var hostDiagnostics: [(name: String, diagnostics: TensorDiagnostics)] {
        var d = TensorDiagnostics()
        d.nonzeroUpdates = 3
        d.overflowSteps = 1
        d.gradientMaxAbs = 0.5
        return [("fc.weight", d)]
    }

    func compare(_ output: String, hostTensor: [UInt32] = [0x3C00_3800, 0x0000_3400],
                 steps: [QEMURunner.Step]? = nil) -> QEMUValidation.Mismatch? {
        QEMUValidation.Mismatch.first(device: QEMURunner.parse(output, status: 0, board: .mps2AN386, footprint: [:]),
                                      hostSteps: steps ?? hostSteps, hostTensors: [2: hostTensor], hostDiagnostics: hostDiagnostics,
                                      tensorNames: [2: "fc.weight"], tensorBytes: [2: 6])
    }

    @Test("the firmware's report lines are read into steps, op ticks, counters, diagnostics, tensors and the stack mark")
    func parsesReport() {
        let r = QEMURunner.parse(report, status: 0, board: .mps2AN386, footprint: ["text": 10])
        #expect(r.steps == hostSteps.enumerated().map { i, s in QEMURunner.Step(loss: s.loss, scale: s.scale, status: s.status, ticks: 100 + 20 * i) })
        #expect(r.opTicks == [0: 30] && r.opIdleTicks == [0: 4])
        #expect(r.counters["overflows"] == 1 && r.counters["nonzero"] == 3)
        #expect(r.diagnostics[0] == ["nonzero": 3, "underflows": 0, "gradmax": 0x3F00_0000, "overflows": 1])
        #expect(r.tensors == [2: [0x3C00_3800, 0xABCD_3400]])
        #expect(r.stackHighWater == 512 && r.fault == nil && r.footprint == ["text": 10])
    }

    @Test("a device that agrees with the host bit for bit has no mismatch, whatever it left in a tensor's padding")
    func agreementIgnoresPadding() {
        #expect(compare(report) == nil)
    }

    @Test("a tensor word that differs is the first mismatch, named by tensor, word and both values")
    func tensorWordDiffers() {
        let m = compare(report, hostTensor: [0x3C00_3801, 0x0000_3400])
        #expect(m == .tensorWord(tensor: "fc.weight", word: 0, device: 0x3C00_3800, host: 0x3C00_3801))
        #expect(m?.description == "tensor fc.weight word 0 (bytes 0...): 0x3c003800 on the device, 0x3c003801 on the host")
    }

    @Test("a device report that ends inside a tensor is a mismatch at the first missing word")
    func tensorCutShort() {
        let cut = report.replacingOccurrences(of: "HS w i=1 v=abcd3400\n", with: "")
        #expect(compare(cut) == .tensorWord(tensor: "fc.weight", word: 1, device: nil, host: 0x0000_3400))
    }

    @Test("a step's loss that differs is reported before any tensor")
    func lossBeforeTensors() {
        let m = compare(report, hostTensor: [0, 0], steps: [hostSteps[0], .init(loss: 0x3F80_0001, scale: 0x4700_0000, status: 0, ticks: 0)])
        #expect(m == .loss(step: 1, device: 0x3F80_0000, host: 0x3F80_0001))
        #expect(m?.description == "step 1: loss bits 0x3f800000 on the device, 0x3f800001 on the host")
    }

    @Test("a device that reported fewer steps than the host ran says how many each")
    func stepCount() {
        #expect(compare(report, steps: hostSteps + hostSteps)?.description == "the device reported 2 steps, the host ran 4")
    }

    @Test("update counters that differ name the tensor")
    func diagnosticsDiffer() {
        let m = compare(report.replacingOccurrences(of: "nonzero=3 underflows=0 gradmax", with: "nonzero=2 underflows=0 gradmax"))
        guard case .diagnostics(let tensor, let device, _) = m else { Issue.record("\(String(describing: m))"); return }
        #expect(tensor == "fc.weight" && device["nonzero"] == 2)
    }
}
