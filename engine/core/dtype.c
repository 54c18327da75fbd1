/* dtype.c: bit-exact fp32 <-> bf16 / fp16 conversion (round to nearest even). */
#include "engine/core/dtype.h"

#include <string.h>

#include "engine/core/cpu_isa.h"

size_t dtype_size(mama_dtype dt) { return dt == MAMA_F32 || dt == MAMA_I32 ? 4 : 2; }

const char *dtype_name(mama_dtype dt) {
    switch (dt) {
    case MAMA_F32: return "f32";
    case MAMA_BF16: return "bf16";
    case MAMA_F16: return "f16";
    case MAMA_I32: return "i32";
    }
    return "?";
}

int dtype_is_float(mama_dtype dt) { return dt != MAMA_I32; }

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float dtype_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t dtype_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)((u + rounding) >> 16);
}

float dtype_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13)); /* inf / nan */
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);
        /* subnormal: man * 2^-24 is exact in fp32 */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t dtype_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (a < 0x38800000u) {
        /* result is subnormal (or zero) in fp16: value / 2^-24, rounded to nearest even */
        if (a < 0x33000000u) return sign; /* below half the smallest subnormal */
        uint32_t exp = a >> 23;
        uint32_t man = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - exp; /* 14 ..24 */
        uint32_t q = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
    /* normal: rebias exponent, round mantissa from 23 to 10 bits */
    uint32_t v = a - 0x38000000u; /* exponent bias 127 -> 15 */
    uint32_t rounding = 0xfffu + ((v >> 13) & 1u);
    v += rounding;
    return (uint16_t)(sign | (v >> 13));
}

void dtype_bf16_to_f32_n(float *dst, const void *src, size_t n) {
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        dst[i] = dtype_bf16_to_f32(h);
    }
}

void dtype_f16_to_f32_n(float *dst, const void *src, size_t n) {
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        dst[i] = dtype_f16_to_f32(h);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* dtype_f32_to_bf16 on 16 lanes, bit for bit (the same integer rounding and NaN rule; not
 * vcvtneps2bf16, which flushes subnormals). The bf16 GEMM path rounds every product input
 * through this, so it is on the hot path. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void f32_to_bf16_512(
    uint16_t *dst, const float *src, size_t n) {
    const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    const __m512i half = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
    const __m512i quiet = _mm512_set1_epi32(0x0040);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        __m512i u = _mm512_maskz_loadu_epi32(m, src + i);
        __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs_mask), inf);
        __m512i hi = _mm512_srli_epi32(u, 16);
        __m512i r = _mm512_srli_epi32(
            _mm512_add_epi32(u, _mm512_add_epi32(half, _mm512_and_si512(hi, one))), 16);
        r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(hi, quiet));
        _mm256_mask_storeu_epi16(dst + i, m, _mm512_cvtepi32_epi16(r));
    }
}
#define HAVE_BF16_512 1
#endif

void dtype_f32_to_bf16_n(uint16_t *dst, const float *src, size_t n) {
#ifdef HAVE_BF16_512
    if (cpu_isa_avx512()) {
        f32_to_bf16_512(dst, src, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = dtype_f32_to_bf16(src[i]);
}

void dtype_f32_to_f16_n(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = dtype_f32_to_f16(src[i]);
}
