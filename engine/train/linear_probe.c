/* linear_probe.c: the linear probe (see linear_probe.h). */
#include "engine/train/linear_probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/ops.h"

void lp_config_default(lp_config *c) {
    c->steps = 8000, c->warmup_steps = 100, c->batch = 64;
    c->lr = 5e-4, c->lr_min = 1e-5, c->weight_decay = 1e-3, c->momentum = 0.9;
    c->fraction = 1.0, c->seed = 0;
}

double lp_lr_at(const lp_config *c, int step) {
    if (step < c->warmup_steps) return c->lr * (step + 1) / c->warmup_steps;
    int span = c->steps - c->warmup_steps;
    double t = span > 0 ? (double)(step - c->warmup_steps) / span : 1.0;
    return c->lr_min + (c->lr - c->lr_min) * 0.5 * (1.0 + cos(M_PI * t));
}

mama_status lp_head_create(lp_head *h, int D, int K, int batch) {
    memset(h, 0, sizeof *h);
    if (D < 1 || K < 2 || batch < 1)
        return mama_errorf(MAMA_EINVAL, "linear probe: need D >= 1, K >= 2, batch >= 1 (got %d, %d, %d)", D, K, batch);
    h->D = D, h->K = K, h->batch = batch;
    ptable_init(&h->table);
    ptable_add(&h->table, "w", MAMA_F32, PTABLE_SLOT(lp_params, w), PTABLE_SHAPE(K, D));
    ptable_add(&h->table, "b", MAMA_F32, PTABLE_SLOT(lp_params, b), PTABLE_SHAPE(K));
    lp_params p;
    mama_status rc = ptable_make(&h->table, &h->params_block, &p);
    if (rc == MAMA_OK) rc = ptable_alloc(&h->table, &h->grads_block);
    if (rc == MAMA_OK) rc = ptable_alloc(&h->table, &h->momentum_block);
    if (rc != MAMA_OK) {
        lp_head_free(h);
        return rc;
    }
    h->w = p.w, h->b = p.b;
    ptable_point(&h->table, h->grads_block, &h->grad);
    ptable_point(&h->table, h->momentum_block, &h->mom);
    size_t bk = (size_t)batch * K;
    h->logits = calloc(bk, sizeof *h->logits), h->dlogits = calloc(bk, sizeof *h->dlogits);
    h->xb = calloc((size_t)batch * D, sizeof *h->xb);
    if (!h->logits || !h->dlogits || !h->xb) {
        lp_head_free(h);
        return mama_errorf(MAMA_ENOMEM, "linear probe: no memory for a %d x %d head", K, D);
    }
    return MAMA_OK;
}

void lp_head_free(lp_head *h) {
    ptable_block_free(h->params_block), ptable_block_free(h->grads_block), ptable_block_free(h->momentum_block);
    ptable_free(&h->table);
    free(h->logits), free(h->dlogits), free(h->xb);
    memset(h, 0, sizeof *h);
}

/* Softmax of one row in place; returns log-sum-exp for the loss. */
static double softmax_row(float *row, int K) {
    float mx = row[0];
    for (int k = 1; k < K; k++) mx = row[k] > mx ? row[k] : mx;
    double sum = 0;
    for (int k = 0; k < K; k++) sum += exp((double)row[k] - mx);
    double lse = mx + log(sum);
    for (int k = 0; k < K; k++) row[k] = (float)exp((double)row[k] - lse);
    return lse;
}

/* SGD with momentum on one tensor: buf = g (first step) or momentum * buf + g. */
static void sgd_update(float *p, float *buf, const float *g, size_t n, double lr, double wd,
                       double momentum, int first) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + (float)wd * p[i];
        buf[i] = first ? gi : (float)momentum * buf[i] + gi;
        p[i] -= (float)lr * buf[i];
    }
}

mama_status lp_step(lp_head *h, const float *X, const int *y, const int *idx, int B, double lr,
                    double weight_decay, double momentum, double *out_loss) {
    if (B < 1 || B > h->batch)
        return mama_errorf(MAMA_EINVAL, "linear probe: batch %d outside 1..%d", B, h->batch);
    int D = h->D, K = h->K;
    float *xb = h->xb, *gw = h->grad.w, *gb = h->grad.b;
    memset(h->grads_block, 0, h->table.bytes);
    for (int i = 0; i < B; i++) memcpy(xb + (size_t)i * D, X + (size_t)idx[i] * D, (size_t)D * sizeof *xb);
    linear_forward(h->logits, xb, h->w, h->b, B, D, K);
    double loss = 0;
    for (int i = 0; i < B; i++) {
        float *row = h->logits + (size_t)i * K;
        int t = y[idx[i]];
        double z = row[t];
        loss += softmax_row(row, K) - z;
        for (int k = 0; k < K; k++) h->dlogits[(size_t)i * K + k] = (row[k] - (k == t)) / (float)B;
    }
    linear_backward(NULL, gw, gb, h->dlogits, xb, h->w, B, D, K);
    int first = h->step == 0;
    sgd_update(h->w, h->mom.w, gw, (size_t)K * D, lr, weight_decay, momentum, first);
    sgd_update(h->b, h->mom.b, gb, (size_t)K, lr, 0.0, momentum, first);
    h->step++;
    if (out_loss) *out_loss = loss / B;
    return MAMA_OK;
}

mama_status lp_subset(const int *y, int n, int K, double fraction, uint64_t seed, int *out_idx,
                      int *out_n) {
    if (!(fraction > 0 && fraction <= 1))
        return mama_errorf(MAMA_EINVAL, "linear probe: data fraction %g outside (0, 1]", fraction);
    int *cls = malloc((size_t)n * sizeof *cls);
    unsigned char *take = calloc((size_t)n, 1);
    if (!cls || !take) {
        free(cls), free(take);
        return mama_errorf(MAMA_ENOMEM, "linear probe: no memory for a subset of %d", n);
    }
    mama_rng rng;
    mama_rng_seed(&rng, seed);
    for (int c = 0; c < K; c++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (y[i] == c) cls[m++] = i;
        if (!m) continue;
        int keep = (int)lround(fraction * m);
        if (keep < 1) keep = 1;
        for (int i = 0; i < keep; i++) { /* partial Fisher-Yates */
            int j = i + (int)mama_rng_below(&rng, (uint64_t)(m - i));
            int t = cls[i];
            cls[i] = cls[j], cls[j] = t;
            take[cls[i]] = 1;
        }
    }
    int k = 0;
    for (int i = 0; i < n; i++)
        if (take[i]) out_idx[k++] = i;
    *out_n = k;
    free(cls), free(take);
    return MAMA_OK;
}

void lp_sample_balanced(mama_rng *rng, const int *y, const int *idx, int m, int K, int *out, int B) {
    int count[64] = {0}, present[64], np = 0;
    for (int j = 0; j < m; j++) count[y[idx[j]]]++;
    for (int c = 0; c < K && c < 64; c++)
        if (count[c]) present[np++] = c;
    for (int i = 0; i < B; i++) {
        int c = present[mama_rng_below(rng, (uint64_t)np)];
        int r = (int)mama_rng_below(rng, (uint64_t)count[c]);
        for (int j = 0; j < m; j++) /* the r-th sample of class c (m is small: a linear scan) */
            if (y[idx[j]] == c && r-- == 0) {
                out[i] = idx[j];
                break;
            }
    }
}

mama_status lp_train(lp_head *h, const float *X, const int *y, int n, const lp_config *c,
                     double *out_final_loss) {
    if (h->K > 64) return mama_errorf(MAMA_EINVAL, "linear probe: at most 64 classes");
    int *sub = malloc((size_t)n * sizeof *sub), *batch = malloc((size_t)h->batch * sizeof *batch);
    mama_status rc = MAMA_OK;
    if (!sub || !batch) {
        rc = mama_errorf(MAMA_ENOMEM, "linear probe: no memory for %d samples", n);
        goto done;
    }
    int m = 0;
    rc = lp_subset(y, n, h->K, c->fraction, c->seed, sub, &m);
    if (rc != MAMA_OK) goto done;
    if (m == 0) {
        rc = mama_errorf(MAMA_EINVAL, "linear probe: no training sample has a known label");
        goto done;
    }
    mama_rng rng;
    mama_rng_seed(&rng, c->seed ^ 0x6c696e6561727072ULL); /* a stream apart from the subset's */
    double loss = NAN;
    for (int s = 0; s < c->steps && rc == MAMA_OK; s++) {
        int B = h->batch;
        lp_sample_balanced(&rng, y, sub, m, h->K, batch, B);
        rc = lp_step(h, X, y, batch, B, lp_lr_at(c, s), c->weight_decay, c->momentum, &loss);
    }
    if (out_final_loss) *out_final_loss = loss;
done:
    free(sub), free(batch);
    return rc;
}

void lp_predict(const lp_head *h, const float *X, int n, float *probs) {
    linear_forward(probs, X, h->w, h->b, n, h->D, h->K);
    for (int i = 0; i < n; i++) softmax_row(probs + (size_t)i * h->K, h->K);
}
