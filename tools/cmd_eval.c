/* cmd_eval.c: `mama eval --model M (-c train.conf | --run RUN) --out DIR`. Evaluates a
 * model on the patient-level test split of a data source (the split `mama train` writes):
 * the model's own tasks (zero-shot class prompts, linear heads) and linear probes trained
 * here on the frozen pooled features of the training split at data fractions (1/10/100%
 * by default), each with the metrics of engine/train/metrics.h and bootstrap intervals.
 * The report folder (report.json, summary.md, PNG ROC curves and confusion matrices) is
 * assembled under DIR.partial and renamed into place when complete. */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/model.h"
#include "engine/train/linear_probe.h"
#include "engine/train/metrics.h"
#include "tools/eval_features.h"
#include "tools/eval_plot.h"
#include "tools/train_config.h"
#include "tools/train_data.h"

/* A label the data sets carry, and the model task that predicts it (if any). */
typedef struct eval_task {
    const char *name;
    int K;
    const char *classes[8];
    const char *model_task;
    int which;  /* 0 density, 1 birads, 2 cancer (train_item fields) */
} eval_task;

static const eval_task TASKS[] = {
    {"density", 4, {"A", "B", "C", "D"}, "density", 0},
    {"birads", 7, {"0", "1", "2", "3", "4", "5", "6"}, "birads", 1},
    {"cancer", 2, {"negative", "cancer"}, "malignancy", 2},
};
/* mini-MIAS labels tissue F/G/D, not BI-RADS density: its own task, no model task. */
static const eval_task MIAS_TISSUE = {"tissue", 3, {"F", "G", "D"}, NULL, 0};

typedef struct eval_opts {
    const char *model, *conf, *run, *out;
    int n_boot, max_images, probe_steps, no_probe;
    uint64_t seed;
    double fractions[8];
    int n_fractions;
} eval_opts;

static int label_of(const train_item *it, int which) {
    return which == 0 ? it->density : which == 1 ? it->birads : it->cancer;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: mama eval --model MODEL.safetensors (-c train.conf | --run RUN) --out DIR\n"
            "                 [--boot N] [--seed S] [--probe-steps N] [--fractions 1,10,100]\n"
            "                 [--no-probe] [--max-images N]\n\n"
            "Evaluates MODEL on the test split of the data source in train.conf (or RUN/config.conf):\n"
            "the model's tasks (zero-shot prompts, linear heads) and linear probes on its frozen\n"
            "pooled features trained on the training split at the given data fractions (percent).\n"
            "Balanced accuracy and macro one-vs-rest AUC with bootstrap 95%% intervals, accuracy,\n"
            "confusion matrix; for cancer also sensitivity, specificity, PPV, NPV, F1 and\n"
            "specificity at 80%% sensitivity. DIR gets report.json, summary.md and PNG figures.\n\n"
            "  --boot N         bootstrap resamples (default 1000; 0: no intervals)\n"
            "  --seed S         seed of the bootstrap and the probes (default 0)\n"
            "  --probe-steps N  linear probe SGD steps (default 8000, the paper's)\n"
            "  --fractions L    training data percentages of the probes (default 1,10,100)\n"
            "  --max-images N   at most N images per split (quick looks; default all)\n");
}

static int parse_fractions(const char *s, eval_opts *o) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    o->n_fractions = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        double v = strtod(t, &end);
        if (*end || !(v > 0 && v <= 100) || o->n_fractions == 8) return -1;
        o->fractions[o->n_fractions++] = v / 100.0;
    }
    return o->n_fractions ? 0 : -1;
}

static int parse_int_arg(const char *opt, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || !*v || x < lo || x > hi) {
        fprintf(stderr, "mama eval: %s wants an integer in %ld..%ld, not '%s'\n", opt, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_args(int argc, char **argv, eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_boot = 1000, o->probe_steps = 8000;
    parse_fractions("1,10,100", o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--no-probe")) o->no_probe = 1;
        else if (!v) {
            fprintf(stderr, "mama eval: unknown or incomplete option '%s' (see mama eval --help)\n", a);
            return -1;
        } else if (!strcmp(a, "--model")) o->model = v, i++;
        else if (!strcmp(a, "-c") || !strcmp(a, "--config")) o->conf = v, i++;
        else if (!strcmp(a, "--run")) o->run = v, i++;
        else if (!strcmp(a, "--out")) o->out = v, i++;
        else if (!strcmp(a, "--boot")) {
            if (parse_int_arg(a, v, 0, 100000, &x)) return -1;
            o->n_boot = (int)x, i++;
        } else if (!strcmp(a, "--seed")) {
            if (parse_int_arg(a, v, 0, 0x7fffffffL, &x)) return -1;
            o->seed = (uint64_t)x, i++;
        } else if (!strcmp(a, "--probe-steps")) {
            if (parse_int_arg(a, v, 1, 10000000, &x)) return -1;
            o->probe_steps = (int)x, i++;
        } else if (!strcmp(a, "--max-images")) {
            if (parse_int_arg(a, v, 1, 100000000, &x)) return -1;
            o->max_images = (int)x, i++;
        } else if (!strcmp(a, "--fractions")) {
            if (parse_fractions(v, o)) {
                fprintf(stderr, "mama eval: --fractions wants up to 8 percentages in (0, 100], not '%s'\n", v);
                return -1;
            }
            i++;
        } else {
            fprintf(stderr, "mama eval: unknown option '%s' (see mama eval --help)\n", a);
            return -1;
        }
    }
    if (!o->model || !o->out || (!o->conf == !o->run)) {
        fprintf(stderr, "mama eval: needs --model, --out and one of -c train.conf or --run RUN\n");
        return -1;
    }
    return 0;
}

/* --- one evaluation: metrics, JSON, Markdown row, figures */

typedef struct eval_ctx {
    const eval_opts *o;
    char dir[1200];     /* the .partial folder being filled */
    json_t *results;
    FILE *md;
    int failed;
    char err[1200];
} eval_ctx;

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *ci_json(const metrics_ci *c) {
    json_t *j = json_object();
    json_object_set_new(j, "value", num_or_null(c->value));
    json_object_set_new(j, "ci95_lo", num_or_null(c->lo));
    json_object_set_new(j, "ci95_hi", num_or_null(c->hi));
    json_object_set_new(j, "resamples_defined", json_integer(c->n_defined));
    return j;
}

static void fmt_ci(char *buf, size_t n, const metrics_ci *c) {
    if (!isfinite(c->value)) snprintf(buf, n, "undefined");
    else if (!isfinite(c->lo)) snprintf(buf, n, "%.3f", c->value);
    else snprintf(buf, n, "%.3f [%.3f, %.3f]", c->value, c->lo, c->hi);
}

static void fmt_num(char *buf, size_t n, double v) {
    if (isfinite(v)) snprintf(buf, n, "%.3f", v);
    else snprintf(buf, n, "undefined");
}

/* ROC figure: the positive class for a binary task, one-vs-rest per class otherwise. */
static void roc_figure(eval_ctx *e, const eval_task *t, const char *method, const int *y,
                       const float *prob, int n) {
    double *fpr[8] = {0}, *tpr[8] = {0}, *s = malloc((size_t)n * sizeof *s);
    unsigned char *pos = malloc((size_t)n);
    int m[8] = {0}, nc = 0;
    const char *names[8];
    char labels[8][64];
    for (int c = (t->K == 2 ? 1 : 0); c < t->K && s && pos; c++) {
        fpr[nc] = malloc(((size_t)n + 1) * sizeof(double));
        tpr[nc] = malloc(((size_t)n + 1) * sizeof(double));
        if (!fpr[nc] || !tpr[nc]) break;
        for (int i = 0; i < n; i++) s[i] = prob[(size_t)i * t->K + c], pos[i] = y[i] == c;
        m[nc] = metrics_roc(s, pos, n, fpr[nc], tpr[nc]);
        if (m[nc] == 0) { /* class absent from the test split: reuse the buffers */
            free(fpr[nc]), free(tpr[nc]);
            fpr[nc] = tpr[nc] = NULL;
            continue;
        }
        snprintf(labels[nc], sizeof labels[nc], "%s (AUC %.3f)", t->classes[c], metrics_auc(s, pos, n));
        names[nc] = labels[nc];
        nc++;
    }
    if (nc > 0) {
        char path[1400], title[160];
        snprintf(path, sizeof path, "%s/roc_%s_%s.png", e->dir, t->name, method);
        snprintf(title, sizeof title, "%s, %s", t->name, method);
        if (eval_plot_roc(path, title, (const double *const *)fpr, (const double *const *)tpr, m, names,
                          nc, e->err, sizeof e->err))
            e->failed = 1;
    }
    for (int c = 0; c < 8; c++) free(fpr[c]), free(tpr[c]);
    free(s), free(pos);
}

static void evaluate(eval_ctx *e, const eval_task *t, const char *method, const int *y,
                     const float *prob, int n, double fraction, int n_train) {
    metrics_result r;
    if (metrics_evaluate(&r, y, prob, n, t->K, e->o->n_boot, e->o->seed) != MAMA_OK) {
        snprintf(e->err, sizeof e->err, "%s %s: %s", t->name, method, mama_last_error());
        e->failed = 1;
        return;
    }
    json_t *j = json_object(), *cls = json_array(), *conf = json_array();
    json_object_set_new(j, "task", json_string(t->name));
    json_object_set_new(j, "method", json_string(method));
    for (int k = 0; k < t->K; k++) json_array_append_new(cls, json_string(t->classes[k]));
    json_object_set_new(j, "classes", cls);
    json_object_set_new(j, "n", json_integer(n));
    if (n_train >= 0) {
        json_object_set_new(j, "train_fraction", json_real(fraction));
        json_object_set_new(j, "train_samples", json_integer(n_train));
    }
    json_object_set_new(j, "accuracy", num_or_null(r.accuracy));
    json_object_set_new(j, "balanced_accuracy", ci_json(&r.balanced_accuracy));
    json_object_set_new(j, "auc_macro_ovr", ci_json(&r.auc));
    for (int a = 0; a < t->K; a++) {
        json_t *row = json_array();
        for (int b = 0; b < t->K; b++) json_array_append_new(row, json_integer(r.confusion[a][b]));
        json_array_append_new(conf, row);
    }
    json_object_set_new(j, "confusion", conf);
    char ba[64], auc[64], acc[32], extra[400] = "";
    fmt_ci(ba, sizeof ba, &r.balanced_accuracy);
    fmt_ci(auc, sizeof auc, &r.auc);
    fmt_num(acc, sizeof acc, r.accuracy);
    if (r.has_binary) {
        json_t *b = json_object();
        json_object_set_new(b, "sensitivity", num_or_null(r.bin.sensitivity));
        json_object_set_new(b, "specificity", num_or_null(r.bin.specificity));
        json_object_set_new(b, "ppv", num_or_null(r.bin.ppv));
        json_object_set_new(b, "npv", num_or_null(r.bin.npv));
        json_object_set_new(b, "f1", num_or_null(r.bin.f1));
        json_object_set_new(b, "probabilistic_f1", num_or_null(r.bin.prob_f1));
        json_object_set_new(b, "specificity_at_80_sensitivity", num_or_null(r.bin.spec_at_sens80));
        json_object_set_new(j, "binary", b);
        char v[7][32];
        double vals[7] = {r.bin.sensitivity, r.bin.specificity, r.bin.ppv, r.bin.npv, r.bin.f1,
                          r.bin.prob_f1, r.bin.spec_at_sens80};
        for (int k = 0; k < 7; k++) fmt_num(v[k], sizeof v[k], vals[k]);
        snprintf(extra, sizeof extra, "sens %s, spec %s, PPV %s, NPV %s, F1 %s, pF1 %s, spec@80%%sens %s",
                 v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
    }
    json_array_append_new(e->results, j);
    char train[48] = "";
    if (n_train >= 0) snprintf(train, sizeof train, "%g%% (%d)", fraction * 100, n_train);
    fprintf(e->md, "| %s | %s | %s | %d | %s | %s | %s | %s |\n", t->name, method, train, n, ba, auc, acc, extra);

    char path[1400], title[160];
    snprintf(path, sizeof path, "%s/confusion_%s_%s.png", e->dir, t->name, method);
    snprintf(title, sizeof title, "%s, %s (n = %d)", t->name, method, n);
    /* confusion[][] is METRICS_MAX_CLASSES wide: repack for the plot */
    int64_t packed[METRICS_MAX_CLASSES * METRICS_MAX_CLASSES];
    for (int a = 0; a < t->K; a++)
        for (int b = 0; b < t->K; b++) packed[a * t->K + b] = r.confusion[a][b];
    if (eval_plot_confusion(path, title, packed, t->K, t->classes, e->err, sizeof e->err)) e->failed = 1;
    roc_figure(e, t, method, y, prob, n);
}

/* Rows of f with a known label for t in split s: their labels and feature/prob indices. */
static int select_rows(const eval_features *f, const train_data *d, const eval_task *t, split_kind s,
                       int *rows, int *y) {
    int n = 0;
    for (int i = 0; i < f->n; i++) {
        const train_item *it = &d->items[f->item[i]];
        int lab = label_of(it, t->which);
        if (d->split[f->item[i]] != s || lab < 0 || lab >= t->K) continue;
        rows[n] = i, y[n] = lab, n++;
    }
    return n;
}

static void model_task_eval(eval_ctx *e, const mama_model *m, const eval_features *f, const eval_task *t,
                            const int *rows, const int *y, int n) {
    if (!t->model_task) return;
    for (int k = 0; k < m->n_tasks; k++) {
        const model_task *mt = &m->tasks[k];
        if (strcmp(mt->name, t->model_task) != 0) continue;
        if (mt->n_classes != t->K) {
            fprintf(e->md, "\nNote: the model's task %s has %d classes, the labels %d; not evaluated.\n\n",
                    mt->name, mt->n_classes, t->K);
            return;
        }
        float *prob = malloc((size_t)n * t->K * sizeof *prob);
        if (!prob) return;
        for (int i = 0; i < n; i++)
            memcpy(prob + (size_t)i * t->K, f->probs + (size_t)rows[i] * f->P + f->task_offset[k],
                   (size_t)t->K * sizeof *prob);
        evaluate(e, t, mt->kind == MODEL_TASK_ZERO_SHOT ? "zero_shot" : "model_head", y, prob, n, 0, -1);
        free(prob);
    }
}

static void probe_eval(eval_ctx *e, const eval_features *f, const eval_task *t, const int *trows,
                       const int *ty, int ntr, const int *rows, const int *y, int n) {
    int C = f->C;
    float *Xtr = malloc((size_t)ntr * C * sizeof *Xtr), *Xte = malloc((size_t)n * C * sizeof *Xte);
    float *prob = malloc((size_t)n * t->K * sizeof *prob);
    if (!Xtr || !Xte || !prob) goto done;
    for (int i = 0; i < ntr; i++) memcpy(Xtr + (size_t)i * C, f->pooled + (size_t)trows[i] * C, (size_t)C * sizeof *Xtr);
    for (int i = 0; i < n; i++) memcpy(Xte + (size_t)i * C, f->pooled + (size_t)rows[i] * C, (size_t)C * sizeof *Xte);
    for (int q = 0; q < e->o->n_fractions; q++) {
        lp_config c;
        lp_config_default(&c);
        c.steps = e->o->probe_steps;
        if (c.warmup_steps > c.steps) c.warmup_steps = c.steps;
        c.fraction = e->o->fractions[q];
        c.seed = e->o->seed + (uint64_t)q;
        lp_head h;
        int used = 0, *sub = malloc((size_t)ntr * sizeof *sub);
        if (!sub || lp_head_create(&h, C, t->K, c.batch) != MAMA_OK) {
            free(sub);
            goto done;
        }
        lp_subset(ty, ntr, t->K, c.fraction, c.seed, sub, &used);
        free(sub);
        double loss = 0;
        if (lp_train(&h, Xtr, ty, ntr, &c, &loss) == MAMA_OK) {
            lp_predict(&h, Xte, n, prob);
            char method[48];
            snprintf(method, sizeof method, "linear_probe_%g", c.fraction * 100);
            evaluate(e, t, method, y, prob, n, c.fraction, used);
        } else {
            snprintf(e->err, sizeof e->err, "%s probe: %s", t->name, mama_last_error());
            e->failed = 1;
        }
        lp_head_free(&h);
    }
done:
    free(Xtr), free(Xte), free(prob);
}

static void task_eval(eval_ctx *e, const mama_model *m, const eval_features *f, const train_data *d,
                      const eval_task *t) {
    int *rows = malloc((size_t)(f->n + 1) * sizeof *rows), *y = malloc((size_t)(f->n + 1) * sizeof *y);
    int *trows = malloc((size_t)(f->n + 1) * sizeof *trows), *ty = malloc((size_t)(f->n + 1) * sizeof *ty);
    if (!rows || !y || !trows || !ty) goto done;
    int n = select_rows(f, d, t, SPLIT_TEST, rows, y);
    if (n == 0) {
        fprintf(e->md, "\nNote: no test image has a %s label; not evaluated.\n\n", t->name);
        goto done;
    }
    model_task_eval(e, m, f, t, rows, y, n);
    int ntr = select_rows(f, d, t, SPLIT_TRAIN, trows, ty);
    if (!e->o->no_probe && ntr > 0) probe_eval(e, f, t, trows, ty, ntr, rows, y, n);
done:
    free(rows), free(y), free(trows), free(ty);
}

/* --- the report folder */

static int write_json(const char *dir, json_t *report, char *err, size_t errlen) {
    char path[1400];
    snprintf(path, sizeof path, "%s/report.json", dir);
    if (json_dump_file(report, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        snprintf(err, errlen, "%.1000s: cannot write", path);
        return -1;
    }
    return 0;
}

static void remove_partial(const char *dir) {
    char cmd[2600];
    if (strchr(dir, '\'')) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "mama eval: could not remove %s\n", dir);
}

static int load_data(const eval_opts *o, train_config *c, train_data *d, char *err, size_t errlen) {
    char conf[1200];
    if (o->run) snprintf(conf, sizeof conf, "%s/config.conf", o->run);
    else snprintf(conf, sizeof conf, "%s", o->conf);
    train_config_defaults(c);
    if (train_config_load_file(c, conf, err, errlen) != 0) return -1;
    if (train_config_finish(c, err, errlen) != 0) return -1;
    /* the model under evaluation is --model; the config's tower settings are not used */
    if (train_data_load(c, d, stderr, err, errlen) != 0) return -1;
    return train_data_split(d, (uint64_t)c->data_split_seed, err, errlen);
}

static json_t *header_json(const mama_model *m, const train_config *c, const train_data *d,
                           const eval_features *f, const eval_opts *o) {
    json_t *r = json_object(), *jm = json_object(), *jd = json_object(), *jb = json_object();
    json_object_set_new(jm, "id", json_string(m->id));
    json_object_set_new(jm, "file", json_string(o->model));
    json_object_set_new(jm, "source", json_string(m->source));
    json_object_set_new(jm, "untrained", json_boolean(m->untrained));
    json_object_set_new(r, "model", jm);
    int cnt[3] = {0, 0, 0};
    for (int i = 0; i < f->n; i++) cnt[d->split[f->item[i]]]++;
    json_object_set_new(jd, "source", json_string(c->data_source));
    json_object_set_new(jd, "root", json_string(c->data_root));
    json_object_set_new(jd, "split_seed", json_integer(c->data_split_seed));
    json_object_set_new(jd, "train_images", json_integer(cnt[SPLIT_TRAIN]));
    json_object_set_new(jd, "test_images", json_integer(cnt[SPLIT_TEST]));
    json_object_set_new(jd, "skipped_images", json_integer(f->n_bad));
    json_object_set_new(jd, "rows_left_out", json_integer(d->n_bad_rows));
    json_object_set_new(r, "data", jd);
    json_object_set_new(jb, "resamples", json_integer(o->n_boot));
    json_object_set_new(jb, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(jb, "interval", json_string("percentile 2.5..97.5"));
    json_object_set_new(r, "bootstrap", jb);
    json_object_set_new(r, "probe_steps", json_integer(o->no_probe ? 0 : o->probe_steps));
    return r;
}

static int make_partial(const char *out, char *dir, size_t n, char *err, size_t errlen) {
    if (access(out, F_OK) == 0) {
        snprintf(err, errlen, "--out %s exists already (choose another folder)", out);
        return -1;
    }
    snprintf(dir, n, "%s.partial", out);
    remove_partial(dir);
    if (mkdir(dir, 0755) != 0) {
        snprintf(err, errlen, "--out %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int cmd_eval(int argc, char **argv) {
    eval_opts o;
    if (parse_args(argc, argv, &o) != 0) return 2;
    char err[2048] = "";
    static train_config c;
    train_data d;
    memset(&d, 0, sizeof d);
    if (load_data(&o, &c, &d, err, sizeof err) != 0) {
        fprintf(stderr, "mama eval: %s\n", err);
        train_data_free(&d);
        return 2;
    }
    mama_model *m = NULL;
    if (model_load(o.model, &m) != MAMA_OK) {
        fprintf(stderr, "mama eval: %s\n", mama_last_error());
        train_data_free(&d);
        return 1;
    }
    int want[3] = {!o.no_probe, 0, 1};
    eval_features f;
    int rc = 1;
    eval_ctx e = {.o = &o};
    if (eval_features_compute(m, &d, want, o.max_images, stderr, &f, err, sizeof err) != 0) {
        fprintf(stderr, "mama eval: %s\n", err);
        goto out;
    }
    if (make_partial(o.out, e.dir, sizeof e.dir, err, sizeof err) != 0) {
        fprintf(stderr, "mama eval: %s\n", err);
        eval_features_free(&f);
        goto out;
    }
    char mdpath[1400];
    snprintf(mdpath, sizeof mdpath, "%s/summary.md", e.dir);
    e.md = fopen(mdpath, "w");
    e.results = json_array();
    if (!e.md) {
        fprintf(stderr, "mama eval: %s: %s\n", mdpath, strerror(errno));
        remove_partial(e.dir);
        eval_features_free(&f);
        json_decref(e.results);
        goto out;
    }
    fprintf(e.md, "# Evaluation of %s\n\nModel id %s (%s%s). Data: %s at %s, patient split seed %lld; "
            "%d images evaluated, %d skipped (unreadable), %d table rows left out.\n"
            "Intervals: %d bootstrap resamples (seed %llu), 2.5 and 97.5 percentiles.\n\n"
            "| task | method | probe training data | n test | balanced accuracy [95%% CI] | "
            "AUC macro OvR [95%% CI] | accuracy | cancer |\n|---|---|---|---|---|---|---|---|\n",
            o.model, m->id, m->source, m->untrained ? ", untrained" : "", c.data_source, c.data_root,
            (long long)c.data_split_seed, f.n, f.n_bad, d.n_bad_rows, o.n_boot, (unsigned long long)o.seed);
    if (!strcmp(c.data_source, "mias")) task_eval(&e, m, &f, &d, &MIAS_TISSUE);
    for (size_t t = 0; t < sizeof TASKS / sizeof TASKS[0]; t++) {
        if (!strcmp(c.data_source, "mias") && TASKS[t].which == 0) continue;
        task_eval(&e, m, &f, &d, &TASKS[t]);
    }
    json_t *report = header_json(m, &c, &d, &f, &o);
    json_object_set_new(report, "results", e.results);
    int bad = e.failed || write_json(e.dir, report, e.err, sizeof e.err);
    json_decref(report);
    if (fclose(e.md) != 0) bad = 1;
    if (!bad && rename(e.dir, o.out) != 0) {
        snprintf(e.err, sizeof e.err, "%s: %s", o.out, strerror(errno));
        bad = 1;
    }
    if (bad) {
        fprintf(stderr, "mama eval: %s\n", e.err);
        remove_partial(e.dir);
    } else {
        printf("report: %s (report.json, summary.md, figures)\n", o.out);
        rc = 0;
    }
    eval_features_free(&f);
out:
    model_free(m);
    train_data_free(&d);
    return rc;
}
