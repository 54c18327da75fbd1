/* access_log.h: the REST audit trail, separate from the service log (a hospital's audit
 * asks who read what, when): one JSON line per answered request with the time, client
 * address, token role, a token id that is not the token (the first 16 hex digits of its
 * SHA-256: enough to tell tokens apart, useless to log in with), method, path (without
 * the query string), status and body bytes. No patient data: the API's paths carry UIDs
 * only, and bodies are never logged. */
#ifndef MAMA_ACCESS_LOG_H
#define MAMA_ACCESS_LOG_H

#include <stddef.h>

typedef struct access_log access_log;

/* Opens path for appending (created 0640). NULL with the reason in err. */
access_log *access_log_open(const char *path, char *err, size_t errlen);
void access_log_close(access_log *a);

/* The id of a bearer token: 16 hex digits of SHA-256(token), into out[17]. */
void access_log_token_id(const char *token, char out[17]);

/* One line; thread-safe; a failed write is counted, never fatal. role: "read", "admin"
 * or "" (none); token_id "" when no token was sent. */
void access_log_write(access_log *a, const char *client, const char *role, const char *token_id,
                      const char *method, const char *path, int status, size_t bytes);

#endif
