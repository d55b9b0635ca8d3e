/*
 * halfstep.h — the C interface to HalfStep's on-device trainer.
 *
 * A continuation plan (made on a host by `halfstep plan`, packaged by `halfstep package`) is run in
 * two blocks of memory the caller owns: the trainer (hs_trainer_bytes() bytes, 8-byte aligned) and
 * the arena (hs_plan_arena_bytes() bytes, 16-byte aligned). The library never allocates, never
 * calls anything but memcpy/memset/memmove, and never traps on bad input: every function that can
 * fail returns 0 on success or a negative HS_E_* code, and hs_error_message()/hs_last_error() say
 * what went wrong.
 *
 * Units: sizes are bytes unless named otherwise; `rows` are samples; inputs are float32 in the
 * model's input layout (for an image model: channels, then rows, then columns of one sample, then
 * the next sample), outputs are float32 rows x outputs (the model's logits).
 *
 * Ownership: the plan bytes, the arena and the trainer storage must stay valid, unmoved and
 * otherwise unused for as long as the trainer is used. Nothing here is thread-safe: use one trainer
 * from one thread (or one interrupt level) at a time.
 */
#ifndef HALFSTEP_H
#define HALFSTEP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Storage the trainer needs at most, on any supported CPU: declare static storage of this size,
 * 8-byte aligned, e.g. `static uint64_t storage[HS_TRAINER_MAX_BYTES / 8];`. hs_trainer_bytes()
 * gives the exact figure for the running build. */
#define HS_TRAINER_MAX_BYTES 1024

/* Errors: every function returns 0 or one of these. */
#define HS_OK 0
#define HS_E_NULL (-1)             /* a required pointer is NULL */
#define HS_E_ALIGNMENT (-2)        /* trainer storage not 8-aligned, arena or plan not 16-aligned */
#define HS_E_PLAN (-3)             /* the plan is truncated, corrupt or of another format version */
#define HS_E_ARENA_TOO_SMALL (-4)  /* arena_bytes < hs_plan_arena_bytes(plan) */
#define HS_E_NOT_INITIALISED (-5)  /* the trainer was not set up by hs_trainer_init, or its init failed */
#define HS_E_LABEL (-6)            /* a label is outside 0 ..< the model's classes */
#define HS_E_INPUT_NAN (-7)        /* an input is NaN */
#define HS_E_INPUT_RANGE (-8)      /* an input's magnitude exceeds 65504, fp16's largest finite value (or is an fp16 infinity) */
#define HS_E_ROWS (-9)             /* rows is 0 or more than the plan's batch */
#define HS_E_FLASH (-10)           /* a flash callback reported a failure, or the region is too small */
#define HS_E_NO_CHECKPOINT (-11)   /* no complete checkpoint of this plan in the flash region */
#define HS_E_INDEX (-12)           /* a parameter index past hs_plan_info's parameters */
#define HS_E_TARGET (-13)          /* a target is NaN or its magnitude exceeds 65504 (or is an fp16 infinity) */
#define HS_E_WRONG_LOSS (-14)      /* labels given to a regression plan, or targets to a cross-entropy plan */

/* The trainer: opaque, in caller-owned storage of hs_trainer_bytes() bytes, 8-byte aligned. */
typedef struct hs_trainer hs_trainer;

/* What one training step did. */
typedef struct {
    float loss;         /* the plan's loss (mean cross-entropy, or the regression loss) of the step's batch, before the update */
    float loss_scale;   /* the loss scale after the step (dynamic scaling may have changed it) */
    int32_t applied;    /* 1: the update was applied; 0: skipped (inf/NaN gradients, scale backed off) */
    uint32_t step;      /* steps taken so far, this one included (restored checkpoints count) */
} hs_step_report;

/* Sizes of a verified plan. */
typedef struct {
    uint32_t batch;          /* samples one hs_train_step takes (the plan's batch x micro-batches) */
    uint32_t predict_rows;   /* the most rows one hs_predict takes */
    uint32_t features;       /* float32 values per sample */
    uint32_t outputs;        /* float32 values hs_predict writes per sample (the classes; a regression plan's targets per sample) */
    uint32_t arena_bytes;    /* SRAM the arena needs */
    uint32_t parameters;     /* trainable tensors (hs_parameter's indices are 0 ..< parameters) */
} hs_plan_info;

/* Training counters since the plan's start (a restored checkpoint brings them back too). */
typedef struct {
    uint32_t steps;              /* hs_train_step calls that ran */
    uint32_t applied_steps;      /* steps whose update was applied */
    uint32_t overflows;          /* steps whose gradients held inf or NaN */
    uint32_t skipped_steps;      /* steps skipped because of an overflow */
    uint32_t nonzero_updates;    /* parameter elements an update changed */
    uint32_t update_underflows;  /* nonzero updates lost to fp16 rounding (the weight did not move) */
    float loss_scale;            /* the current loss scale */
} hs_counters;

/* One trainable tensor, in the plan's layout. */
typedef struct {
    const void *data;   /* its current values, in the arena */
    uint32_t bytes;     /* its size */
    uint32_t elements;  /* its element count */
    uint32_t dtype;     /* 1: fp16, 2: fp32 (an fp32 master copy) */
    uint32_t tensor;    /* its index in the plan's tensor table (`halfstep inspect` shows the names) */
} hs_parameter;

/* Flash for checkpoints, as the board exposes it: erased pages read 0xFF, programming can only clear
 * bits, a word is 4 bytes. Offsets are bytes from the start of the checkpoint region. Each callback
 * returns nonzero on success. `context` is passed back unchanged. */
typedef struct {
    void *context;
    uint32_t page_bytes;    /* erase granularity; the region's size must be a multiple */
    uint32_t region_bytes;  /* the region given to checkpoints: at least hs_checkpoint_region_bytes() */
    int (*erase_page)(void *context, uint32_t offset);
    int (*program_word)(void *context, uint32_t offset, uint32_t word);
    uint32_t (*read_word)(void *context, uint32_t offset);
} hs_flash;

/* Bytes of trainer storage this build needs (at most HS_TRAINER_MAX_BYTES). */
size_t hs_trainer_bytes(void);

/* Arena bytes `plan` needs; 0 when the plan does not verify (truncated, corrupt, misaligned). */
size_t hs_plan_arena_bytes(const void *plan, size_t plan_bytes);

/* Verifies the plan and sets the trainer up in `t`: the arena is zeroed where needed and the
 * weights copied from the plan. On failure hs_last_error(t) says why, with the figures. */
int hs_trainer_init(hs_trainer *t, const void *plan, size_t plan_bytes, void *arena, size_t arena_bytes);

/* One training step on hs_plan_info().batch samples: `inputs` holds batch x features floats,
 * `labels` batch class indices. Inputs are converted to fp16 (round to nearest even). Bad inputs
 * or labels are refused before anything changes. `report` may be NULL. */
int hs_train_step(hs_trainer *t, const float *inputs, const int32_t *labels, hs_step_report *report);

/* hs_train_step with inputs already in fp16 (IEEE binary16 bit patterns, e.g. from _Float16 or
 * __fp16 arrays), copied as they are: samples kept at half the size. NaN and infinity are refused. */
int hs_train_step_f16(hs_trainer *t, const uint16_t *inputs, const int32_t *labels, hs_step_report *report);

/* One training step of a regression plan (halfstep plan --loss mse|l1|huber) on
 * hs_plan_info().batch samples: `targets` holds batch x outputs floats shaped like the model's
 * output (an autoencoder's: the inputs themselves). Both are converted to fp16; NaN or
 * out-of-range inputs or targets are refused before anything changes. HS_E_WRONG_LOSS on a
 * cross-entropy plan (hs_train_step takes class labels). report->loss is the plan's loss. */
int hs_train_step_targets(hs_trainer *t, const float *inputs, const float *targets, hs_step_report *report);

/* hs_train_step_targets with inputs and targets already in fp16 bit patterns, copied as they are. */
int hs_train_step_targets_f16(hs_trainer *t, const uint16_t *inputs, const uint16_t *targets, hs_step_report *report);

/* The model's outputs for `rows` samples (1 ... predict_rows) with the current weights, forward
 * only: `outputs` gets rows x outputs floats. */
int hs_predict(hs_trainer *t, const float *inputs, size_t rows, float *outputs);

/* The plan's sizes. */
int hs_plan_info_get(const hs_trainer *t, hs_plan_info *info);

/* The training counters. */
int hs_counters_get(const hs_trainer *t, hs_counters *counters);

/* Trainable tensor `index` (0 ..< hs_plan_info().parameters), to read the adapted weights. */
int hs_parameter_get(const hs_trainer *t, uint32_t index, hs_parameter *parameter);

/* Bytes of flash two checkpoint slots of this plan take with `page_bytes` pages. */
size_t hs_checkpoint_region_bytes(const hs_trainer *t, uint32_t page_bytes);

/* Saves the training state (weights, optimizer state, loss scale, counters) into the older of two
 * slots: a power cut at any point leaves the previous checkpoint intact. `halfstep export PLAN
 * --checkpoint REGION.bin` turns the region's bytes into an ONNX model. */
int hs_checkpoint_save(hs_trainer *t, const hs_flash *flash);

/* Restores the newest complete checkpoint of this plan; HS_E_NO_CHECKPOINT (state unchanged) when
 * there is none. */
int hs_checkpoint_restore(hs_trainer *t, const hs_flash *flash);

/* A fixed sentence for an error code ("unknown error" for anything else). */
const char *hs_error_message(int error);

/* The trainer's last error with its figures (e.g. how many arena bytes the plan needs), or "" when
 * the last call succeeded. Valid until the next call on `t`. */
const char *hs_last_error(const hs_trainer *t);

#ifdef __cplusplus
}
#endif

#endif /* HALFSTEP_H */
