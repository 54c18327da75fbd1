/* wordpiece.h: BERT WordPiece tokenizer (BioClinicalBERT, MiniLM), equal to Hugging Face
 * tokenizers' BertNormalizer + BertPreTokenizer + WordPiece + [CLS]/[SEP] template.
 *
 * Normalisation (per code point, engine/unicode.h tables): drop NUL, U+FFFD and control
 * characters (other than tab/newline/CR, which become spaces like every other white space);
 * put spaces around CJK ideographs; strip accents (NFD, drop non-spacing marks) and
 * lowercase. Pre-tokenisation: split on white space, isolate each punctuation character.
 * WordPiece: greedy longest match with "##" continuations; a word longer than
 * max_chars_per_word characters, or with no match, becomes [UNK]. The special tokens
 * [PAD] [UNK] [CLS] [SEP] [MASK] written in the raw text are matched as themselves.
 * Bytes that are not valid UTF-8 are dropped (like U+FFFD). Stateless after loading:
 * safe to share between threads. */
#ifndef MAMA_WORDPIECE_H
#define MAMA_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wordpiece_options {
    int lowercase;           /* 1 for uncased models */
    int strip_accents;       /* 1, 0, or -1 = same as lowercase (BERT's default) */
    int chinese_chars;       /* 1: spaces around CJK ideographs */
    int max_chars_per_word;  /* 100 in BERT */
} wordpiece_options;

typedef struct wordpiece_tokenizer wordpiece_tokenizer;

/* Defaults of uncased BERT: lowercase, accents stripped, CJK spaced, 100 chars. */
wordpiece_options wordpiece_default_options(void);

/* vocab.txt: one token per line, the id is the line number (from 0). opt NULL: defaults.
 * The vocabulary must hold [PAD] [UNK] [CLS] [SEP] [MASK]. */
mama_status wordpiece_load(const char *vocab_txt_path, const wordpiece_options *opt,
                           wordpiece_tokenizer **out_tok);
void wordpiece_free(wordpiece_tokenizer *tok);

int wordpiece_vocab_size(const wordpiece_tokenizer *tok);
int32_t wordpiece_token_id(const wordpiece_tokenizer *tok, const char *token); /* -1 if absent */
int32_t wordpiece_pad_id(const wordpiece_tokenizer *tok);

/* [CLS] tokens [SEP], no truncation: writes at most cap ids (ids) and sets *out_n to the
 * full count (call again with a bigger buffer when it exceeds cap). */
mama_status wordpiece_encode(const wordpiece_tokenizer *tok, const char *text, size_t len,
                             int32_t *out_ids, int cap, int *out_n);

/* The model input of one text: [CLS] tokens [SEP], truncated (keeping [SEP] last) and
 * padded with [PAD] to max_len (>= 2). out_ids, out_mask (attention: 1 real, 0 pad),
 * out_type (token types, all 0; may be NULL): (max_len). *out_n (may be NULL): real
 * tokens. */
mama_status wordpiece_encode_padded(const wordpiece_tokenizer *tok, const char *text,
                                    int max_len, int32_t *out_ids, int32_t *out_mask,
                                    int32_t *out_type, int *out_n);

#ifdef __cplusplus
}
#endif
#endif
