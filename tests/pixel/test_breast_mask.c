/* test_breast_mask.c: the breast mask against the generator's truth on the hard cases
 * (`mama phantom --hard ...`, true masks in <view>_mask.pgm, docs/phantom.md).
 *
 * For every view (L/R x CC/MLO) of: each density A-D with film, labels and markers; a
 * fatty breast with a bright pectoral, plain and on film; at 416 x 320 (working factor 1)
 * and one set at 1664 x 1280 (factor 4):
 *   - mask IoU against the true breast (breast + pectoral) >= 0.95;
 *   - crop box IoU against the true breast's bounding box >= 0.95;
 *   - the pectoral kept: >= 98% of its true pixels inside the mask (MLO);
 *   - borders and labels dropped: no label or marker pixel inside the crop box, and under
 *     1% of the film-border pixels inside the mask;
 *   - no quality flag on these (good) images, and the flags raised on a dark and on an
 *     empty image (synthetic).
 * The plain Otsu crop (prep_breast_box) is scored beside it: on the fatty cases its box
 * IoU is printed, and it must fall below 0.95 on at least one view (the case that broke
 * it, kept as proof that the test can tell a bad crop from a good one). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "dicom/dcm_image.h"
#include "engine/vision/breast_mask.h"
#include "engine/vision/image_io.h"
#include "engine/vision/preprocess.h"

static char dir[256], mama[1024];
static const char *views[4] = {"LCC", "LMLO", "RCC", "RMLO"};
static double worst_iou = 1, worst_box = 1, worst_pect = 1, otsu_worst_fatty = 1;
static int n_views = 0;

static double box_iou(prep_box a, prep_box b) {
    int y0 = a.y0 > b.y0 ? a.y0 : b.y0, x0 = a.x0 > b.x0 ? a.x0 : b.x0;
    int y1 = a.y0 + a.h < b.y0 + b.h ? a.y0 + a.h : b.y0 + b.h, x1 = a.x0 + a.w < b.x0 + b.w ? a.x0 + a.w : b.x0 + b.w;
    double inter = y1 > y0 && x1 > x0 ? (double)(y1 - y0) * (x1 - x0) : 0;
    return inter / ((double)a.h * a.w + (double)b.h * b.w - inter);
}

static int in_box(prep_box b, int y, int x) { return y >= b.y0 && y < b.y0 + b.h && x >= b.x0 && x < b.x0 + b.w; }

/* true mask codes from the PGM levels (0 air, 255 breast, 160 pectoral, 64 label, 32 border) */
static int code_of(float v) {
    int l = (int)lroundf(v * 255.0f);
    return l == 255 ? 1 : l == 160 ? 2 : l == 64 ? 4 : l == 32 ? 3 : 0;
}

static void check_case(const char *name, const char *opts, const char *size, int fatty) {
    char cmd[4096], out[512];
    snprintf(out, sizeof out, "%s/%s", dir, name);
    snprintf(cmd, sizeof cmd, "'%s' phantom --out '%s' --count 1 --seed 11 --size %s --abnormal 1 --quiet %s", mama,
             out, size, opts);
    if (system(cmd) != 0) {
        CHECK_MSG(0, "%s failed", cmd);
        return;
    }
    for (int v = 0; v < 4; v++) {
        char path[1024], err[512];
        snprintf(path, sizeof path, "%s/A011000001/%s.dcm", out, views[v]);
        dcm_image img = {0};
        if (dcm_image_load(path, &img, err, sizeof err) != 0) {
            CHECK_MSG(0, "%s", err);
            continue;
        }
        snprintf(path, sizeof path, "%s/A011000001/%s_mask.pgm", out, views[v]);
        float *truth = NULL;
        int th, tw;
        CHECK_MSG(image_io_load_gray(path, &truth, &th, &tw) == MAMA_OK && th == img.rows && tw == img.cols, "%s",
                  path);
        if (!truth) {
            dcm_image_free(&img);
            continue;
        }
        int H = img.rows, W = img.cols;
        uint8_t *mask = malloc((size_t)H * W);
        breast_mask_info info;
        CHECK_MSG(breast_mask_compute(img.pixels, H, W, mask, &info) == MAMA_OK, "mask");
        size_t inter = 0, uni = 0, pect = 0, pect_in = 0, label_in_box = 0, border = 0, border_in = 0;
        int ty0 = H, tx0 = W, ty1 = -1, tx1 = -1;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                size_t p = (size_t)y * W + x;
                int c = code_of(truth[p]), t = c == 1 || c == 2, m = mask[p] != 0;
                inter += t && m;
                uni += t || m;
                if (c == 2) {
                    pect++;
                    pect_in += m;
                }
                if (c == 4) label_in_box += in_box(info.box, y, x);
                if (c == 3) {
                    border++;
                    border_in += m;
                }
                if (t) {
                    ty0 = y < ty0 ? y : ty0;
                    ty1 = y > ty1 ? y : ty1;
                    tx0 = x < tx0 ? x : tx0;
                    tx1 = x > tx1 ? x : tx1;
                }
            }
        prep_box tb = {ty0, tx0, ty1 - ty0 + 1, tx1 - tx0 + 1};
        double iou = uni ? (double)inter / uni : 0, biou = box_iou(info.box, tb);
        double pk = pect ? (double)pect_in / pect : 1;
        prep_box ob;
        prep_breast_box(&ob, img.pixels, H, W, prep_otsu_threshold(img.pixels, H, W));
        double otsu = box_iou(ob, tb);
        if (fatty && otsu < otsu_worst_fatty) otsu_worst_fatty = otsu;
        char warn[256];
        int nflags = breast_mask_warning(&info, warn, sizeof warn);
        printf("%-22s %s %s: mask IoU %.4f box IoU %.4f (Otsu box %.4f) pectoral kept %.4f label px in box %zu "
               "border px in mask %zu/%zu t=%.3f %s\n",
               name, size, views[v], iou, biou, otsu, pk, label_in_box, border_in, border, info.threshold, warn);
        CHECK_MSG(iou >= 0.95, "%s %s: mask IoU %.4f", name, views[v], iou);
        CHECK_MSG(biou >= 0.95, "%s %s: box IoU %.4f", name, views[v], biou);
        CHECK_MSG(v % 2 == 0 || pect > 0, "%s %s: the MLO has no pectoral in the truth", name, views[v]);
        CHECK_MSG(pk >= 0.98, "%s %s: pectoral kept %.4f", name, views[v], pk);
        CHECK_MSG(label_in_box == 0, "%s %s: %zu label/marker pixels inside the crop", name, views[v], label_in_box);
        CHECK_MSG(border_in <= border / 100, "%s %s: %zu of %zu border pixels in the mask", name, views[v], border_in,
                  border);
        CHECK_MSG(nflags == 0, "%s %s: unexpected warning %s", name, views[v], warn);
        worst_iou = fmin(worst_iou, iou);
        worst_box = fmin(worst_box, biou);
        if (pect) worst_pect = fmin(worst_pect, pk);
        n_views++;
        free(mask);
        free(truth);
        dcm_image_free(&img);
    }
}

/* the case must contain what it claims: labels, markers and borders drawn */
static void check_overlays_present(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/dens_A/A011000001/LMLO_mask.pgm", dir);
    float *t = NULL;
    int H, W;
    if (image_io_load_gray(path, &t, &H, &W) != MAMA_OK) {
        CHECK_MSG(0, "%s", path);
        return;
    }
    size_t label = 0, border = 0;
    for (size_t p = 0; p < (size_t)H * W; p++) {
        label += code_of(t[p]) == 4;
        border += code_of(t[p]) == 3;
    }
    CHECK_MSG(label > 100 && border > 1000, "overlays: %zu label, %zu border pixels", label, border);
    free(t);
}

static void check_flags(void) {
    enum { H = 200, W = 160 };
    float *img = malloc(sizeof(float) * H * W);
    breast_mask_info info;
    char warn[256];
    /* a dark image: a half disc at 0.08 on 0.0 */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double dy = (y - H / 2.0) / (H / 2.5), dx = x / (W * 0.6);
            img[(size_t)y * W + x] = dx * dx + dy * dy < 1 ? 0.08f : 0.0f;
        }
    CHECK_MSG(breast_mask_compute(img, H, W, NULL, &info) == MAMA_OK, "dark");
    CHECK_MSG(info.flags & BM_FLAG_DARK, "dark image not flagged (flags %u)", info.flags);
    CHECK_MSG(breast_mask_warning(&info, warn, sizeof warn) >= 1 && strstr(warn, "too dark"), "warning '%s'", warn);
    /* a flat image: empty */
    for (int i = 0; i < H * W; i++) img[i] = 0.4f;
    CHECK_MSG(breast_mask_compute(img, H, W, NULL, &info) == MAMA_OK, "flat");
    CHECK_MSG(info.flags & BM_FLAG_EMPTY && info.box.h == H && info.box.w == W, "flat image: flags %u", info.flags);
    /* a breast cut by the edge opposite the chest wall, and a tiny one */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) img[(size_t)y * W + x] = y > 20 && y < 180 ? 0.5f : 0.0f;
    CHECK_MSG(breast_mask_compute(img, H, W, NULL, &info) == MAMA_OK && (info.flags & BM_FLAG_EDGE), "edge: %u",
              info.flags);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) img[(size_t)y * W + x] = y > 90 && y < 110 && x < 12 ? 0.5f : 0.0f;
    CHECK_MSG(breast_mask_compute(img, H, W, NULL, &info) == MAMA_OK && (info.flags & BM_FLAG_SMALL), "small: %u",
              info.flags);
    CHECK_MSG(breast_mask_compute(NULL, H, W, NULL, &info) == MAMA_EINVAL, "NULL image refused");
    free(img);
}

int main(void) {
    const char *build = getenv("MAMA_BUILD_ROOT");
    snprintf(mama, sizeof mama, "%s/tools/mama", build ? build : "build");
    snprintf(dir, sizeof dir, "/tmp/mama_breast_mask_%d", (int)getpid());
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) return 1;
    const char *dens[4] = {"A", "B", "C", "D"};
    for (int d = 0; d < 4; d++) {
        char name[32], opts[128];
        snprintf(name, sizeof name, "dens_%s", dens[d]);
        snprintf(opts, sizeof opts, "--density %s --hard film,labels,markers", dens[d]);
        check_case(name, opts, "416x320", 0);
    }
    check_case("fatty", "--hard fatty", "416x320", 1);
    check_case("fatty_film", "--hard fatty,film,labels,markers", "416x320", 1);
    check_case("fatty_film_big", "--hard fatty,film,labels,markers", "1664x1280", 1);
    check_case("plain_C", "--density C --masks", "416x320", 0);
    check_overlays_present();
    check_flags();
    printf("%d views: worst mask IoU %.4f, worst box IoU %.4f, worst pectoral kept %.4f; plain Otsu crop on the fatty "
           "views: worst box IoU %.4f\n",
           n_views, worst_iou, worst_box, worst_pect, otsu_worst_fatty);
    CHECK_MSG(n_views == 32, "%d views checked", n_views);
    CHECK_MSG(otsu_worst_fatty < 0.95, "the fatty case no longer breaks the plain Otsu crop (%.4f): not a hard case",
              otsu_worst_fatty);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (!getenv("KEEP_PHANTOMS") && system(cmd) != 0) return 1;
    return check_done("test_breast_mask");
}
