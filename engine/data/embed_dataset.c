/* embed.c: EMBED metadata and clinical CSV readers (see embed.h). */
#include "engine/data/embed_dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/data/csv.h"

enum { M_EMPI, M_ACC, M_PATH, M_LAT, M_VIEW, M_DATE, M_DESC, M_SERIES, M_TYPE, M_SPOT, M_SOP, M_N };
static const char *const meta_cols[M_N] = {"empi_anon", "acc_anon", "anon_dicom_path", "ImageLateralityFinal",
                                           "ViewPosition", "study_date_anon", "StudyDescription",
                                           "SeriesDescription", "FinalImageType", "spot_mag", "SOPInstanceUID"};
static const int meta_req[M_N] = {1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0};

enum { C_EMPI, C_ACC, C_ASSES, C_SIDE, C_DEN, C_DESC, C_SHAPE, C_MARGIN, C_MDENS, C_CALC, C_DISTRI, C_PATH, C_RACE,
       C_ETHNIC, C_AGE, C_N };
static const char *const clin_cols[C_N] = {"empi_anon", "acc_anon", "asses", "side", "tissueden", "desc",
                                           "massshape", "massmargin", "massdens", "calcfind", "calcdistri",
                                           "path_severity", "RACE_DESC", "ETHNIC_GROUP_DESC", "age_at_study"};
static const int clin_req[C_N] = {1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

static const char *col(csv_reader *r, const int *idx, int k) { return idx[k] < 0 ? "" : csv_field(r, idx[k]); }

static mama_status need(csv_reader *r, const char *name, const char *value) {
    if (!value[0])
        return mama_errorf(MAMA_EFORMAT, "%s:%d: column '%s' is empty", csv_name(r), csv_line(r), name);
    return MAMA_OK;
}

#define POOL(s) table_pool_strdup(&t->pool, (s))

static mama_status meta_row(embed_dataset_table *t, csv_reader *r, const int *idx, embed_dataset_image *im) {
    const char *f = csv_name(r);
    int line = csv_line(r);
    mama_status rc;
    if ((rc = need(r, "empi_anon", col(r, idx, M_EMPI))) || (rc = need(r, "acc_anon", col(r, idx, M_ACC))) ||
        (rc = need(r, "anon_dicom_path", col(r, idx, M_PATH))) || (rc = need(r, "ViewPosition", col(r, idx, M_VIEW))))
        return rc;
    if ((rc = table_parse_char(f, line, "ImageLateralityFinal", col(r, idx, M_LAT), "LR", 0, &im->laterality)))
        return rc;
    if ((rc = table_parse_bool(f, line, "spot_mag", col(r, idx, M_SPOT), 0, &im->spot_mag))) return rc;
    im->empi_anon = POOL(col(r, idx, M_EMPI));
    im->acc_anon = POOL(col(r, idx, M_ACC));
    im->dicom_path = POOL(col(r, idx, M_PATH));
    im->view = POOL(col(r, idx, M_VIEW));
    im->study_date = POOL(col(r, idx, M_DATE));
    im->study_description = POOL(col(r, idx, M_DESC));
    im->series_description = POOL(col(r, idx, M_SERIES));
    im->image_type = POOL(col(r, idx, M_TYPE));
    im->sop_uid = POOL(col(r, idx, M_SOP));
    im->line = line;
    if (!im->empi_anon || !im->acc_anon || !im->dicom_path || !im->view || !im->study_date ||
        !im->study_description || !im->series_description || !im->image_type || !im->sop_uid)
        return mama_errorf(MAMA_ENOMEM, "%s:%d: out of memory", f, line);
    return MAMA_OK;
}

static mama_status clin_row(embed_dataset_table *t, csv_reader *r, const int *idx, report_clinical_row *row) {
    const char *f = csv_name(r);
    int line = csv_line(r);
    mama_status rc;
    long den, path;
    double age;
    if ((rc = need(r, "empi_anon", col(r, idx, C_EMPI))) || (rc = need(r, "acc_anon", col(r, idx, C_ACC))) ||
        (rc = table_parse_char(f, line, "asses", col(r, idx, C_ASSES), "ANBPSMK", 1, &row->asses)) ||
        (rc = table_parse_char(f, line, "side", col(r, idx, C_SIDE), "LRB", 1, &row->side)) ||
        (rc = table_parse_int(f, line, "tissueden", col(r, idx, C_DEN), 1, 5, 0, &den)) ||
        (rc = table_parse_int(f, line, "path_severity", col(r, idx, C_PATH), 0, 6, -1, &path)) ||
        (rc = table_parse_double(f, line, "age_at_study", col(r, idx, C_AGE), 0, 120, &age)))
        return rc;
    row->tissueden = (int)den;
    row->path_severity = (int)path;
    row->age_at_study = isnan(age) ? -1 : age;
    const char **dst[] = {&row->empi_anon, &row->acc_anon, &row->desc, &row->massshape, &row->massmargin,
                          &row->massdens, &row->calcfind, &row->calcdistri, &row->race_desc, &row->ethnic_group_desc};
    const int src[] = {C_EMPI, C_ACC, C_DESC, C_SHAPE, C_MARGIN, C_MDENS, C_CALC, C_DISTRI, C_RACE, C_ETHNIC};
    for (size_t k = 0; k < sizeof src / sizeof src[0]; k++) {
        *dst[k] = POOL(col(r, idx, src[k]));
        if (!*dst[k]) return mama_errorf(MAMA_ENOMEM, "%s:%d: out of memory", f, line);
    }
    return MAMA_OK;
}

static mama_status meta_fn(void *ctx, csv_reader *r, const int *idx, void *dst) {
    return meta_row(ctx, r, idx, dst);
}
static mama_status clin_fn(void *ctx, csv_reader *r, const int *idx, void *dst) {
    return clin_row(ctx, r, idx, dst);
}

typedef struct keyed {
    report_clinical_row row;
    int line;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    int c = strcmp(x->row.acc_anon, y->row.acc_anon);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

mama_status embed_dataset_load(const char *metadata_csv, const char *clinical_csv, table_mode mode, embed_dataset_table **out_table,
                       table_issues *issues) {
    *out_table = NULL;
    embed_dataset_table *t = calloc(1, sizeof *t);
    if (!t) return mama_errorf(MAMA_ENOMEM, "out of memory");
    mama_status rc = MAMA_OK;
    if (metadata_csv) {
        void *arr;
        int *lines;
        rc = table_read_csv(metadata_csv, meta_cols, meta_req, M_N, sizeof(embed_dataset_image), meta_fn, t, mode, issues,
                            &arr, &lines, &t->nimages);
        if (rc) goto fail;
        t->images = arr;
        free(lines); /* each image keeps its line */
    }
    if (clinical_csv) {
        void *arr;
        rc = table_read_csv(clinical_csv, clin_cols, clin_req, C_N, sizeof(report_clinical_row), clin_fn, t, mode,
                            issues, &arr, &t->row_line, &t->nrows);
        if (rc) goto fail;
        t->rows = arr;
        /* sort by exam, keeping file order inside an exam (report_choose_row breaks ties
         * by the first row) */
        keyed *k = malloc((size_t)(t->nrows ? t->nrows : 1) * sizeof *k);
        if (!k) {
            rc = mama_errorf(MAMA_ENOMEM, "%s: out of memory", clinical_csv);
            goto fail;
        }
        for (int i = 0; i < t->nrows; i++) {
            k[i].row = t->rows[i];
            k[i].line = t->row_line[i];
        }
        qsort(k, (size_t)t->nrows, sizeof *k, cmp_keyed);
        for (int i = 0; i < t->nrows; i++) {
            t->rows[i] = k[i].row;
            t->row_line[i] = k[i].line;
        }
        free(k);
    }
    *out_table = t;
    return MAMA_OK;
fail:
    embed_dataset_free(t);
    return rc;
}

void embed_dataset_free(embed_dataset_table *t) {
    if (!t) return;
    free(t->images);
    free(t->rows);
    free(t->row_line);
    table_pool_free(&t->pool);
    free(t);
}

void embed_dataset_exam_rows(const embed_dataset_table *t, const char *acc_anon, int *out_first, int *out_n) {
    int lo = 0, hi = t->nrows;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(t->rows[mid].acc_anon, acc_anon) < 0) lo = mid + 1;
        else hi = mid;
    }
    int end = lo;
    while (end < t->nrows && strcmp(t->rows[end].acc_anon, acc_anon) == 0) end++;
    *out_first = lo;
    *out_n = end - lo;
}

void embed_dataset_image_meta(const embed_dataset_table *t, int image, report_image_meta *out_meta) {
    const embed_dataset_image *im = &t->images[image];
    out_meta->acc_anon = im->acc_anon;
    out_meta->study_description = im->study_description;
    out_meta->image_type = im->image_type;
    out_meta->laterality = im->laterality;
    out_meta->view = im->view;
}

mama_status embed_dataset_image_row(const embed_dataset_table *t, int image, int *out_row) {
    if (image < 0 || image >= t->nimages)
        return mama_errorf(MAMA_EINVAL, "image %d outside 0..%d", image, t->nimages - 1);
    int first, n;
    embed_dataset_exam_rows(t, t->images[image].acc_anon, &first, &n);
    if (n == 0)
        return mama_errorf(MAMA_ENOTFOUND, "exam %s (image on metadata line %d) has no clinical row",
                           t->images[image].acc_anon, t->images[image].line);
    report_image_meta meta;
    embed_dataset_image_meta(t, image, &meta);
    int k;
    mama_status rc = report_choose_row(t->rows + first, n, &meta, &k);
    if (rc) return rc;
    *out_row = first + k;
    return MAMA_OK;
}

mama_status embed_dataset_image_report(const embed_dataset_table *t, int image, const report_mask *mask, char **out_text) {
    *out_text = NULL;
    int row;
    mama_status rc = embed_dataset_image_row(t, image, &row);
    if (rc) return rc;
    report_image_meta meta;
    embed_dataset_image_meta(t, image, &meta);
    return report_build(&t->rows[row], &meta, mask, out_text);
}
