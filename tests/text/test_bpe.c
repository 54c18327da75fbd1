/* test_bpe.c: the C byte-level BPE gives the same ids as Hugging Face tokenizers on the
 * committed corpus (tests/text/ref/bpe_cases.json, made by tools/reference/tokenizer_ref.py):
 * plain encoding and the MaMA caption encoding (sep tokens, BOS/EOS, padding, truncation),
 * from tokenizer.json and from vocab.json + merges.txt; merges in "a b" string form;
 * invalid UTF-8 never crashes; bad files give clear errors. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/text/bpe.h"
#include "tests/check.h"

static char ref_dir[4096];

static const char *ref(const char *name) { return check_path(ref_dir, name); }

static int ids_equal(const json_t *want, const int32_t *got, int n, char *why, size_t why_n) {
    if ((int)json_array_size(want) != n) {
        snprintf(why, why_n, "length %d, want %zu", n, json_array_size(want));
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (json_integer_value(json_array_get(want, (size_t)i)) != got[i]) {
            snprintf(why, why_n, "position %d: %d, want %lld", i, got[i],
                     (long long)json_integer_value(json_array_get(want, (size_t)i)));
            return 0;
        }
    }
    return 1;
}

static void check_corpus(bpe_tokenizer *tok, const char *label) {
    json_error_t err;
    json_t *root = json_load_file(ref("bpe_cases.json"), 0, &err);
    CHECK_MSG(root != NULL, "%s: %s", ref("bpe_cases.json"), err.text);
    if (!root) return;
    json_t *sp = json_object_get(root, "specials");
    const bpe_specials *s = bpe_special_ids(tok);
    CHECK_MSG(s->eot == json_integer_value(json_object_get(sp, "<|endoftext|>")) &&
              s->bos == json_integer_value(json_object_get(sp, "<|startoftext|>")) &&
              s->pad == json_integer_value(json_object_get(sp, "<|padtext|>")) &&
              s->mask == json_integer_value(json_object_get(sp, "<|masktext|>")) &&
              s->sep == json_integer_value(json_object_get(sp, "<|separatetext|>")) &&
              s->unk == json_integer_value(json_object_get(sp, "<|unknowntext|>")),
              "%s: special ids %d %d %d %d %d %d", label, s->eot, s->bos, s->pad, s->mask, s->sep, s->unk);
    CHECK_MSG(bpe_vocab_size(tok) == 2005, "%s: vocab size %d", label, bpe_vocab_size(tok));
    CHECK_MSG(bpe_first_added_id(tok) == 2000, "%s: first appended id %d", label, bpe_first_added_id(tok));
    size_t i;
    json_t *c;
    int n_cases = 0;
    json_array_foreach(json_object_get(root, "cases"), i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        size_t len = json_string_length(json_object_get(c, "text"));
        int32_t ids[2048], mask[144];
        char why[128];
        int n = 0;
        /* a too-small buffer first: the count must still be exact */
        mama_status rc = bpe_encode(tok, text, len, ids, 1, &n);
        int n_small = n;
        rc = rc ? rc : bpe_encode(tok, text, len, ids, 2048, &n);
        CHECK_MSG(rc == MAMA_OK && n == n_small, "%s case %zu: rc %d n %d vs %d", label, i, rc, n, n_small);
        CHECK_MSG(ids_equal(json_object_get(c, "ids"), ids, n, why, sizeof why), "%s case %zu plain \"%.60s\": %s",
                  label, i, text, why);
        rc = bpe_encode_caption(tok, text, 144, ids, mask, &n);
        CHECK_MSG(rc == MAMA_OK && ids_equal(json_object_get(c, "caption_ids"), ids, 144, why, sizeof why) &&
                  ids_equal(json_object_get(c, "caption_mask"), mask, 144, why, sizeof why),
                  "%s case %zu caption \"%.60s\": %s", label, i, text, why);
        rc = bpe_encode_caption(tok, text, 12, ids, mask, &n);
        CHECK_MSG(rc == MAMA_OK && ids_equal(json_object_get(c, "caption12_ids"), ids, 12, why, sizeof why) &&
                  ids_equal(json_object_get(c, "caption12_mask"), mask, 12, why, sizeof why),
                  "%s case %zu caption12 \"%.60s\": %s", label, i, text, why);
        n_cases++;
    }
    CHECK_MSG(n_cases > 50, "%s: only %d cases", label, n_cases);
    json_decref(root);
}

static const char *write_tmp(const char *name, const char *content) {
    static char path[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "/tmp/test_bpe_%d_%s", (int)getpid(), name);
    FILE *f = fopen(path[k], "wb");
    if (!f) return path[k];
    fputs(content, f);
    fclose(f);
    return path[k];
}

/* A tiny tokenizer.json with merges in the "a b" string form and add_prefix_space. */
static void test_string_merges(void) {
    const char *json =
        "{\"added_tokens\": [], \"normalizer\": null,"
        " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"use_regex\": true},"
        " \"model\": {\"type\": \"BPE\", \"continuing_subword_prefix\": \"\", \"end_of_word_suffix\": \"\","
        " \"byte_fallback\": false, \"vocab\": {\"a\": 0, \"b\": 1, \"\\u0120\": 2, \"ab\": 3,"
        " \"\\u0120ab\": 4, \"c\": 5}, \"merges\": [\"a b\", \"\\u0120 ab\"]}}";
    const char *p = write_tmp("s.json", json);
    bpe_tokenizer *tok = NULL;
    mama_status rc = bpe_load_json(p, &tok);
    CHECK_MSG(rc == MAMA_OK, "string merges: %s", mama_last_error());
    if (!rc) {
        int32_t ids[16];
        int n = 0;
        rc = bpe_encode(tok, "abc ab", 6, ids, 16, &n);
        /* prefix space: " abc ab" -> "Ġab" "c" "Ġab" */
        CHECK_MSG(rc == MAMA_OK && n == 3 && ids[0] == 4 && ids[1] == 5 && ids[2] == 4, "n %d: %d %d %d", n, ids[0], ids[1], ids[2]);
        /* missing byte symbols are dropped (as HF without unk), specials appended at 6.. */
        CHECK_MSG(bpe_special_ids(tok)->eot == 6 && bpe_special_ids(tok)->unk == 11 && bpe_first_added_id(tok) == 6,
                  "specials after the vocab");
        bpe_free(tok);
    }
    unlink(p);
}

static void test_bad_files(void) {
    bpe_tokenizer *tok = NULL;
    CHECK_MSG(bpe_load_json("/nonexistent/tokenizer.json", &tok) == MAMA_EFORMAT, "missing file");
    const char *p = write_tmp("bad1.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}");
    CHECK_MSG(bpe_load_json(p, &tok) == MAMA_EFORMAT, "wordpiece model");
    CHECK_MSG(strstr(mama_last_error(), "BPE") != NULL, "message: %s", mama_last_error());
    unlink(p);
    p = write_tmp("bad2.json",
        "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\","
        " \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}");
    CHECK_MSG(bpe_load_json(p, &tok) == MAMA_EFORMAT, "merge result missing");
    CHECK_MSG(strstr(mama_last_error(), "missing from the vocabulary") != NULL, "message: %s", mama_last_error());
    unlink(p);
    p = write_tmp("bad3.json",
        "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\","
        " \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"ab\"]}}");
    CHECK_MSG(bpe_load_json(p, &tok) == MAMA_EFORMAT, "malformed merge");
    unlink(p);
    p = write_tmp("bad4.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": ");
    CHECK_MSG(bpe_load_json(p, &tok) == MAMA_EFORMAT, "truncated JSON");
    unlink(p);
    p = write_tmp("bad6.json",
        "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\","
        " \"continuing_subword_prefix\": \"##\", \"vocab\": {\"a\": 0}, \"merges\": []}}");
    CHECK_MSG(bpe_load_json(p, &tok) == MAMA_EUNSUPPORTED, "continuing_subword_prefix");
    unlink(p);
    p = write_tmp("bad5.json",
        "{\"normalizer\": {\"type\": \"NFC\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"},"
        " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}");
    CHECK_MSG(bpe_load_json(p, &tok) == MAMA_EUNSUPPORTED, "normalizer");
    unlink(p);
}

/* Invalid UTF-8 and every byte value: no crash, byte-level ids, and the ids decode back. */
static void test_invalid_utf8(bpe_tokenizer *tok) {
    const char bad[] = "ok \xff\xfe bad \xc3 trunc \xe2\x82 over \xc0\xaf surrogate \xed\xa0\x80 end";
    int32_t ids[256], mask[144];
    int n = 0;
    mama_status rc = bpe_encode(tok, bad, sizeof bad - 1, ids, 256, &n);
    CHECK_MSG(rc == MAMA_OK && n > 10, "invalid utf-8: rc %d n %d", rc, n);
    /* Concatenating token strings and mapping symbols back to bytes gives the input. */
    size_t total = 0;
    for (int i = 0; i < n && i < 256; i++) total += strlen(bpe_token_str(tok, ids[i]));
    CHECK_MSG(total >= sizeof bad - 1, "every byte represented: %zu symbol bytes for %zu bytes", total, sizeof bad - 1);
    char all[257];
    for (int b = 0; b < 256; b++) all[b] = (char)(b == 0 ? 1 : b);
    all[256] = 0;
    rc = bpe_encode(tok, all, 256, ids, 256, &n);
    CHECK_MSG(rc == MAMA_OK && n >= 100, "all bytes: rc %d n %d", rc, n);
    rc = bpe_encode_caption(tok, all, 144, ids, mask, &n);
    CHECK_MSG(rc == MAMA_OK && ids[0] == bpe_special_ids(tok)->bos && ids[143] == bpe_special_ids(tok)->eot && n == 144,
              "caption of all bytes truncated to 144");
    CHECK_MSG(bpe_encode_caption(tok, "x", 1, ids, mask, &n) == MAMA_EINVAL, "max_len 1");
}

int main(void) {
    const char *root = getenv("MAMA_SOURCE_ROOT");
    snprintf(ref_dir, sizeof ref_dir, "%s/tests/text/ref", root ? root : ".");
    bpe_tokenizer *tok = NULL;
    mama_status rc = bpe_load_json(ref("bpe_tokenizer.json"), &tok);
    CHECK_MSG(rc == MAMA_OK, "load: %s", mama_last_error());
    if (rc) return 1;
    check_corpus(tok, "tokenizer.json");
    check_corpus(tok, "tokenizer.json (cached)");
    test_invalid_utf8(tok);
    bpe_free(tok);
    rc = bpe_load_vocab_merges(ref("bpe_vocab.json"), ref("bpe_merges.txt"), &tok);
    CHECK_MSG(rc == MAMA_OK, "load vocab+merges: %s", mama_last_error());
    if (!rc) {
        check_corpus(tok, "vocab.json+merges.txt");
        bpe_free(tok);
    }
    test_string_merges();
    test_bad_files();
    return check_done("bpe");
}
