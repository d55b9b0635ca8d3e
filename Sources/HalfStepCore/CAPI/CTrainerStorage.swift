/// The caller-owned block behind a C `hs_trainer *`: a small header, the last error's sentence, then
/// the `Trainer` value itself.
///
/// Layout, bytes from the start (8-byte aligned):
///   0   magic: `ready` once `hs_trainer_init` succeeded, `failed` after it refused
///   4   the last call's error code (0 when it succeeded)
///   8   the last error's sentence, NUL-terminated (`messageBytes` bytes)
///   `trainerOffset`  the `Trainer` (valid only when the magic is `ready`)
/// A `Trainer` holds only integers, floats and pointers (no references), so it lives in raw memory.
public enum CTrainerStorage {
    static let ready: UInt32 = 0x5254_5348     // "HSTR"
    static let failed: UInt32 = 0x4654_5348    // "HSTF"
    static let messageOffset = 8
    /// Room for the last error's sentence, NUL included.
    static let messageBytes = 192
    static let trainerOffset = (messageOffset + messageBytes + MemoryLayout<Trainer>.alignment - 1)
        / MemoryLayout<Trainer>.alignment * MemoryLayout<Trainer>.alignment
    /// Bytes of storage a trainer needs on this build.
    public static var bytes: Int { trainerOffset + MemoryLayout<Trainer>.size }
    /// Alignment the storage needs (the header's and the trainer's).
    static let alignment = 8

    /// The trainer in `storage`, or nil when `storage` holds no initialised trainer.
    ///
    /// Swift callers that drive the trainer beyond the C interface (the QEMU firmware's per-op timing
    /// and diagnostics) reach it here.
    public static func trainer(_ storage: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<Trainer>? {
        guard let storage, UInt(bitPattern: storage) % UInt(alignment) == 0,
              storage.load(as: UInt32.self) == ready else { return nil }
        return (storage + trainerOffset).assumingMemoryBound(to: Trainer.self)
    }

    /// Records `error`'s code in `storage` and starts its sentence; the caller appends figures.
    static func fail(_ storage: UnsafeMutableRawPointer, _ error: CAPIError) -> MessageWriter {
        storage.storeBytes(of: error.rawValue, toByteOffset: 4, as: Int32.self)
        var w = MessageWriter(storage + messageOffset, capacity: messageBytes)
        w.append(error.sentence)
        return w
    }

    /// Marks the last call on `storage` as successful (empty sentence).
    static func succeed(_ storage: UnsafeMutableRawPointer) {
        storage.storeBytes(of: 0, toByteOffset: 4, as: Int32.self)
        storage.storeBytes(of: 0, toByteOffset: messageOffset, as: UInt8.self)
    }
}

/// Writes a NUL-terminated sentence into fixed storage, cutting it short rather than overflowing.
struct MessageWriter {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    var used = 0

    init(_ base: UnsafeMutableRawPointer, capacity: Int) {
        self.base = base
        self.capacity = capacity
        base.storeBytes(of: 0, as: UInt8.self)
    }

    mutating func append(_ text: StaticString) {
        let p = text.utf8Start
        var i = 0
        while i < text.utf8CodeUnitCount {
            byte(p[i])
            i += 1
        }
    }

    /// `value` in decimal.
    mutating func append(_ value: Int) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if value < 0 { byte(UInt8(ascii: "-")) }
        var v = value.magnitude
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[n] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: v % 10)
                v /= 10
                n += 1
            } while v > 0
        }
        withUnsafeBytes(of: &digits) { d in
            while n > 0 {
                n -= 1
                byte(d[n])
            }
        }
    }

    private mutating func byte(_ b: UInt8) {
        guard used + 1 < capacity else { return }
        base.storeBytes(of: b, toByteOffset: used, as: UInt8.self)
        used += 1
        base.storeBytes(of: 0, toByteOffset: used, as: UInt8.self)
    }
}
