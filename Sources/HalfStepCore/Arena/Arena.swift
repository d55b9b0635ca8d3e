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

    /// A typed view of `count` elements at byte `offset`. The offset must be aligned for `Scalar`
    /// and the range inside the arena; the plan verifier checks both before any view is made.
    @inlinable
    public func view<Scalar>(at offset: Int, count: Int, as type: Scalar.Type) -> TensorView<Scalar> {
        assert(offset >= 0 && offset + count * MemoryLayout<Scalar>.stride <= bytes, "arena view out of range")
        let typed = (base + offset).bindMemory(to: Scalar.self, capacity: count)
        return TensorView(base: typed, count: count)
    }

    /// Sets every byte to zero.
    public func zero() {
        base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }
}
