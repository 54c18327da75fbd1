/* cmd_train.c: `mama train -c train.conf [--set key=value]... [--check]`. Reads the
 * settings (tools/train_config.c), reads the data source and splits it by patient, and
 * prepares the run folder: config.conf (the effective settings, readable by -c) and
 * split.csv. The folder is assembled under a temporary name and renamed into place, so a
 * failure leaves no half-written run. The optimisation loop itself comes with the training
 * step (engine/train, issue 9); until then the command stops after preparing the run and
 * says so. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/train_config.h"
#include "tools/train_data.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: mama train -c train.conf [--set key=value]... [--check]\n"
            "       mama train --config-doc\n\n"
            "Trains a model from the settings in train.conf (docs/training.md). The run folder\n"
            "train.out_dir/train.name gets config.conf (the effective settings) and split.csv\n"
            "(the patient-level 70/10/20 split).\n\n"
            "  -c, --config FILE   settings file (key = value, [sections])\n"
            "  --set key=value     override one setting (after the file; repeatable)\n"
            "  --check             validate the settings and the data source, write nothing\n"
            "  --config-doc        print the settings table of docs/training.md\n\n"
            "settings:\n");
    train_config_print_help(out);
}

/* Options -> config. 0 ok, 2 usage error; *check / *doc set for those modes. */
static int parse_args(int argc, char **argv, train_config *c, int *check, int *doc) {
    char err[1200];
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < argc) path = argv[++i];
        else if (!strcmp(a, "--set") && i + 1 < argc) i++;
        else if (!strcmp(a, "--check")) *check = 1;
        else if (!strcmp(a, "--config-doc")) *doc = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "mama train: unknown or incomplete option '%s' (see mama train --help)\n", a);
            return 2;
        }
    }
    if (*doc) return 0;
    if (!path) {
        fprintf(stderr, "mama train: -c train.conf is required (see docs/training.md)\n");
        return 2;
    }
    if (train_config_load_file(c, path, err, sizeof err) != 0) {
        fprintf(stderr, "mama train: %s\n", err);
        return 2;
    }
    /* overrides apply after the file, in the order given */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--set") && i + 1 < argc && train_config_set_arg(c, argv[++i], err, sizeof err)) {
            fprintf(stderr, "mama train: %s\n", err);
            return 2;
        }
    if (train_config_finish(c, err, sizeof err) != 0) {
        fprintf(stderr, "mama train: %s\n", err);
        return 2;
    }
    return 0;
}

static int remove_tree_shallow(const char *dir) {
    static const char *const names[] = {"config.conf", "split.csv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[TRAIN_PATH_MAX + 300];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    return rmdir(dir);
}

static int write_config(const train_config *c, const char *dir, char *err, size_t errlen) {
    char p[TRAIN_PATH_MAX + 300];
    snprintf(p, sizeof p, "%s/config.conf", dir);
    FILE *f = fopen(p, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", p, strerror(errno));
        return -1;
    }
    train_config_write(c, f);
    int bad = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "%s: write failed: %s", p, strerror(errno));
        return -1;
    }
    return 0;
}

/* Builds out_dir/.NAME.partial and renames it to out_dir/NAME. */
static int prepare_run(train_config *c, const train_data *d, char *run, size_t runlen, char *err,
                       size_t errlen) {
    if (!c->train_name[0]) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(c->train_name, sizeof c->train_name, "%Y%m%d-%H%M%S", &tm);
    }
    if (strchr(c->train_name, '/') || c->train_name[0] == '.') {
        snprintf(err, errlen, "train.name: '%s' must be a plain folder name", c->train_name);
        return -1;
    }
    if (mkdir(c->train_out_dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "train.out_dir: %s: %s", c->train_out_dir, strerror(errno));
        return -1;
    }
    char tmp[TRAIN_PATH_MAX + 200];
    snprintf(run, runlen, "%s/%s", c->train_out_dir, c->train_name);
    snprintf(tmp, sizeof tmp, "%s/.%s.partial", c->train_out_dir, c->train_name);
    if (access(run, F_OK) == 0) {
        snprintf(err, errlen, "train.name: the run %s exists already (choose another name)", run);
        return -1;
    }
    remove_tree_shallow(tmp); /* a partial folder left by a crash */
    if (mkdir(tmp, 0755) != 0) {
        snprintf(err, errlen, "train.out_dir: %s: %s", tmp, strerror(errno));
        return -1;
    }
    char p[TRAIN_PATH_MAX + 300];
    snprintf(p, sizeof p, "%s/split.csv", tmp);
    if (write_config(c, tmp, err, errlen) || train_data_write_split(d, p, err, errlen) ||
        rename(tmp, run) != 0) {
        if (!err[0]) snprintf(err, errlen, "%s: %s", run, strerror(errno));
        remove_tree_shallow(tmp);
        return -1;
    }
    return 0;
}

int cmd_train(int argc, char **argv) {
    static train_config c;
    train_config_defaults(&c);
    int check = 0, doc = 0;
    int rc = parse_args(argc, argv, &c, &check, &doc);
    if (rc) return rc;
    if (doc) {
        train_config_print_markdown(stdout);
        return 0;
    }
    char err[2048] = "";
    train_data d;
    if (train_data_load(&c, &d, stderr, err, sizeof err) != 0 ||
        train_data_split(&d, (uint64_t)c.data_split_seed, err, sizeof err) != 0) {
        fprintf(stderr, "mama train: %s\n", err);
        train_data_free(&d);
        return 1;
    }
    int count[3] = {0, 0, 0};
    for (int i = 0; i < d.n; i++) count[d.split[i]]++;
    printf("data: %d images (%d rows left out): train %d, val %d, test %d\n", d.n, d.n_bad_rows,
           count[0], count[1], count[2]);
    if (check) {
        printf("configuration ok\n");
        train_data_free(&d);
        return 0;
    }
    char run[TRAIN_PATH_MAX + 200];
    rc = prepare_run(&c, &d, run, sizeof run, err, sizeof err);
    train_data_free(&d);
    if (rc) {
        fprintf(stderr, "mama train: %s\n", err);
        return 1;
    }
    printf("run folder: %s (config.conf, split.csv)\n", run);
    fprintf(stderr, "mama train: the training step (engine/train) is not in this build yet; the run "
            "is prepared and stops here\n");
    return 3;
}
