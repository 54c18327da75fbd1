/* config.h: mamad's configuration. One static table (config.c) names every setting with
 * its type, default, bounds and help; parsing of the file and of `--set key=value`,
 * validation, `--help` and docs/configuration.md all come from it. One struct, passed
 * explicitly; no globals. */
#ifndef MAMA_CONFIG_H
#define MAMA_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_STR_MAX 512
#define CONFIG_MAX_ALLOW 64
#define CONFIG_MAX_TOKENS 32

typedef enum config_role { CONFIG_ROLE_READ = 1, CONFIG_ROLE_ADMIN = 2 } config_role;

typedef struct config_allow {
    char calling_ae[17];
    char host[64];
} config_allow;

typedef struct config_token {
    char token[128];
    config_role role;
} config_token;

#define CONFIG_MAX_FORWARD 8
enum { CONFIG_FWD_SR = 1, CONFIG_FWD_OVERVIEW = 2 };

typedef struct config_forward {
    char ae[17];
    char host[64];
    int port;
    unsigned objects;        /* CONFIG_FWD_* */
    char name[100];          /* "AE@host:port", the outbox's destination key */
} config_forward;

typedef struct mamad_config {
    /* [node] */
    char node_id[64];
    /* [dicom] */
    int64_t dicom_enabled;
    char dicom_ae_title[17];
    char dicom_bind[CONFIG_STR_MAX];
    int64_t dicom_port;
    int64_t dicom_max_associations;
    int64_t dicom_acse_timeout_s;
    int64_t dicom_dimse_timeout_s;
    int64_t dicom_max_pdu;
    int64_t dicom_request_timeout_s;
    int64_t dicom_max_pending_per_host;
    int64_t dicom_max_assoc_per_host;
    char dicom_tls_cert[CONFIG_STR_MAX];
    char dicom_tls_key[CONFIG_STR_MAX];
    char dicom_tls_ca[CONFIG_STR_MAX];
    int64_t dicom_tls_require_client_cert;
    char dicom_allow[CONFIG_STR_MAX * 2];
    int64_t dicom_accept_secondary_capture;
    /* [storage] */
    char storage_dir[CONFIG_STR_MAX];
    char storage_index[CONFIG_STR_MAX];
    int64_t storage_retention_ms;
    int64_t storage_max_size;
    int64_t storage_retention_check_ms;
    int64_t storage_reserve_mb;
    /* [rest] */
    int64_t rest_enabled;
    char rest_bind[CONFIG_STR_MAX];
    int64_t rest_port;
    int64_t rest_threads;
    int64_t rest_max_body;
    int64_t rest_max_connections;
    int64_t rest_max_connections_per_ip;
    int64_t rest_connection_timeout_s;
    char rest_tls_cert[CONFIG_STR_MAX];
    char rest_tls_key[CONFIG_STR_MAX];
    char rest_token_file[CONFIG_STR_MAX];
    char rest_token_env[64];
    char rest_web_dir[CONFIG_STR_MAX];
    /* [grouper] */
    int64_t grouper_stable_age_ms;
    int64_t grouper_max_wait_ms;
    int64_t grouper_tick_ms;
    /* [scoring] */
    char scoring_model[CONFIG_STR_MAX];
    int64_t scoring_workers;
    char scoring_precision[8];
    int64_t scoring_threads;
    int64_t scoring_max_attempts;
    int64_t scoring_lease_ms;
    /* [forward] (issue 16) */
    char forward_destinations[CONFIG_STR_MAX * 2];
    char forward_calling_ae[17];
    int64_t forward_max_attempts;
    int64_t forward_retry_ms;
    int64_t forward_timeout_s;
    /* [log] */
    char log_level[16];
    char log_categories[64];
    int64_t log_syslog;
    char log_access_file[CONFIG_STR_MAX];

    /* Derived by config_finish (not settable directly). */
    config_allow allow[CONFIG_MAX_ALLOW];
    int n_allow;
    config_token tokens[CONFIG_MAX_TOKENS];
    int n_tokens;
    config_forward forward[CONFIG_MAX_FORWARD];
    int n_forward;
} mamad_config;

/* Fills every setting with its default. */
void config_defaults(mamad_config *cfg);
/* Sets one setting from text ("dicom.port", "11112"). 0, or -1 with a message. */
int config_set(mamad_config *cfg, const char *key, const char *value, char *err, size_t errlen);
/* Reads a `key = value` file with [section] headers (# and ; comments). */
int config_load_file(mamad_config *cfg, const char *path, char *err, size_t errlen);
/* Cross-field validation and derived values: parses the allow-list, reads the REST tokens
 * from rest.token_file and the environment variable named by rest.token_env. */
int config_finish(mamad_config *cfg, char *err, size_t errlen);
/* Resolves a bearer token to its role; 0 when unknown. Constant-time per token. */
int config_token_role(const mamad_config *cfg, const char *token);

/* Log category mask of a list like "dicom,http" or "all"; 0 when the list is invalid. */
unsigned config_categories_mask(const char *list);

/* The settings as help text (for --help) or as the Markdown of docs/configuration.md. */
void config_print_help(FILE *out);
void config_print_markdown(FILE *out);

#endif
