/* text_bf16.c: the text towers' bf16 weight copies (gpt2_set_precision, bert_set_precision):
 * the four block matrices of each layer, rounded once (bf16_copies.h). */
#include "engine/core/bf16_copies.h"
#include "engine/text/bert.h"
#include "engine/text/gpt2.h"

/* Drops the copies; 1 when p asks for new ones, 0 for fp32, -1 (error set) otherwise. */
static int want_copies(ptable *t, void **block, mama_precision p, const char *op) {
    bf16_copies_free(t, block);
    if (p == MAMA_PREC_FP32) return 0;
    if (p == MAMA_PREC_BF16) return 1;
    mama_errorf(MAMA_EINVAL, "%s: pass fp32 or bf16 (resolve auto with gemm_precision_resolve "
                "first)", op);
    return -1;
}

mama_status gpt2_set_precision(gpt2_model *m, mama_precision p) {
    if (!m) return mama_errorf(MAMA_EINVAL, "gpt2_set_precision: NULL model");
    m->w16 = (gpt2_weights16){0};
    int w = want_copies(&m->w16tab, &m->w16_memory, p, "gpt2_set_precision");
    if (w <= 0) return w < 0 ? MAMA_EINVAL : MAMA_OK;
    int64_t C = m->cfg.n_embd, L = m->cfg.n_layer, F = m->cfg.n_inner;
    const gpt2_params *q = &m->params;
    const bf16_src src[] = {
        {"qkvw", PTABLE_SLOT(gpt2_weights16, qkvw), q->qkvw, L * C * 3 * C},
        {"attprojw", PTABLE_SLOT(gpt2_weights16, attprojw), q->attprojw, L * C * C},
        {"fcw", PTABLE_SLOT(gpt2_weights16, fcw), q->fcw, L * C * F},
        {"fcprojw", PTABLE_SLOT(gpt2_weights16, fcprojw), q->fcprojw, L * F * C},
    };
    mama_status rc = bf16_copies_make(&m->w16tab, &m->w16_memory, &m->w16, src, 4,
                                      "gpt2_set_precision");
    if (rc != MAMA_OK) m->w16 = (gpt2_weights16){0};
    return rc;
}

mama_status bert_set_precision(bert_model *m, mama_precision p) {
    if (!m) return mama_errorf(MAMA_EINVAL, "bert_set_precision: NULL model");
    m->w16 = (bert_weights16){0};
    int w = want_copies(&m->w16tab, &m->w16_memory, p, "bert_set_precision");
    if (w <= 0) return w < 0 ? MAMA_EINVAL : MAMA_OK;
    int64_t C = m->cfg.hidden, L = m->cfg.n_layer, F = m->cfg.intermediate;
    const bert_params *q = &m->params;
    const bf16_src src[] = {
        {"qkvw", PTABLE_SLOT(bert_weights16, qkvw), q->qkvw, L * 3 * C * C},
        {"attow", PTABLE_SLOT(bert_weights16, attow), q->attow, L * C * C},
        {"fcw", PTABLE_SLOT(bert_weights16, fcw), q->fcw, L * F * C},
        {"projw", PTABLE_SLOT(bert_weights16, projw), q->projw, L * C * F},
    };
    mama_status rc = bf16_copies_make(&m->w16tab, &m->w16_memory, &m->w16, src, 4,
                                      "bert_set_precision");
    if (rc != MAMA_OK) m->w16 = (bert_weights16){0};
    return rc;
}
