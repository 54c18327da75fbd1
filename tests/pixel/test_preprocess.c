/* test_preprocess.c: Otsu, the breast box, the resize filter (against PyTorch's
 * antialiased bilinear dump and a naive 2D version), normalisation, the augmentations
 * (against naive versions, ranges, determinism for a seed) and the eval path. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "engine/vision/preprocess.h"
#include "pixel_fixture.h"

static uint64_t lcg = 88172645463325252ULL;
static float frand(void) {
    lcg ^= lcg << 13;
    lcg ^= lcg >> 7;
    lcg ^= lcg << 17;
    return (float)((lcg >> 11) * 0x1.0p-53);
}

/* ---- Otsu: the histogram version against minimum within-class variance over pixels */
static float naive_otsu(const float *img, size_t n) {
    double best = INFINITY;
    int best_k = 255;
    for (int k = 0; k < 255; k++) {
        double s[2] = {0, 0}, ss[2] = {0, 0}, c[2] = {0, 0};
        for (size_t i = 0; i < n; i++) {
            int b = (int)(img[i] * 256.0f);
            b = b < 0 ? 0 : b > 255 ? 255 : b;
            int cls = b > k;
            s[cls] += b;
            ss[cls] += (double)b * b;
            c[cls] += 1;
        }
        if (c[0] == 0 || c[1] == 0) continue;
        double within = (ss[0] - s[0] * s[0] / c[0]) + (ss[1] - s[1] * s[1] / c[1]);
        if (best_k == 255 || within < best - 1e-9 * fabs(best)) {
            best = within;
            best_k = k;
        }
    }
    return (best_k + 1) / 256.0f;
}

static void test_otsu(void) {
    enum { N = 4000 };
    static float img[N];
    for (int trial = 0; trial < 5; trial++) {
        float m0 = 0.1f + 0.05f * trial, m1 = 0.6f + 0.04f * trial;
        for (int i = 0; i < N; i++) {
            float u = frand() + frand() + frand() - 1.5f;
            img[i] = (i % 3 ? m0 : m1) + 0.12f * u;
            img[i] = img[i] < 0 ? 0 : img[i] > 1 ? 1 : img[i];
        }
        float t = prep_otsu_threshold(img, 1, N), tn = naive_otsu(img, N);
        CHECK_MSG(fabsf(t - tn) < 1e-7f, "trial %d: otsu %g naive %g", trial, t, tn);
        CHECK_MSG(t > m0 && t < m1, "threshold %g between the modes %g %g", t, m0, m1);
    }
    float flat[100];
    for (int i = 0; i < 100; i++) flat[i] = 0.3f;
    CHECK_MSG(prep_otsu_threshold(flat, 10, 10) == 1.0f, "constant image: t = 1");
}

/* ---- components: naive label propagation (min index) against the BFS version */
static void naive_largest_box(const uint8_t *fg, int H, int W, prep_box *out) {
    int n = H * W;
    int *lab = malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) lab[i] = fg[i] ? i : -1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int i = y * W + x;
                if (lab[i] < 0) continue;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int yy = y + dy, xx = x + dx;
                        if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                        int j = yy * W + xx;
                        if (lab[j] >= 0 && lab[j] < lab[i]) {
                            lab[i] = lab[j];
                            changed = 1;
                        }
                    }
            }
    }
    int *count = calloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++)
        if (lab[i] >= 0) count[lab[i]]++;
    int best = -1;
    for (int i = 0; i < n; i++)
        if (count[i] > 0 && (best < 0 || count[i] > count[best])) best = i;
    *out = (prep_box){0, 0, H, W};
    if (best >= 0) {
        int y0 = H, y1 = -1, x0 = W, x1 = -1;
        for (int i = 0; i < n; i++)
            if (lab[i] == best) {
                int y = i / W, x = i % W;
                y0 = y < y0 ? y : y0;
                y1 = y > y1 ? y : y1;
                x0 = x < x0 ? x : x0;
                x1 = x > x1 ? x : x1;
            }
        *out = (prep_box){y0, x0, y1 - y0 + 1, x1 - x0 + 1};
    }
    free(lab);
    free(count);
}

static void test_components(void) {
    enum { H = 45, W = 37 };
    static float img[H * W];
    static uint8_t fg[H * W];
    for (int trial = 0; trial < 20; trial++) {
        float density = 0.3f + 0.02f * trial;
        for (int i = 0; i < H * W; i++) {
            img[i] = frand() < density ? 0.9f : 0.1f;
            fg[i] = img[i] >= 0.5f;
        }
        prep_box a, b;
        CHECK_MSG(prep_breast_box(&a, img, H, W, 0.5f) == MAMA_OK, "box");
        naive_largest_box(fg, H, W, &b);
        CHECK_MSG(a.y0 == b.y0 && a.x0 == b.x0 && a.h == b.h && a.w == b.w,
                  "trial %d: box (%d,%d,%d,%d) naive (%d,%d,%d,%d)", trial, a.y0, a.x0, a.h, a.w, b.y0,
                  b.x0, b.h, b.w);
    }
    for (int i = 0; i < H * W; i++) img[i] = 0.2f;
    prep_box a;
    CHECK_MSG(prep_breast_box(&a, img, H, W, 0.5f) == MAMA_OK && a.h == H && a.w == W, "empty: whole image");
}

/* ---- the breast box on the synthetic mammogram keeps the breast and drops the label */
static void test_breast_crop(void) {
    enum { H = 300, W = 240 };
    static uint16_t px[H * W];
    static float img[H * W];
    int truth[4];
    fx_mammo(px, H, W, 12, 11, truth);
    for (int i = 0; i < H * W; i++) img[i] = px[i] / 4095.0f;
    prep_box box;
    float t = prep_otsu_threshold(img, H, W);
    CHECK_MSG(prep_breast_box(&box, img, H, W, t) == MAMA_OK, "box");
    CHECK_MSG(abs(box.y0 - truth[0]) <= 2 && abs(box.x0 - truth[1]) <= 2 && abs(box.h - truth[2]) <= 4 &&
              abs(box.w - truth[3]) <= 4,
              "box (%d,%d,%d,%d) vs breast (%d,%d,%d,%d)", box.y0, box.x0, box.h, box.w, truth[0], truth[1],
              truth[2], truth[3]);
    CHECK_MSG(box.x0 + box.w < W - 2 - H / 12, "the label (top right) is outside the crop");
}

/* ---- resize */
static void naive_resize(double *out, int OH, int OW, const float *img, int stride, prep_box b) {
    /* direct 2D sum with triangle weights computed independently per output pixel */
    for (int i = 0; i < OH; i++)
        for (int j = 0; j < OW; j++) {
            double sy = (double)b.h / OH, sx = (double)b.w / OW;
            double supy = sy > 1 ? sy : 1, supx = sx > 1 ? sx : 1;
            double cy = sy * (i + 0.5), cx = sx * (j + 0.5);
            double acc = 0, wsum = 0;
            for (int y = 0; y < b.h; y++)
                for (int x = 0; x < b.w; x++) {
                    double dy = fabs(y + 0.5 - cy) / supy, dx = fabs(x + 0.5 - cx) / supx;
                    double w = (dy < 1 ? 1 - dy : 0) * (dx < 1 ? 1 - dx : 0);
                    acc += w * img[(size_t)(b.y0 + y) * stride + b.x0 + x];
                    wsum += w;
                }
            out[i * OW + j] = acc / wsum;
        }
}

static void test_resize(void) {
    char path[1024];
    const char *root = getenv("MAMA_SOURCE_ROOT");
    snprintf(path, sizeof path, "%s/tests/pixel/ref/resize_ref.bin", root ? root : ".");
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (f) {
        char magic[8];
        int32_t ncases = 0;
        CHECK_MSG(fread(magic, 1, 8, f) == 8 && !memcmp(magic, "MAMARSZ1", 8), "magic");
        CHECK_MSG(fread(&ncases, 4, 1, f) == 1 && ncases > 0 && ncases < 100, "ncases");
        for (int c = 0; c < ncases; c++) {
            int32_t d[4];
            if (fread(d, 4, 4, f) != 4) {
                CHECK_MSG(0, "case %d header", c);
                break;
            }
            int H = d[0], W = d[1], OH = d[2], OW = d[3];
            float *in = malloc(sizeof(float) * H * W), *want = malloc(sizeof(float) * OH * OW),
                  *got = malloc(sizeof(float) * OH * OW);
            double *naive = malloc(sizeof(double) * OH * OW);
            CHECK_MSG(fread(in, 4, (size_t)H * W, f) == (size_t)H * W && fread(want, 4, (size_t)OH * OW, f) == (size_t)OH * OW,
                      "case %d data", c);
            CHECK_MSG(prep_resize(got, OH, OW, in, W, (prep_box){0, 0, H, W}) == MAMA_OK, "resize");
            naive_resize(naive, OH, OW, in, W, (prep_box){0, 0, H, W});
            double e_torch = 0, e_naive = 0;
            for (int i = 0; i < OH * OW; i++) {
                e_torch = fmax(e_torch, fabs(got[i] - want[i]));
                e_naive = fmax(e_naive, fabs(got[i] - naive[i]));
            }
            CHECK_MSG(e_torch < 2e-6, "%dx%d -> %dx%d: max err vs PyTorch %g", H, W, OH, OW, e_torch);
            CHECK_MSG(e_naive < 2e-6, "%dx%d -> %dx%d: max err vs naive %g", H, W, OH, OW, e_naive);
            free(in);
            free(want);
            free(got);
            free(naive);
        }
        fclose(f);
    }
    /* a box inside a larger image (stride, offset) */
    enum { H = 50, W = 60 };
    static float big[H * W];
    for (int i = 0; i < H * W; i++) big[i] = frand();
    prep_box b = {7, 11, 31, 23};
    float got[13 * 40];
    double naive[13 * 40];
    CHECK_MSG(prep_resize(got, 13, 40, big, W, b) == MAMA_OK, "box resize");
    naive_resize(naive, 13, 40, big, W, b);
    double e = 0;
    for (int i = 0; i < 13 * 40; i++) e = fmax(e, fabs(got[i] - naive[i]));
    CHECK_MSG(e < 2e-6, "box resize vs naive: %g", e);
    CHECK_MSG(prep_resize(got, 0, 4, big, W, b) == MAMA_EINVAL, "bad size refused");
}

static void test_model_input(void) {
    float img[4] = {0.0f, 0.25f, 0.5f, 1.0f}, out[12];
    float mean[3] = {0.5f, 0.4f, 0.3f}, std[3] = {0.5f, 0.25f, 2.0f};
    prep_to_model_input(out, img, 2, mean, std);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++)
            CHECK_MSG(fabsf(out[c * 4 + i] - (img[i] - mean[c]) / std[c]) < 1e-6f, "c %d i %d", c, i);
}

/* ---- augmentations */
static void test_jitter_blur(void) {
    enum { H = 23, W = 31, N = H * W };
    static float in[N], out[N], ref[N];
    for (int i = 0; i < N; i++) in[i] = frand();
    for (int order = 0; order < 2; order++) {
        float b = 1.3f, c = 0.6f;
        prep_jitter(out, in, N, b, c, order);
        /* naive */
        for (int i = 0; i < N; i++) ref[i] = in[i];
        for (int step = 0; step < 2; step++) {
            if ((step == 0) == (order == 0)) {
                for (int i = 0; i < N; i++) ref[i] = fminf(1, fmaxf(0, ref[i] * b));
            } else {
                double m = 0;
                for (int i = 0; i < N; i++) m += ref[i];
                m /= N;
                for (int i = 0; i < N; i++) ref[i] = fminf(1, fmaxf(0, (float)(c * ref[i] + (1 - c) * m)));
            }
        }
        double e = 0;
        for (int i = 0; i < N; i++) e = fmax(e, fabs(out[i] - ref[i]));
        CHECK_MSG(e < 1e-6, "jitter order %d: %g", order, e);
    }
    for (int k = 1; k <= 7; k += 2) {
        float sigma = 0.3f + 0.25f * k;
        CHECK_MSG(prep_blur(out, in, H, W, k, sigma) == MAMA_OK, "blur");
        int r = k / 2;
        double kern[7], tot = 0, e = 0;
        for (int i = 0; i < k; i++) tot += kern[i] = exp(-0.5 * ((i - r) / sigma) * ((i - r) / sigma));
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double acc = 0;
                for (int dy = -r; dy <= r; dy++)
                    for (int dx = -r; dx <= r; dx++) {
                        int yy = y + dy, xx = x + dx;
                        yy = yy < 0 ? -yy : yy >= H ? 2 * (H - 1) - yy : yy;
                        xx = xx < 0 ? -xx : xx >= W ? 2 * (W - 1) - xx : xx;
                        acc += kern[dy + r] * kern[dx + r] / (tot * tot) * in[yy * W + xx];
                    }
                e = fmax(e, fabs(acc - out[y * W + x]));
            }
        CHECK_MSG(e < 1e-5, "blur k %d sigma %g vs naive: %g", k, sigma, e);
    }
    CHECK_MSG(prep_blur(out, in, H, W, 4, 1.0f) == MAMA_EINVAL, "even kernel refused");
}

static void test_rrc(void) {
    prep_aug_config aug;
    prep_aug_config_default(&aug);
    mama_rng rng;
    mama_rng_seed(&rng, 42);
    int H = 400, W = 300, fallback = 0;
    double min_frac = 1, max_frac = 0;
    for (int i = 0; i < 2000; i++) {
        prep_box b;
        prep_rrc_params(&b, H, W, &aug, &rng);
        CHECK_MSG(b.y0 >= 0 && b.x0 >= 0 && b.h >= 1 && b.w >= 1 && b.y0 + b.h <= H && b.x0 + b.w <= W,
                  "box (%d,%d,%d,%d) out of the image", b.y0, b.x0, b.h, b.w);
        double frac = (double)b.h * b.w / (H * W), ratio = (double)b.w / b.h;
        if (frac > 0.99 && b.h == H) {
            fallback++;
            continue;
        }
        min_frac = fmin(min_frac, frac);
        max_frac = fmax(max_frac, frac);
        /* rounding of w and h to integers moves ratio and area a little */
        CHECK_MSG(ratio > 0.75 * 0.97 && ratio < 4.0 / 3.0 * 1.03, "ratio %g", ratio);
        CHECK_MSG(frac > 0.1 * 0.95 && frac <= 1.0, "area fraction %g", frac);
    }
    CHECK_MSG(min_frac < 0.12 && max_frac > 0.8, "area fractions span the range: %g..%g", min_frac, max_frac);
    CHECK_MSG(fallback < 200, "fallback used %d times", fallback);
}

static void test_train_determinism(void) {
    enum { H = 160, W = 128, S = 56 };
    static uint16_t px[H * W];
    static float img[H * W];
    fx_mammo(px, H, W, 12, 4, NULL);
    for (int i = 0; i < H * W; i++) img[i] = px[i] / 4095.0f;
    prep_config cfg;
    prep_config_default(&cfg);
    cfg.size = S;
    prep_aug_config aug;
    prep_aug_config_default(&aug);
    static float a[3 * S * S], b[3 * S * S], e[3 * S * S];
    mama_rng r1, r2, r3, r0;
    mama_rng_seed(&r1, 7);
    mama_rng_seed(&r2, 7);
    mama_rng_seed(&r3, 8);
    mama_rng_seed(&r0, 7);
    CHECK_MSG(prep_image_train(a, img, H, W, &cfg, &aug, &r1) == MAMA_OK, "train a");
    CHECK_MSG(prep_image_train(b, img, H, W, &cfg, &aug, &r2) == MAMA_OK, "train b");
    CHECK_MSG(memcmp(a, b, sizeof a) == 0, "same seed, same output");
    CHECK_MSG(memcmp(&r1, &r2, sizeof r1) == 0 && memcmp(&r1, &r0, sizeof r1) != 0, "rng advanced identically");
    int differ = 0;
    for (int k = 0; k < 5 && !differ; k++) {
        CHECK_MSG(prep_image_train(b, img, H, W, &cfg, &aug, &r3) == MAMA_OK, "train c");
        differ = memcmp(a, b, sizeof a) != 0;
    }
    CHECK_MSG(differ, "other seeds give other outputs");
    for (int i = 0; i < 3 * S * S; i++) CHECK_MSG(a[i] >= -1.0f - 1e-6f && a[i] <= 1.0f + 1e-6f, "range %g", a[i]);
    /* with every augmentation off and the full box, training = evaluation */
    prep_aug_config off = aug;
    off.p_hflip = off.p_vflip = off.p_jitter = off.p_blur = 0;
    off.scale_min = off.scale_max = 1.0f;
    off.ratio_min = 0.01f;
    off.ratio_max = 100.0f;
    prep_box box;
    CHECK_MSG(prep_image_eval(e, img, H, W, &cfg, &box) == MAMA_OK, "eval");
    CHECK_MSG(prep_image_train(a, img, H, W, &cfg, &off, &r1) == MAMA_OK, "train off");
    double err = 0;
    for (int i = 0; i < 3 * S * S; i++) err = fmax(err, fabs(a[i] - e[i]));
    CHECK_MSG(err < 1e-6, "augmentations off: train vs eval %g", err);
    /* forced flips mirror the eval output */
    prep_aug_config flip = off;
    flip.p_hflip = 1.0f;
    flip.p_vflip = 1.0f;
    CHECK_MSG(prep_image_train(a, img, H, W, &cfg, &flip, &r1) == MAMA_OK, "train flip");
    err = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                err = fmax(err, fabs(a[(c * S + y) * S + x] - e[(c * S + S - 1 - y) * S + S - 1 - x]));
    CHECK_MSG(err < 1e-6, "flips: %g", err);
    /* forced jitter changes the image but keeps [0,1] gray -> [-1,1] */
    prep_aug_config jit = off;
    jit.p_jitter = 1.0f;
    CHECK_MSG(prep_image_train(a, img, H, W, &cfg, &jit, &r1) == MAMA_OK, "train jitter");
    CHECK_MSG(memcmp(a, e, sizeof a) != 0, "jitter changed the image");
}

int main(void) {
    test_otsu();
    test_components();
    test_breast_crop();
    test_resize();
    test_model_input();
    test_jitter_blur();
    test_rrc();
    test_train_determinism();
    return check_done("test_preprocess");
}
