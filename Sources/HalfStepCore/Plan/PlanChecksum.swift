/// The plan's CRC-32: what the header's `crc` field holds, computed and written in one place.
///
/// The verifier compares against `checksum`, the planner writes through `seal`, and tools that
/// edit a plan on purpose (tests, the plan fuzzer) reseal through it too, so that their edits
/// reach the checks after the CRC instead of all dying at it.
extension PlanFormat {
    /// Byte offset of the header's CRC-32 field (`PlanHeader.crc`), just before `crcStart`.
    public static let crcOffset = 12

    /// The CRC-32 of bytes `crcStart ..< bytes.count`: what a plan of these bytes must store at
    /// `crcOffset`. `bytes` must hold at least `crcStart` bytes.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[crcStart...]))
    }

    /// Recomputes the CRC of a plan after bytes `crcStart...` were edited and stores it in the
    /// header, leaving every other byte as it is (a header that was edited stays edited).
    ///
    /// - Returns: false, writing nothing, when `bytes` is too short to hold a CRC field (such a
    ///   buffer is refused as too small whatever it holds).
    @discardableResult
    public static func seal(_ bytes: UnsafeMutableRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress, bytes.count >= crcStart else { return false }
        ByteIO.put(base, crcOffset, checksum(UnsafeRawBufferPointer(bytes)))
        return true
    }
}
