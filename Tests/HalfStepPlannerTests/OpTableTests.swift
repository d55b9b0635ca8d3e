import Foundation
import Testing
import HalfStepCore
import HalfStepTestSupport
@testable import HalfStepPlanner

/// The op table: every opcode maps to its own op file, the format's opcode summary agrees with
/// those files, and every op of the example plans round-trips through its typed operands.
struct OpTableTests {
    /// Every opcode the format defines (raw values are dense from 1).
    static let opcodes: [OpCode] = (1 ... 255).compactMap { OpCode(rawValue: $0) }

    struct CodeVisitor: OpVisitor {
        func visit<Op: StepOp>(_ type: Op.Type) -> OpCode { Op.code }
    }

    @Test("every opcode's table entry is the op type that declares that opcode")
    func tableEntriesDeclareTheirOwnOpcode() {
        #expect(Self.opcodes.count == 29)
        for code in Self.opcodes {
            var v = CodeVisitor()
            #expect(code.visit(&v) == code, "OpCode.\(code) maps to the op of OpCode.\(code.visit(&v))")
        }
    }

    @Test("the opcode summary in PlanFormat.swift lists as many operands per opcode as the op file has slots")
    func formatSummaryMatchesOpFiles() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/HalfStepCore/Plan/PlanFormat.swift").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let body = text[text.range(of: "public enum OpCode")!.upperBound...]
        var doc = ""
        var listed: [String: Int] = [:]
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("///") { doc += t + " " ; continue }
            if t.hasPrefix("case "), let name = t.dropFirst(5).split(separator: " ").first {
                if let open = doc.range(of: "operands `["), let close = doc[open.upperBound...].range(of: "]`") {
                    listed[String(name)] = doc[open.upperBound ..< close.lowerBound].split(separator: ",").count
                }
                doc = ""
            }
            if t == "}" { break }
        }
        for code in Self.opcodes {
            let name = "\(code)"
            let count = try #require(listed[name], "OpCode.\(name) has no operand list in PlanFormat.swift")
            #expect(count == code.operandSlots, "OpCode.\(name): the summary lists \(count) operands, the op file has \(code.operandSlots) slots")
        }
    }

    @Test("every op of the MLP, CNN and MobileNetV2 example plans encodes back to the record it was decoded from, under its own name")
    func examplePlansRoundTripThroughTypedOps() throws {
        var seen = Set<OpCode>()
        for plan in try examplePlans() {
            for i in 0 ..< plan.plan.opCount {
                let r = plan.plan.op(i)
                var v = RoundTrip(record: r)
                #expect(r.opcode!.visit(&v), "op \(i) (\(r.opcode!.name)) of \(plan.path) does not round-trip")
                seen.insert(r.opcode!)
            }
        }
        #expect(seen.count >= 20, "the example plans exercise \(seen.count) opcodes")
    }

    struct RoundTrip: OpVisitor {
        let record: OpRecord
        func visit<Op: StepOp>(_ type: Op.Type) -> Bool { Op(record).record(phase: record.phase!) == record }
    }

    /// Plans of the three example models with options that together use most opcodes.
    func examplePlans() throws -> [LoadedPlan] {
        let mlp = try ONNXImporter.importGraph(path: fixture("Tools/examples/digits/mlp.onnx"))
        let cnn = try ONNXImporter.importGraph(path: fixture("Tools/examples/digits-cnn/model.onnx"))
        let mobileNet = try ONNXImporter.importGraph(path: fixture("Tools/examples/mobilenetv2/model.onnx"))
        var cases: [(Graph, PlanOptions)] = []
        var o = PlanOptions()
        o.batch = 4
        o.optimizer = .adam
        o.update = .fp16Kahan
        cases.append((mlp, o))
        o = PlanOptions()
        o.batch = 4
        o.microBatch = 2
        o.activationMasks = true
        o.recompute = true
        o.momentum = 0.9
        cases.append((cnn, o))
        o = PlanOptions()
        o.batch = 2
        o.train = .none
        o.convPanels = true
        cases.append((cnn, o))
        o = PlanOptions()
        o.batch = 1
        o.train = .last(2)
        cases.append((mobileNet, o))
        return try cases.map { graph, options in
            let p = try Planner.plan(graph, options: options, source: "t")
            return try LoadedPlan(bytes: p.bytes, path: "example")
        }
    }

    @Test("the verifier refuses a Dense forward that writes over its input, and accepts a ReLU in place")
    func inPlaceRuleIsTheOpFilesOwn() throws {
        let mlp = try ONNXImporter.importGraph(path: fixture("Tools/examples/digits/mlp.onnx"))
        var o = PlanOptions()
        o.batch = 2
        let p = try Planner.plan(mlp, options: o, source: "t")
        let loaded = try LoadedPlan(bytes: p.bytes, path: "t")
        #expect(loaded.program().ops.contains { $0.opcode == .reluForward && $0.operands[0] == $0.operands[1] })
        let dense = try #require((0 ..< loaded.plan.opCount).first { loaded.plan.op($0).opcode == .denseForward })
        var bytes = p.bytes
        let at = Int(loaded.plan.header.opTableOffset) + dense * PlanFormat.opRecordBytes
        let x = loaded.plan.op(dense).operand(0)!
        bytes[at + 4 + 2 * 3] = UInt8(x & 0xFF)
        bytes[at + 4 + 2 * 3 + 1] = UInt8(x >> 8)
        let crc = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[PlanFormat.crcStart...])) }
        for k in 0 ..< 4 { bytes[12 + k] = UInt8((crc >> (8 * UInt32(k))) & 0xFF) }
        do {
            _ = try LoadedPlan(bytes: bytes, path: "t")
            Issue.record("a Dense forward writing over its input was accepted")
        } catch {
            guard case .invalid(_, let problem) = error else { Issue.record("\(error)"); return }
            #expect(problem == .op(index: dense, problem: .forbiddenAlias(slot: 3, tensor: x)))
        }
    }
}
