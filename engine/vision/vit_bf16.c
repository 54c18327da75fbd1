/* vit_bf16.c: the tower's bf16 weight copies (vit_set_precision, vit.h): the four block
 * matrices (all but about 0.1% of the FLOPs), rounded once (bf16_copies.h). */
#include "engine/core/bf16_copies.h"
#include "engine/vision/vit.h"

mama_status vit_set_precision(vit_model *m, mama_precision p) {
    if (!m) return mama_errorf(MAMA_EINVAL, "vit_set_precision: NULL model");
    bf16_copies_free(&m->w16tab, &m->w16_memory);
    m->w16 = (vit_weights16){0};
    if (p == MAMA_PREC_FP32) return MAMA_OK;
    if (p != MAMA_PREC_BF16)
        return mama_errorf(MAMA_EINVAL, "vit_set_precision: pass fp32 or bf16 (resolve auto "
                           "with gemm_precision_resolve first)");
    int64_t C = m->cfg.width, L = m->cfg.depth, M = m->M;
    const vit_params *w = &m->params;
    const bf16_src src[] = {
        {"qkvw", PTABLE_SLOT(vit_weights16, qkvw), w->qkvw, L * 3 * C * C},
        {"attprojw", PTABLE_SLOT(vit_weights16, attprojw), w->attprojw, L * C * C},
        {"fc1w", PTABLE_SLOT(vit_weights16, fc1w), w->fc1w, L * M * C},
        {"fc2w", PTABLE_SLOT(vit_weights16, fc2w), w->fc2w, L * C * M},
    };
    mama_status rc = bf16_copies_make(&m->w16tab, &m->w16_memory, &m->w16, src, 4,
                                      "vit_set_precision");
    if (rc != MAMA_OK) m->w16 = (vit_weights16){0};
    return rc;
}

mama_precision vit_precision(const vit_model *m) {
    return m && m->w16_memory ? MAMA_PREC_BF16 : MAMA_PREC_FP32;
}
