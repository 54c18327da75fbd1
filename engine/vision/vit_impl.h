/* vit_impl.h: what vit.c (forward) and vit_backward.c share and nobody else needs: the
 * per-block forward (run again by the backward when only block inputs were kept) and where
 * layer l's activations live in the activation block. Legend as in vit.h. */
#ifndef MAMA_VIT_IMPL_H
#define MAMA_VIT_IMPL_H

#include "engine/vision/vit.h"

/* Layer slot of block l's inner activations: l when every layer is kept, else 0. */
static inline int vit_slot(const vit_model *m, int l) {
    return m->keep_all == VIT_KEEP_ALL ? l : 0;
}
/* Block l's output (B,T,C): kept per layer unless in inference. */
static inline float *vit_block_out(const vit_model *m, int l) {
    size_t li = m->keep_all == VIT_KEEP_NONE ? 0 : (size_t)l;
    return m->acts.res2 + li * (size_t)m->B * m->T * m->cfg.width;
}
/* Block l's input: the embeddings for block 0, else block l-1's output. */
static inline const float *vit_block_in(const vit_model *m, int l) {
    return l == 0 ? m->acts.x0 : vit_block_out(m, l - 1);
}

mama_status vit_block_forward(vit_model *m, int l, const float *x);

#endif
