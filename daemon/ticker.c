/* ticker.c: see ticker.h. */
#include "daemon/ticker.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/deadline.h"

struct ticker {
    ticker_fn run;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    unsigned wake_seq;
};

static void *ticker_main(void *arg) {
    ticker *t = arg;
    while (!ticker_stopping(t)) {
        pthread_mutex_lock(&t->mu);
        unsigned seen = t->wake_seq;   /* a wake during the round starts the next at once */
        pthread_mutex_unlock(&t->mu);
        int64_t sleep_ms = t->run(t->ctx, t);
        if (sleep_ms <= 0) continue;
        struct timespec ts = deadline_in_ms(sleep_ms);
        pthread_mutex_lock(&t->mu);
        while (!t->stopping && seen == t->wake_seq)
            if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) != 0) break;
        pthread_mutex_unlock(&t->mu);
    }
    return NULL;
}

int ticker_start(ticker_fn run, void *ctx, ticker **out) {
    ticker *t = calloc(1, sizeof *t);
    if (!t) return -1;
    t->run = run;
    t->ctx = ctx;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void ticker_wake(ticker *t) {
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    t->wake_seq++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

int ticker_stopping(ticker *t) {
    pthread_mutex_lock(&t->mu);
    int s = t->stopping;
    pthread_mutex_unlock(&t->mu);
    return s;
}

void ticker_stop(ticker *t) {
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    t->stopping = 1;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}
