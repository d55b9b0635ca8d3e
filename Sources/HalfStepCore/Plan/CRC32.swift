/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as zlib and PNG compute it.
///
/// Bitwise rather than table-driven: a 1 KiB table would cost flash on every device for a check
/// that runs once per plan load.
public enum CRC32 {
    /// The CRC-32 of `bytes`, continuing from `crc` (pass the result of a previous call to chain).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var c = ~crc
        for byte in bytes {
            c ^= UInt32(byte)
            for _ in 0..<8 {
                let mask = 0 &- (c & 1)
                c = (c >> 1) ^ (0xEDB8_8320 & mask)
            }
        }
        return ~c
    }
}
