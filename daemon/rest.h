/* rest.h: the REST API server (libmicrohttpd + jansson). The routes are one table in
 * routes.c; this module owns the listener, authentication, body limits and the single
 * JSON error shape. */
#ifndef MAMA_REST_H
#define MAMA_REST_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/access_log.h"
#include "daemon/config.h"
#include "daemon/grouper.h"
#include "daemon/metrics.h"
#include "daemon/worker.h"
#include "db/db.h"

typedef struct rest_ctx {
    db *index;                /* the index (each REST thread has its own connection) */
    db *writer;               /* the same handle, for admin actions */
    grouper *g;
    worker_pool *workers;
    metrics *m;
    const mamad_config *cfg;
    const char *model_id;     /* NULL or "" when no model is loaded */
    const int *model_untrained; /* NULL, or 1 while the loaded model is marked untrained */
    const char *model_status; /* NULL, or the loaded model's provenance status */
    /* Optional, wired by the integrator: reloads the model; 0 ok, -1 + err. */
    int (*reload_model)(void *ctx, char *err, size_t errlen);
    void *reload_ctx;
    int64_t started_at;
    access_log *alog;         /* NULL: no access log (log.access_file = "") */
    int listen_fd;            /* > 0: a socket from rest_listen (bound before dropping
                                 root), taken over; else rest_start binds one */
} rest_ctx;

typedef struct rest rest;

/* Binds and listens on cfg->rest_bind:rest_port. The socket, or -1 with a message. */
int rest_listen(const mamad_config *cfg, char *err, size_t errlen);
/* Starts the server on ctx->listen_fd, or on a socket of its own from rest_listen.
 * 0, or -1 with a message (the socket is closed then). */
int rest_start(const rest_ctx *ctx, rest **out_rest, char *err, size_t errlen);
void rest_stop(rest *r);
/* The port bound (the ephemeral one when rest.port is 0). */
int rest_port(const rest *r);

#endif
