// Start-up code for QEMU's mps2-an386 (Cortex-M4F): vector table, reset handler, a console and an
// exit through semihosting, and a fault handler that reports instead of hanging. A board's own
// start-up code (CubeMX, the Pico SDK, Zephyr) replaces this file; HalfStep needs nothing from it
// beyond an enabled FPU.
#include <stdint.h>
#include "console.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _stack_top;
int main(void);

static int semihost(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void console_write(const char *text) { semihost(0x04 /* SYS_WRITE0 */, text); }

void console_number(int32_t value) {
    char digits[12];
    int n = 0;
    uint32_t v = value < 0 ? (uint32_t)(-(value + 1)) + 1 : (uint32_t)value;
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    char text[14];
    int at = 0;
    if (value < 0) text[at++] = '-';
    while (n) text[at++] = digits[--n];
    text[at] = 0;
    console_write(text);
}

int board_save_file(const char *name, const void *bytes, uint32_t count) {
    uint32_t length = 0;
    while (name[length]) length++;
    uint32_t open[3] = { (uint32_t)name, 5 /* "wb" */, length };
    int handle = semihost(0x01 /* SYS_OPEN */, open);
    if (handle < 0) return 0;
    uint32_t write[3] = { (uint32_t)handle, (uint32_t)bytes, count };
    int unwritten = semihost(0x05 /* SYS_WRITE */, write);
    uint32_t close[1] = { (uint32_t)handle };
    semihost(0x02 /* SYS_CLOSE */, close);
    return unwritten == 0;
}

__attribute__((noreturn)) void board_exit(int code) {
    static uint32_t block[2];
    block[0] = 0x20026;   // ADP_Stopped_ApplicationExit: QEMU exits with `code`
    block[1] = (uint32_t)code;
    semihost(0x20 /* SYS_EXIT_EXTENDED */, block);
    for (;;) {}
}

__attribute__((noreturn)) void board_reset(void) {
    __asm__ volatile("dsb");
    *(volatile uint32_t *)0xE000ED0C = 0x05FA0004u;   // AIRCR: VECTKEY | SYSRESETREQ
    __asm__ volatile("dsb");
    for (;;) {}
}

__attribute__((noreturn)) void Reset_Handler(void) {
    for (uint32_t *s = &_sidata, *d = &_sdata; d < &_edata;) *d++ = *s++;
    for (uint32_t *d = &_sbss; d < &_ebss;) *d++ = 0;
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;   // CPACR: CP10/CP11 full access (the FPU)
    __asm__ volatile("dsb\n isb");
    board_exit(main());
}

static void Fault_Handler(void) {
    console_write("fault: the firmware stopped on a CPU fault\n");
    board_exit(3);
}

__attribute__((section(".vectors"), used)) void (*const vectors[16])(void) = {
    (void (*)(void))(&_stack_top), Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler, Fault_Handler,
};
