/* dcm_writer.cc: builds a Digital Mammography X-Ray Image (MG IOD, PS3.3 A.26) dataset
 * with DCMTK and saves it, compressed when asked, under a temporary name that is then
 * renamed into place. JPEG 2000 is encoded here with OpenJPEG (reversible 5/3 wavelet,
 * one quality layer, raw J2K codestream as PS3.5 A.4.4 requires), since DCMTK 3.6.7 has
 * no JPEG 2000 codec; the other compressed syntaxes use DCMTK's own encoders.
 *
 * Codes (SNOMED RT, scheme "SRT", as PS3.16 CID 4014 / 4015 list them with their legacy
 * designators; the current SCT equivalents are in brackets):
 *   CC R-10242 [399162004], MLO R-10226 [399368009], ML R-10224, LM R-10228,
 *   XCCL R-1024A [399192008]; modifiers: Spot Compression R-102D7 [399055006],
 *   Magnification R-102D6 [399163009], Implant Displaced R-102D5 [399209000];
 *   anatomic region Breast T-04000 [76752008]. (R-102D2 is Cleavage, not spot.) */
#include "dicom/dcm_writer.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcrlerp.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>
#include <dcmtk/oflog/oflog.h>
#include <openjpeg.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

struct ts_row {
    const char *name;
    const char *uid;
    E_TransferSyntax xfer;
};

const ts_row ts_table[DCM_TS_COUNT] = {
    {"explicit", "1.2.840.10008.1.2.1", EXS_LittleEndianExplicit},
    {"implicit", "1.2.840.10008.1.2", EXS_LittleEndianImplicit},
    {"deflate", "1.2.840.10008.1.2.1.99", EXS_DeflatedLittleEndianExplicit},
    {"rle", "1.2.840.10008.1.2.5", EXS_RLELossless},
    {"jpegll", "1.2.840.10008.1.2.4.70", EXS_JPEGProcess14SV1},
    {"jpegls", "1.2.840.10008.1.2.4.80", EXS_JPEGLSLossless},
    {"j2k", "1.2.840.10008.1.2.4.90", EXS_JPEG2000LosslessOnly},
};

void set_err(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void set_err(char *err, size_t err_size, const char *fmt, ...) {
    if (!err || err_size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

std::once_flag codecs_once;

void register_encoders() {
    std::call_once(codecs_once, [] {
        DcmRLEEncoderRegistration::registerCodecs();
        DJEncoderRegistration::registerCodecs();
        DJLSEncoderRegistration::registerCodecs();
        /* the JPEG-LS encoder has dcmimgle report at INFO level, for every image, that it
         * ignores the modality transform; keep that logger at WARN */
        OFLog::getLogger("dcmtk.dcmimgle").setLogLevel(OFLogger::WARN_LOG_LEVEL);
    });
}

/* The first failing put is remembered; the caller checks once at the end. */
struct builder {
    DcmItem *item;
    OFCondition cond = EC_Normal;
    std::string failed_tag;

    explicit builder(DcmItem *it) : item(it) {}

    void str(const DcmTagKey &key, const char *value) {
        if (cond.bad()) return;
        cond = item->putAndInsertString(key, value ? value : "");
        if (cond.bad()) failed_tag = DcmTag(key).getTagName();
    }
    void opt(const DcmTagKey &key, const char *value) { /* type 3: left out when empty */
        if (value && value[0]) str(key, value);
    }
    void num(const DcmTagKey &key, double value) {
        char buf[32];
        snprintf(buf, sizeof buf, "%.6g", value);
        str(key, buf);
    }
    void integer(const DcmTagKey &key, long value) {
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", value);
        str(key, buf);
    }
    void u16(const DcmTagKey &key, Uint16 value) {
        if (cond.bad()) return;
        cond = item->putAndInsertUint16(key, value);
        if (cond.bad()) failed_tag = DcmTag(key).getTagName();
    }
    /* One code item (value, scheme, meaning) appended to the sequence key of this item;
     * returns the new item so that nested sequences can be added to it. */
    DcmItem *code(const DcmTagKey &seq, const char *value, const char *scheme, const char *meaning) {
        if (cond.bad()) return nullptr;
        DcmItem *it = nullptr;
        cond = item->findOrCreateSequenceItem(seq, it, -2 /* append */);
        if (cond.bad() || !it) {
            failed_tag = DcmTag(seq).getTagName();
            if (cond.good()) cond = EC_MemoryExhausted;
            return nullptr;
        }
        builder b(it);
        b.str(DCM_CodeValue, value);
        b.str(DCM_CodingSchemeDesignator, scheme);
        b.str(DCM_CodeMeaning, meaning);
        if (b.cond.bad()) {
            cond = b.cond;
            failed_tag = b.failed_tag;
        }
        return it;
    }
    void empty_seq(const DcmTagKey &seq) {
        if (cond.bad()) return;
        cond = item->insertEmptyElement(seq);
        if (cond.bad()) failed_tag = DcmTag(seq).getTagName();
    }
};

struct view_code {
    const char *position, *code, *meaning;
};

const view_code view_codes[] = {
    {"CC", "R-10242", "cranio-caudal"},
    {"MLO", "R-10226", "medio-lateral oblique"},
    {"ML", "R-10224", "medio-lateral"},
    {"LM", "R-10228", "latero-medial"},
    {"LMO", "R-10230", "latero-medial oblique"},
    {"XCCL", "R-1024A", "cranio-caudal exaggerated laterally"},
    {"XCCM", "R-1024B", "cranio-caudal exaggerated medially"},
    {"FB", "R-10244", "caudo-cranial (from below)"},
};

/* Patient Orientation for mammography (PS3.3 C.8.11.7.1.1... and the MG IOD's rule
 * that the row direction is A or P): the chest wall lies on the image's left for the
 * left breast (rows run towards the nipple: A) and on the right for the right breast. */
const char *patient_orientation(bool left, bool cc) {
    if (cc) return left ? "A\\R" : "P\\L";
    return left ? "A\\FR" : "P\\FL";
}

/* OpenJPEG memory output stream. */
struct mem_out {
    std::vector<unsigned char> buf;
    size_t pos = 0;
};

OPJ_SIZE_T mem_write(void *data, OPJ_SIZE_T n, void *user) {
    mem_out *m = static_cast<mem_out *>(user);
    if (m->pos + n > m->buf.size()) m->buf.resize(m->pos + n);
    memcpy(m->buf.data() + m->pos, data, n);
    m->pos += n;
    return n;
}

OPJ_OFF_T mem_skip(OPJ_OFF_T n, void *user) {
    mem_out *m = static_cast<mem_out *>(user);
    if (n < 0 && (size_t)(-n) > m->pos) return -1;
    m->pos += n;
    if (m->pos > m->buf.size()) m->buf.resize(m->pos);
    return n;
}

OPJ_BOOL mem_seek(OPJ_OFF_T n, void *user) {
    mem_out *m = static_cast<mem_out *>(user);
    if (n < 0) return OPJ_FALSE;
    m->pos = (size_t)n;
    if (m->pos > m->buf.size()) m->buf.resize(m->pos);
    return OPJ_TRUE;
}

void opj_quiet(const char *, void *) {}

/* Lossless J2K codestream of a 16-bit single-component image. */
bool encode_j2k(const dcm_mg_image *img, std::vector<unsigned char> &out, std::string &msg) {
    opj_cparameters_t params;
    opj_set_default_encoder_parameters(&params);
    params.tcp_numlayers = 1;
    params.tcp_rates[0] = 0; /* lossless */
    params.cp_disto_alloc = 1;
    params.irreversible = 0;
    int min_side = img->rows < img->columns ? img->rows : img->columns;
    int nres = 1;
    while (nres < 6 && (min_side >> nres) >= 8) nres++;
    params.numresolution = nres;

    opj_image_cmptparm_t cp;
    memset(&cp, 0, sizeof cp);
    cp.dx = cp.dy = 1;
    cp.w = img->columns;
    cp.h = img->rows;
    cp.prec = img->bits_stored;
    cp.sgnd = 0;
    opj_image_t *image = opj_image_create(1, &cp, OPJ_CLRSPC_GRAY);
    if (!image) {
        msg = "OpenJPEG could not allocate the image";
        return false;
    }
    image->x0 = image->y0 = 0;
    image->x1 = img->columns;
    image->y1 = img->rows;
    size_t n = (size_t)img->rows * img->columns;
    OPJ_INT32 *dst = image->comps[0].data;
    for (size_t i = 0; i < n; i++) dst[i] = img->pixels[i];

    opj_codec_t *codec = opj_create_compress(OPJ_CODEC_J2K);
    opj_stream_t *stream = nullptr;
    mem_out mo;
    bool ok = false;
    if (!codec) {
        msg = "OpenJPEG could not create an encoder";
        goto done;
    }
    opj_set_info_handler(codec, opj_quiet, nullptr);
    opj_set_warning_handler(codec, opj_quiet, nullptr);
    opj_set_error_handler(codec, opj_quiet, nullptr);
    if (!opj_setup_encoder(codec, &params, image)) {
        msg = "OpenJPEG rejected the encoder parameters";
        goto done;
    }
    stream = opj_stream_create(1 << 20, OPJ_FALSE);
    if (!stream) {
        msg = "OpenJPEG could not create an output stream";
        goto done;
    }
    opj_stream_set_user_data(stream, &mo, nullptr);
    opj_stream_set_write_function(stream, mem_write);
    opj_stream_set_skip_function(stream, mem_skip);
    opj_stream_set_seek_function(stream, mem_seek);
    if (!opj_start_compress(codec, image, stream) || !opj_encode(codec, stream) ||
        !opj_end_compress(codec, stream)) {
        msg = "OpenJPEG failed to encode the image";
        goto done;
    }
    out.swap(mo.buf);
    ok = true;
done:
    if (stream) opj_stream_destroy(stream);
    if (codec) opj_destroy_codec(codec);
    opj_image_destroy(image);
    return ok;
}

int check_image(const dcm_mg_image *img, char *err, size_t err_size) {
    if (!img || !img->pixels) {
        set_err(err, err_size, "no image or no pixels given");
        return -1;
    }
    if (img->rows == 0 || img->columns == 0) {
        set_err(err, err_size, "image size %ux%u is empty", img->rows, img->columns);
        return -1;
    }
    if (img->bits_stored < 8 || img->bits_stored > 16) {
        set_err(err, err_size, "BitsStored %u outside 8..16", img->bits_stored);
        return -1;
    }
    if (!img->study_uid || !img->series_uid || !img->sop_instance_uid || !img->study_uid[0] ||
        !img->series_uid[0] || !img->sop_instance_uid[0]) {
        set_err(err, err_size, "study, series and SOP instance UIDs are required");
        return -1;
    }
    if (!img->laterality || (strcmp(img->laterality, "L") != 0 && strcmp(img->laterality, "R") != 0)) {
        set_err(err, err_size, "image laterality must be \"L\" or \"R\"");
        return -1;
    }
    if (!img->view_position || !img->view_position[0]) {
        set_err(err, err_size, "view position is required");
        return -1;
    }
    uint32_t maxv = (1u << img->bits_stored) - 1;
    size_t n = (size_t)img->rows * img->columns;
    for (size_t i = 0; i < n; i++)
        if (img->pixels[i] > maxv) {
            set_err(err, err_size, "pixel %zu (row %zu) is %u, above %u for BitsStored %u", i,
                    i / img->columns, img->pixels[i], maxv, img->bits_stored);
            return -1;
        }
    return 0;
}

int fill_dataset(DcmDataset *ds, const dcm_mg_image *img, char *err, size_t err_size) {
    builder b(ds);
    const bool left = img->laterality[0] == 'L';
    const view_code *vc = nullptr;
    for (const view_code &v : view_codes)
        if (strcmp(v.position, img->view_position) == 0) vc = &v;
    if (!vc) {
        set_err(err, err_size, "unknown view position \"%s\" (CC, MLO, ML, LM, LMO, XCCL, XCCM, FB)",
                img->view_position);
        return -1;
    }
    const bool cc = strcmp(img->view_position, "MLO") != 0 && strcmp(img->view_position, "ML") != 0 &&
                    strcmp(img->view_position, "LM") != 0 && strcmp(img->view_position, "LMO") != 0;

    /* SOP Common */
    b.str(DCM_SpecificCharacterSet, "ISO_IR 100");
    b.str(DCM_SOPClassUID, img->for_processing ? DCM_SOP_MG_PROCESSING : DCM_SOP_MG_PRESENTATION);
    b.str(DCM_SOPInstanceUID, img->sop_instance_uid);
    /* Patient */
    b.str(DCM_PatientName, img->patient_name);
    b.str(DCM_PatientID, img->patient_id);
    b.str(DCM_PatientBirthDate, img->patient_birth_date);
    b.str(DCM_PatientSex, "F");
    /* General Study, Patient Study */
    b.str(DCM_StudyInstanceUID, img->study_uid);
    b.str(DCM_StudyDate, img->study_date);
    b.str(DCM_StudyTime, img->study_time);
    b.str(DCM_ReferringPhysicianName, img->referring_physician);
    b.str(DCM_StudyID, img->study_id);
    b.str(DCM_AccessionNumber, img->accession_number);
    b.opt(DCM_StudyDescription, img->study_description);
    b.opt(DCM_PatientAge, img->patient_age);
    /* General Series, DX Series */
    b.str(DCM_Modality, "MG");
    b.str(DCM_SeriesInstanceUID, img->series_uid);
    b.integer(DCM_SeriesNumber, img->series_number);
    b.opt(DCM_SeriesDescription, img->series_description);
    b.str(DCM_PresentationIntentType, img->for_processing ? "FOR PROCESSING" : "FOR PRESENTATION");
    /* General Equipment */
    b.str(DCM_Manufacturer, img->manufacturer);
    b.opt(DCM_InstitutionName, img->institution);
    b.opt(DCM_ManufacturerModelName, img->model_name);
    b.opt(DCM_SoftwareVersions, "mama " MAMA_VERSION);
    /* General Image */
    b.integer(DCM_InstanceNumber, img->instance_number);
    b.str(DCM_PatientOrientation, img->patient_orientation && img->patient_orientation[0]
                                      ? img->patient_orientation
                                      : patient_orientation(left, cc));
    b.str(DCM_ContentDate, img->study_date);
    b.str(DCM_ContentTime, img->study_time);
    b.opt(DCM_AcquisitionDateTime, img->acquisition_datetime);
    if (img->acquisition_datetime && strlen(img->acquisition_datetime) >= 14) {
        std::string dt(img->acquisition_datetime);
        b.str(DCM_AcquisitionDate, dt.substr(0, 8).c_str());
        b.str(DCM_AcquisitionTime, dt.substr(8, 6).c_str());
    }
    b.str(DCM_ImageType, img->derived ? "DERIVED\\SECONDARY" : "ORIGINAL\\PRIMARY");
    b.str(DCM_BurnedInAnnotation, img->burned_in_annotation ? "YES" : "NO");
    b.str(DCM_LossyImageCompression, "00");
    b.opt(DCM_DerivationDescription, img->derivation_description);
    /* Image Pixel */
    b.u16(DCM_SamplesPerPixel, 1);
    b.str(DCM_PhotometricInterpretation, img->mono1 ? "MONOCHROME1" : "MONOCHROME2");
    b.u16(DCM_Rows, img->rows);
    b.u16(DCM_Columns, img->columns);
    b.u16(DCM_BitsAllocated, 16);
    b.u16(DCM_BitsStored, img->bits_stored);
    b.u16(DCM_HighBit, (Uint16)(img->bits_stored - 1));
    b.u16(DCM_PixelRepresentation, 0);
    /* DX Image */
    b.str(DCM_PixelIntensityRelationship, "LOG");
    b.str(DCM_PixelIntensityRelationshipSign, "1");
    b.str(DCM_RescaleIntercept, "0");
    b.str(DCM_RescaleSlope, "1");
    b.str(DCM_RescaleType, "US");
    b.str(DCM_PresentationLUTShape, img->mono1 ? "INVERSE" : "IDENTITY");
    /* VOI LUT (required for FOR PRESENTATION) */
    if (!img->for_processing) {
        b.num(DCM_WindowCenter, img->window_center);
        b.num(DCM_WindowWidth, img->window_width);
        b.opt(DCM_VOILUTFunction, img->voi_lut_function);
    }
    /* DX Detector */
    b.str(DCM_DetectorType, img->derived ? "" : "DIRECT");
    {
        char sp[64];
        double s = img->pixel_spacing_mm > 0 ? img->pixel_spacing_mm : 0.1;
        snprintf(sp, sizeof sp, "%.6g\\%.6g", s, s);
        b.str(DCM_ImagerPixelSpacing, sp);
    }
    /* X-Ray Acquisition Dose, Mammography Image, DX Anatomy Imaged */
    if (img->kvp > 0) b.integer(DCM_KVP, img->kvp);
    if (img->body_part_thickness_mm > 0) b.num(DCM_BodyPartThickness, img->body_part_thickness_mm);
    if (img->compression_force_n > 0) b.num(DCM_CompressionForce, img->compression_force_n);
    b.str(DCM_PositionerType, "MAMMOGRAPHIC");
    b.str(DCM_OrganExposed, "BREAST");
    b.str(DCM_BodyPartExamined, "BREAST");
    b.str(DCM_ImageLaterality, img->laterality);
    b.str(DCM_ViewPosition, img->view_position);
    b.str(DCM_BreastImplantPresent, img->implant_present ? "YES" : "NO");
    b.str(DCM_PartialView, "NO");
    b.code(DCM_AnatomicRegionSequence, "T-04000", "SRT", "Breast");
    DcmItem *view = b.code(DCM_ViewCodeSequence, vc->code, "SRT", vc->meaning);
    if (view) {
        builder vb(view);
        if (img->view_modifiers & DCM_VIEWMOD_SPOT)
            vb.code(DCM_ViewModifierCodeSequence, "R-102D7", "SRT", "Spot Compression");
        if (img->view_modifiers & DCM_VIEWMOD_MAGNIFICATION)
            vb.code(DCM_ViewModifierCodeSequence, "R-102D6", "SRT", "Magnification");
        if (img->view_modifiers & DCM_VIEWMOD_IMPLANT_DISPLACED)
            vb.code(DCM_ViewModifierCodeSequence, "R-102D5", "SRT", "Implant Displaced");
        if (!img->view_modifiers) vb.empty_seq(DCM_ViewModifierCodeSequence);
        if (vb.cond.bad()) {
            b.cond = vb.cond;
            b.failed_tag = vb.failed_tag;
        }
    }
    /* Acquisition Context (type 2 sequence) */
    b.empty_seq(DCM_AcquisitionContextSequence);
    if (b.cond.bad()) {
        set_err(err, err_size, "cannot set %s: %s", b.failed_tag.c_str(), b.cond.text());
        return -1;
    }
    return 0;
}

int insert_pixels(DcmDataset *ds, const dcm_mg_image *img, dcm_tsyntax ts, char *err,
                  size_t err_size) {
    const unsigned long n = (unsigned long)img->rows * img->columns;
    if (ts != DCM_TS_J2K_LOSSLESS) {
        OFCondition c = ds->putAndInsertUint16Array(DCM_PixelData, img->pixels, n);
        if (c.bad()) {
            set_err(err, err_size, "cannot set PixelData: %s", c.text());
            return -1;
        }
        if (ts == DCM_TS_RLE || ts == DCM_TS_JPEG_LOSSLESS || ts == DCM_TS_JPEGLS_LOSSLESS) {
            register_encoders();
            DcmRLERepresentationParameter rle;
            DJ_RPLossless jpl(1, 0);
            DJLSRepresentationParameter jls(0, OFTrue);
            const DcmRepresentationParameter *param =
                ts == DCM_TS_RLE ? (const DcmRepresentationParameter *)&rle
                : ts == DCM_TS_JPEG_LOSSLESS ? (const DcmRepresentationParameter *)&jpl
                                             : (const DcmRepresentationParameter *)&jls;
            E_TransferSyntax xfer = ts_table[ts].xfer;
            c = ds->chooseRepresentation(xfer, param);
            if (c.bad() || !ds->canWriteXfer(xfer)) {
                set_err(err, err_size, "DCMTK cannot encode %s: %s", ts_table[ts].name,
                        c.bad() ? c.text() : "no encoder registered");
                return -1;
            }
        }
        return 0;
    }
    std::vector<unsigned char> j2k;
    std::string msg;
    if (!encode_j2k(img, j2k, msg)) {
        set_err(err, err_size, "%s", msg.c_str());
        return -1;
    }
    if (j2k.size() & 1) j2k.push_back(0); /* fragments have even length */
    DcmPixelData *pd = new DcmPixelData(DCM_PixelData);
    DcmPixelSequence *seq = new DcmPixelSequence(DcmTag(DCM_PixelData, EVR_OB));
    DcmPixelItem *offsets = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB)); /* empty BOT */
    seq->insert(offsets);
    DcmPixelItem *frag = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
    OFCondition c = frag->putUint8Array(j2k.data(), (unsigned long)j2k.size());
    seq->insert(frag);
    pd->putOriginalRepresentation(EXS_JPEG2000LosslessOnly, nullptr, seq);
    if (c.good()) c = ds->insert(pd, OFTrue);
    else delete pd;
    if (c.bad()) {
        set_err(err, err_size, "cannot store the JPEG 2000 fragment: %s", c.text());
        return -1;
    }
    return 0;
}

int write_mg(const char *path, const dcm_mg_image *img, dcm_tsyntax ts, char *err, size_t err_size) {
    if (!path || !path[0]) {
        set_err(err, err_size, "no output path given");
        return -1;
    }
    if ((int)ts < 0 || ts >= DCM_TS_COUNT) {
        set_err(err, err_size, "unknown transfer syntax %d", (int)ts);
        return -1;
    }
    if (check_image(img, err, err_size) != 0) return -1;
    DcmFileFormat ff;
    DcmDataset *ds = ff.getDataset();
    if (fill_dataset(ds, img, err, err_size) != 0) return -1;
    if (insert_pixels(ds, img, ts, err, err_size) != 0) return -1;

    std::string tmp = std::string(path) + ".tmp." + std::to_string((long)getpid());
    E_TransferSyntax xfer = ts_table[ts].xfer;
    OFCondition c = ff.saveFile(tmp.c_str(), xfer, EET_ExplicitLength, EGL_recalcGL, EPD_noChange,
                                0, 0, EWM_fileformat);
    if (c.bad()) {
        unlink(tmp.c_str());
        set_err(err, err_size, "%s: cannot write: %s", path, c.text());
        return -1;
    }
    if (rename(tmp.c_str(), path) != 0) {
        int e = errno;
        unlink(tmp.c_str());
        set_err(err, err_size, "%s: cannot rename %s into place: %s", path, tmp.c_str(), strerror(e));
        return -1;
    }
    return 0;
}

} // namespace

extern "C" const char *dcm_tsyntax_name(dcm_tsyntax ts) {
    return (int)ts >= 0 && ts < DCM_TS_COUNT ? ts_table[ts].name : "?";
}

extern "C" const char *dcm_tsyntax_uid(dcm_tsyntax ts) {
    return (int)ts >= 0 && ts < DCM_TS_COUNT ? ts_table[ts].uid : "";
}

extern "C" int dcm_tsyntax_parse(const char *name, dcm_tsyntax *out_ts) {
    if (!name) return -1;
    for (int i = 0; i < DCM_TS_COUNT; i++)
        if (strcmp(name, ts_table[i].name) == 0) {
            *out_ts = (dcm_tsyntax)i;
            return 0;
        }
    return -1;
}

extern "C" int dcm_write_mg(const char *path, const dcm_mg_image *img, dcm_tsyntax ts, char *err,
                            size_t err_size) {
    try {
        return write_mg(path, img, ts, err, err_size);
    } catch (const std::exception &e) {
        set_err(err, err_size, "%s: %s", path ? path : "?", e.what());
    } catch (...) {
        set_err(err, err_size, "%s: unexpected C++ exception", path ? path : "?");
    }
    return -1;
}
