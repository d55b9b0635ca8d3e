// Checkpoint flash for the example. QEMU's MPS2 boards have no flash controller, so a NOLOAD SRAM
// region (mps2-an386.ld's .checkpoint) stands in, with flash's rules: erased pages read 0xFF and
// programming can only clear bits. On a real part these three callbacks call the vendor's flash
// driver (HAL_FLASHEx_Erase / HAL_FLASH_Program, nrfx_nvmc, flash_range_erase / flash_range_program).
#include <stdint.h>
#include "console.h"

extern uint8_t _checkpoint_start[], _checkpoint_end[];
#define PAGE_BYTES 4096u

static int erase_page(void *context, uint32_t offset) {
    (void)context;
    uint32_t *page = (uint32_t *)(_checkpoint_start + offset);
    for (uint32_t i = 0; i < PAGE_BYTES / 4; i++) page[i] = 0xFFFFFFFFu;
    return 1;
}

static int program_word(void *context, uint32_t offset, uint32_t word) {
    (void)context;
    *(volatile uint32_t *)(_checkpoint_start + offset) &= word;
    return 1;
}

static uint32_t read_word(void *context, uint32_t offset) {
    (void)context;
    return *(volatile uint32_t *)(_checkpoint_start + offset);
}

hs_flash board_checkpoint_flash(void) {
    hs_flash f = {
        .context = 0,
        .page_bytes = PAGE_BYTES,
        .region_bytes = (uint32_t)(_checkpoint_end - _checkpoint_start),
        .erase_page = erase_page,
        .program_word = program_word,
        .read_word = read_word,
    };
    return f;
}

const void *board_checkpoint_bytes(void) { return _checkpoint_start; }
