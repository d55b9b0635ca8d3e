import Foundation
import Testing
import HalfStepTestSupport
import HalfStepCore
@testable import HalfStepPlanner

/// The plan file: written by the planner, read back in place by the core, refused when damaged.
struct PlanFileTests {
    let plan = try! Planner.plan(makeMLP([6, 5, 4, 3]), options: options(), source: "synthetic.onnx")

    @Test("a written plan reads back with the same tensors, ops and config")
    func roundTrip() throws {
        let loaded = try LoadedPlan(bytes: plan.bytes, path: "p.hsplan")
        let back = loaded.program()
        #expect(back.tensors.count == plan.program.tensors.count)
        for (a, b) in zip(back.tensors, plan.program.tensors) {
            #expect(a.name == b.name && a.shape == b.shape && a.dtype == b.dtype && a.region == b.region && a.role == b.role)
            if a.region == .arena { #expect(a.offset == b.offset) }
            #expect(a.initial == b.initial)
        }
        #expect(back.ops.map(\.opcode) == plan.program.ops.map(\.opcode))
        #expect(back.ops.map(\.operands) == plan.program.ops.map { $0.operands })
        #expect(loaded.plan.config == plan.program.config)
        #expect(loaded.sourcePath == "synthetic.onnx")
        #expect(loaded.plan.arenaBytes == plan.memory.arenaBytes)
    }

    @Test("writing the same graph and options twice gives identical bytes")
    func deterministic() throws {
        let again = try Planner.plan(makeMLP([6, 5, 4, 3]), options: options(), source: "synthetic.onnx")
        #expect(again.bytes == plan.bytes)
    }

    @Test("a plan truncated at any byte is refused, never crashes")
    func truncationAtEveryByte() {
        for length in 0 ..< plan.bytes.count {
            #expect(throws: PlanLoadError.self) { _ = try LoadedPlan(bytes: Array(plan.bytes[..<length]), path: "t") }
        }
    }

    @Test("flipping any single byte is refused")
    func everyFlippedByteIsRefused() {
        for i in 0 ..< plan.bytes.count {
            var bytes = plan.bytes
            bytes[i] ^= 0xFF
            #expect(throws: PlanLoadError.self, "byte \(i)") { _ = try LoadedPlan(bytes: bytes, path: "t") }
        }
    }

    @Test("wrong magic, wrong version and a bad CRC each get their own error")
    func headerErrors() {
        func error(_ edit: (inout [UInt8]) -> Void) -> PlanError? {
            var b = plan.bytes
            edit(&b)
            do { _ = try LoadedPlan(bytes: b, path: "t"); return nil } catch {
                if case .invalid(_, let e) = error { return e }
                return nil
            }
        }
        #expect(error { $0[0] = 0x58 } == .badMagic(found: 0x4C50_5358))
        if case .unsupportedVersion(found: 2, supported: 1)? = error({ $0[4] = 2 }) {} else { Issue.record("version 2 not refused as unsupported") }
        if case .badChecksum? = error({ $0[$0.count - 1] ^= 1 }) {} else { Issue.record("a flipped data byte is not a CRC error") }
    }

    /// Edits a field, then recomputes the CRC, so the verifier itself must catch the damage.
    func resealed(_ edit: (UnsafeMutableRawPointer, PlanHeader) -> Void) -> PlanError? {
        var b = plan.bytes
        b.withUnsafeMutableBytes { raw in
            let h = PlanHeader(from: raw.baseAddress!)
            edit(raw.baseAddress!, h)
            var h2 = PlanHeader(from: raw.baseAddress!)
            h2.crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(raw)[PlanFormat.crcStart...]))
            h2.store(to: raw.baseAddress!)
        }
        do { _ = try LoadedPlan(bytes: b, path: "t"); return nil } catch {
            if case .invalid(_, let e) = error { return e }
            return nil
        }
    }

    func tensorIndex(_ role: TensorRole) -> Int { plan.program.tensors.firstIndex { $0.role == role && $0.region == .arena }! }

    @Test("a tensor moved past the end of the arena is refused even with a valid CRC")
    func tensorOutsideArena() {
        let i = tensorIndex(.activation)
        let e = resealed { p, h in
            let at = p + Int(h.tensorTableOffset) + i * PlanFormat.tensorRecordBytes
            var r = TensorRecord(from: at)
            r.offset = h.arenaBytes - 2
            r.store(to: at)
        }
        guard case .tensor(let index, .outsideArena)? = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(index == i)
    }

    @Test("an op that would write a flash tensor is refused")
    func writeToFlash() {
        // Make the first dense forward write its output into a frozen (flash) weight: use a plan with frozen layers.
        let frozen = try! Planner.plan(makeMLP([6, 5, 4, 3]), options: options(train: .last(1)), source: "s")
        let flashTensor = frozen.program.tensors.firstIndex { $0.region == .flash }!
        var b = frozen.bytes
        b.withUnsafeMutableBytes { raw in
            let h = PlanHeader(from: raw.baseAddress!)
            let at = raw.baseAddress! + Int(h.opTableOffset)
            var op = OpRecord(from: at)
            op.setOperand(3, flashTensor)
            op.store(to: at)
            var h2 = h
            h2.crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(raw)[PlanFormat.crcStart...]))
            h2.store(to: raw.baseAddress!)
        }
        do {
            _ = try LoadedPlan(bytes: b, path: "t")
            Issue.record("a write to flash was accepted")
        } catch {
            guard case .invalid(_, .op(0, let problem)) = error else { Issue.record("got \(error)"); return }
            // The flash weight has the wrong element count for y, or is in flash: either is a refusal naming op 0.
            switch problem {
            case .writesFlash, .operandShape: break
            default: Issue.record("unexpected problem \(problem)")
            }
        }
    }

    @Test("an operand that names a tensor past the table is refused")
    func operandOutOfRange() {
        let e = resealed { p, h in
            let at = p + Int(h.opTableOffset)
            var op = OpRecord(from: at)
            op.setOperand(0, Int(h.tensorCount) + 5)
            op.store(to: at)
        }
        guard case .op(0, .operandOutOfRange(slot: 0, _))? = e else { Issue.record("got \(String(describing: e))"); return }
    }

    @Test("a dense op whose sizes disagree with its operands is refused")
    func shapeMismatch() {
        let e = resealed { p, h in
            let at = p + Int(h.opTableOffset)
            var op = OpRecord(from: at)
            op.setParamBits(1, op.paramBits(1) + 1)
            op.store(to: at)
        }
        guard case .op(0, .operandShape)? = e else { Issue.record("got \(String(describing: e))"); return }
    }

    @Test("a trainer refuses an arena smaller than the plan needs")
    func arenaTooSmall() throws {
        let loaded = try LoadedPlan(bytes: plan.bytes, path: "p")
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16)
        defer { memory.deallocate() }
        #expect(throws: PlanError.arenaTooSmall(needed: loaded.plan.arenaBytes, available: 16)) {
            _ = try Trainer(plan: loaded.plan, arena: Arena(base: memory, bytes: 16))
        }
    }
}
