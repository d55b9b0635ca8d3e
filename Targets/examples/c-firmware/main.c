// Trains a packaged HalfStep plan (the digits MLP) on QEMU's mps2-an386 through the C API:
//   boot 1: refuse a corrupted and a truncated plan, score the held-out digits, train 120 steps,
//           score again, save a checkpoint to flash, reset the board;
//   boot 2: set the trainer up from the plan again, restore the checkpoint, score: the adapted
//           model's accuracy must come back exactly; write the checkpoint region to the host
//           (checkpoint-region.bin) as a programmer would read it out of flash.
// Output lines are "key value" pairs a test reads; the exit code is 0 only when everything held.
#include <stdint.h>
#include <string.h>
#include "console.h"
#include "halfstep.h"
#include "plan.h"

#define TRAIN_STEPS 120
#define MAX_FEATURES 64
#define MAX_BATCH 64
#define MAX_OUTPUTS 16

extern const uint8_t digits_train_x[], digits_train_y[], digits_test_x[], digits_test_y[];

static uint64_t trainer_storage[HS_TRAINER_MAX_BYTES / 8];
static uint8_t arena[HS_PLAN_ARENA_BYTES] __attribute__((aligned(16)));
static uint8_t corrupt_plan[HS_PLAN_BYTES] __attribute__((aligned(16)));
static float batch_inputs[MAX_BATCH * MAX_FEATURES];
static int32_t batch_labels[MAX_BATCH];
static float outputs[MAX_BATCH * MAX_OUTPUTS];

/* What survives the reset (the start-up code clears .bss, not .noinit). */
static struct { uint32_t magic; int32_t correct_after; } boot_state __attribute__((section(".noinit")));
#define BOOT_MAGIC 0x48534254u   /* "TBSH": boot 1 finished and saved a checkpoint */

/* A .npy file's data and its first dimension (format 1.0, little-endian, C order). */
typedef struct { const uint8_t *data; uint32_t rows; } npy;

static npy npy_open(const uint8_t *file) {
    npy n = { 0, 0 };
    if (file[0] != 0x93 || file[1] != 'N' || file[6] != 1) return n;
    uint32_t header = (uint32_t)file[8] | (uint32_t)file[9] << 8;
    const char *h = (const char *)file + 10;
    for (uint32_t i = 0; i + 8 < header; i++) {
        if (memcmp(h + i, "shape': (", 9) == 0) {
            for (uint32_t j = i + 9; h[j] >= '0' && h[j] <= '9'; j++) n.rows = n.rows * 10 + (uint32_t)(h[j] - '0');
            break;
        }
    }
    n.data = file + 10 + header;
    return n;
}

static int32_t label_at(npy y, uint32_t i) {
    int32_t v;   /* int64 little-endian: the low word holds a class index */
    memcpy(&v, y.data + 8 * i, 4);
    return v;
}

static void say(const char *key, int32_t value) {
    console_write(key);
    console_write(" ");
    console_number(value);
    console_write("\n");
}

static void check(int status, const char *what, hs_trainer *t) {
    if (status == HS_OK) return;
    console_write(what);
    console_write(" failed: ");
    console_write(t ? hs_last_error(t) : hs_error_message(status));
    console_write("\n");
    board_exit(1);
}

/* Held-out samples the model classifies correctly, predict_rows at a time. */
static int32_t score(hs_trainer *t, const hs_plan_info *info, npy x, npy y) {
    int32_t correct = 0;
    for (uint32_t start = 0; start < x.rows; start += info->predict_rows) {
        uint32_t rows = x.rows - start < info->predict_rows ? x.rows - start : info->predict_rows;
        const float *inputs = (const float *)x.data + start * info->features;
        check(hs_predict(t, inputs, rows, outputs), "hs_predict", t);
        for (uint32_t r = 0; r < rows; r++) {
            uint32_t best = 0;
            for (uint32_t c = 1; c < info->outputs; c++)
                if (outputs[r * info->outputs + c] > outputs[r * info->outputs + best]) best = c;
            if ((int32_t)best == label_at(y, start + r)) correct++;
        }
    }
    return correct;
}

int main(void) {
    hs_trainer *t = (hs_trainer *)trainer_storage;
    npy train_x = npy_open(digits_train_x), train_y = npy_open(digits_train_y);
    npy test_x = npy_open(digits_test_x), test_y = npy_open(digits_test_y);
    if (!train_x.data || !test_x.data || train_x.rows != train_y.rows || test_x.rows != test_y.rows) {
        console_write("data: the digits .npy files did not parse\n");
        return 1;
    }
    say("trainer_bytes", (int32_t)hs_trainer_bytes());
    say("arena_bytes", (int32_t)hs_plan_arena_bytes(hs_plan, hs_plan_bytes));

    if (boot_state.magic != BOOT_MAGIC) {
        /* A plan with one flipped byte and a truncated one are refused, with a reason. */
        memcpy(corrupt_plan, hs_plan, hs_plan_bytes);
        corrupt_plan[hs_plan_bytes / 2] ^= 0x40;
        int refused = hs_trainer_init(t, corrupt_plan, hs_plan_bytes, arena, sizeof arena);
        console_write("corrupt_plan ");
        console_write(hs_last_error(t));
        console_write("\n");
        say("corrupt_plan_status", refused);
        say("truncated_plan_arena_bytes", (int32_t)hs_plan_arena_bytes(hs_plan, hs_plan_bytes - 64));
        int small = hs_trainer_init(t, hs_plan, hs_plan_bytes, arena, sizeof arena - 16);
        console_write("small_arena ");
        console_write(hs_last_error(t));
        console_write("\n");
        if (refused != HS_E_PLAN || small != HS_E_ARENA_TOO_SMALL) return 1;
    }

    check(hs_trainer_init(t, hs_plan, hs_plan_bytes, arena, sizeof arena), "hs_trainer_init", t);
    hs_plan_info info;
    check(hs_plan_info_get(t, &info), "hs_plan_info_get", t);
    if (info.features > MAX_FEATURES || info.batch > MAX_BATCH || info.predict_rows > MAX_BATCH || info.outputs > MAX_OUTPUTS) {
        console_write("plan: larger than this example's buffers\n");
        return 1;
    }
    hs_flash flash = board_checkpoint_flash();
    say("checkpoint_region_bytes", (int32_t)hs_checkpoint_region_bytes(t, flash.page_bytes));
    say("test_samples", (int32_t)test_x.rows);

    if (boot_state.magic == BOOT_MAGIC) {
        /* Boot 2: the plan's weights again, then the adapted ones from flash. */
        boot_state.magic = 0;
        check(hs_checkpoint_restore(t, &flash), "hs_checkpoint_restore", t);
        hs_counters counters;
        check(hs_counters_get(t, &counters), "hs_counters_get", t);
        say("restored_step", (int32_t)counters.steps);
        int32_t correct = score(t, &info, test_x, test_y);
        say("correct_restored", correct);
        /* What a programmer would read out of flash (`st-flash read`, `nrfjprog --readcode`): on QEMU
         * the region goes to the host through semihosting, for `halfstep export --checkpoint`. */
        hs_flash f = board_checkpoint_flash();
        if (!board_save_file("checkpoint-region.bin", board_checkpoint_bytes(), f.region_bytes)) {
            console_write("checkpoint-region.bin: could not write it to the host\n");
            return 1;
        }
        console_write("wrote checkpoint-region.bin\n");
        return correct == boot_state.correct_after ? 0 : 1;
    }

    say("correct_before", score(t, &info, test_x, test_y));
    uint32_t next = 0;
    for (int step = 0; step < TRAIN_STEPS; step++) {
        for (uint32_t r = 0; r < info.batch; r++, next = (next + 1) % train_x.rows) {
            memcpy(batch_inputs + r * info.features, (const float *)train_x.data + next * info.features, 4 * info.features);
            batch_labels[r] = label_at(train_y, next);
        }
        hs_step_report report;
        check(hs_train_step(t, batch_inputs, batch_labels, &report), "hs_train_step", t);
        if ((step + 1) % 20 == 0) {
            console_write("step ");
            console_number((int32_t)report.step);
            console_write(" loss_milli ");
            console_number((int32_t)(report.loss * 1000.0f));
            console_write(report.applied ? " applied\n" : " skipped\n");
        }
    }
    int32_t after = score(t, &info, test_x, test_y);
    say("correct_after", after);
    hs_counters counters;
    check(hs_counters_get(t, &counters), "hs_counters_get", t);
    say("applied_steps", (int32_t)counters.applied_steps);
    say("update_underflows", (int32_t)counters.update_underflows);

    /* A label outside the classes is refused before anything changes. */
    batch_labels[0] = (int32_t)info.outputs;
    int bad = hs_train_step(t, batch_inputs, batch_labels, 0);
    console_write("bad_label ");
    console_write(hs_last_error(t));
    console_write("\n");
    if (bad != HS_E_LABEL) return 1;

    check(hs_checkpoint_save(t, &flash), "hs_checkpoint_save", t);
    console_write("checkpoint saved; resetting\n");
    boot_state.magic = BOOT_MAGIC;
    boot_state.correct_after = after;
    board_reset();
}
