// The board services main.c uses (startup.c, flash.c).
#ifndef CONSOLE_H
#define CONSOLE_H
#include <stdint.h>
#include "halfstep.h"

void console_write(const char *text);
void console_number(int32_t value);
__attribute__((noreturn)) void board_exit(int code);
/* Writes `count` bytes to the host file `name` (semihosting); nonzero on success. */
int board_save_file(const char *name, const void *bytes, uint32_t count);
__attribute__((noreturn)) void board_reset(void);

/* The checkpoint region as halfstep.h's hs_flash, and its bytes. */
hs_flash board_checkpoint_flash(void);
const void *board_checkpoint_bytes(void);
#endif
