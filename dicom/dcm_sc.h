/* dcm_sc.h: a Secondary Capture Image (SOP class 1.2.840.10008.5.1.4.1.1.7) of 8-bit RGB
 * pixels, written with DCMTK into the study of a source image (patient and study copied
 * from it). mamad's overview of a scored study is one: the four processed views with the
 * scores burned in (daemon/overview.c renders it). */
#ifndef MAMA_DCM_SC_H
#define MAMA_DCM_SC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DCM_SOP_SECONDARY_CAPTURE "1.2.840.10008.5.1.4.1.1.7"

typedef struct dcm_sc_image {
    const char *source_path;      /* one image of the study: patient/study copied from it */
    const char *uid_key;          /* stable key: the SOP Instance UID is derived from it */
    const char *series_key;       /* stable key of the study's overview series */
    int instance_number;          /* the result version */
    const char *description;      /* Derivation Description / Image Comments */
    const char *content_datetime; /* YYYYMMDDHHMMSS */
    int rows, cols;
    const uint8_t *rgb;           /* rows x cols x 3, row-major, interleaved */
} dcm_sc_image;

/* Writes the image to path (atomically). out_sop_uid (65 bytes, may be NULL) receives its
 * SOP Instance UID. 0, or -1 with a message in err. */
int dcm_sc_write(const char *path, const dcm_sc_image *img, char *out_sop_uid, char *err,
                 size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
