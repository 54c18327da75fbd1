/* phantom_case.c: draws the truth of one generated screening study: patient, breast
 * geometry, BI-RADS density, findings, their malignancy and their assessment.
 *
 * Malignancy follows BI-RADS morphology through a log-odds score (spiculated margins,
 * irregular shape, fine pleomorphic or fine linear branching calcifications raise it;
 * round or oval circumscribed masses and coarse or round calcifications lower it) plus
 * Gaussian noise, so morphology predicts malignancy well but not perfectly. The reader's
 * assessment uses the same score with its own noise. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tools/phantom/phantom.h"

enum { PURPOSE_CASE = 1 };

static const char *races[] = {"Caucasian or White", "African American  or Black", "Asian",
                              "Unknown, Unavailable or Unreported", "Native Hawaiian or Other Pacific Islander",
                              "American Indian or Alaskan Native"};
static const double race_w[] = {0.42, 0.42, 0.07, 0.06, 0.015, 0.015};
static const char *ethnicities[] = {"Non-Hispanic or Latino", "Hispanic or Latino", "Unknown"};
static const double ethnic_w[] = {0.88, 0.07, 0.05};

double ph_breast_e(const ph_breast *b, int mlo, double x, double y) {
    double a, yn, h;
    if (!mlo) {
        a = b->depth_cc_mm;
        yn = b->nipple_y_cc;
        h = b->half_cc_mm;
    } else {
        a = b->depth_mlo_mm;
        yn = b->nipple_y_mlo;
        h = y < yn ? b->up_mlo_mm : b->down_mlo_mm;
    }
    double u = x / a, v = (y - yn) / h;
    return sqrt(u * u + v * v);
}

double ph_pect_x(const ph_breast *b, double y) {
    if (y >= b->pect_len_mm) return 0;
    return b->pect_top_mm * pow(1.0 - y / b->pect_len_mm, 0.85);
}

void ph_finding_pos(const ph_breast *b, const ph_finding *f, int mlo, double *out_x, double *out_y) {
    double a = mlo ? b->depth_mlo_mm : b->depth_cc_mm;
    double yn = mlo ? b->nipple_y_mlo : b->nipple_y_cc;
    double ang = mlo ? f->angle_mlo : f->angle_cc;
    *out_x = a - f->dist_mm * cos(ang);
    *out_y = yn + f->dist_mm * sin(ang);
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Log-odds of malignancy implied by the morphology (before noise). */
static double suspicion(const ph_finding *f) {
    switch (f->kind) {
    case PH_MASS: {
        static const double shape[] = {-1.4, -1.0, 1.0};
        static const double margin[] = {-1.6, 0.5, 2.2};
        static const double dens[] = {0.4, 0.0, -0.6};
        return -0.6 + shape[f->shape] + margin[f->margin] + dens[f->massdens] + 0.03 * (f->size_mm * 2 - 12);
    }
    case PH_CALC: {
        static const double morph[] = {-1.6, -2.4, -3.0, 0.0, -0.4, 1.4, 2.2};
        static const double distri[] = {0.0, 0.8, 0.8, -1.0};
        return -0.3 + morph[f->calc_morph] + distri[f->calc_distri];
    }
    case PH_DISTORTION:
        return 0.4;
    case PH_ASYMMETRY:
        return -1.8;
    }
    return 0;
}

static int inside_ok(const ph_breast *b, const ph_finding *f, int mlo) {
    double x, y;
    ph_finding_pos(b, f, mlo, &x, &y);
    double e = ph_breast_e(b, mlo, x, y);
    if (e > 0.82 || x < 8) return 0;
    if (mlo && x < ph_pect_x(b, y) + f->size_mm + 4) return 0;
    return 1;
}

static void place(mama_rng *r, const ph_breast *b, ph_finding *f) {
    f->dist_mm = ph_rng_range(r, 0.2, 0.8) * b->depth_cc_mm;
    for (int tries = 0; tries < 400; tries++) {
        if (tries && tries % 40 == 0) f->dist_mm *= 0.85;
        f->angle_cc = ph_rng_range(r, -0.9, 0.9);
        if (!inside_ok(b, f, 0)) continue;
        for (int t2 = 0; t2 < 40; t2++) {
            f->angle_mlo = ph_rng_range(r, -0.9, 0.9);
            if (inside_ok(b, f, 1)) return;
        }
    }
    /* fallback: straight behind the nipple, which is always inside */
    f->dist_mm = 0.4 * b->depth_cc_mm;
    f->angle_cc = 0;
    f->angle_mlo = 0.3;
}

static void draw_finding(mama_rng *r, const ph_study *st, const ph_breast *b, ph_finding *f) {
    memset(f, 0, sizeof *f);
    static const double kind_w[] = {0.45, 0.32, 0.08, 0.15};
    f->kind = (ph_kind)ph_rng_pick(r, kind_w, 4);
    f->seed = mama_rng_u64(r);
    f->orient = ph_rng_range(r, 0, 3.141592653589793);
    switch (f->kind) {
    case PH_MASS: {
        static const double shape_w[] = {0.25, 0.4, 0.35};
        static const double margin_w[] = {0.45, 0.3, 0.25};
        static const double dens_w[] = {0.45, 0.45, 0.10};
        f->shape = (ph_shape)ph_rng_pick(r, shape_w, 3);
        f->margin = (ph_margin)ph_rng_pick(r, margin_w, 3);
        f->massdens = (ph_massdens)ph_rng_pick(r, dens_w, 3);
        f->size_mm = ph_rng_range(r, 3.5, 12.0);
        f->contrast = (f->massdens == PH_DENS_HIGH ? 0.20 : f->massdens == PH_DENS_EQUAL ? 0.14 : 0.09) *
                      ph_rng_range(r, 0.8, 1.2);
        break;
    }
    case PH_CALC: {
        static const double morph_w[] = {0.18, 0.12, 0.10, 0.16, 0.12, 0.18, 0.14};
        static const double distri_w[] = {0.55, 0.15, 0.12, 0.18};
        f->calc_morph = (ph_calcmorph)ph_rng_pick(r, morph_w, 7);
        f->calc_distri = (ph_calcdistri)ph_rng_pick(r, distri_w, 4);
        f->size_mm = f->calc_distri == PH_DISTRI_REGIONAL ? ph_rng_range(r, 12, 20) : ph_rng_range(r, 3, 9);
        f->contrast = ph_rng_range(r, 0.25, 0.45);
        break;
    }
    case PH_DISTORTION:
        f->size_mm = ph_rng_range(r, 8, 16);
        f->contrast = ph_rng_range(r, 0.12, 0.18);
        break;
    case PH_ASYMMETRY:
        f->size_mm = ph_rng_range(r, 12, 25);
        f->contrast = ph_rng_range(r, 0.06, 0.10);
        break;
    }
    place(r, b, f);
    double s = suspicion(f) + 0.02 * (st->age - 58);
    f->p_malignant = sigmoid(s);
    f->malignant = mama_rng_uniform(r) < sigmoid(s + 0.8 * ph_rng_normal(r));
    /* the reader sees the morphology, with its own noise */
    double read = s + 0.7 * ph_rng_normal(r);
    int cat = read < -2.2 ? 2 : read < -0.9 ? 3 : read < 1.6 ? 4 : 5;
    if (st->screening) cat = cat >= 3 ? 0 : 2; /* screening: recall (0) or benign (2) */
    f->birads = cat;
    f->biopsied = f->malignant || (!st->screening && cat >= 4) || (st->screening && cat == 0 && mama_rng_uniform(r) < 0.4);
    if (f->malignant)
        f->path_severity = (f->kind == PH_CALC && mama_rng_uniform(r) < 0.5) ? 1 : 0;
    else
        f->path_severity = f->biopsied ? 4 : -1;
}

static void draw_geometry(mama_rng *r, ph_breast *b, const ph_breast *other, double rows_mm) {
    double w = PH_DETECTOR_WIDTH_MM;
    if (!other) {
        b->depth_cc_mm = ph_rng_range(r, 0.42, 0.72) * w;
        b->depth_mlo_mm = fmin(b->depth_cc_mm * ph_rng_range(r, 1.02, 1.12), 0.88 * w);
        b->nipple_y_cc = rows_mm * ph_rng_range(r, 0.46, 0.54);
        b->half_cc_mm = rows_mm * ph_rng_range(r, 0.27, 0.40);
        b->nipple_y_mlo = rows_mm * ph_rng_range(r, 0.52, 0.62);
        b->up_mlo_mm = b->nipple_y_mlo * ph_rng_range(r, 1.08, 1.3);
        b->down_mlo_mm = (rows_mm - b->nipple_y_mlo) * ph_rng_range(r, 0.72, 0.92);
        b->pect_top_mm = b->depth_mlo_mm * ph_rng_range(r, 0.25, 0.42);
        b->pect_len_mm = rows_mm * ph_rng_range(r, 0.35, 0.6);
        return;
    }
    /* the other breast: the same woman, a few per cent different */
#define NEAR(field) b->field = other->field * ph_rng_range(r, 0.95, 1.05)
    NEAR(depth_cc_mm);
    NEAR(depth_mlo_mm);
    NEAR(nipple_y_cc);
    NEAR(half_cc_mm);
    NEAR(nipple_y_mlo);
    NEAR(up_mlo_mm);
    NEAR(down_mlo_mm);
    NEAR(pect_top_mm);
    NEAR(pect_len_mm);
#undef NEAR
    b->depth_mlo_mm = fmin(b->depth_mlo_mm, 0.9 * w);
    if (b->nipple_y_mlo + b->down_mlo_mm > rows_mm - 2) b->down_mlo_mm = rows_mm - 2 - b->nipple_y_mlo;
}

void ph_case_draw(ph_study *st, uint64_t seed, int index, double rows_mm, double abnormal) {
    memset(st, 0, sizeof *st);
    mama_rng r;
    ph_rng_seed(&r, seed, (uint64_t)index, PURPOSE_CASE);
    st->seed = seed;
    st->index = index;
    long pid = (long)(seed % 1000) * 1000000L + index + 1;
    st->rsna_patient = pid;
    snprintf(st->patient_id, sizeof st->patient_id, "PH%09ld", pid);
    snprintf(st->accession, sizeof st->accession, "A%09ld", pid);
    snprintf(st->patient_name, sizeof st->patient_name, "PHANTOM^%09ld", pid);
    ph_uid(st->study_uid, seed, (uint64_t)index, 0x5354554459ull /* "STUDY" */);
    /* age 40..89, mostly 50-65 */
    double age = 58 + 9 * ph_rng_normal(&r);
    st->age = age < 40 ? 40 + (int)ph_rng_range(&r, 0, 5) : age > 89 ? 89 : (int)age;
    int year = 2010 + (int)ph_rng_range(&r, 0, 12), month = 1 + (int)ph_rng_range(&r, 0, 12),
        day = 1 + (int)ph_rng_range(&r, 0, 28);
    snprintf(st->study_date, sizeof st->study_date, "%04u%02u%02u", (unsigned)year % 10000u, (unsigned)month % 100u,
             (unsigned)day % 100u);
    snprintf(st->birth_date, sizeof st->birth_date, "%04u%02u%02u", (unsigned)(year - st->age - 1) % 10000u,
             (unsigned)(1 + (month + 5) % 12) % 100u, (unsigned)(1 + (day + 11) % 28) % 100u);
    snprintf(st->study_time, sizeof st->study_time, "%02u%02u%02u", (unsigned)(7 + (int)ph_rng_range(&r, 0, 11)) % 100u,
             (unsigned)ph_rng_range(&r, 0, 60) % 100u, (unsigned)ph_rng_range(&r, 0, 60) % 100u);
    static const double dens_w[] = {0.10, 0.42, 0.38, 0.10};
    st->density = 1 + ph_rng_pick(&r, dens_w, 4);
    st->race = races[ph_rng_pick(&r, race_w, 6)];
    st->ethnicity = ethnicities[ph_rng_pick(&r, ethnic_w, 3)];
    st->screening = mama_rng_uniform(&r) < 0.75;
    st->implant = 0;
    st->rsna_site = 1 + (mama_rng_uniform(&r) < 0.45);
    static const int machines[] = {21, 29, 48, 49, 93, 170, 190, 210, 216};
    st->rsna_machine = machines[(int)ph_rng_range(&r, 0, 9)];
    st->breast[0].side = 'L';
    st->breast[1].side = 'R';
    draw_geometry(&r, &st->breast[0], NULL, rows_mm);
    draw_geometry(&r, &st->breast[1], &st->breast[0], rows_mm);

    int nfind = 0;
    if (mama_rng_uniform(&r) < abnormal) nfind = mama_rng_uniform(&r) < 0.8 ? 1 : 2;
    for (int i = 0; i < nfind; i++) {
        ph_breast *b = &st->breast[mama_rng_uniform(&r) < 0.5];
        if (b->nfind >= PH_MAX_FINDINGS) continue;
        draw_finding(&r, st, b, &b->find[b->nfind++]);
    }
    for (int s = 0; s < 2; s++) {
        ph_breast *b = &st->breast[s];
        b->birads = 1;
        /* a few negative screening breasts are recalled anyway (false positives) */
        if (b->nfind == 0 && st->screening && mama_rng_uniform(&r) < 0.03) b->birads = 0;
        int have = 0;
        for (int i = 0; i < b->nfind; i++) {
            const ph_finding *f = &b->find[i];
            b->malignant |= f->malignant;
            /* rank: A(0) above B(2) when all <= 2, otherwise the highest */
            if (!have) b->birads = f->birads;
            else if (f->birads == 0 && b->birads <= 2) b->birads = 0;
            else if (f->birads > b->birads && !(b->birads == 0 && f->birads <= 2)) b->birads = f->birads;
            have = 1;
        }
    }
}

const char *ph_kind_name(ph_kind k) {
    static const char *names[] = {"mass", "calcifications", "distortion", "asymmetry"};
    return (unsigned)k < 4 ? names[k] : "?";
}

const char *ph_embed_massshape(const ph_finding *f) {
    switch (f->kind) {
    case PH_MASS: return f->shape == PH_ROUND ? "R" : f->shape == PH_OVAL ? "O" : "X";
    case PH_DISTORTION: return "Q";
    case PH_ASYMMETRY: return "F";
    default: return "";
    }
}

const char *ph_embed_massmargin(const ph_finding *f) {
    if (f->kind != PH_MASS) return "";
    return f->margin == PH_CIRCUMSCRIBED ? "D" : f->margin == PH_INDISTINCT ? "U" : "S";
}

const char *ph_embed_massdens(const ph_finding *f) {
    if (f->kind != PH_MASS) return "";
    return f->massdens == PH_DENS_HIGH ? "+" : f->massdens == PH_DENS_EQUAL ? "=" : "-";
}

const char *ph_embed_calcfind(const ph_finding *f) {
    static const char *codes[] = {"9", "R", "C", "A", "H", "P", "F"};
    return f->kind == PH_CALC ? codes[f->calc_morph] : "";
}

const char *ph_embed_calcdistri(const ph_finding *f) {
    static const char *codes[] = {"G", "L", "S", "R"};
    return f->kind == PH_CALC ? codes[f->calc_distri] : "";
}

char ph_embed_asses(int birads) {
    static const char letters[] = "ANBPSMK";
    return birads >= 0 && birads <= 6 ? letters[birads] : ' ';
}
