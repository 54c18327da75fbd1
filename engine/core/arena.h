/* arena.h: the engine's two allocation shapes (llm.c style, no malloc in the hot loop).
 *  - a block: one 64-byte-aligned allocation split into named float arrays through a
 *    pointer table (parameters, gradients, optimiser state: one block per kind);
 *  - an arena: a bump allocator for activations with mark/reset. */
#ifndef MAMA_ARENA_H
#define MAMA_ARENA_H

#include <stddef.h>

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ARENA_ALIGN 64

/* Allocates one zeroed block holding n float arrays of counts[i] elements, each starting on
 * a 64-byte boundary, and sets *targets[i] to array i (a count of 0 gets a valid, empty
 * pointer). *out_block owns the memory: free it with arena_block_free. Typical use:
 *   float **t[] = {&p->wte, &p->ln_w, ...}; size_t c[] = {V * C, C, ...};
 *   rc = arena_block_alloc(&p->block, t, c, 2); */
mama_status arena_block_alloc(void **out_block, float **const *targets, const size_t *counts,
                              int n);
/* Floats the block for these counts occupies (alignment padding included). */
size_t arena_block_floats(const size_t *counts, int n);
void arena_block_free(void *block);

typedef struct arena {
    unsigned char *base;
    size_t cap;   /* bytes */
    size_t used;  /* bytes handed out (aligned) */
    size_t peak;  /* high-water mark of used */
} arena;

/* Reserves `bytes` (rounded up to 64) for the arena; MAMA_ENOMEM on failure. */
mama_status arena_init(arena *a, size_t bytes);
void arena_free(arena *a);
/* 64-byte-aligned, uninitialised. NULL (and MAMA_ENOMEM recorded with the sizes) when the
 * request does not fit: size the arena once from the model shapes. */
void *arena_alloc(arena *a, size_t bytes);
float *arena_floats(arena *a, size_t n);
size_t arena_mark(const arena *a);
/* Frees everything allocated after `mark` was taken. */
void arena_reset(arena *a, size_t mark);

#ifdef __cplusplus
}
#endif
#endif
