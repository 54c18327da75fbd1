/* bpe.h: GPT-2 style byte-level BPE tokenizer (MAMA_METHOD.md section 2).
 *
 * Reads a Hugging Face tokenizer.json (model type BPE, ByteLevel pre-tokenizer, merges as
 * "a b" strings or ["a", "b"] pairs, added_tokens) or a vocab.json + merges.txt pair.
 * Pre-tokenisation is the GPT-2 pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * implemented by hand over UTF-8 (engine/unicode.h); bytes that are not valid UTF-8 are
 * still tokenised byte-level (as "other" characters), never rejected.
 *
 * MaMA special tokens: <|endoftext|>, bos <|startoftext|>, pad <|padtext|>,
 * mask <|masktext|>, sep <|separatetext|>, unk <|unknowntext|>. Those missing from the
 * file are appended in that order with ids max_id+1, max_id+2, ... (the text tower owns
 * embedding rows for them). They, and the file's added tokens, are recognised as whole
 * tokens when they appear in the text (as Hugging Face does for added tokens; their
 * lstrip/rstrip/single_word/normalized flags are not interpreted: GPT-2 style files leave
 * them false). Merges run over a candidate heap (lowest rank, leftmost first, as HF), so a
 * word of n bytes costs O(n log n) whatever its content.
 *
 * A tokenizer keeps a cache of word encodings: one tokenizer must not be used by two
 * threads at once (give each thread its own). */
#ifndef MAMA_BPE_H
#define MAMA_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bpe_tokenizer bpe_tokenizer;

/* Ids of the MaMA special tokens (always present after loading). */
typedef struct bpe_specials {
    int32_t eot, bos, pad, mask, sep, unk;
} bpe_specials;

#define BPE_MAMA_MAX_LEN 144 /* caption length of the paper */

mama_status bpe_load_json(const char *path, bpe_tokenizer **out_tok);
mama_status bpe_load_vocab_merges(const char *vocab_json_path, const char *merges_txt_path,
                                  bpe_tokenizer **out_tok);
void bpe_free(bpe_tokenizer *tok);

/* Number of ids (max id + 1, specials included). */
int bpe_vocab_size(const bpe_tokenizer *tok);
/* Id of a token string (byte-level form, e.g. "Ġthe"), -1 when absent. */
int32_t bpe_token_id(const bpe_tokenizer *tok, const char *token);
/* Token string of an id, NULL when out of range or unused. */
const char *bpe_token_str(const bpe_tokenizer *tok, int32_t id);
const bpe_specials *bpe_special_ids(const bpe_tokenizer *tok);
/* The lowest id the loader appended for a missing MaMA special, -1 when the file had them
 * all: the text tower's first trainable embedding row (gpt2_load_hf first_added_id). */
int32_t bpe_first_added_id(const bpe_tokenizer *tok);

/* Plain encoding, as Hugging Face `tokenizer.encode(text).ids` with no post-processor:
 * added/special tokens matched, the rest pre-tokenised and merged. Writes at most cap ids
 * to out_ids (ids), sets *out_n to the full count (which may exceed cap: call again with
 * a bigger buffer). */
mama_status bpe_encode(bpe_tokenizer *tok, const char *text, size_t len, int32_t *out_ids,
                       int cap, int *out_n);

/* MaMA caption encoding: every '.' and ';' becomes the sep token, BOS first, <|endoftext|>
 * last, truncated (keeping BOS and the final <|endoftext|>) and padded with pad to
 * max_len (>= 2). out_ids (max_len), out_mask (max_len): 1 for real tokens, 0 for
 * padding. *out_n (may be NULL): the number of real tokens. */
mama_status bpe_encode_caption(bpe_tokenizer *tok, const char *text, int max_len,
                               int32_t *out_ids, int32_t *out_mask, int *out_n);

#ifdef __cplusplus
}
#endif
#endif
