/* dcm_sc.cc: see dcm_sc.h. Modules (PS3.3 A.8.1): Patient and General Study (copied),
 * General Series, General Equipment + SC Equipment (conversion type WSD: a workstation
 * made it), General Image, Image Pixel (RGB, 8 bits, interleaved), SC Image, SOP Common. */
#include "dicom/dcm_sc.h"

#include "dicom/dcm_derived.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

using dcm_derived::set_err;

namespace {

int write_sc(const char *path, const dcm_sc_image *im, char *out_sop_uid, char *err, size_t errlen) {
    if (!im || !im->source_path || !im->uid_key || !im->series_key || !im->rgb || im->rows < 1 ||
        im->cols < 1 || im->rows > 65535 || im->cols > 65535) {
        set_err(err, errlen, "overview: source image, keys and a non-empty RGB image are required");
        return -1;
    }
    DcmFileFormat ff;
    DcmDataset *ds = ff.getDataset();
    if (dcm_derived::copy_patient_study(im->source_path, ds, err, errlen) != 0) return -1;
    const std::string sop_uid = dcm_derived::uid_for(im->uid_key);
    const std::string series_uid = dcm_derived::uid_for(im->series_key);
    std::string date = "", time = "";
    if (im->content_datetime && strlen(im->content_datetime) >= 14) {
        date = std::string(im->content_datetime).substr(0, 8);
        time = std::string(im->content_datetime).substr(8, 6);
    }
    char num[16];
    snprintf(num, sizeof num, "%d", im->instance_number);
    struct kv {
        DcmTagKey tag;
        std::string value;
    };
    const kv attrs[] = {
        {DCM_SOPClassUID, DCM_SOP_SECONDARY_CAPTURE},
        {DCM_SOPInstanceUID, sop_uid},
        {DCM_Modality, "OT"},
        {DCM_SeriesInstanceUID, series_uid},
        {DCM_SeriesNumber, "9902"},
        {DCM_SeriesDescription, "MaMA overview (mamad), not for diagnosis"},
        /* Series Laterality is R or L only; the overview shows both breasts, so it stays
         * empty (type 2C, dciodvfy: a warning, not an error, when empty). */
        {DCM_Laterality, ""},
        {DCM_Manufacturer, "mamad"},
        {DCM_ConversionType, "WSD"},
        {DCM_InstanceNumber, num},
        {DCM_PatientOrientation, ""},
        {DCM_ContentDate, date},
        {DCM_ContentTime, time},
        {DCM_ImageType, "DERIVED\\SECONDARY"},
        {DCM_DerivationDescription, im->description ? im->description : ""},
        {DCM_ImageComments, im->description ? im->description : ""},
        {DCM_BurnedInAnnotation, "YES"},
        {DCM_LossyImageCompression, "00"},
        {DCM_PhotometricInterpretation, "RGB"},
    };
    for (const kv &a : attrs) {
        OFCondition c = ds->putAndInsertString(a.tag, a.value.c_str());
        if (c.bad()) {
            set_err(err, errlen, "overview: %s: %s", DcmTag(a.tag).getTagName(), c.text());
            return -1;
        }
    }
    ds->putAndInsertUint16(DCM_SamplesPerPixel, 3);
    ds->putAndInsertUint16(DCM_PlanarConfiguration, 0);
    ds->putAndInsertUint16(DCM_Rows, (Uint16)im->rows);
    ds->putAndInsertUint16(DCM_Columns, (Uint16)im->cols);
    ds->putAndInsertUint16(DCM_BitsAllocated, 8);
    ds->putAndInsertUint16(DCM_BitsStored, 8);
    ds->putAndInsertUint16(DCM_HighBit, 7);
    ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
    const size_t bytes = (size_t)im->rows * (size_t)im->cols * 3;
    OFCondition c = ds->putAndInsertUint8Array(DCM_PixelData, im->rgb, (unsigned long)bytes);
    if (c.bad()) {
        set_err(err, errlen, "overview: pixel data: %s", c.text());
        return -1;
    }
    if (dcm_derived::save_atomic(ff, path, err, errlen) != 0) return -1;
    if (out_sop_uid) snprintf(out_sop_uid, 65, "%s", sop_uid.c_str());
    return 0;
}

} // namespace

extern "C" int dcm_sc_write(const char *path, const dcm_sc_image *img, char *out_sop_uid, char *err,
                            size_t errlen) {
    try {
        return write_sc(path, img, out_sop_uid, err, errlen);
    } catch (const std::exception &e) {
        set_err(err, errlen, "overview %s: %s", path ? path : "?", e.what());
    } catch (...) {
        set_err(err, errlen, "overview %s: unexpected C++ exception", path ? path : "?");
    }
    return -1;
}
