/// Little-endian field access at byte offsets, for the plan's fixed-layout records.
///
/// Records are read in place from flash, where nothing guarantees alignment of a field, so every
/// access is an unaligned load or store.
@usableFromInline
enum ByteIO {
    @inlinable @inline(__always)
    static func u8(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        p.load(fromByteOffset: offset, as: UInt8.self)
    }

    @inlinable @inline(__always)
    static func u16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable @inline(__always)
    static func u32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inlinable @inline(__always)
    static func f32(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(bitPattern: u32(p, offset))
    }

    @inlinable @inline(__always)
    static func put(_ p: UnsafeMutableRawPointer, _ offset: Int, _ value: UInt8) {
        p.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }

    @inlinable @inline(__always)
    static func put(_ p: UnsafeMutableRawPointer, _ offset: Int, _ value: UInt16) {
        p.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    @inlinable @inline(__always)
    static func put(_ p: UnsafeMutableRawPointer, _ offset: Int, _ value: UInt32) {
        p.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }

    @inlinable @inline(__always)
    static func put(_ p: UnsafeMutableRawPointer, _ offset: Int, _ value: Float) {
        put(p, offset, value.bitPattern)
    }
}
