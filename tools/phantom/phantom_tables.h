/* phantom_tables.h: ground-truth tables of a phantom run (see phantom_tables.c). */
#ifndef MAMA_PHANTOM_TABLES_H
#define MAMA_PHANTOM_TABLES_H

#include <stddef.h>
#include <stdio.h>

#include "tools/phantom/phantom.h"

typedef struct ph_tables {
    FILE *manifest, *meta, *clinical, *rsna, *findings;
} ph_tables;

/* One written DICOM file. */
typedef struct ph_image_row {
    const char *rel_path;          /* relative to the output folder */
    const char *series_uid, *sop_uid, *sop_class_uid, *tsyntax_uid;
    const char *series_description;
    int side;                      /* 0 left, 1 right */
    const char *view;              /* "CC", "MLO" */
    const char *modifiers;         /* "", "SPOT", "MAG", "ID" joined by '|' */
    int for_processing, mono1, spot_mag;
    int rows, cols, bits, instance_number;
    int rsna;                      /* listed in train.csv */
    long rsna_image_id;
} ph_image_row;

int ph_tables_open(ph_tables *t, const char *dir, char *err, size_t err_size);
int ph_tables_close(ph_tables *t); /* -1 when a write failed */
void ph_tables_image(ph_tables *t, const ph_study *st, const ph_image_row *im);
/* Clinical rows and the finding list; marks[side][mlo][finding] where have_*[side]. */
void ph_tables_study(ph_tables *t, const ph_study *st, const ph_mark marks[2][2][PH_MAX_FINDINGS], int have_cc[2],
                     int have_mlo[2]);

#endif
