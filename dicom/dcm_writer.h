/* dcm_writer.h: writes one Digital Mammography X-Ray image (MG IOD) as a DICOM Part 10
 * file from a plain C description, in any of the transfer syntaxes the project handles.
 * Used by `mama phantom` and `mama import mias`. The file is written to a temporary name
 * beside the target and renamed into place, so a reader never sees half a file.
 * Every entry point catches all C++ exceptions and returns a status with a message. */
#ifndef MAMA_DCM_WRITER_H
#define MAMA_DCM_WRITER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dcm_tsyntax {
    DCM_TS_EXPLICIT_LE = 0, /* 1.2.840.10008.1.2.1 (default) */
    DCM_TS_IMPLICIT_LE,     /* 1.2.840.10008.1.2 */
    DCM_TS_DEFLATE,         /* 1.2.840.10008.1.2.1.99 */
    DCM_TS_RLE,             /* 1.2.840.10008.1.2.5 */
    DCM_TS_JPEG_LOSSLESS,   /* 1.2.840.10008.1.2.4.70 (process 14, selection value 1) */
    DCM_TS_JPEGLS_LOSSLESS, /* 1.2.840.10008.1.2.4.80 */
    DCM_TS_J2K_LOSSLESS,    /* 1.2.840.10008.1.2.4.90 (encoded here with OpenJPEG) */
    DCM_TS_COUNT
} dcm_tsyntax;

/* Name used on the command line ("explicit", "implicit", "deflate", "rle", "jpegll",
 * "jpegls", "j2k"); dcm_tsyntax_parse returns 0 on success, -1 for an unknown name. */
const char *dcm_tsyntax_name(dcm_tsyntax ts);
const char *dcm_tsyntax_uid(dcm_tsyntax ts);
int dcm_tsyntax_parse(const char *name, dcm_tsyntax *out_ts);

/* View modifier flags (View Modifier Code Sequence inside the View Code Sequence item). */
enum {
    DCM_VIEWMOD_SPOT = 1 << 0,              /* SRT R-102D7 "Spot Compression" (SCT 399055006) */
    DCM_VIEWMOD_MAGNIFICATION = 1 << 1,     /* SRT R-102D6 "Magnification" (SCT 399163009) */
    DCM_VIEWMOD_IMPLANT_DISPLACED = 1 << 2, /* SRT R-102D5 "Implant Displaced" (SCT 399209000) */
};

/* One MG image. Strings are NUL-terminated; NULL or "" writes an empty (type 2)
 * attribute or leaves a type 3 one out. Pixels are the stored values, row-major
 * rows x columns, already inverted by the caller for MONOCHROME1 and within
 * 0 .. 2^bits_stored - 1 (checked). */
typedef struct dcm_mg_image {
    /* patient and study */
    const char *patient_id;
    const char *patient_name;      /* PN, e.g. "PHANTOM^000001" */
    const char *patient_birth_date; /* DA or NULL */
    const char *patient_age;       /* AS, e.g. "057Y" */
    const char *study_uid;
    const char *study_id;          /* SH */
    const char *study_date;        /* DA YYYYMMDD */
    const char *study_time;        /* TM HHMMSS */
    const char *study_description; /* e.g. "MG Screening Bilateral" */
    const char *accession_number;
    const char *referring_physician; /* PN or NULL */
    /* series and equipment */
    const char *series_uid;
    int series_number;
    const char *series_description;
    const char *manufacturer;
    const char *model_name;
    const char *institution;
    /* image */
    const char *sop_instance_uid;
    int instance_number;
    const char *acquisition_datetime; /* DT YYYYMMDDHHMMSS */
    const char *laterality;        /* "L" or "R" */
    const char *view_position;     /* "CC", "MLO", "ML", "LM", "XCCL" ... */
    unsigned view_modifiers;       /* DCM_VIEWMOD_* */
    int for_processing;            /* 0: FOR PRESENTATION, 1: FOR PROCESSING */
    int implant_present;           /* Breast Implant Present YES/NO */
    int mono1;                     /* MONOCHROME1 (pixels already inverted) */
    int derived;                   /* ImageType DERIVED (e.g. a digitised film) */
    double window_center, window_width; /* written for FOR PRESENTATION */
    const char *voi_lut_function;  /* "LINEAR", "SIGMOID" or NULL (LINEAR is implied) */
    double pixel_spacing_mm;       /* Imager Pixel Spacing, square */
    double body_part_thickness_mm; /* 0: left out */
    double compression_force_n;    /* 0: left out */
    int kvp;                       /* 0: left out */
    const char *derivation_description; /* NULL or text (e.g. digitised film origin) */
    const char *patient_orientation; /* NULL: the standard one for laterality and view
                                        (chest wall left for L, right for R) */
    int burned_in_annotation;      /* 1: YES (e.g. film labels), 0: NO */
    /* pixels */
    uint16_t rows, columns;
    uint16_t bits_stored;          /* 8 .. 16; BitsAllocated is always 16 */
    const uint16_t *pixels;
} dcm_mg_image;

#define DCM_WRITER_ERR_MAX 512

/* Writes img to path in transfer syntax ts. Returns 0 on success, -1 with a message in
 * err (err_size bytes, may be NULL) on failure; nothing is left at path on failure. */
int dcm_write_mg(const char *path, const dcm_mg_image *img, dcm_tsyntax ts, char *err,
                 size_t err_size);

/* SOP Class UIDs of the two digital mammography storage classes. */
#define DCM_SOP_MG_PRESENTATION "1.2.840.10008.5.1.4.1.1.1.2"
#define DCM_SOP_MG_PROCESSING "1.2.840.10008.5.1.4.1.1.1.2.1"

#ifdef __cplusplus
}
#endif
#endif
