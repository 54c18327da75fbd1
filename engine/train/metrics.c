/* metrics.c: evaluation metrics and their bootstrap intervals (definitions in metrics.h). */
#include "engine/train/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/rng.h"

typedef struct scored {
    double s;
    unsigned char pos;
} scored;

static int by_score_desc(const void *a, const void *b) {
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x < y) - (x > y);
}

/* Sorted copy (descending score); NULL when out of memory. */
static scored *sorted_desc(const double *score, const unsigned char *pos, int n) {
    scored *v = malloc((size_t)n * sizeof *v);
    if (!v) return NULL;
    for (int i = 0; i < n; i++) v[i].s = score[i], v[i].pos = pos[i] != 0;
    qsort(v, (size_t)n, sizeof *v, by_score_desc);
    return v;
}

/* Mann-Whitney: for every positive, the negatives below it, ties counted 1/2. Walking the
 * scores from the top, each run of equal scores adds (negatives in the run) * (positives
 * seen before it) + 1/2 (negatives in the run) * (positives in it). */
double metrics_auc(const double *score, const unsigned char *pos, int n) {
    scored *v = sorted_desc(score, pos, n);
    if (!v) return NAN;
    double npos = 0, nneg = 0, wins = 0;
    for (int i = 0; i < n;) {
        int j = i;
        double rp = 0, rn = 0;
        while (j < n && v[j].s == v[i].s) {
            if (v[j].pos) rp++;
            else rn++;
            j++;
        }
        wins += rn * npos + 0.5 * rn * rp;
        npos += rp, nneg += rn;
        i = j;
    }
    free(v);
    if (npos == 0 || nneg == 0) return NAN;
    return wins / (npos * nneg);
}

int metrics_roc(const double *score, const unsigned char *pos, int n, double *fpr, double *tpr) {
    scored *v = sorted_desc(score, pos, n);
    if (!v) return 0;
    double npos = 0, nneg = 0;
    for (int i = 0; i < n; i++) npos += v[i].pos, nneg += !v[i].pos;
    int m = 0;
    if (npos > 0 && nneg > 0) {
        double tp = 0, fp = 0;
        fpr[m] = 0, tpr[m] = 0, m++;
        for (int i = 0; i < n;) {
            int j = i;
            while (j < n && v[j].s == v[i].s) {
                if (v[j].pos) tp++;
                else fp++;
                j++;
            }
            fpr[m] = fp / nneg, tpr[m] = tp / npos, m++;
            i = j;
        }
    }
    free(v);
    return m;
}

/* AUC of prob[:, c] for "class c vs the rest"; NaN when c is absent or alone. */
static double auc_of_class(const int *y, const float *prob, int n, int K, int c, double *s,
                           unsigned char *pos) {
    for (int i = 0; i < n; i++) s[i] = prob[(size_t)i * K + c], pos[i] = y[i] == c;
    return metrics_auc(s, pos, n);
}

double metrics_auc_ovr(const int *y, const float *prob, int n, int K) {
    double *s = malloc((size_t)n * sizeof *s);
    unsigned char *pos = malloc((size_t)n);
    double sum = 0;
    int used = 0;
    if (s && pos) {
        if (K == 2) { /* binary: the AUC of the positive class alone */
            sum = auc_of_class(y, prob, n, K, 1, s, pos);
            used = !isnan(sum);
        } else {
            for (int c = 0; c < K; c++) {
                double a = auc_of_class(y, prob, n, K, c, s, pos);
                if (isnan(a)) continue; /* absent class: not part of the macro mean */
                sum += a;
                used++;
            }
        }
    }
    free(s);
    free(pos);
    return used ? sum / used : NAN;
}

double metrics_balanced_accuracy(const int *y, const int *pred, int n, int K) {
    int64_t support[METRICS_MAX_CLASSES] = {0}, hit[METRICS_MAX_CLASSES] = {0};
    for (int i = 0; i < n; i++) {
        support[y[i]]++;
        hit[y[i]] += pred[i] == y[i];
    }
    double sum = 0;
    int present = 0;
    for (int c = 0; c < K; c++)
        if (support[c]) sum += (double)hit[c] / (double)support[c], present++;
    return present ? sum / present : NAN;
}

static int argmax_row(const float *row, int K) {
    int best = 0;
    for (int c = 1; c < K; c++)
        if (row[c] > row[best]) best = c;
    return best;
}

static double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

static void binary_metrics(metrics_binary *b, const int64_t conf[METRICS_MAX_CLASSES][METRICS_MAX_CLASSES],
                           const int *y, const float *prob, int n) {
    double tn = (double)conf[0][0], fp = (double)conf[0][1], fn = (double)conf[1][0], tp = (double)conf[1][1];
    b->sensitivity = ratio(tp, tp + fn);
    b->specificity = ratio(tn, tn + fp);
    b->ppv = ratio(tp, tp + fp);
    b->npv = ratio(tn, tn + fn);
    b->f1 = ratio(2 * tp, 2 * tp + fp + fn);
    double ptp = 0, psum = 0, npos = 0;
    for (int i = 0; i < n; i++) {
        double p = prob[(size_t)i * 2 + 1];
        ptp += p * (y[i] == 1), psum += p, npos += y[i] == 1;
    }
    double pp = ratio(ptp, psum), pr = ratio(ptp, npos);
    b->prob_f1 = ratio(2 * pp * pr, pp + pr);
    b->spec_at_sens80 = NAN;
    double *s = malloc((size_t)n * sizeof *s), *fpr = malloc(((size_t)n + 1) * sizeof *fpr),
           *tpr = malloc(((size_t)n + 1) * sizeof *tpr);
    unsigned char *pos = malloc((size_t)n);
    if (s && fpr && tpr && pos) {
        for (int i = 0; i < n; i++) s[i] = prob[(size_t)i * 2 + 1], pos[i] = y[i] == 1;
        int m = metrics_roc(s, pos, n, fpr, tpr);
        for (int k = 0; k < m; k++)
            if (tpr[k] >= 0.8 && (isnan(b->spec_at_sens80) || 1 - fpr[k] > b->spec_at_sens80))
                b->spec_at_sens80 = 1 - fpr[k];
    }
    free(s), free(fpr), free(tpr), free(pos);
}

/* numpy.percentile(v, q) with linear interpolation; v sorted ascending, m >= 1. */
static double percentile(const double *v, int m, double q) {
    double x = q / 100.0 * (m - 1);
    int lo = (int)floor(x);
    if (lo >= m - 1) return v[m - 1];
    double f = x - lo;
    return v[lo] + (v[lo + 1] - v[lo]) * f;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void interval(metrics_ci *ci, double *vals, int m) {
    ci->n_defined = m;
    ci->lo = ci->hi = NAN;
    if (m == 0) return;
    qsort(vals, (size_t)m, sizeof *vals, cmp_double);
    ci->lo = percentile(vals, m, 2.5);
    ci->hi = percentile(vals, m, 97.5);
}

static mama_status bootstrap(metrics_result *out, const int *y, const float *prob, const int *pred,
                             int n, int K, int n_boot, uint64_t seed) {
    int *yb = malloc((size_t)n * sizeof *yb), *pb = malloc((size_t)n * sizeof *pb);
    float *qb = malloc((size_t)n * K * sizeof *qb);
    double *ba = malloc((size_t)n_boot * sizeof *ba), *auc = malloc((size_t)n_boot * sizeof *auc);
    mama_status rc = MAMA_OK;
    if (!yb || !pb || !qb || !ba || !auc) {
        rc = mama_errorf(MAMA_ENOMEM, "metrics: no memory for %d bootstrap resamples of %d samples", n_boot, n);
        goto done;
    }
    mama_rng rng;
    mama_rng_seed(&rng, seed);
    int mba = 0, mauc = 0;
    for (int b = 0; b < n_boot; b++) {
        for (int i = 0; i < n; i++) {
            int j = (int)mama_rng_below(&rng, (uint64_t)n);
            yb[i] = y[j], pb[i] = pred[j];
            memcpy(qb + (size_t)i * K, prob + (size_t)j * K, (size_t)K * sizeof *qb);
        }
        double v = metrics_balanced_accuracy(yb, pb, n, K);
        if (!isnan(v)) ba[mba++] = v;
        v = metrics_auc_ovr(yb, qb, n, K);
        if (!isnan(v)) auc[mauc++] = v;
    }
    interval(&out->balanced_accuracy, ba, mba);
    interval(&out->auc, auc, mauc);
done:
    free(yb), free(pb), free(qb), free(ba), free(auc);
    return rc;
}

static mama_status check_inputs(const int *y, const float *prob, int n, int K, int n_boot) {
    if (n < 1 || K < 2 || K > METRICS_MAX_CLASSES || n_boot < 0)
        return mama_errorf(MAMA_EINVAL, "metrics: need n >= 1 (got %d), 2 <= K <= %d (got %d), n_boot >= 0",
                           n, METRICS_MAX_CLASSES, K);
    for (int i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= K)
            return mama_errorf(MAMA_EINVAL, "metrics: sample %d has label %d outside 0..%d", i, y[i], K - 1);
        for (int c = 0; c < K; c++)
            if (!isfinite(prob[(size_t)i * K + c]))
                return mama_errorf(MAMA_EINVAL, "metrics: sample %d has a non-finite probability for class %d", i, c);
    }
    return MAMA_OK;
}

mama_status metrics_evaluate(metrics_result *out, const int *y, const float *prob, int n, int K,
                             int n_boot, uint64_t seed) {
    mama_status rc = check_inputs(y, prob, n, K, n_boot);
    if (rc != MAMA_OK) return rc;
    memset(out, 0, sizeof *out);
    out->n = n, out->K = K;
    int *pred = malloc((size_t)n * sizeof *pred);
    if (!pred) return mama_errorf(MAMA_ENOMEM, "metrics: no memory for %d predictions", n);
    int64_t correct = 0;
    for (int i = 0; i < n; i++) {
        pred[i] = argmax_row(prob + (size_t)i * K, K);
        out->confusion[y[i]][pred[i]]++;
        correct += pred[i] == y[i];
    }
    out->accuracy = (double)correct / n;
    out->balanced_accuracy.value = metrics_balanced_accuracy(y, pred, n, K);
    out->auc.value = metrics_auc_ovr(y, prob, n, K);
    out->balanced_accuracy.lo = out->balanced_accuracy.hi = NAN;
    out->auc.lo = out->auc.hi = NAN;
    if (K == 2) {
        out->has_binary = 1;
        binary_metrics(&out->bin, out->confusion, y, prob, n);
    }
    if (n_boot > 0) rc = bootstrap(out, y, prob, pred, n, K, n_boot, seed);
    free(pred);
    return rc;
}
