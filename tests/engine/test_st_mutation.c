/* test_st_mutation.c: deterministic mutation testing of the safetensors parser, so that CI
 * exercises it under ASan without a fuzzer. A valid file (several dtypes, metadata, an
 * empty and a 0-dim tensor) is mutated thousands of times: random byte flips (mostly in
 * the header), digit changes inside the JSON (offsets and shapes stay syntactically valid),
 * random header lengths and truncations. Each image is parsed from an exactly sized heap
 * copy (st_open_memory), so any read outside it is an ASan error; the result must be OK or
 * MAMA_EFORMAT with a message, and when OK every tensor is read in full. A sample goes
 * through files and st_open (mmap) too. */
#include <stdint.h>
#include <string.h>

#include "engine/core/safetensors.h"
#include "tests/check.h"
#include "tests/engine/st_util.h"

static unsigned long long rng = 2024;

static uint32_t rnd(uint32_t n) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng >> 33) % n;
}

/* Reads every byte of every tensor; returns a checksum so the reads are not optimised out. */
static double touch_all(const st_file *f) {
    double sum = 0;
    for (int i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        const unsigned char *b = t->data;
        for (size_t k = 0; k < t->nbytes; k++) sum += b[k];
        if (t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16 || t->dtype == ST_F64) {
            float *dst = malloc((size_t)t->numel * sizeof(float) + 1);
            if (st_read_f32(f, t->name, dst, t->ndim, t->shape) != MAMA_OK) check_failures++;
            if (t->numel) sum += dst[0];
            free(dst);
        }
    }
    for (int i = 0; i < st_metadata_count(f); i++) sum += (double)strlen(st_metadata(f, st_metadata_key(f, i)));
    return sum;
}

static int n_ok, n_format;

static void try_image(const unsigned char *img, size_t n, const char *file_path) {
    unsigned char *copy = malloc(n ? n : 1);
    if (n) memcpy(copy, img, n);
    st_file *f = NULL;
    mama_status rc = st_open_memory(copy, n, "mutant", &f);
    if (rc == MAMA_OK) {
        n_ok++;
        volatile double s = touch_all(f);
        (void)s;
        st_close(f);
    } else {
        n_format += rc == MAMA_EFORMAT;
        CHECK_MSG(rc == MAMA_EFORMAT, "mutant gave %s: %s", mama_status_name(rc), mama_last_error());
        CHECK_MSG(f == NULL && strstr(mama_last_error(), "mutant"), "message: %s", mama_last_error());
    }
    free(copy);
    if (file_path) { /* same verdict through the mmap path */
        write_bytes(file_path, img, n);
        mama_status rc2 = st_open(file_path, &f);
        CHECK_MSG(rc2 == rc, "file path verdict %s differs from memory verdict %s",
                  mama_status_name(rc2), mama_status_name(rc));
        if (rc2 == MAMA_OK) {
            volatile double s = touch_all(f);
            (void)s;
            st_close(f);
        }
    }
}

int main(void) {
    const char *dir = st_test_dir("stmut");
    char path[600], mpath[600];
    snprintf(path, sizeof path, "%s/seed.safetensors", dir);
    snprintf(mpath, sizeof mpath, "%s/mutant.safetensors", dir);
    float a[12];
    for (int i = 0; i < 12; i++) a[i] = (float)i;
    uint16_t h[5] = {0x3c00, 0x4000, 0xbc00, 0x7c00, 0x0001};
    double d[2] = {1, 2};
    uint8_t u[3] = {1, 2, 3};
    int64_t s34[2] = {3, 4}, s5[1] = {5}, s2[1] = {2}, s3[1] = {3}, s0[1] = {0};
    st_writer *w;
    CHECK(st_writer_create(&w) == MAMA_OK);
    CHECK(st_writer_add_f32(w, "blocks.0.attn.qkv.weight", 2, s34, a) == MAMA_OK);
    CHECK(st_writer_add(w, "bf", ST_BF16, 1, s5, h) == MAMA_OK);
    CHECK(st_writer_add(w, "hf", ST_F16, 1, s5, h) == MAMA_OK);
    CHECK(st_writer_add(w, "dd", ST_F64, 1, s2, d) == MAMA_OK);
    CHECK(st_writer_add(w, "uu", ST_U8, 1, s3, u) == MAMA_OK);
    CHECK(st_writer_add_f32(w, "empty", 1, s0, NULL) == MAMA_OK);
    CHECK(st_writer_add_f32(w, "scalar", 0, NULL, a) == MAMA_OK);
    CHECK(st_writer_set_metadata(w, "config", "{\"width\": 768, \"depth\": 12}") == MAMA_OK);
    CHECK(st_writer_save(w, path) == MAMA_OK);
    st_writer_destroy(w);
    size_t n = 0;
    unsigned char *seed = read_all(path, &n);
    if (!seed || n <= 8) {
        fprintf(stderr, "cannot read back %s\n", path);
        return 1;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | seed[i];
    try_image(seed, n, NULL);
    CHECK(n_ok == 1);

    unsigned char *m = malloc(n + 64);
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(m, seed, n);
        size_t len = n;
        switch (iter % 5) {
        case 0: /* flip 1-4 random bytes of the header (and its length) */
            for (int k = 1 + (int)rnd(4); k > 0; k--) m[rnd((uint32_t)(8 + hlen))] ^= (unsigned char)(1 + rnd(255));
            break;
        case 1: { /* change digits inside the JSON: shapes and offsets */
            for (int k = 1 + (int)rnd(3); k > 0; k--) {
                size_t pos = 8 + rnd((uint32_t)hlen);
                for (size_t q = 0; q < hlen && !(m[pos] >= '0' && m[pos] <= '9'); q++)
                    pos = 8 + (pos - 8 + 1) % hlen;
                if (m[pos] >= '0' && m[pos] <= '9') m[pos] = (unsigned char)('0' + rnd(10));
            }
            break;
        }
        case 2: /* truncate anywhere */
            len = rnd((uint32_t)n);
            break;
        case 3: { /* a random header length, small or huge */
            uint64_t hl = rnd(2) ? rnd((uint32_t)(n + 16)) : ((uint64_t)rnd(0xffffffffu) << rnd(33));
            for (int i = 0; i < 8; i++) m[i] = (unsigned char)(hl >> (8 * i));
            break;
        }
        case 4: /* structural characters swapped for others */
        {
            static const char pool[] = "{}[],:\"-0e. \\";
            for (int k = 1 + (int)rnd(2); k > 0; k--) m[8 + rnd((uint32_t)hlen)] = (unsigned char)pool[rnd(sizeof pool - 1)];
            break;
        }
        }
        try_image(m, len, iter % 25 == 0 ? mpath : NULL);
    }
    printf("mutants: %d parsed as valid, %d rejected as malformed\n", n_ok - 1, n_format);
    CHECK(n_format > 5000); /* the mutations do hit the validation */
    free(m);
    free(seed);
    check_remove_dir(dir);
    return check_done("test_st_mutation");
}
