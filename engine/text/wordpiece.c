/* wordpiece.c: BERT WordPiece tokenizer; see wordpiece.h for what it matches. */
#include "engine/text/wordpiece.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/strmap.h"
#include "engine/text/unicode.h"

struct wordpiece_tokenizer {
    wordpiece_options opt;
    strmap *vocab;
    int n_ids;
    int32_t pad, unk, cls, sep, mask;
};

static const char *const special_names[5] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

wordpiece_options wordpiece_default_options(void) {
    wordpiece_options o = {1, -1, 1, 100};
    return o;
}

mama_status wordpiece_load(const char *path, const wordpiece_options *opt,
                           wordpiece_tokenizer **out_tok) {
    FILE *f = fopen(path, "rb");
    if (!f) return mama_errorf(MAMA_EIO, "%s: cannot open the WordPiece vocabulary (vocab.txt)", path);
    wordpiece_tokenizer *t = calloc(1, sizeof *t);
    mama_status rc = t ? strmap_create(32768, &t->vocab)
                       : mama_errorf(MAMA_ENOMEM, "wordpiece: out of memory");
    if (t) t->opt = opt ? *opt : wordpiece_default_options();
    char line[1024];
    while (!rc && fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            rc = mama_errorf(MAMA_EFORMAT, "%s:%d: token longer than %zu bytes", path, t->n_ids + 1, sizeof line - 2);
            break;
        }
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t')) n--;
        rc = strmap_put(t->vocab, line, n, t->n_ids++);
    }
    fclose(f);
    int32_t *ids[5] = {t ? &t->pad : NULL, t ? &t->unk : NULL, t ? &t->cls : NULL,
                       t ? &t->sep : NULL, t ? &t->mask : NULL};
    for (int i = 0; i < 5 && !rc; i++)
        if (!strmap_get(t->vocab, special_names[i], strlen(special_names[i]), ids[i]))
            rc = mama_errorf(MAMA_EFORMAT, "%s: the vocabulary has no %s token: not a BERT vocab.txt", path,
                             special_names[i]);
    if (!rc && t->opt.max_chars_per_word <= 0) t->opt.max_chars_per_word = 100;
    if (rc) { wordpiece_free(t); return rc; }
    *out_tok = t;
    return MAMA_OK;
}

void wordpiece_free(wordpiece_tokenizer *t) {
    if (!t) return;
    strmap_free(t->vocab);
    free(t);
}

int wordpiece_vocab_size(const wordpiece_tokenizer *t) { return t->n_ids; }
int32_t wordpiece_pad_id(const wordpiece_tokenizer *t) { return t->pad; }

int32_t wordpiece_token_id(const wordpiece_tokenizer *t, const char *token) {
    int32_t id;
    return strmap_get(t->vocab, token, strlen(token), &id) ? id : -1;
}

/* ---- encoding ---- */

typedef struct id_sink {
    int32_t *ids;
    int cap, n;
} id_sink;

static void emit(id_sink *o, int32_t id) {
    if (o->n < o->cap) o->ids[o->n] = id;
    o->n++;
}

static int is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int is_punct(uint32_t c) {
    if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
    return uni_class(c) == UNI_PUNCT;
}

/* Normalised code points of text[0..len) written to out (see encode_piece for the room). */
static size_t normalize(const wordpiece_tokenizer *t, const unsigned char *s, size_t len, uint32_t *out) {
    size_t n = 0;
    int strip = t->opt.strip_accents < 0 ? t->opt.lowercase : t->opt.strip_accents;
    for (size_t p = 0; p < len;) {
        uint32_t c;
        p += (size_t)uni_utf8_decode(s + p, len - p, &c);
        if (c == UNI_INVALID || c == 0 || c == 0xFFFD) continue;
        /* controls go first: \v, \f and U+0085 are white space but also Cc: dropped */
        int tnr = c == '\t' || c == '\n' || c == '\r';
        if (!tnr && uni_class(c) == UNI_CONTROL) continue;
        if (tnr || uni_is_space(c)) { out[n++] = ' '; continue; }
        if (t->opt.chinese_chars && is_chinese(c)) {
            out[n++] = ' '; out[n++] = c; out[n++] = ' ';
            continue;
        }
        uint32_t d[18];
        int nd = 1;
        d[0] = c;
        if (strip) nd = uni_decompose(c, d);
        for (int i = 0; i < nd; i++) {
            if (strip && uni_class(d[i]) == UNI_MARK_NONSPACING) continue;
            if (t->opt.lowercase) {
                uint32_t l[3];
                int nl = uni_lower(d[i], l);
                for (int j = 0; j < nl; j++) out[n++] = l[j];
            } else {
                out[n++] = d[i];
            }
        }
    }
    return n;
}

/* WordPiece of one word w (nw code points). */
static void encode_word(const wordpiece_tokenizer *t, const uint32_t *w, size_t nw, id_sink *o) {
    if ((int)nw > t->opt.max_chars_per_word || nw > 256) { emit(o, t->unk); return; }
    char u[256 * 4 + 4], key[256 * 4 + 4];
    size_t off[257], bl = 0;
    for (size_t i = 0; i < nw; i++) { off[i] = bl; bl += (size_t)uni_utf8_encode(w[i], u + bl); }
    off[nw] = bl;
    int start_n = o->n;
    for (size_t start = 0; start < nw;) {
        size_t end = nw, pre = start ? 2 : 0;
        int32_t id = -1;
        key[0] = '#';
        key[1] = '#';
        for (; end > start; end--) {
            size_t klen = off[end] - off[start];
            memcpy(key + pre, u + off[start], klen);
            if (strmap_get(t->vocab, key, klen + pre, &id)) break;
        }
        if (end == start) { o->n = start_n; emit(o, t->unk); return; }
        emit(o, id);
        start = end;
    }
}

/* Tokens of a text piece without specials. */
static mama_status encode_piece(const wordpiece_tokenizer *t, const char *s, size_t len, id_sink *o) {
    if (len == 0) return MAMA_OK;
    /* at most 4 normalised code points per input byte (CJK: 3 per 3 bytes; NFD <= 4 and
     * lowercase <= 2 per code point of >= 2 bytes); 8 leaves a margin */
    uint32_t *cp = malloc((len * 8 + 8) * sizeof *cp);
    if (!cp) {
        return mama_errorf(MAMA_ENOMEM, "wordpiece: out of memory for %zu bytes of text", len);
    }
    size_t n = normalize(t, (const unsigned char *)s, len, cp);
    for (size_t i = 0; i < n;) {
        if (cp[i] == ' ' || uni_is_space(cp[i])) { i++; continue; }
        if (is_punct(cp[i])) { encode_word(t, cp + i, 1, o); i++; continue; }
        size_t j = i;
        while (j < n && !(cp[j] == ' ' || uni_is_space(cp[j])) && !is_punct(cp[j])) j++;
        encode_word(t, cp + i, j - i, o);
        i = j;
    }
    free(cp);
    return MAMA_OK;
}

static mama_status encode_into(const wordpiece_tokenizer *t, const char *text, size_t len, id_sink *o) {
    int32_t *ids[5] = {(int32_t *)&t->pad, (int32_t *)&t->unk, (int32_t *)&t->cls,
                       (int32_t *)&t->sep, (int32_t *)&t->mask};
    size_t start = 0;
    for (size_t i = 0; i < len;) {
        int hit = -1;
        if (text[i] == '[')
            for (int k = 0; k < 5 && hit < 0; k++) {
                size_t l = strlen(special_names[k]);
                if (l <= len - i && memcmp(text + i, special_names[k], l) == 0) hit = k;
            }
        if (hit < 0) { i++; continue; }
        mama_status rc = encode_piece(t, text + start, i - start, o);
        if (rc) return rc;
        emit(o, *ids[hit]);
        i += strlen(special_names[hit]);
        start = i;
    }
    return encode_piece(t, text + start, len - start, o);
}

mama_status wordpiece_encode(const wordpiece_tokenizer *t, const char *text, size_t len,
                             int32_t *out_ids, int cap, int *out_n) {
    if (!t || (!text && len) || cap < 0 || (cap && !out_ids) || len > ((size_t)1 << 24))
        return mama_errorf(MAMA_EINVAL, "wordpiece_encode: bad arguments (text over 16 MiB?)");
    id_sink o = {out_ids, cap, 0};
    emit(&o, t->cls);
    mama_status rc = encode_into(t, text, len, &o);
    if (rc) return rc;
    emit(&o, t->sep);
    *out_n = o.n;
    return MAMA_OK;
}

mama_status wordpiece_encode_padded(const wordpiece_tokenizer *t, const char *text, int max_len,
                                    int32_t *out_ids, int32_t *out_mask, int32_t *out_type,
                                    int *out_n) {
    if (!t || !text || max_len < 2 || !out_ids || !out_mask)
        return mama_errorf(MAMA_EINVAL, "wordpiece_encode_padded: need a text and max_len >= 2 (got %d)", max_len);
    id_sink o = {out_ids, max_len - 1, 0};
    emit(&o, t->cls);
    mama_status rc = encode_into(t, text, strlen(text), &o);
    if (rc) return rc;
    int n = o.n < max_len - 1 ? o.n : max_len - 1;
    out_ids[n++] = t->sep;
    for (int i = 0; i < max_len; i++) {
        out_mask[i] = i < n;
        if (out_type) out_type[i] = 0;
        if (i >= n) out_ids[i] = t->pad;
    }
    if (out_n) *out_n = n;
    return MAMA_OK;
}
