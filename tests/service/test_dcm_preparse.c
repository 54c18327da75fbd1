/* test_dcm_preparse.c: the bounded pre-parse (dicom/dcm_preparse.h) that every reader
 * runs before DCMTK parses a file.
 * argv[1]: a valid MG file from `scp_harness mkdcm`; argv[2]: the same with 7,000 nested
 * sequences (`--nest 7000`), which overflows DCMTK's recursive parser; argv[3]: 64 levels
 * (the bound itself, accepted).
 * Each synthetic case below is built here, byte by byte, so that it is the shape named
 * and nothing else: depth past the bound in each syntax DCMTK nests in (explicit SQ,
 * implicit VR by dictionary, undefined-length UN read as implicit, deflated), too many
 * elements, a declared length past the end, every truncation of a valid file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "dicom/dcm_image.h"
#include "dicom/dcm_instance_read.h"
#include "dicom/dcm_preparse.h"
#include "tests/check.h"

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *v, size_t n) {
    if (n == 0) return;
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 1024;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
}
static void u16(buf *b, unsigned v) {
    unsigned char x[2] = {v & 0xff, (v >> 8) & 0xff};
    put(b, x, 2);
}
static void u32(buf *b, uint32_t v) {
    unsigned char x[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
    put(b, x, 4);
}
static void tag(buf *b, unsigned g, unsigned e) { u16(b, g); u16(b, e); }

/* Preamble, "DICM" and a meta header naming transfer syntax ts. */
static void part10(buf *b, const char *ts) {
    unsigned char pre[128] = {0};
    put(b, pre, 128);
    put(b, "DICM", 4);
    size_t n = strlen(ts), padded = n + (n & 1);
    tag(b, 2, 0x10);
    put(b, "UI", 2);
    u16(b, (unsigned)padded);
    put(b, ts, n);
    if (padded != n) put(b, "", 1);
}

static int pre(const buf *b, char *err, size_t errlen) {
    err[0] = '\0';
    return dcm_preparse_buffer(b->p, b->n, err, errlen);
}

#define EXPECT_REFUSED(b, words)                                                          \
    do {                                                                                  \
        char e_[512];                                                                     \
        int rc_ = pre((b), e_, sizeof e_);                                                \
        CHECK_MSG(rc_ == -1 && strstr(e_, (words)), "%s: rc %d, '%s' (want '%s')", #b, rc_, e_, \
                  (words));                                                               \
    } while (0)

/* Explicit VR LE: `levels` nested SQ (0040,0275), undefined lengths. */
static void nest_explicit(buf *b, int levels) {
    for (int i = 0; i < levels; i++) {
        tag(b, 0x40, 0x275); put(b, "SQ", 2); u16(b, 0); u32(b, 0xffffffffu);
        tag(b, 0xfffe, 0xe000); u32(b, 0xffffffffu);
    }
    for (int i = 0; i < levels; i++) {
        tag(b, 0xfffe, 0xe00d); u32(b, 0);
        tag(b, 0xfffe, 0xe0dd); u32(b, 0);
    }
}

/* Implicit VR LE: defined lengths throughout, so only the dictionary says (0040,0275) is
 * a sequence (DCMTK nests on it). Built from the inside out. */
static void nest_implicit_defined(buf *out, int levels) {
    buf cur = {0};
    for (int i = 0; i < levels; i++) {
        buf item = {0}, sq = {0};
        tag(&item, 0xfffe, 0xe000); u32(&item, (uint32_t)cur.n);
        put(&item, cur.p, cur.n);
        tag(&sq, 0x40, 0x275); u32(&sq, (uint32_t)item.n);
        put(&sq, item.p, item.n);
        free(cur.p); free(item.p);
        cur = sq;
    }
    put(out, cur.p, cur.n);
    free(cur.p);
}

static void test_depth(void) {
    buf ok = {0}, deep = {0};
    part10(&ok, "1.2.840.10008.1.2.1");
    nest_explicit(&ok, DCM_PREPARSE_MAX_DEPTH);
    char err[512];
    CHECK_MSG(pre(&ok, err, sizeof err) == 0, "%d levels are within the bound: %s",
              DCM_PREPARSE_MAX_DEPTH, err);
    part10(&deep, "1.2.840.10008.1.2.1");
    nest_explicit(&deep, DCM_PREPARSE_MAX_DEPTH + 1);
    EXPECT_REFUSED(&deep, "nested deeper than 64 levels");

    buf imp_ok = {0}, imp = {0};
    part10(&imp_ok, "1.2.840.10008.1.2");
    nest_implicit_defined(&imp_ok, 10);
    CHECK_MSG(pre(&imp_ok, err, sizeof err) == 0, "implicit, 10 levels: %s", err);
    part10(&imp, "1.2.840.10008.1.2");
    nest_implicit_defined(&imp, 500);
    EXPECT_REFUSED(&imp, "nested deeper than 64 levels");

    /* explicit UN, undefined length: DCMTK reads its value as implicit VR, nesting by
     * undefined lengths there */
    buf un = {0};
    part10(&un, "1.2.840.10008.1.2.1");
    tag(&un, 0x0009, 0x1010); put(&un, "UN", 2); u16(&un, 0); u32(&un, 0xffffffffu);
    tag(&un, 0xfffe, 0xe000); u32(&un, 0xffffffffu);
    for (int i = 0; i < 200; i++) {
        tag(&un, 0x0009, 0x1010); u32(&un, 0xffffffffu);
        tag(&un, 0xfffe, 0xe000); u32(&un, 0xffffffffu);
    }
    EXPECT_REFUSED(&un, "nested deeper than 64 levels");

    /* deflated explicit VR LE: the same 7,000 levels, compressed */
    buf plain = {0}, defl = {0};
    nest_explicit(&plain, 7000);
    part10(&defl, "1.2.840.10008.1.2.1.99");
    unsigned char *z = malloc(plain.n + 1024);
    z_stream s;
    memset(&s, 0, sizeof s);
    CHECK(deflateInit2(&s, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    s.next_in = plain.p;
    s.avail_in = (uInt)plain.n;
    s.next_out = z;
    s.avail_out = (uInt)(plain.n + 1024);
    CHECK(deflate(&s, Z_FINISH) == Z_STREAM_END);
    put(&defl, z, s.total_out);
    deflateEnd(&s);
    EXPECT_REFUSED(&defl, "of the inflated dataset");
    EXPECT_REFUSED(&defl, "nested deeper than 64 levels");
    free(z);
    free(ok.p); free(deep.p); free(imp_ok.p); free(imp.p); free(un.p); free(plain.p); free(defl.p);
}

static void test_counts_and_lengths(const char *good_path) {
    buf many = {0};
    part10(&many, "1.2.840.10008.1.2.1");
    for (unsigned long i = 0; i <= DCM_PREPARSE_MAX_ELEMENTS; i++) {
        tag(&many, 0x0009, 0x1000 + (unsigned)(i & 0xff)); put(&many, "LO", 2); u16(&many, 0);
    }
    EXPECT_REFUSED(&many, "more than 200000 elements");

    size_t n = 0;
    char *good = check_read_file(good_path, &n);
    CHECK(good != NULL);
    if (!good) return;
    buf g = {0};
    put(&g, good, n);
    char err[512];
    CHECK_MSG(pre(&g, err, sizeof err) == 0, "the valid file is refused: %s", err);

    /* the Pixel Data length (the last element, OW: 12-byte header) made 1 GB */
    buf big = {0};
    put(&big, good, n);
    size_t px = 0;
    for (size_t i = 132; i + 12 <= n; i++)
        if (!memcmp(big.p + i, "\xe0\x7f\x10\x00OW", 6)) px = i;
    CHECK(px != 0);
    big.p[px + 8] = 0; big.p[px + 9] = 0; big.p[px + 10] = 0; big.p[px + 11] = 0x40;
    EXPECT_REFUSED(&big, "(7FE0,0010) declares 1073741824 bytes");

    /* every truncation: refused with a reason or (cut at an element boundary) accepted,
     * never a read past the end (ASan watches) */
    size_t refused = 0;
    for (size_t cut = 0; cut < n; cut++) {
        err[0] = '\0';
        int rc = dcm_preparse_buffer((const unsigned char *)good, cut, err, sizeof err);
        if (rc != 0) {
            refused++;
            CHECK_MSG(strstr(err, "refused before parsing") != NULL, "cut %zu: '%s'", cut, err);
        }
    }
    CHECK_MSG(refused > n - 200, "only %zu of %zu truncations refused", refused, n);

    buf nopre = {0};
    put(&nopre, good + 132, n - 132);
    EXPECT_REFUSED(&nopre, "not a readable DICOM file");
    free(good); free(many.p); free(g.p); free(big.p); free(nopre.p);
}

/* The readers themselves: ingest (dcm_read_instance_info) and scoring/CLI
 * (dcm_image_load) refuse the 7,000-level file with the reason instead of crashing. */
static void test_readers(const char *deep_path, const char *ok64_path) {
    dcm_instance_info ii;
    char err[512] = "";
    CHECK_MSG(dcm_read_instance_info(deep_path, &ii, err, sizeof err) == -1 &&
                  strstr(err, "nested deeper than 64 levels"), "ingest reader: '%s'", err);
    dcm_image img;
    memset(&img, 0, sizeof img);
    err[0] = '\0';
    CHECK_MSG(dcm_image_load(deep_path, &img, err, sizeof err) == -1 &&
                  strstr(err, "nested deeper than 64 levels"), "pixel loader: '%s'", err);
    err[0] = '\0';
    CHECK_MSG(dcm_read_instance_info(ok64_path, &ii, err, sizeof err) == 0,
              "64 levels must still be read: %s", err);
    err[0] = '\0';
    int rc = dcm_image_load(ok64_path, &img, err, sizeof err);
    CHECK_MSG(rc == 0, "64 levels must still load: %s", err);
    if (rc == 0) dcm_image_free(&img);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: test_dcm_preparse GOOD.dcm DEEP.dcm NEST64.dcm\n");
        return 2;
    }
    test_depth();
    test_counts_and_lengths(argv[1]);
    test_readers(argv[2], argv[3]);
    return check_done("dcm_preparse");
}
