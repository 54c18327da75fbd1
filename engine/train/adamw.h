/* adamw.h: the optimiser: AdamW with decoupled weight decay over fp32 master weights and
 * fp32 moments, global-norm gradient clipping and the learning-rate schedule
 * (MAMA_METHOD.md section 8).
 *
 * Legend: n elements of a tensor, t a tensor's own update count.
 *
 * Tensors are registered from the towers' and heads' parameter tables (adamw_add_table:
 * the two moment blocks are two more blocks of the same table) or one by one. The update
 * is torch.optim.AdamW's (foreach=False) per element:
 *   p -= lr * wd * p                         (only where decay is on)
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * t counts a tensor's own updates: a tensor frozen for some steps (MaMA's local heads
 * before late_step; PyTorch skips parameters whose grad is None) starts its bias
 * correction at 1 when it thaws, as PyTorch's per-parameter state does. Frozen tensors are
 * not touched at all: no decay, no moment update. */
#ifndef MAMA_ADAMW_H
#define MAMA_ADAMW_H

#include <stddef.h>

#include "engine/core/ptable.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct adamw_config {
    float beta1, beta2, eps, weight_decay;
} adamw_config;

/* betas (0.9, 0.999), eps 1e-8, weight decay 0.1 (the paper's). */
adamw_config adamw_config_default(void);

typedef struct adamw_tensor {
    char name[96];
    float *param, *grad, *m, *v;
    size_t n;
    int decay;     /* 1: decoupled weight decay applies */
    int frozen;    /* 1: skipped by clipping, checks and updates */
    long t;        /* updates done */
} adamw_tensor;

typedef struct adamw {
    adamw_config cfg;
    adamw_tensor *t;
    int n, cap;
    void **blocks;   /* moment blocks owned by the optimiser */
    int nblocks, capblocks;
} adamw;

void adamw_init(adamw *o, const adamw_config *cfg);
void adamw_free(adamw *o);

/* Registers every non-empty entry of table tab, named prefix + entry name, with its
 * parameters in params_block and gradients in grads_block (blocks of tab); allocates two
 * zeroed moment blocks of tab. decay(name) says whether an entry decays (NULL: none do). */
mama_status adamw_add_table(adamw *o, const ptable *tab, void *params_block, void *grads_block,
                            const char *prefix, int (*decay)(const char *name));
/* One tensor (moments allocated here). */
mama_status adamw_add(adamw *o, const char *name, float *param, float *grad, size_t n,
                      int decay);

/* Freezes (1) or thaws (0) every tensor whose name starts with prefix; returns how many. */
int adamw_set_frozen(adamw *o, const char *prefix, int frozen);
/* The tensor named name, or NULL. */
adamw_tensor *adamw_find(adamw *o, const char *name);

/* Index of the first unfrozen tensor with a NaN or inf gradient, -1 when all are finite. */
int adamw_first_nonfinite(const adamw *o);
/* L2 norm of all unfrozen gradients together (accumulated in double). */
double adamw_grad_norm(const adamw *o);
/* torch.nn.utils.clip_grad_norm_: scales the unfrozen gradients by
 * min(1, max_norm / (norm + 1e-6)); returns the norm before clipping. max_norm <= 0: no
 * clipping (the norm is still returned). */
double adamw_clip(adamw *o, double max_norm);
/* One update of every unfrozen tensor at learning rate lr. */
void adamw_update(adamw *o, float lr);
/* Zeroes every gradient (frozen ones too). */
void adamw_zero_grad(adamw *o);

/* The schedule: linear warm-up from base/warmup to base over `warmup` steps, then cosine
 * from base down to floor at step `total` (and floor afterwards):
 *   step < warmup:  base * (step + 1) / warmup                      (OpenCLIP's warm-up)
 *   else:           floor + (base - floor) * (1 + cos(pi * e / es)) / 2,
 *                   e = step - warmup, es = total - warmup. */
float lr_schedule(long step, float base, float floor, long warmup, long total);

#ifdef __cplusplus
}
#endif
#endif
