/* linear_probe.h: a linear head Linear(D -> K) trained on frozen features (the linear
 * probe of MAMA_METHOD.md section 9): cross-entropy, SGD with momentum (PyTorch's rule:
 * buf = g on the first step, then buf = momentum * buf + g; w -= lr * buf), weight decay
 * on the weights only (never the bias), linear warm-up from 0 then cosine to lr_min,
 * class-balanced sampling (a class uniformly among those present, then a sample of it
 * uniformly), trained on a seeded, per-class stratified fraction of the training set.
 *
 * Legend: n samples, D feature width, K classes, B batch. X (n, D) row-major; W (K, D)
 * nn.Linear layout, b (K). Everything seeded; the same inputs give the same bits. */
#ifndef MAMA_LINEAR_PROBE_H
#define MAMA_LINEAR_PROBE_H

#include <stdint.h>

#include "engine/core/ptable.h"
#include "engine/core/rng.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lp_config {
    int steps, warmup_steps, batch;
    double lr, lr_min, weight_decay, momentum;
    double fraction;   /* of the training samples, per class stratified, at least 1 per class */
    uint64_t seed;
} lp_config;

/* The paper's: 8000 steps, 100 warm-up, lr 5e-4 -> 1e-5 cosine, wd 1e-3, momentum 0.9,
 * batch 64, fraction 1. */
void lp_config_default(lp_config *c);

/* Learning rate at step s (0-based): lr (s+1)/warmup during warm-up, then
 * lr_min + (lr - lr_min) (1 + cos(pi t)) / 2 with t = (s - warmup) / (steps - warmup). */
double lp_lr_at(const lp_config *c, int step);

/* Pointers into one block of the head's table {w (K, D), b (K)}. */
typedef struct lp_params {
    float *w, *b;
} lp_params;

/* The head and its optimiser state: parameters, gradients and momentum are three blocks
 * of one ptable (engine/core/ptable.h), so a checkpoint stores them by name. */
typedef struct lp_head {
    int D, K;
    ptable table;
    void *params_block, *grads_block, *momentum_block;
    float *w, *b;         /* (K, D), (K): the parameters */
    lp_params grad, mom;
    float *logits, *dlogits; /* (B, K) scratch, sized for batch */
    float *xb;            /* (B, D) gathered batch */
    int batch;
    int64_t step;         /* steps taken (0: momentum not yet started) */
} lp_head;

/* Zero weights (the convex problem needs no random start; zero keeps runs comparable). */
mama_status lp_head_create(lp_head *h, int D, int K, int batch);
void lp_head_free(lp_head *h);

/* One SGD step on the samples idx[0..B) at learning rate lr; *out_loss the batch's mean
 * cross-entropy before the update. B <= the batch given at creation. */
mama_status lp_step(lp_head *h, const float *X, const int *y, const int *idx, int B, double lr,
                    double weight_decay, double momentum, double *out_loss);

/* Seeded stratified subset: of each class, round(fraction * count) samples (at least 1),
 * chosen by a seeded shuffle; out_idx gets the chosen indices in increasing order,
 * *out_n their count. Samples with y < 0 (unknown label) are never chosen. */
mama_status lp_subset(const int *y, int n, int K, double fraction, uint64_t seed, int *out_idx,
                      int *out_n);

/* Class-balanced draw of B indices from idx[0..m) (their labels y[idx[j]]). */
void lp_sample_balanced(mama_rng *rng, const int *y, const int *idx, int m, int K, int *out, int B);

/* Trains h on X/y restricted to lp_subset(c->fraction); *out_final_loss: the last step's. */
mama_status lp_train(lp_head *h, const float *X, const int *y, int n, const lp_config *c,
                     double *out_final_loss);

/* probs (n, K) = softmax(X W^T + b). */
void lp_predict(const lp_head *h, const float *X, int n, float *probs);

#ifdef __cplusplus
}
#endif
#endif
