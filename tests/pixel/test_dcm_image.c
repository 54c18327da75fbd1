/* test_dcm_image.c: dcm_image_load on files written in every transfer syntax, the VOI
 * math against a naive reference written from the standard's formulas, MONOCHROME1 vs 2,
 * the key tags, bad inputs, and concurrent loads. */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/check.h"
#include "dicom/dcm_image.h"
#include "engine/vision/preprocess.h"
#include "pixel_fixture.h"

static char dir[256];

static const char *tmp_path(const char *name) { return check_path(dir, name); }

enum { R = 120, C = 96 };

static int load(const char *path, dcm_image *img) {
    char err[512] = "";
    int rc = dcm_image_load(path, img, err, sizeof err);
    if (rc != 0) fprintf(stderr, "load %s: %s\n", path, err);
    return rc;
}

static void diff(const dcm_image *a, const dcm_image *b, double *out_max, double *out_mean) {
    double mx = 0.0, sum = 0.0;
    size_t n = (size_t)a->rows * a->cols;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a->pixels[i] - b->pixels[i]);
        if (d > mx) mx = d;
        sum += d;
    }
    *out_max = mx;
    *out_mean = sum / (double)n;
}

static void test_syntaxes(void) {
    static uint16_t px[R * C], px8[R * C];
    fx_mammo(px, R, C, 12, 1, NULL);
    for (int i = 0; i < R * C; i++) px8[i] = (uint16_t)(px[i] >> 4);
    fx_spec s12 = {.rows = R, .cols = C, .bits_stored = 12, .pixels = px};
    fx_spec s8 = {.rows = R, .cols = C, .bits_stored = 8, .pixels = px8};
    dcm_image ref = {0}, ref8 = {0};
    CHECK_MSG(fx_write(tmp_path("ref.dcm"), &s12, FX_EXPLICIT_LE) == 0, "write ref");
    CHECK_MSG(fx_write(tmp_path("ref8.dcm"), &s8, FX_EXPLICIT_LE) == 0, "write ref8");
    CHECK_MSG(load(tmp_path("ref.dcm"), &ref) == 0 && load(tmp_path("ref8.dcm"), &ref8) == 0, "load refs");
    if (!ref.pixels || !ref8.pixels) return;
    /* the reference itself is right: min-max of the stored values */
    int smin = 4096, smax = -1;
    for (int i = 0; i < R * C; i++) {
        if (px[i] < smin) smin = px[i];
        if (px[i] > smax) smax = px[i];
    }
    double worst = 0.0;
    for (int i = 0; i < R * C; i++)
        worst = fmax(worst, fabs(ref.pixels[i] - (double)(px[i] - smin) / (smax - smin)));
    CHECK_MSG(worst < 1e-6, "explicit LE vs stored values: %g", worst);
    CHECK_MSG(ref.voi == DCM_VOI_MINMAX && ref.rows == R && ref.cols == C, "ref shape/voi");

    struct { fx_syntax sx; int eight; double max_tol, mean_tol; } cases[] = {
        {FX_IMPLICIT_LE, 0, 0, 0}, {FX_EXPLICIT_BE, 0, 0, 0}, {FX_DEFLATE, 0, 0, 0},
        {FX_RLE, 0, 0, 0}, {FX_JPEG_LOSSLESS_SV1, 0, 0, 0}, {FX_JPEGLS_LOSSLESS, 0, 0, 0},
        {FX_J2K_LOSSLESS, 0, 0, 0}, {FX_RLE, 1, 0, 0}, {FX_JPEGLS_LOSSLESS, 1, 0, 0},
        {FX_J2K_LOSSLESS, 1, 0, 0},
        /* lossy: close, not equal */
        {FX_JPEG_EXTENDED, 0, 0.25, 0.01}, {FX_JPEGLS_NEAR, 0, 0.01, 0.002},
        {FX_J2K_LOSSY, 0, 0.25, 0.02}, {FX_JPEG_BASELINE, 1, 0.25, 0.02},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s%s.dcm", fx_syntax_name(cases[k].sx), cases[k].eight ? "-8" : "");
        const char *p = tmp_path(name);
        if (fx_write(p, cases[k].eight ? &s8 : &s12, cases[k].sx) != 0) {
            CHECK_MSG(0, "cannot write %s", name);
            continue;
        }
        dcm_image img = {0};
        if (load(p, &img) != 0) {
            CHECK_MSG(0, "cannot load %s", name);
            continue;
        }
        double mx, mean;
        diff(&img, cases[k].eight ? &ref8 : &ref, &mx, &mean);
        printf("%-24s max diff %.6f mean %.6f\n", name, mx, mean);
        CHECK_MSG(mx <= cases[k].max_tol && mean <= cases[k].mean_tol,
                  "%s: max diff %g (tol %g), mean %g (tol %g)", name, mx, cases[k].max_tol, mean,
                  cases[k].mean_tol);
        dcm_image_free(&img);
    }
    /* a JPEG 2000 file from a third-party encoder (GDCM), when the tool is installed */
    if (access("/usr/bin/gdcmconv", X_OK) == 0) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "gdcmconv --j2k '%s' '%s' 2>/dev/null", tmp_path("ref.dcm"),
                 tmp_path("gdcm-j2k.dcm"));
        dcm_image img = {0};
        if (system(cmd) == 0 && load(tmp_path("gdcm-j2k.dcm"), &img) == 0) {
            double mx, mean;
            diff(&img, &ref, &mx, &mean);
            CHECK_MSG(mx == 0.0, "gdcmconv --j2k: max diff %g", mx);
            CHECK_MSG(!strcmp(img.info.transfer_syntax_uid, "1.2.840.10008.1.2.4.90"), "gdcm ts %s",
                      img.info.transfer_syntax_uid);
            dcm_image_free(&img);
        } else {
            CHECK_MSG(0, "gdcmconv --j2k file not decoded");
        }
    } else {
        printf("gdcmconv not installed: third-party JPEG 2000 check skipped\n");
    }
    dcm_image_free(&ref);
    dcm_image_free(&ref8);
}

/* ---- naive VOI reference, written from PS3.3 C.11.2.1.2 independently of the library */
static double naive_window(double x, double c, double w, const char *fn) {
    if (fn && !strcmp(fn, "SIGMOID")) return 1.0 / (1.0 + exp(-4.0 * (x - c) / w));
    if (fn && !strcmp(fn, "LINEAR_EXACT")) {
        double lo = c - w / 2, hi = c + w / 2;
        return x <= lo ? 0.0 : x > hi ? 1.0 : (x - c) / w + 0.5;
    }
    double lo = c - 0.5 - (w - 1) / 2, hi = c - 0.5 + (w - 1) / 2;
    return x <= lo ? 0.0 : x > hi ? 1.0 : ((x - (c - 0.5)) / (w - 1) + 0.5);
}

static void test_voi(void) {
    enum { N = 64 };
    static uint16_t ramp[N * N], lut[4096];
    for (int i = 0; i < N * N; i++) ramp[i] = (uint16_t)i; /* every 12-bit value once */
    const char *fns[] = {NULL, "LINEAR", "LINEAR_EXACT", "SIGMOID"};
    for (int mono1 = 0; mono1 < 2; mono1++)
        for (int f = 0; f < 4; f++)
            for (int rescale = 0; rescale < 2; rescale++) {
                fx_spec s = {.rows = N, .cols = N, .bits_stored = 12, .pixels = ramp,
                             .has_window = 1, .wc = 1900.5, .ww = 1201, .voi_function = fns[f],
                             .photometric = mono1 ? "MONOCHROME1" : "MONOCHROME2"};
                if (rescale) {
                    s.slope = 2.0;
                    s.intercept = -100.0;
                    s.wc = 3500;
                    s.ww = 2000;
                }
                const char *p = tmp_path("voi.dcm");
                dcm_image img = {0};
                if (fx_write(p, &s, FX_EXPLICIT_LE) || load(p, &img)) {
                    CHECK_MSG(0, "voi file %d/%d", f, rescale);
                    continue;
                }
                double worst = 0.0;
                for (int i = 0; i < N * N; i++) {
                    double m = rescale ? ramp[i] * 2.0 - 100.0 : ramp[i];
                    double v = naive_window(m, s.wc, s.ww, fns[f]);
                    if (mono1) v = 1.0 - v;
                    worst = fmax(worst, fabs(v - img.pixels[i]));
                }
                CHECK_MSG(worst < 1e-6, "window fn %s rescale %d mono1 %d: max err %g", fns[f] ? fns[f] : "(none)",
                          rescale, mono1, worst);
                CHECK_MSG(img.voi == (f == 0 ? DCM_VOI_LINEAR : (dcm_voi_kind)(DCM_VOI_LINEAR + f - 1)), "voi kind %d", img.voi);
                CHECK_MSG(img.inverted == mono1, "inverted flag");
                dcm_image_free(&img);
            }
    /* VOI LUT Sequence: a gamma-like table over part of the range, clamped outside */
    int first = 500, n = 3000, bits = 12;
    for (int i = 0; i < n; i++) lut[i] = (uint16_t)lround(4095.0 * sqrt(i / (double)(n - 1)));
    fx_spec s = {.rows = N, .cols = N, .bits_stored = 12, .pixels = ramp, .has_window = 1,
                 .wc = 100, .ww = 10, /* must be ignored: the LUT wins */
                 .lut_n = n, .lut_first = first, .lut_bits = bits, .lut = lut};
    dcm_image img = {0};
    if (fx_write(tmp_path("lut.dcm"), &s, FX_EXPLICIT_LE) == 0 && load(tmp_path("lut.dcm"), &img) == 0) {
        double worst = 0.0;
        for (int i = 0; i < N * N; i++) {
            int idx = i - first;
            idx = idx < 0 ? 0 : idx >= n ? n - 1 : idx;
            worst = fmax(worst, fabs(lut[idx] / 4095.0 - img.pixels[i]));
        }
        CHECK_MSG(worst < 1e-6, "VOI LUT: max err %g", worst);
        CHECK_MSG(img.voi == DCM_VOI_LUT, "voi kind %d", img.voi);
        dcm_image_free(&img);
    } else {
        CHECK_MSG(0, "VOI LUT file");
    }
    /* signed pixels, min-max */
    static uint16_t sp[N * N];
    for (int i = 0; i < N * N; i++) sp[i] = (uint16_t)((i - 2048) & 0xfff);
    fx_spec ss = {.rows = N, .cols = N, .bits_stored = 12, .signed_rep = 1, .pixels = sp};
    if (fx_write(tmp_path("signed.dcm"), &ss, FX_EXPLICIT_LE) == 0 && load(tmp_path("signed.dcm"), &img) == 0) {
        double worst = 0.0;
        for (int i = 0; i < N * N; i++) worst = fmax(worst, fabs(i / 4095.0 - img.pixels[i]));
        CHECK_MSG(worst < 1e-6, "signed min-max: max err %g", worst);
        dcm_image_free(&img);
    } else {
        CHECK_MSG(0, "signed file");
    }
    /* the exported window function against the naive one, sampled densely */
    double worst = 0.0;
    for (double x = -50; x < 300; x += 0.37) {
        worst = fmax(worst, fabs(dcm_window_apply(x, 120, 77, DCM_VOI_LINEAR) - naive_window(x, 120, 77, "LINEAR")));
        worst = fmax(worst, fabs(dcm_window_apply(x, 120, 77, DCM_VOI_LINEAR_EXACT) - naive_window(x, 120, 77, "LINEAR_EXACT")));
        worst = fmax(worst, fabs(dcm_window_apply(x, 120, 77, DCM_VOI_SIGMOID) - naive_window(x, 120, 77, "SIGMOID")));
    }
    CHECK_MSG(worst < 1e-12, "dcm_window_apply vs naive: %g", worst);
}

/* MONOCHROME1 with inverted stored values and a mirrored window gives the same input. */
static void test_mono1_mono2(void) {
    static uint16_t p2[R * C], p1[R * C];
    fx_mammo(p2, R, C, 12, 7, NULL);
    for (int i = 0; i < R * C; i++) p1[i] = (uint16_t)(4095 - p2[i]);
    struct { int win; const char *fn; double c, w; } cases[] = {
        {0, NULL, 0, 0}, {1, "LINEAR_EXACT", 2100, 3000}, {1, "LINEAR", 2100.0, 3001}, {1, "SIGMOID", 2000, 2500}};
    prep_config cfg;
    prep_config_default(&cfg);
    cfg.size = 64;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fx_spec s2 = {.rows = R, .cols = C, .bits_stored = 12, .pixels = p2, .has_window = cases[k].win,
                      .wc = cases[k].c, .ww = cases[k].w, .voi_function = cases[k].fn};
        fx_spec s1 = s2;
        s1.pixels = p1;
        s1.photometric = "MONOCHROME1";
        /* mirrored centre: M - c for the symmetric functions, M - c + 1 for LINEAR's
         * half-pixel offset (PS3.3 C.11.2.1.2.1) */
        s1.wc = 4095 - cases[k].c + (cases[k].fn && !strcmp(cases[k].fn, "LINEAR") ? 1 : 0);
        dcm_image a = {0}, b = {0};
        if (fx_write(tmp_path("m2.dcm"), &s2, FX_RLE) || fx_write(tmp_path("m1.dcm"), &s1, FX_J2K_LOSSLESS) ||
            load(tmp_path("m2.dcm"), &a) || load(tmp_path("m1.dcm"), &b)) {
            CHECK_MSG(0, "mono case %zu files", k);
            dcm_image_free(&a);
            dcm_image_free(&b);
            continue;
        }
        float *ia = malloc(sizeof(float) * 3 * 64 * 64), *ib = malloc(sizeof(float) * 3 * 64 * 64);
        prep_box ba, bb;
        CHECK_MSG(prep_image_eval(ia, a.pixels, R, C, &cfg, &ba) == MAMA_OK, "eval a");
        CHECK_MSG(prep_image_eval(ib, b.pixels, R, C, &cfg, &bb) == MAMA_OK, "eval b");
        double worst = 0.0;
        for (int i = 0; i < 3 * 64 * 64; i++) worst = fmax(worst, fabs(ia[i] - ib[i]));
        CHECK_MSG(worst < 1e-5, "MONO1 vs MONO2 (%s): model input max diff %g", cases[k].fn ? cases[k].fn : "min-max", worst);
        CHECK_MSG(ba.y0 == bb.y0 && ba.x0 == bb.x0 && ba.h == bb.h && ba.w == bb.w, "same crop box");
        CHECK_MSG(b.inverted == 1 && a.inverted == 0, "inverted flags");
        free(ia);
        free(ib);
        dcm_image_free(&a);
        dcm_image_free(&b);
    }
}

static void test_info(void) {
    static uint16_t px[32 * 32];
    fx_mammo(px, 32, 32, 12, 3, NULL);
    fx_spec s = {.rows = 32, .cols = 32, .bits_stored = 12, .pixels = px, .laterality = "R", .view = "MLO"};
    dcm_image img = {0};
    if (fx_write(tmp_path("info.dcm"), &s, FX_JPEGLS_LOSSLESS) || load(tmp_path("info.dcm"), &img)) {
        CHECK_MSG(0, "info file");
        return;
    }
    const dcm_instance_info *in = &img.info;
    CHECK_MSG(!strcmp(in->image_laterality, "R"), "laterality '%s'", in->image_laterality);
    CHECK_MSG(!strcmp(in->view_position, "MLO"), "view '%s'", in->view_position);
    CHECK_MSG(!strcmp(in->view_code, "R-10226"), "view code '%s'", in->view_code);
    CHECK_MSG(!strcmp(in->modality, "MG"), "modality '%s'", in->modality);
    CHECK_MSG(!strcmp(in->patient_id, "PX001") && !strcmp(in->accession_number, "ACC0001"), "ids");
    CHECK_MSG(!strcmp(in->patient_age, "057Y"), "age '%s'", in->patient_age);
    CHECK_MSG(!strcmp(in->acquisition_datetime, "20260101101500"), "acq '%s'", in->acquisition_datetime);
    CHECK_MSG(!strcmp(in->presentation_intent, "FOR PRESENTATION"), "intent '%s'", in->presentation_intent);
    CHECK_MSG(!strcmp(in->transfer_syntax_uid, "1.2.840.10008.1.2.4.80"), "ts '%s'", in->transfer_syntax_uid);
    CHECK_MSG(!strcmp(in->sop_class_uid, "1.2.840.10008.5.1.4.1.1.1.2"), "sop class '%s'", in->sop_class_uid);
    CHECK_MSG(in->rows == 32 && in->columns == 32 && in->bits_stored == 12, "dims");
    CHECK_MSG(!strcmp(in->photometric, "MONOCHROME2"), "photometric");
    CHECK_MSG(strlen(in->study_uid) > 10 && strlen(in->sop_instance_uid) > 10, "uids");
    dcm_image_free(&img);
}

static void expect_error(const char *path, const char *needle) {
    dcm_image img;
    memset(&img, 0x5a, sizeof img);
    char err[512] = "";
    int rc = dcm_image_load(path, &img, err, sizeof err);
    CHECK_MSG(rc == -1, "%s: expected an error", path);
    CHECK_MSG(img.pixels == NULL && img.rows == 0, "%s: output not emptied", path);
    CHECK_MSG(strstr(err, needle) != NULL, "%s: message '%s' lacks '%s'", path, err, needle);
    dcm_image_free(&img);
}

static void truncate_copy(const char *src, const char *dst, double frac) {
    FILE *f = fopen(src, "rb");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
    fclose(f);
    FILE *g = fopen(dst, "wb");
    fwrite(buf, 1, (size_t)(n * frac), g);
    fclose(g);
    free(buf);
}

static void test_bad_inputs(void) {
    static uint16_t px[R * C];
    fx_mammo(px, R, C, 12, 5, NULL);
    fx_spec s = {.rows = R, .cols = C, .bits_stored = 12, .pixels = px};
    expect_error(tmp_path("does-not-exist.dcm"), "not a readable DICOM file");
    FILE *f = fopen(tmp_path("text.dcm"), "w");
    fputs("this is not a DICOM file, just text that is long enough to have 132 bytes.........."
          "........................................................................\n", f);
    fclose(f);
    expect_error(tmp_path("text.dcm"), "not a readable DICOM file");
    fclose(fopen(tmp_path("empty.dcm"), "w"));
    expect_error(tmp_path("empty.dcm"), "not a readable DICOM file");
    CHECK_MSG(fx_write(tmp_path("full.dcm"), &s, FX_EXPLICIT_LE) == 0, "full");
    truncate_copy(tmp_path("full.dcm"), tmp_path("trunc.dcm"), 0.6);
    expect_error(tmp_path("trunc.dcm"), "trunc.dcm");
    CHECK_MSG(fx_write(tmp_path("full-j2k.dcm"), &s, FX_J2K_LOSSLESS) == 0, "full j2k");
    truncate_copy(tmp_path("full-j2k.dcm"), tmp_path("trunc-j2k.dcm"), 0.7);
    expect_error(tmp_path("trunc-j2k.dcm"), "trunc-j2k.dcm");
    CHECK_MSG(fx_write(tmp_path("full-rle.dcm"), &s, FX_RLE) == 0, "full rle");
    truncate_copy(tmp_path("full-rle.dcm"), tmp_path("trunc-rle.dcm"), 0.7);
    expect_error(tmp_path("trunc-rle.dcm"), "trunc-rle.dcm");
    CHECK_MSG(fx_write(tmp_path("mpeg2.dcm"), &s, FX_MPEG2) == 0, "mpeg2");
    expect_error(tmp_path("mpeg2.dcm"), "unsupported transfer syntax 1.2.840.10008.1.2.4.100");
    fx_spec nop = s;
    nop.no_pixels = 1;
    CHECK_MSG(fx_write(tmp_path("nopix.dcm"), &nop, FX_EXPLICIT_LE) == 0, "nopix");
    expect_error(tmp_path("nopix.dcm"), "no pixel data");
    fx_spec huge = nop; /* 10000x10000 claimed: refused before a 400 MB buffer, by size */
    huge.rows = huge.cols = 10000;
    CHECK_MSG(fx_write(tmp_path("huge.dcm"), &huge, FX_EXPLICIT_LE) == 0, "huge");
    expect_error(tmp_path("huge.dcm"), "a mammogram can have");
    fx_spec mf = s;
    mf.frames = 3;
    CHECK_MSG(fx_write(tmp_path("multi.dcm"), &mf, FX_EXPLICIT_LE) == 0, "multi");
    expect_error(tmp_path("multi.dcm"), "multi-frame");
    fx_spec b17 = s;
    b17.bits_stored = 17;
    b17.bits_alloc = 16;
    CHECK_MSG(fx_write(tmp_path("b17.dcm"), &b17, FX_EXPLICIT_LE) == 0, "b17");
    expect_error(tmp_path("b17.dcm"), "more than 16 bits");
    fx_spec rgb = s;
    rgb.photometric = "PALETTE COLOR";
    CHECK_MSG(fx_write(tmp_path("pal.dcm"), &rgb, FX_EXPLICIT_LE) == 0, "palette");
    expect_error(tmp_path("pal.dcm"), "only MONOCHROME1/2");
    char err[64];
    CHECK_MSG(dcm_image_load(NULL, &(dcm_image){0}, err, sizeof err) == -1, "NULL path");
    CHECK_MSG(dcm_image_load(tmp_path("full.dcm"), NULL, err, sizeof err) == -1, "NULL out");
}

/* Corrupted compressed data (bytes flipped in the pixel stream) must give pixels or an
 * error, never a crash (run under ASan/UBSan in CI). */
static void test_corrupt(void) {
    static uint16_t px[R * C];
    fx_mammo(px, R, C, 12, 13, NULL);
    fx_spec s = {.rows = R, .cols = C, .bits_stored = 12, .pixels = px};
    fx_syntax sx[] = {FX_DEFLATE, FX_RLE, FX_JPEG_LOSSLESS_SV1, FX_JPEG_EXTENDED, FX_JPEGLS_LOSSLESS, FX_J2K_LOSSLESS};
    uint32_t st = 12345;
    int loaded = 0, refused = 0;
    for (size_t k = 0; k < sizeof sx / sizeof sx[0]; k++) {
        const char *src = tmp_path("corrupt-src.dcm"), *dst = tmp_path("corrupt.dcm");
        if (fx_write(src, &s, sx[k]) != 0) {
            CHECK_MSG(0, "write %s", fx_syntax_name(sx[k]));
            continue;
        }
        FILE *f = fopen(src, "rb");
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        rewind(f);
        unsigned char *buf = malloc((size_t)n), *mut = malloc((size_t)n);
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
        fclose(f);
        for (int trial = 0; trial < 25 && n > 0; trial++) {
            memcpy(mut, buf, (size_t)n);
            int flips = 1 + trial % 8;
            for (int j = 0; j < flips; j++) {
                st = st * 1103515245u + 12345u;
                long pos = n / 2 + (long)((st >> 8) % (uint32_t)(n / 2)); /* the pixel data half */
                st = st * 1103515245u + 12345u;
                mut[pos] ^= (unsigned char)(1 + (st >> 16) % 255);
            }
            FILE *g = fopen(dst, "wb");
            fwrite(mut, 1, (size_t)n, g);
            fclose(g);
            dcm_image img;
            char err[512] = "";
            int rc = dcm_image_load(dst, &img, err, sizeof err);
            if (rc == 0) {
                loaded++;
                CHECK_MSG(img.pixels && img.rows == R && img.cols == C, "corrupt %s: bad image", fx_syntax_name(sx[k]));
                int finite = 1;
                for (int i = 0; i < R * C; i++) finite &= img.pixels[i] >= 0.0f && img.pixels[i] <= 1.0f;
                CHECK_MSG(finite, "corrupt %s: values outside [0,1]", fx_syntax_name(sx[k]));
            } else {
                refused++;
                CHECK_MSG(err[0] && img.pixels == NULL, "corrupt %s: error without message", fx_syntax_name(sx[k]));
            }
            dcm_image_free(&img);
        }
        free(buf);
        free(mut);
    }
    printf("corrupted files: %d decoded (damage inside the entropy-coded data), %d refused\n", loaded, refused);
    CHECK_MSG(refused > 0, "no corrupted file was refused");
}

/* JPEG 2000 at reduced resolution: the low-pass image, close to a 2x2 box average of the
 * full decode, and close model input; other syntaxes ignore the request. */
static void test_scaled(void) {
    static uint16_t px[R * C];
    fx_mammo(px, R, C, 12, 17, NULL);
    fx_spec s = {.rows = R, .cols = C, .bits_stored = 12, .pixels = px, .has_window = 1, .wc = 2048,
                 .ww = 4096, .voi_function = "LINEAR_EXACT"};
    const char *j2k = tmp_path("scaled-j2k.dcm"), *rle = tmp_path("scaled-rle.dcm");
    if (fx_write(j2k, &s, FX_J2K_LOSSLESS) || fx_write(rle, &s, FX_RLE)) {
        CHECK_MSG(0, "scaled files");
        return;
    }
    dcm_image full = {0}, half = {0}, same = {0}, big = {0};
    char err[512];
    CHECK_MSG(dcm_image_load(j2k, &full, err, sizeof err) == 0, "full: %s", err);
    CHECK_MSG(dcm_image_load_scaled(j2k, 40, &half, err, sizeof err) == 0, "scaled: %s", err);
    CHECK_MSG(dcm_image_load_scaled(rle, 40, &same, err, sizeof err) == 0, "rle scaled: %s", err);
    CHECK_MSG(dcm_image_load_scaled(j2k, 1000, &big, err, sizeof err) == 0, "min side above the size: %s", err);
    if (full.pixels && half.pixels && same.pixels && big.pixels) {
        CHECK_MSG(half.rows == R / 2 && half.cols == C / 2 && half.scale_log2 == 1, "scaled %dx%d (log2 %d)", half.rows,
                  half.cols, half.scale_log2);
        CHECK_MSG(half.info.rows == R && half.info.columns == C, "info keeps the file's size");
        CHECK_MSG(same.rows == R && same.cols == C && same.scale_log2 == 0, "RLE ignores the request");
        CHECK_MSG(big.rows == R && big.scale_log2 == 0, "no reduction below min_side");
        double sum = 0;
        for (int y = 0; y < half.rows; y++)
            for (int x = 0; x < half.cols; x++) {
                const float *f = full.pixels + (size_t)2 * y * C + 2 * x;
                double box = (f[0] + f[1] + f[C] + f[C + 1]) / 4.0;
                sum += fabs(box - half.pixels[y * half.cols + x]);
            }
        double mean = sum / (half.rows * half.cols);
        printf("j2k reduced x2 vs 2x2 box of the full decode: mean abs diff %g\n", mean);
        /* the 5/3 low-pass is sharper than a box: they differ by about the fixture's pixel
         * noise (amplitude 0.03), not more */
        CHECK_MSG(mean < 0.03, "reduced decode far from the box average: %g", mean);
        prep_config cfg;
        prep_config_default(&cfg);
        cfg.size = 32;
        static float a[3 * 32 * 32], b[3 * 32 * 32];
        prep_box box_a, box_b;
        CHECK_MSG(prep_image_eval(a, full.pixels, full.rows, full.cols, &cfg, &box_a) == MAMA_OK, "eval full");
        CHECK_MSG(prep_image_eval(b, half.pixels, half.rows, half.cols, &cfg, &box_b) == MAMA_OK, "eval half");
        printf("crop full y=%d x=%d h=%d w=%d, reduced x2 y=%d x=%d h=%d w=%d\n", box_a.y0, box_a.x0, box_a.h, box_a.w,
               box_b.y0, box_b.x0, box_b.h, box_b.w);
        sum = 0;
        for (int i = 0; i < 3 * 32 * 32; i++) sum += fabs(a[i] - b[i]);
        printf("j2k reduced x2: model input mean abs diff %g\n", sum / (3 * 32 * 32));
        /* the breast mask's threshold sits near the air level, so the low-pass halo of the
         * edge can add one reduced pixel (2 full ones) to the box: 3% of this 96-column
         * fixture, which moves the resized input by about 0.04 on the mean */
        CHECK_MSG(abs(box_a.w - 2 * box_b.w) <= 2 && abs(box_a.h - 2 * box_b.h) <= 2, "boxes differ by more than one reduced pixel");
        CHECK_MSG(sum / (3 * 32 * 32) < 0.05, "model input from the reduced decode differs: %g", sum / (3 * 32 * 32));
    }
    dcm_image_free(&full);
    dcm_image_free(&half);
    dcm_image_free(&same);
    dcm_image_free(&big);
}

static void *load_many(void *arg) {
    const char *path = arg;
    for (int i = 0; i < 4; i++) {
        dcm_image img = {0};
        char err[256];
        if (dcm_image_load(path, &img, err, sizeof err) != 0) return (void *)1;
        dcm_image_free(&img);
    }
    return NULL;
}

static void test_threads(void) {
    const char *files[4] = {"rle.dcm", "jpegls-lossless.dcm", "j2k-lossless.dcm", "jpeg-lossless-sv1.dcm"};
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, load_many, (void *)tmp_path(files[i]));
    for (int i = 0; i < 4; i++) {
        void *r = NULL;
        pthread_join(th[i], &r);
        CHECK_MSG(r == NULL, "thread %d failed to load %s", i, files[i]);
    }
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/mama_pixel_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_syntaxes();
    test_voi();
    test_mono1_mono2();
    test_info();
    test_bad_inputs();
    test_threads();
    test_corrupt();
    test_scaled();
    check_remove_dir(dir);
    return check_done("test_dcm_image");
}
