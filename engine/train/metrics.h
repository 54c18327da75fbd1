/* metrics.h: the evaluation numbers a radiologist asks for (MAMA_METHOD.md section 9),
 * from true labels y (n, values 0..K-1) and class probabilities prob (n, K) row-major.
 * The prediction of a sample is the argmax of its row (the lower class on ties).
 *
 * Definitions (the tests compare them with scikit-learn on committed references):
 * - confusion[t][p]: samples of true class t predicted p.
 * - accuracy: trace / n.
 * - balanced accuracy: mean recall over the classes present in y (sklearn's
 *   balanced_accuracy_score; a class with no true sample does not count).
 * - AUC of one class: the Mann-Whitney statistic with tied scores counted 1/2 (equal to
 *   sklearn's roc_auc_score). Macro one-vs-rest AUC: the mean over the classes present in y
 *   of the AUC of prob[:, c] for "class c vs the rest" (sklearn's multi_class="ovr",
 *   average="macro" when every class is present); K = 2: the AUC of prob[:, 1].
 *   Undefined (NaN) when y holds a single class.
 * - binary (K = 2, class 1 = positive): sensitivity TP/(TP+FN), specificity TN/(TN+FP),
 *   PPV TP/(TP+FP), NPV TN/(TN+FN), F1 2TP/(2TP+FP+FN), probabilistic F1 (the RSNA
 *   challenge's: precision sum(p y)/sum(p), recall sum(p y)/sum(y), p = prob[:, 1]), and
 *   specificity at 80% sensitivity: the largest 1 - FPR over the ROC points with
 *   TPR >= 0.8. A ratio with a zero denominator is NaN (reported as undefined, never 0).
 * - bootstrap 95% intervals of balanced accuracy and AUC: n_boot resamples of n indices
 *   drawn with replacement by mama_rng_below from mama_rng_seed(seed); a resample where
 *   the statistic is undefined is left out (counted); the interval is the 2.5 and 97.5
 *   percentiles with linear interpolation (numpy's default) of the defined values. */
#ifndef MAMA_METRICS_H
#define MAMA_METRICS_H

#include <stdint.h>

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define METRICS_MAX_CLASSES 16

typedef struct metrics_ci {
    double value, lo, hi;  /* lo/hi NaN when no resample was defined (or n_boot = 0) */
    int n_defined;         /* resamples where the statistic was defined */
} metrics_ci;

typedef struct metrics_binary {
    double sensitivity, specificity, ppv, npv, f1, prob_f1, spec_at_sens80;
} metrics_binary;

typedef struct metrics_result {
    int n, K;
    int64_t confusion[METRICS_MAX_CLASSES][METRICS_MAX_CLASSES];
    double accuracy;
    metrics_ci balanced_accuracy;
    metrics_ci auc;            /* macro one-vs-rest; K = 2: AUC of class 1 */
    int has_binary;            /* K == 2 */
    metrics_binary bin;
} metrics_result;

/* Everything above for one task. y values outside 0..K-1, K outside 2..16, n < 1 or a
 * non-finite probability: MAMA_EINVAL naming the sample. n_boot 0: no intervals. */
mama_status metrics_evaluate(metrics_result *out, const int *y, const float *prob, int n, int K,
                             int n_boot, uint64_t seed);

/* The pieces, for callers that need one of them. */
double metrics_balanced_accuracy(const int *y, const int *pred, int n, int K);
/* AUC of score for positives (pos[i] != 0); NaN when either group is empty. */
double metrics_auc(const double *score, const unsigned char *pos, int n);
double metrics_auc_ovr(const int *y, const float *prob, int n, int K);

/* ROC curve of score against pos: one point per distinct score, descending threshold,
 * after a first point (0, 0). fpr/tpr get up to n + 1 values; the count is returned
 * (0 when either group is empty). For the report's PNGs. */
int metrics_roc(const double *score, const unsigned char *pos, int n, double *fpr, double *tpr);

#ifdef __cplusplus
}
#endif
#endif
