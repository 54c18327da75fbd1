/* test_loader.c: engine/train/loader.c on real PNG files (image_io) through the real
 * preprocessing cache.
 * - plumbing: without a cache and without augmentation a row equals prep_image_eval of the
 *   file's pixels called directly, bit for bit;
 * - determinism: 0 workers and 3 workers with prefetch 2 give the same bytes, batch by
 *   batch (augmented), and the cache (cold, then warm) does not change them either;
 * - resume: starting at order position 11 gives exactly the rows a full run gives from
 *   position 11 on;
 * - bad images (a missing file and a corrupt one): logged with their path, counted,
 *   skipped, the batch filled from the next positions;
 * - the seed matters: another seed, other augmentations. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/train/loader.h"
#include "engine/vision/image_io.h"
#include "tests/check.h"

enum { NP = 14, S = 28, B = 4, N_ORDER = 30 };
static char tmpdir[] = "/tmp/mama-loader-XXXXXX";
static char paths_buf[NP][300];
static const char *paths[NP];
static int logged;
static char last_logged[300];

static mama_status load_png(void *ctx, const char *path, float **px, int *h, int *w) {
    (void)ctx;
    return image_io_load_gray(path, px, h, w);
}

static void on_bad(void *ctx, const char *path, const char *reason) {
    (void)ctx;
    logged++;
    snprintf(last_logged, sizeof last_logged, "%s", path);
    CHECK(reason && reason[0]);
}

static void make_files(void) {
    unsigned long long st = 3;
    for (int k = 0; k < NP; k++) {
        snprintf(paths_buf[k], sizeof paths_buf[k], "%s/img%02d.png", tmpdir, k);
        paths[k] = paths_buf[k];
        int H = 60 + 3 * k, W = 44 + 2 * k;
        float *img = calloc((size_t)H * W, sizeof *img);
        /* a bright blob (the "breast") on black, different per image */
        for (int y = 8; y < H - 8; y++)
            for (int x = 0; x < W / 2 + k; x++) img[y * W + x] = 0.5f + 0.4f * test_rand(&st) * 0.5f;
        if (k != 5) CHECK(image_io_save_png(paths[k], img, H, W, 8) == MAMA_OK); /* img05.png: missing */
        free(img);
    }
    FILE *f = fopen(paths[9], "wb"); /* img09.png: corrupt */
    fputs("\x89PNG garbage", f);
    fclose(f);
}

static void base_config(loader_config *c) {
    memset(c, 0, sizeof *c);
    c->batch = B, c->workers = 0, c->prefetch = 2;
    prep_config_default(&c->pre);
    c->pre.size = S;
    prep_aug_config_default(&c->aug);
    c->augment = 1, c->seed = 17;
    c->load = load_png;
    c->log = on_bad;
}

/* All rows of a run from start: pixels and sample ids, in order. */
static int run_all(const loader_config *c, const int *order, int64_t start, float *pix, int *ids, int64_t *bad) {
    loader *L = NULL;
    CHECK(loader_create(&L, c, paths, NP, order, N_ORDER, start) == MAMA_OK);
    if (!L) return 0;
    int total = 0, n = 0;
    size_t plane = 3 * S * S;
    do {
        CHECK(loader_next(L, pix + (size_t)total * plane, ids + total, &n) == MAMA_OK);
        if (n > 0 && loader_position(L) < N_ORDER) CHECK(n == B); /* short only at the end */
        total += n;
    } while (n > 0);
    *bad = loader_bad(L);
    loader_free(L);
    return total;
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    make_files();
    int order[N_ORDER];
    for (int i = 0; i < N_ORDER; i++) order[i] = (i * 5 + 3) % NP;
    size_t plane = 3 * S * S;
    float *a = malloc(N_ORDER * plane * sizeof *a), *b = malloc(N_ORDER * plane * sizeof *b);
    int ia[N_ORDER], ib[N_ORDER];
    int64_t bad_a, bad_b;
    int expect_bad = 0;
    for (int i = 0; i < N_ORDER; i++) expect_bad += order[i] == 5 || order[i] == 9;

    /* plumbing: eval path, no cache == prep_image_eval directly */
    loader_config c;
    base_config(&c);
    c.augment = 0;
    logged = 0;
    int na = run_all(&c, order, 0, a, ia, &bad_a);
    CHECK_MSG(na == N_ORDER - expect_bad && bad_a == expect_bad && logged == expect_bad,
              "rows %d, bad %lld (expected %d), logged %d", na, (long long)bad_a, expect_bad, logged);
    CHECK(strstr(last_logged, "img05.png") || strstr(last_logged, "img09.png"));
    float *ref = malloc(plane * sizeof *ref), *img = NULL;
    int H, W, same = 1;
    for (int r = 0; r < na; r++) {
        CHECK(image_io_load_gray(paths[ia[r]], &img, &H, &W) == MAMA_OK);
        CHECK(prep_image_eval(ref, img, H, W, &c.pre, NULL) == MAMA_OK);
        same &= memcmp(ref, a + (size_t)r * plane, plane * sizeof *ref) == 0;
        free(img);
        CHECK(ia[r] != 5 && ia[r] != 9);
    }
    CHECK_MSG(same, "a loader row differs from prep_image_eval of its file");
    free(ref);

    /* determinism: augmented, 0 vs 3 workers, then through the cache (cold and warm) */
    base_config(&c);
    na = run_all(&c, order, 0, a, ia, &bad_a);
    c.workers = 3;
    int nb = run_all(&c, order, 0, b, ib, &bad_b);
    CHECK(na == nb && bad_a == bad_b && memcmp(ia, ib, sizeof(int) * na) == 0);
    CHECK_MSG(memcmp(a, b, na * plane * sizeof *a) == 0, "workers changed the batches");
    char cache[320];
    snprintf(cache, sizeof cache, "%s/cache", tmpdir);
    prepcache_config_default(&c.cache, cache);
    c.cache.loader_tag = "png";
    float *cold = malloc(N_ORDER * plane * sizeof *cold);
    int ncold = run_all(&c, order, 0, cold, ib, &bad_b);
    nb = run_all(&c, order, 0, b, ib, &bad_b);
    CHECK(ncold == na && nb == na && bad_b == expect_bad);
    CHECK_MSG(memcmp(cold, b, na * plane * sizeof *b) == 0, "a warm cache changed the batches");
    free(cold);

    /* resume at position 11 == the full run's rows from position 11 */
    c.cache.dir = NULL;
    c.workers = 2;
    int skip_rows = 0;
    for (int i = 0; i < 11; i++) skip_rows += !(order[i] == 5 || order[i] == 9);
    nb = run_all(&c, order, 11, b, ib, &bad_b);
    CHECK(nb == na - skip_rows);
    CHECK_MSG(nb == na - skip_rows && memcmp(b, a + (size_t)skip_rows * plane, nb * plane * sizeof *b) == 0 &&
                  memcmp(ib, ia + skip_rows, sizeof(int) * nb) == 0,
              "resume at 11 differs from the straight run");

    /* another seed: other augmentations */
    c.seed = 18;
    nb = run_all(&c, order, 0, b, ib, &bad_b);
    CHECK(nb == na && memcmp(a, b, na * plane * sizeof *a) != 0);

    /* bad arguments */
    loader *L = NULL;
    int bad_order[2] = {0, NP};
    CHECK(loader_create(&L, &c, paths, NP, bad_order, 2, 0) == MAMA_EINVAL && !L);
    CHECK(loader_create(&L, &c, paths, NP, order, N_ORDER, N_ORDER + 1) == MAMA_EINVAL);
    free(a), free(b);
    check_remove_dir(tmpdir);
    CHECK_DONE();
}
