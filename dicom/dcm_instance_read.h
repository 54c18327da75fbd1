/* dcm_instance_read.h: the one reader of a DICOM file's key tags (dcm_instance_info), used
 * by ingest (the SCP's whole-file check, dicom/dcm_scp.cc), by the pixel loader
 * (dicom/dcm_image.cc: scoring, the CLI) and by the daemon's UID checks, so that a file
 * reads the same on every path.
 *
 * One rule for every string tag: the whole value (all components, backslashes kept),
 * trimmed of DICOM padding (spaces, NULs); absent -> "". A value longer than its field
 * (which holds the longest value its VR allows, e.g. 64 characters for UI and LO) is
 * malformed and the file is refused with an error naming the tag: truncating an
 * identifier could silently merge two patients' or studies' images. Laterality is
 * ImageLaterality (0020,0062), else the series Laterality (0020,0060).
 * Secondary Capture images (digitised film such as CBIS-DDSM) carry no ImageLaterality
 * or ViewPosition: for them, and only them, what is still missing is read from
 * PatientOrientation (0020,0020; mammography's convention, PS3.3 C.8.11.7: rows towards
 * A = left breast, P = right; columns with a foot/head part F or H plus R or L = MLO,
 * R or L alone = CC, F or H alone = ML) and, last, from the words of SeriesDescription
 * (LEFT/RIGHT/L/R, CC/MLO, or one word LCC, RMLO ...). laterality_from and view_from
 * say which tag gave the value, so that the caller can log it. */
#ifndef MAMA_DCM_INSTANCE_READ_H
#define MAMA_DCM_INSTANCE_READ_H

#include <stddef.h>

#include "dicom/dcm_instance.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads the key tags of a DICOM file (it must have a file meta header) without loading
 * its pixel data, and checks the file is whole: it parses to the end, it has Pixel Data,
 * and native Pixel Data has the length Rows x Columns x Samples x BitsAllocated x Frames
 * implies with its last bytes present. The bounded pre-parse (dcm_preparse.h) runs first,
 * so DCMTK never parses an unbounded file. 0, or -1 with the reason in err. Thread-safe. */
int dcm_read_instance_info(const char *path, dcm_instance_info *out_info, char *err,
                           size_t errlen);

/* 1 when s is a valid DICOM UID: 1..64 chars of digits and '.', no empty or
 * leading-zero components. Used before any UID touches a path. */
int dcm_uid_valid(const char *s);

#ifdef __cplusplus
}

class DcmFileFormat;

/* The tag part of dcm_read_instance_info on a file already in memory (dcm_image.cc has
 * loaded it to decode the pixels): fills *out_info (zeroed first) from ff's meta header
 * and dataset. 0, or -1 with "<Tag> is longer than allowed" in err. Does not throw. */
int dcm_instance_fill(DcmFileFormat &ff, dcm_instance_info *out_info, char *err, size_t errlen);
#endif
#endif
