import HalfStepCore

/// Encodes a placed training program as `.hsplan` bytes, through the core's own record layouts.
public enum PlanWriter {
    /// The plan file for `program` (offsets already placed) with an arena of `arenaBytes`.
    public static func encode(_ program: TrainingProgram, arenaBytes: Int, source: String) throws(PlannerError) -> [UInt8] {
        let t = program.tensors.count, o = program.ops.count
        var h = PlanHeader()
        h.tensorCount = UInt32(t)
        h.tensorTableOffset = UInt32(PlanFormat.headerBytes)
        h.opCount = UInt32(o)
        h.opTableOffset = h.tensorTableOffset + UInt32(t * PlanFormat.tensorRecordBytes)
        h.configOffset = h.opTableOffset + UInt32(o * PlanFormat.opRecordBytes)
        h.configBytes = UInt32(program.config.storedBytes)
        h.namesOffset = h.configOffset + h.configBytes

        // Names: the source path, then each tensor's name.
        var names = Array(source.utf8)
        h.sourceBytes = UInt32(names.count)
        var nameRanges: [(Int, Int)] = []
        for tensor in program.tensors {
            let utf8 = Array(tensor.name.utf8.prefix(Int(UInt16.max)))
            nameRanges.append((names.count, utf8.count))
            names += utf8
        }
        // The planner's notes (what it chose and the bytes each lever saves) follow the last name,
        // one per line: `inspect` shows them; the core never reads them.
        names += Array(program.notes.joined(separator: "\n").utf8)
        // Then the provenance block (host-only, see `PlanProvenance`): where each tensor read from
        // the model comes from, for export. Appended, so no name offset or device-read byte moves.
        names += PlanProvenance.block(program)
        h.namesBytes = UInt32(names.count)
        let dataStart = align(Int(h.namesOffset) + names.count, PlanFormat.alignment)
        h.dataOffset = UInt32(dataStart)

        // Data: every initial value, 16-byte aligned.
        var data: [UInt8] = []
        var dataOffsets: [Int: Int] = [:]
        for (i, tensor) in program.tensors.enumerated() {
            guard let initial = tensor.initial else { continue }
            data += [UInt8](repeating: 0, count: align(data.count, PlanFormat.alignment) - data.count)
            dataOffsets[i] = data.count
            data += initial
        }
        h.dataBytes = UInt32(data.count)
        let fileBytes = dataStart + data.count
        guard fileBytes < Int(UInt32.max), arenaBytes < Int(UInt32.max) else {
            throw .formatLimit("the plan needs \(fileBytes) bytes of file and \(arenaBytes) of arena; v1 offsets are 32-bit")
        }
        h.fileBytes = UInt32(fileBytes)
        h.arenaBytes = UInt32(arenaBytes)

        var out = [UInt8](repeating: 0, count: fileBytes)
        out.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!
            for (i, tensor) in program.tensors.enumerated() {
                var r = TensorRecord()
                r.nameOffset = UInt32(nameRanges[i].0)
                r.nameBytes = UInt16(nameRanges[i].1)
                r.dtypeRaw = tensor.dtype.rawValue
                r.regionRaw = tensor.region.rawValue
                r.roleRaw = tensor.role.rawValue
                r.rank = UInt8(tensor.shape.count)
                for (d, size) in tensor.shape.enumerated() { r.setDim(d, size) }
                r.bytes = UInt32(tensor.bytes)
                var flags: UInt16 = 0
                if tensor.batchMajor { flags |= TensorRecord.batchMajor }
                if tensor.trainable { flags |= TensorRecord.trainable }
                switch tensor.region {
                case .flash:
                    r.offset = UInt32(dataOffsets[i] ?? 0)
                case .arena:
                    r.offset = UInt32(tensor.offset)
                    if let d = dataOffsets[i] {
                        flags |= TensorRecord.hasInitialValue
                        r.initOffset = UInt32(d)
                    }
                }
                r.flags = flags
                r.store(to: base + Int(h.tensorTableOffset) + i * PlanFormat.tensorRecordBytes)
            }
            for (i, op) in program.ops.enumerated() {
                op.record.store(to: base + Int(h.opTableOffset) + i * PlanFormat.opRecordBytes)
            }
            program.config.store(to: base + Int(h.configOffset))
            for (i, b) in names.enumerated() { raw[Int(h.namesOffset) + i] = b }
            for (i, b) in data.enumerated() { raw[dataStart + i] = b }
            h.store(to: base)
            PlanFormat.seal(raw)
        }
        return out
    }

    /// The file size `encode` would produce (for what-if figures of plans the core cannot run).
    public static func estimatedBytes(_ program: TrainingProgram, source: String) -> Int {
        var size = PlanFormat.headerBytes + program.tensors.count * PlanFormat.tensorRecordBytes
            + program.ops.count * PlanFormat.opRecordBytes + program.config.storedBytes + source.utf8.count
            + program.notes.joined(separator: "\n").utf8.count + PlanProvenance.block(program).count
        size += program.tensors.reduce(0) { $0 + $1.name.utf8.count }
        size = align(size, PlanFormat.alignment)
        for t in program.tensors where t.initial != nil { size = align(size, PlanFormat.alignment) + t.initial!.count }
        return size
    }
}

/// `n` rounded up to a multiple of `a`.
func align(_ n: Int, _ a: Int) -> Int { (n + a - 1) / a * a }
