/// The one block of SRAM a plan runs in.
///
/// The caller owns the memory (a static array on the device, a guarded mapping under the
/// emulator, an allocation on the host) and hands it over as a base address and a size in bytes.
/// Every buffer of a training step lives at an offset the host planner decided; the arena never
/// searches, grows or frees.
public struct Arena {
    /// First byte of the arena.
    public let base: UnsafeMutableRawPointer
    /// Size in bytes.
    public let bytes: Int

    /// Wraps caller-owned memory of `bytes` bytes.
    public init(base: UnsafeMutableRawPointer, bytes: Int) {
        self.base = base
        self.bytes = bytes
    }
}
