/* phantom_hard.c: the overlays of the hard cases (docs/phantom.md "Hard cases"): what a
 * digitised film, a burned-in label and the markers of a film or a scanner add to an
 * image. Drawn in the canonical frame (chest wall left) after the breast, and marked in
 * the true mask so that a crop can be scored against it.
 *
 * - film (PH_HARD_FILM): base + fog (every pixel +0.03) and grain (sigma 0.008, per
 *   pixel); clear film (0.93, flat) as a band between the film and the scanner's black
 *   padding on the nipple side, and along the top edge over the nipple-side half, drawn on
 *   air only, so that it touches the breast where the breast reaches it; the padding
 *   (0.0) the last 8% of the columns.
 * - labels (PH_HARD_LABELS): a burned-in view label ("LMLO", "RCC", ...) as white (0.95)
 *   plate with dark strokes, in air at least 4 mm from the skin.
 * - markers (PH_HARD_MARKERS): a lead letter marker (a bright 0.97 disc, 3 mm) and a step
 *   wedge (six steps 0.30 .. 0.90), in air, separated from the breast.
 * A label or marker that finds no free place is left out (never drawn over the breast). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tools/phantom/phantom.h"

typedef struct rect {
    int x0, y0, x1, y1; /* half-open */
} rect;

/* uniform in [-1, 1) from a pixel index and a seed */
static float grain(size_t p, uint32_t seed) {
    return (float)(ph_hash32((uint32_t)p * 0x9E3779B1U ^ seed) >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

/* 3 x 5 glyphs, rows top to bottom, bit 2 = left column */
static const uint8_t *glyph(char c) {
    static const uint8_t L[5] = {4, 4, 4, 4, 7}, R[5] = {6, 5, 6, 5, 5}, C[5] = {7, 4, 4, 4, 7};
    static const uint8_t M[5] = {5, 7, 7, 5, 5}, O[5] = {7, 5, 5, 5, 7};
    switch (c) {
    case 'L': return L;
    case 'R': return R;
    case 'C': return C;
    case 'M': return M;
    default: return O;
    }
}

/* A rectangle is free when every pixel in it, grown by `gap` mm, is air and it keeps
 * clear of the film border columns and of the rectangles already used. */
static int is_free(const ph_breast *b, int mlo, rect r, double s, double gap, int cols, const rect *used, int nused) {
    if (r.x0 < 0 || r.y0 < 0 || r.x1 > (int)(0.88 * cols)) return 0;
    for (int k = 0; k < nused; k++)
        if (r.x0 < used[k].x1 && used[k].x0 < r.x1 && r.y0 < used[k].y1 && used[k].y0 < r.y1) return 0;
    int g = (int)ceil(gap / s);
    for (int y = r.y0 - g; y < r.y1 + g; y += 2)
        for (int x = r.x0 - g; x < r.x1 + g; x += 2) {
            double xm = (x + 0.5) * s, ym = (y + 0.5) * s;
            if (ph_breast_e(b, mlo, xm, ym) < 1.0) return 0;
        }
    /* the nipple may stand a little outside the outline */
    double a = mlo ? b->depth_mlo_mm : b->depth_cc_mm, yn = mlo ? b->nipple_y_mlo : b->nipple_y_cc;
    double nx = a / s, ny = yn / s, nr = (4.0 + gap) / s;
    if (nx + nr > r.x0 && nx - nr < r.x1 && ny + nr > r.y0 && ny - nr < r.y1) return 0;
    return 1;
}

/* First free place of a w x h rectangle among positions given as fractions of the image. */
static int place(const ph_breast *b, const ph_view *v, double s, int w, int h, rect *out, const rect *used, int nused) {
    static const double cand[][2] = {{0.62, 0.04}, {0.70, 0.04}, {0.62, 0.80}, {0.70, 0.85}, {0.55, 0.04},
                                     {0.75, 0.30}, {0.75, 0.55}, {0.50, 0.88}, {0.78, 0.12}, {0.78, 0.70}};
    for (size_t k = 0; k < sizeof cand / sizeof cand[0]; k++) {
        rect r = {(int)(cand[k][0] * v->cols), (int)(cand[k][1] * v->rows), 0, 0};
        r.x1 = r.x0 + w;
        r.y1 = r.y0 + h;
        if (r.y1 > v->rows) continue;
        if (is_free(b, v->mlo, r, s, 4.0, v->cols, used, nused)) {
            *out = r;
            return 1;
        }
    }
    return 0;
}

static void put(float *img, uint8_t *mask, int cols, int x, int y, float val, uint8_t code) {
    size_t p = (size_t)y * cols + x;
    img[p] = val;
    if (mask) mask[p] = code;
}

static void draw_label(const ph_view *v, float *img, uint8_t *mask, rect r, int cell, const char *text) {
    for (int y = r.y0; y < r.y1; y++)
        for (int x = r.x0; x < r.x1; x++) put(img, mask, v->cols, x, y, 0.95f, PH_MASK_LABEL);
    for (int k = 0; text[k]; k++) {
        const uint8_t *g = glyph(text[k]);
        for (int gy = 0; gy < 5; gy++)
            for (int gx = 0; gx < 3; gx++) {
                if (!(g[gy] >> (2 - gx) & 1)) continue;
                int x0 = r.x0 + cell * (1 + 4 * k + gx), y0 = r.y0 + cell * (1 + gy);
                for (int y = y0; y < y0 + cell && y < r.y1; y++)
                    for (int x = x0; x < x0 + cell && x < r.x1; x++) img[(size_t)y * v->cols + x] = 0.15f;
            }
    }
}

void ph_hard_apply(const ph_study *st, const ph_view *v, float *img, uint8_t *mask, double s) {
    const ph_breast *b = &st->breast[v->side];
    const int rows = v->rows, cols = v->cols;
    const uint32_t seed = (uint32_t)mama_rng_mix64(v->noise_seed ^ 0x4841524455ull);
    rect used[4] = {{0, 0, 0, 0}};
    int nused = 0;
    if (v->hard & PH_HARD_LABELS) {
        char text[8];
        snprintf(text, sizeof text, "%c%s", v->side ? 'R' : 'L', v->mlo ? "MLO" : "CC");
        int n = (int)strlen(text);
        int cell = (int)lround(0.9 / s); /* 0.9 mm strokes: a label about 20 x 6 mm */
        if (cell < 1) cell = 1;
        rect r;
        if (place(b, v, s, cell * (4 * n + 1), cell * 7, &r, used, nused)) {
            draw_label(v, img, mask, r, cell, text);
            used[nused++] = r;
        }
    }
    if (v->hard & PH_HARD_MARKERS) {
        int rad = (int)lround(3.0 / s);
        if (rad < 2) rad = 2;
        rect r;
        if (place(b, v, s, 2 * rad + 1, 2 * rad + 1, &r, used, nused)) {
            double cx = r.x0 + rad + 0.5, cy = r.y0 + rad + 0.5;
            for (int y = r.y0; y < r.y1; y++)
                for (int x = r.x0; x < r.x1; x++) {
                    double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                    if (dx * dx + dy * dy <= (double)rad * rad) put(img, mask, cols, x, y, 0.97f, PH_MASK_LABEL);
                }
            used[nused++] = r;
        }
        int sw = (int)lround(8.0 / s), sh = (int)lround(5.0 / s);
        if (sw < 2) sw = 2;
        if (sh < 2) sh = 2;
        if (place(b, v, s, sw, 6 * sh, &r, used, nused)) {
            for (int k = 0; k < 6; k++)
                for (int y = r.y0 + k * sh; y < r.y0 + (k + 1) * sh; y++)
                    for (int x = r.x0; x < r.x1; x++) put(img, mask, cols, x, y, 0.30f + 0.12f * k, PH_MASK_LABEL);
            used[nused++] = r;
        }
    }
    if (v->hard & PH_HARD_FILM) {
        const int pad0 = (int)(0.92 * cols), band0 = (int)(0.89 * cols), top = (int)ceil(0.025 * rows);
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols; x++) {
                size_t p = (size_t)y * cols + x;
                int air = !mask || mask[p] == PH_MASK_AIR;
                if (x >= pad0) {
                    put(img, mask, cols, x, y, 0.0f, PH_MASK_AIR);
                } else if (air && (x >= band0 || (y < top && x >= cols / 2))) {
                    put(img, mask, cols, x, y, 0.93f + 0.003f * grain(p, seed + 1), PH_MASK_BORDER);
                } else {
                    img[p] += 0.03f + 0.008f * grain(p, seed);
                }
            }
    }
}
