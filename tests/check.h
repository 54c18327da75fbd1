/* check.h: the assertions of the C unit tests. A failed CHECK prints the expression with
 * file and line and is counted; the test's main returns check_done(name) (or ends with
 * CHECK_DONE()), which is non-zero when any check failed. Also: float-vs-reference
 * comparison with a tolerance, deterministic test data, joining paths, reading a whole
 * file and removing a scratch directory. */
#ifndef MAMA_TEST_CHECK_H
#define MAMA_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
            check_failures++;                                                             \
        }                                                                                 \
    } while (0)

/* CHECK with a printf-style explanation. */
#define CHECK_MSG(cond, ...)                                                              \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            check_failures++;                                                             \
        }                                                                                 \
    } while (0)

/* Two C strings are equal; prints both when not. */
#define CHECK_STR(a, b)                                                                   \
    do {                                                                                  \
        const char *a_ = (a), *b_ = (b);                                                  \
        if (strcmp(a_, b_) != 0) {                                                        \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s = \"%s\", expected \"%s\"\n",     \
                    __FILE__, __LINE__, #a, a_, b_);                                      \
            check_failures++;                                                             \
        }                                                                                 \
    } while (0)

/* Compares got (float) against ref (double): |got - ref| <= atol + rtol |ref|.
 * Reports the worst element; returns the number of violations. */
static inline int check_close(const char *what, const float *got, const double *ref, size_t n,
                              double atol, double rtol) {
    int bad = 0;
    double worst = 0.0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]);
        double tol = atol + rtol * fabs(ref[i]);
        if (!(err <= tol)) bad++;
        double ratio = err / tol;
        if (!(ratio <= worst)) {
            worst = ratio;
            wi = i;
        }
    }
    if (bad) {
        fprintf(stderr, "%s: %d of %zu elements out of tolerance; worst [%zu] got %.9g ref %.9g\n",
                what, bad, n, wi, (double)got[wi], ref[wi]);
        check_failures++;
    }
    return bad;
}

/* Deterministic uniform floats in [-1, 1). */
static inline float test_rand(unsigned long long *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(*state >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
}

static inline void test_fill(float *x, size_t n, unsigned long long *state, float amp) {
    for (size_t i = 0; i < n; i++) x[i] = amp * test_rand(state);
}

/* dir/name in one of 8 rotating static buffers, so that up to 8 paths built this way can
 * be live at once (as the arguments of one call, say). */
static inline const char *check_path(const char *dir, const char *name) {
    static char buf[8][4200];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* The whole of a file, NUL-terminated (caller frees); the byte count in *out_n when out_n.
 * NULL when it cannot be opened, allocated or read in full: a short read is a failure,
 * never a silently truncated buffer. */
static inline char *check_read_file(const char *path, size_t *out_n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (!b) return NULL;
    b[n] = '\0';
    if (out_n) *out_n = (size_t)n;
    return b;
}

/* Removes a test's scratch directory and everything in it (a mkdtemp path: no quotes in
 * it); says so on stderr when it cannot, without failing the test. */
static inline void check_remove_dir(const char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* main's result: 1 when any check failed (with a count on stderr), else 0. */
static inline int check_done(const char *name) {
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

/* The same at the end of a main without a test name. */
#define CHECK_DONE()                                                                      \
    do {                                                                                  \
        if (check_failures) fprintf(stderr, "%d check(s) failed\n", check_failures);      \
        else printf("all checks passed\n");                                               \
        return check_failures ? 1 : 0;                                                    \
    } while (0)

#endif
