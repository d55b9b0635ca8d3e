import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// `PlanSummary` and `PlanFit.Result`'s summary lines: what `halfstep plan` prints once a plan is
/// written, composed by the library (the CLI tests pin the command's output byte for byte).
struct PlanSummaryTests {
    static let digits = fixture("Tools/examples/digits/mlp.onnx")

    func summary(_ configure: (inout PlanOptions) -> Void = { _ in }) throws -> (PlanSummary, Planner.Result) {
        var o = options(batch: 16)
        configure(&o)
        let graph = try importedGraph(path: Self.digits)
        let result = try Planner.plan(graph, options: o, source: "mlp.onnx", explainLevers: true)
        return (PlanSummary(graph: graph, result: result, options: o, output: "out.hsplan"), result)
    }

    func line(_ text: String, _ label: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix("  \(label) ") }.map(String.init)
    }

    @Test("the summary names the model, what trains and the numerics, and gives the arena, bound and flash in bytes")
    func figures() throws {
        let (s, r) = try summary { $0.update = .fp16; $0.updateOverrides = ["4.weight": .fp32Master] }
        let text = s.text()
        #expect(text.contains("planned \(s.model) -> out.hsplan\n"))
        #expect(line(text, "model") == "  model         5 layers, 6570 parameters; training 6570 (--train all)")
        #expect(line(text, "numerics")?.hasPrefix("  numerics      fp16 storage, fp32 accumulation, fp16,fp32-master:4.weight updates, sgd, loss scale dynamic") == true)
        #expect(line(text, "batch") == "  batch         16")
        #expect(line(text, "SRAM arena") == "  SRAM arena    \(r.memory.arenaBytes) B (\(formatBytes(r.memory.arenaBytes)))")
        #expect(line(text, "lower bound")?.hasPrefix("  lower bound   \(r.memory.lowerBoundBytes) B: the arena is within ") == true)
        #expect(line(text, "flash (plan)") == "  flash (plan)  \(r.memory.flashBytes) B (\(formatBytes(r.memory.flashBytes)))")
        #expect(!text.hasSuffix("\n"))
    }

    @Test("against a budget, the arena and flash lines give the share of the budget used and what is spare")
    func budgetShare() throws {
        let (s, r) = try summary { $0.sramBudget = 64 * 1024; $0.flashBudget = 256 * 1024 }
        let used = r.memory.arenaBytes
        let expected = String(format: "  of 64.0 KiB budget (%.0f%%, %@ spare)", 100 * Double(used) / 65536, formatBytes(65536 - used))
        #expect(line(s.text(), "SRAM arena")?.hasSuffix(expected) == true, "\(s.text())")
        #expect(line(s.text(), "flash (plan)")?.contains(" of 256.0 KiB budget (") == true)
    }

    @Test("micro-batches are spelled out on the batch line")
    func microBatches() throws {
        let (s, _) = try summary { $0.microBatch = 4 }
        #expect(line(s.text(), "batch") == "  batch         16 as 4 micro-batches of 4, gradients summed before one update")
        #expect(s.microBatch == 4 && s.batch == 16)
    }

    @Test("--fit's lines come first, then the planner's notes, then the plan's figures")
    func order() throws {
        var (s, _) = try summary { $0.activationMasks = true }
        s.fit = ["chose something", "because"]
        let lines = s.text().split(separator: "\n").map(String.init)
        #expect(lines.prefix(2) == ["  fit           chose something", "  fit           because"])
        let notes = lines.dropFirst(2).prefix { $0.hasPrefix("  note          ") }
        #expect(!notes.isEmpty && notes.count == s.notes.count)
        #expect(lines[2 + notes.count].hasPrefix("planned "))
    }

    @Test("the JSON summary has every figure under a snake_case key and leaves out absent budgets and fit")
    func json() throws {
        let (s, r) = try summary()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(s.json().utf8)) as? [String: Any])
        #expect(object["arena_bytes"] as? Int == r.memory.arenaBytes && object["lower_bound_bytes"] as? Int == r.memory.lowerBoundBytes)
        #expect(object["fp32_flash_bytes"] as? Int == r.memory.fp32FlashBytes && object["micro_batch"] as? Int == 16)
        #expect(object["trainable_parameters"] as? Int == 6570 && object["output"] as? String == "out.hsplan")
        #expect(object["sram_budget"] == nil && object["flash_budget"] == nil && object["fit"] == nil)
        #expect(try JSONDecoder.snakeCase.decode(PlanSummary.self, from: Data(s.json().utf8)) == s)
    }

    // MARK: - --fit

    func candidate(arena: Int, flash: Int, trained: Int) -> PlanFit.Candidate {
        var o = options(batch: 8, update: .fp16, momentum: 0)
        o.train = .biases
        return PlanFit.Candidate(options: o, arenaBytes: arena, lowerBoundBytes: arena, flashBytes: flash, trainedElements: trained, fits: true)
    }

    @Test("a fit's summary lines give the choice for the budget, then the search's reasons")
    func fitLines() {
        let c = candidate(arena: 2544, flash: 7092, trained: 64)
        let result = PlanFit.Result(best: c, tried: [c], reasons: ["measured 1 plans: …", "1 fit"], smallest: c)
        #expect(result.summaryLines(sramBudget: 64 * 1024, flashBudget: 1 << 20) == [
            "chose \(c.flags) for sram=64.0 KiB,flash=1.00 MiB: trains 64 parameter elements in 2544 B SRAM, 7092 B flash",
            "measured 1 plans: …", "1 fit",
        ])
    }

    @Test("when nothing fits, the explanation names the budget, the smallest plan's needs and the levers tried")
    func noFit() {
        let c = candidate(arena: 2544, flash: 7092, trained: 64)
        let result = PlanFit.Result(best: nil, tried: [c], reasons: ["measured 84 plans: 6 choices of what trains"], smallest: c)
        #expect(result.summaryLines(sramBudget: 1024, flashBudget: nil) == nil)
        #expect(result.noFitExplanation(sramBudget: 1024, flashBudget: nil) == """
        no plan fits sram=1.0 KiB; the smallest that trains anything (\(c.flags)) needs sram=2544 B (2.5 KiB), flash=7092 B (6.9 KiB)
          levers tried: 84 plans: 6 choices of what trains
        """)
    }
}

extension JSONDecoder {
    static var snakeCase: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
