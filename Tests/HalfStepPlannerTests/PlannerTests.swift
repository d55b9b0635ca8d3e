import Foundation
import Testing
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
