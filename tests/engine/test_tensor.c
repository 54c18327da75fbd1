/* test_tensor.c: dtype conversions (exhaustive over 16-bit patterns, and fp32 -> 16-bit
 * rounding against an independent reference), the dtype table, and the tensor tables
 * (ptable.h) every tower lays its parameters and activations out with. */
#include <stdint.h>
#include <string.h>

#include "engine/core/dtype.h"
#include "engine/core/ptable.h"
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

static void test_dtype_table(void) {
    CHECK(dtype_size(MAMA_F32) == 4 && dtype_size(MAMA_BF16) == 2 &&
          dtype_size(MAMA_F16) == 2 && dtype_size(MAMA_I32) == 4);
    CHECK(strcmp(dtype_name(MAMA_F16), "f16") == 0 && strcmp(dtype_name(MAMA_I32), "i32") == 0);
    CHECK(dtype_is_float(MAMA_BF16) && !dtype_is_float(MAMA_I32));
}

typedef struct three {
    float *a, *b, *c;
    int *ids;
} three;

/* Layout: 64-byte offsets, exact sizes, empty entries, lookup by name and by address, a
 * second block of the same layout, the bf16 retype. */
static void test_ptable_layout(void) {
    ptable t;
    ptable_init(&t);
    CHECK(ptable_add(&t, "a", MAMA_F32, PTABLE_SLOT(three, a), PTABLE_SHAPE(3)) == 0);
    CHECK(ptable_add(&t, "b", MAMA_F32, PTABLE_SLOT(three, b), PTABLE_SHAPE(17, 1)) == 1);
    CHECK(ptable_add(&t, "empty", MAMA_F32, PTABLE_NO_SLOT, PTABLE_SHAPE(4, 0)) == 2);
    CHECK(ptable_add(&t, "c", MAMA_F32, PTABLE_SLOT(three, c), PTABLE_SHAPE(2, 8, 4)) == 3);
    CHECK(ptable_add(&t, "ids", MAMA_I32, PTABLE_SLOT(three, ids), PTABLE_SHAPE(5)) == 4);
    CHECK(ptable_layout(&t) == MAMA_OK);
    /* a at 0 (12 B), b at 64 (68 B), the empty entry takes nothing, c at 192 (256 B),
     * ids at 448 (20 B): the block ends at the last entry's end, 468 */
    CHECK(t.e[0].offset == 0 && t.e[1].offset == 64 && t.e[3].offset == 192 &&
          t.e[4].offset == 448);
    CHECK(t.e[1].nbytes == 68 && t.e[2].nbytes == 0 && t.e[3].numel == 64 && t.e[4].nbytes == 20);
    CHECK_MSG(t.bytes == 468 && t.numel == 3 + 17 + 0 + 64 + 5, "bytes %zu numel %zu", t.bytes,
              t.numel);
    for (int i = 0; i < t.n; i++) CHECK(t.e[i].offset % PTABLE_ALIGN == 0);

    void *block = NULL, *grads = NULL;
    CHECK(ptable_alloc(&t, &block) == MAMA_OK && (uintptr_t)block % 64 == 0);
    three p = {0}, g = {0};
    ptable_point(&t, block, &p);
    CHECK((char *)p.a == (char *)block && (char *)p.b == (char *)block + 64);
    CHECK((char *)p.c == (char *)block + 192 && (char *)p.ids == (char *)block + 448);
    CHECK(p.a[0] == 0.0f && p.c[63] == 0.0f && p.ids[4] == 0);  /* zeroed */
    for (int i = 0; i < 64; i++) p.c[i] = 1.0f;                  /* in bounds under ASan */
    for (int i = 0; i < 5; i++) p.ids[i] = i;
    CHECK(ptable_ptr(&t, block, 2) == NULL && ptable_ptr(&t, block, 9) == NULL);

    CHECK(ptable_find(&t, "c") == 3 && ptable_find(&t, "empty") == 2 &&
          ptable_find(&t, "nope") == -1);
    CHECK(ptable_entry_of(&t, block, p.b + 16) == 1);
    CHECK(ptable_entry_of(&t, block, p.b + 17) == -1);            /* padding after b */
    CHECK(ptable_entry_of(&t, block, p.c) == 3 && ptable_entry_of(&t, block, p.ids + 4) == 4);
    CHECK(ptable_entry_of(&t, block, (char *)block + 468) == -1); /* one past the end */
    CHECK(ptable_entry_of(&t, block, (char *)block - 1) == -1);

    /* a second block of the same layout: same offsets, its own memory */
    CHECK(ptable_alloc(&t, &grads) == MAMA_OK);
    ptable_point(&t, grads, &g);
    CHECK((char *)g.c - (char *)grads == (char *)p.c - (char *)block && g.c[0] == 0.0f);

    /* the bf16 layout of the same table: halves the floats, keeps the i32 entry */
    ptable h;
    CHECK(ptable_retype(&h, &t, MAMA_BF16) == MAMA_OK);
    CHECK(h.n == t.n && h.e[0].dtype == MAMA_BF16 && h.e[4].dtype == MAMA_I32);
    CHECK(h.e[1].nbytes == 34 && h.e[3].offset == 128 && h.e[3].nbytes == 128 &&
          h.e[4].offset == 256 && h.bytes == 276);
    ptable_free(&h);
    ptable_block_free(grads);
    ptable_block_free(block);

    /* an empty table still gives a valid block; clear reuses the array */
    ptable_clear(&t);
    CHECK(t.n == 0 && ptable_layout(&t) == MAMA_OK && t.bytes == 0);
    CHECK(ptable_alloc(&t, &block) == MAMA_OK && block != NULL);
    ptable_block_free(block);
    ptable_free(&t);
}

/* Bad shapes and size overflows are errors naming the entry; the first one sticks. */
static void test_ptable_errors(void) {
    ptable t;
    ptable_init(&t);
    CHECK(ptable_add(&t, "neg", MAMA_F32, PTABLE_NO_SLOT, PTABLE_SHAPE(2, -1)) == -1);
    CHECK(strstr(mama_last_error(), "neg") != NULL);
    CHECK(ptable_add(&t, "ok", MAMA_F32, PTABLE_NO_SLOT, PTABLE_SHAPE(2)) == 0);
    CHECK(ptable_layout(&t) == MAMA_EINVAL);               /* sticky: the first error */
    ptable_free(&t);

    ptable_init(&t);
    CHECK(ptable_add(&t, "dims", MAMA_F32, PTABLE_NO_SLOT, 0, NULL) == -1);
    CHECK(ptable_layout(&t) == MAMA_EINVAL);
    ptable_free(&t);

    /* element count overflow: 2^32 * 2^32 */
    ptable_init(&t);
    CHECK(ptable_add(&t, "huge", MAMA_F32, PTABLE_NO_SLOT,
                     PTABLE_SHAPE(1ll << 32, 1ll << 32)) == -1);
    CHECK(ptable_layout(&t) == MAMA_ENOMEM && strstr(mama_last_error(), "huge"));
    ptable_free(&t);

    /* byte size overflow: 2^62 elements fit size_t, 2^64 bytes do not */
    ptable_init(&t);
    CHECK(ptable_add(&t, "bytes", MAMA_F32, PTABLE_NO_SLOT, PTABLE_SHAPE(1ll << 62)) == -1);
    CHECK(ptable_layout(&t) == MAMA_ENOMEM);
    ptable_free(&t);

    /* block size overflow: each entry of 2^62 bytes fits, four of them do not */
    ptable_init(&t);
    for (int i = 0; i < 4; i++)
        CHECK(ptable_add(&t, "quarter", MAMA_I32, PTABLE_NO_SLOT, PTABLE_SHAPE(1ll << 60)) == i);
    CHECK(ptable_layout(&t) == MAMA_ENOMEM && strstr(mama_last_error(), "quarter"));
    ptable_free(&t);
}

int main(void) {
    test_dtype();
    test_dtype_table();
    test_ptable_layout();
    test_ptable_errors();
    return check_done("test_tensor");
}
