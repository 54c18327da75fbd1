/* arena.c: parameter blocks with a pointer table and the activation bump arena. */
#include "engine/core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

#define FLOATS_PER_LINE (ARENA_ALIGN / sizeof(float))

size_t arena_block_floats(const size_t *counts, int n) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += round_up(counts[i], FLOATS_PER_LINE);
    return total;
}

mama_status arena_block_alloc(void **out_block, float **const *targets, const size_t *counts,
                              int n) {
    *out_block = NULL;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t c = round_up(counts[i], FLOATS_PER_LINE);
        if (c < counts[i] || total + c < total || (total + c) > SIZE_MAX / sizeof(float))
            return mama_errorf(MAMA_ENOMEM, "parameter block: size overflow at array %d", i);
        total += c;
    }
    size_t bytes = total * sizeof(float);
    if (bytes == 0) bytes = ARENA_ALIGN;
    float *block = aligned_alloc(ARENA_ALIGN, bytes);
    if (!block)
        return mama_errorf(MAMA_ENOMEM, "parameter block: cannot allocate %zu bytes", bytes);
    memset(block, 0, bytes);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        *targets[i] = block + off;
        off += round_up(counts[i], FLOATS_PER_LINE);
    }
    *out_block = block;
    return MAMA_OK;
}

void arena_block_free(void *block) { free(block); }

mama_status arena_init(arena *a, size_t bytes) {
    a->base = NULL;
    a->cap = a->used = a->peak = 0;
    size_t cap = round_up(bytes ? bytes : ARENA_ALIGN, ARENA_ALIGN);
    if (cap < bytes) return mama_errorf(MAMA_ENOMEM, "arena: size overflow (%zu bytes)", bytes);
    a->base = aligned_alloc(ARENA_ALIGN, cap);
    if (!a->base) return mama_errorf(MAMA_ENOMEM, "arena: cannot allocate %zu bytes", cap);
    a->cap = cap;
    return MAMA_OK;
}

void arena_free(arena *a) {
    free(a->base);
    a->base = NULL;
    a->cap = a->used = a->peak = 0;
}

void *arena_alloc(arena *a, size_t bytes) {
    size_t need = round_up(bytes, ARENA_ALIGN);
    if (need < bytes || need > a->cap - a->used) {
        mama_errorf(MAMA_ENOMEM, "arena: %zu bytes requested, %zu of %zu free", bytes,
                    a->cap - a->used, a->cap);
        return NULL;
    }
    void *p = a->base + a->used;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

float *arena_floats(arena *a, size_t n) {
    if (n > SIZE_MAX / sizeof(float)) {
        mama_errorf(MAMA_ENOMEM, "arena: %zu floats overflow", n);
        return NULL;
    }
    return arena_alloc(a, n * sizeof(float));
}

size_t arena_mark(const arena *a) { return a->used; }

void arena_reset(arena *a, size_t mark) {
    if (mark <= a->used) a->used = mark;
}
