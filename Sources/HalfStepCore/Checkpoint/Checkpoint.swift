/// Flash as a board exposes it for checkpoints: pages that erase to 0xFF and 32-bit word writes.
///
/// A board implements it over its flash controller; the host over a file or memory. Generic use
/// only (no existentials), so the core stays allocation-free.
public protocol FlashWriter {
    /// Bytes per erasable page.
    var pageBytes: Int { get }
    /// Erases the page starting at byte `offset` (a multiple of `pageBytes`) to 0xFF; false on failure.
    mutating func erase(at offset: Int) -> Bool
    /// Writes `word` at byte `offset` (a multiple of 4) of erased flash; false on failure.
    mutating func write(_ word: UInt32, at offset: Int) -> Bool
    /// The word at byte `offset`.
    func read(at offset: Int) -> UInt32
}

/// Power-loss-safe training state in two alternating flash slots.
///
/// Each slot: a 32-byte header (magic, version, sequence, state bytes, CRC of the state, CRC of
/// the plan) followed by the state. A save erases the older slot, writes the state, then the
/// header with the magic word last: a cut anywhere leaves that slot without a valid magic or CRC,
/// and the other slot (the last complete checkpoint) untouched. Restore takes the valid slot with
/// the higher sequence number.
///
/// The state is every arena tensor that persists across steps (trainable parameters, master
/// copies, optimizer state, compensation), then the loss scaler, Adam's bias-correction powers and
/// the counters.
public enum Checkpoint {
    public static let magic: UInt32 = 0x4B43_5348   // "HSCK"
    public static let version: UInt32 = 1
    public static let headerBytes = 32
    /// Scalars after the tensors: scale, clean steps, β₁ᵗ, β₂ᵗ, six counters.
    static let scalarWords = 10

    /// Bytes of state (without the header) for `plan`.
    public static func stateBytes(_ plan: Plan) -> Int {
        var n = 0
        var i = 0
        while i < plan.tensorCount {
            if persists(plan.tensor(i)) { n += (Int(plan.tensor(i).bytes) + 3) / 4 * 4 }
            i += 1
        }
        return n + 4 * scalarWords
    }

    /// Bytes one slot occupies (header and state, rounded up to whole pages).
    public static func slotBytes(_ plan: Plan, pageBytes: Int) -> Int {
        (headerBytes + stateBytes(plan) + pageBytes - 1) / pageBytes * pageBytes
    }

    static func persists(_ t: TensorRecord) -> Bool {
        t.region == .arena && (t.flags & TensorRecord.trainable != 0 || t.role == .optimizerState)
    }
}

extension Trainer {
    /// Saves the training state into the older of the two slots at `base` (each `Checkpoint.slotBytes`
    /// long). Returns false if the flash refused a write (the previous checkpoint stays valid).
    public func saveCheckpoint<F: FlashWriter>(to flash: inout F, base: Int) -> Bool {
        let slotBytes = Checkpoint.slotBytes(plan, pageBytes: flash.pageBytes)
        let (newest, sequence) = newestSlot(flash, base: base)
        let slot = newest == 0 ? 1 : 0
        let start = base + slot * slotBytes
        var page = 0
        while page < slotBytes {
            if !flash.erase(at: start + page) { return false }
            page += flash.pageBytes
        }
        var crc: UInt32 = 0
        var at = start + Checkpoint.headerBytes
        var ok = true
        forEachStateWord { word in
            if ok { ok = flash.write(word, at: at) }
            crc = CRC32.checksum(word, continuing: crc)
            at += 4
        }
        if !ok { return false }
        // Header: everything but the magic first, the magic last (the commit).
        let fields: (UInt32, UInt32, UInt32, UInt32, UInt32) =
            (Checkpoint.version, sequence &+ 1, UInt32(Checkpoint.stateBytes(plan)), crc, plan.header.crc)
        return flash.write(fields.0, at: start + 4) && flash.write(fields.1, at: start + 8)
            && flash.write(fields.2, at: start + 12) && flash.write(fields.3, at: start + 16)
            && flash.write(fields.4, at: start + 20) && flash.write(Checkpoint.magic, at: start)
    }

    /// Restores the newest complete checkpoint at `base`; false (state untouched) when there is none.
    public mutating func restoreCheckpoint<F: FlashWriter>(from flash: F, base: Int) -> Bool {
        let (newest, _) = newestSlot(flash, base: base)
        guard newest >= 0 else { return false }
        let slotBytes = Checkpoint.slotBytes(plan, pageBytes: flash.pageBytes)
        var at = base + newest * slotBytes + Checkpoint.headerBytes
        var i = 0
        while i < plan.tensorCount {
            let t = plan.tensor(i)
            if Checkpoint.persists(t) {
                let words = (Int(t.bytes) + 3) / 4
                let dst = arena.base + Int(t.offset)
                var w = 0
                while w < words {
                    let word = flash.read(at: at)
                    let remaining = Int(t.bytes) - 4 * w
                    if remaining >= 4 {
                        dst.storeBytes(of: word, toByteOffset: 4 * w, as: UInt32.self)
                    } else {
                        dst.storeBytes(of: UInt16(truncatingIfNeeded: word), toByteOffset: 4 * w, as: UInt16.self)
                    }
                    at += 4
                    w += 1
                }
            }
            i += 1
        }
        // The scalars follow the tensors in `forEachStateWord`'s order.
        func word(_ k: Int) -> UInt32 { flash.read(at: at + 4 * k) }
        restoreScalars(scale: Float(bitPattern: word(0)), cleanSteps: Int(word(1)),
                       beta1Power: Float(bitPattern: word(2)), beta2Power: Float(bitPattern: word(3)),
                       steps: Int(word(4)), applied: Int(word(5)), overflows: Int(word(6)), skipped: Int(word(7)),
                       nonzero: Int(word(8)), underflows: Int(word(9)))
        return true
    }

    /// The valid slot of this plan with the highest sequence (-1 if none) and that sequence (0 if
    /// none). Host tools use it to find a device's checkpoint in a region read out of flash.
    public func newestSlot<F: FlashWriter>(_ flash: F, base: Int) -> (slot: Int, sequence: UInt32) {
        let slotBytes = Checkpoint.slotBytes(plan, pageBytes: flash.pageBytes)
        let stateBytes = Checkpoint.stateBytes(plan)
        var best = -1
        var bestSequence: UInt32 = 0
        var slot = 0
        while slot < 2 {
            let start = base + slot * slotBytes
            if flash.read(at: start) == Checkpoint.magic && flash.read(at: start + 4) == Checkpoint.version
                && flash.read(at: start + 12) == UInt32(stateBytes) && flash.read(at: start + 20) == plan.header.crc {
                var crc: UInt32 = 0
                var at = start + Checkpoint.headerBytes
                let end = at + stateBytes
                while at < end {
                    crc = CRC32.checksum(flash.read(at: at), continuing: crc)
                    at += 4
                }
                let sequence = flash.read(at: start + 8)
                if crc == flash.read(at: start + 16) && (best < 0 || sequence > bestSequence) {
                    best = slot
                    bestSequence = sequence
                }
            }
            slot += 1
        }
        return (best, bestSequence)
    }

    /// Calls `body` with every 32-bit word of the state, in order (tensors padded to whole words).
    func forEachStateWord(_ body: (UInt32) -> Void) {
        var i = 0
        while i < plan.tensorCount {
            let t = plan.tensor(i)
            if Checkpoint.persists(t) {
                let src = UnsafeRawPointer(arena.base + Int(t.offset))
                let words = (Int(t.bytes) + 3) / 4
                var w = 0
                while w < words {
                    let remaining = Int(t.bytes) - 4 * w
                    body(remaining >= 4 ? src.loadUnaligned(fromByteOffset: 4 * w, as: UInt32.self)
                                        : UInt32(src.loadUnaligned(fromByteOffset: 4 * w, as: UInt16.self)))
                    w += 1
                }
            }
            i += 1
        }
        body(scaler.scale.bitPattern)
        body(UInt32(truncatingIfNeeded: scaler.cleanSteps))
        body(beta1Power.bitPattern)
        body(beta2Power.bitPattern)
        body(UInt32(truncatingIfNeeded: counters.steps))
        body(UInt32(truncatingIfNeeded: counters.appliedSteps))
        body(UInt32(truncatingIfNeeded: counters.overflows))
        body(UInt32(truncatingIfNeeded: counters.skippedSteps))
        body(UInt32(truncatingIfNeeded: counters.nonzeroUpdates))
        body(UInt32(truncatingIfNeeded: counters.updateUnderflows))
    }
}

extension CRC32 {
    /// The CRC-32 continued over one little-endian word.
    public static func checksum(_ word: UInt32, continuing crc: UInt32) -> UInt32 {
        var w = word.littleEndian
        return withUnsafeBytes(of: &w) { checksum($0, continuing: crc) }
    }
}
