/* config.c: the settings table and everything derived from it (see config.h). */
#include "daemon/config.h"

#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

typedef enum cfg_type { T_STR, T_INT, T_BOOL, T_DURATION, T_LEVEL, T_CATEGORIES, T_SIZE } cfg_type;

typedef struct cfg_entry {
    const char *name;
    cfg_type type;
    size_t offset;
    size_t size;          /* T_STR: capacity of the char array */
    const char *def;      /* default, as text */
    int64_t min, max;     /* T_INT / T_DURATION (ms) bounds */
    const char *help;
} cfg_entry;

#define F(field) offsetof(mamad_config, field), sizeof(((mamad_config *)0)->field)

static const cfg_entry table[] = {
    {"node.id", T_STR, F(node_id), "", 0, 0,
     "This node's name, written on every change, result and scoring claim (empty: the host "
     "name). Nodes sharing one index need distinct ids."},
    {"dicom.enabled", T_BOOL, F(dicom_enabled), "true", 0, 1,
     "Run the DICOM listener. false: a scorer-only node (it scores what other nodes receive)."},
    {"dicom.ae_title", T_STR, F(dicom_ae_title), "MAMAD", 0, 0,
     "Called AE title the SCP answers to (1-16 characters); associations to another title are rejected."},
    {"dicom.bind", T_STR, F(dicom_bind), "127.0.0.1", 0, 0,
     "IPv4 address or host name the DICOM listener binds to (empty: all interfaces); "
     "dicom.allow still decides who may store."},
    {"dicom.port", T_INT, F(dicom_port), "11112", 0, 65535,
     "DICOM listener TCP port (0: a free ephemeral port, logged at start; for tests)."},
    {"dicom.max_associations", T_INT, F(dicom_max_associations), "8", 1, 256,
     "Associations served at once; when all are busy a new one is rejected with a reason."},
    {"dicom.acse_timeout", T_INT, F(dicom_acse_timeout_s), "30", 1, 3600,
     "Seconds to wait for association negotiation messages."},
    {"dicom.dimse_timeout", T_INT, F(dicom_dimse_timeout_s), "60", 1, 3600,
     "Seconds to wait for the next DIMSE message or data of an instance."},
    {"dicom.max_pdu", T_INT, F(dicom_max_pdu), "0", 0, 1048576,
     "Largest PDU received, bytes (0 = DCMTK's default)."},
    {"dicom.request_timeout", T_INT, F(dicom_request_timeout_s), "5", 1, 3600,
     "Seconds a new connection has to send its whole association request; then it is "
     "closed (at most dicom.acse_timeout)."},
    {"dicom.max_pending_per_host", T_INT, F(dicom_max_pending_per_host), "8", 1, 256,
     "Connections of one host that may be waiting to send their association request; more "
     "are closed at accept. Hosts on no dicom.allow entry are always closed at accept."},
    {"dicom.max_associations_per_host", T_INT, F(dicom_max_assoc_per_host), "0", 0, 256,
     "Associations one host may hold at once (0: dicom.max_associations); more are "
     "rejected as local limit exceeded."},
    {"dicom.tls_cert", T_STR, F(dicom_tls_cert), "", 0, 0,
     "PEM certificate for DICOM TLS (DCMTK's TLS layer, BCP 195 TLS Secure Transport "
     "profile); with dicom.tls_key every association must use TLS. Empty: no TLS."},
    {"dicom.tls_key", T_STR, F(dicom_tls_key), "", 0, 0,
     "PEM private key for dicom.tls_cert; refused when group or others can read it."},
    {"dicom.tls_ca", T_STR, F(dicom_tls_ca), "", 0, 0,
     "PEM file of the certificates trusted to sign client (sender) certificates."},
    {"dicom.tls_require_client_cert", T_BOOL, F(dicom_tls_require_client_cert), "true", 0, 1,
     "With TLS: refuse senders without a client certificate signed by dicom.tls_ca."},
    {"dicom.allow", T_STR, F(dicom_allow), "", 0, 0,
     "Space-separated CALLING_AE@host entries allowed to store (\"*\" matches any AE or host). "
     "Empty denies everybody."},
    {"dicom.accept_secondary_capture", T_BOOL, F(dicom_accept_secondary_capture), "false", 0, 1,
     "Also accept Secondary Capture images (1.2.840.10008.5.1.4.1.1.7, e.g. CBIS-DDSM) whose "
     "Modality is MG or Body Part Examined BREAST; laterality and view come from the tags such "
     "data carry (docs/operations.md)."},
    {"storage.dir", T_STR, F(storage_dir), "/var/lib/mamad/storage", 0, 0,
     "Directory of the stored instances (tmp/ inside it holds transfers in progress)."},
    {"storage.index", T_STR, F(storage_index), "/var/lib/mamad/index.sqlite", 0, 0,
     "The index: an SQLite file (WAL mode: keep it on a local file system), or a PostgreSQL "
     "URI (postgresql://user@host/db) shared by several nodes (docs/scale-out.md)."},
    {"storage.reserve", T_INT, F(storage_reserve_mb), "512", 0, 1048576,
     "Free space (MB) kept on the storage file system: below it C-STOREs are answered "
     "0xA700 (out of resources, the sender retries later) before the disk is truly full, so "
     "the index always has room; /health reports it. 0 = no reserve."},
    {"storage.retention", T_DURATION, F(storage_retention_ms), "0", 0, 315360000000LL,
     "Delete a study this long after it was scored (or failed) once its results are delivered "
     "(e.g. 30d; 0: keep studies). Receiving, queued, scoring and undelivered studies are never removed."},
    {"storage.max_size", T_SIZE, F(storage_max_size), "0", 0, INT64_MAX,
     "Most bytes of instances and results kept (e.g. 500G; 0: no limit): beyond it the oldest "
     "finished, delivered studies are removed first."},
    {"storage.retention_check", T_DURATION, F(storage_retention_check_ms), "60s", 10, 86400000,
     "How often retention and max_size are applied."},
    {"rest.enabled", T_BOOL, F(rest_enabled), "true", 0, 1,
     "Serve the REST API. It also stays off, with a log line saying so, when no token is configured."},
    {"rest.bind", T_STR, F(rest_bind), "127.0.0.1", 0, 0, "Address the REST server binds to."},
    {"rest.port", T_INT, F(rest_port), "8042", 0, 65535,
     "REST server TCP port (0: a free ephemeral port, logged at start; for tests)."},
    {"rest.threads", T_INT, F(rest_threads), "4", 1, 64, "REST worker threads."},
    {"rest.max_body", T_INT, F(rest_max_body), "65536", 0, 16777216,
     "Largest request body accepted, bytes; larger requests get 413."},
    {"rest.max_connections", T_INT, F(rest_max_connections), "256", 4, 4096,
     "REST connections open at once; more are refused at accept."},
    {"rest.max_connections_per_ip", T_INT, F(rest_max_connections_per_ip), "16", 1, 4096,
     "REST connections one client address may hold open; more are refused at accept."},
    {"rest.connection_timeout", T_INT, F(rest_connection_timeout_s), "10", 1, 3600,
     "Seconds a REST connection may stay idle (or send its request) before it is closed."},
    {"rest.tls_cert", T_STR, F(rest_tls_cert), "", 0, 0,
     "PEM certificate (chain) for HTTPS; with rest.tls_key the REST API speaks only TLS "
     "(libmicrohttpd + GnuTLS). Empty: plain HTTP (keep rest.bind on loopback then)."},
    {"rest.tls_key", T_STR, F(rest_tls_key), "", 0, 0,
     "PEM private key for rest.tls_cert; refused when group or others can read it."},
    {"rest.token_file", T_STR, F(rest_token_file), "", 0, 0,
     "File of bearer tokens, one `ROLE TOKEN` per line (ROLE is read or admin; # comments). "
     "Keep it mode 0600."},
    {"rest.token_env", T_STR, F(rest_token_env), "MAMAD_TOKENS", 0, 0,
     "Environment variable with more tokens as `ROLE:TOKEN,ROLE:TOKEN` (\"\" to ignore)."},
    {"rest.web_dir", T_STR, F(rest_web_dir), "", 0, 0,
     "Directory of the dashboard's files (index.html, app.js, style.css), served at /. "
     "Empty: share/mamad/web of the installation."},
    {"grouper.stable_age", T_DURATION, F(grouper_stable_age_ms), "120s", 10, 86400000,
     "A receiving study with no new instance for this long times out and is scored "
     "as incomplete (units ms, s, m, h; a bare number is seconds)."},
    {"grouper.max_wait", T_DURATION, F(grouper_max_wait_ms), "1h", 10, 604800000,
     "Longest a study stays receiving after its first instance, even while images trickle in."},
    {"grouper.tick", T_DURATION, F(grouper_tick_ms), "100ms", 10, 60000,
     "How often deadlines are checked."},
    {"scoring.model", T_STR, F(scoring_model), "", 0, 0,
     "Model file (safetensors). Empty: no model, complete studies wait in `queued`."},
    {"scoring.workers", T_INT, F(scoring_workers), "1", 0, 16,
     "Scoring worker threads (0: a receiver-only node; other nodes score)."},
    {"scoring.threads", T_INT, F(scoring_threads), "0", 0, 256,
     "Engine threads per scoring worker; 0: the online CPUs divided by scoring.workers "
     "(at least 1), so that workers do not oversubscribe the machine."},
    {"scoring.max_attempts", T_INT, F(scoring_max_attempts), "3", 1, 100,
     "Scoring attempts before a study is marked failed."},
    {"scoring.lease", T_DURATION, F(scoring_lease_ms), "60s", 100, 3600000,
     "A scoring claim lapses this long after its last renewal (renewed every third of it "
     "while scoring); then any node queues the study again."},
    {"forward.destinations", T_STR, F(forward_destinations), "", 0, 0,
     "Where results go: space-separated AE@host:port[/objects] entries, objects being sr, "
     "overview or sr+overview (the default). Empty: results stay in mamad."},
    {"forward.calling_ae", T_STR, F(forward_calling_ae), "", 0, 0,
     "Calling AE title of the outbox's associations (empty: dicom.ae_title)."},
    {"forward.max_attempts", T_INT, F(forward_max_attempts), "10", 1, 1000,
     "Sends of one object to one destination before it is marked failed."},
    {"forward.retry", T_DURATION, F(forward_retry_ms), "10s", 10, 86400000,
     "Wait before the second try; it doubles with every failure, at most 1h."},
    {"forward.timeout", T_INT, F(forward_timeout_s), "30", 1, 3600,
     "Seconds to wait for the destination (connect, association, C-STORE response)."},
    {"log.level", T_LEVEL, F(log_level), "info", 0, 0, "error, warn, info or debug."},
    {"log.categories", T_CATEGORIES, F(log_categories), "all", 0, 0,
     "Comma-separated categories to log: main, dicom, http, db, engine, or all."},
    {"log.syslog", T_BOOL, F(log_syslog), "false", 0, 1, "Log to syslog instead of stderr."},
    {"log.access_file", T_STR, F(log_access_file), "/var/log/mamad/access.log", 0, 0,
     "REST audit log, one JSON line per request (time, client, role, token id - not the "
     "token -, method, path, status, bytes; no patient data), apart from the service log. "
     "\"\" turns it off."},
};
#define N_ENTRIES (sizeof table / sizeof table[0])

unsigned config_categories_mask(const char *list) {
    static const struct { const char *name; unsigned bit; } cats[] = {
        {"main", LOG_CAT_MAIN}, {"dicom", LOG_CAT_DICOM}, {"http", LOG_CAT_HTTP},
        {"db", LOG_CAT_DB}, {"engine", LOG_CAT_ENGINE}, {"all", LOG_CAT_ALL},
    };
    char buf[128];
    unsigned mask = 0;
    if (strlen(list) >= sizeof buf) return 0;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof cats / sizeof cats[0]; i++)
            if (!strcasecmp(tok, cats[i].name)) bit = cats[i].bit;
        if (!bit) return 0;
        mask |= bit;
    }
    return mask;
}

static const cfg_entry *find(const char *key) {
    for (size_t i = 0; i < N_ENTRIES; i++)
        if (strcmp(table[i].name, key) == 0) return &table[i];
    return NULL;
}

static int parse_int(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int parse_duration(const char *s, int64_t *out_ms) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0) return -1;
    double mul;
    if (!*end || strcmp(end, "s") == 0) mul = 1000;
    else if (strcmp(end, "ms") == 0) mul = 1;
    else if (strcmp(end, "m") == 0) mul = 60000;
    else if (strcmp(end, "h") == 0) mul = 3600000;
    else if (strcmp(end, "d") == 0) mul = 86400000;
    else return -1;
    double ms = v * mul;
    if (ms > 9e15) return -1;
    *out_ms = (int64_t)(ms + 0.5);
    return 0;
}

/* Bytes with an optional binary suffix: 500, 64K, 10M, 2G, 1T. */
static int parse_size(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0) return -1;
    double mul = 1;
    if (!strcmp(end, "K")) mul = 1024.0;
    else if (!strcmp(end, "M")) mul = 1024.0 * 1024;
    else if (!strcmp(end, "G")) mul = 1024.0 * 1024 * 1024;
    else if (!strcmp(end, "T")) mul = 1024.0 * 1024 * 1024 * 1024;
    else if (*end) return -1;
    if (v * mul > 9e18) return -1;
    *out = (int64_t)(v * mul + 0.5);
    return 0;
}

int config_set(mamad_config *cfg, const char *key, const char *value, char *err, size_t errlen) {
    const cfg_entry *e = find(key);
    if (!e) {
        snprintf(err, errlen, "unknown setting '%s' (see mamad --help for the list)", key);
        return -1;
    }
    char *field = (char *)cfg + e->offset;
    int64_t v = 0;
    switch (e->type) {
    case T_STR:
        if (strlen(value) >= e->size) {
            snprintf(err, errlen, "%s: value longer than %zu characters", key, e->size - 1);
            return -1;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case T_LEVEL:
        if (strcasecmp(value, "error") && strcasecmp(value, "warn") &&
            strcasecmp(value, "info") && strcasecmp(value, "debug")) {
            snprintf(err, errlen, "%s: '%s' is not one of error, warn, info, debug", key, value);
            return -1;
        }
        snprintf(field, e->size, "%s", value);
        return 0;
    case T_CATEGORIES:
        if (config_categories_mask(value) == 0) {
            snprintf(err, errlen, "%s: '%s' is not a list of main, dicom, http, db, engine, all", key, value);
            return -1;
        }
        if (strlen(value) >= e->size) {
            snprintf(err, errlen, "%s: value too long", key);
            return -1;
        }
        snprintf(field, e->size, "%s", value);
        return 0;
    case T_BOOL:
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1") ||
            !strcasecmp(value, "on")) v = 1;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcmp(value, "0") ||
                 !strcasecmp(value, "off")) v = 0;
        else {
            snprintf(err, errlen, "%s: '%s' is not a boolean (true/false)", key, value);
            return -1;
        }
        break;
    case T_INT:
        if (parse_int(value, &v) != 0) {
            snprintf(err, errlen, "%s: '%s' is not an integer", key, value);
            return -1;
        }
        break;
    case T_DURATION:
        if (parse_duration(value, &v) != 0) {
            snprintf(err, errlen, "%s: '%s' is not a duration (e.g. 500ms, 2s, 5m, 1h, 30d)", key, value);
            return -1;
        }
        break;
    case T_SIZE:
        if (parse_size(value, &v) != 0) {
            snprintf(err, errlen, "%s: '%s' is not a size (bytes, or with K, M, G, T)", key, value);
            return -1;
        }
        break;
    }
    if (e->type != T_BOOL && (v < e->min || v > e->max)) {
        if (e->type == T_DURATION)
            snprintf(err, errlen, "%s: %s is outside %lldms..%lldms", key, value,
                     (long long)e->min, (long long)e->max);
        else
            snprintf(err, errlen, "%s: %s is outside %lld..%lld", key, value, (long long)e->min,
                     (long long)e->max);
        return -1;
    }
    memcpy(field, &v, sizeof v);
    return 0;
}

void config_defaults(mamad_config *cfg) {
    char err[256];
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_ENTRIES; i++) {
        int rc = config_set(cfg, table[i].name, table[i].def, err, sizeof err);
        (void)rc; /* defaults are within their own bounds (checked by the unit test) */
    }
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

int config_load_file(mamad_config *cfg, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read config %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096], section[64] = "";
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';') continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end || end[1] || end - s - 1 >= (long)sizeof section) {
                snprintf(err, errlen, "%s:%d: bad section header", path, lineno);
                rc = -1;
                break;
            }
            *end = '\0';
            snprintf(section, sizeof section, "%s", trim(s + 1));
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected `key = value`", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        char full[160];
        if (section[0] && !strchr(key, '.')) snprintf(full, sizeof full, "%s.%s", section, key);
        else snprintf(full, sizeof full, "%s", key);
        char msg[300];
        if (config_set(cfg, full, value, msg, sizeof msg) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

static int add_token(mamad_config *cfg, const char *role, const char *token, const char *where,
                     char *err, size_t errlen) {
    config_role r;
    if (!strcasecmp(role, "read")) r = CONFIG_ROLE_READ;
    else if (!strcasecmp(role, "admin")) r = CONFIG_ROLE_ADMIN;
    else {
        snprintf(err, errlen, "%s: role '%s' is not read or admin", where, role);
        return -1;
    }
    size_t n = strlen(token);
    if (n < 16 || n >= sizeof cfg->tokens[0].token) {
        snprintf(err, errlen, "%s: a token must be 16..127 characters (make one with "
                 "`head -c 24 /dev/urandom | base64`)", where);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)token[i])) {
            snprintf(err, errlen, "%s: a token must be printable without spaces", where);
            return -1;
        }
    if (cfg->n_tokens == CONFIG_MAX_TOKENS) {
        snprintf(err, errlen, "%s: more than %d tokens", where, CONFIG_MAX_TOKENS);
        return -1;
    }
    snprintf(cfg->tokens[cfg->n_tokens].token, sizeof cfg->tokens[0].token, "%s", token);
    cfg->tokens[cfg->n_tokens++].role = r;
    return 0;
}

/* "<what>.tls_cert" and "<what>.tls_key": both or neither, the key mode 0600 or stricter. */
static int check_tls_pair(const char *what, const char *cert, const char *key, char *err, size_t errlen) {
    if (!cert[0] != !key[0]) {
        snprintf(err, errlen, "%s.tls_cert and %s.tls_key go together (set both, or neither)", what, what);
        return -1;
    }
    if (!key[0]) return 0;
    struct stat kst;
    if (stat(key, &kst) != 0) {
        snprintf(err, errlen, "%s.tls_key %s: %s", what, key, strerror(errno));
        return -1;
    }
    if (kst.st_mode & 077) {
        snprintf(err, errlen, "%s.tls_key %s is readable by group or others (mode %04o): run `chmod 600 %s`",
                 what, key, (unsigned)(kst.st_mode & 07777), key);
        return -1;
    }
    return 0;
}

/* forward.destinations: AE@host:port[/sr|overview|sr+overview] */
static int parse_forward(mamad_config *cfg, char *err, size_t errlen) {
    cfg->n_forward = 0;
    char list[sizeof cfg->forward_destinations];
    snprintf(list, sizeof list, "%s", cfg->forward_destinations);
    for (char *save = NULL, *tok = strtok_r(list, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
        char *at = strchr(tok, '@'), *colon = at ? strrchr(at, ':') : NULL, *slash = strchr(tok, '/');
        if (slash) *slash = '\0';
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        if (!at || at == tok || at - tok > 16 || !colon || colon == at + 1 || colon - at > 63 ||
            !end || *end || port < 1 || port > 65535) {
            snprintf(err, errlen, "forward.destinations: '%s' is not AE@host:port[/objects]", tok);
            return -1;
        }
        unsigned objects = CONFIG_FWD_SR | CONFIG_FWD_OVERVIEW;
        if (slash) {
            objects = 0;
            for (char *s2 = NULL, *o = strtok_r(slash + 1, "+", &s2); o; o = strtok_r(NULL, "+", &s2)) {
                if (!strcmp(o, "sr")) objects |= CONFIG_FWD_SR;
                else if (!strcmp(o, "overview")) objects |= CONFIG_FWD_OVERVIEW;
                else {
                    snprintf(err, errlen, "forward.destinations: unknown object '%s' (sr, overview)", o);
                    return -1;
                }
            }
        }
        if (cfg->n_forward == CONFIG_MAX_FORWARD) {
            snprintf(err, errlen, "forward.destinations: more than %d entries", CONFIG_MAX_FORWARD);
            return -1;
        }
        config_forward *f = &cfg->forward[cfg->n_forward++];
        snprintf(f->ae, sizeof f->ae, "%.*s", (int)(at - tok), tok);
        snprintf(f->host, sizeof f->host, "%.*s", (int)(colon - at - 1), at + 1);
        f->port = (int)port;
        f->objects = objects;
        snprintf(f->name, sizeof f->name, "%.*s@%.*s:%ld", (int)(at - tok), tok, (int)(colon - at - 1), at + 1,
                 port);
    }
    if (strlen(cfg->forward_calling_ae) > 16) {
        snprintf(err, errlen, "forward.calling_ae must be at most 16 characters");
        return -1;
    }
    return 0;
}

int config_finish(mamad_config *cfg, char *err, size_t errlen) {
    size_t ael = strlen(cfg->dicom_ae_title);
    if (ael == 0 || ael > 16) {
        snprintf(err, errlen, "dicom.ae_title must be 1..16 characters");
        return -1;
    }
    if (!cfg->storage_dir[0] || !cfg->storage_index[0]) {
        snprintf(err, errlen, "storage.dir and storage.index must be set");
        return -1;
    }
    if (!cfg->node_id[0] && gethostname(cfg->node_id, sizeof cfg->node_id - 1) != 0)
        snprintf(cfg->node_id, sizeof cfg->node_id, "mamad");
    for (const char *p = cfg->node_id; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_.", *p)) {
            snprintf(err, errlen, "node.id '%s': use letters, digits, '-', '_' and '.' only",
                     cfg->node_id);
            return -1;
        }
    /* allow-list */
    cfg->n_allow = 0;
    char list[sizeof cfg->dicom_allow];
    snprintf(list, sizeof list, "%s", cfg->dicom_allow);
    for (char *save = NULL, *tok = strtok_r(list, " \t,", &save); tok;
         tok = strtok_r(NULL, " \t,", &save)) {
        char *at = strchr(tok, '@');
        if (!at || at == tok || !at[1] || at - tok > 16 || strlen(at + 1) >= 64) {
            snprintf(err, errlen, "dicom.allow: '%s' is not CALLING_AE@host", tok);
            return -1;
        }
        if (cfg->n_allow == CONFIG_MAX_ALLOW) {
            snprintf(err, errlen, "dicom.allow: more than %d entries", CONFIG_MAX_ALLOW);
            return -1;
        }
        config_allow *a = &cfg->allow[cfg->n_allow++];
        snprintf(a->calling_ae, sizeof a->calling_ae, "%.*s", (int)(at - tok), tok);
        snprintf(a->host, sizeof a->host, "%s", at + 1);
    }
    /* TLS (REST, DICOM): certificate and key together; the key readable by its owner only */
    if (check_tls_pair("rest", cfg->rest_tls_cert, cfg->rest_tls_key, err, errlen) != 0 ||
        check_tls_pair("dicom", cfg->dicom_tls_cert, cfg->dicom_tls_key, err, errlen) != 0)
        return -1;
    if (cfg->dicom_tls_cert[0] && cfg->dicom_tls_require_client_cert && !cfg->dicom_tls_ca[0]) {
        snprintf(err, errlen, "dicom.tls_require_client_cert needs dicom.tls_ca (the certificates "
                 "trusted to sign the senders' certificates), or set it to false");
        return -1;
    }
    if (parse_forward(cfg, err, errlen) != 0) return -1;
    /* tokens: file, then environment */
    cfg->n_tokens = 0;
    if (cfg->rest_token_file[0]) {
        FILE *f = fopen(cfg->rest_token_file, "r");
        if (!f) {
            snprintf(err, errlen, "rest.token_file %s: %s", cfg->rest_token_file, strerror(errno));
            return -1;
        }
        /* The tokens are passwords: a file others can read is refused, not warned about. */
        struct stat tst;
        if (fstat(fileno(f), &tst) != 0 || (tst.st_mode & 077)) {
            snprintf(err, errlen, "rest.token_file %s is readable by group or others (mode %04o): "
                     "the tokens are secrets; run `chmod 600 %s`", cfg->rest_token_file,
                     (unsigned)(tst.st_mode & 07777), cfg->rest_token_file);
            fclose(f);
            return -1;
        }
        char line[512];
        int lineno = 0, rc = 0;
        while (rc == 0 && fgets(line, sizeof line, f)) {
            lineno++;
            char *s = trim(line);
            if (!*s || *s == '#') continue;
            char *save = NULL, *role = strtok_r(s, " \t", &save), *tok = strtok_r(NULL, " \t", &save);
            char where[600];
            snprintf(where, sizeof where, "%s:%d", cfg->rest_token_file, lineno);
            if (!role || !tok || strtok_r(NULL, " \t", &save)) {
                snprintf(err, errlen, "%s: expected `ROLE TOKEN`", where);
                rc = -1;
            } else rc = add_token(cfg, role, tok, where, err, errlen);
        }
        fclose(f);
        if (rc) return -1;
    }
    const char *env = cfg->rest_token_env[0] ? getenv(cfg->rest_token_env) : NULL;
    if (env && *env) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", env);
        for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
             item = strtok_r(NULL, ",", &save)) {
            char *colon = strchr(item, ':');
            char where[96];
            snprintf(where, sizeof where, "environment %s", cfg->rest_token_env);
            if (!colon) {
                snprintf(err, errlen, "%s: expected ROLE:TOKEN", where);
                return -1;
            }
            *colon = '\0';
            if (add_token(cfg, trim(item), trim(colon + 1), where, err, errlen)) return -1;
        }
    }
    return 0;
}

int config_token_role(const mamad_config *cfg, const char *token) {
    int role = 0;
    size_t n = strlen(token);
    for (int i = 0; i < cfg->n_tokens; i++) {
        const char *t = cfg->tokens[i].token;
        size_t m = strlen(t);
        unsigned diff = (unsigned)(n ^ m);
        for (size_t k = 0; k < m; k++) diff |= (unsigned char)t[k] ^ (unsigned char)(k < n ? token[k] : 0);
        if (diff == 0) role = (int)cfg->tokens[i].role;
    }
    return role;
}

static void bounds_text(const cfg_entry *e, char *buf, size_t n) {
    buf[0] = '\0';
    if (e->type == T_INT) snprintf(buf, n, "%lld..%lld", (long long)e->min, (long long)e->max);
    else if (e->type == T_DURATION) snprintf(buf, n, "%lldms..%lldms", (long long)e->min, (long long)e->max);
}

static const char *type_name(cfg_type t) {
    switch (t) {
    case T_STR: return "string";
    case T_INT: return "integer";
    case T_BOOL: return "boolean";
    case T_DURATION: return "duration";
    case T_LEVEL: return "level";
    case T_CATEGORIES: return "list";
    case T_SIZE: return "size";
    }
    return "?";
}

void config_print_help(FILE *out) {
    for (size_t i = 0; i < N_ENTRIES; i++) {
        char b[64];
        bounds_text(&table[i], b, sizeof b);
        fprintf(out, "  %-24s %s, default \"%s\"%s%s\n      %s\n", table[i].name,
                type_name(table[i].type), table[i].def, b[0] ? ", " : "", b, table[i].help);
    }
}

void config_print_markdown(FILE *out) {
    fprintf(out,
            "# mamad configuration\n\n"
            "<!-- Generated by `mamad --config-doc` from the settings table in daemon/config.c;\n"
            "     a quick test fails when this file and the table disagree. -->\n\n"
            "mamad reads a `key = value` file (`mamad -c FILE`) with `[section]` headers; a key\n"
            "`port` under `[dicom]` is the setting `dicom.port`. `#` and `;` start comments.\n"
            "Every setting can be overridden on the command line with `--set key=value`.\n"
            "Durations take the units ms, s, m, h (a bare number is seconds).\n\n"
            "There are no default tokens or passwords: the REST API needs at least one token\n"
            "(rest.token_file or the variable named by rest.token_env); without one it stays\n"
            "off and the log says so, while DICOM reception keeps working.\n\n"
            "| Setting | Type | Default | Range | Meaning |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < N_ENTRIES; i++) {
        char b[64];
        bounds_text(&table[i], b, sizeof b);
        fprintf(out, "| `%s` | %s | `%s` | %s | %s |\n", table[i].name, type_name(table[i].type),
                table[i].def, b, table[i].help);
    }
}
