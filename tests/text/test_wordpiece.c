/* test_wordpiece.c: the C WordPiece tokenizer gives the same ids as Hugging Face
 * tokenizers with the real all-MiniLM-L6-v2 vocabulary on the committed corpus
 * (tests/text/ref/wordpiece_cases.json): unpadded, and padded/truncated to 16 with
 * attention mask and token types; bad vocabularies and bad UTF-8 give errors, not crashes. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/text/wordpiece.h"
#include "tests/check.h"

static int ids_equal(const json_t *want, const int32_t *got, int n, char *why, size_t why_n) {
    if ((int)json_array_size(want) != n) {
        snprintf(why, why_n, "length %d, want %zu", n, json_array_size(want));
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (json_integer_value(json_array_get(want, (size_t)i)) != got[i]) {
            snprintf(why, why_n, "position %d: %d, want %lld", i, got[i],
                     (long long)json_integer_value(json_array_get(want, (size_t)i)));
            return 0;
        }
    return 1;
}

int main(void) {
    const char *root = getenv("MAMA_SOURCE_ROOT");
    char path[4096], cases_path[4096];
    snprintf(path, sizeof path, "%s/tests/text/ref/minilm_vocab.txt", root ? root : ".");
    snprintf(cases_path, sizeof cases_path, "%s/tests/text/ref/wordpiece_cases.json", root ? root : ".");
    wordpiece_tokenizer *tok = NULL;
    mama_status rc = wordpiece_load(path, NULL, &tok);
    CHECK_MSG(rc == MAMA_OK, "load: %s", mama_last_error());
    if (rc) return 1;
    CHECK_MSG(wordpiece_vocab_size(tok) == 30522, "vocab size %d", wordpiece_vocab_size(tok));
    CHECK_MSG(wordpiece_token_id(tok, "[CLS]") == 101 && wordpiece_pad_id(tok) == 0, "specials");

    json_error_t err;
    json_t *ref = json_load_file(cases_path, 0, &err);
    CHECK_MSG(ref != NULL, "%s: %s", cases_path, err.text);
    size_t i;
    json_t *c;
    int n_cases = 0;
    json_array_foreach(json_object_get(ref, "cases"), i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        size_t len = json_string_length(json_object_get(c, "text"));
        int32_t ids[1024], mask[16], type[16];
        char why[128];
        int n = 0, n_small = 0;
        rc = wordpiece_encode(tok, text, len, ids, 2, &n_small);
        rc = rc ? rc : wordpiece_encode(tok, text, len, ids, 1024, &n);
        CHECK_MSG(rc == MAMA_OK && n == n_small, "case %zu: rc %d n %d vs %d", i, rc, n, n_small);
        CHECK_MSG(ids_equal(json_object_get(c, "ids"), ids, n, why, sizeof why), "case %zu \"%.60s\": %s", i, text, why);
        rc = wordpiece_encode_padded(tok, text, 16, ids, mask, type, &n);
        CHECK_MSG(rc == MAMA_OK && ids_equal(json_object_get(c, "ids16"), ids, 16, why, sizeof why) &&
                  ids_equal(json_object_get(c, "mask16"), mask, 16, why, sizeof why) &&
                  ids_equal(json_object_get(c, "type16"), type, 16, why, sizeof why),
                  "case %zu padded \"%.60s\": %s", i, text, why);
        n_cases++;
    }
    CHECK_MSG(n_cases > 50, "only %d cases", n_cases);
    json_decref(ref);

    /* Invalid UTF-8 is dropped, never a crash; the valid parts still tokenise. */
    const char bad[] = "ok\xff\xfe \xc3 dense \xe2\x82";
    int32_t ids[64];
    int n = 0;
    rc = wordpiece_encode(tok, bad, sizeof bad - 1, ids, 64, &n);
    CHECK_MSG(rc == MAMA_OK && n == 4 && ids[1] == wordpiece_token_id(tok, "ok") &&
              ids[2] == wordpiece_token_id(tok, "dense"), "invalid utf-8: n %d", n);
    wordpiece_free(tok);

    /* A vocabulary without the BERT specials is refused with a clear message. */
    char tmp[256];
    snprintf(tmp, sizeof tmp, "/tmp/test_wordpiece_%d.txt", (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (f) { fputs("[PAD]\nhello\n", f); fclose(f); }
    CHECK_MSG(wordpiece_load(tmp, NULL, &tok) == MAMA_EFORMAT && strstr(mama_last_error(), "[UNK]"),
              "missing specials: %s", mama_last_error());
    unlink(tmp);
    CHECK_MSG(wordpiece_load("/nonexistent/vocab.txt", NULL, &tok) == MAMA_EIO, "missing file");

    return check_done("wordpiece");
}
