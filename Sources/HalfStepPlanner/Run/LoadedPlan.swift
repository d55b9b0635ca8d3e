import Foundation
import HalfStepCore

/// A plan file read into 16-byte-aligned host memory and verified by the core.
///
/// The core's `Plan` borrows its bytes; this owns them for as long as the plan is used.
public final class LoadedPlan {
    /// The verified plan (borrows `storage`).
    public let plan: Plan
    /// Where the plan came from, for messages.
    public let path: String
    let storage: UnsafeMutableRawBufferPointer

    /// Reads and verifies the plan at `path`.
    public convenience init(path: String) throws(PlanLoadError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(path: path)
        }
        try self.init(bytes: [UInt8](data), path: path)
    }

    /// Verifies `bytes` as a plan; `path` names it in errors.
    public init(bytes: [UInt8], path: String) throws(PlanLoadError) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: PlanFormat.alignment)
        storage.copyBytes(from: bytes)
        let view = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[0 ..< bytes.count])
        do {
            plan = try Plan(bytes: view)
        } catch {
            storage.deallocate()
            throw .invalid(path: path, error: error)
        }
        self.storage = storage
        self.path = path
    }

    deinit { storage.deallocate() }

    /// The source model path recorded by the planner.
    public var sourcePath: String {
        let h = plan.header
        let start = Int(h.namesOffset)
        return String(decoding: plan.bytes[start ..< start + Int(h.sourceBytes)], as: UTF8.self)
    }

    /// The names section after the source path and the last tensor name: the planner's notes,
    /// then the provenance block if the plan has one.
    var namesTail: ArraySlice<UInt8> {
        let h = plan.header
        var end = Int(h.sourceBytes)
        for i in 0 ..< plan.tensorCount {
            let t = plan.tensor(i)
            end = max(end, Int(t.nameOffset) + Int(t.nameBytes))
        }
        let start = Int(h.namesOffset)
        guard end < Int(h.namesBytes) else { return [] }
        return ArraySlice(plan.bytes[(start + end) ..< (start + Int(h.namesBytes))])
    }

    /// The planner's notes stored after the last name, up to the provenance block (empty for plans
    /// written without them).
    public var notes: [String] {
        let tail = namesTail
        let text = tail[..<(PlanProvenance.start(in: tail) ?? tail.endIndex)]
        return String(decoding: text, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// True when the plan carries a provenance block (plans of earlier planners do not).
    public var hasProvenance: Bool { PlanProvenance.start(in: namesTail) != nil }

    /// Where each tensor read from the source model comes from (`PlanProvenance`); nil for a plan
    /// written before the planner recorded it.
    /// - Throws: `.badProvenance` naming the file when the block is there but damaged.
    public func provenance() throws(PlanLoadError) -> PlanProvenance? {
        let tail = namesTail
        guard let start = PlanProvenance.start(in: tail) else { return nil }
        do {
            return try PlanProvenance.decode(tail[start...], names: (0 ..< plan.tensorCount).map { name(of: $0) })
        } catch {
            throw .badProvenance(path: path, detail: error.detail)
        }
    }

    /// Tensor `i`'s name.
    public func name(of i: Int) -> String {
        String(decoding: plan.nameBytes(of: i), as: UTF8.self)
    }

    /// The plan decoded back into a program (names, shapes, ops, offsets, sources when the
    /// provenance block reads), for reports.
    public func program() -> TrainingProgram {
        var program = TrainingProgram()
        program.config = plan.config
        let sources = (try? provenance())?.sources ?? [:]
        for i in 0 ..< plan.tensorCount {
            let r = plan.tensor(i)
            var initial: [UInt8]? = nil
            if r.region == .flash {
                initial = [UInt8](UnsafeRawBufferPointer(start: plan.data(at: Int(r.offset)), count: Int(r.bytes)))
            } else if r.flags & TensorRecord.hasInitialValue != 0 {
                initial = [UInt8](UnsafeRawBufferPointer(start: plan.data(at: Int(r.initOffset)), count: Int(r.bytes)))
            }
            program.tensors.append(.init(
                name: name(of: i), dtype: r.dtype!, role: r.role!, region: r.region!,
                shape: (0 ..< Int(r.rank)).map { r.dim($0) }, trainable: r.flags & TensorRecord.trainable != 0,
                batchMajor: r.flags & TensorRecord.batchMajor != 0, initial: initial, parameter: nil, source: sources[i],
                offset: r.region == .arena ? Int(r.offset) : 0))
        }
        for i in 0 ..< plan.opCount {
            program.ops.append(.init(plan.op(i), node: ""))
        }
        return program
    }
}

/// Why a plan file could not be used.
public enum PlanLoadError: Error, CustomStringConvertible {
    case unreadable(path: String)
    case invalid(path: String, error: PlanError)
    /// The plan verifies (the device could run it) but its host-only provenance block is damaged.
    case badProvenance(path: String, detail: String)

    public var description: String {
        switch self {
        case .unreadable(let path): return "\(path): cannot read the file (does it exist?)"
        case .invalid(let path, let error): return "\(path): not a valid plan: \(error.explanation)"
        case .badProvenance(let path, let detail):
            return "\(path): the plan's provenance block (where its tensors come from in the source model, for export) is corrupt: \(detail)"
        }
    }
}
