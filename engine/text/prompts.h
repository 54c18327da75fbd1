/* prompts.h: the zero-shot class prompts of one task as text tower input
 * (MAMA_METHOD.md section 9): the texts of report_class_prompt (stored-model form: no
 * image at hand) tokenised for the GPT-2 (byte-level BPE, MaMA caption encoding) or the
 * BERT (WordPiece) tower.
 *
 * Legend: K classes of the task, T tokens per prompt. */
#ifndef MAMA_PROMPTS_H
#define MAMA_PROMPTS_H

#include <stdint.h>

#include "engine/text/bpe.h"
#include "engine/text/report.h"
#include "engine/core/status.h"
#include "engine/text/wordpiece.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct prompt_set {
    report_task task;
    int K, T;
    char **texts;       /* (K) prompt texts */
    int32_t *ids;       /* (K,T) token ids, padded */
    int32_t *mask;      /* (K,T) 1 real token, 0 padding */
    int32_t *type_ids;  /* (K,T) token types (all 0) */
    int *n_tokens;      /* (K) real tokens per prompt */
} prompt_set;

/* Builds the prompts of task with the BPE tokenizer (or, when bpe is NULL, the WordPiece
 * one) at T tokens per prompt (T >= 2; BPE_MAMA_MAX_LEN for the paper). A prompt longer
 * than T is an error (MAMA_EINVAL naming the task and class), never silently cut.
 * Free with prompts_free. */
mama_status prompts_build(prompt_set *out, report_task task, bpe_tokenizer *bpe,
                          const wordpiece_tokenizer *wp, int T);
void prompts_free(prompt_set *p);

#ifdef __cplusplus
}
#endif
#endif
