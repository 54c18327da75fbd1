/* unicode.c: lookups in the generated Unicode tables and UTF-8 coding; see unicode.h. */
#include "engine/text/unicode.h"

#include <string.h>

static const uni_range *find_range(const uni_range *t, int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < t[mid].lo) hi = mid - 1;
        else if (cp > t[mid].hi) lo = mid + 1;
        else return &t[mid];
    }
    return NULL;
}

static const uni_map *find_map(const uni_map *t, int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < t[mid].cp) hi = mid - 1;
        else if (cp > t[mid].cp) lo = mid + 1;
        else return &t[mid];
    }
    return NULL;
}

int uni_class(uint32_t cp) {
    if (cp < 0x80) { /* ASCII fast path, same answers as the table */
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return UNI_LETTER;
        if (cp >= '0' && cp <= '9') return UNI_NUMBER;
        if (cp < 0x20 || cp == 0x7F) return UNI_CONTROL;
    }
    const uni_range *r = find_range(uni_class_ranges, uni_class_ranges_count, cp);
    return r ? r->cls : UNI_OTHER;
}

int uni_is_space(uint32_t cp) {
    return find_range(uni_space_ranges, uni_space_ranges_count, cp) != NULL;
}

/* Hangul syllables (Unicode 3.12): L V [T] jamo, computed instead of tabled. */
enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7, VCOUNT = 21,
       TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = 19 * NCOUNT };

int uni_decompose(uint32_t cp, uint32_t *out) {
    if (cp >= SBASE && cp < SBASE + SCOUNT) {
        uint32_t s = cp - SBASE;
        out[0] = LBASE + s / NCOUNT;
        out[1] = VBASE + (s % NCOUNT) / TCOUNT;
        if (s % TCOUNT == 0) return 2;
        out[2] = TBASE + s % TCOUNT;
        return 3;
    }
    const uni_map *m = find_map(uni_decomp_map, uni_decomp_map_count, cp);
    if (!m || m->len > 18) { out[0] = cp; return 1; }
    memcpy(out, uni_decomp_data + m->offset, (size_t)m->len * sizeof *out);
    return m->len;
}

int uni_lower(uint32_t cp, uint32_t *out) {
    if (cp < 0x80) { out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp; return 1; }
    const uni_map *m = find_map(uni_lower_map, uni_lower_map_count, cp);
    if (!m || m->len > 3) { out[0] = cp; return 1; }
    memcpy(out, uni_lower_data + m->offset, (size_t)m->len * sizeof *out);
    return m->len;
}

int uni_utf8_decode(const unsigned char *s, size_t n, uint32_t *out_cp) {
    unsigned c = s[0];
    if (c < 0x80) { *out_cp = c; return 1; }
    int len;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; min = 0x10000; }
    else { *out_cp = UNI_INVALID; return 1; }
    if ((size_t)len > n) { *out_cp = UNI_INVALID; return 1; }
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) { *out_cp = UNI_INVALID; return 1; }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) { *out_cp = UNI_INVALID; return 1; }
    *out_cp = cp;
    return len;
}

int uni_utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = (unsigned char)(0xC0 | (cp >> 6)); o[1] = (unsigned char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12)); o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18)); o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}
