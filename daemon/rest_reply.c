/* rest_reply.c: the error table and the response helpers (see rest_reply.h). Every error
 * has the shape {"error":{"code","message"}} from rest_errors. */
#include "daemon/rest_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

const rest_error_info rest_errors[REST_ERR_COUNT] = {
    [REST_ERR_UNAUTHORIZED] = {"unauthorized", 401,
                               "a bearer token is required: send `Authorization: Bearer <token>`"},
    [REST_ERR_FORBIDDEN] = {"forbidden", 403, "this endpoint needs an admin token"},
    [REST_ERR_NOT_FOUND] = {"not_found", 404, "no such endpoint (see docs/openapi.yaml)"},
    [REST_ERR_METHOD] = {"method_not_allowed", 405, "method not allowed on this endpoint"},
    [REST_ERR_BAD_PARAM] = {"bad_parameter", 400, "bad query parameter"},
    [REST_ERR_BAD_UID] = {"invalid_uid", 400,
                          "not a valid DICOM UID (1-64 digits and dots, no leading zeros)"},
    [REST_ERR_STUDY_NOT_FOUND] = {"study_not_found", 404, "no study with this UID"},
    [REST_ERR_BODY_TOO_LARGE] = {"body_too_large", 413, "request body too large"},
    [REST_ERR_URI_TOO_LONG] = {"uri_too_long", 414,
                               "request URI longer than 8192 bytes or with more than 64 query parameters"},
    [REST_ERR_BUSY] = {"conflict", 409, "the study cannot be rescored in its current state"},
    [REST_ERR_NO_MODEL] = {"no_model", 409, "no model is configured (scoring.model)"},
    [REST_ERR_INTERNAL] = {"internal", 500, "internal error (see the daemon log)"},
};

json_t *rest_str(const char *s) {
    if (!s) s = "";
    size_t n = strlen(s);
    if (utf8_valid(s, n)) return json_stringn(s, n);
    size_t cap = n * 3 + 1;   /* each invalid byte may become 3 (U+FFFD) */
    char *clean = malloc(cap);
    if (!clean) return NULL;
    size_t w = utf8_sanitize(s, n, clean, cap);
    json_t *j = json_stringn(clean, w);
    free(clean);
    return j;
}

void rest_json(rest_response *resp, int status, json_t *obj) {
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text) {
        resp->status = 500;
        resp->body = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
    } else {
        resp->status = status;
        resp->body = text;
    }
    resp->content_type = "application/json";
}

void rest_error(rest_response *resp, rest_err e, const char *fmt, ...) {
    char msg[512];
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (w >= (int)sizeof msg) msg[utf8_prefix(msg, sizeof msg - 1)] = '\0';   /* cut whole */
    } else {
        snprintf(msg, sizeof msg, "%s", rest_errors[e].message);
    }
    rest_json(resp, rest_errors[e].http_status,
              json_pack("{s:{s:s,s:o}}", "error", "code", rest_errors[e].code, "message", rest_str(msg)));
}

const char *rest_query(const rest_request *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

