// The board services main.c uses (startup.c, flash.c).
#ifndef CONSOLE_H
#define CONSOLE_H
#include <stdint.h>
#include "halfstep.h"

void console_write(const char *text);
void console_number(int32_t value);
__attribute__((noreturn)) void board_exit(int code);
__attribute__((noreturn)) void board_reset(void);

/* The checkpoint region as halfstep.h's hs_flash. */
hs_flash board_checkpoint_flash(void);
#endif
