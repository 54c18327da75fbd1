/* test_tokenizer_fuzz.c: random and hostile inputs for the tokenizers. Byte-level BPE is
 * lossless: the token strings of any byte string (valid UTF-8 or not) map back to exactly
 * its bytes. WordPiece never crashes and always frames [CLS] ... [SEP]. Truncated
 * tokenizer files load with an error, never a crash. Seeded: failures reproduce. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/text/bpe.h"
#include "engine/core/rng.h"
#include "engine/text/unicode.h"
#include "engine/text/wordpiece.h"
#include "tests/check.h"

/* GPT-2 byte <-> code point table, written independently of bpe.c. */
static int cp_to_byte[324];
static void init_decoder(void) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        cp_to_byte[keep ? b : 256 + n++] = b;
    }
}

static size_t decode_tokens(const bpe_tokenizer *tok, const int32_t *ids, int n, unsigned char *out) {
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        const char *s = bpe_token_str(tok, ids[i]);
        size_t sl = strlen(s);
        for (size_t p = 0; p < sl;) {
            uint32_t cp;
            p += (size_t)uni_utf8_decode((const unsigned char *)s + p, sl - p, &cp);
            out[len++] = cp < 324 ? (unsigned char)cp_to_byte[cp] : '?';
        }
    }
    return len;
}

static const char *const pieces[] = {" ", "  ", ".", ";", "'s", "'", "\n", "\t", "a", "Z", "7",
                                     "\xc3\xa9", "\xe4\xb9\xb3", "\xf0\x9f\x98\x80", "\xff", "\xc3",
                                     "\xe2\x82", "\xed\xa0\x80", "dense", "BI-RADS", "\xc2\xa0",
                                     "\xe3\x80\x80", "##", "[", "]", "\x01", "\x7f"};

static size_t random_text(mama_rng *r, unsigned char *buf, size_t cap) {
    size_t n = 0, want = (size_t)mama_rng_below(r, 200);
    while (n < want) {
        const char *p;
        char one[2] = {0, 0};
        if (mama_rng_bernoulli(r, 0.3)) { one[0] = (char)(1 + mama_rng_below(r, 255)); p = one; }
        else p = pieces[mama_rng_below(r, sizeof pieces / sizeof *pieces)];
        size_t l = strlen(p);
        if (n + l >= cap) break;
        memcpy(buf + n, p, l);
        n += l;
    }
    buf[n] = 0;
    return n;
}

int main(void) {
    const char *root = getenv("MAMA_SOURCE_ROOT");
    char path[4096], vpath[4096];
    snprintf(path, sizeof path, "%s/tests/text/ref/bpe_tokenizer.json", root ? root : ".");
    snprintf(vpath, sizeof vpath, "%s/tests/text/ref/minilm_vocab.txt", root ? root : ".");
    bpe_tokenizer *bpe = NULL;
    wordpiece_tokenizer *wp = NULL;
    if (bpe_load_json(path, &bpe) || wordpiece_load(vpath, NULL, &wp)) {
        fprintf(stderr, "load: %s\n", mama_last_error());
        return 1;
    }
    init_decoder();
    mama_rng r;
    mama_rng_seed(&r, 20261128);
    unsigned char text[1024], back[8192];
    int32_t ids[1024], mask[144];
    for (int it = 0; it < 3000; it++) {
        size_t n = random_text(&r, text, sizeof text);
        int cnt = 0;
        mama_status rc = bpe_encode(bpe, (const char *)text, n, ids, 1024, &cnt);
        CHECK_MSG(rc == MAMA_OK && cnt <= 1024, "iter %d: rc %d n %d", it, rc, cnt);
        if (rc || cnt > 1024) continue;
        size_t bl = decode_tokens(bpe, ids, cnt, back);
        CHECK_MSG(bl == n && memcmp(back, text, n) == 0, "iter %d: lossless round trip (%zu -> %zu bytes)", it, n, bl);
        int nc = 0;
        rc = bpe_encode_caption(bpe, (const char *)text, 144, ids, mask, &nc);
        CHECK_MSG(rc == MAMA_OK && ids[0] == bpe_special_ids(bpe)->bos && ids[nc - 1] == bpe_special_ids(bpe)->eot,
                  "iter %d: caption framing", it);
        rc = wordpiece_encode(wp, (const char *)text, n, ids, 1024, &cnt);
        CHECK_MSG(rc == MAMA_OK && cnt >= 2 && ids[0] == wordpiece_token_id(wp, "[CLS]") &&
                  ids[cnt - 1] == wordpiece_token_id(wp, "[SEP]"), "iter %d: wordpiece framing", it);
        for (int i = 0; i < cnt && i < 1024; i++)
            CHECK_MSG(ids[i] >= 0 && ids[i] < wordpiece_vocab_size(wp), "iter %d: id %d", it, ids[i]);
    }
    bpe_free(bpe);
    wordpiece_free(wp);

    /* Truncated tokenizer.json files: an error each time, never a crash. */
    FILE *f = fopen(path, "rb");
    if (!f) return 1;
    static char whole[1 << 18];
    size_t len = fread(whole, 1, sizeof whole, f);
    fclose(f);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "/tmp/test_tokfuzz_%d.json", (int)getpid());
    for (int k = 1; k <= 12; k++) {
        size_t cut = len * (size_t)k / 13;
        FILE *o = fopen(tmp, "wb");
        if (!o) break;
        fwrite(whole, 1, cut, o);
        fclose(o);
        bpe_tokenizer *t = NULL;
        CHECK_MSG(bpe_load_json(tmp, &t) != MAMA_OK && t == NULL, "truncated at %zu loaded", cut);
    }
    unlink(tmp);
    return check_done("tokenizer fuzz");
}
