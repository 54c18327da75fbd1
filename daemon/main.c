/* main.c: mamad start-up and shutdown. Order: config -> logging -> privileges (refuse
 * root unless --user or --allow-root; umask 027; bind the DICOM and REST ports; drop to
 * --user) -> index (one handle; each thread gets its own connection) -> storage ->
 * grouper (resume + timer) -> scoring workers -> REST -> DICOM SCP (both on the ports
 * bound before the drop); then wait for SIGTERM/SIGINT and stop in reverse: the SCP stops accepting
 * and lets in-flight stores finish, then REST, workers, timer, and the index closes. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/config.h"
#include "daemon/grouper.h"
#include "daemon/metrics.h"
#include "daemon/privilege.h"
#include "daemon/outbox.h"
#include "daemon/overview.h"
#include "daemon/results.h"
#include "daemon/retention.h"
#include "daemon/rest.h"
#include "daemon/scorer.h"
#include "daemon/store.h"
#include "daemon/worker.h"
#include "db/db.h"
#include "dicom/dcm_scp.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: mamad [-c FILE] [--set key=value]... [-v] [--user NAME | --allow-root]\n"
            "             [--check] [--config-doc]\n\n"
            "mamad receives mammography studies over DICOM, stores and groups them, and\n"
            "serves them over REST (see docs/configuration.md and docs/openapi.yaml).\n\n"
            "  -c, --config FILE   read settings from FILE (key = value, [sections])\n"
            "  --set KEY=VALUE     override one setting (repeatable, applied after the file)\n"
            "  -v, --verbose       log.level = debug\n"
            "  --user NAME         started as root: bind the ports, then run as NAME\n"
            "  --allow-root        run as root anyway (otherwise refused)\n"
            "  --check             validate the configuration and exit\n"
            "  --config-doc        print docs/configuration.md (from the settings table)\n"
            "  -h, --help          this text      --version  the version\n\nsettings:\n");
    config_print_help(out);
}

/* Parses the command line into cfg. Returns -1 to exit 2 (usage), 1 to exit 0, 0 to run. */
typedef struct run_opts {
    int check;
    const char *user;      /* --user NAME */
    int allow_root;        /* --allow-root */
} run_opts;

static int parse_args(int argc, char **argv, mamad_config *cfg, run_opts *o) {
    char err[600];
    const char *config_path = NULL;
    /* The file first, then the overrides, whatever their order on the command line. */
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            config_path = argv[++i];
        else if (!strcmp(argv[i], "--set")) i++;
    }
    if (config_path && config_load_file(cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "mamad: %s\n", err);
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mamad: %s needs a file\n", a);
                return -1;
            }
            i++;
        } else if (!strcmp(a, "--set")) {
            if (i + 1 >= argc || !strchr(argv[i + 1], '=')) {
                fprintf(stderr, "mamad: --set needs KEY=VALUE\n");
                return -1;
            }
            char kv[1200];
            snprintf(kv, sizeof kv, "%s", argv[++i]);
            char *eq = strchr(kv, '=');
            *eq = '\0';
            if (config_set(cfg, kv, eq + 1, err, sizeof err) != 0) {
                fprintf(stderr, "mamad: --set %s\n", err);
                return -1;
            }
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            snprintf(cfg->log_level, sizeof cfg->log_level, "debug");
        } else if (!strcmp(a, "--check")) {
            o->check = 1;
        } else if (!strcmp(a, "--user")) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, "mamad: --user needs a user name\n");
                return -1;
            }
            o->user = argv[++i];
        } else if (!strcmp(a, "--allow-root")) {
            o->allow_root = 1;
        } else if (!strcmp(a, "--config-doc")) {
            config_print_markdown(stdout);
            return 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--version")) {
            printf("mamad %s\n", MAMA_VERSION);
            return 1;
        } else {
            fprintf(stderr, "mamad: unknown argument '%s' (see mamad --help)\n", a);
            return -1;
        }
    }
    if (config_finish(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "mamad: %s\n", err);
        return -1;
    }
    return 0;
}

static void log_db_fail(const char *what, db *d) { log_error(LOG_CAT_DB, "%s: %s", what, db_errmsg(d)); }

int main(int argc, char **argv) {
    static mamad_config cfg;
    config_defaults(&cfg);
    run_opts opts = {0};
    int prc = parse_args(argc, argv, &cfg, &opts);
    if (prc < 0) return 2;
    if (prc > 0) return 0;
    log_level lvl = LOG_LVL_INFO;
    log_parse_level(cfg.log_level, &lvl);
    log_init(lvl, config_categories_mask(cfg.log_categories), (int)cfg.log_syslog, "mamad");
    if (opts.check) {
        printf("configuration ok: DICOM %s@%s:%d, %d allow-list entr%s, REST %s:%d with %d token(s)\n",
               cfg.dicom_ae_title, cfg.dicom_bind, (int)cfg.dicom_port, cfg.n_allow,
               cfg.n_allow == 1 ? "y" : "ies", cfg.rest_bind, (int)cfg.rest_port, cfg.n_tokens);
        return 0;
    }

    char err[600];
    if (privilege_check(opts.user, opts.allow_root, err, sizeof err) != 0) {
        log_error(LOG_CAT_MAIN, "%s", err);
        log_shutdown();
        return 2;
    }
    if (geteuid() == 0 && !(opts.user && opts.user[0]))
        log_warn(LOG_CAT_MAIN, "running as root (--allow-root): a dedicated user is safer (--user)");
    /* Index, WAL, SHM, stored and temporary files: never world-readable (patient IDs),
     * whatever umask the service manager left. */
    umask(027);

    /* Signals are taken synchronously by sigwait below; every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int exit_code = 1;
    int dicom_fd = -1, rest_fd = -1;
    access_log *alog = NULL;
    db *writer = NULL;
    store *st = NULL;
    grouper *g = NULL;
    worker_pool *workers = NULL;
    rest *api = NULL;
    dcm_scp *scp = NULL;
    scorer *model = NULL;
    outbox *sender = NULL;
    retention *keeper = NULL;
    static results_ctx results;
    static metrics m;
    dcm_allow_entry allow[CONFIG_MAX_ALLOW];

    /* The ports first (104 or 443 need root), then no root at all. */
    if (cfg.dicom_enabled &&
        (dicom_fd = dcm_scp_listen(cfg.dicom_bind, (uint16_t)cfg.dicom_port, err, sizeof err)) < 0) {
        log_error(LOG_CAT_DICOM, "%s", err);
        goto out;
    }
    if (cfg.rest_enabled && cfg.n_tokens > 0 && (rest_fd = rest_listen(&cfg, err, sizeof err)) < 0) {
        log_error(LOG_CAT_HTTP, "%s", err);
        goto out;
    }
    if (privilege_drop(opts.user, err, sizeof err) != 0) {
        log_error(LOG_CAT_MAIN, "%s", err);
        goto out;
    }
    if (opts.user && opts.user[0])
        log_info(LOG_CAT_MAIN, "ports bound; running as user %s (uid %d)", opts.user, (int)getuid());
    if (store_create(cfg.storage_dir, cfg.node_id, NULL, NULL, &m, &st, err, sizeof err) != 0) {
        log_error(LOG_CAT_MAIN, "%s", err);
        goto out;
    }
    if (db_open(cfg.storage_index, &writer, err, sizeof err) != DB_OK) {
        log_error(LOG_CAT_DB, "%s", err);
        goto out;
    }
    db_set_node(writer, cfg.node_id, cfg.scoring_lease_ms);
    if (!strcmp(db_backend_name(writer), "sqlite"))
        log_info(LOG_CAT_DB, "index %s open (schema version %d, WAL, synchronous=FULL)",
                 cfg.storage_index, db_schema_version(writer));
    else  /* the URI may carry a password: not logged */
        log_info(LOG_CAT_DB, "PostgreSQL index open (schema version %d), node %s",
                 db_schema_version(writer), cfg.node_id);
    store_destroy(st);
    st = NULL;

    grouper_config gc = {.stable_age_ms = cfg.grouper_stable_age_ms,
                         .max_wait_ms = cfg.grouper_max_wait_ms,
                         .max_attempts = (int)cfg.scoring_max_attempts,
                         .tick_ms = (int)cfg.grouper_tick_ms};
    /* The worker pool exists before the grouper notifies it; without a model it has no
     * threads and studies wait in queued. */
    /* Deletions a crash interrupted are finished before anything else touches the study. */
    if (retention_resume(writer, &cfg) != DB_OK) log_db_fail("finishing interrupted deletions", writer);
    if (retention_start(writer, &cfg, &keeper) != 0) {
        log_error(LOG_CAT_MAIN, "cannot start the retention thread");
        goto out;
    }
    /* The outbox runs with or without a model: rows queued before a restart still go. */
    if (outbox_start(writer, &cfg, &m, &sender) != 0) {
        log_error(LOG_CAT_MAIN, "cannot start the outbox sender");
        goto out;
    }
    worker_scorer scorer_if;
    const worker_scorer *scorer = NULL;
    if (cfg.scoring_model[0]) {
        if (scorer_open(cfg.scoring_model, &model, err, sizeof err) != 0 ||
            scorer_set_precision(model, cfg.scoring_precision, err, sizeof err) != 0) {
            log_error(LOG_CAT_ENGINE, "%s", err);
            goto out;
        }
        /* scoring.threads 0: the CPUs shared out between the workers, so that workers do not
         * oversubscribe the cores (issue 14 saw 2-4 s per four-view study with every thread
         * on a loaded 2-core machine, 0.5 s with one) */
        int threads = (int)cfg.scoring_threads;
        if (threads < 1) {
            long cpus = sysconf(_SC_NPROCESSORS_ONLN);
            int workers = cfg.scoring_workers > 0 ? (int)cfg.scoring_workers : 1;
            threads = cpus > 0 ? (int)(cpus / workers) : 1;
            if (threads < 1) threads = 1;
        }
        scorer_set_threads(model, threads);
        scorer_if = scorer_interface(model);
        /* Every committed result becomes a CAD SR, an overview and thumbnails, queued for
         * the [forward] destinations (daemon/results.c, daemon/outbox.c). */
        results = (results_ctx){.index = writer, .cfg = &cfg, .model_id = scorer_model_id(model),
                                .model_untrained = scorer_model_untrained(model),
                                .wake_outbox = outbox_wake, .wake_ctx = sender};
        scorer_if.publish = results_publish;
        scorer_if.publish_ctx = &results;
        scorer = &scorer_if;
        log_info(LOG_CAT_ENGINE, "model %s loaded (id %s), %d scoring worker(s), %d engine thread(s) each",
                 cfg.scoring_model, scorer_model_id(model), (int)cfg.scoring_workers, threads);
    } else {
        log_info(LOG_CAT_ENGINE, "no model is loaded (scoring.model is empty): complete studies wait in queued");
    }
    if (grouper_create(writer, &gc, NULL, NULL, &g) != 0) goto out;
    if (worker_pool_start(writer, g, &m, scorer, (int)cfg.scoring_workers, &workers) != 0) {
        log_error(LOG_CAT_MAIN, "cannot start the scoring workers");
        goto out;
    }
    grouper_set_notify(g, worker_pool_wake, workers);
    if (store_create(cfg.storage_dir, cfg.node_id, g, writer, &m, &st, err, sizeof err) != 0) {
        log_error(LOG_CAT_MAIN, "%s", err);
        goto out;
    }
    store_set_reserve(st, (long long)cfg.storage_reserve_mb << 20);
    store_clean_tmp(st);
    if (grouper_resume(g, grouper_now_ms()) != DB_OK) {
        log_db_fail("resuming studies", writer);
        goto out;
    }
    if (store_sweep(st, NULL) < 0) goto out;
    if (grouper_timer_start(g) != 0) goto out;

    if (cfg.rest_enabled && cfg.n_tokens > 0 && cfg.log_access_file[0]) {
        alog = access_log_open(cfg.log_access_file, err, sizeof err);
        if (!alog) {
            log_error(LOG_CAT_HTTP, "%s", err);
            goto out;
        }
        log_info(LOG_CAT_HTTP, "REST access log: %s", cfg.log_access_file);
    }
    if (cfg.rest_enabled && cfg.n_tokens == 0) {
        log_error(LOG_CAT_HTTP, "REST is DISABLED: no token configured (set rest.token_file or the "
                  "environment variable %s; there are no default tokens)",
                  cfg.rest_token_env[0] ? cfg.rest_token_env : "named by rest.token_env");
    } else if (cfg.rest_enabled) {
        rest_ctx rc = {.index = writer, .writer = writer, .g = g, .workers = workers, .m = &m,
                       .cfg = &cfg, .model_id = model ? scorer_model_id(model) : NULL,
                       .model_untrained = model ? scorer_model_untrained(model) : NULL,
                       .model_status = model ? scorer_model_status(model) : NULL,
                       .reload_model = model ? scorer_reload : NULL, .reload_ctx = model,
                       .started_at = grouper_now_ms(), .alog = alog, .listen_fd = rest_fd};
        rest_fd = -1;   /* rest_start owns it now, also when it fails */
        if (rest_start(&rc, &api, err, sizeof err) != 0) {
            log_error(LOG_CAT_HTTP, "%s", err);
            goto out;
        }
        log_info(LOG_CAT_HTTP, "REST listening on %s port %d (%s, %d token(s))", cfg.rest_bind,
                 rest_port(api), cfg.rest_tls_cert[0] ? "HTTPS" : "plain HTTP", cfg.n_tokens);
    }

    for (int i = 0; i < cfg.n_allow; i++) {
        snprintf(allow[i].calling_ae, sizeof allow[i].calling_ae, "%s", cfg.allow[i].calling_ae);
        snprintf(allow[i].host, sizeof allow[i].host, "%s", cfg.allow[i].host);
    }
    if (cfg.dicom_enabled && cfg.n_allow == 0)
        log_warn(LOG_CAT_DICOM, "dicom.allow is empty: every association will be rejected");
    dcm_scp_config sc = {.ae_title = cfg.dicom_ae_title, .bind_address = cfg.dicom_bind,
                         .port = (uint16_t)cfg.dicom_port,
                         .max_associations = (int)cfg.dicom_max_associations,
                         .acse_timeout_s = (int)cfg.dicom_acse_timeout_s,
                         .dimse_timeout_s = (int)cfg.dicom_dimse_timeout_s,
                         .request_timeout_s = (int)cfg.dicom_request_timeout_s,
                         .max_pending_per_host = (int)cfg.dicom_max_pending_per_host,
                         .max_assoc_per_host = (int)cfg.dicom_max_assoc_per_host,
                         .tmp_dir = store_tmp_dir(st), .allow = allow, .n_allow = cfg.n_allow,
                         .max_pdu = (uint64_t)cfg.dicom_max_pdu,
                         .accept_secondary_capture = (int)cfg.dicom_accept_secondary_capture,
                         .tls_cert = cfg.dicom_tls_cert, .tls_key = cfg.dicom_tls_key,
                         .tls_ca = cfg.dicom_tls_ca,
                         .tls_require_client_cert = (int)cfg.dicom_tls_require_client_cert,
                         .listen_fd = dicom_fd};
    dcm_scp_handler h = store_handler(st);
    if (!cfg.dicom_enabled) {
        log_info(LOG_CAT_DICOM, "DICOM listener off (dicom.enabled = false): a scorer-only node");
    } else {
        dicom_fd = -1;      /* dcm_scp_start owns it now, also when it fails */
        if (dcm_scp_start(&sc, &h, &scp, err, sizeof err) != 0) {
            log_error(LOG_CAT_DICOM, "%s", err);
            goto out;
        }
    }
    log_info(LOG_CAT_MAIN, "mamad %s ready: DICOM %s port %d, REST port %d, storage %s, node %s",
             MAMA_VERSION, cfg.dicom_ae_title, scp ? (int)dcm_scp_port(scp) : 0,
             api ? rest_port(api) : 0, cfg.storage_dir, cfg.node_id);

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0) continue;
        if (sig == SIGHUP) {
            log_info(LOG_CAT_MAIN, "SIGHUP ignored (restart mamad to apply a new configuration)");
            continue;
        }
        log_info(LOG_CAT_MAIN, "%s received: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    exit_code = 0;
out:
    if (dicom_fd >= 0) close(dicom_fd);
    if (rest_fd >= 0) close(rest_fd);
    if (scp) dcm_scp_stop(scp);           /* stops accepting; in-flight stores finish */
    if (api) rest_stop(api);
    access_log_close(alog);
    if (g) grouper_timer_stop(g);         /* no more wake-ups of the workers */
    if (workers) worker_pool_stop(workers);
    outbox_stop(sender);                  /* after the workers: they wake it */
    retention_stop(keeper);
    overview_shutdown();                  /* nothing draws any more */
    if (g) grouper_destroy(g);
    store_destroy(st);
    scorer_close(model);
    db_close(writer);
    log_info(LOG_CAT_MAIN, "mamad stopped%s", exit_code ? " after an error" : "");
    log_shutdown();
    return exit_code;
}
