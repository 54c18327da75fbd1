/* loader.c: worker threads, a ring of prefetched samples, in-order batches (see loader.h).
 *
 * The ring has prefetch * batch slots; the sample of order position p lives in slot
 * p % cap. A worker may claim position p only while p < next + cap (next: the consumer's
 * position), so a slot is never overwritten before the consumer has taken it. The
 * consumer waits for its slot to be done (ready or bad), so batches are assembled in order
 * whatever the workers' timing. */
#include "engine/train/loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/rng.h"

enum { SLOT_EMPTY = 0, SLOT_BUSY, SLOT_READY, SLOT_BAD };

struct loader {
    loader_config cfg;
    const char *const *paths;
    int *order;
    int64_t n_order;
    size_t plane;          /* 3 * S * S floats */
    int cap;               /* slots */
    float *pix;            /* (cap, plane) */
    int *state;
    char (*reason)[512];
    int64_t next, claim, bad;
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t ready, space;
    pthread_t *threads;
    int n_threads;
    int sync_ready;        /* mutex and condition variables initialised */
};

/* Decodes and preprocesses position p into out; 0, or -1 with the reason. */
static int make_sample(const loader *L, int64_t p, float *out, char *reason, size_t n) {
    const loader_config *c = &L->cfg;
    const char *path = L->paths[L->order[p]];
    float *img = NULL;
    int H = 0, W = 0;
    mama_status rc = c->cache.dir
                         ? prepcache_get(&c->cache, path, c->load, c->load_ctx, &img, &H, &W, NULL, NULL)
                         : c->load(c->load_ctx, path, &img, &H, &W);
    if (rc != MAMA_OK) {
        snprintf(reason, n, "%s", mama_last_error());
        return -1;
    }
    prep_config pc = c->pre;
    if (c->cache.dir) pc.crop = 0; /* the cache stores the breast crop already */
    if (c->augment) {
        mama_rng rng;
        mama_rng_seed(&rng, mama_rng_mix64(c->seed ^ mama_rng_mix64((uint64_t)p)));
        rc = prep_image_train(out, img, H, W, &pc, &c->aug, &rng);
    } else {
        rc = prep_image_eval(out, img, H, W, &pc, NULL);
    }
    free(img);
    if (rc != MAMA_OK) {
        snprintf(reason, n, "preprocessing: %s", mama_last_error());
        return -1;
    }
    return 0;
}

static void *worker_main(void *arg) {
    loader *L = arg;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->stop && L->claim < L->n_order && L->claim >= L->next + L->cap)
            pthread_cond_wait(&L->space, &L->mu);
        if (L->stop || L->claim >= L->n_order) break;
        int64_t p = L->claim++;
        int slot = (int)(p % L->cap);
        L->state[slot] = SLOT_BUSY;
        pthread_mutex_unlock(&L->mu);
        int ok = make_sample(L, p, L->pix + (size_t)slot * L->plane, L->reason[slot], sizeof L->reason[slot]) == 0;
        pthread_mutex_lock(&L->mu);
        L->state[slot] = ok ? SLOT_READY : SLOT_BAD;
        pthread_cond_broadcast(&L->ready);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

mama_status loader_create(loader **out, const loader_config *cfg, const char *const *paths,
                          int n_paths, const int *order, int64_t n_order, int64_t start) {
    *out = NULL;
    if (cfg->batch < 1 || cfg->prefetch < 1 || cfg->workers < 0 || cfg->workers > 256 || !cfg->load ||
        cfg->pre.size < 1 || start < 0 || start > n_order)
        return mama_errorf(MAMA_EINVAL, "loader: needs batch >= 1, prefetch >= 1, 0..256 workers, a "
                           "loader and 0 <= start (%lld) <= order length (%lld)",
                           (long long)start, (long long)n_order);
    for (int64_t i = 0; i < n_order; i++)
        if (order[i] < 0 || order[i] >= n_paths)
            return mama_errorf(MAMA_EINVAL, "loader: order[%lld] = %d is not a sample (0..%d)",
                               (long long)i, order[i], n_paths - 1);
    loader *L = calloc(1, sizeof *L);
    if (!L) return mama_errorf(MAMA_ENOMEM, "loader: out of memory");
    L->cfg = *cfg;
    L->paths = paths;
    L->n_order = n_order;
    L->plane = (size_t)3 * cfg->pre.size * cfg->pre.size;
    L->cap = cfg->prefetch * cfg->batch;
    L->next = L->claim = start;
    L->order = malloc((size_t)(n_order > 0 ? n_order : 1) * sizeof *L->order);
    L->pix = malloc((size_t)L->cap * L->plane * sizeof *L->pix);
    L->state = calloc((size_t)L->cap, sizeof *L->state);
    L->reason = calloc((size_t)L->cap, sizeof *L->reason);
    L->threads = calloc((size_t)(cfg->workers > 0 ? cfg->workers : 1), sizeof *L->threads);
    if (!L->order || !L->pix || !L->state || !L->reason || !L->threads) {
        loader_free(L);
        return mama_errorf(MAMA_ENOMEM, "loader: no memory for %d prefetched samples of %dx%d",
                           cfg->prefetch * cfg->batch, cfg->pre.size, cfg->pre.size);
    }
    memcpy(L->order, order, (size_t)n_order * sizeof *L->order);
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->ready, NULL);
    pthread_cond_init(&L->space, NULL);
    L->sync_ready = 1;
    for (int i = 0; i < cfg->workers; i++) {
        if (pthread_create(&L->threads[i], NULL, worker_main, L) != 0) {
            loader_free(L);
            return mama_errorf(MAMA_ENOMEM, "loader: cannot start decoding thread %d", i);
        }
        L->n_threads++;
    }
    *out = L;
    return MAMA_OK;
}

/* Waits for (or, without workers, makes) the sample at L->next; returns its slot. */
static int take_slot(loader *L) {
    int slot = (int)(L->next % L->cap);
    if (L->n_threads == 0) {
        int ok = make_sample(L, L->next, L->pix + (size_t)slot * L->plane, L->reason[slot],
                             sizeof L->reason[slot]) == 0;
        L->state[slot] = ok ? SLOT_READY : SLOT_BAD;
        return slot;
    }
    pthread_mutex_lock(&L->mu);
    while (L->state[slot] != SLOT_READY && L->state[slot] != SLOT_BAD) pthread_cond_wait(&L->ready, &L->mu);
    pthread_mutex_unlock(&L->mu);
    return slot;
}

static void release_slot(loader *L, int slot) {
    pthread_mutex_lock(&L->mu);
    L->state[slot] = SLOT_EMPTY;
    L->next++;
    pthread_cond_broadcast(&L->space);
    pthread_mutex_unlock(&L->mu);
}

mama_status loader_next(loader *L, float *pixels, int *sample, int *out_n) {
    int n = 0;
    while (n < L->cfg.batch && L->next < L->n_order) {
        int64_t p = L->next;
        int slot = take_slot(L);
        if (L->state[slot] == SLOT_BAD) {
            if (L->cfg.log) L->cfg.log(L->cfg.log_ctx, L->paths[L->order[p]], L->reason[slot]);
            L->bad++;
        } else {
            memcpy(pixels + (size_t)n * L->plane, L->pix + (size_t)slot * L->plane, L->plane * sizeof *pixels);
            sample[n++] = L->order[p];
        }
        release_slot(L, slot);
    }
    *out_n = n;
    return MAMA_OK;
}

int64_t loader_position(const loader *L) { return L->next; }
int64_t loader_bad(const loader *L) { return L->bad; }

void loader_free(loader *L) {
    if (!L) return;
    if (L->n_threads) {
        pthread_mutex_lock(&L->mu);
        L->stop = 1;
        pthread_cond_broadcast(&L->space);
        pthread_mutex_unlock(&L->mu);
        for (int i = 0; i < L->n_threads; i++) pthread_join(L->threads[i], NULL);
    }
    if (L->sync_ready) {
        pthread_mutex_destroy(&L->mu);
        pthread_cond_destroy(&L->ready);
        pthread_cond_destroy(&L->space);
    }
    free(L->order), free(L->pix), free(L->state), free(L->reason), free(L->threads);
    free(L);
}
