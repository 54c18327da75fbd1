/* breast_mask.c: breast segmentation that holds on fatty FFDM and on digitised film.
 * See breast_mask.h for the steps and docs/preprocessing.md for why each is there.
 *
 * Legend: H, W full image; h, w working image (factor k); r the opening radius (cells).
 * Masks are bytes (0/1) of the working image; labels int32. */
#include "engine/vision/breast_mask.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORK_SIDE 512
#define FINE_BINS 1024
#define TISSUE_FRACTION 0.15f /* t = b + 0.15 (f - b) */
#define BRIGHT_LEVEL 0.90f    /* labels, clear film: at least this bright ... */
#define FLAT_RANGE 0.10f      /* ... and varying less than this over 3 x 3 cells */
#define DARK_LEVEL 0.12f

typedef struct work {
    int h, w, k, r;
    float *img;      /* (h, w) box-averaged image */
    uint8_t *fg;     /* thresholded, labels and clear film out */
    uint8_t *open;   /* opened fg, then the chosen component, then the final mask */
    uint8_t *tmp;
    uint8_t *m1, *m2; /* first-pass mask; dilations */
    int32_t *label;  /* component labels, also the flood-fill stack */
    int32_t *stack;
} work;

static void work_free(work *wk) {
    free(wk->img);
    free(wk->fg);
    free(wk->open);
    free(wk->tmp);
    free(wk->m1);
    free(wk->m2);
    free(wk->label);
    free(wk->stack);
}

static int work_alloc(work *wk, int H, int W) {
    int side = H > W ? H : W;
    wk->k = (side + WORK_SIDE - 1) / WORK_SIDE;
    wk->h = (H + wk->k - 1) / wk->k;
    wk->w = (W + wk->k - 1) / wk->k;
    int mside = wk->h > wk->w ? wk->h : wk->w;
    wk->r = (int)lround(0.01 * mside);
    if (wk->r < 1) wk->r = 1;
    size_t n = (size_t)wk->h * wk->w;
    wk->img = malloc(n * sizeof *wk->img);
    wk->fg = malloc(n);
    wk->open = malloc(n);
    wk->tmp = malloc(n);
    wk->m1 = malloc(n);
    wk->m2 = malloc(n);
    wk->label = malloc(n * sizeof *wk->label);
    wk->stack = malloc(n * sizeof *wk->stack);
    return wk->img && wk->fg && wk->open && wk->tmp && wk->m1 && wk->m2 && wk->label && wk->stack ? 0 : -1;
}

/* Box average by k: averaging also lowers film grain and quantum noise, so the flatness
 * test and the threshold see the tissue, not the noise. */
static void downsample(work *wk, const float *img, int H, int W) {
    int k = wk->k;
    for (int i = 0; i < wk->h; i++) {
        int y0 = i * k, y1 = y0 + k < H ? y0 + k : H;
        for (int j = 0; j < wk->w; j++) {
            int x0 = j * k, x1 = x0 + k < W ? x0 + k : W;
            double s = 0;
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++) s += img[(size_t)y * W + x];
            wk->img[(size_t)i * wk->w + j] = (float)(s / ((double)(y1 - y0) * (x1 - x0)));
        }
    }
}

static int fine_bin(float v) {
    float x = v * FINE_BINS;
    if (!(x >= 0.0f)) return 0;
    int b = (int)x;
    return b >= FINE_BINS ? FINE_BINS - 1 : b;
}

/* Medians of the dark (v < to) and bright classes of Otsu's split. Returns -1 when the
 * bright class is empty (a constant image). */
static int class_medians(const work *wk, float *out_b, float *out_f) {
    size_t n = (size_t)wk->h * wk->w;
    float to = prep_otsu_threshold(wk->img, wk->h, wk->w);
    static const int nb = FINE_BINS;
    uint32_t *hist = calloc(nb, sizeof *hist);
    if (!hist) return -2;
    size_t n_dark = 0;
    for (size_t i = 0; i < n; i++) {
        hist[fine_bin(wk->img[i])]++;
        n_dark += wk->img[i] < to;
    }
    size_t n_bright = n - n_dark;
    if (n_bright == 0 || n_dark == 0) {
        free(hist);
        return -1;
    }
    /* the bin of the split: bins below it are dark, the rest bright (to is a multiple of
     * 1/256, a bin edge of the fine histogram too) */
    int split = fine_bin(to);
    size_t acc = 0;
    int b = 0, f = split;
    for (b = 0; b < split; b++) {
        acc += hist[b];
        if (acc * 2 >= n_dark) break;
    }
    acc = 0;
    for (f = split; f < nb; f++) {
        acc += hist[f];
        if (acc * 2 >= n_bright) break;
    }
    free(hist);
    *out_b = ((float)b + 0.5f) / nb;
    *out_f = ((float)f + 0.5f) / nb;
    return 0;
}

/* out = erosion (erode = 1) or dilation of in by a (2r+1) square, separably. Cells
 * outside the image are ignored, so a breast cut by the image edge is not eroded there. */
static void morph(uint8_t *out, const uint8_t *in, uint8_t *tmp, int h, int w, int r, int erode) {
    for (int i = 0; i < h; i++) {
        const uint8_t *s = in + (size_t)i * w;
        uint8_t *d = tmp + (size_t)i * w;
        int cnt = 0; /* set cells in [j - r, j + r] */
        for (int x = 0; x < r && x < w; x++) cnt += s[x];
        for (int j = 0; j < w; j++) {
            if (j + r < w) cnt += s[j + r];
            if (j - r - 1 >= 0) cnt -= s[j - r - 1];
            int lo = j - r < 0 ? 0 : j - r, hi = j + r >= w ? w - 1 : j + r;
            d[j] = erode ? cnt == hi - lo + 1 : cnt > 0;
        }
    }
    for (int j = 0; j < w; j++) {
        int cnt = 0;
        for (int y = 0; y < r && y < h; y++) cnt += tmp[(size_t)y * w + j];
        for (int i = 0; i < h; i++) {
            if (i + r < h) cnt += tmp[(size_t)(i + r) * w + j];
            if (i - r - 1 >= 0) cnt -= tmp[(size_t)(i - r - 1) * w + j];
            int lo = i - r < 0 ? 0 : i - r, hi = i + r >= h ? h - 1 : i + r;
            out[(size_t)i * w + j] = erode ? cnt == hi - lo + 1 : cnt > 0;
        }
    }
}

/* 8-connected labels of m (1..n, 0 background) with area and column sum per label.
 * Returns the number of labels or -1 without memory. */
static int label_components(work *wk, const uint8_t *m, int64_t **out_area, double **out_xsum) {
    int h = wk->h, w = wk->w;
    size_t n = (size_t)h * w, cap = 64;
    int64_t *area = malloc(cap * sizeof *area);
    double *xsum = malloc(cap * sizeof *xsum);
    if (!area || !xsum) goto oom;
    memset(wk->label, 0, n * sizeof *wk->label);
    int nl = 0;
    for (size_t p0 = 0; p0 < n; p0++) {
        if (!m[p0] || wk->label[p0]) continue;
        if ((size_t)nl + 1 >= cap) {
            cap *= 2;
            int64_t *a2 = realloc(area, cap * sizeof *area);
            if (a2) area = a2;
            double *x2 = realloc(xsum, cap * sizeof *xsum);
            if (x2) xsum = x2;
            if (!a2 || !x2) goto oom;
        }
        int id = ++nl;
        area[id] = 0;
        xsum[id] = 0;
        size_t top = 0;
        wk->stack[top++] = (int32_t)p0;
        wk->label[p0] = id;
        while (top) {
            int32_t p = wk->stack[--top];
            int y = p / w, x = p % w;
            area[id]++;
            xsum[id] += x;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = y + dy, xx = x + dx;
                    if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                    size_t q = (size_t)yy * w + xx;
                    if (m[q] && !wk->label[q]) {
                        wk->label[q] = id;
                        wk->stack[top++] = (int32_t)q;
                    }
                }
        }
    }
    *out_area = area;
    *out_xsum = xsum;
    return nl;
oom:
    free(area);
    free(xsum);
    return -1;
}

/* Otsu's split of the cells below `to` (1024 bins); returns the median of the upper part
 * when it holds at least 3% of the image, else -1. */
static float dark_upper_median(const work *wk, float to) {
    size_t n = (size_t)wk->h * wk->w;
    int top = fine_bin(to);
    if (top < 2) return -1.0f;
    double *hist = calloc((size_t)top, sizeof *hist);
    if (!hist) return -1.0f;
    double total = 0, sum_all = 0;
    for (size_t i = 0; i < n; i++) {
        int bin = fine_bin(wk->img[i]);
        if (bin < top) {
            hist[bin] += 1;
            total += 1;
            sum_all += bin;
        }
    }
    double w0 = 0, s0 = 0, best = -1;
    int split = -1;
    for (int k = 0; k + 1 < top; k++) {
        w0 += hist[k];
        s0 += k * hist[k];
        double w1 = total - w0;
        if (w0 <= 0 || w1 <= 0) continue;
        double m0 = s0 / w0, m1 = (sum_all - s0) / w1, between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if (between > best) {
            best = between;
            split = k + 1;
        }
    }
    float med = -1.0f;
    if (split > 0) {
        double upper = 0;
        for (int k = split; k < top; k++) upper += hist[k];
        if (upper >= 0.03 * (double)n) {
            double acc = 0;
            for (int k = split; k < top; k++) {
                acc += hist[k];
                if (acc * 2 >= upper) {
                    med = ((float)k + 0.5f) / FINE_BINS;
                    break;
                }
            }
        }
    }
    free(hist);
    return med;
}

/* fg = tissue above t, less burned-in labels, markers and clear film: 8-connected regions
 * of bright, flat cells whose outer boundary is mostly air. The boundary test is what
 * keeps a saturated dense breast or pectoral (bright and flat too, but surrounded by
 * tissue). wk->open is scratch here. Returns -1 without memory. */
static int threshold_clean(work *wk, float t) {
    int h = wk->h, w = wk->w;
    uint8_t *bf = wk->open;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            size_t p = (size_t)i * w + j;
            float v = wk->img[p];
            wk->fg[p] = v >= t;
            bf[p] = 0;
            if (v < BRIGHT_LEVEL) continue;
            float lo = v, hi = v, sum = 0;
            int cnt = 0;
            for (int di = -1; di <= 1; di++)
                for (int dj = -1; dj <= 1; dj++) {
                    int y = i + di, x = j + dj;
                    if (y < 0 || y >= h || x < 0 || x >= w) continue;
                    float u = wk->img[(size_t)y * w + x];
                    lo = u < lo ? u : lo;
                    hi = u > hi ? u : hi;
                    sum += u;
                    cnt++;
                }
            bf[p] = sum / cnt >= BRIGHT_LEVEL && hi - lo < FLAT_RANGE;
        }
    int64_t *area = NULL;
    double *xsum = NULL;
    int nl = label_components(wk, bf, &area, &xsum);
    if (nl < 0) return -1;
    free(xsum);
    /* area[] reused: per label, boundary cells in air minus boundary cells in tissue */
    for (int id = 1; id <= nl; id++) area[id] = 0;
    const int dy[4] = {-1, 1, 0, 0}, dx[4] = {0, 0, -1, 1};
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            int32_t id = wk->label[(size_t)i * w + j];
            if (!id) continue;
            for (int d = 0; d < 4; d++) {
                int y = i + dy[d], x = j + dx[d];
                if (y < 0 || y >= h || x < 0 || x >= w) continue;
                size_t q = (size_t)y * w + x;
                if (wk->label[q] == id) continue;
                area[id] += wk->fg[q] ? -1 : 1;
            }
        }
    for (size_t p = 0; p < (size_t)h * w; p++)
        if (wk->label[p] && area[wk->label[p]] >= 0) wk->fg[p] = 0;
    free(area);
    return 0;
}

/* Fills the holes of m: background cells not 4-connected to the image border. */
static void fill_holes(work *wk, uint8_t *m) {
    int h = wk->h, w = wk->w;
    uint8_t *outside = wk->tmp;
    memset(outside, 0, (size_t)h * w);
    size_t top = 0;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            if (i != 0 && i != h - 1 && j != 0 && j != w - 1) continue;
            size_t p = (size_t)i * w + j;
            if (!m[p] && !outside[p]) {
                outside[p] = 1;
                wk->stack[top++] = (int32_t)p;
            }
        }
    while (top) {
        int32_t p = wk->stack[--top];
        int y = p / w, x = p % w;
        const int dy[4] = {-1, 1, 0, 0}, dx[4] = {0, 0, -1, 1};
        for (int d = 0; d < 4; d++) {
            int yy = y + dy[d], xx = x + dx[d];
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            size_t q = (size_t)yy * w + xx;
            if (!m[q] && !outside[q]) {
                outside[q] = 1;
                wk->stack[top++] = (int32_t)q;
            }
        }
    }
    for (size_t p = 0; p < (size_t)h * w; p++)
        if (!outside[p]) m[p] = 1;
}

/* The chest wall is on the side holding more tissue: the breast is thickest there and
 * the pectoral sits there in MLO. 1 = right. */
static int chest_wall_right(const work *wk) {
    double left = 0, right = 0;
    for (int i = 0; i < wk->h; i++)
        for (int j = 0; j < wk->w; j++) {
            if (!wk->fg[(size_t)i * wk->w + j]) continue;
            if (2 * j + 1 < wk->w) left += 1;
            else if (2 * j + 1 > wk->w) right += 1;
        }
    return right > left;
}

/* First pass on the working image at t1 = b + 0.15 (f - b) from Otsu's classes: wk->open
 * ends as the mask. Returns 1 when a breast was found, 0 when not, -1 without memory. */
static int first_pass(work *wk, breast_mask_info *info) {
    int h = wk->h, w = wk->w;
    size_t n = (size_t)h * w;
    float b = 0, f = 0;
    int cm = class_medians(wk, &b, &f);
    if (cm == -2) return -1;
    if (cm == -1) return 0;
    float t = b + TISSUE_FRACTION * (f - b);
    /* a fatty breast with a bright pectoral: Otsu's dark class holds air AND fat; when a
     * second split of it finds a population well above the air, t1 goes half way to it */
    float fat = dark_upper_median(wk, prep_otsu_threshold(wk->img, h, w));
    if (fat > b + 0.08f && b + 0.5f * (fat - b) < t) t = b + 0.5f * (fat - b);
    info->air_level = b;
    info->tissue_level = f;
    info->threshold = t;
    if (threshold_clean(wk, t)) return -1;
    info->chest_wall_right = chest_wall_right(wk);
    /* opening: cuts bands thinner than 2r+1 and the bridges to labels and markers */
    morph(wk->open, wk->fg, wk->tmp, h, w, wk->r, 1);
    morph(wk->open, wk->open, wk->tmp, h, w, wk->r, 0);
    int64_t *area = NULL;
    double *xsum = NULL;
    int nl = label_components(wk, wk->open, &area, &xsum);
    if (nl < 0) return -1;
    int best = 0;
    double best_score = 0;
    for (int id = 1; id <= nl; id++) {
        double cx = xsum[id] / (double)area[id];
        int on_wall_side = info->chest_wall_right ? 2 * cx + 1 >= w : 2 * cx + 1 <= w;
        double score = (double)area[id] * (on_wall_side ? 1.0 : 0.25);
        if (score > best_score) {
            best_score = score;
            best = id;
        }
    }
    free(area);
    free(xsum);
    if (!best) return 0;
    for (size_t p = 0; p < n; p++) wk->open[p] = wk->label[p] == best;
    /* reconstruction: the opening rounded the outline by r; take back the thresholded
     * cells within r + 1 of the chosen component */
    morph(wk->open, wk->open, wk->tmp, h, w, wk->r + 1, 0);
    for (size_t p = 0; p < n; p++) wk->open[p] = wk->open[p] && wk->fg[p];
    fill_holes(wk, wk->open);
    return 1;
}

/* Quantile q of img over the cells where m is set (1024 bins); -1 when none. */
static float masked_quantile(const work *wk, const uint8_t *m, double q) {
    uint32_t hist[FINE_BINS] = {0};
    size_t n = 0;
    for (size_t p = 0; p < (size_t)wk->h * wk->w; p++)
        if (m[p]) {
            hist[fine_bin(wk->img[p])]++;
            n++;
        }
    if (!n) return -1.0f;
    size_t acc = 0, want = (size_t)(q * (double)n);
    for (int b = 0; b < FINE_BINS; b++) {
        acc += hist[b];
        if (acc > want) return ((float)b + 0.5f) / FINE_BINS;
    }
    return 1.0f;
}

/* Second pass: the skin line. t1 sits 15% of the way from air to tissue; when the
 * tissue class is the bright pectoral of a fatty breast that is above the faint skin band
 * and the outer millimetres of fat. The air right outside the first mask (a ring r..3r
 * away) gives the local air level b2 and its spread; t2 = b2 + max(5% of (f2 - b2), four
 * times the ring's upper quartile spread, 0.01), f2 the median inside the mask, never
 * above t1. Cells above t2 are added only within 2r of the first mask and connected to it,
 * so the film base far from the breast cannot join. */
static int refine(work *wk, breast_mask_info *info) {
    int h = wk->h, w = wk->w, r = wk->r;
    size_t n = (size_t)h * w;
    memcpy(wk->m1, wk->open, n);
    morph(wk->m2, wk->m1, wk->tmp, h, w, 3 * r, 0);
    morph(wk->open, wk->m1, wk->tmp, h, w, r, 0);
    for (size_t p = 0; p < n; p++) wk->m2[p] = wk->m2[p] && !wk->open[p]; /* the ring */
    float b2 = masked_quantile(wk, wk->m2, 0.5), q75 = masked_quantile(wk, wk->m2, 0.75);
    float f2 = masked_quantile(wk, wk->m1, 0.5);
    if (b2 < 0 || f2 < 0) { /* the mask fills the image: no air to measure */
        memcpy(wk->open, wk->m1, n);
        return 0;
    }
    float margin = 0.05f * (f2 - b2);
    if (4.0f * (q75 - b2) > margin) margin = 4.0f * (q75 - b2);
    if (margin < 0.01f) margin = 0.01f;
    float t2 = b2 + margin;
    if (t2 > info->threshold) t2 = info->threshold;
    if (threshold_clean(wk, t2)) return -1;
    morph(wk->m2, wk->m1, wk->tmp, h, w, 2 * r, 0);
    for (size_t p = 0; p < n; p++) wk->open[p] = (wk->fg[p] && wk->m2[p]) || wk->m1[p];
    int64_t *area = NULL;
    double *xsum = NULL;
    int nl = label_components(wk, wk->open, &area, &xsum);
    if (nl < 0) return -1;
    free(xsum);
    for (int id = 0; id <= nl; id++) area[id] = 0; /* 1: touches the first mask */
    for (size_t p = 0; p < n; p++)
        if (wk->m1[p]) area[wk->label[p]] = 1;
    for (size_t p = 0; p < n; p++) wk->open[p] = wk->label[p] && area[wk->label[p]];
    free(area);
    fill_holes(wk, wk->open);
    info->threshold = t2;
    info->air_level = b2;
    info->tissue_level = f2;
    return 0;
}

static int segment(work *wk, breast_mask_info *info) {
    int found = first_pass(wk, info);
    if (found != 1) return found;
    return refine(wk, info) ? -1 : 1;
}

static void box_and_flags(const work *wk, int H, int W, int found, breast_mask_info *info) {
    int h = wk->h, w = wk->w, k = wk->k;
    int i0 = h, i1 = -1, j0 = w, j1 = -1;
    size_t cells = 0;
    for (int i = 0; found && i < h; i++)
        for (int j = 0; j < w; j++)
            if (wk->open[(size_t)i * w + j]) {
                cells++;
                i0 = i < i0 ? i : i0;
                i1 = i > i1 ? i : i1;
                j0 = j < j0 ? j : j0;
                j1 = j > j1 ? j : j1;
            }
    info->flags = 0;
    if (!cells) {
        info->box = (prep_box){0, 0, H, W};
        info->mask_fraction = 0;
        info->box_fraction = 1;
        info->flags |= BM_FLAG_EMPTY;
        return;
    }
    int y0 = i0 * k, x0 = j0 * k, y1 = (i1 + 1) * k, x1 = (j1 + 1) * k;
    if (y1 > H) y1 = H;
    if (x1 > W) x1 = W;
    info->box = (prep_box){y0, x0, y1 - y0, x1 - x0};
    info->mask_fraction = (float)((double)cells / ((double)h * w));
    info->box_fraction = (float)((double)info->box.h * info->box.w / ((double)H * W));
    if (info->box_fraction > 0.95f) info->flags |= BM_FLAG_BOX_LARGE;
    if (info->chest_wall_right ? j0 == 0 : j1 == w - 1) info->flags |= BM_FLAG_EDGE;
    if (info->tissue_level < DARK_LEVEL) info->flags |= BM_FLAG_DARK;
    if (info->mask_fraction < 0.05f) info->flags |= BM_FLAG_SMALL;
}

mama_status breast_mask_compute(const float *img, int H, int W, uint8_t *out_mask,
                                breast_mask_info *out_info) {
    if (!img || H <= 0 || W <= 0) return mama_errorf(MAMA_EINVAL, "breast mask: empty image %dx%d", H, W);
    work wk = {0};
    if (work_alloc(&wk, H, W)) {
        work_free(&wk);
        return mama_errorf(MAMA_ENOMEM, "breast mask: no memory for a %dx%d image", H, W);
    }
    breast_mask_info info = {0};
    downsample(&wk, img, H, W);
    int found = segment(&wk, &info);
    if (found < 0) {
        work_free(&wk);
        return mama_errorf(MAMA_ENOMEM, "breast mask: no memory for the components of a %dx%d image", H, W);
    }
    box_and_flags(&wk, H, W, found, &info);
    if (out_mask)
        for (int y = 0; y < H; y++) {
            const uint8_t *src = wk.open + (size_t)(y / wk.k) * wk.w;
            uint8_t *dst = out_mask + (size_t)y * W;
            for (int x = 0; x < W; x++) dst[x] = found ? src[x / wk.k] : 0;
        }
    work_free(&wk);
    *out_info = info;
    return MAMA_OK;
}

int breast_mask_warning(const breast_mask_info *info, char *buf, size_t n) {
    if (!n) return 0;
    buf[0] = 0;
    size_t len = 0;
    int count = 0;
    struct { unsigned flag; const char *text; } all[] = {
        {BM_FLAG_EMPTY, "no breast tissue found, the whole image used"},
        {BM_FLAG_BOX_LARGE, "the crop keeps more than 95% of the image (film borders or labels may be inside)"},
        {BM_FLAG_EDGE, "the breast touches the image edge opposite the chest wall (cut off?)"},
        {BM_FLAG_DARK, "the image is too dark (tissue median below 0.12: window or exposure?)"},
        {BM_FLAG_SMALL, "the breast covers less than 5% of the image"},
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!(info->flags & all[i].flag)) continue;
        int wr = snprintf(buf + len, n - len, "%s%s", count ? "; " : "crop: ", all[i].text);
        if (wr < 0 || (size_t)wr >= n - len) {
            len = n - 1;
            count++;
            break;
        }
        len += (size_t)wr;
        count++;
    }
    if (count && len + 1 < n) {
        int wr = snprintf(buf + len, n - len, " (box %.0f%% of the image)", 100.0 * info->box_fraction);
        (void)wr;
    }
    return count;
}
