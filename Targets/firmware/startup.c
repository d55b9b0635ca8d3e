// Start-up code for the emulated boards (MPS2 Cortex-M4F AN386, Cortex-M7 AN500, Cortex-M33 AN505;
// MPS3 Cortex-M55 AN547): vector table,
// reset handler, semihosting I/O, SysTick timing, stack painting, and a HardFault handler that
// reports registers and exits instead of hanging. No C library: the few routines the compiler
// may call (memcpy, memset, memmove) are defined here, and nothing can call malloc — there is
// none to link against.
#include <stddef.h>
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss;
extern uint32_t _stack_bottom, _stack_top;
extern uint8_t _arena_start, _arena_end;
extern const uint8_t _payload_start;

int main(int argc, char **argv);

// MARK: - Semihosting (ARM DUI 0471: bkpt 0xab, r0 = operation, r1 = argument)

static int semihost(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

#define SYS_OPEN 0x01
#define SYS_WRITE0 0x04
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_SEEK 0x0A
#define SYS_EXIT_EXTENDED 0x20

static char line[160];
static size_t line_used;

static void line_put(char c) {
    if (line_used + 2 < sizeof line) line[line_used++] = c;
}

void hs_print(const char *text) {
    while (*text) line_put(*text++);
}

void hs_print_field(const char *name, uint32_t value, int hex) {
    line_put(' ');
    hs_print(name);
    line_put('=');
    char digits[12];
    int n = 0;
    if (hex) {
        for (int shift = 28; shift >= 0; shift -= 4) line_put("0123456789abcdef"[(value >> shift) & 0xF]);
        return;
    }
    do { digits[n++] = (char)('0' + value % 10); value /= 10; } while (value);
    while (n) line_put(digits[--n]);
}

void hs_print_end(void) {
    line[line_used++] = '\n';
    line[line_used] = 0;
    semihost(SYS_WRITE0, line);
    line_used = 0;
}

__attribute__((noreturn)) void hs_exit(int code) {
    // ADP_Stopped_ApplicationExit with a status: QEMU exits with `code`.
    static uint32_t block[2];
    block[0] = 0x20026;
    block[1] = (uint32_t)code;
    semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {}
}

// MARK: - Checkpoint flash: a host file through semihosting, written word by word

static int flash_handle = -1;
static uint32_t flash_words_written;
static uint32_t flash_die_after;   // 0: never; else stop the run (a power cut) after this many words

int hs_flash_open(uint32_t die_after_words) {
    static const char name[] = "checkpoint.flash";
    uint32_t block[3] = { (uint32_t)name, 3 /* "r+b" */, sizeof name - 1 };
    flash_handle = semihost(SYS_OPEN, block);
    flash_die_after = die_after_words;
    return flash_handle >= 0;
}

static int flash_io(int op, uint32_t offset, void *buffer, uint32_t bytes) {
    uint32_t seek[2] = { (uint32_t)flash_handle, offset };
    if (semihost(SYS_SEEK, seek) != 0) return 0;
    uint32_t io[3] = { (uint32_t)flash_handle, (uint32_t)buffer, bytes };
    return semihost(op, io) == 0;   // both return the number of bytes NOT transferred
}

uint32_t hs_flash_read(uint32_t offset) {
    uint32_t word = 0xFFFFFFFFu;
    flash_io(SYS_READ, offset, &word, 4);
    return word;
}

int hs_flash_write(uint32_t offset, uint32_t word) {
    uint32_t old = hs_flash_read(offset);
    uint32_t value = old & word;   // flash can only clear bits
    int ok = flash_io(SYS_WRITE, offset, &value, 4);
    flash_words_written++;
    if (flash_die_after && flash_words_written == flash_die_after) {
        hs_print("HS powercut");
        hs_print_field("words", flash_words_written, 0);
        hs_print_end();
        hs_exit(7);
    }
    return ok;
}

/// The checkpoint file's size: the flash region the firmware hands the C API.
uint32_t hs_flash_bytes(void) {
    uint32_t block[1] = { (uint32_t)flash_handle };
    int length = semihost(0x0C /* SYS_FLEN */, block);
    return length > 0 ? (uint32_t)length : 0;
}

int hs_flash_erase(uint32_t offset, uint32_t bytes) {
    static uint32_t ones[64];
    for (int i = 0; i < 64; i++) ones[i] = 0xFFFFFFFFu;
    for (uint32_t done = 0; done < bytes; done += sizeof ones) {
        if (!flash_io(SYS_WRITE, offset + done, ones, sizeof ones)) return 0;
    }
    return 1;
}

// MARK: - Board services for the firmware

const void *hs_payload(void) { return &_payload_start; }
void *hs_arena(void) { return &_arena_start; }
int hs_arena_bytes(void) { return (int)(&_arena_end - &_arena_start); }

#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)

/// SysTick's current value: counts down once per core clock (24 bits).
uint32_t hs_ticks(void) { return SYST_CVR; }

#define STACK_PAINT 0x5AA5A55Au

/// Bytes of stack ever used: the painted words overwritten since reset.
uint32_t hs_stack_high_water(void) {
    uint32_t *p = &_stack_bottom;
    while (p < &_stack_top && *p == STACK_PAINT) p++;
    return (uint32_t)((uint8_t *)&_stack_top - (uint8_t *)p);
}

/// Reads from an address no MPS2 memory decodes: a bus fault, escalated to HardFault, which the
/// handler below reports. Lets the host test that a device fault is reported, not hung on.
void hs_fault_on_purpose(void) {
    volatile uint32_t *nowhere = (volatile uint32_t *)0xF0000000u;
    (void)*nowhere;
}

/// The C API's trainer storage (halfstep.h: HS_TRAINER_MAX_BYTES, 8-byte aligned).
static uint64_t trainer_storage[1024 / 8];
void *hs_trainer_storage(void) { return trainer_storage; }

/// Room for the trainer's per-tensor diagnostics (16 bytes per update op), in .bss.
static uint32_t diagnostics_storage[4 * 64];
void *hs_diagnostics(int count) { return count <= 64 ? diagnostics_storage : 0; }

// MARK: - Compiler support routines (no libc)

// Word-sized accesses that may alias anything, for the aligned fast paths below.
typedef uint32_t __attribute__((may_alias)) word_t;

// Plan records, tensors and input batches are word-aligned nearly always; a byte loop costs
// about five instructions per byte, a word loop about one and a half, so copies and fills of
// aligned memory go a word at a time and only the unaligned rest byte by byte.
void *memcpy(void *dst, const void *src, size_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    if ((((uintptr_t)d | (uintptr_t)s) & 3) == 0) {
        while (n >= 16) {
            word_t a = ((const word_t *)s)[0], b = ((const word_t *)s)[1];
            word_t c = ((const word_t *)s)[2], e = ((const word_t *)s)[3];
            ((word_t *)d)[0] = a; ((word_t *)d)[1] = b; ((word_t *)d)[2] = c; ((word_t *)d)[3] = e;
            d += 16; s += 16; n -= 16;
        }
        while (n >= 4) { *(word_t *)d = *(const word_t *)s; d += 4; s += 4; n -= 4; }
    }
    while (n--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d < s) return memcpy(dst, src, n);   // forward copying never overwrites unread bytes
    d += n; s += n; while (n--) *--d = *--s;
    return dst;
}

void *memset(void *dst, int c, size_t n) {
    uint8_t *d = dst;
    if (((uintptr_t)d & 3) == 0) {
        word_t w = (uint8_t)c * 0x01010101u;
        while (n >= 4) { *(word_t *)d = w; d += 4; n -= 4; }
    }
    while (n--) *d++ = (uint8_t)c;
    return dst;
}

void __aeabi_memcpy(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memcpy4(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memcpy8(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memmove(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memmove4(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memset(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memset4(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memclr(void *d, size_t n) { memset(d, 0, n); }
void __aeabi_memclr4(void *d, size_t n) { memset(d, 0, n); }
void __aeabi_memclr8(void *d, size_t n) { memset(d, 0, n); }

/// Swift's `squareRoot()` lowers to a call on this target; the FPU computes it exactly (IEEE
/// correctly rounded, as the host does), so parity holds.
float sqrtf(float x) {
    float r;
    __asm__("vsqrt.f32 %0, %1" : "=t"(r) : "t"(x));
    return r;
}

// MARK: - Reset and faults

__attribute__((noreturn)) void Reset_Handler(void) {
    // Enable the FPU (CP10 and CP11 full access) before anything else: on the Cortex-M55 the
    // compiler vectorises even the loops below into Helium (MVE) instructions, which need it too.
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;
    __asm__ volatile("dsb\n isb" ::: "memory");
    // Paint the stack below the current frame so its high-water mark can be read at the end.
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = &_stack_bottom; p < sp - 16; p++) *p = STACK_PAINT;
    for (uint32_t *s = &_sidata, *d = &_sdata; d < &_edata;) *d++ = *s++;
    for (uint32_t *d = &_sbss; d < &_ebss;) *d++ = 0;
    // SysTick from the core clock, free running over its 24 bits.
    SYST_RVR = 0x00FFFFFF;
    SYST_CVR = 0;
    SYST_CSR = 0x5;
    hs_exit(main(0, 0));
}

static void print_register(const char *name, uint32_t v) { hs_print_field(name, v, 1); }

__attribute__((used)) void hs_fault_report(uint32_t *frame, uint32_t kind) {
    hs_print("HS fault");
    hs_print_field("kind", kind, 0);
    print_register("pc", frame[6]);
    print_register("lr", frame[5]);
    print_register("xpsr", frame[7]);
    print_register("r0", frame[0]);
    print_register("r1", frame[1]);
    print_register("r2", frame[2]);
    print_register("r3", frame[3]);
    print_register("r12", frame[4]);
    print_register("cfsr", *(volatile uint32_t *)0xE000ED28);
    print_register("hfsr", *(volatile uint32_t *)0xE000ED2C);
    print_register("bfar", *(volatile uint32_t *)0xE000ED38);
    print_register("mmfar", *(volatile uint32_t *)0xE000ED34);
    hs_print_end();
    hs_exit(5);
}

// The stacked exception frame is on MSP or PSP depending on EXC_RETURN bit 2.
#define FAULT_HANDLER(name, kind) \
    __attribute__((naked)) void name(void) { \
        __asm__ volatile("tst lr, #4\n ite eq\n mrseq r0, msp\n mrsne r0, psp\n mov r1, #" #kind "\n b hs_fault_report"); \
    }
FAULT_HANDLER(HardFault_Handler, 3)
FAULT_HANDLER(MemManage_Handler, 4)
FAULT_HANDLER(BusFault_Handler, 5)
FAULT_HANDLER(UsageFault_Handler, 6)

void Default_Handler(void) {
    hs_print("HS fault unexpected-interrupt");
    hs_print_end();
    hs_exit(6);
}

__attribute__((section(".vectors"), used)) void (*const vectors[16])(void) = {
    (void (*)(void))(&_stack_top),
    Reset_Handler, Default_Handler, HardFault_Handler, MemManage_Handler, BusFault_Handler, UsageFault_Handler,
    0, 0, 0, 0, Default_Handler, Default_Handler, 0, Default_Handler, Default_Handler,
};
