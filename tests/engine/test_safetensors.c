/* test_safetensors.c: safetensors round trips (f32, bf16, f16 and the integer types,
 * metadata, empty and 0-dim tensors, a sharded .index.json) and every kind of corruption,
 * each of which must be MAMA_EFORMAT with a message naming the file (and the tensor),
 * never a crash: run it under ASan. */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/core/dtype.h"
#include "engine/core/safetensors.h"
#include "tests/check.h"
#include "tests/engine/st_util.h"

static char dir_path[512];

static const char *path_in(const char *name) { return check_path(dir_path, name); }

static void test_round_trip(void) {
    const char *path = path_in("rt.safetensors");
    float a[2 * 3 * 5];
    for (int i = 0; i < 30; i++) a[i] = (float)i * 0.37f - 4.0f;
    uint16_t hb[7], hh[7];
    float src7[7] = {1.0f, -2.5f, 3.140625f, 0.0f, 65504.0f, 1e-6f, -0.333f};
    dtype_f32_to_bf16_n(hb, src7, 7);
    dtype_f32_to_f16_n(hh, src7, 7);
    double dd[3] = {1.5, -2.25, 1e10};
    int64_t ii[2] = {-5, 1LL << 40};
    uint8_t u8[3] = {1, 2, 255};
    float scalar = 42.0f;

    st_writer *w;
    CHECK(st_writer_create(&w) == MAMA_OK);
    int64_t s3[3] = {2, 3, 5}, s7[1] = {7}, s3b[1] = {3}, s2[1] = {2}, s0[2] = {4, 0};
    CHECK(st_writer_add_f32(w, "z.weight", 3, s3, a) == MAMA_OK);
    CHECK(st_writer_add(w, "b.bf16", ST_BF16, 1, s7, hb) == MAMA_OK);
    CHECK(st_writer_add(w, "c.f16", ST_F16, 1, s7, hh) == MAMA_OK);
    CHECK(st_writer_add(w, "d.f64", ST_F64, 1, s3b, dd) == MAMA_OK);
    CHECK(st_writer_add(w, "e.i64", ST_I64, 1, s2, ii) == MAMA_OK);
    CHECK(st_writer_add(w, "a.u8", ST_U8, 1, s3b, u8) == MAMA_OK);
    CHECK(st_writer_add_f32(w, "scalar", 0, NULL, &scalar) == MAMA_OK);
    CHECK(st_writer_add_f32(w, "empty", 2, s0, NULL) == MAMA_OK);
    CHECK(st_writer_add_f32(w, "z.weight", 3, s3, a) == MAMA_EINVAL); /* duplicate */
    CHECK(st_writer_set_metadata(w, "config", "{\"width\": 8}") == MAMA_OK);
    CHECK(st_writer_set_metadata(w, "format", "pt") == MAMA_OK);
    CHECK(st_writer_save(w, path) == MAMA_OK);
    st_writer_destroy(w);

    /* the file is deterministic: saving the same content again gives the same bytes */
    CHECK(st_writer_create(&w) == MAMA_OK);
    CHECK(st_writer_set_metadata(w, "config", "{\"width\": 8}") == MAMA_OK);
    CHECK(st_writer_set_metadata(w, "format", "pt") == MAMA_OK);
    CHECK(st_writer_add_f32(w, "empty", 2, s0, NULL) == MAMA_OK);
    CHECK(st_writer_add_f32(w, "scalar", 0, NULL, &scalar) == MAMA_OK);
    CHECK(st_writer_add(w, "a.u8", ST_U8, 1, s3b, u8) == MAMA_OK);
    CHECK(st_writer_add(w, "e.i64", ST_I64, 1, s2, ii) == MAMA_OK);
    CHECK(st_writer_add(w, "d.f64", ST_F64, 1, s3b, dd) == MAMA_OK);
    CHECK(st_writer_add(w, "c.f16", ST_F16, 1, s7, hh) == MAMA_OK);
    CHECK(st_writer_add(w, "b.bf16", ST_BF16, 1, s7, hb) == MAMA_OK);
    CHECK(st_writer_add_f32(w, "z.weight", 3, s3, a) == MAMA_OK);
    const char *path2 = path_in("rt2.safetensors");
    CHECK(st_writer_save(w, path2) == MAMA_OK);
    st_writer_destroy(w);
    size_t n1, n2;
    unsigned char *b1 = read_all(path, &n1), *b2 = read_all(path2, &n2);
    CHECK(b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b1[i];
    CHECK(hl % 8 == 0); /* data area 8-byte aligned */
    free(b1);
    free(b2);

    st_file *f;
    mama_status rc = st_open(path, &f);
    CHECK_MSG(rc == MAMA_OK, "%s", mama_last_error());
    if (rc != MAMA_OK) return;
    CHECK(st_count(f) == 8);
    for (int i = 1; i < st_count(f); i++) CHECK(strcmp(st_at(f, i - 1)->name, st_at(f, i)->name) < 0);
    CHECK(st_at(f, 8) == NULL && st_at(f, -1) == NULL);
    CHECK(strcmp(st_metadata(f, "format"), "pt") == 0);
    CHECK(strcmp(st_metadata(f, "config"), "{\"width\": 8}") == 0);
    CHECK(st_metadata(f, "nope") == NULL);
    CHECK(st_metadata_count(f) == 2);
    CHECK(strcmp(st_metadata_key(f, 0), "config") == 0 && st_metadata_key(f, 2) == NULL);
    for (int i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        /* writer order makes every tensor aligned to its element size */
        CHECK_MSG((uintptr_t)t->data % st_dtype_size(t->dtype) == 0, "%s unaligned", t->name);
    }
    const st_tensor *t = st_find(f, "z.weight");
    CHECK(t && t->dtype == ST_F32 && t->ndim == 3 && t->shape[0] == 2 && t->shape[2] == 5 &&
          t->numel == 30 && t->nbytes == 120);
    float got[30];
    CHECK(st_read_f32(f, "z.weight", got, 3, s3) == MAMA_OK && memcmp(got, a, sizeof a) == 0);
    int64_t wrong[3] = {2, 5, 3};
    CHECK(st_read_f32(f, "z.weight", got, 3, wrong) == MAMA_ESHAPE);
    CHECK(strstr(mama_last_error(), "z.weight") && strstr(mama_last_error(), "[2, 3, 5]"));
    CHECK(st_read_f32(f, "z.weight", got, 2, s3) == MAMA_ESHAPE);
    CHECK(st_read_f32_n(f, "z.weight", got, 30) == MAMA_OK);
    CHECK(st_read_f32_n(f, "z.weight", got, 29) == MAMA_ESHAPE);
    CHECK(st_read_f32(f, "missing", got, 0, NULL) == MAMA_ENOTFOUND);
    CHECK(strstr(mama_last_error(), "missing") != NULL);
    float g7[7];
    CHECK(st_read_f32(f, "b.bf16", g7, 1, s7) == MAMA_OK);
    for (int i = 0; i < 7; i++) CHECK(g7[i] == dtype_bf16_to_f32(hb[i]));
    CHECK(g7[0] == 1.0f && g7[1] == -2.5f && g7[2] == 3.140625f);
    CHECK(st_read_f32(f, "c.f16", g7, 1, s7) == MAMA_OK);
    CHECK(g7[0] == 1.0f && g7[1] == -2.5f && g7[2] == 3.140625f && g7[4] == 65504.0f);
    CHECK(fabsf(g7[5] - 1e-6f) < 3e-8f && fabsf(g7[6] + 0.333f) < 2e-4f);
    float g3[3];
    CHECK(st_read_f32(f, "d.f64", g3, 1, s3b) == MAMA_OK && g3[1] == -2.25f && g3[2] == 1e10f);
    CHECK(st_read_f32(f, "a.u8", g3, 1, s3b) == MAMA_EDTYPE);
    const st_tensor *ti = st_find(f, "e.i64");
    int64_t iv[2];
    memcpy(iv, ti->data, 16);
    CHECK(iv[0] == -5 && iv[1] == (1LL << 40));
    const st_tensor *ts = st_find(f, "scalar");
    CHECK(ts && ts->ndim == 0 && ts->numel == 1);
    float sv = 0;
    CHECK(st_read_f32(f, "scalar", &sv, 0, NULL) == MAMA_OK && sv == 42.0f);
    const st_tensor *te = st_find(f, "empty");
    CHECK(te && te->numel == 0 && te->nbytes == 0);
    CHECK(st_read_f32_n(f, "empty", got, 0) == MAMA_OK);
    st_close(f);

    /* open failures that are not format errors */
    CHECK(st_open(path_in("does_not_exist.safetensors"), &f) == MAMA_ENOTFOUND && f == NULL);
    CHECK(strstr(mama_last_error(), "does_not_exist") != NULL);
    CHECK(st_open(dir_path, &f) == MAMA_EIO && strstr(mama_last_error(), "regular"));
    const char *fifo = path_in("fifo.safetensors");
    if (mkfifo(fifo, 0600) == 0) { /* must not block */
        CHECK(st_open(fifo, &f) == MAMA_EIO && strstr(mama_last_error(), "regular"));
    }
    /* a failed save (no such directory) is an I/O error naming the path */
    CHECK(st_writer_create(&w) == MAMA_OK);
    CHECK(st_writer_add_f32(w, "x", 0, NULL, &scalar) == MAMA_OK);
    CHECK(st_writer_save(w, path_in("no_such_dir/out.safetensors")) == MAMA_EIO);
    CHECK(strstr(mama_last_error(), "no_such_dir/out.safetensors") != NULL);
    st_writer_destroy(w);
    /* saving over an existing file replaces it atomically */
    CHECK(st_writer_create(&w) == MAMA_OK);
    CHECK(st_writer_add_f32(w, "only", 0, NULL, &scalar) == MAMA_OK);
    CHECK(st_writer_save(w, path2) == MAMA_OK);
    st_writer_destroy(w);
    CHECK(st_open(path2, &f) == MAMA_OK);
    if (f) {
        CHECK(st_count(f) == 1 && st_find(f, "only") != NULL);
        st_close(f);
    }
    /* writer argument errors */
    CHECK(st_writer_create(&w) == MAMA_OK);
    int64_t negs[1] = {-1};
    CHECK(st_writer_add_f32(w, "neg", 1, negs, &scalar) == MAMA_EINVAL);
    CHECK(st_writer_add_f32(w, "__metadata__", 0, NULL, &scalar) == MAMA_EINVAL);
    CHECK(st_writer_add_f32(w, "", 0, NULL, &scalar) == MAMA_EINVAL);
    CHECK(st_writer_add_f32(w, "deep", 9, s3, &scalar) == MAMA_EINVAL);
    CHECK(st_writer_set_metadata(w, "bad", "\xff\xfe") == MAMA_EINVAL);
    st_writer_destroy(w);
}

static void test_sharded(void) {
    float x[4] = {1, 2, 3, 4}, y[3] = {5, 6, 7};
    int64_t s4[1] = {4}, s3[1] = {3};
    st_writer *w;
    CHECK(st_writer_create(&w) == MAMA_OK);
    CHECK(st_writer_add_f32(w, "layer.0.w", 1, s4, x) == MAMA_OK);
    CHECK(st_writer_set_metadata(w, "format", "pt") == MAMA_OK);
    CHECK(st_writer_save(w, path_in("model-00001-of-00002.safetensors")) == MAMA_OK);
    st_writer_destroy(w);
    uint16_t yb[3];
    dtype_f32_to_bf16_n(yb, y, 3);
    CHECK(st_writer_create(&w) == MAMA_OK);
    CHECK(st_writer_add(w, "layer.1.w", ST_BF16, 1, s3, yb) == MAMA_OK);
    CHECK(st_writer_save(w, path_in("model-00002-of-00002.safetensors")) == MAMA_OK);
    st_writer_destroy(w);
    const char *idx = "{\"metadata\": {\"total_size\": 22}, \"weight_map\": {"
                      "\"layer.1.w\": \"model-00002-of-00002.safetensors\","
                      "\"layer.0.w\": \"model-00001-of-00002.safetensors\"}}";
    const char *ipath = path_in("model.safetensors.index.json");
    write_bytes(ipath, idx, strlen(idx));
    st_file *f;
    mama_status rc = st_open(ipath, &f);
    CHECK_MSG(rc == MAMA_OK, "%s", mama_last_error());
    if (rc == MAMA_OK) {
        CHECK(st_count(f) == 2);
        float g[4];
        CHECK(st_read_f32(f, "layer.0.w", g, 1, s4) == MAMA_OK && g[3] == 4.0f);
        CHECK(st_read_f32(f, "layer.1.w", g, 1, s3) == MAMA_OK && g[0] == 5 && g[2] == 7);
        CHECK(strcmp(st_metadata(f, "format"), "pt") == 0);
        CHECK(st_metadata(f, "total_size") && strcmp(st_metadata(f, "total_size"), "22") == 0);
        st_close(f);
    }
    /* index corruptions */
    static const struct {
        const char *json;
        mama_status want;
        const char *needle;
    } bad[] = {
        {"{\"weight_map\": {\"a\": \"missing.safetensors\"}}", MAMA_ENOTFOUND, "missing"},
        {"{\"weight_map\": {\"nope\": \"model-00001-of-00002.safetensors\"}}", MAMA_EFORMAT,
         "nope"},
        {"{\"weight_map\": [1, 2]}", MAMA_EFORMAT, "weight_map"},
        {"{\"weight_map\": {\"a\": 3}}", MAMA_EFORMAT, "'a'"},
        {"{\"weight_map\": {\"a\": \"../x.safetensors\"}}", MAMA_EFORMAT, "'a'"},
        {"{\"weight_map\": {", MAMA_EFORMAT, "JSON"},
        {"", MAMA_EFORMAT, "JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *bp = path_in("bad.index.json");
        write_bytes(bp, bad[i].json, strlen(bad[i].json));
        f = NULL;
        rc = st_open(bp, &f);
        CHECK_MSG(rc == bad[i].want && f == NULL, "index case %zu: got %s (%s)", i,
                  mama_status_name(rc), mama_last_error());
        CHECK_MSG(strstr(mama_last_error(), bad[i].needle) != NULL, "index case %zu: %s", i,
                  mama_last_error());
        st_close(f);
    }
    /* the same tensor in two shards */
    float z = 0;
    CHECK(st_writer_create(&w) == MAMA_OK);
    CHECK(st_writer_add_f32(w, "layer.0.w", 0, NULL, &z) == MAMA_OK);
    CHECK(st_writer_save(w, path_in("dup.safetensors")) == MAMA_OK);
    st_writer_destroy(w);
    const char *dup = "{\"weight_map\": {\"layer.0.w\": \"model-00001-of-00002.safetensors\","
                      "\"x\": \"dup.safetensors\"}}";
    write_bytes(path_in("dup.index.json"), dup, strlen(dup));
    rc = st_open(path_in("dup.index.json"), &f);
    CHECK_MSG(rc == MAMA_EFORMAT && strstr(mama_last_error(), "layer.0.w"), "dup: %s",
              mama_last_error());
}

/* Each corrupt file must be MAMA_EFORMAT and the message must name the file and `needle`. */
static void expect_format_error(const char *tag, const char *needle) {
    const char *p = path_in("bad.safetensors");
    st_file *f = (st_file *)1;
    mama_status rc = st_open(p, &f);
    CHECK_MSG(rc == MAMA_EFORMAT, "%s: expected EFORMAT, got %s (%s)", tag, mama_status_name(rc),
              mama_last_error());
    CHECK_MSG(f == NULL, "%s: out_file not cleared", tag);
    CHECK_MSG(strstr(mama_last_error(), "bad.safetensors") != NULL, "%s: message lacks path: %s",
              tag, mama_last_error());
    CHECK_MSG(strstr(mama_last_error(), needle) != NULL, "%s: message lacks '%s': %s", tag,
              needle, mama_last_error());
    if (rc == MAMA_OK) st_close(f);
}

static void test_corruption(void) {
    const char *p = path_in("bad.safetensors");
    unsigned char data[64];
    for (int i = 0; i < 64; i++) data[i] = (unsigned char)i;
    const char *ok_hdr = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";

    write_raw(p, ok_hdr, data, 16, UINT64_MAX); /* control: the valid file opens */
    st_file *f;
    CHECK_MSG(st_open(p, &f) == MAMA_OK, "%s", mama_last_error());
    st_close(f);

    write_bytes(p, "\x05\x00\x00", 3);
    expect_format_error("file shorter than 8 bytes", "too short");
    write_bytes(p, "", 0);
    expect_format_error("empty file", "too short");
    write_raw(p, ok_hdr, data, 16, 0);
    expect_format_error("header length 0", "header length");
    write_raw(p, ok_hdr, data, 16, 1000);
    expect_format_error("header length past EOF", "header length");
    write_raw(p, ok_hdr, data, 16, UINT64_MAX - 3);
    expect_format_error("header length near 2^64", "header length");
    write_raw(p, ok_hdr, data, 16, strlen(ok_hdr) - 1);
    expect_format_error("header length one short", "JSON");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",", data, 16, UINT64_MAX);
    expect_format_error("bad JSON", "JSON");
    write_raw(p, "[1, 2, 3]", data, 0, UINT64_MAX);
    expect_format_error("header not an object", "object");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", data, 16,
              UINT64_MAX);
    expect_format_error("duplicate tensor name", "JSON");
    write_raw(p, "{\"w\":{\"dtype\":\"F8\",\"shape\":[2,2],\"data_offsets\":[0,4]}}", data, 16,
              UINT64_MAX);
    expect_format_error("unknown dtype", "'w'");
    write_raw(p, "{\"w\":{\"dtype\":7,\"shape\":[2,2],\"data_offsets\":[0,16]}}", data, 16,
              UINT64_MAX);
    expect_format_error("dtype not a string", "'w'");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,160]}}", data,
              16, UINT64_MAX);
    expect_format_error("offsets out of range", "'w'");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,0]}}", data,
              16, UINT64_MAX);
    expect_format_error("begin > end", "'w'");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[-16,0]}}", data,
              16, UINT64_MAX);
    expect_format_error("negative offset", "'w'");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0]}}", data, 16,
              UINT64_MAX);
    expect_format_error("one offset", "'w'");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2]}}", data, 16, UINT64_MAX);
    expect_format_error("offsets missing", "'w'");
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}", data, 32,
              UINT64_MAX);
    expect_format_error("overlapping tensors", "overlaps");
    write_raw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", data, 32,
              UINT64_MAX);
    expect_format_error("nested overlap", "overlaps");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", data, 16,
              UINT64_MAX);
    expect_format_error("wrong size for dtype", "'w'");
    write_raw(p, "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", data,
              16, UINT64_MAX);
    expect_format_error("bf16 sized as f32", "needs 8");
    write_raw(p, ok_hdr, data, 15, UINT64_MAX);
    expect_format_error("truncated data", "truncated");
    write_raw(p, ok_hdr, data, 0, UINT64_MAX);
    expect_format_error("no data at all", "'w'");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2,2],\"data_offsets\":[0,16]}}", data,
              16, UINT64_MAX);
    expect_format_error("negative shape", "'w'");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5,2],\"data_offsets\":[0,16]}}", data,
              16, UINT64_MAX);
    expect_format_error("fractional dim", "'w'");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", data, 16,
              UINT64_MAX);
    expect_format_error("shape not an array", "'w'");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,4],"
                 "\"data_offsets\":[0,16]}}", data, 16, UINT64_MAX);
    expect_format_error("too many dims", "'w'");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],"
                 "\"data_offsets\":[0,16]}}", data, 16, UINT64_MAX);
    expect_format_error("element count overflow", "'w'");
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952,2],"
                 "\"data_offsets\":[0,16]}}", data, 16, UINT64_MAX);
    expect_format_error("byte size overflow", "'w'");
    write_raw(p, "{\"w\":5}", data, 16, UINT64_MAX);
    expect_format_error("entry not an object", "'w'");
    write_raw(p, "{\"__metadata__\":{\"a\":1},"
                 "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", data, 16,
              UINT64_MAX);
    expect_format_error("metadata value not a string", "'a'");
    write_raw(p, "{\"__metadata__\":[],"
                 "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", data, 16,
              UINT64_MAX);
    expect_format_error("metadata not an object", "__metadata__");
    char nul_hdr[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    nul_hdr[10] = '\0';
    {
        unsigned char buf[8 + sizeof nul_hdr + 16];
        uint64_t hl = sizeof nul_hdr - 1;
        for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
        memcpy(buf + 8, nul_hdr, hl);
        memcpy(buf + 8 + hl, data, 16);
        write_bytes(p, buf, 8 + hl + 16);
        expect_format_error("NUL inside the header", "JSON");
    }

    /* a truncated copy of a real written file, at every length */
    float x[6] = {1, 2, 3, 4, 5, 6};
    int64_t s6[2] = {2, 3};
    st_writer *w;
    CHECK(st_writer_create(&w) == MAMA_OK);
    CHECK(st_writer_add_f32(w, "weight", 2, s6, x) == MAMA_OK);
    CHECK(st_writer_save(w, path_in("good.safetensors")) == MAMA_OK);
    st_writer_destroy(w);
    size_t n;
    unsigned char *good = read_all(path_in("good.safetensors"), &n);
    for (size_t cut = 0; cut < n; cut++) {
        write_bytes(p, good, cut);
        f = NULL;
        mama_status rc = st_open(p, &f);
        CHECK_MSG(rc == MAMA_EFORMAT, "truncated to %zu of %zu: %s", cut, n, mama_status_name(rc));
        if (rc == MAMA_OK) st_close(f);
    }
    free(good);
}

int main(void) {
    snprintf(dir_path, sizeof dir_path, "%s", st_test_dir("st"));
    test_round_trip();
    test_sharded();
    test_corruption();
    int rc = check_done("test_safetensors");
    check_remove_dir(dir_path);
    return rc;
}
