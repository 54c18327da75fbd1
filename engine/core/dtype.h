/* dtype.h: conversions between fp32 and the 16-bit float formats (bf16, IEEE fp16).
 * Rounding is to nearest, ties to even; NaN stays NaN (quiet), infinities saturate as the
 * formats define (fp16 overflow becomes +-inf). Raw 16-bit patterns are uint16_t. */
#ifndef MAMA_DTYPE_H
#define MAMA_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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
