/* dcm_pixels.cc: test helper. Decodes the pixel data of two DICOM files with DCMTK's
 * decoders (RLE, JPEG, JPEG-LS; JPEG 2000 through OpenJPEG here, since DCMTK 3.6.7 has
 * none) and compares them: equal (default), or the second one the MONOCHROME1 inversion
 * of the first (--inverted). With --png A.png B.dcm the first image is an 8-bit PNG.
 * Exit 0 when they match, 1 with a message when not. */
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <openjpeg.h>
#include <png.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

struct mem_in {
    const unsigned char *data;
    size_t size, pos;
};

static OPJ_SIZE_T mem_read(void *buf, OPJ_SIZE_T n, void *user) {
    mem_in *m = static_cast<mem_in *>(user);
    if (m->pos >= m->size) return (OPJ_SIZE_T)-1;
    size_t k = n < m->size - m->pos ? n : m->size - m->pos;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return k;
}
static OPJ_OFF_T mem_skip(OPJ_OFF_T n, void *user) {
    mem_in *m = static_cast<mem_in *>(user);
    m->pos += n;
    return n;
}
static OPJ_BOOL mem_seek(OPJ_OFF_T n, void *user) {
    static_cast<mem_in *>(user)->pos = (size_t)n;
    return OPJ_TRUE;
}

static bool decode_j2k(const unsigned char *data, size_t size, std::vector<Uint16> &out, std::string &msg) {
    opj_dparameters_t p;
    opj_set_default_decoder_parameters(&p);
    opj_codec_t *codec = opj_create_decompress(OPJ_CODEC_J2K);
    opj_stream_t *st = opj_stream_create(1 << 16, OPJ_TRUE);
    mem_in m = {data, size, 0};
    opj_stream_set_user_data(st, &m, nullptr);
    opj_stream_set_user_data_length(st, size);
    opj_stream_set_read_function(st, mem_read);
    opj_stream_set_skip_function(st, mem_skip);
    opj_stream_set_seek_function(st, mem_seek);
    opj_image_t *img = nullptr;
    bool ok = opj_setup_decoder(codec, &p) && opj_read_header(st, codec, &img) && opj_decode(codec, st, img) &&
              opj_end_decompress(codec, st);
    if (ok && img->numcomps == 1) {
        size_t n = (size_t)img->comps[0].w * img->comps[0].h;
        out.resize(n);
        for (size_t i = 0; i < n; i++) out[i] = (Uint16)img->comps[0].data[i];
    } else {
        msg = "OpenJPEG could not decode the codestream";
        ok = false;
    }
    if (img) opj_image_destroy(img);
    opj_stream_destroy(st);
    opj_destroy_codec(codec);
    return ok;
}

static bool load(const char *path, std::vector<Uint16> &px, Uint16 &bits, std::string &msg) {
    DcmFileFormat ff;
    OFCondition c = ff.loadFile(path);
    if (c.bad()) {
        msg = std::string(path) + ": " + c.text();
        return false;
    }
    DcmDataset *ds = ff.getDataset();
    ds->findAndGetUint16(DCM_BitsStored, bits);
    E_TransferSyntax xfer = ds->getOriginalXfer();
    if (xfer == EXS_JPEG2000LosslessOnly || xfer == EXS_JPEG2000) {
        DcmElement *el = nullptr;
        if (ds->findAndGetElement(DCM_PixelData, el).bad()) {
            msg = std::string(path) + ": no PixelData";
            return false;
        }
        DcmPixelData *pd = static_cast<DcmPixelData *>(el);
        DcmPixelSequence *seq = nullptr;
        const DcmRepresentationParameter *rp = nullptr;
        if (pd->getEncapsulatedRepresentation(xfer, rp, seq).bad() || !seq || seq->card() < 2) {
            msg = std::string(path) + ": no encapsulated fragments";
            return false;
        }
        DcmPixelItem *frag = nullptr;
        seq->getItem(frag, 1);
        Uint8 *data = nullptr;
        frag->getUint8Array(data);
        if (!decode_j2k(data, frag->getLength(), px, msg)) {
            msg = std::string(path) + ": " + msg;
            return false;
        }
        return true;
    }
    c = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    Uint16 allocated = 16;
    ds->findAndGetUint16(DCM_BitsAllocated, allocated);
    if (c.good() && allocated == 8) { /* DCMTK's decoders narrow BitsStored <= 8 to bytes */
        const Uint8 *bytes = nullptr;
        unsigned long count = 0;
        c = ds->findAndGetUint8Array(DCM_PixelData, bytes, &count);
        if (c.bad() || !bytes) {
            msg = std::string(path) + ": cannot decode 8-bit pixel data: " + c.text();
            return false;
        }
        px.assign(bytes, bytes + count);
        return true;
    }
    const Uint16 *arr = nullptr;
    unsigned long count = 0;
    if (c.good()) c = ds->findAndGetUint16Array(DCM_PixelData, arr, &count);
    if (c.bad() || !arr) {
        msg = std::string(path) + ": cannot decode pixel data: " + c.text();
        return false;
    }
    px.assign(arr, arr + count);
    return true;
}

static bool load_png(const char *path, std::vector<Uint16> &px, std::string &msg) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) {
        msg = std::string(path) + ": " + im.message;
        return false;
    }
    im.format = PNG_FORMAT_GRAY;
    std::vector<unsigned char> buf((size_t)im.width * im.height);
    if (!png_image_finish_read(&im, nullptr, buf.data(), 0, nullptr)) {
        msg = std::string(path) + ": " + im.message;
        return false;
    }
    px.assign(buf.begin(), buf.end());
    return true;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--png") == 0) {
        DcmRLEDecoderRegistration::registerCodecs();
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        std::vector<Uint16> a, b;
        Uint16 bits = 0;
        std::string msg;
        if (!load_png(argv[2], a, msg) || !load(argv[3], b, bits, msg)) {
            fprintf(stderr, "FAIL %s\n", msg.c_str());
            return 1;
        }
        if (a != b || bits != 8) {
            fprintf(stderr, "FAIL %s and %s differ (%zu and %zu pixels, BitsStored %u)\n", argv[2], argv[3], a.size(),
                    b.size(), bits);
            return 1;
        }
        printf("ok %s == %s\n", argv[2], argv[3]);
        return 0;
    }
    bool inverted = argc == 4 && strcmp(argv[3], "--inverted") == 0;
    if (argc != 3 && !inverted) {
        fprintf(stderr, "usage: dcm_pixels A.dcm B.dcm [--inverted]\n");
        return 2;
    }
    DcmRLEDecoderRegistration::registerCodecs();
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    std::vector<Uint16> a, b;
    Uint16 bits_a = 0, bits_b = 0;
    std::string msg;
    if (!load(argv[1], a, bits_a, msg) || !load(argv[2], b, bits_b, msg)) {
        fprintf(stderr, "FAIL %s\n", msg.c_str());
        return 1;
    }
    if (a.size() != b.size() || a.empty()) {
        fprintf(stderr, "FAIL %s has %zu pixels, %s has %zu\n", argv[1], a.size(), argv[2], b.size());
        return 1;
    }
    Uint16 maxv = (Uint16)((1u << bits_a) - 1);
    size_t distinct = 0;
    for (size_t i = 0; i < a.size(); i++) {
        Uint16 want = inverted ? (Uint16)(maxv - a[i]) : a[i];
        if (b[i] != want) {
            fprintf(stderr, "FAIL pixel %zu: %s has %u, %s has %u (expected %u)\n", i, argv[1], a[i], argv[2], b[i],
                    want);
            return 1;
        }
        if (a[i] != a[0]) distinct++;
    }
    if (distinct == 0) {
        fprintf(stderr, "FAIL %s is a constant image\n", argv[1]);
        return 1;
    }
    printf("ok %s == %s%s (%zu pixels)\n", argv[1], argv[2], inverted ? " inverted" : "", a.size());
    return 0;
}
