import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

struct PlannerTests {
    let mlp = makeMLP([64, 64, 32, 10])

    @Test("no two arena tensors live at the same op overlap, for every train selection and update mode")
    func placementHasNoOverlaps() throws {
        for train: PlanOptions.TrainSelection in [.all, .last(1), .last(2), .biases, .none] {
            for update: UpdateMode in [.fp32Master, .fp16] {
                let r = try Planner.plan(mlp, options: options(batch: 32, train: train, update: update), source: "m")
                let requests = Liveness.requests(for: r.program)
                for a in requests {
                    let t = r.program.tensors[a.id]
                    #expect(t.offset % PlanFormat.alignment == 0)
                    #expect(t.offset + t.bytes <= r.memory.arenaBytes)
                    for b in requests where b.id > a.id && a.firstUse <= b.lastUse && b.firstUse <= a.lastUse {
                        let u = r.program.tensors[b.id]
                        #expect(t.offset + t.bytes <= u.offset || u.offset + u.bytes <= t.offset,
                                "\(t.name) and \(u.name) overlap (train \(train), \(update))")
                    }
                }
                #expect(r.memory.arenaBytes >= r.memory.lowerBoundBytes)
            }
        }
    }

    @Test("frozen parameters live in flash and trainable ones in SRAM")
    func regions() throws {
        let r = try Planner.plan(mlp, options: options(train: .last(1)), source: "m")
        for t in r.program.tensors where t.parameter != nil {
            let trains = r.program.trainableParameters.contains(t.parameter!)
            #expect(t.region == (trains ? .arena : .flash), "\(t.name)")
        }
        #expect(r.program.trainableParameters.map { mlp.parameters[$0].name } == ["fc2.weight", "fc2.bias"])
    }

    @Test("backward stops at the first trainable layer: no input gradient below it")
    func backwardStopsAtFirstTrainableLayer() throws {
        let r = try Planner.plan(mlp, options: options(train: .last(1)), source: "m")
        let backward = r.program.ops.filter { $0.phase == .backward }
        #expect(backward.count == 1)
        #expect(backward[0].operands[3] == nil)   // no dx for the last layer's input
        let all = try Planner.plan(mlp, options: options(train: .all), source: "m")
        let first = all.program.ops.last { $0.opcode == .denseBackward }!
        #expect(first.operands[3] == nil)         // nothing upstream of the first layer trains
    }

    @Test("training fewer parameters never needs more SRAM")
    func selectionShrinksMemory() throws {
        let all = try Planner.plan(mlp, options: options(batch: 32, train: .all), source: "m").memory.arenaBytes
        let last = try Planner.plan(mlp, options: options(batch: 32, train: .last(1)), source: "m").memory.arenaBytes
        let biases = try Planner.plan(mlp, options: options(batch: 32, train: .biases), source: "m").memory.arenaBytes
        #expect(all > last && last >= biases || all > biases)
        #expect(last < all)
    }

    @Test("the fp32 version of the same plan needs about twice the SRAM")
    func fp32Comparison() throws {
        let r = try Planner.plan(mlp, options: options(batch: 32, update: .fp16), source: "m")
        let ratio = Double(r.memory.fp32ArenaBytes) / Double(r.memory.arenaBytes)
        #expect(ratio > 1.8 && ratio <= 2.0, "ratio \(ratio)")
    }

    @Test("a plan over its SRAM budget is refused with the peak, the budget, the largest buffers and what would shrink it")
    func overBudgetError() throws {
        var o = options(batch: 32)
        o.sramBudget = 16 * 1024
        guard let e = planError(mlp, o) else { Issue.record("a plan needing more than 16 KiB was accepted"); return }
        do {
            guard case .overBudget(let details) = e else { Issue.record("got \(e)"); return }
            let needed = try Planner.plan(mlp, options: options(batch: 32), source: "m").memory.arenaBytes
            #expect(details.neededBytes == needed)
            #expect(details.budgetBytes == 16 * 1024)
            #expect(details.largest.count == 3)
            #expect(details.largest[0].bytes >= details.largest[1].bytes)
            #expect(details.alternatives.contains { $0.change == "--update fp16" && $0.neededBytes < needed })
            #expect(details.alternatives.contains { $0.change == "--train biases" })
            #expect(e.description.contains("needs \(formatBytes(needed)) of SRAM"))
        }
    }

    @Test("a plan over its flash budget names flash")
    func flashBudget() throws {
        var o = options()
        o.flashBudget = 1024
        let e = planError(mlp, o)
        #expect(e?.description.contains("of flash") == true, "\(String(describing: e))")
    }

    @Test("--train layers: with an unknown name lists the layers there are")
    func unknownLayer() {
        #expect(throws: PlannerError.unknownLayer(name: "nope", available: ["/fc0/Gemm", "/fc1/Gemm", "/fc2/Gemm"])) {
            _ = try Planner.plan(mlp, options: options(train: .layers(["nope"])), source: "m")
        }
    }

    @Test("--train last:K beyond the layer count is refused")
    func lastTooLarge() {
        #expect(throws: PlannerError.badLastCount(k: 4, layers: 3)) {
            _ = try Planner.plan(mlp, options: options(train: .last(4)), source: "m")
        }
    }
}

/// The error planning `graph` with `options` raises, or nil when it plans.
func planError(_ graph: Graph, _ options: PlanOptions) -> PlannerError? {
    do {
        _ = try Planner.plan(graph, options: options, source: "m")
        return nil
    } catch {
        return error
    }
}

struct OptionParsingTests {
    @Test("sizes accept bytes, K/KiB and M/MiB")
    func sizes() throws {
        #expect(try PlanOptions.parseBytes("65536", flag: "f") == 65536)
        #expect(try PlanOptions.parseBytes("64KiB", flag: "f") == 65536)
        #expect(try PlanOptions.parseBytes("64k", flag: "f") == 65536)
        #expect(try PlanOptions.parseBytes("1MiB", flag: "f") == 1 << 20)
        #expect(try PlanOptions.parseBytes("1.5K", flag: "f") == 1536)
    }

    @Test("malformed sizes and budgets are refused naming the flag")
    func malformed() {
        for bad in ["", "KiB", "-4K", "12XB", "1e999K", "99999999999999999999"] {
            #expect(throws: PlannerError.self, "\(bad)") { _ = try PlanOptions.parseBytes(bad, flag: "--budget sram") }
        }
        for bad in ["sram", "sram=64KiB,", "ram=1,disk=3", "sram=abc", "=5"] {
            #expect(throws: PlannerError.self, "\(bad)") { _ = try PlanOptions.parseBudget(bad) }
        }
        for bad in ["last:0", "last:", "layers:", "everything"] {
            #expect(throws: PlannerError.self, "\(bad)") { _ = try PlanOptions.parseTrain(bad) }
        }
        for bad in ["static:0", "static:-1", "static:x", "sometimes"] {
            #expect(throws: PlannerError.self, "\(bad)") { _ = try PlanOptions.parseLossScale(bad) }
        }
    }

    @Test("the budget splits into SRAM and flash")
    func budget() throws {
        let b = try PlanOptions.parseBudget("sram=64KiB,flash=256KiB")
        #expect(b.sram == 65536 && b.flash == 262144)
    }
}

struct UpdateModeTests {
    let mlp = makeMLP([16, 12, 4])

    @Test("--update parses a default and per-tensor modes")
    func parsing() throws {
        let (mode, overrides) = try PlanOptions.parseUpdateList("fp16,fp32-master:fc1.weight,fp16-kahan:/fc0/Gemm")
        #expect(mode == .fp16 && overrides == ["fc1.weight": .fp32Master, "/fc0/Gemm": .fp16Kahan])
        for bad in ["fp8", "fp16,fp16", "fp16,fp32-master:", "fp16-kahan:x,fp32:y"] {
            #expect(throws: PlannerError.self, "\(bad)") { _ = try PlanOptions.parseUpdateList(bad) }
        }
    }

    @Test("a Kahan tensor gets an fp16 compensation buffer in SRAM; the others do not")
    func kahanCompensation() throws {
        var o = options(update: .fp16)
        o.updateOverrides = ["fc1.weight": .fp16Kahan, "/fc0/Gemm": .fp32Master]
        let r = try Planner.plan(mlp, options: o, source: "m")
        let names = r.program.tensors.map(\.name)
        #expect(names.contains("fc1.weight.compensation") && !names.contains("fc1.bias.compensation"))
        #expect(r.program.tensors.first { $0.name == "fc0.weight" }?.dtype == .float32)
        #expect(r.program.tensors.first { $0.name == "fc1.weight" }?.dtype == .float16)
        let loaded = try LoadedPlan(bytes: r.bytes, path: "m")
        #expect(loaded.plan.opCount == r.program.ops.count)
    }

    @Test("an override naming no tensor or layer is refused")
    func unknownOverride() {
        var o = options(update: .fp16)
        o.updateOverrides = ["nope": .fp16Kahan]
        #expect(throws: PlannerError.self) { _ = try Planner.plan(mlp, options: o, source: "m") }
    }

    @Test("the verifier refuses a Kahan update without its compensation buffer")
    func kahanNeedsCompensation() throws {
        var o = options(update: .fp16Kahan)
        o.train = .last(1)
        let r = try Planner.plan(mlp, options: o, source: "m")
        var bytes = r.bytes
        let updateIndex = r.program.ops.firstIndex { $0.phase == .update }!
        bytes.withUnsafeMutableBytes { raw in
            let h = PlanHeader(from: raw.baseAddress!)
            let at = raw.baseAddress! + Int(h.opTableOffset) + updateIndex * PlanFormat.opRecordBytes
            var op = OpRecord(from: at)
            op.setOperand(4, nil)
            op.store(to: at)
            var h2 = h
            h2.crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(raw)[PlanFormat.crcStart...]))
            h2.store(to: raw.baseAddress!)
        }
        #expect(throws: PlanLoadError.self) { _ = try LoadedPlan(bytes: bytes, path: "t") }
    }

    @Test("stochastic and Kahan updates train the synthetic task")
    func newModesTrain() throws {
        let graph = makeMLP([16, 24, 12, 4], seed: 5)
        let data = syntheticData(count: 512, features: 16, classes: 4, seed: 7)
        for mode: UpdateMode in [.fp16Stochastic, .fp16Kahan] {
            let r = try Planner.plan(graph, options: options(batch: 16, update: mode, lr: 0.1), source: "s")
            let s = try TrainingSession(LoadedPlan(bytes: r.bytes, path: "s"))
            let before = s.evaluate(data)
            let summary = try TrainingLoop.run(s, train: data, eval: data, settings: .init(steps: 300)) { _ in }
            #expect(summary.evalAfter!.loss < before.loss * 0.7, "\(mode)")
        }
    }
}
