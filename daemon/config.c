/* config.c: mamad's settings table (the machinery is common/config_table.c) and the
 * checks and derived values that are mamad's own (allow-list, tokens, forwarding). */
#include "daemon/config.h"

#include "common/config_table.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define F(field) .offset = offsetof(mamad_config, field), .size = sizeof(((mamad_config *)0)->field)

static int check_categories(const char *value, char *err, size_t errlen);

static const cfgt_entry entries[] = {
    {.name = "node.id", .type = CFGT_STR, F(node_id), .def = "",
     .help = "This node's name, written on every change, result and scoring claim (empty: the "
     "host name). Nodes sharing one index need distinct ids."},
    {.name = "dicom.enabled", .type = CFGT_BOOL, F(dicom_enabled), .def = "true",
     .help = "Run the DICOM listener. false: a scorer-only node (it scores what other nodes receive)."},
    {.name = "dicom.ae_title", .type = CFGT_STR, F(dicom_ae_title), .def = "MAMAD",
     .help = "Called AE title the SCP answers to (1-16 characters); associations to another title are rejected."},
    {.name = "dicom.bind", .type = CFGT_STR, F(dicom_bind), .def = "127.0.0.1",
     .help = "IPv4 address or host name the DICOM listener binds to (empty: all interfaces); "
     "dicom.allow still decides who may store."},
    {.name = "dicom.port", .type = CFGT_INT, F(dicom_port), .def = "11112", .min = 0, .max = 65535,
     .help = "DICOM listener TCP port (0: a free ephemeral port, logged at start; for tests)."},
    {.name = "dicom.max_associations", .type = CFGT_INT, F(dicom_max_associations), .def = "8", .min = 1, .max = 256,
     .help = "Associations served at once; when all are busy a new one is rejected with a reason."},
    {.name = "dicom.acse_timeout", .type = CFGT_INT, F(dicom_acse_timeout_s), .def = "30", .min = 1, .max = 3600,
     .help = "Seconds to wait for association negotiation messages."},
    {.name = "dicom.dimse_timeout", .type = CFGT_INT, F(dicom_dimse_timeout_s), .def = "60", .min = 1, .max = 3600,
     .help = "Seconds to wait for the next DIMSE message or data of an instance."},
    {.name = "dicom.max_pdu", .type = CFGT_INT, F(dicom_max_pdu), .def = "0", .min = 0, .max = 1048576,
     .help = "Largest PDU received, bytes (0 = DCMTK's default)."},
    {.name = "dicom.request_timeout", .type = CFGT_INT, F(dicom_request_timeout_s), .def = "5", .min = 1, .max = 3600,
     .help = "Seconds a new connection has to send its whole association request; then it is "
     "closed (at most dicom.acse_timeout)."},
    {.name = "dicom.max_pending_per_host", .type = CFGT_INT, F(dicom_max_pending_per_host), .def = "8", .min = 1, .max = 256,
     .help = "Connections of one host that may be waiting to send their association request; more "
     "are closed at accept. Hosts on no dicom.allow entry are always closed at accept."},
    {.name = "dicom.max_associations_per_host", .type = CFGT_INT, F(dicom_max_assoc_per_host), .def = "0", .min = 0, .max = 256,
     .help = "Associations one host may hold at once (0: dicom.max_associations); more are "
     "rejected as local limit exceeded."},
    {.name = "dicom.tls_cert", .type = CFGT_STR, F(dicom_tls_cert), .def = "",
     .help = "PEM certificate for DICOM TLS (DCMTK's TLS layer, BCP 195 TLS Secure Transport "
     "profile); with dicom.tls_key every association must use TLS. Empty: no TLS."},
    {.name = "dicom.tls_key", .type = CFGT_STR, F(dicom_tls_key), .def = "",
     .help = "PEM private key for dicom.tls_cert; refused when group or others can read it."},
    {.name = "dicom.tls_ca", .type = CFGT_STR, F(dicom_tls_ca), .def = "",
     .help = "PEM file of the certificates trusted to sign client (sender) certificates."},
    {.name = "dicom.tls_require_client_cert", .type = CFGT_BOOL, F(dicom_tls_require_client_cert), .def = "true",
     .help = "With TLS: refuse senders without a client certificate signed by dicom.tls_ca."},
    {.name = "dicom.allow", .type = CFGT_STR, F(dicom_allow), .def = "",
     .help = "Space-separated CALLING_AE@host entries allowed to store (\"*\" matches any AE or host). "
     "Empty denies everybody."},
    {.name = "dicom.accept_secondary_capture", .type = CFGT_BOOL, F(dicom_accept_secondary_capture), .def = "false",
     .help = "Also accept Secondary Capture images (1.2.840.10008.5.1.4.1.1.7, e.g. CBIS-DDSM) whose "
     "Modality is MG or Body Part Examined BREAST; laterality and view come from the tags such "
     "data carry (docs/operations.md)."},
    {.name = "storage.dir", .type = CFGT_STR, F(storage_dir), .def = "/var/lib/mamad/storage",
     .help = "Directory of the stored instances (tmp/ inside it holds transfers in progress)."},
    {.name = "storage.index", .type = CFGT_STR, F(storage_index), .def = "/var/lib/mamad/index.sqlite",
     .help = "The index: an SQLite file (WAL mode: keep it on a local file system), or a "
     "PostgreSQL URI (postgresql://user@host/db) shared by several nodes (docs/scale-out.md)."},
    {.name = "storage.reserve", .type = CFGT_INT, F(storage_reserve_mb), .def = "512", .min = 0, .max = 1048576,
     .help = "Free space (MB) kept on the storage file system: below it C-STOREs are answered "
     "0xA700 (out of resources, the sender retries later) before the disk is truly full, so "
     "the index always has room; /health reports it. 0 = no reserve."},
    {.name = "storage.retention", .type = CFGT_DURATION, F(storage_retention_ms), .def = "0", .min = 0, .max = 315360000000LL,
     .help = "Delete a study this long after it was scored (or failed) once its results are delivered "
     "(e.g. 30d; 0: keep studies). Receiving, queued, scoring and undelivered studies are never removed."},
    {.name = "storage.max_size", .type = CFGT_SIZE, F(storage_max_size), .def = "0", .min = 0, .max = INT64_MAX,
     .help = "Most bytes of instances and results kept (e.g. 500G; 0: no limit): beyond it the oldest "
     "finished, delivered studies are removed first."},
    {.name = "storage.retention_check", .type = CFGT_DURATION, F(storage_retention_check_ms), .def = "60s", .min = 10, .max = 86400000,
     .help = "How often retention and max_size are applied."},
    {.name = "rest.enabled", .type = CFGT_BOOL, F(rest_enabled), .def = "true",
     .help = "Serve the REST API. It also stays off, with a log line saying so, when no token is configured."},
    {.name = "rest.bind", .type = CFGT_STR, F(rest_bind), .def = "127.0.0.1",
     .help = "Address the REST server binds to."},
    {.name = "rest.port", .type = CFGT_INT, F(rest_port), .def = "8042", .min = 0, .max = 65535,
     .help = "REST server TCP port (0: a free ephemeral port, logged at start; for tests)."},
    {.name = "rest.threads", .type = CFGT_INT, F(rest_threads), .def = "4", .min = 1, .max = 64,
     .help = "REST worker threads."},
    {.name = "rest.max_body", .type = CFGT_INT, F(rest_max_body), .def = "65536", .min = 0, .max = 16777216,
     .help = "Largest request body accepted, bytes; larger requests get 413."},
    {.name = "rest.max_connections", .type = CFGT_INT, F(rest_max_connections), .def = "256", .min = 4, .max = 4096,
     .help = "REST connections open at once; more are refused at accept."},
    {.name = "rest.max_connections_per_ip", .type = CFGT_INT, F(rest_max_connections_per_ip), .def = "16", .min = 1, .max = 4096,
     .help = "REST connections one client address may hold open; more are refused at accept."},
    {.name = "rest.connection_timeout", .type = CFGT_INT, F(rest_connection_timeout_s), .def = "10", .min = 1, .max = 3600,
     .help = "Seconds a REST connection may stay idle (or send its request) before it is closed."},
    {.name = "rest.tls_cert", .type = CFGT_STR, F(rest_tls_cert), .def = "",
     .help = "PEM certificate (chain) for HTTPS; with rest.tls_key the REST API speaks only TLS "
     "(libmicrohttpd + GnuTLS). Empty: plain HTTP (keep rest.bind on loopback then)."},
    {.name = "rest.tls_key", .type = CFGT_STR, F(rest_tls_key), .def = "",
     .help = "PEM private key for rest.tls_cert; refused when group or others can read it."},
    {.name = "rest.token_file", .type = CFGT_STR, F(rest_token_file), .def = "",
     .help = "File of bearer tokens, one `ROLE TOKEN` per line (ROLE is read or admin; # comments). "
     "Keep it mode 0600."},
    {.name = "rest.token_env", .type = CFGT_STR, F(rest_token_env), .def = "MAMAD_TOKENS",
     .help = "Environment variable with more tokens as `ROLE:TOKEN,ROLE:TOKEN` (\"\" to ignore)."},
    {.name = "rest.web_dir", .type = CFGT_STR, F(rest_web_dir), .def = "",
     .help = "Directory of the dashboard's files (index.html, app.js, style.css), served at /. "
     "Empty: share/mamad/web of the installation."},
    {.name = "grouper.stable_age", .type = CFGT_DURATION, F(grouper_stable_age_ms), .def = "120s", .min = 10, .max = 86400000,
     .help = "A receiving study with no new instance for this long times out and is scored "
     "as incomplete (units ms, s, m, h; a bare number is seconds)."},
    {.name = "grouper.max_wait", .type = CFGT_DURATION, F(grouper_max_wait_ms), .def = "1h", .min = 10, .max = 604800000,
     .help = "Longest a study stays receiving after its first instance, even while images trickle in."},
    {.name = "grouper.tick", .type = CFGT_DURATION, F(grouper_tick_ms), .def = "100ms", .min = 10, .max = 60000,
     .help = "How often deadlines are checked."},
    {.name = "scoring.model", .type = CFGT_STR, F(scoring_model), .def = "",
     .help = "Model file (safetensors). Empty: no model, complete studies wait in `queued`."},
    {.name = "scoring.workers", .type = CFGT_INT, F(scoring_workers), .def = "1", .min = 0, .max = 16,
     .help = "Scoring worker threads (0: a receiver-only node; other nodes score)."},
    {.name = "scoring.precision", .type = CFGT_STR, F(scoring_precision), .def = "fp32",
     .help = "Arithmetic of the image tower: fp32 (the reference), bf16 (bf16 weights, fp32 "
     "accumulation; needs AVX512-BF16 or AMX, else fp32 with a log line) or auto (bf16 where "
     "the CPU has it)."},
    {.name = "scoring.threads", .type = CFGT_INT, F(scoring_threads), .def = "0", .min = 0, .max = 256,
     .help = "Engine threads per scoring worker; 0: the online CPUs divided by scoring.workers "
     "(at least 1), so that workers do not oversubscribe the machine."},
    {.name = "scoring.max_attempts", .type = CFGT_INT, F(scoring_max_attempts), .def = "3", .min = 1, .max = 100,
     .help = "Scoring attempts before a study is marked failed."},
    {.name = "scoring.lease", .type = CFGT_DURATION, F(scoring_lease_ms), .def = "60s", .min = 100, .max = 3600000,
     .help = "A scoring claim lapses this long after its last renewal (renewed every third of it "
     "while scoring); then any node queues the study again."},
    {.name = "forward.destinations", .type = CFGT_STR, F(forward_destinations), .def = "",
     .help = "Where results go: space-separated AE@host:port[/objects] entries, objects being sr, "
     "overview or sr+overview (the default). Empty: results stay in mamad."},
    {.name = "forward.calling_ae", .type = CFGT_STR, F(forward_calling_ae), .def = "",
     .help = "Calling AE title of the outbox's associations (empty: dicom.ae_title)."},
    {.name = "forward.max_attempts", .type = CFGT_INT, F(forward_max_attempts), .def = "10", .min = 1, .max = 1000,
     .help = "Sends of one object to one destination before it is marked failed."},
    {.name = "forward.retry", .type = CFGT_DURATION, F(forward_retry_ms), .def = "10s", .min = 10, .max = 86400000,
     .help = "Wait before the second try; it doubles with every failure, at most 1h."},
    {.name = "forward.timeout", .type = CFGT_INT, F(forward_timeout_s), .def = "30", .min = 1, .max = 3600,
     .help = "Seconds to wait for the destination (connect, association, C-STORE response)."},
    {.name = "log.level", .type = CFGT_ENUM, F(log_level), .def = "info", .label = "level",
     .choices = "error, warn, info, debug",
     .help = "error, warn, info or debug."},
    {.name = "log.categories", .type = CFGT_STR, F(log_categories), .def = "all", .label = "list",
     .check = check_categories,
     .help = "Comma-separated categories to log: main, dicom, http, db, engine, or all."},
    {.name = "log.syslog", .type = CFGT_BOOL, F(log_syslog), .def = "false",
     .help = "Log to syslog instead of stderr."},
    {.name = "log.access_file", .type = CFGT_STR, F(log_access_file), .def = "/var/log/mamad/access.log",
     .help = "REST audit log, one JSON line per request (time, client, role, token id - not the "
     "token -, method, path, status, bytes; no patient data), apart from the service log. "
     "\"\" turns it off."},
};

static const cfgt_table table = {entries, sizeof entries / sizeof entries[0], "mamad"};

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

static int check_categories(const char *value, char *err, size_t errlen) {
    if (config_categories_mask(value) != 0) return 0;
    snprintf(err, errlen, "'%s' is not a list of main, dicom, http, db, engine, all", value);
    return -1;
}

int config_set(mamad_config *cfg, const char *key, const char *value, char *err, size_t errlen) {
    return cfgt_set(&table, cfg, key, value, err, errlen);
}

void config_defaults(mamad_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfgt_defaults(&table, cfg);
}

int config_load_file(mamad_config *cfg, const char *path, char *err, size_t errlen) {
    return cfgt_load_file(&table, cfg, path, err, errlen);
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
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
    /* the names of engine/core/precision.h; config stays free of the engine library */
    if (strcasecmp(cfg->scoring_precision, "fp32") && strcasecmp(cfg->scoring_precision, "bf16") &&
        strcasecmp(cfg->scoring_precision, "auto")) {
        snprintf(err, errlen, "scoring.precision '%s': use fp32, bf16 or auto",
                 cfg->scoring_precision);
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

void config_print_help(FILE *out) { cfgt_print_help(&table, out); }

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
            "off and the log says so, while DICOM reception keeps working.\n\n");
    cfgt_print_markdown_table(&table, out);
}
