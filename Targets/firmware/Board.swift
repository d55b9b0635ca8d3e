import HalfStepCore

/// What the board's C startup code provides (Targets/firmware/startup.c).
@_silgen_name("hs_payload")
func boardPayload() -> UnsafeRawPointer

@_silgen_name("hs_arena")
func boardArena() -> UnsafeMutableRawPointer

@_silgen_name("hs_arena_bytes")
func boardArenaBytes() -> Int

@_silgen_name("hs_ticks")
func boardTicks() -> UInt32

@_silgen_name("hs_print")
func boardPrint(_ text: UnsafePointer<UInt8>)

@_silgen_name("hs_print_field")
func boardPrintField(_ name: UnsafePointer<UInt8>, _ value: UInt32, _ hex: Int32)

@_silgen_name("hs_print_end")
func boardPrintEnd()

@_silgen_name("hs_stack_high_water")
func boardStackHighWater() -> UInt32

@_silgen_name("hs_fault_on_purpose")
func boardFaultOnPurpose()

@_silgen_name("hs_diagnostics")
func boardDiagnostics(_ count: Int32) -> UnsafeMutableRawPointer?

@_silgen_name("hs_exit")
func boardExit(_ code: Int32) -> Never

/// Prints `text` (a StaticString, the only string Embedded Swift formats for free).
func say(_ text: StaticString) {
    boardPrint(text.utf8Start)
}

/// Prints ` name=value` (hex when `hex`).
func field(_ name: StaticString, _ value: UInt32, hex: Bool = false) {
    boardPrintField(name.utf8Start, value, hex ? 1 : 0)
}

@_silgen_name("hs_flash_open")
func boardFlashOpen(_ dieAfterWords: UInt32) -> Int32

@_silgen_name("hs_flash_read")
func boardFlashRead(_ offset: UInt32) -> UInt32

@_silgen_name("hs_flash_write")
func boardFlashWrite(_ offset: UInt32, _ word: UInt32) -> Int32

@_silgen_name("hs_flash_erase")
func boardFlashErase(_ offset: UInt32, _ bytes: UInt32) -> Int32

@_silgen_name("hs_flash_bytes")
func boardFlashBytes() -> UInt32

@_silgen_name("hs_trainer_storage")
func boardTrainerStorage() -> UnsafeMutableRawPointer

/// The board's checkpoint flash (a host file via semihosting on the QEMU boards) as the C API's
/// `hs_flash`, in 256-byte pages.
func boardCheckpointFlash() -> HSFlash {
    HSFlash(context: nil, pageBytes: 256, regionBytes: boardFlashBytes(),
            erasePage: { _, offset in boardFlashErase(offset, 256) },
            programWord: { _, offset, word in boardFlashWrite(offset, word) },
            readWord: { _, offset in boardFlashRead(offset) })
}
