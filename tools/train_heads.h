/* train_heads.h: `mama train` with train.mode = heads: linear heads (density, BI-RADS,
 * cancer; MIAS: tissue) trained on the frozen image tower's pooled features, the linear
 * probe recipe of MAMA_METHOD.md section 9 run as a resumable job:
 *   1. RUN/base.safetensors: the tower (model.image_*), saved once;
 *   2. RUN/features.safetensors: pooled features of the train and val images through the
 *      input pipeline (engine/train/loader.h: worker threads, prefetch, the preprocessing
 *      cache; unreadable images logged, counted, skipped), written once;
 *   3. SGD steps (momentum 0.9, weight decay on weights, warm-up + train.schedule,
 *      class-balanced batches of train.batch per task), metrics.jsonl, a progress line,
 *      validation metrics every train.eval_every steps, PNG plots (RUN/plots/), and
 *      RUN/checkpoint.safetensors every train.checkpoint_every steps, on SIGINT/SIGTERM and
 *      at the end (engine/train/checkpoint.h: heads, momentum, step, every RNG).
 * A non-finite loss skips its batch (the step and the task are logged, the heads keep
 * their last finite values); train.max_nan_steps in a row stop the run, keeping the last
 * good checkpoint. Resuming (`--resume RUN`) continues bit for bit.
 *
 * Test hooks (environment, for the resume and NaN tests): MAMA_TRAIN_POISON_STEPS=a,b,..
 * feeds a NaN feature into those steps; MAMA_TRAIN_KILL_AT=s raises SIGKILL when step s
 * starts; MAMA_TRAIN_SIGNAL_AT=s raises SIGTERM there. */
#ifndef MAMA_TOOLS_TRAIN_HEADS_H
#define MAMA_TOOLS_TRAIN_HEADS_H

#include "tools/train_config.h"
#include "tools/train_data.h"

/* Runs (resume = 0: a fresh run folder prepared by cmd_train) or continues (resume = 1)
 * the job in run. Returns the exit code: 0 done, 1 error, 4 stopped on repeated
 * non-finite losses, 130/143 interrupted (checkpoint written). */
int train_heads_run(const train_config *c, const char *run, const train_data *d, int resume);

/* FNV-1a of the settings that define the job (everything but train.out_dir and
 * train.name), as 16 hex digits: a checkpoint refuses to resume another job. */
void train_heads_run_id(const train_config *c, char out[17]);

#endif
