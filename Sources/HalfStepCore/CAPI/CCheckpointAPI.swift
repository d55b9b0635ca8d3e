// halfstep.h's checkpoint functions: the same two-slot, power-cut-safe format `train --checkpoint`
// writes on the host, in a flash region the caller reaches through three callbacks.

/// halfstep.h's `hs_flash`: the caller's checkpoint region and its callbacks.
public struct HSFlash {
    public var context: UnsafeMutableRawPointer?
    public var pageBytes: UInt32
    public var regionBytes: UInt32
    public var erasePage: (@convention(c) (UnsafeMutableRawPointer?, UInt32) -> Int32)?
    public var programWord: (@convention(c) (UnsafeMutableRawPointer?, UInt32, UInt32) -> Int32)?
    public var readWord: (@convention(c) (UnsafeMutableRawPointer?, UInt32) -> UInt32)?

    public init(context: UnsafeMutableRawPointer?, pageBytes: UInt32, regionBytes: UInt32,
                erasePage: (@convention(c) (UnsafeMutableRawPointer?, UInt32) -> Int32)?,
                programWord: (@convention(c) (UnsafeMutableRawPointer?, UInt32, UInt32) -> Int32)?,
                readWord: (@convention(c) (UnsafeMutableRawPointer?, UInt32) -> UInt32)?) {
        self.context = context
        self.pageBytes = pageBytes
        self.regionBytes = regionBytes
        self.erasePage = erasePage
        self.programWord = programWord
        self.readWord = readWord
    }
}

/// A checked `HSFlash` as the core's `FlashWriter`: offsets past the region are refused, not passed on.
struct CallbackFlash: FlashWriter {
    let flash: HSFlash
    let erasePage: @convention(c) (UnsafeMutableRawPointer?, UInt32) -> Int32
    let programWord: @convention(c) (UnsafeMutableRawPointer?, UInt32, UInt32) -> Int32
    let readWord: @convention(c) (UnsafeMutableRawPointer?, UInt32) -> UInt32

    /// nil when a callback is missing or the page size is not a positive multiple of 4.
    init?(_ flash: HSFlash) {
        guard let e = flash.erasePage, let p = flash.programWord, let r = flash.readWord,
              flash.pageBytes > 0, flash.pageBytes % 4 == 0 else { return nil }
        self.flash = flash
        erasePage = e
        programWord = p
        readWord = r
    }

    var pageBytes: Int { Int(flash.pageBytes) }

    mutating func erase(at offset: Int) -> Bool {
        guard offset >= 0 && offset + pageBytes <= Int(flash.regionBytes) else { return false }
        return erasePage(flash.context, UInt32(truncatingIfNeeded: offset)) != 0
    }

    mutating func write(_ word: UInt32, at offset: Int) -> Bool {
        guard offset >= 0 && offset + 4 <= Int(flash.regionBytes) else { return false }
        return programWord(flash.context, UInt32(truncatingIfNeeded: offset), word) != 0
    }

    func read(at offset: Int) -> UInt32 {
        guard offset >= 0 && offset + 4 <= Int(flash.regionBytes) else { return 0xFFFF_FFFF }
        return readWord(flash.context, UInt32(truncatingIfNeeded: offset))
    }
}

/// `hs_checkpoint_region_bytes`: flash two slots of this plan's state take with `pageBytes` pages.
@_cdecl("hs_checkpoint_region_bytes")
public func hs_checkpoint_region_bytes(_ t: UnsafeRawPointer?, _ pageBytes: UInt32) -> Int {
    guard let trainer = CTrainerStorage.trainer(UnsafeMutableRawPointer(mutating: t)), pageBytes > 0 else { return 0 }
    return 2 * Checkpoint.slotBytes(trainer.pointee.plan, pageBytes: Int(pageBytes))
}

/// `hs_checkpoint_save`: the training state into the older slot.
@_cdecl("hs_checkpoint_save")
public func hs_checkpoint_save(_ t: UnsafeMutableRawPointer?, _ flash: UnsafeRawPointer?) -> Int32 {
    guard let trainer = CTrainerStorage.trainer(t), let t else { return CAPIError.notInitialised.rawValue }
    guard var region = checkedRegion(t, trainer, flash) else { return lastCode(t) }
    guard trainer.pointee.saveCheckpoint(to: &region, base: 0) else {
        var w = CTrainerStorage.fail(t, .flash)
        w.append(": erase_page or program_word returned 0 (the previous checkpoint is intact)")
        return CAPIError.flash.rawValue
    }
    CTrainerStorage.succeed(t)
    return 0
}

/// `hs_checkpoint_restore`: the newest complete state of this plan, if there is one.
@_cdecl("hs_checkpoint_restore")
public func hs_checkpoint_restore(_ t: UnsafeMutableRawPointer?, _ flash: UnsafeRawPointer?) -> Int32 {
    guard let trainer = CTrainerStorage.trainer(t), let t else { return CAPIError.notInitialised.rawValue }
    guard let region = checkedRegion(t, trainer, flash) else { return lastCode(t) }
    guard trainer.pointee.restoreCheckpoint(from: region, base: 0) else {
        var w = CTrainerStorage.fail(t, .noCheckpoint)
        w.append(" (an erased region, another plan's, or both slots cut short)")
        return CAPIError.noCheckpoint.rawValue
    }
    CTrainerStorage.succeed(t)
    return 0
}

/// The caller's flash, checked: callbacks present, pages sane, the region big enough for two slots.
func checkedRegion(_ t: UnsafeMutableRawPointer, _ trainer: UnsafeMutablePointer<Trainer>,
                   _ pointer: UnsafeRawPointer?) -> CallbackFlash? {
    guard let flash = pointer?.assumingMemoryBound(to: HSFlash.self) else {
        var w = CTrainerStorage.fail(t, .null)
        w.append(": the flash description")
        return nil
    }
    guard let region = CallbackFlash(flash.pointee) else {
        var w = CTrainerStorage.fail(t, .flash)
        w.append(": a callback is NULL or page_bytes is not a positive multiple of 4")
        return nil
    }
    let needed = 2 * Checkpoint.slotBytes(trainer.pointee.plan, pageBytes: region.pageBytes)
    guard Int(flash.pointee.regionBytes) >= needed else {
        var w = CTrainerStorage.fail(t, .flash)
        w.append(": the region has ")
        w.append(Int(flash.pointee.regionBytes))
        w.append(" bytes, two checkpoint slots need ")
        w.append(needed)
        return nil
    }
    return region
}

func lastCode(_ t: UnsafeMutableRawPointer) -> Int32 { t.load(fromByteOffset: 4, as: Int32.self) }
