import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// `--conv-panels`: a speed lever. Each convolution that is neither 1×1 nor depthwise runs forward
/// through a planned im2col panel; the plan trains bit for bit like the one without, and `--fit`
/// keeps the panels only where the budget has room for them.
struct ConvolutionPanelPlanTests {
    let digits = fixture("Tools/examples/digits")

    func options(panels: Bool, batch: Int = 8) -> PlanOptions {
        var o = PlanOptions()
        o.batch = batch
        o.momentum = 0.9
        o.learningRate = 0.005
        o.convPanels = panels
        return o
    }

    @Test("with --conv-panels on the digits CNN's 3x3 convolution gets a panel of 16 pixels x 9 taps; its depthwise and 1x1 convolutions stay direct")
    func onlyGeneralWindowsGetPanels() throws {
        let g = try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        let plain = try Planner.plan(g, options: options(panels: false), source: "t").program
        let paneled = try Planner.plan(g, options: options(panels: true), source: "t").program
        #expect(plain.ops.filter { $0.opcode == .conv2dForward }.count == 4)
        let panels = paneled.ops.filter { $0.opcode == .conv2dPanelForward }
        #expect(panels.count == 1 && paneled.ops.filter { $0.opcode == .conv2dForward }.count == 3)
        let panel = try #require(panels.first?.operands[4].map { paneled.tensors[$0] })
        #expect(panel.role == .scratch && panel.region == .arena && panel.dtype == .float16 && panel.elementCount == 16 * 9)
        #expect(paneled.notes.contains { $0.contains("through an im2col panel") && $0.contains("(288 B)") }, "\(paneled.notes)")
        #expect(!plain.notes.contains { $0.contains("im2col") })
    }

    @Test("the digits CNN with convolution panels trains bit for bit like the plan without them")
    func panelsDoNotChangeTraining() throws {
        let g = try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        let data = try Dataset.load(inputs: digits + "/shifted-train-x.npy", labels: digits + "/shifted-train-y.npy", expectedFeatures: 64, classes: 10)
        func trained(_ o: PlanOptions) throws -> (losses: [UInt32], weights: [String: [Float]]) {
            let session = try TrainingSession(LoadedPlan(bytes: try Planner.plan(g, options: o, source: "t").bytes, path: "t"))
            var losses: [UInt32] = []
            for s in 0 ..< 8 { losses.append(session.step(data, samples: (s * 8) ..< (s * 8 + 8)).loss.bitPattern) }
            return (losses, session.trainedParameters())
        }
        // A fixed loss scale of 256, so every step applies (the default 2^16 overflows the first few).
        var plain = options(panels: false), paneled = options(panels: true)
        plain.lossScale = .fixed(256)
        paneled.lossScale = .fixed(256)
        let a = try trained(plain), b = try trained(paneled)
        #expect(a.losses == b.losses)
        #expect(a.weights.keys.sorted() == b.weights.keys.sorted() && !a.weights.isEmpty)
        for (name, v) in a.weights { #expect(v.map(\.bitPattern) == b.weights[name]!.map(\.bitPattern), "\(name)") }
    }

    @Test("the panel lever's note says what it costs in SRAM against the same plan without it")
    func leverNoteStatesTheCost() throws {
        let g = try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        let result = try Planner.plan(g, options: options(panels: true), source: "t", explainLevers: true)
        #expect(result.program.notes.contains { $0.hasPrefix("lever --conv-panels on (speed): costs") }, "\(result.program.notes)")
    }

    @Test("--fit turns convolution panels on when the budget has room, and leaves them off when the user pinned them off")
    func fitKeepsPanelsWhereTheBudgetAllows() throws {
        let g = try importedGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        var base = options(panels: false)
        base.sramBudget = 256 * 1024
        base.flashBudget = 1024 * 1024
        let chosen = try #require(PlanFit.search(g, base: base, pinned: PlanFit.Pinned(), source: "t").best)
        #expect(chosen.options.convPanels && chosen.fits)
        var pinned = PlanFit.Pinned()
        pinned.panels = true
        let off = try #require(PlanFit.search(g, base: base, pinned: pinned, source: "t").best)
        #expect(!off.options.convPanels)
        #expect(off.trainedElements == chosen.trainedElements, "panels change speed, not what trains")
    }
}
