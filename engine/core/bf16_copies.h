/* bf16_copies.h: bf16 copies of a tower's weight matrices for the bf16 inference path
 * (precision.h): one table of bf16 entries, one block, each entry the fp32 source rounded
 * to nearest even once. The towers keep their fp32 parameters as the reference and the
 * source of every later copy. */
#ifndef MAMA_BF16_COPIES_H
#define MAMA_BF16_COPIES_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/ptable.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bf16_src {
    const char *name;   /* table entry name (a literal) */
    size_t slot;        /* PTABLE_SLOT of the uint16_t * in the caller's struct */
    const float *src;   /* numel floats */
    int64_t numel;
} bf16_src;

/* Builds t (ptable_init'ed or freed), allocates *block, points the slots and fills them.
 * On failure nothing is left allocated and the error names what and how big. */
mama_status bf16_copies_make(ptable *t, void **block, void *slots, const bf16_src *src, int n,
                             const char *what);
/* Frees the block and the table (safe on an empty one). */
void bf16_copies_free(ptable *t, void **block);

#ifdef __cplusplus
}
#endif
#endif
