// dcm_image.cc: decoded pixels of one DICOM image as float [0,1] (see dcm_image.h).
//
// Decoding: every encapsulated syntax but JPEG 2000 goes through DCMTK's registered
// codecs (RLE, JPEG, JPEG-LS) into explicit little endian. JPEG 2000 (which DCMTK 3.6.7
// cannot decode) is read here: the fragments of the single frame are concatenated and
// decoded by OpenJPEG from a memory stream. Values then go through one lookup table per
// image (stored value -> rescale -> VOI -> MONOCHROME1 inversion), built once for the
// 2^BitsStored possible values, so the per-pixel cost is a mask, a shift and a load.
// Every entry point catches every exception: the C callers only see -1 and a message.
#include "dicom/dcm_image.h"
#include "dicom/dcm_instance_read.h"
#include "dicom/dcm_preparse.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <openjpeg.h>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace {

std::once_flag codecs_once;
std::atomic<int> j2k_threads{1};

void register_codecs() {
    std::call_once(codecs_once, [] {
        DcmRLEDecoderRegistration::registerCodecs();
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
    });
}

struct load_error {
    std::string msg;
};

[[noreturn]] void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fail(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    throw load_error{buf};
}

enum class codec { native, dcmtk, j2k };

// 64 Mi pixels: four times the largest FFDM detector (about 4096 x 5600). Rows and Columns
// are 16-bit, so without a cap a forged header asks for 16 GiB before any check.
constexpr size_t max_pixels = size_t(1) << 26;

struct syntax {
    const char *uid;
    codec how;
};

const syntax known_syntaxes[] = {
    {"1.2.840.10008.1.2", codec::native},        // implicit VR little endian
    {"1.2.840.10008.1.2.1", codec::native},      // explicit VR little endian
    {"1.2.840.10008.1.2.1.99", codec::native},   // deflated explicit VR little endian
    {"1.2.840.10008.1.2.2", codec::native},      // explicit VR big endian (retired)
    {"1.2.840.10008.1.2.5", codec::dcmtk},       // RLE lossless
    {"1.2.840.10008.1.2.4.50", codec::dcmtk},    // JPEG baseline (8 bit)
    {"1.2.840.10008.1.2.4.51", codec::dcmtk},    // JPEG extended (12 bit)
    {"1.2.840.10008.1.2.4.57", codec::dcmtk},    // JPEG lossless
    {"1.2.840.10008.1.2.4.70", codec::dcmtk},    // JPEG lossless SV1
    {"1.2.840.10008.1.2.4.80", codec::dcmtk},    // JPEG-LS lossless
    {"1.2.840.10008.1.2.4.81", codec::dcmtk},    // JPEG-LS near-lossless
    {"1.2.840.10008.1.2.4.90", codec::j2k},      // JPEG 2000 lossless
    {"1.2.840.10008.1.2.4.91", codec::j2k},      // JPEG 2000
};

// A string value without DICOM padding, cut to cap (used for the VOI LUT Function, whose
// valid values are short; the key tags go through dcm_instance_fill).
void copy_trimmed(char *dst, size_t cap, const OFString &s) {
    size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\0')) b++;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\0')) e--;
    size_t n = e - b < cap - 1 ? e - b : cap - 1;
    memcpy(dst, s.data() + b, n);
    dst[n] = '\0';
}

// ---- JPEG 2000 through OpenJPEG, from memory ----

struct mem_stream {
    const OPJ_BYTE *data;
    OPJ_SIZE_T size, pos;
};

OPJ_SIZE_T mem_read(void *buf, OPJ_SIZE_T n, void *user) {
    mem_stream *m = static_cast<mem_stream *>(user);
    if (m->pos >= m->size) return (OPJ_SIZE_T)-1;
    OPJ_SIZE_T k = m->size - m->pos < n ? m->size - m->pos : n;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return k;
}

OPJ_OFF_T mem_skip(OPJ_OFF_T n, void *user) {
    mem_stream *m = static_cast<mem_stream *>(user);
    if (n < 0) {
        if ((OPJ_SIZE_T)(-n) > m->pos) return -1;
    } else if ((OPJ_SIZE_T)n > m->size - m->pos) {
        n = (OPJ_OFF_T)(m->size - m->pos);
    }
    m->pos += n;
    return n;
}

OPJ_BOOL mem_seek(OPJ_OFF_T n, void *user) {
    mem_stream *m = static_cast<mem_stream *>(user);
    if (n < 0 || (OPJ_SIZE_T)n > m->size) return OPJ_FALSE;
    m->pos = (OPJ_SIZE_T)n;
    return OPJ_TRUE;
}

void opj_on_error(const char *msg, void *user) {
    std::string *s = static_cast<std::string *>(user);
    if (s->empty()) {
        *s = msg;
        while (!s->empty() && (s->back() == '\n' || s->back() == ' ')) s->pop_back();
    }
}

void opj_quiet(const char *, void *) {}

// The frame's codestream: all fragments after the basic offset table, concatenated.
std::vector<OPJ_BYTE> j2k_codestream(DcmDataset *ds, const char *path) {
    DcmElement *elem = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, elem).bad() || !elem)
        fail("%s: no pixel data (7FE0,0010)", path);
    DcmPixelData *px = OFdynamic_cast(DcmPixelData *, elem);
    DcmPixelSequence *seq = nullptr;
    if (!px || px->getEncapsulatedRepresentation(ds->getOriginalXfer(), nullptr, seq).bad() || !seq)
        fail("%s: JPEG 2000 pixel data is not encapsulated (fragments missing)", path);
    std::vector<OPJ_BYTE> out;
    unsigned long n = seq->card();
    for (unsigned long i = 1; i < n; i++) {
        DcmPixelItem *item = nullptr;
        if (seq->getItem(item, i).bad() || !item) fail("%s: JPEG 2000 fragment %lu unreadable", path, i);
        Uint8 *bytes = nullptr;
        Uint32 len = item->getLength();
        if (len == 0) continue;
        if (item->getUint8Array(bytes).bad() || !bytes)
            fail("%s: JPEG 2000 fragment %lu unreadable (truncated file?)", path, i);
        out.insert(out.end(), bytes, bytes + len);
    }
    if (out.empty()) fail("%s: JPEG 2000 pixel data has no fragments", path);
    return out;
}

// Decodes one J2K/JP2 codestream into stored values. min_side > 0 asks for the coarsest
// resolution level whose shorter side is still >= min_side (OpenJPEG then skips the finer
// wavelet levels entirely); *io_rows, *io_cols: the header's size in, the decoded size
// out; *out_log2: the reduction (0 = full size).
std::vector<int32_t> j2k_decode(const std::vector<OPJ_BYTE> &cs, int *io_rows, int *io_cols,
                                int min_side, int *out_log2, const char *path) {
    int rows = *io_rows, cols = *io_cols;
    static const OPJ_BYTE jp2_magic[12] = {0, 0, 0, 0x0c, 'j', 'P', ' ', ' ', 0x0d, 0x0a, 0x87, 0x0a};
    OPJ_CODEC_FORMAT fmt = OPJ_CODEC_J2K;
    if (cs.size() >= 12 && memcmp(cs.data(), jp2_magic, 12) == 0) fmt = OPJ_CODEC_JP2;
    else if (cs.size() < 4 || cs[0] != 0xff || cs[1] != 0x4f)
        fail("%s: JPEG 2000 fragment is neither a J2K codestream nor a JP2 file", path);
    mem_stream m{cs.data(), cs.size(), 0};
    std::string err;
    opj_codec_t *dec = opj_create_decompress(fmt);
    opj_stream_t *st = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
    opj_image_t *img = nullptr;
    std::vector<int32_t> out;
    try {
        if (!dec || !st) fail("%s: cannot create an OpenJPEG decoder", path);
        opj_set_error_handler(dec, opj_on_error, &err);
        opj_set_warning_handler(dec, opj_quiet, nullptr);
        opj_set_info_handler(dec, opj_quiet, nullptr);
        opj_stream_set_user_data(st, &m, nullptr);
        opj_stream_set_user_data_length(st, cs.size());
        opj_stream_set_read_function(st, mem_read);
        opj_stream_set_skip_function(st, mem_skip);
        opj_stream_set_seek_function(st, mem_seek);
        opj_dparameters_t params;
        opj_set_default_decoder_parameters(&params);
        if (!opj_setup_decoder(dec, &params)) fail("%s: OpenJPEG setup failed", path);
        int threads = j2k_threads.load(std::memory_order_relaxed);
        if (threads > 1) opj_codec_set_threads(dec, threads);
        if (!opj_read_header(st, dec, &img) || !img)
            fail("%s: JPEG 2000 header unreadable (%s)", path, err.c_str());
        int reduce = 0;
        if (min_side > 0) {
            opj_codestream_info_v2_t *ci = opj_get_cstr_info(dec);
            int levels = ci && ci->m_default_tile_info.tccp_info ? (int)ci->m_default_tile_info.tccp_info[0].numresolutions : 1;
            if (ci) opj_destroy_cstr_info(&ci);
            int shorter = rows < cols ? rows : cols;
            while (reduce + 1 < levels && (shorter >> (reduce + 1)) >= min_side) reduce++;
            if (reduce > 0 && !opj_set_decoded_resolution_factor(dec, (OPJ_UINT32)reduce))
                fail("%s: OpenJPEG cannot reduce by %d levels (%s)", path, reduce, err.c_str());
        }
        rows = (rows + (1 << reduce) - 1) >> reduce;
        cols = (cols + (1 << reduce) - 1) >> reduce;
        *out_log2 = reduce;
        if (!opj_decode(dec, st, img) || !opj_end_decompress(dec, st))
            fail("%s: JPEG 2000 decode failed (%s)", path, err.empty() ? "truncated data?" : err.c_str());
        if (img->numcomps < 1 || !img->comps[0].data) fail("%s: JPEG 2000 image has no components", path);
        if (img->numcomps != 1) fail("%s: JPEG 2000 image has %u components; only grayscale is supported", path, img->numcomps);
        const opj_image_comp_t &c = img->comps[0];
        if ((int)c.w != cols || (int)c.h != rows)
            fail("%s: JPEG 2000 image is %ux%u but the header says %dx%d", path, c.w, c.h, cols, rows);
        out.assign(c.data, c.data + (size_t)rows * cols);
        *io_rows = rows;
        *io_cols = cols;
    } catch (...) {
        if (img) opj_image_destroy(img);
        if (st) opj_stream_destroy(st);
        if (dec) opj_destroy_codec(dec);
        throw;
    }
    opj_image_destroy(img);
    opj_stream_destroy(st);
    opj_destroy_codec(dec);
    return out;
}

struct pixel_format {
    int rows = 0, cols = 0;
    int bits_alloc = 0, bits_stored = 0, high_bit = 0, signed_rep = 0;
    double slope = 1.0, intercept = 0.0;
    int mono1 = 0;
};

// Stored value range and the index of a stored value in the lookup table.
struct value_range {
    int lo, hi;
};

value_range range_of(const pixel_format &pf) {
    if (pf.signed_rep) return {-(1 << (pf.bits_stored - 1)), (1 << (pf.bits_stored - 1)) - 1};
    return {0, (1 << pf.bits_stored) - 1};
}

// Stored value of a raw sample (bits above BitsStored masked, sign extended).
inline int stored_value(uint32_t raw, int shift, uint32_t mask, int bits, int signed_rep) {
    uint32_t v = (raw >> shift) & mask;
    if (signed_rep && (v & (1u << (bits - 1)))) return (int)v - (1 << bits);
    return (int)v;
}

struct voi_choice {
    dcm_voi_kind kind = DCM_VOI_MINMAX;
    double c = 0.0, w = 0.0;
    // VOI LUT
    std::vector<double> lut;
    int lut_first = 0;
    double lut_max = 1.0;
};

voi_choice choose_voi(DcmDataset *ds, const pixel_format &pf, const char *path) {
    voi_choice v;
    DcmItem *item = nullptr;
    if (ds->findAndGetSequenceItem(DCM_VOILUTSequence, item, 0).good() && item) {
        Uint16 n16 = 0, first = 0, bits = 0;
        const Uint16 *data = nullptr;
        unsigned long count = 0;
        if (item->findAndGetUint16(DCM_LUTDescriptor, n16, 0).bad() ||
            item->findAndGetUint16(DCM_LUTDescriptor, first, 1).bad() ||
            item->findAndGetUint16(DCM_LUTDescriptor, bits, 2).bad())
            fail("%s: VOI LUT Sequence item has no valid LUT Descriptor", path);
        if (item->findAndGetUint16Array(DCM_LUTData, data, &count).bad() || !data)
            fail("%s: VOI LUT Sequence item has no LUT Data", path);
        unsigned long n = n16 == 0 ? 65536 : n16;
        if (bits < 1 || bits > 16) fail("%s: VOI LUT bits per entry %u out of 1..16", path, bits);
        if (count < n) fail("%s: VOI LUT has %lu entries, descriptor says %lu", path, count, n);
        v.kind = DCM_VOI_LUT;
        v.lut.assign(data, data + n);
        v.lut_first = pf.signed_rep ? (int)(int16_t)first : (int)first;
        v.lut_max = (double)((1u << bits) - 1);
        return v;
    }
    Float64 c = 0.0, w = 0.0;
    if (ds->findAndGetFloat64(DCM_WindowCenter, c, 0).good() &&
        ds->findAndGetFloat64(DCM_WindowWidth, w, 0).good() && std::isfinite(c) && std::isfinite(w)) {
        OFString fn;
        dcm_voi_kind kind = DCM_VOI_LINEAR;
        if (ds->findAndGetOFString(DCM_VOILUTFunction, fn).good()) {
            char t[32];
            copy_trimmed(t, sizeof t, fn);
            if (!strcmp(t, "LINEAR_EXACT")) kind = DCM_VOI_LINEAR_EXACT;
            else if (!strcmp(t, "SIGMOID")) kind = DCM_VOI_SIGMOID;
            else if (t[0] && strcmp(t, "LINEAR") != 0)
                fail("%s: unknown VOI LUT Function '%s' (LINEAR, LINEAR_EXACT or SIGMOID)", path, t);
        }
        // A width the function cannot use (LINEAR needs >= 1, the others > 0): min-max.
        if ((kind == DCM_VOI_LINEAR && w >= 1.0) || (kind != DCM_VOI_LINEAR && w > 0.0)) {
            v.kind = kind;
            v.c = c;
            v.w = w;
        }
    }
    return v;
}

// The table from stored value (index value - lo) to output in [0,1].
std::vector<float> build_table(const pixel_format &pf, const voi_choice &voi, int smin, int smax) {
    value_range r = range_of(pf);
    std::vector<float> table((size_t)(r.hi - r.lo + 1));
    double mlo = 0.0, mhi = 1.0;
    if (voi.kind == DCM_VOI_MINMAX) {
        double a = smin * pf.slope + pf.intercept, b = smax * pf.slope + pf.intercept;
        mlo = a < b ? a : b;
        mhi = a < b ? b : a;
    }
    for (int s = r.lo; s <= r.hi; s++) {
        double m = s * pf.slope + pf.intercept, out;
        switch (voi.kind) {
        case DCM_VOI_MINMAX:
            out = mhi > mlo ? (m - mlo) / (mhi - mlo) : 0.0;
            break;
        case DCM_VOI_LUT: {
            double idx = std::floor(m) - voi.lut_first;
            long n = (long)voi.lut.size();
            long i = idx < 0 ? 0 : (idx >= n ? n - 1 : (long)idx);
            out = voi.lut[(size_t)i] / voi.lut_max;
            break;
        }
        default:
            out = dcm_window_apply(m, voi.c, voi.w, voi.kind);
        }
        out = out < 0.0 ? 0.0 : (out > 1.0 ? 1.0 : out);
        if (pf.mono1) out = 1.0 - out;
        table[(size_t)(s - r.lo)] = (float)out;
    }
    return table;
}

// Turns stored values into floats with one table lookup each. get(i) yields the stored
// value of pixel i.
template <class Get>
void map_pixels(float *out, size_t n, const pixel_format &pf, const voi_choice &voi, Get get) {
    int smin = 1 << 30, smax = -(1 << 30);
    if (voi.kind == DCM_VOI_MINMAX)
        for (size_t i = 0; i < n; i++) {
            int s = get(i);
            if (s < smin) smin = s;
            if (s > smax) smax = s;
        }
    std::vector<float> table = build_table(pf, voi, smin, smax);
    int lo = range_of(pf).lo;
    for (size_t i = 0; i < n; i++) out[i] = table[(size_t)(get(i) - lo)];
}

void load(const char *path, int min_side, dcm_image *out) {
    register_codecs();
    // the bounds every reader applies before DCMTK parses (dcm_preparse.h)
    char bound[512];
    if (dcm_preparse_file(path, bound, sizeof bound) != 0) fail("%s: %s", path, bound);
    DcmFileFormat ff;
    // ERM_fileOnly: a DICOM Part 10 file (preamble + "DICM" + meta header) is required;
    // anything else would be parsed as a guessed dataset and give garbage.
    OFCondition cond = ff.loadFile(path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_fileOnly);
    if (cond.bad()) fail("%s: not a readable DICOM file (%s)", path, cond.text());
    DcmDataset *ds = ff.getDataset();
    // the key tags by the ingest reader's rule (dcm_instance_read.h): a file mamad would
    // refuse is refused here too, with the same message
    char why[256];
    if (dcm_instance_fill(ff, &out->info, why, sizeof why) != 0) fail("%s: %s", path, why);
    const char *ts = out->info.transfer_syntax_uid;
    const syntax *sx = nullptr;
    for (const syntax &k : known_syntaxes)
        if (!strcmp(k.uid, ts)) sx = &k;
    if (!sx) {
        DcmXfer x(ts);
        fail("%s: unsupported transfer syntax %s (%s); convert it to explicit VR little endian "
             "(dcmconv +te) or a supported compression", path, ts[0] ? ts : "(none)", x.getXferName());
    }

    pixel_format pf;
    Uint16 u = 0;
    if (ds->findAndGetUint16(DCM_Rows, u).bad() || u == 0) fail("%s: no Rows", path);
    pf.rows = u;
    if (ds->findAndGetUint16(DCM_Columns, u).bad() || u == 0) fail("%s: no Columns", path);
    pf.cols = u;
    if ((size_t)pf.rows * (size_t)pf.cols > max_pixels)
        fail("%s: %dx%d pixels is more than the %zu a mammogram can have", path, pf.rows, pf.cols,
             max_pixels);
    if (!ds->tagExists(DCM_PixelData)) fail("%s: no pixel data (7FE0,0010): not an image", path);
    if (ds->findAndGetUint16(DCM_SamplesPerPixel, u).good() && u != 1)
        fail("%s: %u samples per pixel; only grayscale (1) is supported", path, u);
    const char *pi = out->info.photometric;
    if (!strcmp(pi, "MONOCHROME1")) pf.mono1 = 1;
    else if (strcmp(pi, "MONOCHROME2") != 0)
        fail("%s: photometric interpretation '%s'; only MONOCHROME1/2 are supported", path, pi);
    Sint32 frames = 1;
    if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).good() && frames > 1)
        fail("%s: %d frames (multi-frame, e.g. tomosynthesis) are not supported; send the 2D "
             "or synthesized 2D view", path, (int)frames);
    if (ds->findAndGetUint16(DCM_BitsAllocated, u).bad()) fail("%s: no Bits Allocated", path);
    pf.bits_alloc = u;
    if (pf.bits_alloc != 8 && pf.bits_alloc != 16)
        fail("%s: Bits Allocated %d; only 8 and 16 (bits stored <= 16) are supported", path, pf.bits_alloc);
    if (ds->findAndGetUint16(DCM_BitsStored, u).bad()) fail("%s: no Bits Stored", path);
    pf.bits_stored = u;
    if (pf.bits_stored < 1 || pf.bits_stored > 16 || pf.bits_stored > pf.bits_alloc)
        fail("%s: Bits Stored %d out of range 1..%d (more than 16 bits is not supported)", path,
             pf.bits_stored, pf.bits_alloc);
    pf.high_bit = pf.bits_stored - 1;
    if (ds->findAndGetUint16(DCM_HighBit, u).good()) pf.high_bit = u;
    if (pf.high_bit < pf.bits_stored - 1 || pf.high_bit >= pf.bits_alloc)
        fail("%s: High Bit %d inconsistent with Bits Stored %d", path, pf.high_bit, pf.bits_stored);
    if (ds->findAndGetUint16(DCM_PixelRepresentation, u).good()) pf.signed_rep = u == 1;
    Float64 f = 0.0;
    if (ds->findAndGetFloat64(DCM_RescaleSlope, f).good() && std::isfinite(f) && f != 0.0) pf.slope = f;
    if (ds->findAndGetFloat64(DCM_RescaleIntercept, f).good() && std::isfinite(f)) pf.intercept = f;
    out->info.rows = (uint16_t)pf.rows;
    out->info.columns = (uint16_t)pf.cols;
    out->info.bits_stored = (uint16_t)pf.bits_stored;

    voi_choice voi = choose_voi(ds, pf, path);
    std::vector<int32_t> vals; // JPEG 2000 decodes before the output is sized
    int out_rows = pf.rows, out_cols = pf.cols, scale_log2 = 0;
    if (sx->how == codec::j2k)
        vals = j2k_decode(j2k_codestream(ds, path), &out_rows, &out_cols, min_side, &scale_log2, path);
    size_t n = (size_t)out_rows * (size_t)out_cols;
    float *pixels = static_cast<float *>(malloc(sizeof(float) * n));
    if (!pixels) fail("%s: no memory for %dx%d pixels", path, out_rows, out_cols);
    try {
        int shift = pf.high_bit + 1 - pf.bits_stored;
        uint32_t mask = pf.bits_stored >= 32 ? 0xffffffffu : ((1u << pf.bits_stored) - 1u);
        value_range r = range_of(pf);
        if (sx->how == codec::j2k) {
            map_pixels(pixels, n, pf, voi, [&](size_t i) {
                int v = vals[i];
                return v < r.lo ? r.lo : (v > r.hi ? r.hi : v);
            });
        } else {
            if (sx->how == codec::dcmtk) {
                cond = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
                if (cond.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit))
                    fail("%s: cannot decompress %s pixel data (%s)", path, DcmXfer(ts).getXferName(),
                         cond.bad() ? cond.text() : "codec failed");
            }
            DcmElement *elem = nullptr;
            if (ds->findAndGetElement(DCM_PixelData, elem).bad() || !elem)
                fail("%s: no pixel data (7FE0,0010)", path);
            size_t need = n * (size_t)(pf.bits_alloc / 8);
            if (pf.bits_alloc == 16) {
                Uint16 *raw = nullptr;
                if (elem->getUint16Array(raw).bad() || !raw || elem->getLength() < need)
                    fail("%s: pixel data too short (%lu of %zu bytes): truncated file?", path,
                         (unsigned long)elem->getLength(), need);
                map_pixels(pixels, n, pf, voi, [&](size_t i) {
                    return stored_value(raw[i], shift, mask, pf.bits_stored, pf.signed_rep);
                });
            } else {
                Uint8 *raw = nullptr;
                if (elem->getUint8Array(raw).bad() || !raw) {
                    Uint16 *w = nullptr; // 8-bit samples in an OW element (little endian host)
                    if (elem->getUint16Array(w).good()) raw = reinterpret_cast<Uint8 *>(w);
                }
                if (!raw || elem->getLength() < need)
                    fail("%s: pixel data too short (%lu of %zu bytes): truncated file?", path,
                         (unsigned long)elem->getLength(), need);
                map_pixels(pixels, n, pf, voi, [&](size_t i) {
                    return stored_value(raw[i], shift, mask, pf.bits_stored, pf.signed_rep);
                });
            }
        }
    } catch (...) {
        free(pixels);
        throw;
    }
    out->rows = out_rows;
    out->cols = out_cols;
    out->scale_log2 = scale_log2;
    out->pixels = pixels;
    out->voi = voi.kind;
    out->window_center = voi.kind >= DCM_VOI_LINEAR ? voi.c : 0.0;
    out->window_width = voi.kind >= DCM_VOI_LINEAR ? voi.w : 0.0;
    out->inverted = pf.mono1;
}

void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

} // namespace

extern "C" double dcm_window_apply(double x, double c, double w, dcm_voi_kind kind) {
    switch (kind) {
    case DCM_VOI_LINEAR_EXACT:
        if (x <= c - w / 2.0) return 0.0;
        if (x > c + w / 2.0) return 1.0;
        return (x - c) / w + 0.5;
    case DCM_VOI_SIGMOID:
        return 1.0 / (1.0 + std::exp(-4.0 * (x - c) / w));
    default: // LINEAR (PS3.3 C.11.2.1.2.1), w >= 1
        if (x <= c - 0.5 - (w - 1.0) / 2.0) return 0.0;
        if (x > c - 0.5 + (w - 1.0) / 2.0) return 1.0;
        return (x - (c - 0.5)) / (w - 1.0) + 0.5;
    }
}

extern "C" void dcm_image_set_j2k_threads(int n) {
    j2k_threads.store(n < 1 ? 1 : n, std::memory_order_relaxed);
}

extern "C" int dcm_image_load(const char *path, dcm_image *out, char *err, size_t errlen) {
    return dcm_image_load_scaled(path, 0, out, err, errlen);
}

extern "C" int dcm_image_load_scaled(const char *path, int min_side, dcm_image *out, char *err,
                                     size_t errlen) {
    if (!out) {
        set_err(err, errlen, "dcm_image_load: no output");
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (!path) {
        set_err(err, errlen, "dcm_image_load: no path");
        return -1;
    }
    try {
        load(path, min_side, out);
        return 0;
    } catch (const load_error &e) {
        set_err(err, errlen, e.msg.c_str());
    } catch (const std::bad_alloc &) {
        char buf[300];
        snprintf(buf, sizeof buf, "%s: out of memory while decoding", path);
        set_err(err, errlen, buf);
    } catch (const std::exception &e) {
        char buf[600];
        snprintf(buf, sizeof buf, "%s: %s", path, e.what());
        set_err(err, errlen, buf);
    } catch (...) {
        char buf[300];
        snprintf(buf, sizeof buf, "%s: unexpected error while decoding", path);
        set_err(err, errlen, buf);
    }
    free(out->pixels);
    memset(out, 0, sizeof *out);
    return -1;
}

extern "C" void dcm_image_free(dcm_image *img) {
    if (!img) return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}
