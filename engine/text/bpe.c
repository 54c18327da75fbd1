/* bpe.c: byte-level BPE (GPT-2 family) tokenizer; see bpe.h for the contract.
 *
 * Encoding of one text: split out added/special tokens (longest match at each position),
 * pre-tokenise each remaining piece with the GPT-2 pattern, map each pre-token's bytes to
 * their byte-level symbols and apply merges by rank (lowest rank first, leftmost first),
 * memoising the result per pre-token. */
#include "engine/text/bpe.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/strmap.h"
#include "engine/text/unicode.h"

typedef struct merge_slot {
    uint64_t key; /* (left << 32) | right */
    int32_t rank, id;
    int used;
} merge_slot;

typedef struct added_token {
    char *text;
    size_t len;
    int32_t id;
} added_token;

struct bpe_tokenizer {
    char **id_str;          /* (n_ids) token string per id, NULL for holes */
    int n_ids;
    strmap *vocab;          /* token string -> id */
    merge_slot *merges;     /* open addressing, merges_cap slots (power of two) */
    size_t merges_cap;
    int32_t byte_id[256];   /* id of each byte's symbol, -1 when the vocab lacks it */
    char byte_str[256][3];  /* UTF-8 of each byte's symbol (1 or 2 bytes) */
    added_token *added;
    int n_added;
    unsigned char added_first[256];
    int add_prefix_space;
    int ignore_merges;
    bpe_specials sp;
    int32_t first_appended; /* lowest id appended by finish(), -1 when none */
    strmap *cache;          /* pre-token bytes -> offset in pool */
    int32_t *pool;          /* [n, id_0 .. id_n-1] per cached word */
    size_t pool_n, pool_cap;
    int32_t *sym;           /* scratch symbols of one word */
    size_t sym_cap;
    void *heap_mem;         /* scratch of merge_symbols: links and candidate heap */
    size_t heap_cap;        /* symbols it holds */
};

enum { CACHE_MAX = 50000 };

/* ---- construction ---- */

/* GPT-2's reversible byte -> printable code point table. */
static void init_byte_symbols(bpe_tokenizer *t) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        uint32_t cp;
        if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) cp = (uint32_t)b;
        else cp = 256 + (uint32_t)n++;
        int k = uni_utf8_encode(cp, t->byte_str[b]);
        if (k < 3) t->byte_str[b][k] = 0;
    }
}

static size_t byte_str_len(const bpe_tokenizer *t, int b) {
    return t->byte_str[b][1] == 0 ? 1 : 2;
}

static mama_status set_id(bpe_tokenizer *t, const char *s, size_t len, int32_t id) {
    if (id < 0 || id > 50000000) return mama_errorf(MAMA_EFORMAT, "token id %d out of range", id);
    if (id >= t->n_ids) {
        int n = t->n_ids ? t->n_ids : 1024;
        while (n <= id) n *= 2;
        char **p = realloc(t->id_str, (size_t)n * sizeof *p);
        if (!p) return mama_errorf(MAMA_ENOMEM, "bpe: out of memory for %d ids", n);
        memset(p + t->n_ids, 0, (size_t)(n - t->n_ids) * sizeof *p);
        t->id_str = p;
        t->n_ids = n;
    }
    char *copy = malloc(len + 1);
    if (!copy) return mama_errorf(MAMA_ENOMEM, "bpe: out of memory");
    memcpy(copy, s, len);
    copy[len] = 0;
    free(t->id_str[id]);
    t->id_str[id] = copy;
    return strmap_put(t->vocab, s, len, id);
}

/* n_ids becomes max id + 1 once loading is done. */
static void trim_ids(bpe_tokenizer *t) {
    while (t->n_ids > 0 && !t->id_str[t->n_ids - 1]) t->n_ids--;
}

static mama_status add_added(bpe_tokenizer *t, const char *s, int32_t id) {
    size_t len = strlen(s);
    if (len == 0) return mama_errorf(MAMA_EFORMAT, "added token %d is empty", id);
    added_token *a = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *a);
    if (!a) return mama_errorf(MAMA_ENOMEM, "bpe: out of memory");
    t->added = a;
    a[t->n_added].text = strdup(s);
    if (!a[t->n_added].text) return mama_errorf(MAMA_ENOMEM, "bpe: out of memory");
    a[t->n_added].len = len;
    a[t->n_added].id = id;
    t->n_added++;
    t->added_first[(unsigned char)s[0]] = 1;
    return set_id(t, s, len, id);
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static merge_slot *merge_find(const bpe_tokenizer *t, uint64_t key) {
    size_t i = mix64(key) & (t->merges_cap - 1);
    while (t->merges[i].used && t->merges[i].key != key) i = (i + 1) & (t->merges_cap - 1);
    return &t->merges[i];
}

static mama_status merges_reserve(bpe_tokenizer *t, size_t n) {
    size_t cap = 64;
    while (cap < n * 2) cap *= 2;
    t->merges = calloc(cap, sizeof *t->merges);
    if (!t->merges) return mama_errorf(MAMA_ENOMEM, "bpe: out of memory for %zu merges", n);
    t->merges_cap = cap;
    return MAMA_OK;
}

static mama_status add_merge(bpe_tokenizer *t, const char *src, int rank, const char *a,
                             size_t alen, const char *b, size_t blen) {
    int32_t ia, ib, im;
    char buf[1024];
    if (alen + blen >= sizeof buf)
        return mama_errorf(MAMA_EFORMAT, "%s: merge %d is too long", src, rank);
    memcpy(buf, a, alen);
    memcpy(buf + alen, b, blen);
    if (!strmap_get(t->vocab, a, alen, &ia) || !strmap_get(t->vocab, b, blen, &ib) ||
        !strmap_get(t->vocab, buf, alen + blen, &im))
        return mama_errorf(MAMA_EFORMAT, "%s: merge %d (\"%.*s\" \"%.*s\") uses a token missing from "
                           "the vocabulary: the vocab and merges do not belong together",
                           src, rank, (int)alen, a, (int)blen, b);
    uint64_t key = ((uint64_t)(uint32_t)ia << 32) | (uint32_t)ib;
    merge_slot *s = merge_find(t, key);
    if (s->used) return MAMA_OK; /* a duplicate merge keeps its first (lowest) rank */
    s->used = 1;
    s->key = key;
    s->rank = rank;
    s->id = im;
    return MAMA_OK;
}

static mama_status tokenizer_new(bpe_tokenizer **out_tok) {
    bpe_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return mama_errorf(MAMA_ENOMEM, "bpe: out of memory");
    mama_status rc = strmap_create(65536, &t->vocab);
    if (!rc) rc = strmap_create(4096, &t->cache);
    if (rc) { bpe_free(t); return rc; }
    init_byte_symbols(t);
    t->first_appended = -1;
    *out_tok = t;
    return MAMA_OK;
}

/* After vocab, added tokens and merges: byte symbols, MaMA specials. */
static mama_status finish(bpe_tokenizer *t, const char *src) {
    trim_ids(t);
    int missing = 0;
    for (int b = 0; b < 256; b++) {
        if (!strmap_get(t->vocab, t->byte_str[b], byte_str_len(t, b), &t->byte_id[b])) {
            t->byte_id[b] = -1;
            missing++;
        }
    }
    if (missing == 256)
        return mama_errorf(MAMA_EFORMAT, "%s: no byte-level symbols in the vocabulary: not a byte-level "
                           "BPE tokenizer", src);
    static const char *const names[6] = {"<|endoftext|>", "<|startoftext|>", "<|padtext|>",
                                         "<|masktext|>", "<|separatetext|>", "<|unknowntext|>"};
    int32_t *ids[6] = {&t->sp.eot, &t->sp.bos, &t->sp.pad, &t->sp.mask, &t->sp.sep, &t->sp.unk};
    for (int i = 0; i < 6; i++) {
        int32_t id;
        int known = strmap_get(t->vocab, names[i], strlen(names[i]), &id);
        int is_added = 0;
        for (int j = 0; j < t->n_added; j++) is_added |= t->added[j].id == id && known;
        if (!known) {
            id = t->n_ids;
            if (t->first_appended < 0) t->first_appended = id;
        }
        if (!is_added) {
            mama_status rc = add_added(t, names[i], id);
            if (rc) return rc;
        }
        trim_ids(t);
        *ids[i] = id;
    }
    return MAMA_OK;
}

static mama_status json_fail(json_t *root, mama_status rc) {
    json_decref(root);
    return rc;
}

static mama_status parse_merge_string(bpe_tokenizer *t, const char *src, int rank, const char *m) {
    const char *sp = strchr(m, ' ');
    if (!sp || sp == m || !sp[1] || strchr(sp + 1, ' '))
        return mama_errorf(MAMA_EFORMAT, "%s: merge %d \"%s\" is not two tokens separated by a space",
                           src, rank, m);
    return add_merge(t, src, rank, m, (size_t)(sp - m), sp + 1, strlen(sp + 1));
}

mama_status bpe_load_json(const char *path, bpe_tokenizer **out_tok) {
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        return mama_errorf(MAMA_EFORMAT, "%s:%d: %s (expected a Hugging Face tokenizer.json)", path,
                           err.line, err.text);
    json_t *model = json_object_get(root, "model");
    json_t *vocab = json_object_get(model, "vocab");
    json_t *merges = json_object_get(model, "merges");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!json_is_object(vocab) || !json_is_array(merges) || (type && strcmp(type, "BPE") != 0))
        return json_fail(root, mama_errorf(MAMA_EFORMAT, "%s: model is %s, not a BPE model with vocab "
                                           "and merges", path, type ? type : "untyped"));
    /* GPT-2's own tokenizer.json spells "no prefix/suffix" as "" */
    const char *csp = json_string_value(json_object_get(model, "continuing_subword_prefix"));
    const char *eow = json_string_value(json_object_get(model, "end_of_word_suffix"));
    if (json_is_true(json_object_get(model, "byte_fallback")) || (csp && *csp) || (eow && *eow))
        return json_fail(root, mama_errorf(MAMA_EUNSUPPORTED, "%s: BPE options byte_fallback / "
                                           "continuing_subword_prefix / end_of_word_suffix are not "
                                           "supported (GPT-2 style byte-level BPE only)", path));
    json_t *norm = json_object_get(root, "normalizer");
    if (norm && !json_is_null(norm))
        return json_fail(root, mama_errorf(MAMA_EUNSUPPORTED, "%s: a normalizer (%s) is not supported; "
                                           "GPT-2 style tokenizers have none", path,
                                           json_string_value(json_object_get(norm, "type"))));
    json_t *pre = json_object_get(root, "pre_tokenizer");
    const char *pre_type = json_string_value(json_object_get(pre, "type"));
    if (!pre_type || strcmp(pre_type, "ByteLevel") != 0 ||
        json_is_false(json_object_get(pre, "use_regex")))
        return json_fail(root, mama_errorf(MAMA_EUNSUPPORTED, "%s: pre_tokenizer %s is not supported "
                                           "(need ByteLevel with the GPT-2 regex)", path,
                                           pre_type ? pre_type : "null"));
    bpe_tokenizer *t = NULL;
    mama_status rc = tokenizer_new(&t);
    if (rc) return json_fail(root, rc);
    t->add_prefix_space = json_is_true(json_object_get(pre, "add_prefix_space"));
    t->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val)) { rc = mama_errorf(MAMA_EFORMAT, "%s: vocab entry \"%s\" is not an integer id", path, key); break; }
        rc = set_id(t, key, strlen(key), (int32_t)json_integer_value(val));
        if (rc) break;
    }
    size_t i;
    json_t *a;
    json_array_foreach(rc ? NULL : json_object_get(root, "added_tokens"), i, a) {
        const char *content = json_string_value(json_object_get(a, "content"));
        json_t *id = json_object_get(a, "id");
        if (!content || !json_is_integer(id)) { rc = mama_errorf(MAMA_EFORMAT, "%s: added_tokens[%zu] lacks content or id", path, i); break; }
        rc = add_added(t, content, (int32_t)json_integer_value(id));
        if (rc) break;
    }
    if (!rc) rc = merges_reserve(t, json_array_size(merges));
    json_t *m;
    json_array_foreach(rc ? NULL : merges, i, m) {
        if (json_is_string(m)) {
            rc = parse_merge_string(t, path, (int)i, json_string_value(m));
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            json_t *l = json_array_get(m, 0), *r = json_array_get(m, 1);
            rc = add_merge(t, path, (int)i, json_string_value(l), json_string_length(l),
                           json_string_value(r), json_string_length(r));
        } else {
            rc = mama_errorf(MAMA_EFORMAT, "%s: merge %zu is neither \"a b\" nor [\"a\", \"b\"]", path, i);
        }
        if (rc) break;
    }
    json_decref(root);
    if (!rc) rc = finish(t, path);
    if (rc) { bpe_free(t); return rc; }
    *out_tok = t;
    return MAMA_OK;
}

mama_status bpe_load_vocab_merges(const char *vocab_json_path, const char *merges_txt_path,
                                  bpe_tokenizer **out_tok) {
    json_error_t err;
    json_t *vocab = json_load_file(vocab_json_path, 0, &err);
    if (!vocab)
        return mama_errorf(MAMA_EFORMAT, "%s:%d: %s (expected vocab.json: {token: id})", vocab_json_path,
                           err.line, err.text);
    if (!json_is_object(vocab)) return json_fail(vocab, mama_errorf(MAMA_EFORMAT, "%s: not a JSON object", vocab_json_path));
    bpe_tokenizer *t = NULL;
    mama_status rc = tokenizer_new(&t);
    if (rc) return json_fail(vocab, rc);
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val)) { rc = mama_errorf(MAMA_EFORMAT, "%s: entry \"%s\" is not an integer id", vocab_json_path, key); break; }
        rc = set_id(t, key, strlen(key), (int32_t)json_integer_value(val));
        if (rc) break;
    }
    json_decref(vocab);
    FILE *f = rc ? NULL : fopen(merges_txt_path, "rb");
    if (!rc && !f) rc = mama_errorf(MAMA_EIO, "%s: cannot open merges file", merges_txt_path);
    if (!rc) rc = merges_reserve(t, 65536);
    char line[2048];
    int rank = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0 || (rank == 0 && strncmp(line, "#version", 8) == 0)) continue;
        if ((size_t)(rank + 1) * 2 > t->merges_cap) {
            /* rehash into a bigger table */
            merge_slot *old = t->merges;
            size_t old_cap = t->merges_cap;
            rc = merges_reserve(t, old_cap);
            if (rc) { t->merges = old; break; }
            for (size_t i = 0; i < old_cap; i++) if (old[i].used) *merge_find(t, old[i].key) = old[i];
            free(old);
        }
        rc = parse_merge_string(t, merges_txt_path, rank, line);
        rank++;
    }
    if (f) fclose(f);
    if (!rc) {
        /* vocab.json carries <|endoftext|> as a plain entry; treat it as special (HF does). */
        int32_t id;
        if (strmap_get(t->vocab, "<|endoftext|>", 13, &id)) rc = add_added(t, "<|endoftext|>", id);
    }
    if (!rc) rc = finish(t, vocab_json_path);
    if (rc) { bpe_free(t); return rc; }
    *out_tok = t;
    return MAMA_OK;
}

void bpe_free(bpe_tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->n_ids; i++) free(t->id_str[i]);
    /* ids past n_ids after trim were never set */
    free(t->id_str);
    strmap_free(t->vocab);
    strmap_free(t->cache);
    free(t->merges);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].text);
    free(t->added);
    free(t->pool);
    free(t->sym);
    free(t->heap_mem);
    free(t);
}

int bpe_vocab_size(const bpe_tokenizer *t) { return t->n_ids; }

int32_t bpe_token_id(const bpe_tokenizer *t, const char *token) {
    int32_t id;
    return strmap_get(t->vocab, token, strlen(token), &id) ? id : -1;
}

const char *bpe_token_str(const bpe_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_ids ? t->id_str[id] : NULL;
}

const bpe_specials *bpe_special_ids(const bpe_tokenizer *t) { return &t->sp; }

int32_t bpe_first_added_id(const bpe_tokenizer *t) { return t->first_appended; }

/* ---- encoding ---- */

typedef struct id_sink {
    int32_t *ids;
    int cap, n;
} id_sink;

static void emit(id_sink *o, int32_t id) {
    if (o->n < o->cap) o->ids[o->n] = id;
    o->n++;
}

/* A candidate merge of the symbols at pos and next[pos], valid while both still hold
 * left/right. Ordered by rank, then position: the lowest-ranked pair, leftmost first, as
 * Hugging Face's BPE applies them. */
typedef struct cand {
    int32_t rank, pos, left, right, id;
} cand;

static int cand_less(const cand *a, const cand *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(cand *h, size_t *n, cand c) {
    size_t i = (*n)++;
    while (i > 0 && cand_less(&c, &h[(i - 1) / 2])) { h[i] = h[(i - 1) / 2]; i = (i - 1) / 2; }
    h[i] = c;
}

static cand heap_pop(cand *h, size_t *n) {
    cand top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && cand_less(&h[c + 1], &h[c])) c++;
        if (!cand_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static void push_pair(const bpe_tokenizer *t, cand *h, size_t *hn, const int32_t *sym, int32_t a, int32_t b) {
    if (a < 0 || b < 0) return;
    merge_slot *s = merge_find(t, ((uint64_t)(uint32_t)sym[a] << 32) | (uint32_t)sym[b]);
    if (s->used) heap_push(h, hn, (cand){s->rank, a, sym[a], sym[b], s->id});
}

/* Applies the merges to sym[0..*k) in O(k log k) (linked symbols + candidate heap) and
 * compacts the result. */
static mama_status merge_symbols(bpe_tokenizer *t, int32_t *sym, size_t *k) {
    size_t n = *k;
    if (n < 2) return MAMA_OK;
    if (n > t->heap_cap) {
        size_t cap = n + 64;
        void *m = realloc(t->heap_mem, cap * (2 * sizeof(int32_t) + 3 * sizeof(cand)));
        if (!m) return mama_errorf(MAMA_ENOMEM, "bpe: out of memory for a %zu-symbol word", n);
        t->heap_mem = m;
        t->heap_cap = cap;
    }
    cand *h = t->heap_mem; /* at most n - 1 initial + 2 per merge (< n merges) < 3n */
    int32_t *next = (int32_t *)(h + 3 * t->heap_cap), *prev = next + t->heap_cap;
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
        prev[i] = (int32_t)i - 1;
    }
    for (size_t i = 0; i + 1 < n; i++) push_pair(t, h, &hn, sym, (int32_t)i, (int32_t)i + 1);
    while (hn) {
        cand c = heap_pop(h, &hn);
        int32_t b = next[c.pos];
        if (sym[c.pos] != c.left || b < 0 || sym[b] != c.right) continue; /* stale */
        sym[c.pos] = c.id;
        sym[b] = -1;
        next[c.pos] = next[b];
        if (next[b] >= 0) prev[next[b]] = c.pos;
        push_pair(t, h, &hn, sym, prev[c.pos], c.pos);
        push_pair(t, h, &hn, sym, c.pos, next[c.pos]);
    }
    size_t j = 0;
    for (int32_t i = 0; i >= 0; i = next[i]) sym[j++] = sym[i];
    *k = j;
    return MAMA_OK;
}

/* Merges the byte symbols of one pre-token and emits them (through the cache). */
static mama_status encode_word(bpe_tokenizer *t, const unsigned char *w, size_t n, id_sink *o) {
    int32_t off;
    if (strmap_get(t->cache, (const char *)w, n, &off)) {
        for (int32_t i = 0; i < t->pool[off]; i++) emit(o, t->pool[off + 1 + i]);
        return MAMA_OK;
    }
    if (n + 1 > t->sym_cap) {
        size_t cap = n + 64;
        int32_t *s = realloc(t->sym, cap * sizeof *s);
        if (!s) return mama_errorf(MAMA_ENOMEM, "bpe: out of memory for a %zu-byte word", n);
        t->sym = s;
        t->sym_cap = cap;
    }
    int32_t *sym = t->sym;
    size_t k = 0;
    int32_t whole;
    int direct = 0;
    if (t->ignore_merges && n <= 256) {
        char buf[513];
        size_t bl = 0;
        for (size_t i = 0; i < n; i++) {
            size_t l = byte_str_len(t, w[i]);
            memcpy(buf + bl, t->byte_str[w[i]], l);
            bl += l;
        }
        if (strmap_get(t->vocab, buf, bl, &whole)) { sym[k++] = whole; direct = 1; }
    }
    if (!direct) {
        for (size_t i = 0; i < n; i++)
            if (t->byte_id[w[i]] >= 0) sym[k++] = t->byte_id[w[i]]; /* unknown bytes dropped, as HF */
        mama_status rc = merge_symbols(t, sym, &k);
        if (rc) return rc;
    }
    for (size_t i = 0; i < k; i++) emit(o, sym[i]);
    /* memoise */
    if (strmap_count(t->cache) >= CACHE_MAX) { strmap_clear(t->cache); t->pool_n = 0; }
    if (t->pool_n + k + 1 > t->pool_cap) {
        size_t cap = t->pool_cap ? t->pool_cap * 2 : 65536;
        while (cap < t->pool_n + k + 1) cap *= 2;
        int32_t *p = realloc(t->pool, cap * sizeof *p);
        if (!p) return MAMA_OK; /* caching is optional */
        t->pool = p;
        t->pool_cap = cap;
    }
    if (t->pool_n + k + 1 > INT32_MAX) return MAMA_OK;
    off = (int32_t)t->pool_n;
    t->pool[t->pool_n++] = (int32_t)k;
    memcpy(t->pool + t->pool_n, sym, k * sizeof *sym);
    t->pool_n += k;
    if (strmap_put(t->cache, (const char *)w, n, off)) { t->pool_n = (size_t)off; }
    return MAMA_OK;
}

enum { C_LETTER, C_NUMBER, C_SPACE, C_OTHER };

typedef struct cpinfo {
    uint32_t cp;
    uint32_t off; /* byte offset of the code point */
    int cls;      /* C_* */
} cpinfo;

static int regex_class(uint32_t cp) {
    if (cp == UNI_INVALID) return C_OTHER;
    if (uni_is_space(cp)) return C_SPACE;
    int c = uni_class(cp);
    return c == UNI_LETTER ? C_LETTER : c == UNI_NUMBER ? C_NUMBER : C_OTHER;
}

/* End (exclusive, in code points) of the GPT-2 pre-token starting at i. */
static size_t pretoken_end(const cpinfo *c, size_t n, size_t i) {
    uint32_t x = c[i].cp;
    if (x == '\'' && i + 1 < n) {
        uint32_t y = c[i + 1].cp;
        if (y == 's' || y == 't' || y == 'm' || y == 'd') return i + 2;
        if (i + 2 < n) {
            uint32_t z = c[i + 2].cp;
            if ((y == 'r' && z == 'e') || (y == 'v' && z == 'e') || (y == 'l' && z == 'l')) return i + 3;
        }
    }
    size_t k = (x == ' ' && i + 1 < n && c[i + 1].cls != C_SPACE) ? i + 1 : i;
    int cls = c[k].cls;
    if (cls != C_SPACE) {
        size_t j = k + 1;
        while (j < n && c[j].cls == cls) j++;
        return j;
    }
    size_t j = i;
    while (j < n && c[j].cls == C_SPACE) j++;
    if (j == n) return n;          /* \s+(?!\S) up to the end */
    if (j - i >= 2) return j - 1;  /* leave the last space for the next token */
    return j;                      /* \s+ : a single space before non-space */
}

static mama_status encode_piece(bpe_tokenizer *t, const char *s, size_t len, id_sink *o) {
    if (len == 0) return MAMA_OK;
    char *buf = NULL;
    if (t->add_prefix_space && s[0] != ' ') {
        buf = malloc(len + 1);
        if (!buf) return mama_errorf(MAMA_ENOMEM, "bpe: out of memory");
        buf[0] = ' ';
        memcpy(buf + 1, s, len);
        s = buf;
        len++;
    }
    cpinfo *c = malloc((len + 1) * sizeof *c);
    if (!c) { free(buf); return mama_errorf(MAMA_ENOMEM, "bpe: out of memory for %zu bytes of text", len); }
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0;
    for (size_t p = 0; p < len;) {
        uint32_t cp;
        int k = uni_utf8_decode(u + p, len - p, &cp);
        c[n].cp = cp;
        c[n].off = (uint32_t)p;
        c[n].cls = regex_class(cp);
        n++;
        p += (size_t)k;
    }
    c[n].off = (uint32_t)len;
    mama_status rc = MAMA_OK;
    for (size_t i = 0; i < n && !rc;) {
        size_t j = pretoken_end(c, n, i);
        rc = encode_word(t, u + c[i].off, c[j].off - c[i].off, o);
        i = j;
    }
    free(c);
    free(buf);
    return rc;
}

/* Longest added token starting at s (NULL when none). */
static const added_token *match_added(const bpe_tokenizer *t, const char *s, size_t left) {
    if (!t->added_first[(unsigned char)s[0]]) return NULL;
    const added_token *best = NULL;
    for (int i = 0; i < t->n_added; i++) {
        const added_token *a = &t->added[i];
        if (a->len <= left && memcmp(s, a->text, a->len) == 0 && (!best || a->len > best->len)) best = a;
    }
    return best;
}

static mama_status encode_into(bpe_tokenizer *t, const char *text, size_t len, id_sink *o) {
    size_t start = 0;
    for (size_t i = 0; i < len;) {
        const added_token *a = match_added(t, text + i, len - i);
        if (!a) { i++; continue; }
        mama_status rc = encode_piece(t, text + start, i - start, o);
        if (rc) return rc;
        emit(o, a->id);
        i += a->len;
        start = i;
    }
    return encode_piece(t, text + start, len - start, o);
}

mama_status bpe_encode(bpe_tokenizer *t, const char *text, size_t len, int32_t *out_ids, int cap,
                       int *out_n) {
    if (!t || (!text && len) || cap < 0 || (cap > 0 && !out_ids) || len > (size_t)INT32_MAX / 2)
        return mama_errorf(MAMA_EINVAL, "bpe_encode: bad arguments");
    id_sink o = {out_ids, cap, 0};
    mama_status rc = encode_into(t, text, len, &o);
    if (rc) return rc;
    *out_n = o.n;
    return MAMA_OK;
}

mama_status bpe_encode_caption(bpe_tokenizer *t, const char *text, int max_len, int32_t *out_ids,
                               int32_t *out_mask, int *out_n) {
    if (!t || !text || max_len < 2 || !out_ids || !out_mask)
        return mama_errorf(MAMA_EINVAL, "bpe_encode_caption: need a text and max_len >= 2 (got %d)", max_len);
    id_sink o = {out_ids, max_len - 1, 0};
    emit(&o, t->sp.bos);
    size_t len = strlen(text), start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '.' && text[i] != ';') continue;
        mama_status rc = encode_into(t, text + start, i - start, &o);
        if (rc) return rc;
        if (i < len) emit(&o, t->sp.sep);
        start = i + 1;
        if (o.n >= max_len - 1) break; /* truncated: the rest cannot show */
    }
    int n = o.n < max_len - 1 ? o.n : max_len - 1;
    out_ids[n++] = t->sp.eot;
    for (int i = 0; i < max_len; i++) {
        out_mask[i] = i < n;
        if (i >= n) out_ids[i] = t->sp.pad;
    }
    if (out_n) *out_n = n;
    return MAMA_OK;
}
