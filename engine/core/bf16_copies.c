/* bf16_copies.c: see bf16_copies.h. */
#include "engine/core/bf16_copies.h"

#include <stdio.h>

#include "engine/core/dtype.h"

void bf16_copies_free(ptable *t, void **block) {
    ptable_block_free(*block);
    *block = NULL;
    ptable_free(t);
}

mama_status bf16_copies_make(ptable *t, void **block, void *slots, const bf16_src *src, int n,
                             const char *what) {
    *block = NULL;
    ptable_init(t);
    for (int i = 0; i < n; i++)
        ptable_add(t, src[i].name, MAMA_BF16, src[i].slot, PTABLE_SHAPE(src[i].numel));
    mama_status rc = ptable_make(t, block, slots);
    if (rc != MAMA_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", mama_last_error());
        double mb = t->bytes / 1e6;
        bf16_copies_free(t, block);
        return mama_errorf(rc, "%s: bf16 weight copies (%.1f MB): %s", what, mb, why);
    }
    for (int i = 0; i < n; i++)
        dtype_f32_to_bf16_n(ptable_ptr(t, *block, i), src[i].src, (size_t)src[i].numel);
    return MAMA_OK;
}
