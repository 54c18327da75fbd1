/* access_log.c: see access_log.h. */
#include "daemon/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/log.h"
#include "common/utf8.h"

struct access_log {
    int fd;
    pthread_mutex_t mu;
    unsigned long failed;
};

access_log *access_log_open(const char *path, char *err, size_t errlen) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "access log %s: %s (set log.access_file, or \"\" to turn it off)", path,
                 strerror(errno));
        return NULL;
    }
    access_log *a = calloc(1, sizeof *a);
    if (!a) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->fd = fd;
    pthread_mutex_init(&a->mu, NULL);
    return a;
}

void access_log_close(access_log *a) {
    if (!a) return;
    close(a->fd);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

void access_log_token_id(const char *token, char out[17]) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (!token || !token[0] || EVP_Digest(token, strlen(token), d, &n, EVP_sha256(), NULL) != 1) return;
    for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* JSON string of text as valid UTF-8 (paths may hold anything a client sent). */
static json_t *text(const char *s) {
    if (!s) s = "";
    size_t n = strlen(s), cap = n * 3 + 1;
    char *c = malloc(cap);
    if (!c) return json_string("");
    size_t w = utf8_sanitize(s, n, c, cap);
    json_t *j = json_stringn(c, w);
    free(c);
    return j;
}

void access_log_write(access_log *a, const char *client, const char *role, const char *token_id,
                      const char *method, const char *path, int status, size_t bytes) {
    if (!a) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
    char p[1024];
    snprintf(p, sizeof p, "%s", path ? path : "");
    p[strcspn(p, "?")] = '\0';   /* never the query string */
    json_t *o = json_pack("{s:s,s:o,s:s,s:s,s:o,s:o,s:i,s:I}", "time", when, "client", text(client),
                          "role", role ? role : "", "token_id", token_id ? token_id : "", "method",
                          text(method), "path", text(p), "status", status, "bytes", (json_int_t)bytes);
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!line) return;
    size_t n = strlen(line);
    line[n] = '\n';   /* json_dumps' NUL becomes the newline: one write per line */
    pthread_mutex_lock(&a->mu);
    ssize_t w = write(a->fd, line, n + 1);
    if (w != (ssize_t)(n + 1) && a->failed++ == 0)
        log_error(LOG_CAT_HTTP, "cannot write the access log: %s", w < 0 ? strerror(errno) : "short write");
    pthread_mutex_unlock(&a->mu);
    free(line);
}
