/* dtype.h: the engine's element types, and conversions between fp32 and the 16-bit float
 * formats (bf16, IEEE fp16).
 * Rounding is to nearest, ties to even; NaN stays NaN (quiet), infinities saturate as the
 * formats define (fp16 overflow becomes +-inf). Raw 16-bit patterns are uint16_t. */
#ifndef MAMA_DTYPE_H
#define MAMA_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element types of tensor tables (ptable.h): f32 on the CPU, bf16/f16 for device copies
 * and checkpoints, i32 for token ids kept beside the activations. */
typedef enum mama_dtype { MAMA_F32 = 0, MAMA_BF16, MAMA_F16, MAMA_I32 } mama_dtype;

size_t dtype_size(mama_dtype dt);       /* bytes per element */
const char *dtype_name(mama_dtype dt);  /* "f32", "bf16", "f16", "i32" */
int dtype_is_float(mama_dtype dt);

float dtype_bf16_to_f32(uint16_t h);
uint16_t dtype_f32_to_bf16(float f);
float dtype_f16_to_f32(uint16_t h);
uint16_t dtype_f32_to_f16(float f);

/* Array forms: dst (n) from src (n). src may be unaligned (it is read with memcpy). */
void dtype_bf16_to_f32_n(float *dst, const void *src, size_t n);
void dtype_f16_to_f32_n(float *dst, const void *src, size_t n);
void dtype_f32_to_bf16_n(uint16_t *dst, const float *src, size_t n);
void dtype_f32_to_f16_n(uint16_t *dst, const float *src, size_t n);

#ifdef __cplusplus
}
#endif
#endif
