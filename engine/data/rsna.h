/* rsna.h: the RSNA Screening Mammography train.csv (MAMA_METHOD.md section 10) and the
 * path of each image's DICOM file, <image_root>/<patient_id>/<image_id>.dcm. Reads the
 * real file and the phantom's train.csv alike (the phantom writes that folder layout
 * with `--layout rsna`). Strict or lenient about malformed rows (engine/table.h). */
#ifndef MAMA_RSNA_H
#define MAMA_RSNA_H

#include <stddef.h>

#include "engine/core/status.h"
#include "engine/data/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rsna_image {
    long site_id;          /* -1 when absent */
    long patient_id;
    long image_id;
    char laterality;       /* 'L' or 'R' */
    const char *view;      /* "CC", "MLO", ... */
    double age;            /* NAN when blank */
    int cancer;            /* 0/1 */
    int biopsy, invasive;  /* 0/1, -1 when absent */
    int birads;            /* 0, 1, 2; -1 blank */
    int implant;           /* 0/1, -1 when absent */
    char density;          /* 'A'..'D', 0 blank */
    long machine_id;       /* -1 when absent */
    int difficult_negative; /* 0/1, -1 when absent */
    int line;
} rsna_image;

typedef struct rsna_table {
    rsna_image *images;
    int n;
    table_pool pool;
} rsna_table;

/* Required columns: patient_id, image_id, laterality, view, cancer. */
mama_status rsna_load(const char *train_csv, table_mode mode, rsna_table **out_table, table_issues *issues);
void rsna_free(rsna_table *t);
/* Writes "<image_root>/<patient_id>/<image_id>.dcm"; MAMA_EINVAL when it does not fit. */
mama_status rsna_dicom_path(const rsna_image *im, const char *image_root, char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif
