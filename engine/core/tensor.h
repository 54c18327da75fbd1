/* tensor.h: the engine's element types and a tensor descriptor (name, dtype, shape, data).
 * A descriptor does not own its data: parameters live in one block (arena.h), activations
 * in an arena, loaded weights in a safetensors mapping. */
#ifndef MAMA_TENSOR_H
#define MAMA_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/safetensors.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mama_dtype { MAMA_F32 = 0, MAMA_BF16, MAMA_F16 } mama_dtype;

#define TENSOR_MAX_DIMS 8

typedef struct mama_tensor {
    const char *name;
    mama_dtype dtype;
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
    void *data;
} mama_tensor;

size_t tensor_dtype_size(mama_dtype dt);
const char *tensor_dtype_name(mama_dtype dt);
/* safetensors dtype <-> engine dtype; MAMA_EDTYPE for types the engine does not compute in. */
mama_status tensor_dtype_from_st(st_dtype st, mama_dtype *out_dt);
st_dtype tensor_dtype_to_st(mama_dtype dt);

/* Fills a descriptor; MAMA_EINVAL for ndim outside 0..TENSOR_MAX_DIMS or a negative dim. */
mama_status tensor_init(mama_tensor *t, const char *name, mama_dtype dtype, int ndim,
                        const int64_t *shape, void *data);
int64_t tensor_numel(const mama_tensor *t);
size_t tensor_nbytes(const mama_tensor *t);
/* 1 when t has exactly this shape. */
int tensor_shape_is(const mama_tensor *t, int ndim, const int64_t *shape);
/* Writes "[d0, d1, ...]" into buf (always NUL-terminated); returns buf. */
char *tensor_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif
