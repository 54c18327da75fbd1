/* test_utf8.c: common/utf8.h, the rule every text leaving the service as JSON follows.
 * Cases from RFC 3629 section 3 and the Unicode standard's Table 3-7 (well-formed byte
 * sequences): overlong forms, surrogates and code points past U+10FFFF are invalid; a cut
 * never ends inside a character. */
#include <string.h>

#include "common/utf8.h"
#include "tests/check.h"

static void test_valid(void) {
    struct { const char *s; int ok; } t[] = {
        {"", 1}, {"plain ascii", 1}, {"M\xC3\x9CLLER", 1}, {"\xE2\x82\xAC", 1},
        {"\xF0\x9F\x98\x80", 1}, {"\xF4\x8F\xBF\xBF", 1},          /* U+10FFFF */
        {"\xED\x9F\xBF", 1},                                       /* U+D7FF */
        {"M\xDCLLER", 0},                                          /* Latin-1 byte */
        {"\xC0\xAF", 0}, {"\xE0\x80\xAF", 0}, {"\xF0\x80\x80\xAF", 0},   /* overlong '/' */
        {"\xED\xA0\x80", 0},                                       /* U+D800 surrogate */
        {"\xF4\x90\x80\x80", 0},                                   /* U+110000 */
        {"\xE2\x82", 0}, {"\x80", 0}, {"\xFF", 0}, {"\xFE", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        CHECK_MSG(utf8_valid(t[i].s, strlen(t[i].s)) == t[i].ok, "case %zu", i);
}

static void test_sanitize(void) {
    char out[64];
    size_t n = utf8_sanitize("M\xDCLLER-1", 9, out, sizeof out);
    CHECK_STR(out, "M\xEF\xBF\xBDLLER-1");
    CHECK(n == strlen(out));
    utf8_sanitize("a\xE2\x82" "b", 4, out, sizeof out);          /* cut sequence: 2 bytes */
    CHECK_STR(out, "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
    utf8_sanitize("a\0b", 3, out, sizeof out);                   /* NULs dropped */
    CHECK_STR(out, "ab");
    /* a character that does not fit whole is left out, never split */
    utf8_sanitize("ab\xE2\x82\xAC", 5, out, 5);
    CHECK_STR(out, "ab");
    utf8_sanitize("ab\xE2\x82\xAC", 5, out, 6);
    CHECK_STR(out, "ab\xE2\x82\xAC");
    utf8_sanitize("\xFF\xFF", 2, out, 4);                        /* one U+FFFD fits in 4 */
    CHECK_STR(out, "\xEF\xBF\xBD");
}

static void test_prefix(void) {
    const char *euro = "abc\xE2\x82\xAC" "d";                    /* a b c EUR d */
    CHECK(utf8_prefix(euro, 100) == 7);
    CHECK(utf8_prefix(euro, 7) == 7);
    CHECK(utf8_prefix(euro, 6) == 6);
    CHECK(utf8_prefix(euro, 5) == 3);                           /* inside the euro sign */
    CHECK(utf8_prefix(euro, 4) == 3);
    CHECK(utf8_prefix(euro, 3) == 3);
    CHECK(utf8_prefix("\xF0\x9F\x98\x80", 3) == 0);
    CHECK(utf8_prefix("\xF0\x9F\x98\x80", 4) == 4);
    CHECK(utf8_prefix("M\xDCLLER", 2) == 2);                    /* not UTF-8: bytes */
    CHECK(utf8_prefix("", 5) == 0);
}

int main(void) {
    test_valid();
    test_sanitize();
    test_prefix();
    return check_done("utf8");
}
