// pixel_fixture.cc: writes small DICOM test files in every transfer syntax (DCMTK's RLE,
// JPEG and JPEG-LS encoders in-process; JPEG 2000 encoded here with OpenJPEG and stored
// as encapsulated fragments), plus a synthetic mammogram-like image. Test-only.
#include "pixel_fixture.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvrus.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpeg/djrploss.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>
#include <openjpeg.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

namespace {

std::once_flag enc_once;

struct out_stream {
    std::vector<unsigned char> data;
    size_t pos = 0;
};

OPJ_SIZE_T w_write(void *buf, OPJ_SIZE_T n, void *user) {
    out_stream *o = static_cast<out_stream *>(user);
    if (o->pos + n > o->data.size()) o->data.resize(o->pos + n);
    memcpy(o->data.data() + o->pos, buf, n);
    o->pos += n;
    return n;
}
OPJ_OFF_T w_skip(OPJ_OFF_T n, void *user) {
    out_stream *o = static_cast<out_stream *>(user);
    o->pos += n;
    if (o->pos > o->data.size()) o->data.resize(o->pos);
    return n;
}
OPJ_BOOL w_seek(OPJ_OFF_T n, void *user) {
    static_cast<out_stream *>(user)->pos = (size_t)n;
    return OPJ_TRUE;
}

// Encodes one gray component as a raw J2K codestream (reversible 5/3 when lossless).
bool j2k_encode(std::vector<unsigned char> &out, const fx_spec *s, bool lossless) {
    opj_image_cmptparm_t cp;
    memset(&cp, 0, sizeof cp);
    cp.dx = cp.dy = 1;
    cp.w = s->cols;
    cp.h = s->rows;
    cp.prec = s->bits_stored;
    cp.sgnd = s->signed_rep;
    opj_image_t *img = opj_image_create(1, &cp, OPJ_CLRSPC_GRAY);
    if (!img) return false;
    img->x1 = s->cols;
    img->y1 = s->rows;
    for (int i = 0; i < s->rows * s->cols; i++) {
        int v = s->pixels[i];
        if (s->signed_rep && (v & (1 << (s->bits_stored - 1)))) v -= 1 << s->bits_stored;
        img->comps[0].data[i] = v;
    }
    opj_cparameters_t p;
    opj_set_default_encoder_parameters(&p);
    p.tcp_numlayers = 1;
    p.cp_disto_alloc = 1;
    p.tcp_rates[0] = lossless ? 0.0f : 4.0f;
    p.irreversible = lossless ? 0 : 1;
    p.numresolution = 4;
    opj_codec_t *enc = opj_create_compress(OPJ_CODEC_J2K);
    out_stream os;
    opj_stream_t *st = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_FALSE);
    opj_stream_set_user_data(st, &os, nullptr);
    opj_stream_set_write_function(st, w_write);
    opj_stream_set_skip_function(st, w_skip);
    opj_stream_set_seek_function(st, w_seek);
    bool ok = opj_setup_encoder(enc, &p, img) && opj_start_compress(enc, img, st) &&
              opj_encode(enc, st) && opj_end_compress(enc, st);
    opj_stream_destroy(st);
    opj_destroy_codec(enc);
    opj_image_destroy(img);
    if (os.data.size() % 2) os.data.push_back(0);
    out.swap(os.data);
    return ok;
}

bool put_encapsulated(DcmDataset *ds, E_TransferSyntax xfer, const std::vector<unsigned char> &frame) {
    DcmPixelSequence *seq = new DcmPixelSequence(DCM_PixelSequenceTag);
    seq->insert(new DcmPixelItem(DCM_PixelItemTag)); // empty basic offset table
    // two fragments, to exercise concatenation
    size_t half = (frame.size() / 2) & ~(size_t)1;
    const unsigned char *parts[2] = {frame.data(), frame.data() + half};
    size_t lens[2] = {half, frame.size() - half};
    for (int i = 0; i < 2; i++) {
        if (lens[i] == 0) continue;
        DcmPixelItem *it = new DcmPixelItem(DCM_PixelItemTag);
        it->putUint8Array(parts[i], (unsigned long)lens[i]);
        seq->insert(it);
    }
    DcmPixelData *pd = new DcmPixelData(DCM_PixelData);
    pd->putOriginalRepresentation(xfer, nullptr, seq);
    return ds->insert(pd, true).good();
}

} // namespace

extern "C" const char *fx_syntax_name(fx_syntax sx) {
    static const char *names[FX_COUNT] = {"implicit-le", "explicit-le", "explicit-be", "deflate",
        "rle", "jpeg-lossless-sv1", "jpeg-baseline", "jpeg-extended", "jpegls-lossless",
        "jpegls-near", "j2k-lossless", "j2k-lossy", "mpeg2"};
    return sx >= 0 && sx < FX_COUNT ? names[sx] : "?";
}

extern "C" int fx_write(const char *path, const fx_spec *s, fx_syntax sx) {
    std::call_once(enc_once, [] {
        DcmRLEEncoderRegistration::registerCodecs();
        DJEncoderRegistration::registerCodecs();
        DJLSEncoderRegistration::registerCodecs();
    });
    int bits_alloc = s->bits_alloc ? s->bits_alloc : (s->bits_stored <= 8 ? 8 : 16);
    int frames = s->frames > 1 ? s->frames : 1;
    DcmFileFormat ff;
    DcmDataset *ds = ff.getDataset();
    char uid[100];
    ds->putAndInsertString(DCM_SOPClassUID, UID_DigitalMammographyXRayImageStorageForPresentation);
    ds->putAndInsertString(DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
    ds->putAndInsertString(DCM_StudyInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_STUDY_UID_ROOT));
    ds->putAndInsertString(DCM_SeriesInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_SERIES_UID_ROOT));
    ds->putAndInsertString(DCM_Modality, "MG");
    ds->putAndInsertString(DCM_PatientID, "PX001");
    ds->putAndInsertString(DCM_AccessionNumber, "ACC0001");
    ds->putAndInsertString(DCM_PatientAge, "057Y");
    ds->putAndInsertString(DCM_StudyDate, "20260101");
    ds->putAndInsertString(DCM_AcquisitionDate, "20260101");
    ds->putAndInsertString(DCM_AcquisitionTime, "101500");
    ds->putAndInsertString(DCM_PresentationIntentType, "FOR PRESENTATION");
    const char *lat = s->laterality ? s->laterality : "L", *view = s->view ? s->view : "CC";
    ds->putAndInsertString(DCM_ImageLaterality, lat);
    ds->putAndInsertString(DCM_ViewPosition, view);
    DcmItem *vc = nullptr;
    if (ds->findOrCreateSequenceItem(DCM_ViewCodeSequence, vc, 0).good() && vc) {
        bool mlo = !strcmp(view, "MLO");
        vc->putAndInsertString(DCM_CodeValue, mlo ? "R-10226" : "R-10242");
        vc->putAndInsertString(DCM_CodingSchemeDesignator, "SRT");
        vc->putAndInsertString(DCM_CodeMeaning, mlo ? "medio-lateral oblique" : "cranio-caudal");
    }
    ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
    ds->putAndInsertString(DCM_PhotometricInterpretation, s->photometric ? s->photometric : "MONOCHROME2");
    ds->putAndInsertUint16(DCM_Rows, (Uint16)s->rows);
    ds->putAndInsertUint16(DCM_Columns, (Uint16)s->cols);
    ds->putAndInsertUint16(DCM_BitsAllocated, (Uint16)bits_alloc);
    ds->putAndInsertUint16(DCM_BitsStored, (Uint16)s->bits_stored);
    ds->putAndInsertUint16(DCM_HighBit, (Uint16)(s->bits_stored - 1));
    ds->putAndInsertUint16(DCM_PixelRepresentation, (Uint16)s->signed_rep);
    if (frames > 1) {
        char f[16];
        snprintf(f, sizeof f, "%d", frames);
        ds->putAndInsertString(DCM_NumberOfFrames, f);
    }
    char num[64];
    if (s->has_window) {
        snprintf(num, sizeof num, "%.6g", s->wc);
        ds->putAndInsertString(DCM_WindowCenter, num);
        snprintf(num, sizeof num, "%.6g", s->ww);
        ds->putAndInsertString(DCM_WindowWidth, num);
    }
    if (s->voi_function) ds->putAndInsertString(DCM_VOILUTFunction, s->voi_function);
    if (s->slope != 0.0) {
        snprintf(num, sizeof num, "%.6g", s->slope);
        ds->putAndInsertString(DCM_RescaleSlope, num);
        snprintf(num, sizeof num, "%.6g", s->intercept);
        ds->putAndInsertString(DCM_RescaleIntercept, num);
        ds->putAndInsertString(DCM_RescaleType, "US");
    }
    if (s->lut_n > 0) {
        DcmItem *li = nullptr;
        if (ds->findOrCreateSequenceItem(DCM_VOILUTSequence, li, 0).bad() || !li) return -1;
        Uint16 desc[3] = {(Uint16)(s->lut_n == 65536 ? 0 : s->lut_n), (Uint16)s->lut_first, (Uint16)s->lut_bits};
        DcmUnsignedShort *d = new DcmUnsignedShort(DcmTag(DCM_LUTDescriptor, EVR_US));
        d->putUint16Array(desc, 3);
        li->insert(d, true);
        DcmUnsignedShort *data = new DcmUnsignedShort(DcmTag(DCM_LUTData, EVR_US));
        data->putUint16Array(s->lut, (unsigned long)s->lut_n);
        li->insert(data, true);
    }
    size_t n = (size_t)s->rows * s->cols;
    E_TransferSyntax xfer = EXS_LittleEndianExplicit;
    if (!s->no_pixels) {
        std::vector<Uint16> w16;
        std::vector<Uint8> w8;
        for (int f = 0; f < frames; f++)
            for (size_t i = 0; i < n; i++) {
                if (bits_alloc == 16) w16.push_back(s->pixels[i]);
                else w8.push_back((Uint8)s->pixels[i]);
            }
        if (sx == FX_J2K_LOSSLESS || sx == FX_J2K_LOSSY || sx == FX_MPEG2) {
            std::vector<unsigned char> frame;
            if (sx == FX_MPEG2) {
                frame.assign(64, 0x55);
                xfer = EXS_MPEG2MainProfileAtMainLevel;
            } else {
                if (!j2k_encode(frame, s, sx == FX_J2K_LOSSLESS)) {
                    fprintf(stderr, "fx_write: OpenJPEG encode failed\n");
                    return -1;
                }
                xfer = sx == FX_J2K_LOSSLESS ? EXS_JPEG2000LosslessOnly : EXS_JPEG2000;
            }
            if (!put_encapsulated(ds, xfer, frame)) return -1;
        } else {
            OFCondition c = bits_alloc == 16
                ? ds->putAndInsertUint16Array(DCM_PixelData, w16.data(), (unsigned long)w16.size())
                : ds->putAndInsertUint8Array(DCM_PixelData, w8.data(), (unsigned long)w8.size());
            if (c.bad()) {
                fprintf(stderr, "fx_write: pixel data: %s\n", c.text());
                return -1;
            }
        }
    }
    DcmRepresentationParameter *param = nullptr;
    DJ_RPLossless lossless;
    DJ_RPLossy lossy(90);
    DJLSRepresentationParameter ls_lossless(0, OFTrue), ls_near(2, OFFalse);
    bool compress = true;
    switch (sx) {
    case FX_IMPLICIT_LE: xfer = EXS_LittleEndianImplicit; compress = false; break;
    case FX_EXPLICIT_LE: xfer = EXS_LittleEndianExplicit; compress = false; break;
    case FX_EXPLICIT_BE: xfer = EXS_BigEndianExplicit; compress = false; break;
    case FX_DEFLATE: xfer = EXS_DeflatedLittleEndianExplicit; compress = false; break;
    case FX_RLE: xfer = EXS_RLELossless; break;
    case FX_JPEG_LOSSLESS_SV1: xfer = EXS_JPEGProcess14SV1; param = &lossless; break;
    case FX_JPEG_BASELINE: xfer = EXS_JPEGProcess1; param = &lossy; break;
    case FX_JPEG_EXTENDED: xfer = EXS_JPEGProcess2_4; param = &lossy; break;
    case FX_JPEGLS_LOSSLESS: xfer = EXS_JPEGLSLossless; param = &ls_lossless; break;
    case FX_JPEGLS_NEAR: xfer = EXS_JPEGLSLossy; param = &ls_near; break;
    default: compress = false; break; // J2K, MPEG2: already encapsulated
    }
    if (compress && !s->no_pixels) {
        OFCondition c = ds->chooseRepresentation(xfer, param);
        if (c.bad() || !ds->canWriteXfer(xfer)) {
            fprintf(stderr, "fx_write: cannot encode %s: %s\n", fx_syntax_name(sx), c.text());
            return -1;
        }
    }
    OFCondition c = ff.saveFile(path, xfer);
    if (c.bad()) {
        fprintf(stderr, "fx_write: %s: %s\n", path, c.text());
        return -1;
    }
    return 0;
}

extern "C" void fx_mammo(uint16_t *out, int rows, int cols, int bits, uint32_t seed, int out_breast[4]) {
    uint32_t st = seed * 2654435761u + 12345u;
    auto rnd = [&st]() {
        st ^= st << 13;
        st ^= st >> 17;
        st ^= st << 5;
        return (st >> 8) * (1.0 / 16777216.0);
    };
    double maxv = (double)((1 << bits) - 1);
    double cy = rows * 0.5, ry = rows * 0.42, rx = cols * 0.62;
    int y0 = rows, y1 = -1, x1 = -1;
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < cols; x++) {
            double dy = (y - cy) / ry, dx = x / rx, r2 = dx * dx + dy * dy;
            double v;
            if (r2 < 1.0) {
                double tissue = 0.55 + 0.25 * (1.0 - r2) + 0.08 * std::sin(x * 0.7) * std::cos(y * 0.45);
                v = tissue + 0.03 * (rnd() - 0.5);
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
                if (x > x1) x1 = x;
            } else {
                v = 0.04 + 0.03 * rnd();
            }
            out[(size_t)y * cols + x] = (uint16_t)std::lround(std::fmin(1.0, std::fmax(0.0, v)) * maxv);
        }
    // a bright label, not touching the breast
    int ls = rows / 12 > 2 ? rows / 12 : 2;
    for (int y = 2; y < 2 + ls; y++)
        for (int x = cols - 2 - ls; x < cols - 2; x++) out[(size_t)y * cols + x] = (uint16_t)(0.95 * maxv);
    if (out_breast) {
        out_breast[0] = y0;
        out_breast[1] = 0;
        out_breast[2] = y1 - y0 + 1;
        out_breast[3] = x1 + 1;
    }
}
