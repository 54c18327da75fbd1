/* dcm_instance_read.cc: the one reader of a DICOM file's key tags (dcm_instance_read.h).
 * dcm_read_instance_info reads them without loading the pixel data (DCMTK's maxReadLength
 * leaves large values on disk) and checks that the file is whole: it parses to its end,
 * and a native Pixel Data element has the length its image attributes imply with its last
 * bytes present in the file. dcm_instance_fill is the tag part alone, for the pixel
 * loader that already holds the file. Also the UID syntax check used before any UID may
 * name a file. */
#include "dicom/dcm_instance_read.h"
#include "dicom/dcm_preparse.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmdata/dcspchrs.h"
#include "dcmtk/ofstd/ofstd.h"

#include "common/utf8.h"

/* Values longer than this stay in the file until asked for; the largest tag read here is
 * far shorter, pixel data far longer. */
static const Uint32 kMaxReadLength = 4096;

extern "C" int dcm_uid_valid(const char *s) {
    if (!s) return 0;
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    size_t comp_start = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '.' || c == '\0') {
            size_t comp_len = i - comp_start;
            if (comp_len == 0) return 0;                             /* empty component */
            if (comp_len > 1 && s[comp_start] == '0') return 0;      /* leading zero */
            comp_start = i + 1;
        } else if (c < '0' || c > '9') {
            return 0;
        }
    }
    return 1;
}

/* Free text (LO, SH, PN ...) to UTF-8 by the dataset's Specific Character Set (0008,0005),
 * with DCMTK's converter (iconv underneath). The index and REST speak UTF-8 only; the
 * file keeps the sender's bytes. No character set declared (the default repertoire) or
 * "ISO_IR 192": valid UTF-8 is kept as it is, anything else is read as ISO_IR 100
 * (Latin-1: every byte is a character, so no byte of the value is lost) - senders that
 * forget to declare Latin-1 are common. A value the converter refuses (an invalid
 * sequence for the declared set) keeps its valid UTF-8 and gets U+FFFD for the rest. */
struct TextDecoder {
    DcmSpecificCharacterSet cs;
    bool active = false;

    explicit TextDecoder(DcmItem *ds) {
        OFString v;
        if (!ds || ds->findAndGetOFStringArray(DCM_SpecificCharacterSet, v, OFFalse).bad()) return;
        size_t b = 0, e = v.length();
        while (b < e && (v[b] == ' ' || v[b] == '\0')) b++;
        while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\0')) e--;
        OFString name = v.substr(b, e - b);
        if (name.empty() || name == "ISO_IR 192" || name == "ISO_IR 6") return;
        active = cs.selectCharacterSet(name, "ISO_IR 192").good();
    }

    void decode(const char *raw, size_t n, char *out, size_t cap) {
        if (active) {
            OFString to;
            if (cs.convertString(OFString(raw, n), to, "\\").good()) {
                utf8_sanitize(to.c_str(), to.length(), out, cap);
                return;
            }
        } else if (!utf8_valid(raw, n)) {
            size_t w = 0;   /* Latin-1: U+0000..U+00FF, one or two bytes each */
            for (size_t i = 0; i < n && w + 2 < cap; i++) {
                unsigned char c = (unsigned char)raw[i];
                if (c < 0x80) {
                    out[w++] = (char)c;
                } else {
                    out[w++] = (char)(0xC0 | (c >> 6));
                    out[w++] = (char)(0x80 | (c & 0x3F));
                }
            }
            out[w] = '\0';
            return;
        }
        utf8_sanitize(raw, n, out, cap);
    }
};

/* Whole value (all components, backslashes kept) without leading/trailing spaces and NULs.
 * Returns 0, or -1 when it is longer than raw_max bytes (or, for non-text, does not fit).
 * text: decoded to UTF-8 by *text. Absent -> "". */
static int get_str(DcmItem *item, const DcmTagKey &key, char *out, size_t cap,
                   TextDecoder *text = nullptr, size_t raw_max = 0) {
    out[0] = '\0';
    OFString v;
    if (item->findAndGetOFStringArray(key, v, OFFalse).bad()) return 0;
    size_t b = 0, e = v.length();
    while (b < e && (v[b] == ' ' || v[b] == '\0')) b++;
    while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\0')) e--;
    if (text) {
        if (e - b > raw_max) return -1;
        text->decode(v.c_str() + b, e - b, out, cap);
        return 0;
    }
    if (e - b >= cap) return -1;
    memcpy(out, v.c_str() + b, e - b);
    out[e - b] = '\0';
    return 0;
}

static void fail(char *err, size_t errlen, const char *fmt, const char *a, const char *b) {
    if (err && errlen) snprintf(err, errlen, fmt, a, b);
}

/* Code values of the items of a code sequence, '\\'-joined. */
static void get_codes(DcmItem *item, const DcmTagKey &seq_key, char *out, size_t cap) {
    out[0] = '\0';
    DcmSequenceOfItems *seq = NULL;
    if (item->findAndGetSequence(seq_key, seq, OFFalse).bad() || !seq) return;
    size_t used = 0;
    for (unsigned long i = 0; i < seq->card(); i++) {
        char code[DCM_SHORT_MAX];
        if (get_str(seq->getItem(i), DCM_CodeValue, code, sizeof code) != 0 || !code[0]) continue;
        int n = snprintf(out + used, cap - used, "%s%s", used ? "\\" : "", code);
        if (n < 0 || (size_t)n >= cap - used) break;
        used += (size_t)n;
    }
}

/* The file is whole: a native Pixel Data value has its implied length and its last two
 * bytes can be read from the file (they are not loaded otherwise). */
static int check_pixels(DcmDataset *ds, const dcm_instance_info *info, char *err, size_t errlen) {
    DcmElement *px = NULL;
    if (ds->findAndGetElement(DCM_PixelData, px, OFFalse).bad() || !px) {
        fail(err, errlen, "no Pixel Data (7FE0,0010)%s%s", "", "");
        return -1;
    }
    Uint32 len = px->getLengthField();
    if (len == DCM_UndefinedLength) return 0;      /* encapsulated: the parser found its end */
    Uint16 alloc = 0, spp = 1;
    OFString frames_s;
    ds->findAndGetUint16(DCM_BitsAllocated, alloc);
    ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
    long frames = 1;
    if (ds->findAndGetOFString(DCM_NumberOfFrames, frames_s).good() && !frames_s.empty())
        frames = atol(frames_s.c_str());
    if (frames < 1) frames = 1;
    unsigned long long bits = (unsigned long long)info->rows * info->columns * (spp ? spp : 1) *
                              (unsigned long long)alloc * (unsigned long long)frames;
    unsigned long long want = (bits + 7) / 8;
    want += want & 1;
    if (alloc == 0 || want != len) {
        char a[64], b[64];
        snprintf(a, sizeof a, "%lu", (unsigned long)len);
        snprintf(b, sizeof b, "%llu", want);
        fail(err, errlen, "Pixel Data length %s does not match the image attributes (%s bytes)", a, b);
        return -1;
    }
    if (len >= 2) {
        Uint8 tail[2];
        if (px->getPartialValue(tail, len - 2, 2).bad()) {
            fail(err, errlen, "Pixel Data is truncated (its last bytes are missing)%s%s", "", "");
            return -1;
        }
    }
    return 0;
}

extern "C" int dcm_instance_is_mammo_sc(const dcm_instance_info *info) {
    return !strcmp(info->sop_class_uid, DCM_SOP_SECONDARY_CAPTURE) &&
           (!strcasecmp(info->modality, "MG") || !strcasecmp(info->body_part, "BREAST"));
}

/* PatientOrientation "ROW\\COL" -> laterality and view (dcm_instance_read.h). */
static void from_orientation(const char *po, char *lat, size_t latcap, char *view, size_t viewcap) {
    char row[17] = "", col[17] = "";
    const char *bs = strchr(po, '\\');
    if (!bs) return;
    snprintf(row, sizeof row, "%.*s", (int)(bs - po) < 16 ? (int)(bs - po) : 16, po);
    snprintf(col, sizeof col, "%.16s", bs + 1);
    if (!strcmp(row, "A")) snprintf(lat, latcap, "L");
    else if (!strcmp(row, "P")) snprintf(lat, latcap, "R");
    int foot_head = strchr(col, 'F') || strchr(col, 'H'), side = strchr(col, 'R') || strchr(col, 'L');
    if (foot_head && side) snprintf(view, viewcap, "MLO");
    else if (side && strlen(col) == 1) snprintf(view, viewcap, "CC");
    else if (foot_head && strlen(col) == 1) snprintf(view, viewcap, "ML");
}

/* Words of a SeriesDescription -> laterality and view (dcm_instance_read.h). */
static void from_description(const char *desc, char *lat, size_t latcap, char *view, size_t viewcap) {
    char word[32];
    size_t n = 0;
    for (size_t i = 0;; i++) {
        unsigned char c = (unsigned char)desc[i];
        if (isalnum(c) && n + 1 < sizeof word) {
            word[n++] = (char)toupper(c);
            continue;
        }
        word[n] = '\0';
        if (n) {
            const char *w = word, *v = NULL;
            char l = 0;
            if (!strcmp(w, "LEFT") || !strcmp(w, "L")) l = 'L';
            else if (!strcmp(w, "RIGHT") || !strcmp(w, "R")) l = 'R';
            else if ((w[0] == 'L' || w[0] == 'R') && (!strcmp(w + 1, "CC") || !strcmp(w + 1, "MLO"))) {
                l = w[0];
                v = w + 1;
            } else if (!strcmp(w, "CC") || !strcmp(w, "MLO")) v = w;
            if (l && !lat[0]) snprintf(lat, latcap, "%c", l);
            if (v && !view[0]) snprintf(view, viewcap, "%s", v);
        }
        n = 0;
        if (!c) break;
    }
}

/* Secondary Capture: laterality and view from the tags such images carry. Values that do
 * not fit are ignored here (they are not identifiers). */
static void sc_orientation(DcmDataset *ds, dcm_instance_info *o) {
    char po[DCM_SHORT_MAX], desc[DCM_SHORT_MAX];
    if (get_str(ds, DCM_PatientOrientation, po, sizeof po) != 0) po[0] = '\0';
    if (get_str(ds, DCM_SeriesDescription, desc, sizeof desc) != 0) desc[0] = '\0';
    const struct { const char *text, *name; void (*parse)(const char *, char *, size_t, char *, size_t); } src[] = {
        {po, "PatientOrientation", from_orientation},
        {desc, "SeriesDescription", from_description},
    };
    for (const auto &s : src) {
        if (!s.text[0]) continue;
        char lat[3] = "", view[17] = "";
        s.parse(s.text, lat, sizeof lat, view, sizeof view);
        if (!o->image_laterality[0] && lat[0]) {
            snprintf(o->image_laterality, sizeof o->image_laterality, "%s", lat);
            snprintf(o->laterality_from, sizeof o->laterality_from, "%s", s.name);
        }
        if (!o->view_position[0] && !o->view_code[0] && view[0]) {
            snprintf(o->view_position, sizeof o->view_position, "%s", view);
            snprintf(o->view_from, sizeof o->view_from, "%s", s.name);
        }
    }
}

/* The rule of dcm_instance_read.h: whole value, trimmed, refused when too long. */
static int fill_tags(DcmMetaInfo *meta, DcmDataset *ds, dcm_instance_info *o, char *err,
                     size_t errlen) {
    struct {
        DcmItem *item;
        DcmTagKey key;
        char *dst;
        size_t cap;
        const char *name;
        bool text;     /* free text in the dataset's character set (DCM_TEXT_MAX field) */
    } fields[] = {
        {meta, DCM_TransferSyntaxUID, o->transfer_syntax_uid, sizeof o->transfer_syntax_uid, "TransferSyntaxUID", false},
        {ds, DCM_StudyInstanceUID, o->study_uid, sizeof o->study_uid, "StudyInstanceUID", false},
        {ds, DCM_SeriesInstanceUID, o->series_uid, sizeof o->series_uid, "SeriesInstanceUID", false},
        {ds, DCM_SOPInstanceUID, o->sop_instance_uid, sizeof o->sop_instance_uid, "SOPInstanceUID", false},
        {ds, DCM_SOPClassUID, o->sop_class_uid, sizeof o->sop_class_uid, "SOPClassUID", false},
        {ds, DCM_Modality, o->modality, sizeof o->modality, "Modality", false},
        {ds, DCM_PatientID, o->patient_id, sizeof o->patient_id, "PatientID", true},
        {ds, DCM_AccessionNumber, o->accession_number, sizeof o->accession_number, "AccessionNumber", true},
        {ds, DCM_ImageLaterality, o->image_laterality, sizeof o->image_laterality, "ImageLaterality", false},
        {ds, DCM_ViewPosition, o->view_position, sizeof o->view_position, "ViewPosition", false},
        {ds, DCM_PresentationIntentType, o->presentation_intent, sizeof o->presentation_intent, "PresentationIntentType", false},
        {ds, DCM_BreastImplantPresent, o->breast_implant_present, sizeof o->breast_implant_present, "BreastImplantPresent", false},
        {ds, DCM_PatientAge, o->patient_age, sizeof o->patient_age, "PatientAge", false},
        {ds, DCM_StudyDate, o->study_date, sizeof o->study_date, "StudyDate", false},
        {ds, DCM_StudyDescription, o->study_description, sizeof o->study_description, "StudyDescription", true},
        {ds, DCM_PhotometricInterpretation, o->photometric, sizeof o->photometric, "PhotometricInterpretation", false},
        {ds, DCM_BodyPartExamined, o->body_part, sizeof o->body_part, "BodyPartExamined", false},
    };
    TextDecoder text(ds);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (get_str(fields[i].item, fields[i].key, fields[i].dst, fields[i].cap,
                    fields[i].text ? &text : nullptr, DCM_SHORT_MAX - 1) != 0) {
            fail(err, errlen, "%s is longer than allowed%s", fields[i].name, "");
            return -1;
        }
    }
    if (o->image_laterality[0]) snprintf(o->laterality_from, sizeof o->laterality_from, "ImageLaterality");
    /* no ImageLaterality: the series' Laterality (0020,0060) names the breast */
    if (!o->image_laterality[0] && get_str(ds, DCM_Laterality, o->image_laterality,
                                           sizeof o->image_laterality) != 0) {
        fail(err, errlen, "Laterality is longer than allowed%s%s", "", "");
        return -1;
    }
    if (o->image_laterality[0] && !o->laterality_from[0])
        snprintf(o->laterality_from, sizeof o->laterality_from, "Laterality");
    if (o->view_position[0]) snprintf(o->view_from, sizeof o->view_from, "ViewPosition");
    if (get_str(ds, DCM_AcquisitionDateTime, o->acquisition_datetime,
                sizeof o->acquisition_datetime) != 0 || !o->acquisition_datetime[0]) {
        char d[9], t[17];
        if (get_str(ds, DCM_AcquisitionDate, d, sizeof d) == 0 &&
            get_str(ds, DCM_AcquisitionTime, t, sizeof t) == 0)
            snprintf(o->acquisition_datetime, sizeof o->acquisition_datetime, "%s%s", d, t);
    }
    DcmItem *view = NULL;
    if (ds->findAndGetSequenceItem(DCM_ViewCodeSequence, view, 0).good() && view) {
        get_str(view, DCM_CodeValue, o->view_code, sizeof o->view_code);
        get_str(view, DCM_CodeMeaning, o->view_code_meaning, sizeof o->view_code_meaning, &text,
                DCM_SHORT_MAX - 1);
        get_codes(view, DCM_ViewModifierCodeSequence, o->view_modifiers, sizeof o->view_modifiers);
    }
    if (!o->view_modifiers[0]) /* some writers put the modifiers at the top level */
        get_codes(ds, DCM_ViewModifierCodeSequence, o->view_modifiers, sizeof o->view_modifiers);
    ds->findAndGetUint16(DCM_Rows, o->rows);
    ds->findAndGetUint16(DCM_Columns, o->columns);
    ds->findAndGetUint16(DCM_BitsStored, o->bits_stored);
    if (!strcmp(o->sop_class_uid, DCM_SOP_SECONDARY_CAPTURE)) sc_orientation(ds, o);
    return 0;
}

int dcm_instance_fill(DcmFileFormat &ff, dcm_instance_info *out_info, char *err, size_t errlen) {
    try {
        memset(out_info, 0, sizeof *out_info);
        DcmMetaInfo *meta = ff.getMetaInfo();
        DcmDataset *ds = ff.getDataset();
        if (!meta || !ds) {
            fail(err, errlen, "no file meta information or dataset%s%s", "", "");
            return -1;
        }
        return fill_tags(meta, ds, out_info, err, errlen);
    } catch (...) {
        fail(err, errlen, "unexpected exception while reading the tags%s%s", "", "");
        return -1;
    }
}

extern "C" int dcm_read_instance_info(const char *path, dcm_instance_info *out_info, char *err,
                                      size_t errlen) {
    try {
        memset(out_info, 0, sizeof *out_info);
        /* bounded walk first: DCMTK's recursive parser must never see an unbounded file */
        if (dcm_preparse_file(path, err, errlen) != 0) return -1;
        DcmFileFormat ff;
        OFCondition c = ff.loadFile(path, EXS_Unknown, EGL_noChange, kMaxReadLength, ERM_fileOnly);
        if (c.bad()) {
            fail(err, errlen, "not a readable DICOM file: %s%s", c.text(), "");
            return -1;
        }
        if (dcm_instance_fill(ff, out_info, err, errlen) != 0) return -1;
        if (check_pixels(ff.getDataset(), out_info, err, errlen) != 0) return -1;
        return 0;
    } catch (...) {
        fail(err, errlen, "unexpected exception while reading %s%s", path, "");
        return -1;
    }
}
