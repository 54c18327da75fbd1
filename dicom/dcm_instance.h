/* dcm_instance.h: the key tags of one received or read DICOM instance, as plain C.
 * Filled by the DICOM layer (never from raw paths); consumed by the daemon's grouper and
 * the index. Strings are NUL-terminated, trimmed of DICOM padding, empty when absent, and
 * UTF-8: free text (the DCM_TEXT_MAX fields) is converted from the dataset's Specific
 * Character Set (0008,0005) by dicom/dcm_instance_read.cc; the file keeps the raw bytes. */
#ifndef MAMA_DCM_INSTANCE_H
#define MAMA_DCM_INSTANCE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DCM_UID_MAX 65      /* 64 characters + NUL */
#define DCM_SHORT_MAX 65
/* 64 characters of LO/SH/PN as UTF-8: any one byte of a DICOM character set becomes at
 * most 3 bytes of UTF-8 (the value's raw length is still checked against 64). */
#define DCM_TEXT_MAX (64 * 3 + 1)

typedef struct dcm_instance_info {
    char study_uid[DCM_UID_MAX];
    char series_uid[DCM_UID_MAX];
    char sop_instance_uid[DCM_UID_MAX];
    char sop_class_uid[DCM_UID_MAX];
    char transfer_syntax_uid[DCM_UID_MAX];
    char modality[17];
    char patient_id[DCM_TEXT_MAX];
    char accession_number[DCM_TEXT_MAX];
    char image_laterality[3];          /* "L", "R", or "" (falls back to (0020,0060)) */
    char view_position[17];            /* "CC", "MLO", ... (0018,5101) */
    char view_code[DCM_SHORT_MAX];     /* View Code Sequence item: CodeValue, e.g. "R-10242" */
    char view_code_meaning[DCM_TEXT_MAX];
    char view_modifiers[DCM_SHORT_MAX * 2]; /* View Modifier Code Sequence values, '\\'-joined
                                              (CID 4015): SRT "R-102D7" / SCT 399055006 spot
                                              compression, "R-102D6" / 399163009
                                              magnification, "R-102D5" / 399209000 implant
                                              displaced (daemon/grouper_view.c) */
    char presentation_intent[17];      /* "FOR PRESENTATION" / "FOR PROCESSING" */
    char breast_implant_present[4];    /* "YES" / "NO" / "" */
    char acquisition_datetime[27];     /* DT, or AcquisitionDate + AcquisitionTime joined */
    char patient_age[5];               /* AS, e.g. "057Y" */
    char study_date[9];
    char study_description[DCM_TEXT_MAX];
    uint16_t rows, columns;
    uint16_t bits_stored;
    char photometric[17];              /* "MONOCHROME1" / "MONOCHROME2" */
    char body_part[17];                /* BodyPartExamined (0018,0015), e.g. "BREAST" */
    /* Where image_laterality and view_position came from: "ImageLaterality",
     * "Laterality", "ViewPosition", and for Secondary Capture images (which carry
     * neither) "PatientOrientation" or "SeriesDescription"; "" when not found. */
    char laterality_from[24];
    char view_from[24];
} dcm_instance_info;

#define DCM_SOP_SECONDARY_CAPTURE "1.2.840.10008.5.1.4.1.1.7"

/* 1 when info is a Secondary Capture image that says it is a mammogram (Modality MG or
 * BodyPartExamined BREAST): the only Secondary Capture mamad may accept. */
int dcm_instance_is_mammo_sc(const dcm_instance_info *info);

#ifdef __cplusplus
}
#endif
#endif
