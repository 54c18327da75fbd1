/* preprocess.c: breast crop, antialiased resize, augmentations and normalisation
 * that turn a [0,1] grayscale mammogram into the model's (3,S,S) input.
 *
 * Legend: H, W source rows/cols; OH, OW resized rows/cols; S model side; 3 channels.
 * The crop box comes from breast_mask.c. See preprocess.h for the pipeline and the choice of filter. */
#include "engine/vision/preprocess.h"

#include "engine/vision/breast_mask.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void prep_config_default(prep_config *out_cfg) {
    out_cfg->size = PREP_DEFAULT_SIZE;
    for (int c = 0; c < 3; c++) {
        out_cfg->mean[c] = 0.5f;
        out_cfg->std[c] = 0.5f;
    }
    out_cfg->crop = 1;
}

void prep_aug_config_default(prep_aug_config *out_aug) {
    out_aug->scale_min = 0.1f;
    out_aug->scale_max = 1.0f;
    out_aug->ratio_min = 3.0f / 4.0f;
    out_aug->ratio_max = 4.0f / 3.0f;
    out_aug->p_hflip = 0.5f;
    out_aug->p_vflip = 0.5f;
    out_aug->jitter = 0.8f;
    out_aug->p_jitter = 0.8f;
    out_aug->blur_kernel = 7;
    out_aug->blur_sigma_min = 0.1f;
    out_aug->blur_sigma_max = 2.0f;
    out_aug->p_blur = 0.4f;
}

/* ---- random draws (torchvision's order of draws is not reproduced, only the laws) */

static double uniform_in(mama_rng *rng, double lo, double hi) {
    return lo + (hi - lo) * mama_rng_uniform(rng);
}

/* Integer in [lo, hi) (hi > lo). */
static int randint(mama_rng *rng, int lo, int hi) {
    int v = lo + (int)(mama_rng_uniform(rng) * (double)(hi - lo));
    return v < hi ? v : hi - 1;
}

/* ---- Otsu and the breast box ---- */

static int bin_of(float v) {
    float x = v * 256.0f;
    if (!(x >= 0.0f)) return 0; /* also NaN */
    int b = (int)x;
    return b > 255 ? 255 : b;
}

float prep_otsu_threshold(const float *img, int H, int W) {
    /* four sub-histograms break the store-to-load dependency between equal bins */
    uint32_t sub[4][256];
    memset(sub, 0, sizeof sub);
    size_t n = (size_t)H * (size_t)W, i = 0;
    for (; i + 4 <= n; i += 4) {
        sub[0][bin_of(img[i])]++;
        sub[1][bin_of(img[i + 1])]++;
        sub[2][bin_of(img[i + 2])]++;
        sub[3][bin_of(img[i + 3])]++;
    }
    for (; i < n; i++) sub[0][bin_of(img[i])]++;
    double hist[256];
    for (int b = 0; b < 256; b++) hist[b] = (double)sub[0][b] + sub[1][b] + sub[2][b] + sub[3][b];
    double total = (double)n, sum_all = 0.0;
    for (int b = 0; b < 256; b++) sum_all += b * hist[b];
    double w0 = 0.0, sum0 = 0.0, best = -1.0;
    int best_k = 255;
    for (int k = 0; k < 255; k++) {
        w0 += hist[k];
        sum0 += k * hist[k];
        double w1 = total - w0;
        if (w0 <= 0.0 || w1 <= 0.0) continue;
        double m0 = sum0 / w0, m1 = (sum_all - sum0) / w1;
        double between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if (between > best) {
            best = between;
            best_k = k;
        }
    }
    return (float)(best_k + 1) / 256.0f;
}

/* Connected components by runs: each row's foreground runs are united (union-find) with
 * the runs of the row above that touch them, 8-connected (overlap or diagonal contact).
 * Exact, and far cheaper than a pixel flood fill: a mammogram has few runs per row. */
typedef struct run {
    int32_t y, x0, x1; /* inclusive */
    int32_t parent;
} run;

static int32_t run_find(run *r, int32_t i) {
    while (r[i].parent != i) {
        r[i].parent = r[r[i].parent].parent;
        i = r[i].parent;
    }
    return i;
}

static void run_union(run *r, int32_t a, int32_t b) {
    a = run_find(r, a);
    b = run_find(r, b);
    if (a == b) return;
    if (a < b) r[b].parent = a; /* the root is the component's first run in raster order */
    else r[a].parent = b;
}

mama_status prep_breast_box(prep_box *out_box, const float *img, int H, int W, float t) {
    if (H <= 0 || W <= 0) return mama_errorf(MAMA_EINVAL, "breast box: empty image %dx%d", H, W);
    size_t cap = 1024, n = 0;
    run *runs = malloc(cap * sizeof *runs);
    if (!runs) return mama_errorf(MAMA_ENOMEM, "breast box: no memory for a %dx%d mask", H, W);
    size_t prev_start = 0, prev_end = 0; /* runs of the row above: [prev_start, prev_end) */
    for (int y = 0; y < H; y++) {
        const float *row = img + (size_t)y * W;
        size_t cur_start = n, p = prev_start;
        int x = 0;
        while (x < W) {
            while (x < W && !(row[x] >= t)) x++;
            if (x >= W) break;
            int x0 = x;
            while (x < W && row[x] >= t) x++;
            if (n == cap) {
                run *grown = realloc(runs, 2 * cap * sizeof *runs);
                if (!grown) {
                    free(runs);
                    return mama_errorf(MAMA_ENOMEM, "breast box: no memory for the runs of a %dx%d mask", H, W);
                }
                runs = grown;
                cap *= 2;
            }
            runs[n] = (run){y, x0, x - 1, (int32_t)n};
            /* runs above touching [x0-1, x-1+1]; p only moves forward */
            while (p < prev_end && runs[p].x1 < x0 - 1) p++;
            for (size_t q = p; q < prev_end && runs[q].x0 <= x; q++) run_union(runs, (int32_t)q, (int32_t)n);
            n++;
        }
        prev_start = cur_start;
        prev_end = n;
    }
    prep_box best = {0, 0, H, W};
    if (n > 0) {
        /* per root: pixel count and box, accumulated in the root's slot of side arrays */
        int64_t *count = calloc(n, sizeof *count);
        int32_t *bx = malloc(n * 4 * sizeof *bx); /* y0 x0 y1 x1 */
        if (!count || !bx) {
            free(count);
            free(bx);
            free(runs);
            return mama_errorf(MAMA_ENOMEM, "breast box: no memory for %zu runs", n);
        }
        for (size_t i = 0; i < n; i++) {
            int32_t r = run_find(runs, (int32_t)i);
            int32_t *b = bx + 4 * (size_t)r;
            if (count[r] == 0) {
                b[0] = runs[i].y;
                b[1] = runs[i].x0;
                b[2] = runs[i].y;
                b[3] = runs[i].x1;
            }
            count[r] += runs[i].x1 - runs[i].x0 + 1;
            if (runs[i].y > b[2]) b[2] = runs[i].y;
            if (runs[i].x0 < b[1]) b[1] = runs[i].x0;
            if (runs[i].x1 > b[3]) b[3] = runs[i].x1;
        }
        int64_t best_count = 0;
        for (size_t i = 0; i < n; i++) /* roots in raster order: ties go to the first */
            if (count[i] > best_count) {
                best_count = count[i];
                const int32_t *b = bx + 4 * i;
                best = (prep_box){b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1};
            }
        free(count);
        free(bx);
    }
    free(runs);
    *out_box = best;
    return MAMA_OK;
}

/* ---- antialiased bilinear resize ---- */

typedef struct taps {
    int *start, *count; /* (O) first input index and number of taps per output */
    float *w;           /* (O, maxn) normalised weights */
    int maxn;
} taps;

static void taps_free(taps *t) {
    free(t->start);
    free(t->count);
    free(t->w);
}

/* Triangle filter taps mapping `in` samples to `out` samples (PIL / PyTorch antialias):
 * scale = in/out; support = max(scale, 1); centre of output i is scale*(i+0.5). */
static int taps_make(taps *t, int in, int out) {
    double scale = (double)in / (double)out;
    double support = scale >= 1.0 ? scale : 1.0;
    double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
    t->maxn = (int)ceil(support) * 2 + 1;
    t->start = malloc(sizeof(int) * (size_t)out);
    t->count = malloc(sizeof(int) * (size_t)out);
    t->w = malloc(sizeof(float) * (size_t)out * (size_t)t->maxn);
    if (!t->start || !t->count || !t->w) {
        taps_free(t);
        return -1;
    }
    for (int i = 0; i < out; i++) {
        double center = scale * (i + 0.5);
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in) xmax = in;
        int cnt = xmax - xmin;
        if (cnt > t->maxn) cnt = t->maxn;
        double ws[64], *wv = cnt <= 64 ? ws : malloc(sizeof(double) * (size_t)cnt);
        double total = 0.0;
        for (int j = 0; j < cnt; j++) {
            double x = (j + xmin - center + 0.5) * invscale;
            double v = fabs(x) < 1.0 ? 1.0 - fabs(x) : 0.0;
            wv[j] = v;
            total += v;
        }
        float *row = t->w + (size_t)i * t->maxn;
        for (int j = 0; j < t->maxn; j++) row[j] = 0.0f;
        for (int j = 0; j < cnt; j++) row[j] = (float)(total > 0.0 ? wv[j] / total : 0.0);
        if (wv != ws) free(wv);
        t->start[i] = xmin;
        t->count[i] = cnt;
    }
    return 0;
}

mama_status prep_resize(float *out, int OH, int OW, const float *img, int stride,
                        prep_box box) {
    if (OH <= 0 || OW <= 0 || box.h <= 0 || box.w <= 0)
        return mama_errorf(MAMA_EINVAL, "resize: bad sizes %dx%d -> %dx%d", box.h, box.w, OH, OW);
    taps tx = {0}, ty = {0};
    float *tmp = NULL;
    if (taps_make(&tx, box.w, OW) || taps_make(&ty, box.h, OH)) goto fail;
    tmp = malloc(sizeof(float) * (size_t)box.h * (size_t)OW); /* (box.h, OW) */
    if (!tmp) goto fail;
    /* horizontal pass over every row of the box */
    for (int y = 0; y < box.h; y++) {
        const float *src = img + (size_t)(box.y0 + y) * stride + box.x0;
        float *dst = tmp + (size_t)y * OW;
        for (int j = 0; j < OW; j++) {
            const float *w = tx.w + (size_t)j * tx.maxn;
            const float *s = src + tx.start[j];
            float acc = 0.0f;
            for (int k = 0; k < tx.count[j]; k++) acc += w[k] * s[k];
            dst[j] = acc;
        }
    }
    /* vertical pass */
    for (int i = 0; i < OH; i++) {
        const float *w = ty.w + (size_t)i * ty.maxn;
        float *dst = out + (size_t)i * OW;
        for (int j = 0; j < OW; j++) dst[j] = 0.0f;
        for (int k = 0; k < ty.count[i]; k++) {
            const float *s = tmp + (size_t)(ty.start[i] + k) * OW;
            float wk = w[k];
            for (int j = 0; j < OW; j++) dst[j] += wk * s[j];
        }
    }
    free(tmp);
    taps_free(&tx);
    taps_free(&ty);
    return MAMA_OK;
fail:
    free(tmp);
    taps_free(&tx);
    taps_free(&ty);
    return mama_errorf(MAMA_ENOMEM, "resize: no memory for %dx%d -> %dx%d", box.h, box.w, OH, OW);
}

void prep_to_model_input(float *out, const float *img, int S, const float mean[3],
                         const float std[3]) {
    size_t n = (size_t)S * (size_t)S;
    for (int c = 0; c < 3; c++) {
        float m = mean[c], inv = 1.0f / std[c];
        float *o = out + (size_t)c * n;
        for (size_t i = 0; i < n; i++) o[i] = (img[i] - m) * inv;
    }
}

mama_status prep_crop_resize_info(float *out, int OH, int OW, const float *img, int H,
                                  int W, int crop, prep_box *out_box,
                                  breast_mask_info *out_info) {
    if (!img || H <= 0 || W <= 0)
        return mama_errorf(MAMA_EINVAL, "preprocess: empty image %dx%d", H, W);
    prep_box box = {0, 0, H, W};
    if (crop) {
        breast_mask_info info;
        mama_status rc = breast_mask_compute(img, H, W, NULL, &info);
        if (rc != MAMA_OK) return rc;
        box = info.box;
        if (out_info) *out_info = info;
    }
    if (out_box) *out_box = box;
    return prep_resize(out, OH, OW, img, W, box);
}

mama_status prep_crop_resize(float *out, int OH, int OW, const float *img, int H, int W,
                             int crop, prep_box *out_box) {
    return prep_crop_resize_info(out, OH, OW, img, H, W, crop, out_box, NULL);
}

static int check_cfg(const prep_config *cfg) {
    if (cfg->size <= 0 || cfg->size > 8192) return -1;
    for (int c = 0; c < 3; c++)
        if (!(cfg->std[c] > 0.0f)) return -1;
    return 0;
}

mama_status prep_image_eval(float *out, const float *img, int H, int W,
                            const prep_config *cfg, prep_box *out_box) {
    return prep_image_eval_info(out, img, H, W, cfg, out_box, NULL);
}

mama_status prep_image_eval_info(float *out, const float *img, int H, int W,
                                 const prep_config *cfg, prep_box *out_box,
                                 breast_mask_info *out_info) {
    if (check_cfg(cfg)) return mama_errorf(MAMA_EINVAL, "preprocess: bad size %d or std", cfg->size);
    int S = cfg->size;
    float *gray = malloc(sizeof(float) * (size_t)S * (size_t)S);
    if (!gray) return mama_errorf(MAMA_ENOMEM, "preprocess: no memory for %dx%d", S, S);
    mama_status rc = prep_crop_resize_info(gray, S, S, img, H, W, cfg->crop, out_box, out_info);
    if (rc == MAMA_OK) prep_to_model_input(out, gray, S, cfg->mean, cfg->std);
    free(gray);
    return rc;
}

/* ---- augmentations ---- */

void prep_rrc_params(prep_box *out_box, int H, int W, const prep_aug_config *aug,
                     mama_rng *rng) {
    double area = (double)H * (double)W;
    double lr0 = log(aug->ratio_min), lr1 = log(aug->ratio_max);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * uniform_in(rng, aug->scale_min, aug->scale_max);
        double ratio = exp(uniform_in(rng, lr0, lr1));
        int w = (int)lround(sqrt(target * ratio));
        int h = (int)lround(sqrt(target / ratio));
        if (w > 0 && w <= W && h > 0 && h <= H) {
            int y0 = randint(rng, 0, H - h + 1);
            int x0 = randint(rng, 0, W - w + 1);
            *out_box = (prep_box){y0, x0, h, w};
            return;
        }
    }
    double in_ratio = (double)W / (double)H;
    int w, h;
    if (in_ratio < aug->ratio_min) {
        w = W;
        h = (int)lround(w / aug->ratio_min);
    } else if (in_ratio > aug->ratio_max) {
        h = H;
        w = (int)lround(h * aug->ratio_max);
    } else {
        w = W;
        h = H;
    }
    if (h < 1) h = 1;
    if (w < 1) w = 1;
    if (h > H) h = H;
    if (w > W) w = W;
    *out_box = (prep_box){(H - h) / 2, (W - w) / 2, h, w};
}

static float clamp01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

void prep_jitter(float *out, const float *in, size_t N, float b, float c, int order) {
    if (out != in) memcpy(out, in, sizeof(float) * N);
    for (int step = 0; step < 2; step++) {
        int brightness = (step == 0) == (order == 0);
        if (brightness) {
            for (size_t i = 0; i < N; i++) out[i] = clamp01(out[i] * b);
        } else {
            double sum = 0.0;
            for (size_t i = 0; i < N; i++) sum += out[i];
            float mean = N ? (float)(sum / (double)N) : 0.0f;
            for (size_t i = 0; i < N; i++) out[i] = clamp01(c * out[i] + (1.0f - c) * mean);
        }
    }
}

/* Reflect an index into [0, n) without repeating the edge (PyTorch "reflect"). */
static int reflect(int i, int n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n) {
        if (i < 0) i = -i;
        if (i >= n) i = 2 * (n - 1) - i;
    }
    return i;
}

mama_status prep_blur(float *out, const float *in, int H, int W, int k, float sigma) {
    if (k < 1 || k % 2 == 0 || k > 63 || !(sigma > 0.0f))
        return mama_errorf(MAMA_EINVAL, "blur: kernel %d must be odd 1..63, sigma %g > 0", k, sigma);
    float kern[63];
    double total = 0.0;
    int r = k / 2;
    for (int i = 0; i < k; i++) {
        double x = (double)(i - r) / sigma;
        kern[i] = (float)exp(-0.5 * x * x);
        total += kern[i];
    }
    for (int i = 0; i < k; i++) kern[i] = (float)(kern[i] / total);
    float *tmp = malloc(sizeof(float) * (size_t)H * (size_t)W);
    if (!tmp) return mama_errorf(MAMA_ENOMEM, "blur: no memory for %dx%d", H, W);
    for (int y = 0; y < H; y++) {
        const float *s = in + (size_t)y * W;
        float *d = tmp + (size_t)y * W;
        for (int x = 0; x < W; x++) {
            float acc = 0.0f;
            for (int i = 0; i < k; i++) acc += kern[i] * s[reflect(x + i - r, W)];
            d[x] = acc;
        }
    }
    for (int y = 0; y < H; y++) {
        float *d = out + (size_t)y * W;
        for (int x = 0; x < W; x++) {
            float acc = 0.0f;
            for (int i = 0; i < k; i++) acc += kern[i] * tmp[(size_t)reflect(y + i - r, H) * W + x];
            d[x] = acc;
        }
    }
    free(tmp);
    return MAMA_OK;
}

mama_status prep_image_train(float *out, const float *img, int H, int W,
                             const prep_config *cfg, const prep_aug_config *aug,
                             mama_rng *rng) {
    if (check_cfg(cfg)) return mama_errorf(MAMA_EINVAL, "preprocess: bad size %d or std", cfg->size);
    if (!img || H <= 0 || W <= 0)
        return mama_errorf(MAMA_EINVAL, "preprocess: empty image %dx%d", H, W);
    int S = cfg->size;
    size_t n = (size_t)S * (size_t)S;
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    if (!a || !b) {
        free(a);
        free(b);
        return mama_errorf(MAMA_ENOMEM, "preprocess: no memory for %dx%d", S, S);
    }
    mama_status rc = MAMA_OK;
    prep_box box = {0, 0, H, W};
    if (cfg->crop) {
        breast_mask_info info;
        rc = breast_mask_compute(img, H, W, NULL, &info);
        if (rc != MAMA_OK) goto done;
        box = info.box;
    }
    prep_box sub;
    prep_rrc_params(&sub, box.h, box.w, aug, rng);
    sub.y0 += box.y0;
    sub.x0 += box.x0;
    rc = prep_resize(a, S, S, img, W, sub);
    if (rc != MAMA_OK) goto done;
    if (mama_rng_uniform(rng) < aug->p_hflip)
        for (int y = 0; y < S; y++) {
            float *row = a + (size_t)y * S;
            for (int x = 0; x < S / 2; x++) {
                float t = row[x];
                row[x] = row[S - 1 - x];
                row[S - 1 - x] = t;
            }
        }
    if (mama_rng_uniform(rng) < aug->p_vflip)
        for (int y = 0; y < S / 2; y++) {
            float *r0 = a + (size_t)y * S, *r1 = a + (size_t)(S - 1 - y) * S;
            for (int x = 0; x < S; x++) {
                float t = r0[x];
                r0[x] = r1[x];
                r1[x] = t;
            }
        }
    if (mama_rng_uniform(rng) < aug->p_jitter) {
        double lo = aug->jitter < 1.0f ? 1.0 - aug->jitter : 0.0, hi = 1.0 + aug->jitter;
        int order = mama_rng_uniform(rng) < 0.5 ? 0 : 1;
        float fb = (float)uniform_in(rng, lo, hi);
        float fc = (float)uniform_in(rng, lo, hi);
        prep_jitter(a, a, n, fb, fc, order);
    }
    if (mama_rng_uniform(rng) < aug->p_blur) {
        float sigma = (float)uniform_in(rng, aug->blur_sigma_min, aug->blur_sigma_max);
        rc = prep_blur(b, a, S, S, aug->blur_kernel, sigma);
        if (rc != MAMA_OK) goto done;
        float *t = a;
        a = b;
        b = t;
    }
    prep_to_model_input(out, a, S, cfg->mean, cfg->std);
done:
    free(a);
    free(b);
    return rc;
}
