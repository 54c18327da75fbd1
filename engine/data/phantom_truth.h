/* phantom_truth.h: the ground truth of a `mama phantom` folder: manifest.csv (one row per
 * DICOM file, with the breast's labels) and phantom_findings.csv (one row per finding,
 * with its centre in the CC and MLO images). Column lists: docs/phantom.md. The EMBED
 * and RSNA tables the phantom also writes are read with embed.h and rsna.h. */
#ifndef MAMA_PHANTOM_TRUTH_H
#define MAMA_PHANTOM_TRUTH_H

#include "engine/core/status.h"
#include "engine/data/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct phantom_image {
    const char *path;        /* relative to the folder */
    const char *study_uid, *series_uid, *sop_uid, *patient_id, *accession;
    const char *view;        /* "CC" / "MLO" */
    const char *modifiers;   /* "", "SPOT", "MAG", "ID" */
    char laterality;         /* 'L' / 'R' */
    int for_processing, mono1;
    int rows, cols, bits;
    char density;            /* 'A'..'D' */
    int birads;              /* breast assessment 0..5 */
    int cancer;              /* breast has a malignant finding */
    int line;
} phantom_image;

typedef struct phantom_finding {
    const char *accession;
    char side;
    const char *kind;        /* "mass", "calcifications", "distortion", "asymmetry" */
    double size_mm, dist_nipple_mm, p_malignant;
    int malignant, birads;
    double cc_x, cc_y, mlo_x, mlo_y, radius_px; /* NAN where that view was not written */
    int line;
} phantom_finding;

typedef struct phantom_truth {
    phantom_image *images;
    int nimages;
    phantom_finding *findings;
    int nfindings;
    table_pool pool;
} phantom_truth;

/* Reads dir/manifest.csv and dir/phantom_findings.csv. */
mama_status phantom_truth_load(const char *dir, table_mode mode, phantom_truth **out_truth, table_issues *issues);
void phantom_truth_free(phantom_truth *t);

#ifdef __cplusplus
}
#endif
#endif
