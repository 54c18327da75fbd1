/* dcm_preparse.cc: the bounded walk of dcm_preparse.h.
 *
 * The walk mirrors where DCMTK 3.6.7's parser nests, so that its depth bound holds for
 * DCMTK too:
 *   - explicit VR: an element with VR SQ; an undefined-length UN element (its value is
 *     read as implicit VR little endian, PS3.5 6.2.2);
 *   - implicit VR: an element the data dictionary calls SQ, and any undefined-length one;
 *   - undefined-length Pixel Data (and OB/OW) holds fragments, which never nest.
 * Recursion is walk_dataset -> walk_sequence -> walk_dataset, checked against the depth
 * limit on every entry into walk_sequence, so this code itself uses at most
 * 2 x DCM_PREPARSE_MAX_DEPTH small frames. Lengths are checked against the end of the
 * innermost container (defined-length item or sequence, else the file) before anything
 * is skipped, so no offset can run past the buffer. */
#include "dicom/dcm_preparse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <zlib.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctag.h"
#include "dcmtk/dcmdata/dcuid.h"

namespace {

enum Syntax { kImplicitLE, kExplicitLE, kExplicitBE };

const uint32_t kUndefined = 0xFFFFFFFFu;

struct Walk {
    const unsigned char *p;
    bool big = false;           /* explicit VR big endian dataset */
    bool inflated = false;      /* offsets count in the inflated dataset */
    unsigned long count = 0;
    char *err;
    size_t errlen;

    uint16_t u16(size_t o) const {
        return big ? (uint16_t)(p[o] << 8 | p[o + 1]) : (uint16_t)(p[o] | p[o + 1] << 8);
    }
    uint32_t u32(size_t o) const {
        return big ? ((uint32_t)p[o] << 24 | (uint32_t)p[o + 1] << 16 | (uint32_t)p[o + 2] << 8 | p[o + 3])
                   : ((uint32_t)p[o] | (uint32_t)p[o + 1] << 8 | (uint32_t)p[o + 2] << 16 |
                      (uint32_t)p[o + 3] << 24);
    }

    __attribute__((format(printf, 3, 4))) int fail(size_t off, const char *fmt, ...) {
        if (!err || !errlen) return -1;
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(err, errlen, "refused before parsing: %s (at byte %zu%s)", msg, off,
                 inflated ? " of the inflated dataset" : "");
        return -1;
    }

    int counted(size_t off) {
        if (++count <= DCM_PREPARSE_MAX_ELEMENTS) return 0;
        return fail(off, "more than %lu elements", DCM_PREPARSE_MAX_ELEMENTS);
    }
};

bool upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }

/* VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2). */
bool long_vr(unsigned char a, unsigned char b) {
    static const char *const k[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                    "SV", "UC", "UN", "UR", "UT", "UV"};
    for (const char *v : k)
        if (v[0] == a && v[1] == b) return true;
    return false;
}

/* What DCMTK's dictionary says, which is what its implicit-VR parser follows. */
bool dict_is_sequence(uint16_t g, uint16_t e) {
    DcmTag tag(g, e);
    return tag.getEVR() == EVR_SQ;
}

int walk_sequence(Walk &w, size_t &pos, size_t end, bool undef, Syntax sx, unsigned level,
                  uint16_t g, uint16_t e);

int walk_fragments(Walk &w, size_t &pos, size_t end) {
    for (;;) {
        if (end - pos < 8) return w.fail(pos, "encapsulated pixel data has no end delimiter");
        uint16_t ig = w.u16(pos), ie = w.u16(pos + 2);
        uint32_t len = w.u32(pos + 4);
        if (ig == 0xFFFE && ie == 0xE0DD) {
            pos += 8;
            return 0;
        }
        if (ig != 0xFFFE || ie != 0xE000)
            return w.fail(pos, "expected a pixel data fragment, found (%04X,%04X)", ig, ie);
        if (w.counted(pos)) return -1;
        if (len == kUndefined || len > end - pos - 8)
            return w.fail(pos, "a pixel data fragment declares %lu bytes, only %zu remain",
                          (unsigned long)len, end - pos - 8);
        pos += 8 + (size_t)len;
    }
}

/* The elements of a dataset or item from pos to end (or to its item delimiter when
 * undef_item). level: how many sequences enclose it. */
int walk_dataset(Walk &w, size_t &pos, size_t end, Syntax sx, unsigned level, bool undef_item) {
    while (pos < end) {
        if (end - pos < 8) return w.fail(pos, "an element header is cut off");
        uint16_t g = w.u16(pos), e = w.u16(pos + 2);
        if (g == 0xFFFE) {
            if (e == 0xE00D) {                       /* item delimiter */
                pos += 8;
                if (undef_item) return 0;
                continue;                            /* stray one: DCMTK skips it too */
            }
            if (e == 0xE0DD && undef_item) return 0; /* sequence ends, item unclosed */
            return w.fail(pos, "unexpected item tag (FFFE,%04X) inside a dataset", e);
        }
        size_t hdr;
        uint32_t len;
        bool sq = false, un = false, bulk = false;
        if (sx == kImplicitLE) {
            len = w.u32(pos + 4);
            hdr = 8;
            sq = dict_is_sequence(g, e);
        } else {
            unsigned char a = w.p[pos + 4], b = w.p[pos + 5];
            if (!upper(a) || !upper(b))
                return w.fail(pos, "element (%04X,%04X) has no valid VR", g, e);
            if (long_vr(a, b)) {
                if (end - pos < 12) return w.fail(pos, "an element header is cut off");
                len = w.u32(pos + 8);
                hdr = 12;
            } else {
                len = w.u16(pos + 6);
                hdr = 8;
            }
            sq = a == 'S' && b == 'Q';
            un = a == 'U' && b == 'N';
            bulk = a == 'O' && (b == 'B' || b == 'W');
        }
        if (w.counted(pos)) return -1;
        size_t vpos = pos + hdr;
        if (len == kUndefined) {
            pos = vpos;
            int rc;
            if (!sq && (bulk || (g == 0x7FE0 && e == 0x0010)))
                rc = walk_fragments(w, pos, end);
            else if (sq || un || sx == kImplicitLE)
                rc = walk_sequence(w, pos, end, true, un ? kImplicitLE : sx, level + 1, g, e);
            else
                rc = w.fail(vpos - hdr, "element (%04X,%04X) has an undefined length", g, e);
            if (rc) return -1;
            continue;
        }
        if (len > end - vpos)
            return w.fail(pos, "element (%04X,%04X) declares %lu bytes, only %zu remain", g, e,
                          (unsigned long)len, end - vpos);
        if (sq) {
            size_t q = vpos;
            if (walk_sequence(w, q, vpos + len, false, sx, level + 1, g, e)) return -1;
        }
        pos = vpos + len;
    }
    if (undef_item) return w.fail(pos, "an item has no end delimiter");
    return 0;
}

/* The items of sequence (g,e), which is the level-th nested one. */
int walk_sequence(Walk &w, size_t &pos, size_t end, bool undef, Syntax sx, unsigned level,
                  uint16_t g, uint16_t e) {
    if (level > DCM_PREPARSE_MAX_DEPTH)
        return w.fail(pos, "sequences nested deeper than %d levels (in (%04X,%04X))",
                      DCM_PREPARSE_MAX_DEPTH, g, e);
    for (;;) {
        if (!undef && pos == end) return 0;
        if (end - pos < 8)
            return w.fail(pos, undef ? "sequence (%04X,%04X) has no end delimiter"
                                     : "an item header in sequence (%04X,%04X) is cut off", g, e);
        uint16_t ig = w.u16(pos), ie = w.u16(pos + 2);
        uint32_t len = w.u32(pos + 4);
        if (ig == 0xFFFE && ie == 0xE0DD) {
            pos += 8;
            if (undef) return 0;
            continue;
        }
        if (ig != 0xFFFE || ie != 0xE000)
            return w.fail(pos, "expected an item in sequence (%04X,%04X), found (%04X,%04X)", g, e,
                          ig, ie);
        if (w.counted(pos)) return -1;
        pos += 8;
        if (len == kUndefined) {
            if (walk_dataset(w, pos, end, sx, level, true)) return -1;
        } else {
            if (len > end - pos)
                return w.fail(pos - 8, "an item in (%04X,%04X) declares %lu bytes, only %zu remain",
                              g, e, (unsigned long)len, end - pos);
            size_t q = pos;
            if (walk_dataset(w, q, pos + len, sx, level, false)) return -1;
            pos += len;
        }
    }
}

/* Raw deflate (PS3.5 A.5; DCMTK's default reading), at most DCM_PREPARSE_MAX_INFLATED. */
int inflate_all(const unsigned char *p, size_t n, std::vector<unsigned char> &out, std::string &why) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) {
        why = "cannot start inflating the deflated dataset";
        return -1;
    }
    z.next_in = const_cast<unsigned char *>(p);
    z.avail_in = (uInt)(n > 0x7fffffffu ? 0x7fffffffu : n);
    int rc = Z_OK;
    while (rc == Z_OK) {
        if (out.size() >= DCM_PREPARSE_MAX_INFLATED) {
            why = "the deflated dataset inflates to more than 1 GiB";
            inflateEnd(&z);
            return -1;
        }
        size_t have = out.size();
        out.resize(have + (1u << 20));
        z.next_out = out.data() + have;
        z.avail_out = 1u << 20;
        rc = inflate(&z, Z_NO_FLUSH);
        out.resize(have + (1u << 20) - z.avail_out);
        if (rc == Z_BUF_ERROR && z.avail_in == 0) break;   /* truncated stream: walk what came */
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END && rc != Z_BUF_ERROR && rc != Z_OK) {
        why = "the deflated dataset is corrupt";
        return -1;
    }
    return 0;
}

}  // namespace

extern "C" int dcm_preparse_buffer(const unsigned char *p, size_t n, char *err, size_t errlen) {
    try {
        Walk w;
        w.p = p;
        w.err = err;
        w.errlen = errlen;
        if (n < 132 || memcmp(p + 128, "DICM", 4) != 0)
            return w.fail(0, "not a readable DICOM file (no Part 10 preamble and \"DICM\")");
        /* group 0002: explicit VR little endian whatever the dataset uses */
        size_t pos = 132;
        std::string ts;
        while (n - pos >= 8 && w.u16(pos) == 0x0002) {
            uint16_t e = w.u16(pos + 2);
            unsigned char a = p[pos + 4], b = p[pos + 5];
            if (!upper(a) || !upper(b)) return w.fail(pos, "file meta element (0002,%04X) has no valid VR", e);
            size_t hdr = 8;
            uint32_t len = w.u16(pos + 6);
            if (long_vr(a, b)) {
                if (n - pos < 12) return w.fail(pos, "a file meta header is cut off");
                len = w.u32(pos + 8);
                hdr = 12;
            }
            if (w.counted(pos)) return -1;
            if (len > n - pos - hdr)
                return w.fail(pos, "file meta element (0002,%04X) declares %lu bytes, only %zu remain",
                              e, (unsigned long)len, n - pos - hdr);
            if (e == 0x0010) {
                ts.assign((const char *)p + pos + hdr, len);
                while (!ts.empty() && (ts.back() == '\0' || ts.back() == ' ')) ts.pop_back();
            }
            pos += hdr + len;
        }
        if (ts.empty()) return w.fail(pos, "the file meta header names no transfer syntax");
        if (ts == UID_DeflatedExplicitVRLittleEndianTransferSyntax) {
            std::vector<unsigned char> ds;
            std::string why;
            if (inflate_all(p + pos, n - pos, ds, why)) return w.fail(pos, "%s", why.c_str());
            Walk d = w;
            d.p = ds.data();
            d.inflated = true;
            size_t q = 0;
            return walk_dataset(d, q, ds.size(), kExplicitLE, 0, false);
        }
        Syntax sx = kExplicitLE;
        if (ts == UID_LittleEndianImplicitTransferSyntax) sx = kImplicitLE;
        if (ts == UID_BigEndianExplicitTransferSyntax) {
            sx = kExplicitBE;
            w.big = true;
        }
        return walk_dataset(w, pos, n, sx, 0, false);
    } catch (...) {
        if (err && errlen) snprintf(err, errlen, "refused before parsing: out of memory");
        return -1;
    }
}

extern "C" int dcm_preparse_file(const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "not a readable DICOM file: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    if (n < 132) {
        close(fd);
        snprintf(err, errlen, "refused before parsing: not a readable DICOM file (%zu bytes, no Part 10 header)", n);
        return -1;
    }
    void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = dcm_preparse_buffer((const unsigned char *)m, n, err, errlen);
    munmap(m, n);
    return rc;
}
