/* rsna.c: RSNA train.csv reader (see rsna.h). */
#include "engine/data/rsna.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/data/csv.h"

enum { R_PATIENT, R_IMAGE, R_LAT, R_VIEW, R_CANCER, R_SITE, R_AGE, R_BIOPSY, R_INVASIVE, R_BIRADS, R_IMPLANT,
       R_DENSITY, R_MACHINE, R_DIFFICULT, R_N };
static const char *const cols[R_N] = {"patient_id", "image_id", "laterality", "view", "cancer", "site_id", "age",
                                      "biopsy", "invasive", "BIRADS", "implant", "density", "machine_id",
                                      "difficult_negative_case"};
static const int req[R_N] = {1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};

static mama_status row(void *ctx, csv_reader *r, const int *idx, void *dst) {
    rsna_table *t = ctx;
    rsna_image *im = dst;
    const char *f = csv_name(r);
    int line = csv_line(r);
#define COL(k) (idx[k] < 0 ? "" : csv_field(r, idx[k]))
    mama_status rc;
    long birads;
    if (!COL(R_PATIENT)[0] || !COL(R_IMAGE)[0])
        return mama_errorf(MAMA_EFORMAT, "%s:%d: patient_id and image_id must not be empty", f, line);
    if (!COL(R_VIEW)[0]) return mama_errorf(MAMA_EFORMAT, "%s:%d: column 'view' is empty", f, line);
    if ((rc = table_parse_int(f, line, "patient_id", COL(R_PATIENT), 0, 0x7fffffffffffL, -1, &im->patient_id)) ||
        (rc = table_parse_int(f, line, "image_id", COL(R_IMAGE), 0, 0x7fffffffffffL, -1, &im->image_id)) ||
        (rc = table_parse_char(f, line, "laterality", COL(R_LAT), "LR", 0, &im->laterality)) ||
        (rc = table_parse_bool(f, line, "cancer", COL(R_CANCER), -1, &im->cancer)) ||
        (rc = table_parse_int(f, line, "site_id", COL(R_SITE), 0, 1000000, -1, &im->site_id)) ||
        (rc = table_parse_double(f, line, "age", COL(R_AGE), 0, 120, &im->age)) ||
        (rc = table_parse_bool(f, line, "biopsy", COL(R_BIOPSY), -1, &im->biopsy)) ||
        (rc = table_parse_bool(f, line, "invasive", COL(R_INVASIVE), -1, &im->invasive)) ||
        (rc = table_parse_int(f, line, "BIRADS", COL(R_BIRADS), 0, 2, -1, &birads)) ||
        (rc = table_parse_bool(f, line, "implant", COL(R_IMPLANT), -1, &im->implant)) ||
        (rc = table_parse_char(f, line, "density", COL(R_DENSITY), "ABCD", 1, &im->density)) ||
        (rc = table_parse_int(f, line, "machine_id", COL(R_MACHINE), 0, 1000000000, -1, &im->machine_id)) ||
        (rc = table_parse_bool(f, line, "difficult_negative_case", COL(R_DIFFICULT), -1, &im->difficult_negative)))
        return rc;
    if (im->cancer < 0) return mama_errorf(MAMA_EFORMAT, "%s:%d: column 'cancer' is empty", f, line);
    im->birads = (int)birads;
    im->view = table_pool_strdup(&t->pool, COL(R_VIEW));
    if (!im->view) return mama_errorf(MAMA_ENOMEM, "%s:%d: out of memory", f, line);
    im->line = line;
#undef COL
    return MAMA_OK;
}

mama_status rsna_load(const char *train_csv, table_mode mode, rsna_table **out_table, table_issues *issues) {
    *out_table = NULL;
    rsna_table *t = calloc(1, sizeof *t);
    if (!t) return mama_errorf(MAMA_ENOMEM, "out of memory");
    void *arr = NULL;
    mama_status rc = table_read_csv(train_csv, cols, req, R_N, sizeof(rsna_image), row, t, mode, issues, &arr, NULL,
                                    &t->n);
    t->images = arr;
    if (rc) {
        rsna_free(t);
        return rc;
    }
    *out_table = t;
    return MAMA_OK;
}

void rsna_free(rsna_table *t) {
    if (!t) return;
    free(t->images);
    table_pool_free(&t->pool);
    free(t);
}

mama_status rsna_dicom_path(const rsna_image *im, const char *image_root, char *out, size_t out_size) {
    int n = snprintf(out, out_size, "%s/%ld/%ld.dcm", image_root, im->patient_id, im->image_id);
    if (n < 0 || (size_t)n >= out_size)
        return mama_errorf(MAMA_EINVAL, "path of image %ld under %s is longer than %zu bytes", im->image_id,
                           image_root, out_size);
    return MAMA_OK;
}
