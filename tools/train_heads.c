/* train_heads.c: the heads job of `mama train` (see train_heads.h). */
#define _GNU_SOURCE
#include "tools/train_heads.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/config_table.h"
#include "engine/core/safetensors.h"
#include "engine/model.h"
#include "engine/train/checkpoint.h"
#include "engine/train/linear_probe.h"
#include "engine/train/loader.h"
#include "engine/train/metrics.h"
#include "engine/vision/vit.h"
#include "tools/eval_plot.h"
#include "tools/image_source.h"
#include "tools/train_progress.h"

#define MOMENTUM 0.9

typedef struct head_task {
    const char *name;
    int which;                 /* 0 density/tissue, 1 birads, 2 cancer */
    int K;
    const char *classes[8];
    int active;
    lp_head head;
    void *backup, *backup_mom; /* params and momentum before a step (NaN rollback) */
    int *label;                /* per feature row; -1 unknown */
    int *train_rows, n_train;
    int *val_rows, n_val;
    mama_rng rng;
    double loss;
} head_task;

typedef struct job {
    const train_config *c;
    const char *run;
    const train_data *d;
    mama_model *m;
    int n, C;                  /* feature rows, width */
    float *pooled;             /* (n, C) */
    int *item;                 /* (n) train_data item of each row */
    int64_t bad_images;
    head_task tasks[3];
    int n_tasks;
    int *batch;
    train_progress prog;
} job;

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

void train_heads_run_id(const train_config *c, char out[17]) {
    train_config k = *c;
    k.train_out_dir[0] = k.train_name[0] = '\0';
    char *text = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&text, &n);
    train_config_write(&k, m);
    fclose(m);
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
    free(text);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static double lr_at(const train_config *c, int64_t s) {
    if (s < c->train_warmup_steps) return c->train_lr * (double)(s + 1) / (double)c->train_warmup_steps;
    int64_t span = c->train_steps - c->train_warmup_steps;
    double t = span > 0 ? (double)(s - c->train_warmup_steps) / (double)span : 1.0;
    if (!strcmp(c->train_schedule, "constant")) return c->train_lr;
    if (!strcmp(c->train_schedule, "linear")) return c->train_lr + (c->train_lr_min - c->train_lr) * t;
    return c->train_lr_min + (c->train_lr - c->train_lr_min) * 0.5 * (1.0 + cos(M_PI * t));
}

static void path_in(char *out, size_t n, const char *run, const char *name) {
    snprintf(out, n, "%s/%s", run, name);
}

/* --- 1. the tower */

static int make_base(job *j, int resume) {
    char base[1400];
    path_in(base, sizeof base, j->run, "base.safetensors");
    if (resume && access(base, F_OK) == 0) {
        if (model_load(base, &j->m) == MAMA_OK) return 0;
        fprintf(stderr, "mama train: %s: %s\n", base, mama_last_error());
        return -1;
    }
    const train_config *c = j->c;
    mama_status rc;
    if (!strcmp(c->model_image_init, "model")) {
        rc = model_load(c->model_image_weights, &j->m);
    } else {
        model_init_opts o = {.seed = (uint64_t)c->model_seed, .created = "1970-01-01T00:00:00Z"};
        if (!strcmp(c->model_image_init, "hf")) o.from_hf = c->model_image_weights;
        if (strcmp(c->model_image_config, "auto") != 0) o.config = c->model_image_config;
        rc = model_init(&o, &j->m);
    }
    if (rc == MAMA_OK) rc = model_save(j->m, base);
    if (rc != MAMA_OK) {
        fprintf(stderr, "mama train: model.image_init = %s: %s\n", c->model_image_init, mama_last_error());
        return -1;
    }
    return 0;
}

/* --- 2. features */

static void log_bad(void *ctx, const char *path, const char *reason) {
    (void)ctx;
    fprintf(stderr, "mama train: skipped %s: %s\n", path, reason);
}

static int load_features(job *j, const char *path) {
    st_file *f = NULL;
    if (st_open(path, &f) != MAMA_OK) return -1;
    const st_tensor *p = st_find(f, "pooled"), *it = st_find(f, "item");
    const char *meta = st_metadata(f, "bad_images");
    int ok = p && it && p->dtype == ST_F32 && it->dtype == ST_I32 && p->ndim == 2 && p->shape[1] == j->C &&
             it->numel == p->shape[0];
    if (ok) {
        j->n = (int)p->shape[0];
        j->pooled = malloc(p->nbytes + 1);
        j->item = malloc(it->nbytes + 1);
        ok = j->pooled && j->item;
        if (ok) memcpy(j->pooled, p->data, p->nbytes), memcpy(j->item, it->data, it->nbytes);
        for (int i = 0; ok && i < j->n; i++) ok = j->item[i] >= 0 && j->item[i] < j->d->n;
        j->bad_images = meta ? atoll(meta) : 0;
    }
    st_close(f);
    return ok ? 0 : -1;
}

/* Pooled features of every train and val image, in item order, through the loader. */
static int compute_features(job *j, const char *path) {
    const train_config *c = j->c;
    const train_data *d = j->d;
    int S = j->m->pre.image_size, B = 8;
    int *order = malloc((size_t)(d->n + 1) * sizeof *order), n_order = 0;
    const char **paths = malloc((size_t)(d->n + 1) * sizeof *paths);
    float *pix = malloc((size_t)B * 3 * S * S * sizeof *pix);
    int sample[8];
    j->pooled = malloc((size_t)(d->n + 1) * j->C * sizeof *j->pooled);
    j->item = malloc((size_t)(d->n + 1) * sizeof *j->item);
    if (!order || !paths || !pix || !j->pooled || !j->item) {
        free(order), free(paths), free(pix);
        fprintf(stderr, "mama train: out of memory for %d images\n", d->n);
        return -1;
    }
    for (int i = 0; i < d->n; i++) {
        paths[i] = d->items[i].path;
        if (d->split[i] != SPLIT_TEST) order[n_order++] = i;
    }
    loader_config lc = {.batch = B, .workers = (int)c->data_workers, .prefetch = (int)c->data_prefetch,
                        .augment = 0, .seed = (uint64_t)c->train_seed, .load = image_source_cache_loader,
                        .log = log_bad};
    prep_config_default(&lc.pre);
    lc.pre.size = S;
    memcpy(lc.pre.mean, j->m->pre.mean, sizeof lc.pre.mean);
    memcpy(lc.pre.std, j->m->pre.std, sizeof lc.pre.std);
    /* No cache here: the features are computed once, by the scoring path's own preprocessing
     * (the breast crop from the full image), so the heads see exactly what mamad feeds them. */
    loader *L = NULL;
    int rc = loader_create(&L, &lc, paths, d->n, order, n_order, 0) == MAMA_OK ? 0 : -1;
    j->n = 0;
    for (int got = 1; rc == 0 && got > 0;) {
        if (loader_next(L, pix, sample, &got) != MAMA_OK) rc = -1;
        if (rc || got == 0) break;
        if (vit_forward(j->m->vit, pix, got, S, S, 0) != MAMA_OK) rc = -1;
        for (int b = 0; rc == 0 && b < got; b++) {
            memcpy(j->pooled + (size_t)j->n * j->C, vit_pooled(j->m->vit) + (size_t)b * j->C, (size_t)j->C * sizeof(float));
            j->item[j->n++] = sample[b];
        }
        if (isatty(STDERR_FILENO)) fprintf(stderr, "\rmama train: features %d/%d", j->n, n_order);
    }
    fprintf(stderr, "%smama train: features of %d images (%lld skipped)\n", isatty(STDERR_FILENO) ? "\n" : "",
            j->n, (long long)(L ? loader_bad(L) : 0));
    if (L) j->bad_images = loader_bad(L);
    loader_free(L);
    free(order), free(paths), free(pix);
    if (rc) {
        fprintf(stderr, "mama train: features: %s\n", mama_last_error());
        return -1;
    }
    st_writer *w = NULL;
    char bad[32];
    snprintf(bad, sizeof bad, "%lld", (long long)j->bad_images);
    mama_status st = st_writer_create(&w);
    if (st == MAMA_OK && j->n > 0)
        st = st_writer_add_f32(w, "pooled", 2, (const int64_t[]){j->n, j->C}, j->pooled);
    if (st == MAMA_OK && j->n > 0) st = st_writer_add(w, "item", ST_I32, 1, (const int64_t[]){j->n}, j->item);
    if (st == MAMA_OK) st = st_writer_set_metadata(w, "bad_images", bad);
    if (st == MAMA_OK && j->n > 0) st = st_writer_save(w, path);
    st_writer_destroy(w);
    if (st != MAMA_OK) {
        fprintf(stderr, "mama train: %s: %s\n", path, mama_last_error());
        return -1;
    }
    if (j->n == 0) {
        fprintf(stderr, "mama train: no readable training image (%lld skipped)\n", (long long)j->bad_images);
        return -1;
    }
    return 0;
}

/* --- 3. heads */

static int label_of(const train_item *it, int which) {
    return which == 0 ? it->density : which == 1 ? it->birads : it->cancer;
}

static void define_tasks(job *j) {
    static const head_task defs[3] = {
        {.name = "density", .which = 0, .K = 4, .classes = {"A", "B", "C", "D"}},
        {.name = "birads", .which = 1, .K = 7, .classes = {"0", "1", "2", "3", "4", "5", "6"}},
        {.name = "malignancy", .which = 2, .K = 2, .classes = {"negative", "cancer"}},
    };
    for (int t = 0; t < 3; t++) j->tasks[t] = defs[t];
    if (!strcmp(j->c->data_source, "mias")) {
        head_task *d = &j->tasks[0];
        d->name = "tissue", d->K = 3, d->classes[0] = "F", d->classes[1] = "G", d->classes[2] = "D";
    }
    j->n_tasks = 3;
}

/* Rows, labels and the head of each task with two classes among its training labels. */
static int setup_tasks(job *j) {
    define_tasks(j);
    for (int t = 0; t < j->n_tasks; t++) {
        head_task *h = &j->tasks[t];
        h->label = malloc((size_t)j->n * sizeof *h->label);
        h->train_rows = malloc((size_t)j->n * sizeof *h->train_rows);
        h->val_rows = malloc((size_t)j->n * sizeof *h->val_rows);
        if (!h->label || !h->train_rows || !h->val_rows) return -1;
        int seen[8] = {0}, classes = 0;
        for (int i = 0; i < j->n; i++) {
            const train_item *it = &j->d->items[j->item[i]];
            int y = label_of(it, h->which);
            h->label[i] = y >= 0 && y < h->K ? y : -1;
            if (h->label[i] < 0) continue;
            if (j->d->split[j->item[i]] == SPLIT_TRAIN) {
                h->train_rows[h->n_train++] = i;
                classes += !seen[y]++;
            } else {
                h->val_rows[h->n_val++] = i;
            }
        }
        if (classes < 2) {
            fprintf(stderr, "mama train: task %s: %d class(es) among the training labels; not trained\n", h->name, classes);
            continue;
        }
        if (lp_head_create(&h->head, j->C, h->K, (int)j->c->train_batch) != MAMA_OK ||
            ptable_alloc(&h->head.table, &h->backup) != MAMA_OK ||
            ptable_alloc(&h->head.table, &h->backup_mom) != MAMA_OK) {
            fprintf(stderr, "mama train: task %s: %s\n", h->name, mama_last_error());
            return -1;
        }
        mama_rng_seed(&h->rng, mama_rng_mix64((uint64_t)j->c->train_seed) ^ (uint64_t)(t + 1));
        h->active = 1;
    }
    return 0;
}

static void free_job(job *j) {
    for (int t = 0; t < j->n_tasks; t++) {
        head_task *h = &j->tasks[t];
        if (h->active) lp_head_free(&h->head);
        ptable_block_free(h->backup), ptable_block_free(h->backup_mom);
        free(h->label), free(h->train_rows), free(h->val_rows);
    }
    free(j->pooled), free(j->item), free(j->batch);
    model_free(j->m);
}

/* --- checkpoints */

static int ckpt_blocks(job *j, ckpt_block *b, char names[][2][48]) {
    int n = 0;
    for (int t = 0; t < j->n_tasks; t++) {
        head_task *h = &j->tasks[t];
        if (!h->active) continue;
        snprintf(names[t][0], 48, "head.%s.", h->name);
        snprintf(names[t][1], 48, "momentum.%s.", h->name);
        b[n++] = (ckpt_block){names[t][0], &h->head.table, h->head.params_block};
        b[n++] = (ckpt_block){names[t][1], &h->head.table, h->head.momentum_block};
    }
    return n;
}

static int save_ckpt(job *j, int64_t step, int64_t nan_streak) {
    ckpt_state s;
    memset(&s, 0, sizeof s);
    s.step = step, s.bad_images = j->bad_images, s.nan_streak = nan_streak;
    train_heads_run_id(j->c, s.run_id);
    for (int t = 0; t < j->n_tasks; t++)
        if (j->tasks[t].active) ckpt_set_rng(&s, j->tasks[t].name, &j->tasks[t].rng);
    ckpt_block b[6];
    char names[3][2][48];
    int n = ckpt_blocks(j, b, names);
    char path[1400];
    path_in(path, sizeof path, j->run, "checkpoint.safetensors");
    if (ckpt_save(path, &s, b, n) != MAMA_OK) {
        fprintf(stderr, "mama train: checkpoint: %s\n", mama_last_error());
        return -1;
    }
    return 0;
}

static int load_ckpt(job *j, int64_t *step, int64_t *nan_streak) {
    char path[1400];
    path_in(path, sizeof path, j->run, "checkpoint.safetensors");
    if (access(path, F_OK) != 0) { /* killed before the first checkpoint: start over */
        *step = 0, *nan_streak = 0;
        return 0;
    }
    ckpt_state s;
    ckpt_block b[6];
    char names[3][2][48], id[17];
    int n = ckpt_blocks(j, b, names);
    if (ckpt_load(path, &s, b, n) != MAMA_OK) {
        fprintf(stderr, "mama train: --resume: %s\n", mama_last_error());
        return -1;
    }
    train_heads_run_id(j->c, id);
    if (strcmp(id, s.run_id) != 0) {
        fprintf(stderr, "mama train: --resume: %s/config.conf changed since the checkpoint (job %s, checkpoint %s)\n",
                j->run, id, s.run_id);
        return -1;
    }
    for (int t = 0; t < j->n_tasks; t++) {
        head_task *h = &j->tasks[t];
        if (!h->active) continue;
        if (ckpt_get_rng(&s, h->name, &h->rng) != MAMA_OK) {
            fprintf(stderr, "mama train: --resume: %s\n", mama_last_error());
            return -1;
        }
        h->head.step = s.step; /* momentum has started once a step was taken */
    }
    *step = s.step, *nan_streak = s.nan_streak;
    return 0;
}

/* --- validation */

static json_t *validate(job *j) {
    json_t *v = json_object();
    for (int t = 0; t < j->n_tasks; t++) {
        head_task *h = &j->tasks[t];
        if (!h->active || h->n_val == 0) continue;
        float *X = malloc((size_t)h->n_val * j->C * sizeof *X), *p = malloc((size_t)h->n_val * h->K * sizeof *p);
        int *y = malloc((size_t)h->n_val * sizeof *y);
        metrics_result r;
        if (X && p && y) {
            for (int i = 0; i < h->n_val; i++) {
                memcpy(X + (size_t)i * j->C, j->pooled + (size_t)h->val_rows[i] * j->C, (size_t)j->C * sizeof *X);
                y[i] = h->label[h->val_rows[i]];
            }
            lp_predict(&h->head, X, h->n_val, p);
            if (metrics_evaluate(&r, y, p, h->n_val, h->K, 0, 0) == MAMA_OK) {
                json_t *o = json_object();
                json_object_set_new(o, "balanced_accuracy", isfinite(r.balanced_accuracy.value) ? json_real(r.balanced_accuracy.value) : json_null());
                json_object_set_new(o, "auc", isfinite(r.auc.value) ? json_real(r.auc.value) : json_null());
                json_object_set_new(o, "n", json_integer(h->n_val));
                json_object_set_new(v, h->name, o);
            }
        }
        free(X), free(p), free(y);
    }
    return v;
}

/* --- one step */

static int poisoned(int64_t step) {
    const char *e = getenv("MAMA_TRAIN_POISON_STEPS");
    if (!e) return 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", e);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (atoll(t) == step) return 1;
    return 0;
}

static int64_t env_step(const char *name) {
    const char *e = getenv(name);
    return e && *e ? atoll(e) : -1;
}

/* One SGD step of every head. 0, or 1 when a loss was not finite (that head rolled back
 * to its values before the step; *bad_task names the first such task). */
static int heads_step(job *j, int64_t s, const char **bad_task) {
    double lr = lr_at(j->c, s);
    int B = (int)j->c->train_batch, bad = 0;
    int poison = poisoned(s);
    for (int t = 0; t < j->n_tasks; t++) {
        head_task *h = &j->tasks[t];
        if (!h->active) continue;
        lp_sample_balanced(&h->rng, h->label, h->train_rows, h->n_train, h->K, j->batch, B);
        size_t pb = h->head.table.bytes;
        memcpy(h->backup, h->head.params_block, pb);
        memcpy(h->backup_mom, h->head.momentum_block, pb);
        int64_t step_before = h->head.step;
        float saved = 0, *x0 = j->pooled + (size_t)j->batch[0] * j->C;
        if (poison) saved = x0[0], x0[0] = NAN; /* test hook: one NaN feature in the batch */
        double loss = NAN;
        mama_status rc = lp_step(&h->head, j->pooled, h->label, j->batch, B, lr, j->c->train_weight_decay,
                                 MOMENTUM, &loss);
        if (poison) x0[0] = saved;
        int finite = rc == MAMA_OK && isfinite(loss);
        for (int k = 0; finite && k < h->K; k++) finite = isfinite(h->head.b[k]);
        if (!finite) {
            memcpy(h->head.params_block, h->backup, pb);
            memcpy(h->head.momentum_block, h->backup_mom, pb);
            h->head.step = step_before;
            if (!bad) *bad_task = h->name;
            bad = 1;
        }
        h->loss = loss;
    }
    return bad;
}

/* --- the job */

static int features(job *j, int resume) {
    char path[1400];
    path_in(path, sizeof path, j->run, "features.safetensors");
    if (resume && access(path, F_OK) == 0) {
        if (load_features(j, path) == 0) return 0;
        fprintf(stderr, "mama train: %s is not this run's feature file; recomputing\n", path);
        free(j->pooled), free(j->item);
        j->pooled = NULL, j->item = NULL;
    }
    return compute_features(j, path);
}

static void write_summary(job *j, int64_t steps, json_t *val) {
    json_t *s = json_object(), *tasks = json_array();
    json_object_set_new(s, "mode", json_string("heads"));
    json_object_set_new(s, "steps", json_integer(steps));
    json_object_set_new(s, "data_source", json_string(j->c->data_source));
    json_object_set_new(s, "data_root", json_string(j->c->data_root));
    json_object_set_new(s, "feature_rows", json_integer(j->n));
    json_object_set_new(s, "skipped_images", json_integer(j->bad_images));
    json_object_set_new(s, "base_model", json_string(j->m->id));
    for (int t = 0; t < j->n_tasks; t++) {
        head_task *h = &j->tasks[t];
        if (!h->active) continue;
        json_t *o = json_object(), *cls = json_array();
        json_object_set_new(o, "name", json_string(h->name));
        for (int k = 0; k < h->K; k++) json_array_append_new(cls, json_string(h->classes[k]));
        json_object_set_new(o, "classes", cls);
        json_object_set_new(o, "train_samples", json_integer(h->n_train));
        json_array_append_new(tasks, o);
    }
    json_object_set_new(s, "tasks", tasks);
    json_object_set_new(s, "val", val);
    char path[1400], tmp[1500];
    path_in(path, sizeof path, j->run, "heads.json");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (json_dump_file(s, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 || rename(tmp, path) != 0)
        fprintf(stderr, "mama train: cannot write %s\n", path);
    json_decref(s);
}

/* The SGD loop from step `start`; returns the exit code. */
static int loop(job *j, int64_t start, int64_t nan_streak) {
    const train_config *c = j->c;
    int64_t kill_at = env_step("MAMA_TRAIN_KILL_AT"), signal_at = env_step("MAMA_TRAIN_SIGNAL_AT");
    const char *names[3];
    double losses[3];
    int n_active = 0;
    for (int t = 0; t < j->n_tasks; t++)
        if (j->tasks[t].active) names[n_active++] = j->tasks[t].name;
    for (int64_t s = start; s < c->train_steps; s++) {
        if (s == kill_at) raise(SIGKILL);
        if (s == signal_at) raise(SIGTERM);
        if (stop_signal) {
            fputc('\n', stderr);
            if (save_ckpt(j, s, nan_streak) != 0) return 1;
            fprintf(stderr, "mama train: interrupted at step %lld: checkpoint written; continue with "
                    "`mama train --resume %s`\n", (long long)s, j->run);
            return stop_signal == SIGINT ? 130 : 143;
        }
        const char *bad_task = NULL;
        if (heads_step(j, s, &bad_task)) {
            nan_streak++;
            fprintf(stderr, "\nmama train: step %lld: loss term %s is not finite; batch skipped (%lld in a row)\n",
                    (long long)s + 1, bad_task, (long long)nan_streak);
            if (nan_streak >= c->train_max_nan_steps) {
                fprintf(stderr, "mama train: stopped: %lld consecutive steps with a non-finite loss (train.max_nan_steps); "
                        "the last good checkpoint is %s/checkpoint.safetensors\n", (long long)nan_streak, j->run);
                return 4;
            }
        } else {
            nan_streak = 0;
        }
        int k = 0;
        for (int t = 0; t < j->n_tasks; t++)
            if (j->tasks[t].active) losses[k++] = j->tasks[t].loss;
        int64_t done = s + 1;
        train_progress_step(&j->prog, done, lr_at(c, s), names, losses, n_active);
        int last = done == c->train_steps;
        if ((c->train_eval_every && done % c->train_eval_every == 0) || last) {
            json_t *v = validate(j);
            if (last) write_summary(j, done, json_deep_copy(v));
            train_progress_val(&j->prog, done, v);
            train_progress_plots(&j->prog);
        }
        if ((done % c->train_checkpoint_every == 0 || last) && save_ckpt(j, done, nan_streak) != 0) return 1;
    }
    return 0;
}

int train_heads_run(const train_config *c, const char *run, const train_data *d, int resume) {
    job j;
    memset(&j, 0, sizeof j);
    j.c = c, j.run = run, j.d = d;
    stop_signal = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = 1;
    int64_t start = 0, nan_streak = 0;
    if (make_base(&j, resume) != 0) goto done;
    j.C = j.m->vit->cfg.width;
    if (features(&j, resume) != 0) goto done;
    j.batch = malloc((size_t)c->train_batch * sizeof *j.batch);
    if (!j.batch || setup_tasks(&j) != 0) goto done;
    int any = 0;
    for (int t = 0; t < j.n_tasks; t++) any |= j.tasks[t].active;
    if (!any) {
        fprintf(stderr, "mama train: no task has two classes among the training labels of %s\n", c->data_root);
        goto done;
    }
    if (resume && load_ckpt(&j, &start, &nan_streak) != 0) goto done;
    if (train_progress_open(&j.prog, run, start, c->train_steps, c->train_batch) != 0) goto done;
    fprintf(stderr, "mama train: %d feature rows (%lld images skipped), steps %lld..%lld\n", j.n,
            (long long)j.bad_images, (long long)start, (long long)c->train_steps);
    rc = loop(&j, start, nan_streak);
    train_progress_close(&j.prog);
done:
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    free_job(&j);
    return rc;
}
