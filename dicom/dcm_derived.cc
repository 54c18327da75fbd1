/* dcm_derived.cc: see dcm_derived.h. */
#include "dicom/dcm_derived.h"

#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <libgen.h>
#include <unistd.h>

namespace dcm_derived {

void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Patient module, General Study module (and Patient Study: age), as the PACS matches them. */
static const DcmTagKey kCopied[] = {
    DCM_PatientName, DCM_PatientID, DCM_IssuerOfPatientID, DCM_PatientBirthDate, DCM_PatientSex,
    DCM_PatientAge, DCM_StudyInstanceUID, DCM_StudyDate, DCM_StudyTime, DCM_ReferringPhysicianName,
    DCM_StudyID, DCM_AccessionNumber, DCM_StudyDescription, DCM_SpecificCharacterSet,
};

int copy_patient_study(const char *source, DcmDataset *ds, char *err, size_t errlen) {
    DcmFileFormat src;
    OFCondition c = src.loadFile(source, EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect);
    if (c.bad()) {
        set_err(err, errlen, "%s: cannot read the study's image: %s", source, c.text());
        return -1;
    }
    DcmDataset *from = src.getDataset();
    for (const DcmTagKey &k : kCopied) {
        DcmElement *e = nullptr;
        if (from->findAndGetElement(k, e).good() && e) {
            DcmElement *copy = OFstatic_cast(DcmElement *, e->clone());
            if (ds->insert(copy, OFTrue).bad()) delete copy;
        } else if (k != DCM_SpecificCharacterSet && k != DCM_IssuerOfPatientID &&
                   k != DCM_PatientAge && k != DCM_StudyDescription) {
            /* type 2 attributes stay present, empty */
            ds->putAndInsertString(k, "");
        }
    }
    OFString study;
    if (ds->findAndGetOFString(DCM_StudyInstanceUID, study).bad() || study.empty()) {
        set_err(err, errlen, "%s: the study's image has no Study Instance UID", source);
        return -1;
    }
    return 0;
}

/* FNV-1a 64, two lanes with different offsets: not a cryptographic digest, but the keys
 * are distinct by construction (study UID + kind + version + time), so the only need is a
 * well-spread 128-bit number. */
static uint64_t fnv1a(const std::string &s, uint64_t h) {
    for (unsigned char ch : s) {
        h ^= ch;
        h *= 1099511628211ULL;
    }
    return h;
}

std::string uid_for(const std::string &key) {
    uint64_t hi = fnv1a(key, 14695981039346656037ULL);
    uint64_t lo = fnv1a(key + "#", 0x84222325cbf29ce4ULL ^ hi);
    hi &= 0x7fffffffffffffffULL;   /* keep the decimal within 39 digits; no leading zero issue */
    /* decimal of hi * 2^64 + lo by repeated division of the 128-bit value */
    unsigned __int128 v = ((unsigned __int128)hi << 64) | lo;
    if (v == 0) v = 1;
    char digits[48];
    int n = 0;
    while (v > 0) {
        digits[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    }
    std::string out = "2.25.";
    while (n > 0) out += digits[--n];
    return out;
}

static int fsync_dir_of(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int save_atomic(DcmFileFormat &ff, const char *path, char *err, size_t errlen) {
    std::string tmp = std::string(path) + ".tmp." + std::to_string((long)getpid());
    OFCondition c = ff.saveFile(tmp.c_str(), EXS_LittleEndianExplicit, EET_ExplicitLength,
                                EGL_recalcGL, EPD_noChange, 0, 0, EWM_fileformat);
    if (c.bad()) {
        unlink(tmp.c_str());
        set_err(err, errlen, "%s: cannot write: %s", path, c.text());
        return -1;
    }
    int fd = open(tmp.c_str(), O_RDONLY);
    int e = 0;
    if (fd < 0 || fsync(fd) != 0) e = errno;
    if (fd >= 0) close(fd);
    if (e == 0 && rename(tmp.c_str(), path) != 0) e = errno;
    if (e == 0 && fsync_dir_of(path) != 0) e = errno;
    if (e != 0) {
        unlink(tmp.c_str());
        set_err(err, errlen, "%s: cannot save: %s", path, strerror(e));
        return -1;
    }
    return 0;
}

} // namespace dcm_derived
