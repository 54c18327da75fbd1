/* cmd_export.c: `mama export RUN --out model.safetensors [--demo]`. Turns a finished (or
 * checkpointed) `mama train` run into the scoring model mamad loads: the run's image
 * tower, projection and class-prompt embeddings (RUN/base.safetensors) with every trained
 * head from RUN/checkpoint.safetensors as a linear task (density, BI-RADS, malignancy;
 * MIAS tissue added as its own task), and provenance naming the run, its data, its steps
 * and its validation metrics (RUN/heads.json). --demo marks it "demo: trained on phantoms,
 * not for clinical use" as the provenance status (shown by /health and every result) and
 * at the head of the source (every result). The file is written atomically (model_save). */
#define _GNU_SOURCE
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/model.h"
#include "engine/train/checkpoint.h"
#include "engine/train/linear_probe.h"

#define DEMO_MARK "demo: trained on phantoms, not for clinical use"

typedef struct export_head {
    char name[MODEL_NAME_MAX];
    int K;
    char classes[8][MODEL_NAME_MAX];
    lp_head head;
    char prefix[2][80];
} export_head;

static void usage(FILE *out) {
    fprintf(out, "usage: mama export RUN --out MODEL.safetensors [--demo]\n\n"
                 "Writes the scoring model of a `mama train` run (train.mode = heads): the run's tower\n"
                 "and the trained linear heads, with provenance (data, steps, validation metrics).\n"
                 "  --demo   mark it \"" DEMO_MARK "\"\n");
}

/* heads.json -> the heads to read from the checkpoint. */
static int read_heads(const char *run, json_t **out_summary, export_head *h, int *n, int C) {
    char path[1400];
    snprintf(path, sizeof path, "%s/heads.json", run);
    json_error_t je;
    json_t *s = json_load_file(path, 0, &je);
    if (!s) {
        fprintf(stderr, "mama export: %s: %s (is the run finished? `mama train --resume %s`)\n", path, je.text, run);
        return -1;
    }
    json_t *tasks = json_object_get(s, "tasks");
    *n = 0;
    for (size_t i = 0; i < json_array_size(tasks) && *n < 3; i++) {
        json_t *t = json_array_get(tasks, i), *cls = json_object_get(t, "classes");
        export_head *e = &h[*n];
        const char *name = json_string_value(json_object_get(t, "name"));
        int K = (int)json_array_size(cls);
        if (!name || K < 2 || K > 8) {
            fprintf(stderr, "mama export: %s: task %zu is malformed\n", path, i);
            json_decref(s);
            return -1;
        }
        snprintf(e->name, sizeof e->name, "%s", name);
        e->K = K;
        for (int k = 0; k < K; k++)
            snprintf(e->classes[k], MODEL_NAME_MAX, "%s", json_string_value(json_array_get(cls, k)) ?: "?");
        if (lp_head_create(&e->head, C, K, 1) != MAMA_OK) {
            json_decref(s);
            return -1;
        }
        snprintf(e->prefix[0], sizeof e->prefix[0], "head.%s.", name);
        snprintf(e->prefix[1], sizeof e->prefix[1], "momentum.%s.", name);
        (*n)++;
    }
    *out_summary = s;
    return 0;
}

/* The head becomes task `name` of the model (replacing a task of that name). */
static int install_head(mama_model *m, const export_head *e) {
    model_task *t = NULL;
    for (int i = 0; i < m->n_tasks; i++)
        if (!strcmp(m->tasks[i].name, e->name)) t = &m->tasks[i];
    int fresh = !t;
    if (fresh) {
        if (m->n_tasks == MODEL_MAX_TASKS) return -1;
        t = &m->tasks[m->n_tasks++];
        memset(t, 0, sizeof *t);
        memcpy(t->name, e->name, sizeof t->name); /* both MODEL_NAME_MAX, NUL-terminated */
        t->rule = MODEL_RULE_MEAN;
    }
    size_t C = (size_t)m->vit->cfg.width;
    float *w = malloc((size_t)e->K * C * sizeof *w), *b = malloc((size_t)e->K * sizeof *b);
    if (!w || !b) {
        free(w), free(b);
        return -1;
    }
    memcpy(w, e->head.w, (size_t)e->K * C * sizeof *w);
    memcpy(b, e->head.b, (size_t)e->K * sizeof *b);
    /* the model's class names stay when the count matches (mamad's results keep theirs) */
    if (fresh || t->n_classes != e->K) {
        memset(t->suspicious, 0, sizeof t->suspicious);
        for (int k = 0; k < e->K; k++) snprintf(t->classes[k], MODEL_NAME_MAX, "%s", e->classes[k]);
    }
    t->n_classes = e->K;
    free(t->prompts), free(t->head_w), free(t->head_b);
    t->prompts = NULL;
    t->head_w = w, t->head_b = b;
    t->kind = MODEL_TASK_LINEAR;
    return 0;
}

static void provenance(mama_model *m, const char *run, json_t *s, int demo) {
    char val[400] = "";
    size_t off = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(s, "val"), k, v) {
        double ba = json_number_value(json_object_get(v, "balanced_accuracy"));
        off += (size_t)snprintf(val + off, off < sizeof val ? sizeof val - off : 0, "%s%s %.3f", off ? ", " : "", k, ba);
        if (off >= sizeof val) break;
    }
    /* the demo mark first: a too long source is cut at its end, never the mark */
    char text[2400];
    snprintf(text, sizeof text, "%s%smama train (heads) %s: %s at %s, %lld steps; validation balanced "
             "accuracy %s; tower: %s", demo ? DEMO_MARK : "", demo ? "; " : "", run,
             json_string_value(json_object_get(s, "data_source")) ?: "?",
             json_string_value(json_object_get(s, "data_root")) ?: "?",
             (long long)json_integer_value(json_object_get(s, "steps")), val[0] ? val : "none", m->source);
    size_t len = strlen(text);
    if (len >= sizeof m->source) len = sizeof m->source - 1;
    memcpy(m->source, text, len);
    m->source[len] = '\0';
    m->untrained = 0;
    /* /health shows the status; results show status and source */
    snprintf(m->status, sizeof m->status, "%s", demo ? DEMO_MARK : "trained");
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(m->created, sizeof m->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cmd_export(int argc, char **argv) {
    const char *run = NULL, *out = NULL;
    int demo = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--demo")) demo = 1;
        else if (argv[i][0] != '-' && !run) run = argv[i];
        else {
            fprintf(stderr, "mama export: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!run || !out) {
        usage(stderr);
        return 2;
    }
    char path[1400];
    snprintf(path, sizeof path, "%s/base.safetensors", run);
    mama_model *m = NULL;
    if (model_load(path, &m) != MAMA_OK) {
        fprintf(stderr, "mama export: %s\n", mama_last_error());
        return 1;
    }
    export_head h[3];
    memset(h, 0, sizeof h);
    int n = 0, rc = 1;
    json_t *summary = NULL;
    ckpt_block blocks[6];
    ckpt_state st;
    if (read_heads(run, &summary, h, &n, m->vit->cfg.width) != 0) goto done;
    for (int i = 0; i < n; i++) {
        blocks[2 * i] = (ckpt_block){h[i].prefix[0], &h[i].head.table, h[i].head.params_block};
        blocks[2 * i + 1] = (ckpt_block){h[i].prefix[1], &h[i].head.table, h[i].head.momentum_block};
    }
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", run);
    if (ckpt_load(path, &st, blocks, 2 * n) != MAMA_OK) {
        fprintf(stderr, "mama export: %s\n", mama_last_error());
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (install_head(m, &h[i]) != 0) {
            fprintf(stderr, "mama export: cannot add task %s\n", h[i].name);
            goto done;
        }
    provenance(m, run, summary, demo);
    if (model_save(m, out) != MAMA_OK) {
        fprintf(stderr, "mama export: %s\n", mama_last_error());
        goto done;
    }
    mama_model *check = NULL; /* what mamad will load: read it back */
    if (model_load(out, &check) != MAMA_OK) {
        fprintf(stderr, "mama export: the written model does not load: %s\n", mama_last_error());
        goto done;
    }
    printf("wrote %s: id %s, %d trained head(s), step %lld\n  %s\n", out, check->id, n, (long long)st.step,
           check->source);
    model_free(check);
    rc = 0;
done:
    for (int i = 0; i < n; i++) lp_head_free(&h[i].head);
    json_decref(summary);
    model_free(m);
    return rc;
}
