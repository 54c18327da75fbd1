/* prompts.c: class prompts of a task, tokenised; see prompts.h. */
#include "engine/text/prompts.h"

#include <stdlib.h>
#include <string.h>

void prompts_free(prompt_set *p) {
    if (!p) return;
    if (p->texts)
        for (int k = 0; k < p->K; k++) free(p->texts[k]);
    free(p->texts);
    free(p->ids);
    free(p->mask);
    free(p->type_ids);
    free(p->n_tokens);
    memset(p, 0, sizeof *p);
}

mama_status prompts_build(prompt_set *out, report_task task, bpe_tokenizer *bpe,
                          const wordpiece_tokenizer *wp, int T) {
    memset(out, 0, sizeof *out);
    int K = report_task_classes(task);
    if (K <= 0 || T < 2 || (!bpe && !wp))
        return mama_errorf(MAMA_EINVAL, "prompts_build: bad task %d, length %d or no tokenizer", (int)task, T);
    out->task = task;
    out->K = K;
    out->T = T;
    out->texts = calloc((size_t)K, sizeof *out->texts);
    out->ids = malloc((size_t)K * T * sizeof *out->ids);
    out->mask = malloc((size_t)K * T * sizeof *out->mask);
    out->type_ids = calloc((size_t)K * T, sizeof *out->type_ids);
    out->n_tokens = calloc((size_t)K, sizeof *out->n_tokens);
    int32_t *probe = NULL;
    mama_status rc = MAMA_OK;
    if (!out->texts || !out->ids || !out->mask || !out->type_ids || !out->n_tokens)
        rc = mama_errorf(MAMA_ENOMEM, "prompts: out of memory");
    for (int k = 0; k < K && !rc; k++) {
        rc = report_class_prompt(task, k, NULL, NULL, &out->texts[k]);
        if (rc) break;
        int32_t *ids = out->ids + (size_t)k * T, *m32 = out->mask + (size_t)k * T;
        int n = 0, full = 0;
        if (bpe) {
            rc = bpe_encode_caption(bpe, out->texts[k], T, ids, m32, &n);
            /* the untruncated length: one more slot shows whether it was cut */
            if (!rc && n == T) {
                probe = realloc(probe, (size_t)(T + 1) * 2 * sizeof *probe);
                if (!probe) { rc = mama_errorf(MAMA_ENOMEM, "prompts: out of memory"); break; }
                rc = bpe_encode_caption(bpe, out->texts[k], T + 1, probe, probe + T + 1, &full);
            }
        } else {
            rc = wordpiece_encode_padded(wp, out->texts[k], T, ids, m32, out->type_ids + (size_t)k * T, &n);
            if (!rc && n == T) {
                probe = realloc(probe, (size_t)(T + 1) * 3 * sizeof *probe);
                if (!probe) { rc = mama_errorf(MAMA_ENOMEM, "prompts: out of memory"); break; }
                rc = wordpiece_encode_padded(wp, out->texts[k], T + 1, probe, probe + T + 1,
                                             probe + 2 * (T + 1), &full);
            }
        }
        if (!rc && full > T)
            rc = mama_errorf(MAMA_EINVAL, "the %s prompt of class %s needs more than %d tokens: "
                             "raise the prompt length", report_task_name(task),
                             report_class_name(task, k), T);
        out->n_tokens[k] = n;
    }
    free(probe);
    if (rc) prompts_free(out);
    return rc;
}
