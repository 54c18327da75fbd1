/* dcm_sr.h: the Mammography CAD SR (SOP class 1.2.840.10008.5.1.4.1.1.88.50, root
 * template TID 4000) of one scored study, built with DCMTK's dcmsr. The content tree and
 * the codes are in docs/results.md; in short:
 *   Mammography CAD Report (TID 4000)
 *     Image Library: one IMAGE per view used, with Image Laterality and Image View
 *     CAD Processing and Findings Summary (CID 6047)
 *       per breast an Individual Impression/Recommendation: rendering intent, laterality,
 *       breast composition (CID 6000/6001), Probability of cancer (NUM, 111047), the
 *       BI-RADS assessment (CID 6026/6027), and by-reference links to its library images
 *     Summary of Detections (not attempted), Summary of Analyses (succeeded) with the
 *       algorithm identification (TID 4019): name, version (model id), parameters (the
 *       model's demo/untrained status)
 * Patient and study attributes are copied from one of the study's images. A later
 * version lists the earlier one in the Predecessor Documents Sequence. */
#ifndef MAMA_DCM_SR_H
#define MAMA_DCM_SR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DCM_SOP_MAMMO_CAD_SR "1.2.840.10008.5.1.4.1.1.88.50"

typedef struct dcm_sr_view {
    const char *sop_class_uid;
    const char *sop_instance_uid;
    const char *series_uid;
    char laterality;              /* 'L' or 'R' */
    const char *view;             /* "CC" or "MLO" */
} dcm_sr_view;

typedef struct dcm_sr_breast {
    char laterality;              /* 'L' or 'R' */
    int density;                  /* 0..3 = BI-RADS A..D; -1: not reported */
    int birads;                   /* 0..6; -1: not reported */
    double p_cancer;              /* probability of cancer in [0,1]; < 0: not reported */
} dcm_sr_breast;

typedef struct dcm_sr_report {
    const char *source_path;      /* one image of the study: patient/study copied from it */
    const char *uid_key;          /* stable key of this object (study, version, time): its
                                     SOP Instance UID is derived from it */
    const char *series_key;       /* stable key of the study's SR series */
    int version;                  /* result version: the Instance Number */
    const dcm_sr_view *views;
    int n_views;
    const dcm_sr_breast *breasts;
    int n_breasts;
    const char *model_id;
    const char *software_version; /* mamad's version */
    int untrained;                /* 1: a demo/untrained model, not for diagnosis */
    const char *predecessor_key;  /* uid_key of the earlier version, NULL for the first */
    const char *content_datetime; /* YYYYMMDDHHMMSS of the result */
} dcm_sr_report;

/* Writes the SR to path (atomically). out_sop_uid (65 bytes, may be NULL) receives its
 * SOP Instance UID. 0, or -1 with a message in err. */
int dcm_sr_write(const char *path, const dcm_sr_report *r, char *out_sop_uid, char *err,
                 size_t errlen);

/* The UID dcm_sr_write and dcm_sc_write derive from a key (65 bytes out). */
void dcm_uid_for_key(const char *key, char *out_uid);

#ifdef __cplusplus
}
#endif
#endif
