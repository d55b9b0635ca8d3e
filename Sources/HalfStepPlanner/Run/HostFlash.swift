import Foundation
import HalfStepCore

/// Flash emulated in memory, with an optional power cut: after `writesBeforeCut` erase or write
/// operations every further one is lost, as if power failed mid-checkpoint.
public struct MemoryFlash: FlashWriter {
    public let pageBytes: Int
    public var bytes: [UInt8]
    /// Operations left before the cut (nil: never cut).
    public var writesBeforeCut: Int?
    /// Erase and write operations performed (including lost ones).
    public private(set) var operations = 0

    public init(bytes count: Int, pageBytes: Int = 4096) {
        self.pageBytes = pageBytes
        bytes = [UInt8](repeating: 0xFF, count: count)
    }

    mutating func powered() -> Bool {
        operations += 1
        guard let left = writesBeforeCut else { return true }
        if left <= 0 { return false }
        writesBeforeCut = left - 1
        return true
    }

    public mutating func erase(at offset: Int) -> Bool {
        guard powered() else { return true }   // power is gone: the operation silently does nothing
        for i in offset ..< min(offset + pageBytes, bytes.count) { bytes[i] = 0xFF }
        return true
    }

    public mutating func write(_ word: UInt32, at offset: Int) -> Bool {
        guard offset + 4 <= bytes.count else { return false }
        guard powered() else { return true }
        for i in 0 ..< 4 { bytes[offset + i] &= UInt8(truncatingIfNeeded: word >> (8 * UInt32(i))) }
        return true
    }

    public func read(at offset: Int) -> UInt32 {
        guard offset + 4 <= bytes.count else { return 0xFFFF_FFFF }
        var v: UInt32 = 0
        for i in 0 ..< 4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        return v
    }
}

/// Flash backed by a file, mapped shared: every word written is in the kernel's page cache at
/// once, so a process killed (even with SIGKILL) mid-checkpoint leaves exactly the words it wrote.
public final class FileFlash: FlashWriter {
    public let pageBytes: Int
    public let path: String
    let base: UnsafeMutableRawPointer
    let size: Int

    /// Opens (creating and erasing when new or too small) `path` as `bytes` of flash.
    public init(path: String, bytes: Int, pageBytes: Int = 4096) throws(TrainingError) {
        self.pageBytes = pageBytes
        self.path = path
        size = bytes
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw .checkpoint("cannot open \(path)") }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        let fresh = Int(st.st_size) != bytes
        if fresh {
            guard ftruncate(fd, off_t(bytes)) == 0 else { throw .checkpoint("cannot size \(path) to \(bytes) bytes") }
        }
        guard let m = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), m != MAP_FAILED else {
            throw .checkpoint("cannot map \(path)")
        }
        base = m
        if fresh { base.initializeMemory(as: UInt8.self, repeating: 0xFF, count: bytes) }
    }

    deinit {
        msync(base, size, MS_SYNC)
        munmap(base, size)
    }

    public func erase(at offset: Int) -> Bool {
        guard offset >= 0, offset + pageBytes <= size else { return false }
        (base + offset).initializeMemory(as: UInt8.self, repeating: 0xFF, count: pageBytes)
        return true
    }

    public func write(_ word: UInt32, at offset: Int) -> Bool {
        guard offset >= 0, offset + 4 <= size else { return false }
        let old = base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        base.storeBytes(of: (old & word.littleEndian), toByteOffset: offset, as: UInt32.self)
        FileFlash.afterWrite?()
        return true
    }

    public func read(at offset: Int) -> UInt32 {
        guard offset >= 0, offset + 4 <= size else { return 0xFFFF_FFFF }
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Test hook: called after every word written (the CLI uses it to die mid-checkpoint on request).
    nonisolated(unsafe) public static var afterWrite: (() -> Void)?
}
