/* vit_bf16.c: the tower's bf16 weight copies (vit_set_precision, vit.h). One block from a
 * table of four bf16 entries, filled by rounding the fp32 matrices (nearest even) once;
 * the fp32 parameters stay the reference and the source of every later copy. */
#include <stdio.h>

#include "engine/core/dtype.h"
#include "engine/core/ptable.h"
#include "engine/vision/vit.h"

static void drop(vit_model *m) {
    ptable_block_free(m->w16_memory);
    m->w16_memory = NULL;
    ptable_free(&m->w16tab);
    m->w16 = (vit_weights16){0};
}

mama_status vit_set_precision(vit_model *m, mama_precision p) {
    if (!m) return mama_errorf(MAMA_EINVAL, "vit_set_precision: NULL model");
    drop(m);
    if (p == MAMA_PREC_FP32) return MAMA_OK;
    if (p != MAMA_PREC_BF16)
        return mama_errorf(MAMA_EINVAL, "vit_set_precision: pass fp32 or bf16 (resolve auto "
                           "with gemm_precision_resolve first)");
    int64_t C = m->cfg.width, L = m->cfg.depth, M = m->M;
    ptable_init(&m->w16tab);
#define W(field, ...) ptable_add(&m->w16tab, #field, MAMA_BF16, PTABLE_SLOT(vit_weights16, field), \
                                 PTABLE_SHAPE(__VA_ARGS__))
    W(qkvw, L, 3 * C, C);  W(attprojw, L, C, C);  W(fc1w, L, M, C);  W(fc2w, L, C, M);
#undef W
    mama_status rc = ptable_make(&m->w16tab, &m->w16_memory, &m->w16);
    if (rc != MAMA_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", mama_last_error());
        drop(m);
        return mama_errorf(rc, "vit_set_precision: bf16 weight copies (%.1f MB): %s",
                           (double)(L * (4 * C * C + 2 * M * C)) * 2 / 1e6, why);
    }
    const vit_params *w = &m->params;
    dtype_f32_to_bf16_n(m->w16.qkvw, w->qkvw, (size_t)(L * 3 * C * C));
    dtype_f32_to_bf16_n(m->w16.attprojw, w->attprojw, (size_t)(L * C * C));
    dtype_f32_to_bf16_n(m->w16.fc1w, w->fc1w, (size_t)(L * M * C));
    dtype_f32_to_bf16_n(m->w16.fc2w, w->fc2w, (size_t)(L * C * M));
    return MAMA_OK;
}

mama_precision vit_precision(const vit_model *m) {
    return m && m->w16_memory ? MAMA_PREC_BF16 : MAMA_PREC_FP32;
}
