/* train_progress.h: what a training run shows and records. On a terminal (stderr is a
 * TTY) a live line rewritten in place: step/total, each loss term, lr, samples/s, ETA;
 * otherwise a plain line every total/20 steps, for logs. RUN/metrics.jsonl gets one JSON
 * object per logged step ({"step", "lr", "loss": {term: value}}) and per validation
 * ({"step", "val": {...}}): only values that a resumed run reproduces exactly (no clock
 * readings), so a resumed run's file equals an uninterrupted one's. the PNGs in RUN/plots/ are
 * redrawn from metrics.jsonl (PLplot) at each validation and at the end. */
#ifndef MAMA_TOOLS_TRAIN_PROGRESS_H
#define MAMA_TOOLS_TRAIN_PROGRESS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

typedef struct train_progress {
    char run[1200];
    FILE *jsonl;
    int tty;
    int64_t total, first_step, samples_per_step, plain_every, log_every;
    double t0;
} train_progress;

/* Opens RUN/metrics.jsonl for appending after dropping every record past resume_step
 * (0 for a fresh run), so that records are never duplicated. 0, or -1 with a message. */
int train_progress_open(train_progress *p, const char *run, int64_t resume_step, int64_t total,
                        int64_t samples_per_step);
/* After step `step` (1-based count of steps done) with n loss terms. */
void train_progress_step(train_progress *p, int64_t step, double lr, const char *const *names,
                         const double *losses, int n);
/* A validation record (val is stolen). */
void train_progress_val(train_progress *p, int64_t step, json_t *val);
/* Draws RUN/plots/loss.png, lr.png and val.png from metrics.jsonl. 0, or -1 (message on stderr). */
int train_progress_plots(train_progress *p);
void train_progress_close(train_progress *p);

#endif
