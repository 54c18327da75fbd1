/* test_image_io_cache.c: PNG/PGM reading and writing (8 and 16 bit, bad files) and the
 * refusal of headers that promise more pixels than the file holds, and the
 * preprocessing cache (miss, hit, invalidation on change, corrupt entries rebuilt,
 * loader errors, no temporary files left). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/check.h"
#include "engine/vision/image_io.h"
#include "engine/vision/prepcache.h"
#include "pixel_fixture.h"

static char dir[256];

static const char *tmp_path(const char *name) { return check_path(dir, name); }

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static void test_png_pgm(void) {
    enum { H = 37, W = 53 };
    static float img[H * W];
    for (int i = 0; i < H * W; i++) img[i] = (float)((i * 7919) % 1000) / 999.0f;
    for (int bits = 8; bits <= 16; bits += 8) {
        const char *p = tmp_path(bits == 8 ? "g8.png" : "g16.png");
        CHECK_MSG(image_io_save_png(p, img, H, W, bits) == MAMA_OK, "save %d: %s", bits, mama_last_error());
        float *back = NULL;
        int h = 0, w = 0;
        CHECK_MSG(image_io_load_gray(p, &back, &h, &w) == MAMA_OK, "load %d: %s", bits, mama_last_error());
        if (!back) continue;
        CHECK_MSG(h == H && w == W, "size %dx%d", h, w);
        double q = bits == 8 ? 255.0 : 65535.0, e = 0;
        for (int i = 0; i < H * W; i++) e = fmax(e, fabs(back[i] - round(img[i] * q) / q));
        CHECK_MSG(e < 1e-6, "%d-bit round trip: %g", bits, e);
        free(back);
    }
    /* PGM: binary 8 and 16 bit, ASCII, with a comment; values / maxval */
    const char p5[] = "P5\n# comment\n3 2\n255\n";
    uint8_t d5[6] = {0, 51, 102, 153, 204, 255};
    char buf[64];
    memcpy(buf, p5, sizeof p5 - 1);
    memcpy(buf + sizeof p5 - 1, d5, 6);
    write_bytes(tmp_path("a.pgm"), buf, sizeof p5 - 1 + 6);
    float *px = NULL;
    int h, w;
    CHECK_MSG(image_io_load_gray(tmp_path("a.pgm"), &px, &h, &w) == MAMA_OK && h == 2 && w == 3, "P5 8-bit");
    if (px) {
        for (int i = 0; i < 6; i++) CHECK_MSG(fabsf(px[i] - d5[i] / 255.0f) < 1e-7f, "P5 value %d", i);
        free(px);
    }
    const char p16[] = "P5 2 1 1000\n";
    uint8_t d16[4] = {0x01, 0xf4, 0x03, 0xe8}; /* 500, 1000 big endian */
    memcpy(buf, p16, sizeof p16 - 1);
    memcpy(buf + sizeof p16 - 1, d16, 4);
    write_bytes(tmp_path("b.pgm"), buf, sizeof p16 - 1 + 4);
    CHECK_MSG(image_io_load_gray(tmp_path("b.pgm"), &px, &h, &w) == MAMA_OK && h == 1 && w == 2, "P5 16-bit");
    if (px) {
        CHECK_MSG(fabsf(px[0] - 0.5f) < 1e-6f && fabsf(px[1] - 1.0f) < 1e-6f, "P5 16 values %g %g", px[0], px[1]);
        free(px);
    }
    write_bytes(tmp_path("c.pgm"), "P2\n2 2\n10\n0 5\n10 2\n", 20);
    CHECK_MSG(image_io_load_gray(tmp_path("c.pgm"), &px, &h, &w) == MAMA_OK && h == 2 && w == 2, "P2");
    if (px) {
        CHECK_MSG(fabsf(px[1] - 0.5f) < 1e-6f && fabsf(px[3] - 0.2f) < 1e-6f, "P2 values");
        free(px);
    }
    /* bad files: errors with the path, nothing allocated */
    const char *bad[][2] = {
        {"trunc.pgm", "P5 4 4 255\nabc"}, {"hdr.pgm", "P5 -3 4 255\n"}, {"text.png", "hello"},
        {"big.pgm", "P5 99999999 2 255\n"}, {"max.pgm", "P5 2 2 70000\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_bytes(tmp_path(bad[i][0]), bad[i][1], strlen(bad[i][1]));
        px = (float *)1;
        mama_status rc = image_io_load_gray(tmp_path(bad[i][0]), &px, &h, &w);
        CHECK_MSG(rc == MAMA_EFORMAT && px == NULL, "%s: rc %d", bad[i][0], rc);
        CHECK_MSG(strstr(mama_last_error(), bad[i][0]) != NULL, "message names the file: %s", mama_last_error());
    }
    /* a truncated PNG */
    FILE *f = fopen(tmp_path("g16.png"), "rb");
    static uint8_t pngbuf[8192];
    size_t n = fread(pngbuf, 1, sizeof pngbuf, f);
    fclose(f);
    write_bytes(tmp_path("cut.png"), pngbuf, n / 2);
    CHECK_MSG(image_io_load_gray(tmp_path("cut.png"), &px, &h, &w) == MAMA_EFORMAT && px == NULL, "cut png: %s",
              mama_last_error());
    CHECK_MSG(image_io_load_gray(tmp_path("missing.png"), &px, &h, &w) == MAMA_EIO, "missing file");
}

static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* Headers that promise more pixels than the file holds must be refused before the pixel
 * buffer is allocated (the fuzzer found a PGM header asking for 12 GiB): the message
 * says why, which the old "truncated" error after a huge malloc did not. */
static void test_forged_sizes(void) {
    float *px = (float *)1;
    int h, w;
    static const char fuzz_pgm[] = "P5\n55555F54555\n55555F545555555555555\2651"; /* fuzz OOM */
    write_bytes(tmp_path("oom.pgm"), fuzz_pgm, sizeof fuzz_pgm - 1);
    CHECK_MSG(image_io_load_gray(tmp_path("oom.pgm"), &px, &h, &w) == MAMA_EFORMAT && !px &&
                  strstr(mama_last_error(), "out of range (at most"), "fuzz PGM: %s", mama_last_error());
    const char small[] = "P5 4000 4000 255\n0123456789";
    write_bytes(tmp_path("short.pgm"), small, sizeof small - 1);
    px = (float *)1;
    CHECK_MSG(image_io_load_gray(tmp_path("short.pgm"), &px, &h, &w) == MAMA_EFORMAT && !px &&
                  strstr(mama_last_error(), "16000000 needed"), "short PGM: %s", mama_last_error());
    const char p2[] = "P2 3 1 9\n1 2 3";  /* exactly 2n-1 bytes of samples: accepted */
    write_bytes(tmp_path("tight.pgm"), p2, sizeof p2 - 1);
    CHECK_MSG(image_io_load_gray(tmp_path("tight.pgm"), &px, &h, &w) == MAMA_OK && w == 3, "tight P2: %s",
              mama_last_error());
    free(px);
    /* a real 37x53 PNG whose IHDR is rewritten (CRC fixed) to claim a bigger image */
    static uint8_t png[8192];
    FILE *f = fopen(tmp_path("g8.png"), "rb");
    size_t n = f ? fread(png, 1, sizeof png, f) : 0;
    if (f) fclose(f);
    CHECK_MSG(n > 33 && !memcmp(png + 12, "IHDR", 4), "g8.png has an IHDR first");
    const struct { uint32_t side; const char *why; } cases[] = {{20000, "out of range (at most"}, {6000, "truncated or forged"}};
    for (size_t i = 0; n > 33 && i < 2; i++) {
        put_be32(png + 16, cases[i].side);
        put_be32(png + 20, cases[i].side);
        put_be32(png + 29, crc32_png(png + 12, 17));
        write_bytes(tmp_path("claim.png"), png, n);
        px = (float *)1;
        CHECK_MSG(image_io_load_gray(tmp_path("claim.png"), &px, &h, &w) == MAMA_EFORMAT && !px &&
                      strstr(mama_last_error(), cases[i].why), "PNG %u: %s", cases[i].side, mama_last_error());
    }
}

static int loads = 0;
static mama_status png_loader(void *ctx, const char *path, float **out, int *h, int *w) {
    (void)ctx;
    loads++;
    return image_io_load_gray(path, out, h, w);
}

static int count_tmp_files(const char *d) {
    DIR *dp = opendir(d);
    int n = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (dp) closedir(dp);
    return n;
}

static void test_cache(void) {
    enum { H = 300, W = 220 };
    static uint16_t px[H * W];
    static float img[H * W];
    fx_mammo(px, H, W, 12, 9, NULL);
    for (int i = 0; i < H * W; i++) img[i] = px[i] / 4095.0f;
    const char *src = tmp_path("mammo.png");
    CHECK_MSG(image_io_save_png(src, img, H, W, 16) == MAMA_OK, "save source");
    prepcache_config cfg;
    prepcache_config_default(&cfg, tmp_path("cache"));
    cfg.max_side = 100;
    cfg.loader_tag = "png";
    float *a = NULL, *b = NULL;
    int ah, aw, bh, bw;
    prep_box box;
    prepcache_result res;
    CHECK_MSG(prepcache_get(&cfg, src, png_loader, NULL, &a, &ah, &aw, &box, &res) == MAMA_OK, "first: %s",
              mama_last_error());
    CHECK_MSG(res == PREPCACHE_MISS && loads == 1, "first is a miss (res %d loads %d)", res, loads);
    CHECK_MSG((ah == 100 || aw == 100) && ah <= 100 && aw <= 100, "downsized to %dx%d", ah, aw);
    CHECK_MSG(fabs((double)ah / aw - (double)box.h / box.w) < 0.02, "aspect kept: %dx%d box %dx%d", ah, aw, box.h, box.w);
    CHECK_MSG(box.h < H && box.w < W, "cropped box %dx%d", box.h, box.w);
    /* the cached image is what the pipeline computes, up to 16-bit quantisation */
    if (a) {
        float *ref = malloc(sizeof(float) * ah * aw), *src_back = NULL;
        int sh, sw;
        CHECK_MSG(image_io_load_gray(src, &src_back, &sh, &sw) == MAMA_OK, "reload");
        prep_box rb;
        CHECK_MSG(prep_crop_resize(ref, ah, aw, src_back, sh, sw, 1, &rb) == MAMA_OK, "ref");
        double e = 0;
        for (int i = 0; i < ah * aw; i++) e = fmax(e, fabs(ref[i] - a[i]));
        CHECK_MSG(e < 1.0 / 65535.0, "cache vs pipeline: %g", e);
        free(ref);
        free(src_back);
    }
    CHECK_MSG(prepcache_get(&cfg, src, png_loader, NULL, &b, &bh, &bw, NULL, &res) == MAMA_OK, "second");
    CHECK_MSG(res == PREPCACHE_HIT && loads == 1, "second is a hit (res %d loads %d)", res, loads);
    CHECK_MSG(a && b && ah == bh && aw == bw && memcmp(a, b, sizeof(float) * ah * aw) == 0, "hit = miss output");
    free(b);
    b = NULL;
    char entry[1024];
    CHECK_MSG(prepcache_entry_path(&cfg, src, entry, sizeof entry) == MAMA_OK, "entry path");
    struct stat st;
    CHECK_MSG(stat(entry, &st) == 0 && st.st_size == 64 + 2 * ah * aw, "entry size %ld", (long)st.st_size);
    /* corruptions: payload bit flip, truncation, bad magic, trailing bytes */
    for (int kind = 0; kind < 4; kind++) {
        FILE *f = fopen(entry, "r+b");
        if (kind == 0) {
            fseek(f, 64 + 123, SEEK_SET);
            fputc(0x5a, f);
        } else if (kind == 2) {
            fputc('X', f);
        } else if (kind == 3) {
            fseek(f, 0, SEEK_END);
            fputc(0, f);
        }
        fclose(f);
        if (kind == 1) CHECK_MSG(truncate(entry, st.st_size / 2) == 0, "truncate");
        int before = loads;
        CHECK_MSG(prepcache_get(&cfg, src, png_loader, NULL, &b, &bh, &bw, NULL, &res) == MAMA_OK, "after corruption");
        CHECK_MSG(res == PREPCACHE_REBUILT && loads == before + 1, "corruption %d rebuilt (res %d)", kind, res);
        CHECK_MSG(b && a && memcmp(a, b, sizeof(float) * ah * aw) == 0, "rebuilt = original");
        free(b);
        b = NULL;
    }
    /* changing the source (mtime) or the parameters gives a new entry */
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1700000000, 5}};
    CHECK_MSG(utimensat(AT_FDCWD, src, ts, 0) == 0, "touch");
    CHECK_MSG(prepcache_get(&cfg, src, png_loader, NULL, &b, &bh, &bw, NULL, &res) == MAMA_OK && res == PREPCACHE_MISS,
              "mtime change: miss (res %d)", res);
    free(b);
    cfg.max_side = 64;
    CHECK_MSG(prepcache_get(&cfg, src, png_loader, NULL, &b, &bh, &bw, NULL, &res) == MAMA_OK && res == PREPCACHE_MISS &&
              bh <= 64 && bw <= 64,
              "max_side change: miss");
    free(b);
    /* loader errors pass through and write nothing */
    write_bytes(tmp_path("bad.png"), "not an image", 12);
    b = (float *)1;
    CHECK_MSG(prepcache_get(&cfg, tmp_path("bad.png"), png_loader, NULL, &b, &bh, &bw, NULL, &res) == MAMA_EFORMAT &&
              b == NULL,
              "loader error");
    CHECK_MSG(prepcache_entry_path(&cfg, tmp_path("bad.png"), entry, sizeof entry) == MAMA_OK && access(entry, F_OK) != 0,
              "no entry for a failed load");
    CHECK_MSG(prepcache_get(&cfg, tmp_path("nope.png"), png_loader, NULL, &b, &bh, &bw, NULL, &res) == MAMA_ENOTFOUND,
              "missing source");
    CHECK_MSG(count_tmp_files(cfg.dir) == 0, "no temporary files left");
    free(a);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/mama_pixio_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_png_pgm();
    test_forged_sizes();
    test_cache();
    check_remove_dir(dir);
    return check_done("test_image_io_cache");
}
