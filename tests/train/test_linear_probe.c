/* test_linear_probe.c: engine/train/linear_probe.c.
 * - parity with PyTorch (tests/train/ref/linear_probe_ref.json from
 *   tools/reference/linear_probe_ref.py): per step the loss, W and b after torch.optim.SGD
 *   (momentum, weight decay on W only) on the same index batches, and the final softmax
 *   probabilities, |got - ref| <= 1e-6 + 1e-5 |ref| (float32 arithmetic both sides);
 *   the warm-up + cosine learning rate of every step to 1e-12;
 * - lp_subset: stratified counts per class, at least one per class, unknown labels never;
 * - lp_sample_balanced: an 80/15/5 % training set is drawn about 1/3 each (seeded, so the
 *   counts are fixed numbers: a uniform sampler would give about 80/15/5 and fail);
 * - it learns: separable features (a class shifts its own dimension by 2.5, more than the noise width 2) reach >= 95% held-out accuracy. */
#include <jansson.h>
#include <math.h>

#include "engine/train/linear_probe.h"
#include "tests/check.h"

static void test_torch_parity(void) {
    const char *root = getenv("MAMA_SOURCE_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/train/ref/linear_probe_ref.json", root ? root : ".");
    json_error_t je;
    json_t *d = json_load_file(path, 0, &je);
    CHECK_MSG(d != NULL, "%s: %s", path, je.text);
    if (!d) return;
#define GETI(k) (int)json_integer_value(json_object_get(d, k))
#define GETR(k) json_number_value(json_object_get(d, k))
    int n = GETI("n"), D = GETI("D"), K = GETI("K"), B = GETI("B"), steps = GETI("steps");
    lp_config c;
    lp_config_default(&c);
    c.steps = steps, c.warmup_steps = GETI("warmup"), c.lr = GETR("lr"), c.lr_min = GETR("lr_min");
    double wd = GETR("weight_decay"), mom = GETR("momentum");
    float *X = malloc((size_t)n * D * sizeof *X), *probs = malloc((size_t)n * K * sizeof *probs);
    int *y = malloc((size_t)n * sizeof *y), idx[64];
    for (int i = 0; i < n * D; i++) X[i] = (float)json_number_value(json_array_get(json_object_get(d, "X"), i));
    for (int i = 0; i < n; i++) y[i] = (int)json_integer_value(json_array_get(json_object_get(d, "y"), i));
    lp_head h;
    CHECK(lp_head_create(&h, D, K, B) == MAMA_OK);
    for (int s = 0; s < steps; s++) {
        double lr_ref = json_number_value(json_array_get(json_object_get(d, "lrs"), s));
        double lr = lp_lr_at(&c, s);
        CHECK_MSG(fabs(lr - lr_ref) <= 1e-12, "step %d: lr %.17g, reference %.17g", s, lr, lr_ref);
        for (int i = 0; i < B; i++)
            idx[i] = (int)json_integer_value(json_array_get(json_object_get(d, "batches"), (size_t)s * B + i));
        double loss = 0;
        CHECK(lp_step(&h, X, y, idx, B, lr, wd, mom, &loss) == MAMA_OK);
        double lref = json_number_value(json_array_get(json_object_get(d, "loss"), s));
        CHECK_MSG(fabs(loss - lref) <= 1e-6 + 1e-5 * fabs(lref), "step %d: loss %.9g, torch %.9g", s, loss, lref);
        json_t *wr = json_array_get(json_object_get(d, "W"), s), *br = json_array_get(json_object_get(d, "b"), s);
        double wref[256], bref[16];
        for (int i = 0; i < K * D; i++) wref[i] = json_number_value(json_array_get(wr, i));
        for (int i = 0; i < K; i++) bref[i] = json_number_value(json_array_get(br, i));
        char what[32];
        snprintf(what, sizeof what, "W step %d", s);
        CHECK(check_close(what, h.w, wref, (size_t)K * D, 1e-6, 1e-5) == 0);
        snprintf(what, sizeof what, "b step %d", s);
        CHECK(check_close(what, h.b, bref, (size_t)K, 1e-6, 1e-5) == 0);
    }
    lp_predict(&h, X, n, probs);
    double *pref = malloc((size_t)n * K * sizeof *pref);
    for (int i = 0; i < n * K; i++) pref[i] = json_number_value(json_array_get(json_object_get(d, "probs"), i));
    CHECK(check_close("probs", probs, pref, (size_t)n * K, 1e-6, 1e-5) == 0);
    CHECK(lp_step(&h, X, y, idx, B + 1, 0.1, 0, 0, NULL) == MAMA_EINVAL);
    lp_head_free(&h);
    free(X), free(probs), free(y), free(pref);
    json_decref(d);
}

static void test_subset_and_sampler(void) {
    enum { N = 140 };
    int y[N], idx[N], m = 0;
    for (int i = 0; i < N; i++) y[i] = i < 100 ? 0 : i < 130 ? 1 : i < 135 ? 2 : -1;
    CHECK(lp_subset(y, N, 3, 0.1, 5, idx, &m) == MAMA_OK);
    int cnt[3] = {0, 0, 0};
    for (int i = 0; i < m; i++) cnt[y[idx[i]]]++;
    CHECK_MSG(cnt[0] == 10 && cnt[1] == 3 && cnt[2] == 1, "10%% subset: %d %d %d", cnt[0], cnt[1], cnt[2]);
    for (int i = 1; i < m; i++) CHECK(idx[i] > idx[i - 1]);
    int idx2[N], m2 = 0;
    CHECK(lp_subset(y, N, 3, 0.1, 6, idx2, &m2) == MAMA_OK && m2 == m);
    CHECK(memcmp(idx, idx2, (size_t)m * sizeof *idx) != 0); /* another seed, other samples */
    CHECK(lp_subset(y, N, 3, 1.0, 5, idx, &m) == MAMA_OK && m == 135);
    CHECK(lp_subset(y, N, 3, 0.0, 5, idx, &m) == MAMA_EINVAL);
    CHECK(lp_subset(y, N, 3, 1.5, 5, idx, &m) == MAMA_EINVAL);

    /* 80 / 15 / 5 */
    int yy[100], all[100], out[3000], c3[3] = {0, 0, 0};
    for (int i = 0; i < 100; i++) yy[i] = i < 80 ? 0 : i < 95 ? 1 : 2, all[i] = i;
    mama_rng rng;
    mama_rng_seed(&rng, 42);
    lp_sample_balanced(&rng, yy, all, 100, 3, out, 3000);
    int in_range = 1;
    for (int i = 0; i < 3000; i++) c3[yy[out[i]]]++, in_range &= out[i] >= 0 && out[i] < 100;
    CHECK(in_range);
    CHECK_MSG(c3[0] > 900 && c3[0] < 1100 && c3[1] > 900 && c3[1] < 1100 && c3[2] > 900 && c3[2] < 1100,
              "balanced draws: %d %d %d", c3[0], c3[1], c3[2]);
}

static void test_learns(void) {
    enum { N = 300, D = 16, K = 3 };
    static float X[N * D], probs[N * K];
    int y[N];
    unsigned long long st = 7;
    for (int i = 0; i < N; i++) {
        y[i] = i % K;
        for (int j = 0; j < D; j++) X[i * D + j] = test_rand(&st) + (j == y[i] ? 2.5f : 0.0f);
    }
    lp_config c;
    lp_config_default(&c);
    c.steps = 300, c.warmup_steps = 20, c.lr = 0.1, c.lr_min = 1e-3, c.batch = 32;
    lp_head h;
    CHECK(lp_head_create(&h, D, K, c.batch) == MAMA_OK);
    double loss = 0;
    CHECK(lp_train(&h, X, y, 200, &c, &loss) == MAMA_OK && isfinite(loss));
    lp_predict(&h, X + 200 * D, 100, probs);
    int ok = 0;
    for (int i = 0; i < 100; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (probs[i * K + k] > probs[i * K + best]) best = k;
        ok += best == y[200 + i];
    }
    CHECK_MSG(ok >= 95, "held-out accuracy %d%%", ok);
    lp_head_free(&h);
}

int main(void) {
    test_torch_parity();
    test_subset_and_sampler();
    test_learns();
    CHECK_DONE();
}
