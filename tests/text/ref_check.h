/* ref_check.h: helpers for the text-tower tests: reading reference tensors from the
 * committed dumps (tests/text/ref/) and comparing within a relative tolerance. */
#ifndef TEST_TEXT_REF_CHECK_H
#define TEST_TEXT_REF_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/safetensors.h"
#include "engine/text/text_pool.h"

/* Path of a reference file under $MAMA_SOURCE_ROOT/tests/text/ref (or ./tests/...). */
static inline void ref_path(char *out, size_t n, const char *file) {
    const char *root = getenv("MAMA_SOURCE_ROOT");
    snprintf(out, n, "%s/tests/text/ref/%s", root ? root : ".", file);
}

/* fp32 copy of a tensor (caller frees); NULL with a message when missing. */
static inline float *ref_f32(const st_file *f, const char *name, int64_t *out_numel) {
    const st_tensor *t = st_find(f, name);
    if (!t) { fprintf(stderr, "reference tensor %s missing\n", name); return NULL; }
    float *d = malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1));
    if (!d) return NULL;
    if (st_read_f32(f, name, d, t->ndim, t->shape) != MAMA_OK) {
        fprintf(stderr, "%s: %s\n", name, mama_last_error());
        free(d);
        return NULL;
    }
    if (out_numel) *out_numel = t->numel;
    return d;
}

/* I32 tensor copy as int (caller frees). */
static inline int *ref_i32(const st_file *f, const char *name, int64_t *out_numel) {
    const st_tensor *t = st_find(f, name);
    if (!t || t->dtype != ST_I32) {
        fprintf(stderr, "reference tensor %s missing or not I32\n", name);
        return NULL;
    }
    int *d = malloc(sizeof(int) * (size_t)(t->numel ? t->numel : 1));
    if (!d) return NULL;
    memcpy(d, t->data, sizeof(int) * (size_t)t->numel);
    if (out_numel) *out_numel = t->numel;
    return d;
}

/* max |got - want| / max(max |want|, floor): prints and returns 0 when within tol, 1
 * otherwise. floor > 0 for quantities that are zero in exact arithmetic (rounding noise
 * only), which a purely relative measure cannot judge. */
static inline int ref_compare_floor(const char *what, const float *got, const float *want,
                                    size_t n, double tol, double floor) {
    double maxerr = 0.0, scale = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)want[i]);
        if (!(e <= maxerr)) { maxerr = e; worst = i; }
        if (fabs((double)want[i]) > scale) scale = fabs((double)want[i]);
    }
    double rel = maxerr / (scale > floor ? scale : (floor > 1e-12 ? floor : 1e-12));
    int bad = !(rel <= tol);
    printf("%-40s n=%-7zu max_abs_err=%.3e scale=%.3e rel=%.3e %s\n", what, n, maxerr, scale,
           rel, bad ? "FAIL" : "ok");
    if (bad) printf("    worst at %zu: got %.7g want %.7g\n", worst, got[worst], want[worst]);
    return bad;
}

/* max |got - want| / max |want| within tol. */
static inline int ref_compare(const char *what, const float *got, const float *want,
                              size_t n, double tol) {
    return ref_compare_floor(what, got, want, n, tol, 0.0);
}

/* Sentence features at the sep tokens against the dump's out.sep_pos (S) and
 * out.sentence (S, C): hidden (B, T, C) from the tower, ids and mask (B, T) its inputs.
 * Returns the number of failed comparisons. */
static inline int ref_check_sep_features(const st_file *f, const float *hidden, const int *ids,
                                         const float *mask, int sep_id, int B, int T, int C,
                                         double tol) {
    int fails = 0;
    int *pos = malloc(sizeof(int) * (size_t)B * T);
    int64_t S_want = 0;
    int *wpos = ref_i32(f, "out.sep_pos", &S_want);
    int S = text_sep_positions(pos, ids, mask, sep_id, B, T);
    if (S != S_want || memcmp(pos, wpos, sizeof(int) * (size_t)S)) {
        printf("sep positions differ: %d vs %lld\n", S, (long long)S_want);
        fails++;
    }
    float *sent = malloc(sizeof(float) * (size_t)(S ? S : 1) * C);
    float *ws = ref_f32(f, "out.sentence", NULL);
    text_gather_rows_forward(sent, hidden, pos, S, C);
    fails += ref_compare("sentence features (sep tokens)", sent, ws, (size_t)S * C, tol);
    free(pos); free(wpos); free(sent); free(ws);
    return fails;
}

#endif
