/* test_metrics.c: engine/train/metrics.c against scikit-learn on the cases of
 * tests/train/ref/metrics_ref.json (made by tools/reference/metrics_ref.py): confusion
 * matrix exact; accuracy, balanced accuracy, AUC (binary with ties, 4- and 7-class
 * one-vs-rest macro), ROC points, sensitivity, specificity, PPV, NPV, F1, probabilistic
 * F1, specificity at 80% sensitivity and the bootstrap interval bounds per value with
 * |got - ref| <= 1e-12 + 1e-9 |ref|; an undefined reference (None) must be NaN here.
 * Also: bad inputs are refused with a message naming the sample. */
#include <jansson.h>
#include <math.h>

#include "engine/train/metrics.h"
#include "tests/check.h"

#define ATOL 1e-12
#define RTOL 1e-9

static void close_or_undefined(const char *cs, const char *what, double got, json_t *ref) {
    if (!ref || json_is_null(ref)) {
        CHECK_MSG(isnan(got), "%s %s: %.17g, expected undefined (NaN)", cs, what, got);
        return;
    }
    double r = json_number_value(ref);
    CHECK_MSG(fabs(got - r) <= ATOL + RTOL * fabs(r), "%s %s: %.17g, sklearn %.17g", cs, what, got, r);
}

static void run_case(json_t *c) {
    const char *name = json_string_value(json_object_get(c, "name"));
    int n = (int)json_integer_value(json_object_get(c, "n"));
    int K = (int)json_integer_value(json_object_get(c, "K"));
    int n_boot = (int)json_integer_value(json_object_get(c, "n_boot"));
    uint64_t seed = (uint64_t)json_integer_value(json_object_get(c, "seed"));
    int *y = malloc((size_t)n * sizeof *y);
    float *prob = malloc((size_t)n * K * sizeof *prob);
    for (int i = 0; i < n; i++) y[i] = (int)json_integer_value(json_array_get(json_object_get(c, "y"), i));
    for (int i = 0; i < n * K; i++)
        prob[i] = (float)json_number_value(json_array_get(json_object_get(c, "prob"), i));

    metrics_result r;
    CHECK(metrics_evaluate(&r, y, prob, n, K, n_boot, seed) == MAMA_OK);
    json_t *conf = json_object_get(c, "confusion");
    int conf_ok = 1;
    for (int t = 0; t < K; t++)
        for (int p = 0; p < K; p++)
            conf_ok &= r.confusion[t][p] == json_integer_value(json_array_get(conf, (size_t)t * K + p));
    CHECK_MSG(conf_ok, "%s: confusion matrix differs from sklearn", name);
    close_or_undefined(name, "accuracy", r.accuracy, json_object_get(c, "accuracy"));
    close_or_undefined(name, "balanced accuracy", r.balanced_accuracy.value, json_object_get(c, "balanced_accuracy"));
    close_or_undefined(name, "auc", r.auc.value, json_object_get(c, "auc"));
    if (n_boot) {
        close_or_undefined(name, "bal. acc. 2.5%", r.balanced_accuracy.lo, json_object_get(c, "ba_lo"));
        close_or_undefined(name, "bal. acc. 97.5%", r.balanced_accuracy.hi, json_object_get(c, "ba_hi"));
        close_or_undefined(name, "auc 2.5%", r.auc.lo, json_object_get(c, "auc_lo"));
        close_or_undefined(name, "auc 97.5%", r.auc.hi, json_object_get(c, "auc_hi"));
        CHECK_MSG(r.auc.n_defined == json_integer_value(json_object_get(c, "auc_defined")),
                  "%s: %d resamples with a defined AUC", name, r.auc.n_defined);
        CHECK(r.balanced_accuracy.n_defined == n_boot);
    } else {
        CHECK(isnan(r.auc.lo) && isnan(r.balanced_accuracy.hi));
    }
    CHECK(r.has_binary == (K == 2));
    if (K == 2) {
        close_or_undefined(name, "sensitivity", r.bin.sensitivity, json_object_get(c, "sensitivity"));
        close_or_undefined(name, "specificity", r.bin.specificity, json_object_get(c, "specificity"));
        close_or_undefined(name, "ppv", r.bin.ppv, json_object_get(c, "ppv"));
        close_or_undefined(name, "npv", r.bin.npv, json_object_get(c, "npv"));
        close_or_undefined(name, "f1", r.bin.f1, json_object_get(c, "f1"));
        close_or_undefined(name, "prob. f1", r.bin.prob_f1, json_object_get(c, "prob_f1"));
        close_or_undefined(name, "spec@sens80", r.bin.spec_at_sens80, json_object_get(c, "spec_at_sens80"));
        /* ROC points */
        double *s = malloc((size_t)n * sizeof *s), *fpr = malloc(((size_t)n + 1) * sizeof *fpr),
               *tpr = malloc(((size_t)n + 1) * sizeof *tpr);
        unsigned char *pos = malloc((size_t)n);
        for (int i = 0; i < n; i++) s[i] = prob[2 * i + 1], pos[i] = y[i] == 1;
        int m = metrics_roc(s, pos, n, fpr, tpr);
        json_t *rf = json_object_get(c, "roc_fpr"), *rt = json_object_get(c, "roc_tpr");
        CHECK_MSG(m == (int)json_array_size(rf), "%s: %d ROC points, sklearn %zu", name, m, json_array_size(rf));
        for (int k = 0; k < m && k < (int)json_array_size(rf); k++) {
            close_or_undefined(name, "roc fpr", fpr[k], json_array_get(rf, k));
            close_or_undefined(name, "roc tpr", tpr[k], json_array_get(rt, k));
        }
        free(s), free(fpr), free(tpr), free(pos);
    }
    free(y);
    free(prob);
}

static void test_bad_inputs(void) {
    metrics_result r;
    int y[3] = {0, 1, 2};
    float p[6] = {0.9f, 0.1f, 0.2f, 0.8f, 0.5f, 0.5f};
    CHECK(metrics_evaluate(&r, y, p, 3, 2, 0, 0) == MAMA_EINVAL && strstr(mama_last_error(), "sample 2"));
    y[2] = 1;
    p[3] = NAN;
    CHECK(metrics_evaluate(&r, y, p, 3, 2, 0, 0) == MAMA_EINVAL && strstr(mama_last_error(), "sample 1"));
    p[3] = 0.8f;
    CHECK(metrics_evaluate(&r, y, p, 0, 2, 0, 0) == MAMA_EINVAL);
    CHECK(metrics_evaluate(&r, y, p, 3, 1, 0, 0) == MAMA_EINVAL);
    CHECK(metrics_evaluate(&r, y, p, 3, 2, 10, 1) == MAMA_OK);
    /* one class only: AUC undefined, never a number */
    int y1[3] = {1, 1, 1};
    CHECK(metrics_evaluate(&r, y1, p, 3, 2, 10, 1) == MAMA_OK && isnan(r.auc.value) &&
          isnan(r.auc.lo) && r.auc.n_defined == 0 && isnan(r.bin.specificity));
}

int main(void) {
    const char *root = getenv("MAMA_SOURCE_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/train/ref/metrics_ref.json", root ? root : ".");
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    CHECK_MSG(doc != NULL, "%s: %s", path, je.text);
    if (doc) {
        json_t *cases = json_object_get(doc, "cases");
        CHECK(json_array_size(cases) == 5);
        for (size_t i = 0; i < json_array_size(cases); i++) run_case(json_array_get(cases, i));
        json_decref(doc);
    }
    test_bad_inputs();
    CHECK_DONE();
}
