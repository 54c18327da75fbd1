/* test_tensor.c: dtype conversions (exhaustive over 16-bit patterns, and fp32 -> 16-bit
 * rounding against an independent reference), tensor descriptors, parameter blocks and
 * the activation arena. */
#include <stdint.h>
#include <string.h>

#include "engine/core/arena.h"
#include "engine/core/dtype.h"
#include "engine/core/tensor.h"
#include "tests/check.h"

static float bits_f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Reference fp32 -> bf16: nearest of the two neighbours by exact double distance, ties to
 * the even pattern. */
static uint16_t ref_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if (f != f) return 0; /* NaN checked separately */
    uint16_t lo = (uint16_t)(u >> 16), hi = (uint16_t)(lo + 1);
    double dlo = fabs((double)dtype_bf16_to_f32(lo) - f);
    /* above the largest finite bf16 the next step is 2^128 (rounds to inf) */
    double vhi = (hi & 0x7fff) == 0x7f80 ? ldexp(f < 0 ? -1.0 : 1.0, 128)
                                          : (double)bits_f((uint32_t)hi << 16);
    double dhi = fabs(vhi - f);
    if ((u & 0xffff) == 0) return lo;
    if (dlo < dhi) return lo;
    if (dhi < dlo) return hi;
    return (lo & 1) ? hi : lo;
}

static void test_dtype(void) {
    /* every fp16 / bf16 pattern survives 16 -> 32 -> 16 (NaNs stay NaN) */
    int bad16 = 0, badb = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = dtype_f16_to_f32((uint16_t)h);
        uint16_t back = dtype_f32_to_f16(f);
        int nan = ((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff);
        if (nan ? !(f != f && ((back >> 10) & 0x1f) == 0x1f && (back & 0x3ff)) : back != h) bad16++;
        float g = dtype_bf16_to_f32((uint16_t)h);
        uint16_t bb = dtype_f32_to_bf16(g);
        int bnan = ((h >> 7) & 0xff) == 0xff && (h & 0x7f);
        if (bnan ? !(g != g && ((bb >> 7) & 0xff) == 0xff && (bb & 0x7f)) : bb != h) badb++;
    }
    CHECK_MSG(bad16 == 0, "%d fp16 patterns do not round trip", bad16);
    CHECK_MSG(badb == 0, "%d bf16 patterns do not round trip", badb);
    /* known values */
    CHECK(dtype_f16_to_f32(0x3c00) == 1.0f && dtype_f16_to_f32(0xc000) == -2.0f);
    CHECK(dtype_f16_to_f32(0x7bff) == 65504.0f && dtype_f16_to_f32(0x0001) == 5.9604644775390625e-8f);
    CHECK(dtype_f32_to_f16(65520.0f) == 0x7c00 && dtype_f32_to_f16(65519.0f) == 0x7bff);
    CHECK(dtype_f32_to_f16(1e-8f) == 0x0000 && dtype_f32_to_f16(-1e9f) == 0xfc00);
    CHECK(dtype_f32_to_bf16(1.0f) == 0x3f80 && dtype_bf16_to_f32(0xc040) == -3.0f);
    /* fp32 -> 16 bit rounding over many patterns against independent references */
    unsigned long long s = 99;
    int bad_r16 = 0, bad_rb = 0;
    for (int i = 0; i < 400000; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t u = (uint32_t)(s >> 32);
        if (i % 2) u = (u & 0x80000000u) | (0x33000000u + (u % 0x14800000u)); /* fp16 range */
        float f = bits_f(u);
        if (f != f) continue;
        if (dtype_f32_to_bf16(f) != ref_bf16(f)) bad_rb++;
#ifdef __FLT16_MAX__
        _Float16 r = (_Float16)f;
        uint16_t rb;
        memcpy(&rb, &r, 2);
        if (dtype_f32_to_f16(f) != rb) bad_r16++;
#endif
    }
    CHECK_MSG(bad_rb == 0, "%d fp32 -> bf16 roundings differ from the reference", bad_rb);
    CHECK_MSG(bad_r16 == 0, "%d fp32 -> fp16 roundings differ from _Float16", bad_r16);
    /* ties to even */
    CHECK(dtype_f32_to_bf16(bits_f(0x3f808000u)) == 0x3f80);
    CHECK(dtype_f32_to_bf16(bits_f(0x3f818000u)) == 0x3f82);
    CHECK(dtype_f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00);
    CHECK(dtype_f32_to_f16(1.0f + 3.0f / 2048) == 0x3c02);
    float nanv = bits_f(0x7fc00001u);
    CHECK((dtype_f32_to_bf16(nanv) & 0x7fc0) == 0x7fc0);
    CHECK((dtype_f32_to_f16(nanv) & 0x7e00) == 0x7e00);
}

static void test_tensor_desc(void) {
    float d[6];
    int64_t sh[2] = {2, 3};
    mama_tensor t;
    CHECK(tensor_init(&t, "x", MAMA_F32, 2, sh, d) == MAMA_OK);
    CHECK(tensor_numel(&t) == 6 && tensor_nbytes(&t) == 24 && tensor_shape_is(&t, 2, sh));
    int64_t other[2] = {3, 2};
    CHECK(!tensor_shape_is(&t, 2, other) && !tensor_shape_is(&t, 1, sh));
    char buf[64];
    CHECK(strcmp(tensor_shape_str(buf, sizeof buf, 2, sh), "[2, 3]") == 0);
    CHECK(strcmp(tensor_shape_str(buf, sizeof buf, 0, sh), "[]") == 0);
    int64_t neg[1] = {-1};
    CHECK(tensor_init(&t, "y", MAMA_BF16, 1, neg, d) == MAMA_EINVAL);
    CHECK(tensor_init(&t, "y", MAMA_BF16, 9, sh, d) == MAMA_EINVAL);
    CHECK(tensor_dtype_size(MAMA_BF16) == 2 && strcmp(tensor_dtype_name(MAMA_F16), "f16") == 0);
    mama_dtype dt;
    CHECK(tensor_dtype_from_st(ST_BF16, &dt) == MAMA_OK && dt == MAMA_BF16);
    CHECK(tensor_dtype_from_st(ST_I64, &dt) == MAMA_EDTYPE);
    CHECK(tensor_dtype_to_st(MAMA_F16) == ST_F16);
}

static void test_arena(void) {
    struct {
        float *a, *b, *c, *d;
    } p;
    float **targets[] = {&p.a, &p.b, &p.c, &p.d};
    size_t counts[] = {3, 17, 0, 64};
    void *block;
    CHECK(arena_block_alloc(&block, targets, counts, 4) == MAMA_OK);
    CHECK(arena_block_floats(counts, 4) == 16 + 32 + 0 + 64);
    CHECK((uintptr_t)p.a % 64 == 0 && (uintptr_t)p.b % 64 == 0 && (uintptr_t)p.d % 64 == 0);
    CHECK(p.b == p.a + 16 && p.c == p.b + 32 && p.d == p.c);
    CHECK(p.a[0] == 0.0f && p.d[63] == 0.0f);
    for (int i = 0; i < 64; i++) p.d[i] = 1.0f; /* in bounds under ASan */
    arena_block_free(block);

    arena a;
    CHECK(arena_init(&a, 1000) == MAMA_OK);
    CHECK(a.cap == 1024);
    float *x = arena_floats(&a, 10);
    CHECK(x && (uintptr_t)x % 64 == 0 && a.used == 64);
    size_t mark = arena_mark(&a);
    float *y = arena_floats(&a, 100);
    CHECK(y && y == x + 16 && a.used == 64 + 448);
    CHECK(arena_alloc(&a, 2000) == NULL && strstr(mama_last_error(), "2000"));
    arena_reset(&a, mark);
    CHECK(a.used == 64 && a.peak == 512);
    float *z = arena_floats(&a, 100);
    CHECK(z == y);
    CHECK(arena_alloc(&a, (size_t)-1) == NULL);
    arena_free(&a);
}

int main(void) {
    test_dtype();
    test_tensor_desc();
    test_arena();
    return check_done("test_tensor");
}
