/* test_mias_crop.c: the breast mask on real films (mini-MIAS, all 322, read from
 * $MAMA_SHARED_DIR/data/mias; skipped (77) when the data set is absent).
 * Checks: on every film whose Info.txt gives an abnormality centre (111) the centre lies
 * inside the crop box (what the model sees; the count inside the mask itself is printed:
 * a few MIAS centres lie in the air beyond the skin line, e.g. mdb212); the crop keeps
 * the breast: of the pixels the plain Otsu crop calls tissue (v >= Otsu's t; film labels
 * included, which is why this is a floor, not 1) at least 90% on the mean lie in the crop
 * box; it drops the film: the box covers under 60% of the film on the mean. Printed, not
 * checked: the share of bright flat pixels (v >= 0.9, 3x3 range < 0.1: labels, clear
 * film, saturated tissue) inside the boxes and the films with a quality warning. Per film
 * with MIAS_VERBOSE=1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "engine/vision/breast_mask.h"
#include "engine/vision/image_io.h"
#include "engine/vision/preprocess.h"

typedef struct centre {
    char ref[16];
    double x, y;
} centre;

static int read_centres(const char *path, centre *out, int max) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < max) {
        char ref[16], bg[8], cls[8], sev[8];
        double x, y, r;
        if (sscanf(line, "%15s %7s %7s %7s %lf %lf %lf", ref, bg, cls, sev, &x, &y, &r) != 7) continue;
        if (strncmp(ref, "mdb", 3) != 0) continue;
        snprintf(out[n].ref, sizeof out[n].ref, "%s", ref);
        out[n].x = x;
        out[n].y = y;
        n++;
    }
    fclose(f);
    return n;
}

/* bright flat pixels (labels, clear film) of img: total and inside the box */
static void labels_inside(const float *img, int H, int W, prep_box b, size_t *total, size_t *inside) {
    for (int y = 1; y + 1 < H; y++)
        for (int x = 1; x + 1 < W; x++) {
            float v = img[(size_t)y * W + x];
            if (v < 0.9f) continue;
            float lo = v, hi = v;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    float u = img[(size_t)(y + dy) * W + x + dx];
                    lo = fminf(lo, u);
                    hi = fmaxf(hi, u);
                }
            if (hi - lo >= 0.1f) continue;
            (*total)++;
            *inside += y >= b.y0 && y < b.y0 + b.h && x >= b.x0 && x < b.x0 + b.w;
        }
}

int main(void) {
    const char *shared = getenv("MAMA_SHARED_DIR");
    if (!shared) shared = "../shared";
    char path[4096];
    static centre cs[400];
    snprintf(path, sizeof path, "%s/data/mias/Info.txt", shared);
    int nc = read_centres(path, cs, 400);
    if (nc < 0) {
        printf("mini-MIAS not found at %s: skipped\n", path);
        return 77;
    }
    int films = 0, with_centre = 0, centre_in = 0, centre_in_mask = 0, flagged = 0;
    double sum_kept = 0, worst_kept = 1, sum_box = 0, sum_mask = 0;
    size_t lab_total = 0, lab_in = 0;
    const int verbose = getenv("MIAS_VERBOSE") != NULL;
    for (int id = 1; id <= 322; id++) {
        char ref[16];
        snprintf(ref, sizeof ref, "mdb%03d", id);
        snprintf(path, sizeof path, "%s/data/mias/images/%s.png", shared, ref);
        float *img = NULL;
        int H, W;
        if (image_io_load_gray(path, &img, &H, &W) != MAMA_OK) {
            CHECK_MSG(0, "%s", mama_last_error());
            continue;
        }
        uint8_t *mask = malloc((size_t)H * W);
        breast_mask_info info;
        CHECK_MSG(mask && breast_mask_compute(img, H, W, mask, &info) == MAMA_OK, "%s: mask", ref);
        prep_box b = info.box;
        /* tissue kept: the Otsu foreground inside the box */
        float t = prep_otsu_threshold(img, H, W);
        size_t fg = 0, fg_in = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                if (img[(size_t)y * W + x] >= t) {
                    fg++;
                    fg_in += y >= b.y0 && y < b.y0 + b.h && x >= b.x0 && x < b.x0 + b.w;
                }
        double kept = fg ? (double)fg_in / fg : 1.0;
        sum_kept += kept;
        worst_kept = fmin(worst_kept, kept);
        sum_box += info.box_fraction;
        sum_mask += info.mask_fraction;
        labels_inside(img, H, W, b, &lab_total, &lab_in);
        char warn[256];
        flagged += breast_mask_warning(&info, warn, sizeof warn) > 0;
        for (int c = 0; c < nc; c++) {
            if (strcmp(cs[c].ref, ref)) continue;
            if (c > 0 && !strcmp(cs[c - 1].ref, ref)) continue; /* one centre per film */
            with_centre++;
            int x = (int)cs[c].x, row = H - 1 - (int)cs[c].y; /* Info.txt: origin bottom-left */
            int in = x >= b.x0 && x < b.x0 + b.w && row >= b.y0 && row < b.y0 + b.h;
            int on_film = x >= 0 && x < W && row >= 0 && row < H;
            int in_mask = on_film && mask[(size_t)row * W + x];
            if (!in)
                printf("%s: abnormality (%g, row %d) outside the crop box y=%d x=%d h=%d w=%d\n", ref, cs[c].x, row,
                       b.y0, b.x0, b.h, b.w);
            else if (!in_mask)
                printf("%s: abnormality (%g, row %d) inside the box, outside the mask (film value %.3f)\n", ref,
                       cs[c].x, row, on_film ? img[(size_t)row * W + x] : -1.0f);
            centre_in += in;
            centre_in_mask += in_mask;
        }
        if (verbose)
            printf("%s: box y=%d x=%d h=%d w=%d (%.2f of the film) mask %.2f tissue kept %.3f %s\n", ref, b.y0, b.x0, b.h,
                   b.w, info.box_fraction, info.mask_fraction, kept, warn);
        free(mask);
        free(img);
        films++;
    }
    double n = films ? films : 1;
    printf("%d films: abnormality centre inside the crop box on %d of %d (inside the mask %d); Otsu tissue "
           "kept in the box mean %.4f worst %.4f; box %.3f and mask %.3f of the film (mean); label pixels "
           "inside the box %zu of %zu (%.3f); films with a quality warning %d\n",
           films, centre_in, with_centre, centre_in_mask, sum_kept / n, worst_kept, sum_box / n, sum_mask / n,
           lab_in, lab_total, lab_total ? (double)lab_in / lab_total : 0.0, flagged);
    CHECK_MSG(films == 322, "only %d films read", films);
    CHECK_MSG(with_centre == 111, "%d films with a centre (111 expected)", with_centre);
    CHECK_MSG(centre_in == with_centre, "abnormality inside the crop on %d of %d films", centre_in, with_centre);
    CHECK_MSG(sum_kept / n >= 0.90, "mean tissue kept %.3f", sum_kept / n);
    CHECK_MSG(sum_box / n < 0.6, "crops keep %.3f of the film on average", sum_box / n);
    return check_done("test_mias_crop");
}
