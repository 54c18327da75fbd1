/* gelu.c: exact (erf) GELU and the tanh approximation ("gelu_new" of GPT-2), element-wise,
 * vectorised (vmath.h: erf to 1.5e-7 absolute, tanh to about 1e-7) and split over OpenMP
 * threads in chunks.
 * Legend: n elements. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math") /* vmath.h */
#endif
#include <stddef.h>

#include "engine/ops/ops.h"
#include "engine/ops/vmath.h"

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f
#define SQRT_2_OVER_PI 0.79788456080286535588f
#define GELU_TANH_K 0.044715f
#define CHUNK 16384

VMATH_CLONES static void gelu_chunk(float *out, const float *inp, size_t n) {
VMATH_SIMD
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + verf(x * INV_SQRT2));
    }
}

VMATH_CLONES static void gelu_backward_chunk(float *dinp, const float *dout, const float *inp,
                                             size_t n) {
VMATH_SIMD
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + verf(x * INV_SQRT2));
        float pdf = INV_SQRT_2PI * vexp(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

VMATH_CLONES static void gelu_tanh_chunk(float *out, const float *inp, size_t n) {
VMATH_SIMD
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = SQRT_2_OVER_PI * (x + GELU_TANH_K * x * x * x);
        out[i] = 0.5f * x * (1.0f + vtanh(u));
    }
}

VMATH_CLONES static void gelu_tanh_backward_chunk(float *dinp, const float *dout,
                                                  const float *inp, size_t n) {
VMATH_SIMD
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = SQRT_2_OVER_PI * (x + GELU_TANH_K * x * x * x);
        float t = vtanh(u);
        float du = SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_TANH_K * x * x);
        dinp[i] += dout[i] * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du);
    }
}

#define CHUNKED(call)                                                                     \
    do {                                                                                  \
        long nchunks = (long)((n + CHUNK - 1) / CHUNK);                                   \
        _Pragma("omp parallel for schedule(static) if (nchunks > 4)")                     \
        for (long c = 0; c < nchunks; c++) {                                              \
            size_t i0 = (size_t)c * CHUNK, len = n - i0 < CHUNK ? n - i0 : CHUNK;           \
            call;                                                                         \
        }                                                                                 \
    } while (0)

void gelu_forward(float *out, const float *inp, size_t n) {
    CHUNKED(gelu_chunk(out + i0, inp + i0, len));
}

void gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    CHUNKED(gelu_backward_chunk(dinp + i0, dout + i0, inp + i0, len));
}

void gelu_tanh_forward(float *out, const float *inp, size_t n) {
    CHUNKED(gelu_tanh_chunk(out + i0, inp + i0, len));
}

void gelu_tanh_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    CHUNKED(gelu_tanh_backward_chunk(dinp + i0, dout + i0, inp + i0, len));
}
