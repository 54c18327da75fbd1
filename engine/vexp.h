/* vexp.h: a vectorisable expf for the attention and softmax inner loops (private).
 * Cephes-style: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 polynomial, times 2^n
 * built in the exponent bits. Relative error about 2 ulp on [-87, 88]; inputs below -87.3
 * (including -inf) give exactly 0, inputs above 88.3 are clamped. Plain C with no calls, so
 * `#pragma omp simd` loops around it vectorise. */
#ifndef MAMA_VEXP_H
#define MAMA_VEXP_H

#include <stdint.h>
#include <string.h>

static inline float vexp(float x) {
    const float lo = -87.3f, hi = 88.3f;
    float xc = x < lo ? lo : (x > hi ? hi : x);
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float fn = xc * 1.44269504088896341f + shifter;
    fn -= shifter;
    float r = xc - fn * 0.693359375f;   /* ln2 split in two for an exact product */
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t n = (int32_t)fn;
    uint32_t bits = (uint32_t)(n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    float y = p * scale;
    return x < lo ? 0.0f : y;
}

#endif
