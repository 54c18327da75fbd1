/* tensor.c: dtype table and shape helpers for mama_tensor descriptors. */
#include "engine/core/tensor.h"

#include <stdio.h>

size_t tensor_dtype_size(mama_dtype dt) { return dt == MAMA_F32 ? 4 : 2; }

const char *tensor_dtype_name(mama_dtype dt) {
    switch (dt) {
    case MAMA_F32: return "f32";
    case MAMA_BF16: return "bf16";
    case MAMA_F16: return "f16";
    }
    return "?";
}

mama_status tensor_dtype_from_st(st_dtype st, mama_dtype *out_dt) {
    switch (st) {
    case ST_F32: *out_dt = MAMA_F32; return MAMA_OK;
    case ST_BF16: *out_dt = MAMA_BF16; return MAMA_OK;
    case ST_F16: *out_dt = MAMA_F16; return MAMA_OK;
    default: break;
    }
    return mama_errorf(MAMA_EDTYPE, "dtype %s is not an engine dtype (f32, bf16, f16)",
                       st_dtype_name(st));
}

st_dtype tensor_dtype_to_st(mama_dtype dt) {
    return dt == MAMA_BF16 ? ST_BF16 : dt == MAMA_F16 ? ST_F16 : ST_F32;
}

mama_status tensor_init(mama_tensor *t, const char *name, mama_dtype dtype, int ndim,
                        const int64_t *shape, void *data) {
    if (ndim < 0 || ndim > TENSOR_MAX_DIMS)
        return mama_errorf(MAMA_EINVAL, "tensor %s: %d dims (at most %d)", name ? name : "?",
                           ndim, TENSOR_MAX_DIMS);
    t->name = name;
    t->dtype = dtype;
    t->ndim = ndim;
    t->data = data;
    for (int i = 0; i < TENSOR_MAX_DIMS; i++) t->shape[i] = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return mama_errorf(MAMA_EINVAL, "tensor %s: negative dim %lld", name ? name : "?",
                               (long long)shape[i]);
        t->shape[i] = shape[i];
    }
    return MAMA_OK;
}

int64_t tensor_numel(const mama_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t tensor_nbytes(const mama_tensor *t) {
    return (size_t)tensor_numel(t) * tensor_dtype_size(t->dtype);
}

int tensor_shape_is(const mama_tensor *t, int ndim, const int64_t *shape) {
    if (t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i]) return 0;
    return 1;
}

char *tensor_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t used = 0;
    if (cap == 0) return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}
