/* embed.h: the EMBED tables (MAMA_METHOD.md section 10): the metadata CSV (one row per
 * image) and the clinical CSV (one row per finding of an exam), and the report of an
 * image built from them with the clinical-row choice of section 4 (engine/report.h).
 * Reads real EMBED files and the phantom's embed_*.csv alike. Strict or lenient about
 * malformed rows (engine/table.h). */
#ifndef MAMA_EMBED_H
#define MAMA_EMBED_H

#include "engine/text/report.h"
#include "engine/core/status.h"
#include "engine/data/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct embed_dataset_image {
    const char *empi_anon;          /* patient */
    const char *acc_anon;           /* exam */
    const char *study_date;         /* study_date_anon, "" when absent */
    const char *study_description;  /* StudyDescription */
    const char *series_description; /* SeriesDescription */
    const char *image_type;         /* FinalImageType ("2D", "C-view" ...) */
    const char *view;               /* ViewPosition */
    const char *dicom_path;         /* anon_dicom_path */
    const char *sop_uid;            /* SOPInstanceUID, "" when absent */
    char laterality;                /* ImageLateralityFinal: 'L' or 'R' */
    int spot_mag;                   /* 1 for a spot or magnification view */
    int line;                       /* line in the metadata CSV */
} embed_dataset_image;

typedef struct embed_dataset_table {
    embed_dataset_image *images;
    int nimages;
    report_clinical_row *rows;      /* sorted by acc_anon (file order kept within an exam) */
    int *row_line;                  /* line of rows[i] in the clinical CSV */
    int nrows;
    table_pool pool;                /* owns every string */
} embed_dataset_table;

/* Loads either table or both (a path may be NULL). Required metadata columns: empi_anon,
 * acc_anon, anon_dicom_path, ImageLateralityFinal, ViewPosition; clinical: empi_anon,
 * acc_anon, asses, side, tissueden. Values are checked (asses in ANBPSMK, side L/R/B,
 * tissueden 1-5, path_severity 0-6, age 0-120, laterality L/R; empty allowed except
 * for identifiers and laterality). *out_table is freed with embed_dataset_free. */
mama_status embed_dataset_load(const char *metadata_csv, const char *clinical_csv, table_mode mode,
                       embed_dataset_table **out_table, table_issues *issues);
void embed_dataset_free(embed_dataset_table *t);

/* The clinical rows of one exam: rows[*out_first .. *out_first + *out_n). */
void embed_dataset_exam_rows(const embed_dataset_table *t, const char *acc_anon, int *out_first, int *out_n);
/* The report builder's view of image i. */
void embed_dataset_image_meta(const embed_dataset_table *t, int image, report_image_meta *out_meta);
/* Index in t->rows of the clinical row chosen for image i (MAMA_ENOTFOUND: exam has none). */
mama_status embed_dataset_image_row(const embed_dataset_table *t, int image, int *out_row);
/* The report of image i (row choice, then report_build); *out_text is malloc'd. */
mama_status embed_dataset_image_report(const embed_dataset_table *t, int image, const report_mask *mask, char **out_text);

#ifdef __cplusplus
}
#endif
#endif
