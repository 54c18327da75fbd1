/* rest.c: the REST listener (see rest.h). Per request: body size checked against
 * rest.max_body before any byte is read (Content-Length) and while reading; the path
 * matched against the route table (unknown path 404, known path with another method 405
 * + Allow); the bearer token checked against the route's role (401 / 403); then the
 * handler (routes.h). Every error has the shape {"error":{"code","message"}} (rest_reply.c). */
#include "daemon/rest.h"

#include "daemon/routes.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

struct rest {
    struct MHD_Daemon *mhd;
    rest_ctx ctx;
};

typedef struct conn_state {
    char *body;
    size_t len;
    int too_large;
    int responded;   /* a response was queued before the body (413) */
} conn_state;

/* 1 when path matches pattern; copies the {x} segment into param. */
static int match(const char *pattern, const char *path, char *param, size_t plen) {
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            if (!se) se = s + strlen(s);
            size_t n = (size_t)(se - s);
            if (n == 0 || n >= plen) return 0;
            memcpy(param, s, n);
            param[n] = '\0';
            p = pe + 1;
            s = se;
            continue;
        }
        if (*p != *s) return 0;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

static void dispatch(rest_request *req, rest_response *resp) {
    char allow[64] = "";
    const rest_route *hit = NULL;
    for (int i = 0; i < rest_n_routes; i++) {
        char param[sizeof req->param];
        if (!match(rest_routes[i].pattern, req->path, param, sizeof param)) continue;
        if (strcmp(rest_routes[i].method, req->method) == 0) {
            hit = &rest_routes[i];
            memcpy(req->param, param, sizeof param);
            break;
        }
        if (!strstr(allow, rest_routes[i].method)) {
            size_t l = strlen(allow);
            snprintf(allow + l, sizeof allow - l, "%s%s", l ? ", " : "", rest_routes[i].method);
        }
    }
    if (!hit) {
        if (allow[0]) {
            rest_error(resp, REST_ERR_METHOD, "%s is not allowed on %s (allowed: %s)", req->method,
                       req->path, allow);
            snprintf(resp->allow, sizeof resp->allow, "%s", allow);
        } else {
            rest_error(resp, REST_ERR_NOT_FOUND, "no endpoint %s (see docs/openapi.yaml)", req->path);
        }
        return;
    }
    if (hit->min_role) {
        const char *auth = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
        req->role = 0;
        if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
            const char *tok = auth + 7;
            while (*tok == ' ') tok++;
            req->role = config_token_role(req->ctx->cfg, tok);
        }
        if (!req->role) {
            rest_error(resp, REST_ERR_UNAUTHORIZED, auth ? "the bearer token is not valid" : NULL);
            resp->www_auth = 1;
            return;
        }
        if (req->role < hit->min_role) {
            rest_error(resp, REST_ERR_FORBIDDEN, NULL);
            return;
        }
    }
    hit->handler(req, resp);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, rest_response *resp, const rest_ctx *ctx) {
    if (!resp->body) resp->body = strdup("");
    size_t n = resp->body_len ? resp->body_len : resp->body ? strlen(resp->body) : 0;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n, resp->body ? resp->body : (char *)"", MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(resp->body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", resp->content_type ? resp->content_type : "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    /* Strict for every answer: the dashboard runs only its own files, no inline script. */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
                            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    if (resp->allow[0]) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow);
    if (resp->www_auth) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"mamad\"");
    atomic_fetch_add(&ctx->m->http_requests, 1);
    if (resp->status >= 400) atomic_fetch_add(&ctx->m->http_errors, 1);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    rest *srv = cls;
    const size_t max_body = (size_t)srv->ctx.cfg->rest_max_body;
    conn_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        *con_cls = st;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > max_body) {
            /* Answer before reading any of the body; MHD closes the connection after. */
            rest_response resp;
            memset(&resp, 0, sizeof resp);
            rest_error(&resp, REST_ERR_BODY_TOO_LARGE,
                       "request body larger than rest.max_body (%zu bytes)", max_body);
            st->too_large = 1;
            st->responded = 1;
            return send_response(conn, &resp, &srv->ctx);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_large) {
            if (st->len + *upload_size > max_body) {
                st->too_large = 1;
            } else {
                char *nb = realloc(st->body, st->len + *upload_size + 1);
                if (!nb) return MHD_NO;
                st->body = nb;
                memcpy(st->body + st->len, upload, *upload_size);
                st->len += *upload_size;
                st->body[st->len] = '\0';
            }
        }
        *upload_size = 0; /* consumed (or discarded when too large) */
        return MHD_YES;
    }
    if (st->responded) return MHD_YES;
    rest_response resp;
    memset(&resp, 0, sizeof resp);
    if (st->too_large) {
        rest_error(&resp, REST_ERR_BODY_TOO_LARGE, "request body larger than rest.max_body (%zu bytes)",
                   max_body);
    } else {
        rest_request req;
        memset(&req, 0, sizeof req);
        req.conn = conn;
        req.ctx = &srv->ctx;
        req.method = method;
        req.path = url;
        req.body = st->body;
        req.body_len = st->len;
        dispatch(&req, &resp);
    }
    log_debug(LOG_CAT_HTTP, "%s %s -> %d", method, url, resp.status);
    return send_response(conn, &resp, &srv->ctx);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    conn_state *st = *con_cls;
    if (st) {
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

int rest_start(const rest_ctx *ctx, rest **out_rest, char *err, size_t errlen) {
    rest *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->ctx = *ctx;
    const mamad_config *cfg = ctx->cfg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", (int)cfg->rest_port);
    const char *host = cfg->rest_bind[0] ? cfg->rest_bind : NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "rest.bind '%s': %s (give a numeric IPv4 or IPv6 address)", cfg->rest_bind,
                 gai_strerror(gai));
        free(r);
        return -1;
    }
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    r->mhd = MHD_start_daemon(flags, (uint16_t)cfg->rest_port, NULL, NULL, on_request, r,
                              MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->rest_threads,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, r,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                              MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!r->mhd) {
        snprintf(err, errlen, "cannot listen on %s:%d for REST (port in use, or no permission?)",
                 cfg->rest_bind, (int)cfg->rest_port);
        free(r);
        return -1;
    }
    *out_rest = r;
    return 0;
}

void rest_stop(rest *r) {
    if (!r) return;
    MHD_stop_daemon(r->mhd);
    free(r);
}

int rest_port(const rest *r) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return info ? (int)info->port : -1;
}
