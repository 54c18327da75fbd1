/* test_train_config.c: the settings of `mama train` (tools/train_config.c) on the shared
 * machinery (common/config_table.c): the paper's defaults, types and bounds, the file
 * format, cross-key checks, that every error names its key, that the written effective
 * configuration reads back to the same values, and that docs/training.md holds exactly the
 * table the code generates. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/check.h"
#include "tools/train_config.h"

static char tmpdir[] = "/tmp/mama-train-config-XXXXXX";

static const char *write_file(const char *name, const char *text) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static char *text_of(const train_config *c) {
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    train_config_write(c, m);
    fclose(m);
    return buf;
}

/* set must fail with a message that starts with the key and contains want. */
static void bad_set(const char *key, const char *value, const char *want) {
    train_config c;
    char err[600];
    train_config_defaults(&c);
    int rc = train_config_set(&c, key, value, err, sizeof err);
    CHECK_MSG(rc != 0, "%s = %s accepted", key, value);
    if (rc) {
        CHECK_MSG(strncmp(err, key, strlen(key)) == 0 && strstr(err, want), "%s = %s: '%s'", key, value, err);
    }
}

/* finish must fail naming key. */
static void bad_finish(const train_config *c, const char *key) {
    char err[1200];
    int rc = train_config_finish(c, err, sizeof err);
    CHECK_MSG(rc != 0, "finish accepted a config that should fail on %s", key);
    if (rc) {
        CHECK_MSG(strncmp(err, key, strlen(key)) == 0, "expected the error to name %s: '%s'", key, err);
    }
}

static void test_defaults_and_sets(void) {
    train_config c;
    char err[600];
    train_config_defaults(&c);
    /* MAMA_METHOD.md sections 4-8 */
    CHECK(c.train_batch == 36 && c.train_accumulation == 2 && c.train_steps == 40000);
    CHECK(c.train_warmup_steps == 4000 && c.train_late_step == 8000);
    CHECK(c.train_lr == 4e-5 && c.train_lr_min == 1e-8 && c.train_weight_decay == 0.1);
    CHECK(c.image_size == 518 && c.report_mask_p == 0.8 && c.multiview_pair_p == 0.5);
    CHECK(c.augment_scale_min == 0.1 && c.augment_blur_kernel == 7 && c.augment_blur_p == 0.4);
    CHECK(c.report_max_tokens == 144 && c.loss_nt_xent_temperature == 0.5 && c.model_lora_rank == 8);
    CHECK_STR(c.train_schedule, "cosine");
    CHECK_STR(c.data_source, "phantom");
    int flags[6];
    CHECK(train_config_mask_fields(c.report_mask_fields, flags, err, sizeof err) == 0);
    for (int k = 0; k < 6; k++) CHECK(flags[k] == 1);
    CHECK(train_config_mask_fields("age, view", flags, err, sizeof err) == 0 && flags[0] && flags[5] &&
          !flags[1] && !flags[4]);

    CHECK(train_config_set(&c, "train.lr", "1e-3", err, sizeof err) == 0 && c.train_lr == 1e-3);
    CHECK(train_config_set(&c, "train.schedule", "LINEAR", err, sizeof err) == 0);
    CHECK(train_config_set_arg(&c, "augment.enabled=off", err, sizeof err) == 0 && c.augment_enabled == 0);
    CHECK(train_config_set_arg(&c, "train.steps", err, sizeof err) != 0 && strstr(err, "key=value"));
    bad_set("train.lr", "fast", "not a number");
    bad_set("train.lr", "-1", "0..10");
    bad_set("train.lr", "nan", "not a number");
    bad_set("train.batch", "0", "1..4096");
    bad_set("train.batch", "3.5", "integer");
    bad_set("augment.hflip", "1.5", "0..1");
    bad_set("train.schedule", "step", "cosine, linear, constant");
    bad_set("data.source", "pacs", "phantom, mias, embed, rsna, dicom");
    bad_set("report.mask_fields", "age, density", "'density'");
    bad_set("data.strict", "perhaps", "boolean");
    CHECK(train_config_set(&c, "train.nope", "1", err, sizeof err) != 0 &&
          strstr(err, "unknown setting 'train.nope'") && strstr(err, "mama train --help"));
}

static void test_file(void) {
    train_config c;
    char err[1200];
    train_config_defaults(&c);
    const char *p = write_file("ok.conf", "# a run\n[train]\nsteps = 20\nlate_step = 10\nlr = 2e-4\n"
                                          "[data]\nsource = mias\nroot = \"/tmp\"\n; comment\n"
                                          "[augment]\nenabled = false\nimage.size = 224\n");
    CHECK(train_config_load_file(&c, p, err, sizeof err) == 0);
    CHECK(c.train_steps == 20 && c.train_late_step == 10 && c.train_lr == 2e-4 && c.image_size == 224);
    CHECK(c.augment_enabled == 0);
    CHECK_STR(c.data_root, "/tmp");
    p = write_file("bad.conf", "[train]\nsteps = 20\nbatch = many\n");
    CHECK(train_config_load_file(&c, p, err, sizeof err) != 0 && strstr(err, "bad.conf:3: train.batch"));
    p = write_file("bad2.conf", "[train]\nstep = 20\n");
    CHECK(train_config_load_file(&c, p, err, sizeof err) != 0 && strstr(err, ":2: unknown setting 'train.step'"));
    CHECK(train_config_load_file(&c, "/nonexistent/train.conf", err, sizeof err) != 0 &&
          strstr(err, "/nonexistent/train.conf"));

    /* the effective configuration reads back to the same values (strings with spaces and
     * '#', reals to the last bit) */
    train_config_defaults(&c);
    train_config_set(&c, "train.name", " run #1 ", err, sizeof err);
    train_config_set(&c, "train.lr", "0.1", err, sizeof err);
    train_config_set(&c, "grouper.x", "1", err, sizeof err); /* ignored: unknown */
    char *a = text_of(&c);
    p = write_file("eff.conf", a);
    train_config d;
    train_config_defaults(&d);
    train_config_set(&d, "train.steps", "7", err, sizeof err);
    CHECK(train_config_load_file(&d, p, err, sizeof err) == 0);
    char *b = text_of(&d);
    CHECK_STR(b, a);
    CHECK_STR(d.train_name, " run #1 ");
    CHECK(d.train_lr == 0.1 && d.train_steps == 40000);
    free(a);
    free(b);
}

static void test_finish(void) {
    train_config c;
    char err[1200];
    char data[300], csv[300];
    snprintf(data, sizeof data, "%s/data", tmpdir);
    mkdir(data, 0755);
    snprintf(csv, sizeof csv, "%s", write_file("meta.csv", "x\n"));

    train_config_defaults(&c);
    snprintf(c.model_image_init, sizeof c.model_image_init, "random");
    snprintf(c.model_image_config, sizeof c.model_image_config, "micro");
    snprintf(c.model_text_init, sizeof c.model_text_init, "random");
    snprintf(c.data_root, sizeof c.data_root, "%s", data);
    CHECK(train_config_finish(&c, err, sizeof err) == 0);

    train_config b = c;
    b.image_size = 500;
    bad_finish(&b, "image.size");
    b = c, b.train_late_step = b.train_steps + 1;
    bad_finish(&b, "train.late_step");
    b = c, b.train_warmup_steps = b.train_steps + 1;
    bad_finish(&b, "train.warmup_steps");
    b = c, b.train_lr_min = 1;
    bad_finish(&b, "train.lr_min");
    b = c, b.augment_scale_min = 0.9, b.augment_scale_max = 0.5;
    bad_finish(&b, "augment.scale_min");
    b = c, b.augment_blur_kernel = 6;
    bad_finish(&b, "augment.blur_kernel");
    b = c, b.augment_blur_sigma_min = 3;
    bad_finish(&b, "augment.blur_sigma_min");
    b = c, snprintf(b.model_image_init, sizeof b.model_image_init, "hf");
    bad_finish(&b, "model.image_weights");
    b = c, snprintf(b.model_image_config, sizeof b.model_image_config, "auto");
    bad_finish(&b, "model.image_config");
    b = c, snprintf(b.model_text_init, sizeof b.model_text_init, "hf");
    bad_finish(&b, "model.text_weights");
    b = c, b.data_root[0] = '\0';
    bad_finish(&b, "data.root");
    b = c, snprintf(b.data_root, sizeof b.data_root, "%s/missing", tmpdir);
    bad_finish(&b, "data.root");
    b = c, snprintf(b.data_root, sizeof b.data_root, "%s", csv);
    bad_finish(&b, "data.root");
    b = c, snprintf(b.data_source, sizeof b.data_source, "rsna");
    bad_finish(&b, "data.csv");
    b = c, snprintf(b.data_source, sizeof b.data_source, "embed"), snprintf(b.data_csv, sizeof b.data_csv, "%s", csv);
    bad_finish(&b, "data.clinical_csv");
    snprintf(b.data_clinical_csv, sizeof b.data_clinical_csv, "%s", csv);
    CHECK(train_config_finish(&b, err, sizeof err) == 0);
    b = c, snprintf(b.data_source, sizeof b.data_source, "dicom"), snprintf(b.data_csv, sizeof b.data_csv, "%s", csv);
    CHECK(train_config_finish(&b, err, sizeof err) == 0); /* clinical CSV optional */
}

/* docs/training.md holds, between its markers, exactly what the table generates. */
static void test_doc(void) {
    char *gen = NULL;
    size_t gen_len = 0;
    FILE *mem = open_memstream(&gen, &gen_len);
    train_config_print_markdown(mem);
    fclose(mem);
    const char *root = getenv("MAMA_SOURCE_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/docs/training.md", root ? root : ".");
    size_t n = 0;
    char *doc = check_read_file(path, &n);
    CHECK(doc != NULL);
    if (doc) {
        const char *begin = strstr(doc, "<!-- BEGIN settings");
        const char *body = begin ? strchr(begin, '\n') : NULL;
        const char *end = strstr(doc, "<!-- END settings -->");
        CHECK(body && end && end > body);
        if (body && end && end > body) {
            body++;
            int same = (size_t)(end - body) == gen_len && memcmp(body, gen, gen_len) == 0;
            CHECK(same);
            if (!same)
                fprintf(stderr, "docs/training.md is stale: replace its settings table with the output "
                        "of `build/tools/mama train --config-doc`\n");
        }
        free(doc);
    }
    free(gen);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--config-doc") == 0) {
        train_config_print_markdown(stdout);
        return 0;
    }
    if (!mkdtemp(tmpdir)) return 1;
    test_defaults_and_sets();
    test_file();
    test_finish();
    test_doc();
    check_remove_dir(tmpdir);
    CHECK_DONE();
}
