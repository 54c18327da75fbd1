/* rest.c: the REST listener (see rest.h). Per request: body size checked against
 * rest.max_body before any byte is read (Content-Length) and while reading; the path
 * matched against the route table (unknown path 404, known path with another method 405
 * + Allow); the bearer token checked against the route's role (401 / 403); then the
 * handler (routes.h). Every error has the shape {"error":{"code","message"}} (rest_reply.c). */
#include "daemon/rest.h"

#include "daemon/routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"

struct rest {
    struct MHD_Daemon *mhd;
    rest_ctx ctx;
    char *tls_cert, *tls_key;   /* PEM text given to MHD (HTTPS), NULL for plain HTTP */
};

/* A whole (small) file as a NUL-terminated string, or NULL with the reason. */
static char *slurp(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (1 << 20) && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        fclose(f);
        return buf;
    }
    snprintf(err, errlen, "cannot read %s: %s", path, f ? "read error or larger than 1 MiB" : strerror(errno));
    free(buf);
    if (f) fclose(f);
    return NULL;
}

/* Request limits. MHD keeps the request line, headers and every query argument in one
 * per-connection pool (REST_POOL_BYTES); when the arguments do not fit, libmicrohttpd
 * 0.9.75 neither answers nor closes, and the client waits for the connection timeout
 * (600 parameters did that with the default 32 KiB pool). So the URI is checked before
 * MHD parses its arguments (uri_guard) and a request over the limits gets 414 at once. A
 * request line or headers larger than the pool get MHD's own 414 / 431. */
#define REST_POOL_BYTES (128u * 1024u)
#define REST_MAX_URI 8192u
#define REST_MAX_PARAMS 64u

/* The marker uri_guard leaves in *con_cls for a request over the limits. */
static char uri_refused;

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
            access_log_token_id(tok, req->token_id);
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

/* The audit line of one answered request (access_log.h). */
static void log_access(const rest_ctx *ctx, struct MHD_Connection *conn, const char *method,
                       const char *url, int role, const char *token_id, const rest_response *resp) {
    if (!ctx->alog) return;
    char host[NI_MAXHOST] = "?";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                               : sizeof(struct sockaddr_in);
        getnameinfo(ci->client_addr, len, host, sizeof host, NULL, 0, NI_NUMERICHOST);
    }
    const char *rname = role == CONFIG_ROLE_ADMIN ? "admin" : role == CONFIG_ROLE_READ ? "read" : "";
    access_log_write(ctx->alog, host, rname, token_id, method, url, resp->status,
                     resp->body ? strlen(resp->body) : 0);
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

/* MHD_OPTION_URI_LOG_CALLBACK: runs on the raw URI before MHD splits off its arguments.
 * Over the limits, the query string is blanked in MHD's own (writable) read buffer, so
 * that nothing is parsed into the pool, and on_request answers 414. */
static void *uri_guard(void *cls, const char *uri, struct MHD_Connection *conn) {
    (void)cls;
    (void)conn;
    size_t n = strlen(uri), params = 0;
    char *q = strchr(uri, '?');
    if (q)
        for (const char *c = q; *c; c++) params += *c == '&' || *c == '?' || *c == ';';
    if (n <= REST_MAX_URI && params <= REST_MAX_PARAMS) return NULL;
    if (q) memset(q, 0, strlen(q));
    return &uri_refused;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    rest *srv = cls;
    const size_t max_body = (size_t)srv->ctx.cfg->rest_max_body;
    if (*con_cls == &uri_refused) {
        conn_state *refused = calloc(1, sizeof *refused);
        *con_cls = refused;
        if (!refused) return MHD_NO;
        refused->responded = 1;
        rest_response resp;
        memset(&resp, 0, sizeof resp);
        rest_error(&resp, REST_ERR_URI_TOO_LONG, NULL);
        log_access(&srv->ctx, conn, method, url, 0, "", &resp);
        return send_response(conn, &resp, &srv->ctx);
    }
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
            log_access(&srv->ctx, conn, method, url, 0, "", &resp);
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
    int role = 0;
    char token_id[17] = "";
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
        role = req.role;
        memcpy(token_id, req.token_id, sizeof token_id);
    }
    log_debug(LOG_CAT_HTTP, "%s %s -> %d", method, url, resp.status);
    log_access(&srv->ctx, conn, method, url, role, token_id, &resp);
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

int rest_listen(const mamad_config *cfg, char *err, size_t errlen) {
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
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd >= 0 && ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d for REST: %s (port in use, or no permission?)",
                 cfg->rest_bind, (int)cfg->rest_port, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    return fd;
}

int rest_start(const rest_ctx *ctx, rest **out_rest, char *err, size_t errlen) {
    const mamad_config *cfg = ctx->cfg;
    int fd = ctx->listen_fd > 0 ? ctx->listen_fd : rest_listen(cfg, err, errlen);
    if (fd < 0) return -1;
    rest *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return -1;
    }
    r->ctx = *ctx;
    struct MHD_OptionItem tls[3] = {{MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL},
                                    {MHD_OPTION_END, 0, NULL}};
    if (cfg->rest_tls_cert[0]) {
        if (!(r->tls_cert = slurp(cfg->rest_tls_cert, err, errlen)) ||
            !(r->tls_key = slurp(cfg->rest_tls_key, err, errlen))) {
            free(r->tls_cert);
            close(fd);
            free(r);
            return -1;
        }
        tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, r->tls_cert};
        tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, r->tls_key};
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (r->tls_cert) flags |= MHD_USE_TLS;
    r->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, r,
                              MHD_OPTION_LISTEN_SOCKET, fd,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->rest_threads,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, r,
                              MHD_OPTION_URI_LOG_CALLBACK, uri_guard, r,
                              /* floods are refused at accept, idle ones closed soon */
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->rest_max_connections,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                              (unsigned)cfg->rest_max_connections_per_ip,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->rest_connection_timeout_s,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)REST_POOL_BYTES,
                              MHD_OPTION_ARRAY, tls,
                              MHD_OPTION_END);
    if (!r->mhd) {
        snprintf(err, errlen, "cannot start the REST server on %s:%d%s", cfg->rest_bind, (int)cfg->rest_port,
                 r->tls_cert ? " (is rest.tls_cert/rest.tls_key a matching PEM certificate and key?)" : "");
        close(fd);
        free(r->tls_cert);
        free(r->tls_key);
        free(r);
        return -1;
    }
    *out_rest = r;
    return 0;
}

void rest_stop(rest *r) {
    if (!r) return;
    MHD_stop_daemon(r->mhd);
    free(r->tls_cert);
    free(r->tls_key);
    free(r);
}

int rest_port(const rest *r) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return info ? (int)info->port : -1;
}
