import HalfStepCore
import Testing
import HalfStepTestSupport
@testable import HalfStepPlanner

/// Memory thresholds, as TensorFlow Lite Micro's memory tests pin arena sizes for reference models:
/// each example plan's exact SRAM arena bytes and flash bytes (the plan file's size), so a planner
/// change that grows (or shrinks) either fails here with the example, the figure and by how much.
///
/// When a change is meant to move a figure, update that row of `pinned`: it is the only place the
/// numbers live. (The plan file's size will change for every row when plans gain a host-only section.)
struct ArenaThresholdTests {
    /// One example plan and the figures it must keep.
    struct Pinned: Sendable, CustomTestStringConvertible {
        /// The example and the `plan` options it stands for, as a user would type them.
        var name: String
        var model: String
        var options: @Sendable () -> PlanOptions
        /// `Planner.Result.memory.arenaBytes`: the SRAM the device reserves for the arena.
        var arenaBytes: Int
        /// The `.hsplan` file's size: what the plan occupies in flash.
        var planBytes: Int

        var testDescription: String { name }
    }

    static let digitsMLP = "Tools/examples/digits/mlp.onnx"
    static let digitsCNN = "Tools/examples/digits-cnn/model.onnx"
    static let mobileNet = "Tools/examples/mobilenetv2/model.onnx"

    /// `plan`'s defaults (`PlanOptions()`), then what `configure` sets: the flags the row names.
    static func plan(_ configure: @escaping @Sendable (inout PlanOptions) -> Void) -> @Sendable () -> PlanOptions {
        { var o = PlanOptions(); configure(&o); return o }
    }

    // MARK: - The pinned figures (bytes)

    static let pinned: [Pinned] = [
        .init(name: "digits MLP, plan defaults (--batch 32)", model: digitsMLP, options: plan { _ in },
              arenaBytes: 47_648, planBytes: 28_552),
        .init(name: "digits MLP, the README's plan: --batch 32 --train all --optimizer sgd --lr 0.05 --momentum 0.9 --update fp32-master --loss-scale dynamic",
              model: digitsMLP, options: plan { $0.batch = 32; $0.train = .all; $0.optimizer = .sgd; $0.learningRate = 0.05; $0.momentum = 0.9
                  $0.update = .fp32Master; $0.lossScale = .dynamic(initial: 65536, growthInterval: 2000) },
              arenaBytes: 60_800, planBytes: 28_936),
        .init(name: "digits MLP, the README's nRF52840 plan: --batch 16 --momentum 0.9", model: digitsMLP,
              options: plan { $0.batch = 16; $0.momentum = 0.9 }, arenaBytes: 56_704, planBytes: 28_936),
        .init(name: "digits MLP: --batch 32 --momentum 0.9 --update fp16 --train last:1", model: digitsMLP,
              options: plan { $0.momentum = 0.9; $0.update = .fp16; $0.train = .last(1) }, arenaBytes: 9_680, planBytes: 14_804),
        .init(name: "digits CNN, plan defaults (--batch 32)", model: digitsCNN, options: plan { _ in }, arenaBytes: 136_544, planBytes: 9_064),
        .init(name: "digits CNN: --batch 16 --micro-batch 4 --momentum 0.9 --lr 0.005", model: digitsCNN,
              options: plan { $0.batch = 16; $0.microBatch = 4; $0.momentum = 0.9; $0.learningRate = 0.005 }, arenaBytes: 24_704, planBytes: 11_176),
        .init(name: "digits CNN: --batch 8 --momentum 0.9 --fuse-updates --relu-masks --recompute --fold-batchnorm", model: digitsCNN,
              options: plan { $0.batch = 8; $0.momentum = 0.9; $0.fuseUpdates = true; $0.activationMasks = true; $0.recompute = true; $0.foldBatchNorm = true },
              arenaBytes: 25_936, planBytes: 9_784),
        // The same arena as without panels: its 288 B panel is not live at the peak.
        .init(name: "digits CNN: --batch 8 --train all --conv-panels on", model: digitsCNN,
              options: plan { $0.batch = 8; $0.convPanels = true }, arenaBytes: 38_240, planBytes: 9_272),
        .init(name: "MobileNetV2: --batch 1 --train last:1 (the classifier; fits 256 KiB)",
              model: mobileNet, options: plan { $0.batch = 1; $0.train = .last(1) }, arenaBytes: 198_736, planBytes: 860_328),
        .init(name: "MobileNetV2: --batch 1 --train last:2 --momentum 0.9 --state fp32", model: mobileNet,
              options: plan { $0.batch = 1; $0.train = .last(2); $0.momentum = 0.9; $0.state = .fp32 }, arenaBytes: 1_612_400, planBytes: 1_166_424),
        .init(name: "MobileNetV2: --batch 1 --train biases --fuse-updates --relu-masks --recompute --fold-batchnorm", model: mobileNet,
              options: plan { $0.batch = 1; $0.train = .biases; $0.fuseUpdates = true; $0.activationMasks = true; $0.recompute = true; $0.foldBatchNorm = true },
              arenaBytes: 327_840, planBytes: 873_720),
    ]

    // MARK: -

    /// Imported once per model: MobileNetV2's import is the slow part in a debug build.
    static let graphs = Result<[String: Graph], Error> {
        var graphs: [String: Graph] = [:]
        for model in Set(pinned.map(\.model)) { graphs[model] = try importedGraph(path: fixture(model)) }
        return graphs
    }

    /// "60,800 B, 256 B (0.42%) more than the pinned 60,544 B"
    static func change(_ name: String, _ what: String, measured: Int, pinned: Int) -> String {
        let delta = measured - pinned
        let percent = pinned == 0 ? "" : " (\(Double(abs(delta) * 10000 / pinned) / 100)%)"
        let direction = delta > 0 ? "more" : "less"
        return "\(name): \(what) is \(measured) B, \(abs(delta)) B\(percent) \(direction) than the pinned \(pinned) B. "
            + (delta > 0 ? "A planner change grew it; if that is intended, " : "A planner change shrank it; ")
            + "update ArenaThresholdTests.pinned."
    }

    @Test("each example plan needs exactly the pinned SRAM arena and flash bytes", arguments: pinned)
    func pinnedFigures(_ p: Pinned) throws {
        let graph = try #require(try Self.graphs.get()[p.model])
        // The source as a relative path: the plan records it, so the file's size must not depend on the checkout's path.
        let r = try Planner.plan(graph, options: p.options(), source: p.model)
        print("\(p.name): arena \(r.memory.arenaBytes) B, plan file \(r.bytes.count) B")
        #expect(r.memory.arenaBytes == p.arenaBytes, "\(Self.change(p.name, "the SRAM arena", measured: r.memory.arenaBytes, pinned: p.arenaBytes))")
        #expect(r.bytes.count == p.planBytes, "\(Self.change(p.name, "the plan file (flash)", measured: r.bytes.count, pinned: p.planBytes))")
    }
}
