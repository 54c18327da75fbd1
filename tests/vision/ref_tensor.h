/* ref_tensor.h: reading a reference dump's tensor as fp32 for the vision tests. */
#ifndef MAMA_TEST_REF_TENSOR_H
#define MAMA_TEST_REF_TENSOR_H

#include <stdio.h>
#include <stdlib.h>

#include "engine/core/safetensors.h"
#include "engine/core/status.h"

/* The tensor `name` of f as a malloc'd fp32 array (free it), its descriptor in *out_t when
 * not NULL; NULL with a message on stderr when missing or unreadable. */
static inline float *ref_tensor_read(const st_file *f, const char *name, const st_tensor **out_t) {
    const st_tensor *t = st_find(f, name);
    if (!t) {
        fprintf(stderr, "reference tensor %s missing\n", name);
        return NULL;
    }
    float *x = malloc((size_t)t->numel * sizeof(float));
    if (!x || st_read_f32(f, name, x, t->ndim, t->shape) != MAMA_OK) {
        fprintf(stderr, "cannot read %s: %s\n", name, mama_last_error());
        free(x);
        return NULL;
    }
    if (out_t) *out_t = t;
    return x;
}

#endif
