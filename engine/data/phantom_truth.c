/* phantom_truth.c: reader of a phantom folder's manifest and finding list. */
#include "engine/data/phantom_truth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/data/csv.h"

enum { I_PATH, I_STUDY, I_SERIES, I_SOP, I_PATIENT, I_ACC, I_LAT, I_VIEW, I_MODS, I_INTENT, I_ROWS, I_COLS, I_BITS,
       I_PHOTO, I_DENSITY, I_BIRADS, I_CANCER, I_N };
static const char *const img_cols[I_N] = {"path", "study_uid", "series_uid", "sop_instance_uid", "patient_id",
                                          "accession", "laterality", "view", "modifiers", "intent", "rows", "columns",
                                          "bits_stored", "photometric", "density", "birads", "cancer"};

enum { F_ACC, F_SIDE, F_KIND, F_SIZE, F_DIST, F_P, F_MAL, F_BIRADS, F_CCX, F_CCY, F_MLOX, F_MLOY, F_R, F_N };
static const char *const find_cols[F_N] = {"acc_anon", "side", "kind", "size_mm", "dist_nipple_mm", "p_malignant",
                                           "malignant", "birads", "cc_x", "cc_y", "mlo_x", "mlo_y", "radius_px"};

static mama_status image_row(void *ctx, csv_reader *r, const int *idx, void *dst) {
    phantom_truth *t = ctx;
    phantom_image *im = dst;
    const char *f = csv_name(r);
    int line = csv_line(r);
    long rows, cols, bits, birads;
    mama_status rc;
#define COL(k) csv_field(r, idx[k])
    for (int k = I_PATH; k <= I_ACC; k++)
        if (!COL(k)[0]) return mama_errorf(MAMA_EFORMAT, "%s:%d: column '%s' is empty", f, line, img_cols[k]);
    const char *intent = COL(I_INTENT), *photo = COL(I_PHOTO);
    if (strcmp(intent, "FOR PRESENTATION") && strcmp(intent, "FOR PROCESSING"))
        return mama_errorf(MAMA_EFORMAT, "%s:%d: column 'intent': '%s' is not FOR PRESENTATION or FOR PROCESSING", f,
                           line, intent);
    if (strcmp(photo, "MONOCHROME1") && strcmp(photo, "MONOCHROME2"))
        return mama_errorf(MAMA_EFORMAT, "%s:%d: column 'photometric': '%s' is not MONOCHROME1 or MONOCHROME2", f,
                           line, photo);
    if ((rc = table_parse_char(f, line, "laterality", COL(I_LAT), "LR", 0, &im->laterality)) ||
        (rc = table_parse_int(f, line, "rows", COL(I_ROWS), 1, 65535, -1, &rows)) ||
        (rc = table_parse_int(f, line, "columns", COL(I_COLS), 1, 65535, -1, &cols)) ||
        (rc = table_parse_int(f, line, "bits_stored", COL(I_BITS), 1, 16, -1, &bits)) ||
        (rc = table_parse_char(f, line, "density", COL(I_DENSITY), "ABCD", 0, &im->density)) ||
        (rc = table_parse_int(f, line, "birads", COL(I_BIRADS), 0, 6, -1, &birads)) ||
        (rc = table_parse_bool(f, line, "cancer", COL(I_CANCER), -1, &im->cancer)))
        return rc;
    if (rows < 0 || cols < 0 || bits < 0 || birads < 0 || im->cancer < 0)
        return mama_errorf(MAMA_EFORMAT, "%s:%d: rows, columns, bits_stored, birads and cancer must not be empty", f,
                           line);
    im->rows = (int)rows;
    im->cols = (int)cols;
    im->bits = (int)bits;
    im->birads = (int)birads;
    im->for_processing = intent[4] == 'P' && intent[5] == 'R' && intent[6] == 'O';
    im->mono1 = photo[10] == '1';
    const char **dst_s[] = {&im->path, &im->study_uid, &im->series_uid, &im->sop_uid, &im->patient_id,
                            &im->accession, &im->view, &im->modifiers};
    const int src[] = {I_PATH, I_STUDY, I_SERIES, I_SOP, I_PATIENT, I_ACC, I_VIEW, I_MODS};
    for (int k = 0; k < 8; k++)
        if (!(*dst_s[k] = table_pool_strdup(&t->pool, COL(src[k]))))
            return mama_errorf(MAMA_ENOMEM, "%s:%d: out of memory", f, line);
    im->line = line;
    return MAMA_OK;
}

static mama_status finding_row(void *ctx, csv_reader *r, const int *idx, void *dst) {
    phantom_truth *t = ctx;
    phantom_finding *fd = dst;
    const char *f = csv_name(r);
    int line = csv_line(r);
    long mal, birads;
    mama_status rc;
    if (!COL(F_ACC)[0] || !COL(F_KIND)[0])
        return mama_errorf(MAMA_EFORMAT, "%s:%d: acc_anon and kind must not be empty", f, line);
    if ((rc = table_parse_char(f, line, "side", COL(F_SIDE), "LR", 0, &fd->side)) ||
        (rc = table_parse_double(f, line, "size_mm", COL(F_SIZE), 0, 1000, &fd->size_mm)) ||
        (rc = table_parse_double(f, line, "dist_nipple_mm", COL(F_DIST), 0, 1000, &fd->dist_nipple_mm)) ||
        (rc = table_parse_double(f, line, "p_malignant", COL(F_P), 0, 1, &fd->p_malignant)) ||
        (rc = table_parse_int(f, line, "malignant", COL(F_MAL), 0, 1, -1, &mal)) ||
        (rc = table_parse_int(f, line, "birads", COL(F_BIRADS), 0, 6, -1, &birads)) ||
        (rc = table_parse_double(f, line, "cc_x", COL(F_CCX), -1e6, 1e6, &fd->cc_x)) ||
        (rc = table_parse_double(f, line, "cc_y", COL(F_CCY), -1e6, 1e6, &fd->cc_y)) ||
        (rc = table_parse_double(f, line, "mlo_x", COL(F_MLOX), -1e6, 1e6, &fd->mlo_x)) ||
        (rc = table_parse_double(f, line, "mlo_y", COL(F_MLOY), -1e6, 1e6, &fd->mlo_y)) ||
        (rc = table_parse_double(f, line, "radius_px", COL(F_R), 0, 1e6, &fd->radius_px)))
        return rc;
    if (mal < 0 || birads < 0)
        return mama_errorf(MAMA_EFORMAT, "%s:%d: malignant and birads must not be empty", f, line);
    fd->malignant = (int)mal;
    fd->birads = (int)birads;
    if (!(fd->accession = table_pool_strdup(&t->pool, COL(F_ACC))) ||
        !(fd->kind = table_pool_strdup(&t->pool, COL(F_KIND))))
        return mama_errorf(MAMA_ENOMEM, "%s:%d: out of memory", f, line);
    fd->line = line;
#undef COL
    return MAMA_OK;
}

mama_status phantom_truth_load(const char *dir, table_mode mode, phantom_truth **out_truth, table_issues *issues) {
    *out_truth = NULL;
    phantom_truth *t = calloc(1, sizeof *t);
    if (!t) return mama_errorf(MAMA_ENOMEM, "out of memory");
    char path[4096];
    void *arr;
    snprintf(path, sizeof path, "%s/manifest.csv", dir);
    mama_status rc = table_read_csv(path, img_cols, NULL, I_N, sizeof(phantom_image), image_row, t, mode, issues,
                                    &arr, NULL, &t->nimages);
    if (rc) goto fail;
    t->images = arr;
    snprintf(path, sizeof path, "%s/phantom_findings.csv", dir);
    rc = table_read_csv(path, find_cols, NULL, F_N, sizeof(phantom_finding), finding_row, t, mode, issues, &arr, NULL,
                        &t->nfindings);
    if (rc) goto fail;
    t->findings = arr;
    *out_truth = t;
    return MAMA_OK;
fail:
    phantom_truth_free(t);
    return rc;
}

void phantom_truth_free(phantom_truth *t) {
    if (!t) return;
    free(t->images);
    free(t->findings);
    table_pool_free(&t->pool);
    free(t);
}
