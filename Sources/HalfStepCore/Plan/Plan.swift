/// A continuation plan, read in place from the bytes that hold it (flash on a device).
///
/// Creating a `Plan` verifies it completely (`PlanVerifier`): version, CRC, every section and
/// tensor inside its bounds, every op's operands consistent with its parameters, nothing written
/// to flash. After that the trainer and kernels trust it and check nothing per element. The plan
/// borrows its bytes: the caller keeps them alive (and 16-byte aligned) for the plan's lifetime.
public struct Plan {
    /// The whole plan file.
    public let bytes: UnsafeRawBufferPointer
    /// The decoded header.
    public let header: PlanHeader
    /// The decoded training configuration.
    public let config: TrainingConfig

    /// Verifies `bytes` as a plan of format v1 and reads its header and config.
    public init(bytes: UnsafeRawBufferPointer) throws(PlanError) {
        self.bytes = bytes
        self.header = try PlanVerifier.verifyHeader(bytes)
        let base = bytes.baseAddress!
        self.config = TrainingConfig(from: base + Int(header.configOffset), bytes: Int(header.configBytes))
        try PlanVerifier.verifyBody(self)
    }

    // The accessors below convert header and record fields to `Int` and add them unchecked: the
    // verifier has bounded every one by the file size (or, for the arena, by 2^31 − 1) in
    // width-independent arithmetic, so none of them can trap, on a 32-bit device either.

    /// Number of tensors in the tensor table.
    @inlinable public var tensorCount: Int { Int(header.tensorCount) }
    /// Number of ops in the step program.
    @inlinable public var opCount: Int { Int(header.opCount) }
    /// SRAM the arena needs, bytes.
    @inlinable public var arenaBytes: Int { Int(header.arenaBytes) }

    /// Tensor record `i` (0 ..< tensorCount).
    @inlinable
    public func tensor(_ i: Int) -> TensorRecord {
        TensorRecord(from: bytes.baseAddress! + Int(header.tensorTableOffset) + i * PlanFormat.tensorRecordBytes)
    }

    /// Op record `i` (0 ..< opCount).
    @inlinable
    public func op(_ i: Int) -> OpRecord {
        OpRecord(from: bytes.baseAddress! + Int(header.opTableOffset) + i * PlanFormat.opRecordBytes)
    }

    /// The UTF-8 bytes of tensor `i`'s name (verified: nameOffset + nameBytes ≤ namesBytes, and
    /// namesOffset + namesBytes ≤ fileBytes).
    public func nameBytes(of i: Int) -> UnsafeRawBufferPointer {
        let t = tensor(i)
        let start = Int(header.namesOffset) + Int(t.nameOffset)
        return UnsafeRawBufferPointer(rebasing: bytes[start ..< start + Int(t.nameBytes)])
    }

    /// Address of byte `offset` of the data section.
    @inlinable
    public func data(at offset: Int) -> UnsafeRawPointer {
        bytes.baseAddress! + Int(header.dataOffset) + offset
    }
}
