/* vmath.h: vectorisable exp, erf and tanh for the engine's element-wise inner loops
 * (private to engine/). Plain C without calls, so `#pragma omp simd` loops around them
 * vectorise; gcc needs -fno-trapping-math to if-convert the compares, so a file including
 * this header starts with `#pragma GCC optimize("no-trapping-math")` (gcc only; clang's
 * default; the engine never reads floating-point exception flags). VMATH_CLONES compiles a hot
 * function for AVX-512, AVX2 and baseline x86-64, picked at load time.
 *   vexp: Cephes-style, x = n ln2 + r, degree-6 polynomial; relative error about 2 ulp on
 *         [-87, 88]; below -87.3 (and -inf) exactly 0, above 88.3 clamped.
 *   verf: Abramowitz & Stegun 7.1.26 with vexp; absolute error <= 1.5e-7.
 *   vtanh: 1 - 2 / (exp(2x) + 1); absolute error about 1e-7. */
#ifndef MAMA_VMATH_H
#define MAMA_VMATH_H

#include <math.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define VMATH_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef VMATH_CLONES
#define VMATH_CLONES
#endif

/* Before an element-wise loop: gcc needs `omp simd` to vectorise through the inlined math;
 * clang vectorises these loops by itself (and warns when a forced vectorisation fails, as
 * it does under the sanitizers), so it gets no pragma. */
#if defined(__clang__)
#define VMATH_SIMD
#else
#define VMATH_SIMD _Pragma("omp simd")
#endif

static inline float vexp(float x) {
    const float lo = -87.3f, hi = 88.3f;
    float xc = x < lo ? lo : x;
    xc = xc > hi ? hi : xc;
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float fn = xc * 1.44269504088896341f + shifter;
    fn -= shifter;
    float r = xc - fn * 0.693359375f; /* ln2 split in two for an exact product */
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t n = (int32_t)fn;
    union {
        uint32_t u;
        float f;
    } scale; /* a union, not memcpy: keeps the loop vectorisable */
    scale.u = (uint32_t)(n + 127) << 23;
    float y = p * scale.f;
    return x < lo ? 0.0f : y;
}

static inline float verf(float x) {
    float a = fabsf(x);
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t +
                  0.254829592f) * t;
    float y = 1.0f - poly * vexp(-a * a);
    return x < 0.0f ? -y : y;
}

static inline float vtanh(float x) { return 1.0f - 2.0f / (vexp(2.0f * x) + 1.0f); }

#endif
