/* loader.h: the training input pipeline. Worker threads decode (through the caller's
 * loader and the preprocessing cache, engine/vision/prepcache.h) and preprocess images
 * (augmented: prep_image_train; or not: the evaluation path on the cached crop) ahead of
 * the step, up to `prefetch` batches in flight; the step takes them in order.
 *
 * Determinism: the sample at order position p is augmented with an RNG seeded by
 * mama_rng_mix64(seed ^ mama_rng_mix64(p)), and batches are assembled strictly in order
 * position, so the bytes of every batch depend on (seed, order, start position) alone,
 * never on thread timing or the number of workers. Resuming at position p (the data order
 * position a checkpoint keeps) gives exactly the batches a run that never stopped gets.
 *
 * Bad images: a sample whose file cannot be read or preprocessed is logged (path and
 * reason, through the log callback), counted, and skipped; the batch is filled from the
 * next positions. Never fatal (unless every remaining sample is bad: MAMA_EFORMAT).
 *
 * Legend: S model input side, B batch. Order positions index `order` (its length is the
 * run's total samples; the trainer builds it from shuffled epochs). */
#ifndef MAMA_LOADER_H
#define MAMA_LOADER_H

#include <stdint.h>

#include "engine/core/status.h"
#include "engine/vision/prepcache.h"
#include "engine/vision/preprocess.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*loader_log_fn)(void *ctx, const char *path, const char *reason);

typedef struct loader_config {
    int batch;                 /* B */
    int workers;               /* decoding threads (0: decode on the caller's thread) */
    int prefetch;              /* batches prepared ahead (>= 1) */
    prep_config pre;           /* size S, mean, std (crop is done by the cache) */
    int augment;               /* 1: prep_image_train with aug; 0: evaluation path */
    prep_aug_config aug;
    uint64_t seed;
    prepcache_config cache;    /* dir NULL: no cache, the loader's image is used directly */
    prepcache_loader load;     /* decodes a path to (H,W) in [0,1] */
    void *load_ctx;
    loader_log_fn log;         /* bad images (may be NULL) */
    void *log_ctx;
} loader_config;

typedef struct loader loader;

/* paths (n_paths) stay owned by the caller and must outlive the loader; order (n_order
 * entries, each < n_paths) is copied. Starts at order position start. */
mama_status loader_create(loader **out, const loader_config *cfg, const char *const *paths,
                          int n_paths, const int *order, int64_t n_order, int64_t start);
/* Fills pixels (B, 3, S, S) and sample (B: the path index of each row); *out_n rows
 * (< B only at the end of the order; 0 when exhausted). */
mama_status loader_next(loader *L, float *pixels, int *sample, int *out_n);
/* The next order position loader_next will read (what a checkpoint stores). */
int64_t loader_position(const loader *L);
/* Samples skipped so far. */
int64_t loader_bad(const loader *L);
void loader_free(loader *L);

#ifdef __cplusplus
}
#endif
#endif
