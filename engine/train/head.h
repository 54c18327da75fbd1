/* head.h: the projection heads of MaMA (MAMA_METHOD.md section 3), forward and backward.
 *
 * Legend: N rows (samples or tokens across the batch), I input width, Hd hidden width,
 * O output width.
 *
 * One head type covers them all:
 *   hidden == 0: a Linear I -> O (the global text projection; the image one is vit's
 *                proj_w);
 *   hidden > 0:  Linear I -> Hd, BatchNorm, ReLU, Linear Hd -> O, BatchNorm, per row:
 *     local heads:  bias = 1, last_affine = 0  (the last BatchNorm has no affine);
 *     SimCLR head:  bias = 0, last_affine = 1.
 * Outputs are NOT l2-normalised here (the losses normalise what they compare).
 * Parameters, gradients and optimiser moments are blocks of one ptable (names as the
 * head_params members); the BatchNorm running statistics are a block of a second table
 * (buffers: never trained, never decayed). Activations are a third table sized for the
 * largest N seen, grown before (never inside) a forward. */
#ifndef MAMA_HEAD_H
#define MAMA_HEAD_H

#include <stdint.h>

#include "engine/core/ptable.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct head_config {
    int in;           /* I */
    int hidden;       /* Hd; 0 = a single Linear */
    int out;          /* O */
    int bias;         /* 1: the Linear layers have biases */
    int last_affine;  /* 1: the second BatchNorm has weight and bias */
} head_config;

typedef struct head_params {
    float *w1, *b1;      /* (Hd or O, I), (Hd or O) */
    float *bn1w, *bn1b;  /* (Hd) */
    float *w2, *b2;      /* (O, Hd), (O) */
    float *bn2w, *bn2b;  /* (O) when last_affine */
} head_params;

typedef struct head_stats {
    float *rm1, *rv1;    /* (Hd) running mean / var of the first BatchNorm */
    float *rm2, *rv2;    /* (O) */
} head_stats;

typedef struct head_acts {
    float *h1;             /* (N, Hd or O) first Linear */
    float *mean1, *rstd1;  /* (Hd) */
    float *r1;             /* (N, Hd) ReLU(BN1(h1)) */
    float *h2;             /* (N, O) second Linear */
    float *mean2, *rstd2;  /* (O) */
    float *out;            /* (N, O) */
    float *d1, *dh1, *d2;  /* backward scratch (N, Hd), (N, Hd), (N, O) */
} head_acts;

typedef struct head {
    head_config cfg;
    ptable ptab;
    head_params params, grads;
    float *params_memory, *grads_memory;
    ptable stab;
    head_stats stats;
    float *stats_memory;
    ptable atab;
    head_acts acts;
    float *acts_memory;
    int capacity;      /* rows the activation block holds */
    int N, train;      /* last forward */
} head;

/* Allocates a head (parameters and gradients zeroed, running var 1). MAMA_EINVAL for bad
 * sizes, MAMA_ENOMEM. Free with head_free. */
mama_status head_create(const head_config *cfg, head **out);
void head_free(head *h);

/* PyTorch's default initialisation, seeded: Linear weight and bias U(-1/sqrt(in),
 * 1/sqrt(in)); BatchNorm weight 1, bias 0, running mean 0, running var 1. */
void head_init_random(head *h, uint64_t seed);

/* out = head(inp (N, I)) in h->acts.out (N, O). train = 1: BatchNorm with batch statistics
 * (updates the running ones; N >= 2), 0: with the running statistics. */
mama_status head_forward(head *h, const float *inp, int N, int train);

/* Backward of the last (train) forward from dout (N, O): ACCUMULATES into h->grads and
 * into dinp (N, I) when not NULL. MAMA_EINVAL after an eval forward. */
mama_status head_backward(head *h, float *dinp, const float *inp, const float *dout);

void head_zero_grad(head *h);

#ifdef __cplusplus
}
#endif
#endif
