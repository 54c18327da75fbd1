/* test_phantom_model.c: the phantom's truth model and renderer, without DICOM.
 * - a study is a pure function of (seed, index);
 * - malignancy follows BI-RADS morphology, with noise (both directions happen);
 * - densities A-D come out near the US screening mix;
 * - every finding lies inside the breast in CC and MLO, at the same distance from the
 *   nipple in both;
 * - the rendered image shows a mass where the truth says (both breasts, both views);
 * - denser breasts render brighter; MONOCHROME1 is the exact inversion. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/phantom/phantom.h"
#include "tests/check.h"

static const double ROWS_MM = 3328 * 0.07;

static void test_determinism(void) {
    ph_study a, b, c;
    ph_case_draw(&a, 42, 7, ROWS_MM, 0.5);
    ph_case_draw(&b, 42, 7, ROWS_MM, 0.5);
    ph_case_draw(&c, 42, 8, ROWS_MM, 0.5);
    CHECK_MSG(memcmp(&a, &b, sizeof a) == 0, "same seed and index gave different studies");
    CHECK_MSG(strcmp(a.study_uid, c.study_uid) != 0 && strcmp(a.patient_id, c.patient_id) != 0, "studies 7 and 8 share ids");
    CHECK_MSG(strncmp(a.study_uid, "2.25.", 5) == 0 && strlen(a.study_uid) <= 64, "UID %s", a.study_uid);
}

static void test_truth_model(void) {
    enum { N = 20000 };
    int dens[5] = {0};
    int spic_n = 0, spic_m = 0, rc_n = 0, rc_m = 0, fine_n = 0, fine_m = 0, benign_calc_n = 0, benign_calc_m = 0;
    int total_f = 0, total_m = 0;
    double max_gap = 0;
    for (int i = 0; i < N; i++) {
        ph_study st;
        ph_case_draw(&st, 3, i, ROWS_MM, 1.0);
        dens[st.density]++;
        for (int s = 0; s < 2; s++) {
            const ph_breast *b = &st.breast[s];
            int any_m = 0;
            for (int k = 0; k < b->nfind; k++) {
                const ph_finding *f = &b->find[k];
                total_f++;
                total_m += f->malignant;
                any_m |= f->malignant;
                if (f->kind == PH_MASS && f->margin == PH_SPICULATED) {
                    spic_n++;
                    spic_m += f->malignant;
                }
                if (f->kind == PH_MASS && f->margin == PH_CIRCUMSCRIBED && f->shape == PH_ROUND) {
                    rc_n++;
                    rc_m += f->malignant;
                }
                if (f->kind == PH_CALC && (f->calc_morph == PH_CALC_FINE_PLEOMORPHIC ||
                                           f->calc_morph == PH_CALC_FINE_LINEAR_BRANCHING)) {
                    fine_n++;
                    fine_m += f->malignant;
                }
                if (f->kind == PH_CALC && (f->calc_morph == PH_CALC_ROUND || f->calc_morph == PH_CALC_COARSE)) {
                    benign_calc_n++;
                    benign_calc_m += f->malignant;
                }
                /* geometry: inside in both views, same distance from the nipple */
                for (int mlo = 0; mlo < 2; mlo++) {
                    double x, y;
                    ph_finding_pos(b, f, mlo, &x, &y);
                    double e = ph_breast_e(b, mlo, x, y);
                    CHECK_MSG(e < 0.9, "study %d finding outside the breast (e %.2f)", i, e);
                    if (mlo) CHECK_MSG(x > ph_pect_x(b, y), "study %d finding in the pectoral muscle", i);
                    double nx = mlo ? b->depth_mlo_mm : b->depth_cc_mm, ny = mlo ? b->nipple_y_mlo : b->nipple_y_cc;
                    double gap = fabs(hypot(x - nx, y - ny) - f->dist_mm);
                    if (gap > max_gap) max_gap = gap;
                }
            }
            CHECK_MSG(b->malignant == any_m, "breast label differs from its findings");
        }
    }
    CHECK_MSG(max_gap < 1e-9, "distance from the nipple differs by %g mm", max_gap);
    double fa = dens[1] / (double)N, fb = dens[2] / (double)N, fc = dens[3] / (double)N, fd = dens[4] / (double)N;
    CHECK_MSG(fabs(fa - 0.10) < 0.02 && fabs(fb - 0.42) < 0.02 && fabs(fc - 0.38) < 0.02 && fabs(fd - 0.10) < 0.02,
              "density mix %.3f %.3f %.3f %.3f", fa, fb, fc, fd);
    double p_spic = spic_m / (double)spic_n, p_rc = rc_m / (double)rc_n;
    double p_fine = fine_m / (double)fine_n, p_bc = benign_calc_m / (double)benign_calc_n;
    printf("malignant: spiculated %.2f (%d), round circumscribed %.2f (%d), fine calcs %.2f (%d), "
           "round/coarse calcs %.2f (%d), all %.2f (%d)\n",
           p_spic, spic_n, p_rc, rc_n, p_fine, fine_n, p_bc, benign_calc_n, total_m / (double)total_f, total_f);
    CHECK_MSG(p_spic > 0.6 && p_spic < 0.97, "spiculated masses malignant %.2f", p_spic);
    CHECK_MSG(p_rc > 0.005 && p_rc < 0.15, "round circumscribed masses malignant %.2f", p_rc);
    CHECK_MSG(p_fine > 0.5 && p_fine < 0.97, "fine pleomorphic/linear calcifications malignant %.2f", p_fine);
    CHECK_MSG(p_bc < 0.1, "round/coarse calcifications malignant %.2f", p_bc);
}

static double disc_mean(const uint16_t *px, int rows, int cols, double cx, double cy, double r0, double r1) {
    double sum = 0;
    int n = 0;
    for (int y = (int)(cy - r1) - 1; y <= (int)(cy + r1) + 1; y++)
        for (int x = (int)(cx - r1) - 1; x <= (int)(cx + r1) + 1; x++) {
            if (x < 0 || y < 0 || x >= cols || y >= rows) continue;
            double d = hypot(x + 0.5 - cx, y + 0.5 - cy);
            if (d >= r0 && d <= r1) {
                sum += px[(size_t)y * cols + x];
                n++;
            }
        }
    return n ? sum / n : 0;
}

static void test_render(void) {
    const int rows = 832, cols = 640;
    const double s = PH_DETECTOR_WIDTH_MM / cols;
    uint16_t *px = malloc((size_t)rows * cols * sizeof *px), *inv = malloc((size_t)rows * cols * sizeof *px);
    void *work = malloc(ph_render_work_size(rows, cols));
    int found[2] = {0, 0};
    for (int i = 0; i < 400 && !(found[0] && found[1]); i++) {
        ph_study st;
        ph_case_draw(&st, 9, i, rows * s, 1.0);
        for (int side = 0; side < 2; side++) {
            const ph_breast *b = &st.breast[side];
            if (found[side] || b->nfind != 1 || b->find[0].kind != PH_MASS || b->find[0].massdens != PH_DENS_HIGH ||
                b->find[0].size_mm < 6)
                continue;
            found[side] = 1;
            for (int mlo = 0; mlo < 2; mlo++) {
                ph_view v = {.side = side, .mlo = mlo, .rows = rows, .cols = cols, .bits = 12, .noise_seed = 5};
                ph_mark m[PH_MAX_FINDINGS];
                CHECK_MSG(ph_render(&st, &v, px, work, m) == 0, "render");
                double in = disc_mean(px, rows, cols, m[0].x, m[0].y, 0, 0.4 * m[0].r);
                double ring = disc_mean(px, rows, cols, m[0].x, m[0].y, 1.8 * m[0].r, 2.6 * m[0].r);
                CHECK_MSG(in > ring + 0.05 * 4095, "study %d %s %s: mass not at its mark (inside %.0f, ring %.0f)", i,
                          side ? "R" : "L", mlo ? "MLO" : "CC", in, ring);
                /* the chest wall is on the left for L, on the right for R: the breast side is brighter */
                double lsum = 0, rsum = 0;
                for (int y = 0; y < rows; y++)
                    for (int x = 0; x < cols; x++) *(x < cols / 2 ? &lsum : &rsum) += px[(size_t)y * cols + x];
                CHECK_MSG(side ? rsum > lsum : lsum > rsum, "%s image: breast on the wrong side", side ? "R" : "L");
                v.mono1 = 1;
                ph_render(&st, &v, inv, work, NULL);
                int exact = 1;
                for (size_t k = 0; k < (size_t)rows * cols; k++) exact &= inv[k] == 4095 - px[k];
                CHECK_MSG(exact, "MONOCHROME1 is not the inversion");
            }
        }
    }
    CHECK_MSG(found[0] && found[1], "no suitable mass found (left %d right %d)", found[0], found[1]);
    /* density: the same breast, denser tissue -> brighter */
    ph_study st;
    ph_case_draw(&st, 9, 0, rows * s, 0.0);
    double prev = 0;
    for (int d = 1; d <= 4; d++) {
        st.density = d;
        ph_view v = {.side = 0, .mlo = 0, .rows = rows, .cols = cols, .bits = 12, .noise_seed = 5};
        ph_render(&st, &v, px, work, NULL);
        double sum = 0;
        int n = 0;
        for (size_t k = 0; k < (size_t)rows * cols; k++)
            if (px[k] > 0.2 * 4095) {
                sum += px[k];
                n++;
            }
        double mean = sum / n;
        CHECK_MSG(mean > prev + 20, "density %c mean %.0f not above %.0f", 'A' + d - 1, mean, prev);
        prev = mean;
    }
    free(px);
    free(inv);
    free(work);
}

int main(void) {
    test_determinism();
    test_truth_model();
    test_render();
    if (check_failures) fprintf(stderr, "%d check_failures\n", check_failures);
    else printf("ok\n");
    return check_failures ? 1 : 0;
}
