/* checkpoint.h: a training run's whole state in one safetensors file, so that a resume
 * continues bit for bit: every block of tensors (parameters, AdamW moments, BatchNorm
 * running statistics ...; each a ptable block, stored as PREFIX + entry name, raw fp32
 * bytes), the step, the data order position, every RNG state by name, and counters.
 * The state is the `mama_checkpoint` metadata key (JSON; RNG words as 16 hex digits so
 * no 64-bit value passes through a double).
 *
 * Writing is atomic and durable (st_writer_save: temporary file beside the target, fsync,
 * rename, fsync of the folder): a crash or a full disk while writing leaves the previous
 * checkpoint intact and no temporary file behind (failure returns MAMA_EIO).
 * Loading checks that the file holds exactly the tensors of the given blocks with their
 * element counts (a checkpoint of another model or configuration is refused naming the
 * first tensor that differs). */
#ifndef MAMA_CHECKPOINT_H
#define MAMA_CHECKPOINT_H

#include <stdint.h>

#include "engine/core/ptable.h"
#include "engine/core/rng.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CKPT_MAX_RNG 8
#define CKPT_NAME_MAX 32

typedef struct ckpt_state {
    int64_t step;            /* optimiser steps done */
    int64_t data_position;   /* next order position of the input pipeline */
    int64_t bad_images;      /* skipped so far */
    int64_t nan_streak;      /* consecutive non-finite steps at the time of writing */
    int n_rng;
    char rng_name[CKPT_MAX_RNG][CKPT_NAME_MAX];
    mama_rng rng[CKPT_MAX_RNG];
    char run_id[64];         /* e.g. a hash of the run's configuration: checked on resume */
} ckpt_state;

typedef struct ckpt_block {
    const char *prefix;      /* "param.", "adam_m.", ... */
    const ptable *table;     /* laid out; F32 entries only */
    void *block;             /* ptable_alloc'd */
} ckpt_block;

mama_status ckpt_save(const char *path, const ckpt_state *s, const ckpt_block *blocks, int n_blocks);
/* Fills s and every block from path. */
mama_status ckpt_load(const char *path, ckpt_state *s, const ckpt_block *blocks, int n_blocks);

/* Adds or replaces RNG `name` in s (at most CKPT_MAX_RNG). */
mama_status ckpt_set_rng(ckpt_state *s, const char *name, const mama_rng *rng);
/* Copies RNG `name` out of s; MAMA_ENOTFOUND naming it when absent. */
mama_status ckpt_get_rng(const ckpt_state *s, const char *name, mama_rng *out);

#ifdef __cplusplus
}
#endif
#endif
