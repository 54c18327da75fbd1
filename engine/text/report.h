/* report.h: structured radiology reports written from EMBED-style tabular metadata
 * (MAMA_METHOD.md section 4), the clinical-row choice per image, meta masking, and the
 * zero-shot class prompts built with the same template (section 9).
 *
 * A report has eight sections, in this order, joined by one space:
 *   Procedure reported, Reason for procedure, Patient info, Image info,
 *   Breast composition, Findings, Impressions, Overall assessment.
 * The exact phrases (and the EMBED code tables) are listed in docs/reports.md.
 * Every string argument is borrowed: the structs hold pointers the caller owns (NULL or ""
 * means "not coded"). Text results are malloc'd and owned by the caller (free()). */
#ifndef MAMA_REPORT_H
#define MAMA_REPORT_H

#include <stdbool.h>

#include "engine/core/rng.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One row of the EMBED clinical table (one finding of one exam). */
typedef struct report_clinical_row {
    const char *empi_anon;         /* patient */
    const char *acc_anon;          /* exam (accession) */
    const char *desc;              /* study description of the exam */
    int tissueden;                 /* 1..4 = BI-RADS density A..D, 5 = male, 0 = missing */
    char asses;                    /* BI-RADS letter A N B P S M K; 0 = missing */
    char side;                     /* 'L', 'R', 'B'; 0 = missing */
    const char *massshape;         /* EMBED codes, see docs/reports.md */
    const char *massmargin;
    const char *massdens;
    const char *calcfind;
    const char *calcdistri;
    int path_severity;             /* EMBED pathology severity 0..6; -1 = missing */
    const char *race_desc;         /* RACE_DESC, used verbatim */
    const char *ethnic_group_desc; /* ETHNIC_GROUP_DESC, used verbatim */
    double age_at_study;           /* years; < 0 or NaN = missing */
} report_clinical_row;

/* What the metadata table (or the DICOM header) says about one image. */
typedef struct report_image_meta {
    const char *acc_anon;          /* exam the image belongs to */
    const char *study_description; /* StudyDescription, e.g. "MG Screening Bilateral" */
    const char *image_type;        /* FinalImageType, e.g. "2D", "C-view" */
    char laterality;               /* 'L' or 'R'; 0 = missing */
    const char *view;              /* ViewPosition, e.g. "CC", "MLO" */
} report_image_meta;

/* Which meta fields are replaced by "unknown" (true = masked). */
typedef struct report_mask {
    bool age, race, ethnicity, image_type, side, view;
} report_mask;

/* BI-RADS rank of an EMBED assessment letter: A=0, N=1, B=2, P=3, S=4, M=5, K=6;
 * -1 for anything else (missing or unknown code). */
int report_birads_rank(char asses);

/* Picks the clinical row for an image from rows (n of them, any exams): among the rows of
 * the image's exam (acc_anon) with the image's side, else with side 'B', else any side, the
 * one with the highest BI-RADS rank (first such row on ties), except that a BI-RADS 0 (A)
 * row wins when all ranks are <= 2. Rows with an unknown assessment are chosen only when
 * no row of the group has a known one. MAMA_ENOTFOUND when the exam has no row. */
mama_status report_choose_row(const report_clinical_row *rows, int n,
                              const report_image_meta *img, int *out_index);

/* Draws a mask: each of the six fields is masked independently with probability p. */
void report_mask_sample(report_mask *out_mask, mama_rng *rng, double p);

/* The full eight-section report of an image with its chosen clinical row. mask NULL means
 * nothing masked. img may be NULL (image info unknown). *out_text is malloc'd. */
mama_status report_build(const report_clinical_row *row, const report_image_meta *img,
                         const report_mask *mask, char **out_text);

/* Zero-shot tasks of MAMA_METHOD.md section 9. */
typedef enum report_task {
    REPORT_TASK_DENSITY = 0,    /* 4 classes: A, B, C, D */
    REPORT_TASK_BIRADS = 1,     /* 7 classes: 0..6 */
    REPORT_TASK_MALIGNANCY = 2, /* 2 classes: benign, malignant */
    REPORT_TASK_COUNT = 3,
} report_task;

const char *report_task_name(report_task task);      /* "density", "birads", "malignancy" */
int report_task_classes(report_task task);           /* 4, 7, 2; 0 for a bad task */
const char *report_class_name(report_task task, int k); /* "A", "3", "benign"...; NULL if bad */

/* The prompt of class k: the meta sections (procedure, reason, patient, image) of the
 * given row/image, unmasked, followed by the class sections:
 *   density k:     Breast composition of density A+k;
 *   birads k:      Findings, Impressions and Overall assessment of BI-RADS k;
 *   malignancy:    those of BI-RADS 2 (benign) or BI-RADS 5 (malignant).
 * row NULL: patient info unknown. img NULL: image info unknown. Both NULL: the procedure
 * is "MG Screening Bilateral" (screening): the form used for prompts stored with a model. */
mama_status report_class_prompt(report_task task, int k, const report_clinical_row *row,
                                const report_image_meta *img, char **out_text);

#ifdef __cplusplus
}
#endif
#endif
