/* utf8.c: see utf8.h. Validation follows RFC 3629 (Table 3-7 of the Unicode standard). */
#include "common/utf8.h"

#include <string.h>

size_t utf8_seq_len(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;   /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) { len = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) { len = 3; hi = 0x9F; }          /* no UTF-16 surrogates */
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) { len = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) { len = 4; hi = 0x8F; }          /* <= U+10FFFF */
    else return 0;
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

int utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq_len(p + i, n - i);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

size_t utf8_sanitize(const char *s, size_t n, char *out, size_t cap) {
    static const char kReplacement[] = "\xEF\xBF\xBD";   /* U+FFFD */
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;
    if (cap == 0) return 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq_len(p + i, n - i);
        const char *src = l ? s + i : kReplacement;
        size_t sl = l ? l : 3;
        i += l ? l : 1;
        if (l == 1 && p[i - 1] == 0) continue;
        if (w + sl > cap - 1) break;
        memcpy(out + w, src, sl);
        w += sl;
    }
    out[w] = '\0';
    return w;
}

size_t utf8_prefix(const char *s, size_t max) {
    size_t n = strnlen(s, max);
    if (n < max) return n;   /* the whole string fits */
    /* s[max] exists (NUL or more text). When it continues a character, that character
     * straddles the cut: end before its first byte. */
    size_t k = max;
    for (int i = 0; i < 3 && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80; i++) k--;
    if (((unsigned char)s[k] & 0xC0) == 0x80) return max;   /* not UTF-8 there anyway */
    return k;
}
