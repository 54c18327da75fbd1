/* train_progress.c: the progress line, metrics.jsonl and the training plots (see
 * train_progress.h). */
#define _GNU_SOURCE
#include "tools/train_progress.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/eval_plot.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Keeps the records with step <= keep (rewritten through a temporary file). */
static int truncate_jsonl(const char *path, int64_t keep) {
    FILE *in = fopen(path, "r");
    if (!in) return errno == ENOENT ? 0 : -1;
    char tmp[1500];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        int64_t step = j ? json_integer_value(json_object_get(j, "step")) : -1;
        json_decref(j);
        if (j && step <= keep) fputs(line, out); /* a torn last line (kill -9) is dropped */
    }
    free(line);
    fclose(in);
    int bad = fflush(out) != 0 || fsync(fileno(out)) != 0;
    if (fclose(out) != 0 || bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int train_progress_open(train_progress *p, const char *run, int64_t resume_step, int64_t total,
                        int64_t samples_per_step) {
    memset(p, 0, sizeof *p);
    snprintf(p->run, sizeof p->run, "%s", run);
    char path[1400];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run);
    if (truncate_jsonl(path, resume_step) != 0 || !(p->jsonl = fopen(path, "a"))) {
        fprintf(stderr, "mama train: %s: %s\n", path, strerror(errno));
        return -1;
    }
    p->tty = isatty(STDERR_FILENO);
    p->total = total, p->first_step = resume_step, p->samples_per_step = samples_per_step;
    p->plain_every = total / 20 > 0 ? total / 20 : 1;
    p->log_every = total / 500 > 0 ? total / 500 : 1;
    p->t0 = now_s();
    return 0;
}

static void write_record(train_progress *p, json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    if (s) {
        fprintf(p->jsonl, "%s\n", s);
        fflush(p->jsonl);
        free(s);
    }
    json_decref(j);
}

void train_progress_step(train_progress *p, int64_t step, double lr, const char *const *names,
                         const double *losses, int n) {
    if (step % p->log_every == 0 || step == p->total) {
        json_t *j = json_object(), *l = json_object();
        json_object_set_new(j, "step", json_integer(step));
        json_object_set_new(j, "lr", json_real(lr));
        for (int i = 0; i < n; i++) json_object_set_new(l, names[i], isfinite(losses[i]) ? json_real(losses[i]) : json_null());
        json_object_set_new(j, "loss", l);
        write_record(p, j);
    }
    int plain = !p->tty && (step % p->plain_every == 0 || step == p->total);
    if (!p->tty && !plain) return;
    double el = now_s() - p->t0, done = (double)(step - p->first_step);
    double rate = el > 0 ? done * (double)p->samples_per_step / el : 0;
    double eta = done > 0 ? el / done * (double)(p->total - step) : 0;
    char terms[512] = "";
    size_t off = 0;
    for (int i = 0; i < n && off < sizeof terms; i++)
        off += (size_t)snprintf(terms + off, sizeof terms - off, " %s %.4f", names[i], losses[i]);
    fprintf(stderr, "%sstep %lld/%lld | loss%s | lr %.3g | %.0f samples/s | ETA %d:%02d%s",
            p->tty ? "\r" : "", (long long)step, (long long)p->total, terms, lr, rate,
            (int)(eta / 60), (int)fmod(eta, 60), p->tty ? "   " : "\n");
    if (p->tty && step == p->total) fputc('\n', stderr);
}

void train_progress_val(train_progress *p, int64_t step, json_t *val) {
    json_t *j = json_object();
    json_object_set_new(j, "step", json_integer(step));
    char *text = json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS);
    json_object_set_new(j, "val", val);
    write_record(p, j);
    fprintf(stderr, "%sstep %lld validation: %s\n", p->tty ? "\n" : "", (long long)step, text ? text : "");
    free(text);
}

/* Series from metrics.jsonl: x and up to 8 named y columns of records that have `key`. */
typedef struct series {
    int n, cap, ns;
    double *x;
    double *y[8];
    char names[8][64];
} series;

static int series_col(series *s, const char *name) {
    for (int i = 0; i < s->ns; i++)
        if (!strcmp(s->names[i], name)) return i;
    if (s->ns == 8) return -1;
    snprintf(s->names[s->ns], sizeof s->names[0], "%s", name);
    s->y[s->ns] = malloc((size_t)(s->cap > 0 ? s->cap : 1) * sizeof(double));
    for (int k = 0; s->y[s->ns] && k < s->n; k++) s->y[s->ns][k] = NAN;
    return s->ns++;
}

static int series_row(series *s, double x) {
    if (s->n == s->cap) {
        int nc = s->cap ? 2 * s->cap : 256;
        double *nx = realloc(s->x, (size_t)nc * sizeof *nx);
        if (!nx) return -1;
        s->x = nx;
        for (int i = 0; i < s->ns; i++) {
            double *ny = realloc(s->y[i], (size_t)nc * sizeof *ny);
            if (!ny) return -1;
            s->y[i] = ny;
        }
        s->cap = nc;
    }
    s->x[s->n] = x;
    for (int i = 0; i < s->ns; i++) s->y[i][s->n] = NAN;
    return s->n++;
}

static void series_free(series *s) {
    free(s->x);
    for (int i = 0; i < s->ns; i++) free(s->y[i]);
}

static int plot(const train_progress *p, series *s, const char *file, const char *title) {
    if (s->n == 0 || s->ns == 0) return 0;
    char path[1400], err[1600];
    snprintf(path, sizeof path, "%s/plots/%s", p->run, file);
    const double *ys[8];
    const char *names[8];
    for (int i = 0; i < s->ns; i++) ys[i] = s->y[i], names[i] = s->names[i];
    if (eval_plot_series(path, title, "step", s->x, s->n, ys, names, s->ns, err, sizeof err) != 0) {
        fprintf(stderr, "mama train: plot: %s\n", err);
        return -1;
    }
    return 0;
}

int train_progress_plots(train_progress *p) {
    char path[1400];
    snprintf(path, sizeof path, "%s/plots", p->run);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/metrics.jsonl", p->run);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    series loss = {0}, lr = {0}, val = {0};
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j) continue;
        double x = (double)json_integer_value(json_object_get(j, "step"));
        json_t *l = json_object_get(j, "loss"), *v = json_object_get(j, "val"), *val_t;
        const char *k;
        if (l) {
            int r = series_row(&loss, x), c;
            json_object_foreach(l, k, val_t) if (r >= 0 && (c = series_col(&loss, k)) >= 0 && json_is_number(val_t))
                loss.y[c][r] = json_number_value(val_t);
            r = series_row(&lr, x);
            c = series_col(&lr, "lr");
            if (r >= 0 && c >= 0) lr.y[c][r] = json_number_value(json_object_get(j, "lr"));
        }
        if (v) {
            int r = series_row(&val, x), c;
            json_object_foreach(v, k, val_t) {
                char name[64];
                snprintf(name, sizeof name, "%s bal. acc.", k);
                json_t *ba = json_object_get(val_t, "balanced_accuracy");
                if (r >= 0 && (c = series_col(&val, name)) >= 0 && json_is_number(ba)) val.y[c][r] = json_number_value(ba);
            }
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    int rc = plot(p, &loss, "loss.png", "training loss") | plot(p, &lr, "lr.png", "learning rate") |
             plot(p, &val, "val.png", "validation");
    series_free(&loss), series_free(&lr), series_free(&val);
    return rc;
}

void train_progress_close(train_progress *p) {
    if (p->jsonl) fclose(p->jsonl);
    p->jsonl = NULL;
}
