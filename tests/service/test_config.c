/* test_config.c: the settings table (daemon/config.c): defaults, bounds, the file
 * format, overrides, allow-list and tokens, and that docs/configuration.md is what the
 * table generates. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/config.h"
#include "tests/check.h"

static char tmpdir[] = "/tmp/mamad-config-XXXXXX";

static const char *write_file(const char *name, const char *text) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

int main(int argc, char **argv) {
    char err[600];
    mamad_config c;
    if (argc > 1 && strcmp(argv[1], "--config-doc") == 0) { /* same as mamad --config-doc */
        config_print_markdown(stdout);
        return 0;
    }
    if (!mkdtemp(tmpdir)) return 1;
    unsetenv("MAMAD_TOKENS");

    config_defaults(&c);
    CHECK(c.dicom_port == 11112);
    CHECK_STR(c.dicom_ae_title, "MAMAD");
    CHECK(c.grouper_stable_age_ms == 120000);
    CHECK(c.grouper_max_wait_ms == 3600000);
    CHECK(c.rest_enabled == 1 && c.log_syslog == 0);
    CHECK(config_finish(&c, err, sizeof err) == 0);
    CHECK(c.n_allow == 0);   /* deny by default */
    CHECK(c.n_tokens == 0);  /* no default tokens */
    /* scoring.precision: fp32 (the reference) by default; a name it does not know stops
       the start with the choices named */
    CHECK_STR(c.scoring_precision, "fp32");
    CHECK(config_set(&c, "scoring.precision", "BF16", err, sizeof err) == 0);
    CHECK(config_finish(&c, err, sizeof err) == 0);
    CHECK(config_set(&c, "scoring.precision", "fp16", err, sizeof err) == 0);
    CHECK(config_finish(&c, err, sizeof err) != 0 && strstr(err, "fp32, bf16 or auto"));
    CHECK(config_set(&c, "scoring.precision", "fp32", err, sizeof err) == 0);

    /* set: types and bounds */
    CHECK(config_set(&c, "dicom.port", "104", err, sizeof err) == 0 && c.dicom_port == 104);
    CHECK(config_set(&c, "dicom.port", "-1", err, sizeof err) != 0 && strstr(err, "0..65535"));
    CHECK(config_set(&c, "dicom.port", "70000", err, sizeof err) != 0);
    CHECK(config_set(&c, "dicom.port", "12ab", err, sizeof err) != 0 && strstr(err, "integer"));
    CHECK(config_set(&c, "grouper.stable_age", "1", err, sizeof err) == 0 && c.grouper_stable_age_ms == 1000);
    CHECK(config_set(&c, "grouper.stable_age", "250ms", err, sizeof err) == 0 && c.grouper_stable_age_ms == 250);
    CHECK(config_set(&c, "grouper.stable_age", "1.5s", err, sizeof err) == 0 && c.grouper_stable_age_ms == 1500);
    CHECK(config_set(&c, "grouper.max_wait", "2h", err, sizeof err) == 0 && c.grouper_max_wait_ms == 7200000);
    CHECK(config_set(&c, "grouper.stable_age", "5 years", err, sizeof err) != 0 && strstr(err, "duration"));
    CHECK(config_set(&c, "grouper.stable_age", "-1", err, sizeof err) != 0);
    CHECK(config_set(&c, "rest.enabled", "no", err, sizeof err) == 0 && c.rest_enabled == 0);
    CHECK(config_set(&c, "rest.enabled", "maybe", err, sizeof err) != 0);
    CHECK(config_set(&c, "log.level", "DEBUG", err, sizeof err) == 0);
    CHECK(config_set(&c, "log.level", "loud", err, sizeof err) != 0);
    CHECK(config_set(&c, "log.categories", "dicom, http", err, sizeof err) == 0);
    CHECK(config_categories_mask(c.log_categories) == (LOG_CAT_DICOM | LOG_CAT_HTTP));
    CHECK(config_set(&c, "log.categories", "dicom,sql", err, sizeof err) != 0);
    CHECK(config_categories_mask("all") == LOG_CAT_ALL && config_categories_mask("") == 0);
    CHECK(config_set(&c, "dicom.ae_title", "THIS_TITLE_IS_TOO_LONG", err, sizeof err) != 0);
    CHECK(config_set(&c, "no.such", "1", err, sizeof err) != 0 && strstr(err, "unknown setting"));

    /* file: sections, comments, quotes, dotted keys; errors name the line */
    config_defaults(&c);
    const char *p = write_file("ok.conf",
                               "# comment\n[dicom]\nport = 4242\nae_title = \"PACSAI\"\n"
                               "allow = DEMO@127.0.0.1  *@10.0.0.5\n\n; other\n[grouper]\n"
                               "stable_age = 3s\nrest.port = 9000\n");
    CHECK(config_load_file(&c, p, err, sizeof err) == 0);
    CHECK(c.dicom_port == 4242 && c.rest_port == 9000 && c.grouper_stable_age_ms == 3000);
    CHECK_STR(c.dicom_ae_title, "PACSAI");
    CHECK(config_finish(&c, err, sizeof err) == 0);
    CHECK(c.n_allow == 2);
    CHECK_STR(c.allow[0].calling_ae, "DEMO");
    CHECK_STR(c.allow[0].host, "127.0.0.1");
    CHECK_STR(c.allow[1].calling_ae, "*");
    p = write_file("bad.conf", "[dicom]\nport = 1\nport = 99999\n");
    CHECK(config_load_file(&c, p, err, sizeof err) != 0 && strstr(err, ":3:"));
    p = write_file("bad2.conf", "[dicom\n");
    CHECK(config_load_file(&c, p, err, sizeof err) != 0 && strstr(err, ":1:"));
    p = write_file("bad3.conf", "just words\n");
    CHECK(config_load_file(&c, p, err, sizeof err) != 0);
    CHECK(config_load_file(&c, "/nonexistent/mamad.conf", err, sizeof err) != 0);
    config_defaults(&c);
    snprintf(c.dicom_allow, sizeof c.dicom_allow, "NOHOST");
    CHECK(config_finish(&c, err, sizeof err) != 0 && strstr(err, "CALLING_AE@host"));

    /* tokens: file + environment; roles; too short; unknown role */
    config_defaults(&c);
    p = write_file("tokens", "# tokens\nread  read-token-0123456789\nadmin admin-token-0123456789\n");
    snprintf(c.rest_token_file, sizeof c.rest_token_file, "%s", p);
    /* a token file others can read is refused with the reason (issue 15) */
    chmod(p, 0644);
    CHECK(config_finish(&c, err, sizeof err) != 0 && strstr(err, "readable by group or others (mode 0644)") &&
          strstr(err, "chmod 600"));
    chmod(p, 0640);
    CHECK(config_finish(&c, err, sizeof err) != 0 && strstr(err, "mode 0640"));
    chmod(p, 0600);
    setenv("MAMAD_TOKENS", "read:env-read-token-0123456789", 1);
    CHECK(config_finish(&c, err, sizeof err) == 0);
    CHECK(c.n_tokens == 3);
    CHECK(config_token_role(&c, "read-token-0123456789") == CONFIG_ROLE_READ);
    CHECK(config_token_role(&c, "admin-token-0123456789") == CONFIG_ROLE_ADMIN);
    CHECK(config_token_role(&c, "env-read-token-0123456789") == CONFIG_ROLE_READ);
    CHECK(config_token_role(&c, "read-token-012345678") == 0);
    CHECK(config_token_role(&c, "read-token-01234567890") == 0);
    CHECK(config_token_role(&c, "") == 0);
    setenv("MAMAD_TOKENS", "read:short", 1);
    CHECK(config_finish(&c, err, sizeof err) != 0 && strstr(err, "16..127"));
    unsetenv("MAMAD_TOKENS");
    p = write_file("tokens2", "owner some-token-0123456789\n");
    chmod(p, 0600);
    snprintf(c.rest_token_file, sizeof c.rest_token_file, "%s", p);
    CHECK(config_finish(&c, err, sizeof err) != 0 && strstr(err, "read or admin"));

    /* docs/configuration.md is generated from the table */
    char *gen = NULL;
    size_t gen_len = 0;
    FILE *mem = open_memstream(&gen, &gen_len);
    config_print_markdown(mem);
    fclose(mem);
    const char *root = getenv("MAMA_SOURCE_ROOT");
    char doc_path[512];
    snprintf(doc_path, sizeof doc_path, "%s/docs/configuration.md", root ? root : ".");
    FILE *f = fopen(doc_path, "r");
    CHECK(f != NULL);
    if (f) {
        char *doc = calloc(1, gen_len + 2);
        size_t n = fread(doc, 1, gen_len + 1, f);
        fclose(f);
        CHECK(n == gen_len && memcmp(doc, gen, gen_len) == 0);
        if (n != gen_len || memcmp(doc, gen, gen_len) != 0)
            fprintf(stderr, "docs/configuration.md is stale: regenerate it with "
                    "`build/daemon/mamad --config-doc > docs/configuration.md`\n");
        free(doc);
    }
    free(gen);
    check_remove_dir(tmpdir);
    CHECK_DONE();
}
