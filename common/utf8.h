/* utf8.h: the one rule for text leaving the service as UTF-8 (JSON, the index).
 *
 * DICOM text arrives in the sender's character set; dicom/ converts it with the dataset's
 * Specific Character Set, but a value can still be invalid (no character set declared,
 * a conversion that failed, a URL with %FF in it, an index row written before the
 * conversion existed). jansson refuses such a string, which made REST answer 500 or drop
 * a study from a list. Everything that becomes JSON passes utf8_sanitize; every cut of a
 * string (a buffer, a "%.40s" in a message) ends on a character boundary (utf8_prefix). */
#ifndef MAMA_COMMON_UTF8_H
#define MAMA_COMMON_UTF8_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Length of the valid UTF-8 sequence (shortest form, no surrogates, <= U+10FFFF) at
 * s[0..n), 1..4, or 0 when s does not start one. */
size_t utf8_seq_len(const unsigned char *s, size_t n);

/* 1 when s[0..n) is entirely valid UTF-8. */
int utf8_valid(const char *s, size_t n);

/* Copies s[0..n) to out as valid UTF-8: each byte that does not start a valid sequence
 * becomes U+FFFD; NUL bytes are dropped. Stops before a character that would not fit in
 * cap - 1 bytes (never splits one). out is NUL-terminated (cap >= 1). Returns the bytes
 * written. */
size_t utf8_sanitize(const char *s, size_t n, char *out, size_t cap);

/* The longest prefix of the NUL-terminated s that is at most max bytes and does not end
 * inside a valid multi-byte character: for "%.*s", (int)utf8_prefix(s, 40), s. */
size_t utf8_prefix(const char *s, size_t max);

#ifdef __cplusplus
}
#endif
#endif
