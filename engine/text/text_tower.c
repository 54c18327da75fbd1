/* text_tower.c: pooled and projected caption features from either text tower (see
 * text_tower.h). GPT-2 runs in inference mode here (no activations kept for backward). */
#include "engine/text/text_tower.h"

#include <stdlib.h>

#include "engine/text/text_pool.h"

int text_tower_width(const text_tower *t) {
    return t->gpt2 ? t->gpt2->cfg.n_embd : t->bert ? t->bert->cfg.hidden : 0;
}

mama_status text_tower_pooled(text_tower *t, float *out, const int32_t *ids,
                              const int32_t *mask, int B, int T) {
    if (!t->gpt2 == !t->bert)
        return mama_errorf(MAMA_EINVAL, "text tower: set exactly one of gpt2 / bert");
    if (B <= 0 || T <= 0) return mama_errorf(MAMA_EINVAL, "text tower: empty batch");
    size_t N = (size_t)B * T;
    float *fmask = malloc(N * sizeof(float));
    int *iids = malloc(N * sizeof(int));
    if (!fmask || !iids) {
        free(fmask); free(iids);
        return mama_errorf(MAMA_ENOMEM, "text tower: out of memory for %zu tokens", N);
    }
    for (size_t i = 0; i < N; i++) {
        fmask[i] = mask ? (mask[i] != 0) : 1.0f;
        iids[i] = ids[i];
    }
    mama_status rc;
    const float *feat;
    int C = text_tower_width(t);
    if (t->gpt2) {
        gpt2_set_inference(t->gpt2, 1);
        rc = gpt2_forward(t->gpt2, iids, fmask, B, T);
        feat = t->gpt2->acts.lnf;
    } else {
        rc = bert_forward(t->bert, iids, NULL, fmask, B, T);
        feat = t->bert->hidden;
    }
    if (rc == MAMA_OK) {
        if (t->pooling == TEXT_POOL_CLS) text_cls_pool_forward(out, feat, B, T, C);
        else rc = text_mean_pool_forward(out, feat, fmask, B, T, C);
    }
    free(fmask);
    free(iids);
    return rc;
}

mama_status text_tower_embed(text_tower *t, float *out, const int32_t *ids,
                             const int32_t *mask, int B, int T, const float *proj_w,
                             const float *proj_b, int E) {
    int C = text_tower_width(t);
    if (!proj_w || E <= 0) return mama_errorf(MAMA_EINVAL, "text tower: no projection given");
    float *pooled = malloc((size_t)B * (C > 0 ? C : 1) * sizeof(float));
    if (!pooled) return mama_errorf(MAMA_ENOMEM, "text tower: out of memory");
    mama_status rc = text_tower_pooled(t, pooled, ids, mask, B, T);
    if (rc == MAMA_OK) text_projection_forward(out, NULL, pooled, proj_w, proj_b, B, C, E);
    free(pooled);
    return rc;
}
