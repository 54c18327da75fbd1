/* rest_reply.h: the request and response records of one REST call, the one error table
 * and the helpers that fill a response (JSON body, JSON error, query parameter). Below
 * both the server (rest.c) and the route handlers (routes.c), so that neither calls up
 * into the other: rest.c -> routes.h -> rest_reply.h. */
#ifndef MAMA_REST_REPLY_H
#define MAMA_REST_REPLY_H

#include <jansson.h>
#include <microhttpd.h>

#include "daemon/rest.h"

typedef enum rest_err {
    REST_ERR_UNAUTHORIZED,
    REST_ERR_FORBIDDEN,
    REST_ERR_NOT_FOUND,
    REST_ERR_METHOD,
    REST_ERR_BAD_PARAM,
    REST_ERR_BAD_UID,
    REST_ERR_STUDY_NOT_FOUND,
    REST_ERR_BODY_TOO_LARGE,
    REST_ERR_URI_TOO_LONG,
    REST_ERR_BUSY,
    REST_ERR_NO_MODEL,
    REST_ERR_INTERNAL,
    REST_ERR_COUNT
} rest_err;

typedef struct rest_error_info {
    const char *code;     /* the "code" of the JSON error */
    int http_status;
    const char *message;  /* default message when the caller gives none */
} rest_error_info;

/* The one error table (docs/openapi.yaml lists the same codes). */
extern const rest_error_info rest_errors[REST_ERR_COUNT];

typedef struct rest_request {
    struct MHD_Connection *conn;
    const rest_ctx *ctx;
    const char *method;
    const char *path;
    char param[128];          /* the {uid} path segment when the route has one */
    const char *body;
    size_t body_len;
    int role;                 /* CONFIG_ROLE_* of the bearer token, 0 when none */
    char token_id[17];        /* access_log_token_id of the bearer token sent, "" if none */
} rest_request;

typedef struct rest_response {
    int status;
    char *body;               /* malloc'ed; freed by the server */
    size_t body_len;          /* bytes of a binary body; 0: strlen(body) */
    const char *content_type;
    char allow[64];           /* Allow header for 405 */
    int www_auth;             /* add WWW-Authenticate: Bearer */
} rest_response;

/* Fills resp with the JSON error (message printf-style; NULL for the default). The message
 * is made valid UTF-8 and cut on a character boundary, whatever the arguments hold. */
void rest_error(rest_response *resp, rest_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A JSON string of s as valid UTF-8 (common/utf8.h: invalid bytes become U+FFFD), never
 * NULL for a NULL or invalid s: every text from the index or the request goes through it,
 * because jansson refuses invalid UTF-8 and the response would be lost. */
json_t *rest_str(const char *s);
/* Serializes (and decrefs) obj as the JSON body with the given status. */
void rest_json(rest_response *resp, int status, json_t *obj);
/* A query parameter, or NULL. */
const char *rest_query(const rest_request *req, const char *name);

#endif
