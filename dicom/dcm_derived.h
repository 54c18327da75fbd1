/* dcm_derived.h (C++, private to dicom/): what every object mamad derives from a study
 * (the CAD SR, the overview image) shares: the Patient and General Study modules copied
 * from one of the study's own images, so the PACS files the object into the same
 * patient and study; deterministic UIDs; and an atomic, durable save. */
#ifndef MAMA_DCM_DERIVED_H
#define MAMA_DCM_DERIVED_H

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <cstddef>
#include <string>

namespace dcm_derived {

/* Copies the Patient and General Study attributes (PS3.3 C.7.1.1, C.7.2.1) of the file
 * at source into ds, overwriting what ds has. 0, or -1 with a message. */
int copy_patient_study(const char *source, DcmDataset *ds, char *err, size_t errlen);

/* "2.25.<decimal>" from a 128-bit digest of key (PS3.5 B.2: a UUID-derived UID). The same
 * key always gives the same UID, so an object rebuilt after a crash keeps its identity and
 * a PACS sees a resend as the same instance. Keys name the study, the object kind, the
 * result version and its creation time, so a study received again gets new UIDs. */
std::string uid_for(const std::string &key);

/* Saves ff to path as explicit VR little endian: a temporary file beside it, fsync,
 * rename, fsync of the directory. 0, or -1 with a message; nothing is left on failure. */
int save_atomic(DcmFileFormat &ff, const char *path, char *err, size_t errlen);

void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

} // namespace dcm_derived

#endif
