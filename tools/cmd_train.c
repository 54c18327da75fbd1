/* cmd_train.c: `mama train -c train.conf [--set key=value]... [--check]` and
 * `mama train --resume RUN`. Reads the settings (tools/train_config.c), reads the data
 * source and splits it by patient, and prepares the run folder: config.conf (the effective
 * settings, readable by -c) and split.csv, assembled under a temporary name and renamed
 * into place, so a failure leaves no half-written run. Then runs the job: train.mode =
 * heads (tools/train_heads.c); train.mode = mama needs the image-text training step
 * (engine/train, issue 9) and stops before writing anything until it is built in.
 * --resume re-reads RUN/config.conf, checks that the data still splits to RUN/split.csv
 * byte for byte, and continues from RUN/checkpoint.safetensors. */
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
#include "tools/train_heads.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: mama train -c train.conf [--set key=value]... [--check]\n"
            "       mama train --resume RUN\n"
            "       mama train --config-doc\n\n"
            "Trains a model from the settings in train.conf (docs/training.md). The run folder\n"
            "train.out_dir/train.name gets config.conf (the effective settings) and split.csv\n"
            "(the patient-level 70/10/20 split).\n\n"
            "  -c, --config FILE   settings file (key = value, [sections])\n"
            "  --set key=value     override one setting (after the file; repeatable)\n"
            "  --check             validate the settings and the data source, write nothing\n"
            "  --resume RUN        continue the run in folder RUN from its last checkpoint\n"
            "  --config-doc        print the settings table of docs/training.md\n\n"
            "settings:\n");
    train_config_print_help(out);
}

/* Options -> config. 0 ok, 2 usage error; *check / *doc set for those modes. */
static int parse_args(int argc, char **argv, train_config *c, int *check, int *doc, const char **resume) {
    char err[1200], resume_conf[TRAIN_PATH_MAX + 32];
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < argc) path = argv[++i];
        else if (!strcmp(a, "--resume") && i + 1 < argc) *resume = argv[++i];
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
    if (*resume) {
        if (path || *check || argc != 3) {
            fprintf(stderr, "mama train: --resume RUN takes no other option (the run's config.conf is used)\n");
            return 2;
        }
        snprintf(resume_conf, sizeof resume_conf, "%s/config.conf", *resume);
        path = resume_conf;
    }
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

/* --resume: the data must split exactly as when the run started. */
static int same_split(const char *run, const train_data *d, char *err, size_t errlen) {
    char path[TRAIN_PATH_MAX + 64], now[] = "/tmp/mama-split-XXXXXX";
    snprintf(path, sizeof path, "%s/split.csv", run);
    int fd = mkstemp(now);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file: %s", strerror(errno));
        return -1;
    }
    close(fd);
    int rc = train_data_write_split(d, now, err, errlen);
    if (rc == 0) {
        FILE *a = fopen(path, "rb"), *b = fopen(now, "rb");
        int same = a && b;
        for (int x = 0, y = 0; same && (x != EOF || y != EOF);) {
            x = fgetc(a), y = fgetc(b);
            same = x == y;
        }
        if (a) fclose(a);
        if (b) fclose(b);
        if (!same) {
            snprintf(err, errlen, "--resume: the data of %s no longer splits to its split.csv (files added, "
                     "removed or relabelled since the run started); start a new run", run);
            rc = -1;
        }
    }
    unlink(now);
    return rc;
}

int cmd_train(int argc, char **argv) {
    static train_config c;
    train_config_defaults(&c);
    int check = 0, doc = 0;
    const char *resume = NULL;
    int rc = parse_args(argc, argv, &c, &check, &doc, &resume);
    if (rc) return rc;
    if (doc) {
        train_config_print_markdown(stdout);
        return 0;
    }
    if (!strcmp(c.train_mode, "mama") && !check) {
        fprintf(stderr, "mama train: train.mode = mama needs the image-text training step (engine/train, "
                "issue 9), which is not in this build yet; train.mode = heads trains linear heads on "
                "the frozen image tower. Nothing was written.\n");
        return 3;
    }
    char err[2048] = "";
    train_data d;
    if (train_data_load(&c, &d, stderr, err, sizeof err) != 0 ||
        train_data_split(&d, (uint64_t)c.data_split_seed, err, sizeof err) != 0 ||
        (resume && same_split(resume, &d, err, sizeof err) != 0)) {
        fprintf(stderr, "mama train: %s\n", err);
        train_data_free(&d);
        return 1;
    }
    int count[3] = {0, 0, 0};
    for (int i = 0; i < d.n; i++) count[d.split[i]]++;
    printf("data: %d images (%d rows left out): train %d, val %d, test %d\n", d.n, d.n_bad_rows,
           count[0], count[1], count[2]);
    fflush(stdout);
    if (check) {
        printf("configuration ok\n");
        train_data_free(&d);
        return 0;
    }
    char run[TRAIN_PATH_MAX + 200];
    if (resume) {
        snprintf(run, sizeof run, "%s", resume);
    } else {
        rc = prepare_run(&c, &d, run, sizeof run, err, sizeof err);
        if (rc) {
            fprintf(stderr, "mama train: %s\n", err);
            train_data_free(&d);
            return 1;
        }
        printf("run folder: %s\n", run);
        fflush(stdout);
    }
    rc = train_heads_run(&c, run, &d, resume != NULL);
    train_data_free(&d);
    if (rc == 0) printf("done: %s (checkpoint.safetensors, metrics.jsonl, plots/)\n", run);
    return rc;
}
