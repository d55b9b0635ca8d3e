#ifndef HALFSTEP_CEMULATORLIMITS_H
#define HALFSTEP_CEMULATORLIMITS_H

#include <stddef.h>
#include <stdint.h>

/// Guarded memory for emulating a microcontroller's limits in one Linux process.
///
/// What Swift cannot do safely is here: page-granular mappings with inaccessible guard pages, a
/// read-only "flash" image, a training thread whose stack is exactly a part's stack size, and a
/// SIGSEGV/SIGBUS handler (on an alternate signal stack) that turns a fault into a one-line report
/// naming the limit crossed, then exits with status 3 — never a core dump.

/// A region of `bytes` usable bytes whose last byte is immediately followed by an inaccessible
/// guard page (and whose first page is preceded by one).
typedef struct {
    uint8_t *base;      ///< first usable byte
    size_t bytes;       ///< usable bytes
    void *mapping;      ///< whole mapping, for unmapping
    size_t mapping_bytes;
} hs_region;

/// Maps a guarded read-write region; returns 0 on success.
int hs_region_map(hs_region *region, size_t bytes);
/// Makes a mapped region read-only (flash).
int hs_region_protect_read_only(hs_region *region);
void hs_region_unmap(hs_region *region);

/// What the fault handler knows about the running emulation.
typedef struct {
    uintptr_t arena_base, arena_bytes;
    uintptr_t flash_base, flash_bytes;
    uintptr_t stack_limit;        ///< lowest usable stack address (the guard page sits below it)
    volatile int32_t current_op;  ///< written by the trainer before each op (-1 outside the program)
    int json;                     ///< report as one JSON object instead of text
    const char *plan_path;        ///< named in the report
} hs_emulation;

/// Installs the fault handler for `emulation` (kept by pointer: it must outlive the run).
int hs_install_fault_handler(hs_emulation *emulation);

/// Stack measurement of one run on a guarded thread.
typedef struct {
    size_t stack_bytes;        ///< the limit the run had
    size_t high_water_bytes;   ///< deepest use observed (painted bytes overwritten)
    int error;                 ///< nonzero when the thread could not be set up
} hs_stack_report;

/// Runs `body(context)` on a new thread whose usable stack is `stack_bytes`, guarded below and
/// painted first; fills `report` with the high-water mark. Also gives the thread an alternate
/// signal stack so a stack overflow can still be reported.
void hs_run_on_guarded_stack(size_t stack_bytes, void (*body)(void *), void *context, hs_stack_report *report);

/// Deliberately crosses a limit (emulator self-tests): 1 arena overflow, 2 write to flash, 3 stack overflow.
void hs_inject_violation(hs_emulation *emulation, int kind);

#endif
