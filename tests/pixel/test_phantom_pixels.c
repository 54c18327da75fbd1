/* test_phantom_pixels.c: the pixel pipeline on studies written by `mama phantom` (the data
 * helper's DICOM writer, a second, independent encoder): every transfer syntax decodes to
 * the same pixels as explicit VR little endian, the MONOCHROME1 study gives the same
 * pixels and model input as the MONOCHROME2 one (up to the window's half-pixel offset), and the Otsu crop keeps every finding centre of the
 * ground truth (phantom_findings.csv) while dropping the background. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "dicom/dcm_image.h"
#include "engine/vision/image_io.h"
#include "engine/vision/prepcache.h"
#include "engine/vision/preprocess.h"
#include "tools/image_source.h"

static char dir[256], mama[1024];
static const char *views[4] = {"LCC", "LMLO", "RCC", "RMLO"};
enum { NSTUDY = 2, S = 96 };

static int phantom(const char *sub, const char *extra) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' phantom --out '%s/%s' --count %d --seed 9 --size 416x320 --abnormal 1 --quiet %s",
             mama, dir, sub, NSTUDY, extra);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "%s failed (%d)", cmd, rc);
    return rc;
}

static int load(const char *sub, int study, int view, dcm_image *img) {
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/%s/A0090000%02d/%s.dcm", dir, sub, study + 1, views[view]);
    int rc = dcm_image_load(path, img, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    return rc;
}

static void test_syntaxes(void) {
    const char *ts[] = {"implicit", "deflate", "rle", "jpegll", "jpegls", "j2k"};
    for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++) {
        char extra[64];
        snprintf(extra, sizeof extra, "--tsyntax %s", ts[k]);
        if (phantom(ts[k], extra)) continue;
        double worst = 0;
        for (int s = 0; s < NSTUDY; s++)
            for (int v = 0; v < 4; v++) {
                dcm_image a = {0}, b = {0};
                if (load("explicit", s, v, &a) == 0 && load(ts[k], s, v, &b) == 0) {
                    CHECK_MSG(a.rows == b.rows && a.cols == b.cols, "size");
                    for (size_t i = 0; i < (size_t)a.rows * a.cols; i++)
                        worst = fmax(worst, fabs(a.pixels[i] - b.pixels[i]));
                }
                dcm_image_free(&a);
                dcm_image_free(&b);
            }
        printf("phantom %-8s vs explicit: max diff %g\n", ts[k], worst);
        CHECK_MSG(worst == 0.0, "%s differs from explicit LE by %g", ts[k], worst);
    }
}

/* MONOCHROME1: mama phantom mirrors the stored values (M - v) and the window centre
 * (M - c). For LINEAR the exact mirror is M - c + 1 (the function's half-pixel offset,
 * PS3.3 C.11.2.1.2.1), so the [0,1] images may differ by up to 1/(w - 1); a pixel sitting
 * near an Otsu bin edge can move the threshold one bin and, on a soft skin edge, the crop
 * by a few pixels. So: [0,1] within 1/(w-1); crops within 2% of the image; model input
 * equal (within 2/(w-1)) wherever the crops agree. Exact mirroring is tested on the
 * fixture files in test_dcm_image.c. */
static void test_mono1(void) {
    if (phantom("mono1", "--mono1")) return;
    float *a_in = malloc(sizeof(float) * 3 * S * S), *b_in = malloc(sizeof(float) * 3 * S * S);
    prep_config cfg;
    prep_config_default(&cfg);
    cfg.size = S;
    double worst_in = 0, worst_px = 0, bound = 0;
    int same_crop = 0;
    for (int s = 0; s < NSTUDY; s++)
        for (int v = 0; v < 4; v++) {
            dcm_image a = {0}, b = {0};
            if (load("explicit", s, v, &a) == 0 && load("mono1", s, v, &b) == 0) {
                CHECK_MSG(!strcmp(b.info.photometric, "MONOCHROME1") && b.inverted, "mono1 file");
                double lim = a.voi == DCM_VOI_LINEAR ? 1.0 / (a.window_width - 1.0) + 1e-6 : 1e-6;
                bound = fmax(bound, lim);
                double px = 0;
                for (size_t i = 0; i < (size_t)a.rows * a.cols; i++) px = fmax(px, fabs(a.pixels[i] - b.pixels[i]));
                worst_px = fmax(worst_px, px);
                CHECK_MSG(px <= lim, "study %d %s: [0,1] images differ by %g > %g", s, views[v], px, lim);
                prep_box ba, bb;
                CHECK_MSG(prep_image_eval(a_in, a.pixels, a.rows, a.cols, &cfg, &ba) == MAMA_OK, "eval");
                CHECK_MSG(prep_image_eval(b_in, b.pixels, b.rows, b.cols, &cfg, &bb) == MAMA_OK, "eval");
                int ty = a.rows / 50 > 2 ? a.rows / 50 : 2, tx = a.cols / 50 > 2 ? a.cols / 50 : 2;
                CHECK_MSG(abs(ba.y0 - bb.y0) <= ty && abs(ba.x0 - bb.x0) <= tx && abs(ba.h - bb.h) <= 2 * ty &&
                          abs(ba.w - bb.w) <= 2 * tx,
                          "study %d %s: crops (%d,%d,%d,%d) vs (%d,%d,%d,%d) differ by more than 2%%", s, views[v], ba.y0,
                          ba.x0, ba.h, ba.w, bb.y0, bb.x0, bb.h, bb.w);
                if (ba.y0 == bb.y0 && ba.x0 == bb.x0 && ba.h == bb.h && ba.w == bb.w) {
                    same_crop++;
                    for (int i = 0; i < 3 * S * S; i++) worst_in = fmax(worst_in, fabs(a_in[i] - b_in[i]));
                }
            }
            dcm_image_free(&a);
            dcm_image_free(&b);
        }
    printf("phantom MONOCHROME1 vs MONOCHROME2: [0,1] max diff %g (bound %g); same crop on %d of %d views, "
           "model input max diff there %g\n", worst_px, bound, same_crop, 4 * NSTUDY, worst_in);
    CHECK_MSG(same_crop >= 1, "crops differ on every view");
    CHECK_MSG(worst_in <= 2.0 * bound + 1e-5, "model input differs by %g where the crops agree", worst_in);
    free(a_in);
    free(b_in);
}

static void test_crop_findings(void) {
    char path[1024], line[1024];
    snprintf(path, sizeof path, "%s/explicit/phantom_findings.csv", dir);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "no %s", path);
    if (!f) return;
    int findings = 0, inside = 0;
    if (!fgets(line, sizeof line, f)) line[0] = 0; /* header */
    while (fgets(line, sizeof line, f)) {
        /* acc,empi,side,finding,kind,...,cc_x,cc_y,mlo_x,mlo_y,radius_px: fields 3, 17-20 */
        char *fields[32];
        int n = 0;
        for (char *p = line, *q; n < 32 && p; p = q) {
            q = strchr(p, ',');
            if (q) *q++ = 0;
            fields[n++] = p;
        }
        if (n < 21) continue;
        int study = atoi(fields[0] + strlen(fields[0]) - 2) - 1;
        char side = fields[2][0];
        for (int mlo = 0; mlo < 2; mlo++) {
            double x = atof(fields[16 + 2 * mlo]), y = atof(fields[17 + 2 * mlo]);
            int v = (side == 'L' ? 0 : 2) + mlo;
            dcm_image img = {0};
            if (study < 0 || study >= NSTUDY || load("explicit", study, v, &img) != 0) continue;
            prep_box b;
            float t = prep_otsu_threshold(img.pixels, img.rows, img.cols);
            CHECK_MSG(prep_breast_box(&b, img.pixels, img.rows, img.cols, t) == MAMA_OK, "box");
            int in = x >= b.x0 && x < b.x0 + b.w && y >= b.y0 && y < b.y0 + b.h;
            CHECK_MSG(in, "study %d %s: finding (%g,%g) outside crop y=%d x=%d h=%d w=%d", study, views[v], x, y, b.y0,
                      b.x0, b.h, b.w);
            findings++;
            inside += in;
            /* the crop drops the background: most dark pixels lie outside it */
            size_t dark = 0, dark_out = 0;
            for (int yy = 0; yy < img.rows; yy++)
                for (int xx = 0; xx < img.cols; xx++)
                    if (img.pixels[(size_t)yy * img.cols + xx] < t) {
                        dark++;
                        dark_out += !(yy >= b.y0 && yy < b.y0 + b.h && xx >= b.x0 && xx < b.x0 + b.w);
                    }
            CHECK_MSG(dark && dark_out > 0.6 * dark, "study %d %s: only %zu of %zu background pixels dropped", study,
                      views[v], dark_out, dark);
            dcm_image_free(&img);
        }
    }
    fclose(f);
    printf("phantom findings inside the crop: %d of %d\n", inside, findings);
    CHECK_MSG(findings >= 2, "only %d findings checked", findings);
}

/* The commands: mama preprocess writes S x S PNGs (and refuses bad files with exit 1 and a
 * message), mama contact-sheet writes a sheet of the expected size. */
static void test_commands(void) {
    char cmd[4096], out[1024];
    const char *shared = getenv("MAMA_SHARED_DIR");
    char film[1100], mias[1024];
    snprintf(mias, sizeof mias, "%s/data/mias", shared ? shared : "../shared");
    snprintf(film, sizeof film, "%s/images/mdb001.png", mias);
    int have_mias = access(film, R_OK) == 0;
    snprintf(cmd, sizeof cmd, "'%s' preprocess %s/explicit/A009000001/*.dcm %s --out-png '%s/png' --size 64 > '%s/pre.log'",
             mama, dir, have_mias ? film : "", dir, dir);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    const char *names[] = {"A009000001_LCC.png", "A009000001_RMLO.png", "images_mdb001.png"};
    for (int i = 0; i < (have_mias ? 3 : 2); i++) {
        snprintf(out, sizeof out, "%s/png/%s", dir, names[i]);
        float *px = NULL;
        int h = 0, w = 0;
        CHECK_MSG(image_io_load_gray(out, &px, &h, &w) == MAMA_OK && h == 64 && w == 64, "%s: %s", out, mama_last_error());
        double mean = 0;
        for (int k = 0; px && k < h * w; k++) mean += px[k];
        CHECK_MSG(px && mean / (h * w) > 0.05, "%s is blank", out);
        free(px);
    }
    snprintf(cmd, sizeof cmd, "echo garbage > '%s/bad.dcm'; '%s' preprocess '%s/bad.dcm' --out-png '%s/png' 2> '%s/err.log'",
             dir, mama, dir, dir, dir);
    int rc = system(cmd);
    CHECK_MSG(rc != 0, "preprocess of a bad file succeeded");
    snprintf(out, sizeof out, "%s/err.log", dir);
    FILE *f = fopen(out, "r");
    char line[1024] = "";
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = 0;
        fclose(f);
    }
    CHECK_MSG(strstr(line, "bad.dcm") != NULL, "error names the file: '%s'", line);
    snprintf(cmd, sizeof cmd, "'%s' contact-sheet --study '%s/explicit/A009000001' %s%s%s --tile 48 --out '%s/sheet.png' > /dev/null",
             mama, dir, have_mias ? "--mias '" : "", have_mias ? mias : "", have_mias ? "'" : "", dir);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    snprintf(out, sizeof out, "%s/sheet.png", dir);
    float *px = NULL;
    int h = 0, w = 0;
    int rows = have_mias ? 2 : 1;
    CHECK_MSG(image_io_load_gray(out, &px, &h, &w) == MAMA_OK && w == 4 * 48 + 5 * 8 && h == rows * 48 + (rows + 1) * 8,
              "sheet %dx%d", w, h);
    free(px);
}

/* The preprocessing cache on DICOM through the tools' loader: miss, then hit with the same
 * pixels, equal to the pipeline run directly (up to 16-bit quantisation). */
static void test_cache_dicom(void) {
    char src[1024], cache[1024];
    snprintf(src, sizeof src, "%s/j2k/A009000001/LMLO.dcm", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    prepcache_config cfg;
    prepcache_config_default(&cfg, cache);
    cfg.max_side = 128;
    cfg.loader_tag = "dicom";
    float *a = NULL, *b = NULL;
    int ah, aw, bh, bw;
    prepcache_result r1, r2;
    prep_box box;
    CHECK_MSG(prepcache_get(&cfg, src, image_source_cache_loader, NULL, &a, &ah, &aw, &box, &r1) == MAMA_OK, "miss: %s",
              mama_last_error());
    CHECK_MSG(prepcache_get(&cfg, src, image_source_cache_loader, NULL, &b, &bh, &bw, NULL, &r2) == MAMA_OK, "hit: %s",
              mama_last_error());
    CHECK_MSG(r1 == PREPCACHE_MISS && r2 == PREPCACHE_HIT, "miss then hit (%d, %d)", r1, r2);
    if (a && b) {
        CHECK_MSG(ah == bh && aw == bw && memcmp(a, b, sizeof(float) * ah * aw) == 0, "hit = miss");
        CHECK_MSG((ah == 128 || aw == 128) && ah <= 128 && aw <= 128, "cache size %dx%d", ah, aw);
        dcm_image img = {0};
        char err[512];
        if (dcm_image_load(src, &img, err, sizeof err) == 0) {
            float *ref = malloc(sizeof(float) * ah * aw);
            CHECK_MSG(prep_crop_resize(ref, ah, aw, img.pixels, img.rows, img.cols, 1, NULL) == MAMA_OK, "ref");
            double e = 0;
            for (int i = 0; i < ah * aw; i++) e = fmax(e, fabs(ref[i] - a[i]));
            CHECK_MSG(e <= 0.5 / 65535.0 + 1e-7, "cache vs direct pipeline: %g", e);
            free(ref);
        }
        dcm_image_free(&img);
    }
    free(a);
    free(b);
}

int main(void) {
    const char *build = getenv("MAMA_BUILD_ROOT");
    snprintf(mama, sizeof mama, "%s/tools/mama", build ? build : ".");
    if (access(mama, X_OK) != 0) {
        printf("%s not built: skipped\n", mama);
        return 77;
    }
    snprintf(dir, sizeof dir, "/tmp/mama_phpix_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    if (phantom("explicit", "--tsyntax explicit") == 0) {
        test_syntaxes();
        test_mono1();
        test_crop_findings();
        test_commands();
        test_cache_dicom();
    }
    check_remove_dir(dir);
    return check_done("test_phantom_pixels");
}
