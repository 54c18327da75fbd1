/* unicode.h: the few Unicode properties the tokenizers need, from generated tables
 * (engine/unicode_tables.c, written by tools/reference/gen_unicode_tables.py), and a
 * forgiving UTF-8 decoder. */
#ifndef MAMA_UNICODE_H
#define MAMA_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    UNI_OTHER = 0, /* symbols, separators, spacing marks ... */
    UNI_LETTER = 1,  /* L* */
    UNI_NUMBER = 2,  /* N* */
    UNI_PUNCT = 3,   /* P* */
    UNI_MARK_NONSPACING = 4, /* Mn */
    UNI_CONTROL = 5, /* C*: Cc, Cf, Cs, Co, Cn */
};

typedef struct uni_range {
    uint32_t lo, hi;
    int cls;
} uni_range;

typedef struct uni_map {
    uint32_t cp;
    int offset, len; /* into the matching *_data array */
} uni_map;

/* Generated tables. */
extern const char uni_data_version[];
extern const uni_range uni_class_ranges[];
extern const int uni_class_ranges_count;
extern const uni_range uni_space_ranges[];
extern const int uni_space_ranges_count;
extern const uni_map uni_decomp_map[];
extern const int uni_decomp_map_count;
extern const uint32_t uni_decomp_data[];
extern const uni_map uni_lower_map[];
extern const int uni_lower_map_count;
extern const uint32_t uni_lower_data[];

/* Class of a code point (UNI_*). */
int uni_class(uint32_t cp);
/* Unicode White_Space property. */
int uni_is_space(uint32_t cp);
/* Full canonical decomposition (NFD) of cp into out (room for 18 code points); returns
 * the count (1 and out[0] = cp when cp does not decompose). */
int uni_decompose(uint32_t cp, uint32_t *out);
/* Full lowercase mapping of cp into out (room for 3); returns the count. */
int uni_lower(uint32_t cp, uint32_t *out);

/* Decodes one code point of s[0..n) (n >= 1). Returns the bytes used (1..4). An invalid
 * or truncated sequence uses 1 byte and gives *out_cp = UNI_INVALID. */
#define UNI_INVALID 0xFFFFFFFFu
int uni_utf8_decode(const unsigned char *s, size_t n, uint32_t *out_cp);
/* Encodes cp (<= 0x10FFFF) into out (4 bytes room); returns the bytes written. */
int uni_utf8_encode(uint32_t cp, char *out);

#ifdef __cplusplus
}
#endif
#endif
