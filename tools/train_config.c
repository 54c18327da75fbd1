/* train_config.c: the settings table of `mama train` and its cross-key checks (see
 * train_config.h). Defaults are the paper's setting (MAMA_METHOD.md sections 4-8). */
#include "tools/train_config.h"

#include "common/config_table.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define F(field) .offset = offsetof(train_config, field), .size = sizeof(((train_config *)0)->field)
#define PROB .rmin = 0, .rmax = 1

static const char *const mask_names[6] = {"age", "race", "ethnicity", "image_type", "side", "view"};

int train_config_mask_fields(const char *list, int out_flags[6], char *err, size_t errlen) {
    char buf[128];
    if (strlen(list) >= sizeof buf) {
        snprintf(err, errlen, "list too long");
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", list);
    for (int k = 0; k < 6; k++) out_flags[k] = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int found = 0;
        for (int k = 0; k < 6; k++)
            if (!strcasecmp(tok, mask_names[k])) out_flags[k] = found = 1;
        if (!found) {
            snprintf(err, errlen, "'%s' is not one of age, race, ethnicity, image_type, side, view", tok);
            return -1;
        }
    }
    return 0;
}

static int check_mask_fields(const char *value, char *err, size_t errlen) {
    int flags[6];
    return train_config_mask_fields(value, flags, err, errlen);
}

static const cfgt_entry entries[] = {
    /* [model] */
    {.name = "model.image_init", .type = CFGT_ENUM, F(model_image_init), .def = "hf",
     .choices = "random, hf, model",
     .help = "Image tower start: `hf` a Hugging Face DINOv2 checkpoint (model.image_weights), "
             "`model` a mama model file, `random` seeded random weights (baselines, tests)."},
    {.name = "model.image_config", .type = CFGT_ENUM, F(model_image_config), .def = "auto",
     .choices = "auto, tiny, base, micro",
     .help = "Tower sizes: `auto` from the checkpoint's shapes; `tiny` 192/4/224 px, `base` "
             "768/12/518 px, `micro` 32/2/28 px (random init only)."},
    {.name = "model.image_weights", .type = CFGT_STR, F(model_image_weights), .def = "",
     .help = "model.safetensors of the image tower (hf) or a mama model file (model)."},
    {.name = "model.text_tower", .type = CFGT_ENUM, F(model_text_tower), .def = "gpt2",
     .choices = "gpt2, bert",
     .help = "Text tower architecture: GPT-2 with LoRA (the paper's) or BERT (the ablation)."},
    {.name = "model.text_init", .type = CFGT_ENUM, F(model_text_init), .def = "hf",
     .choices = "random, hf", .help = "Text tower start: a Hugging Face folder or seeded random."},
    {.name = "model.text_weights", .type = CFGT_STR, F(model_text_weights), .def = "",
     .help = "Hugging Face folder of the text tower (config.json, model.safetensors, tokenizer files)."},
    {.name = "model.embed", .type = CFGT_INT, F(model_embed), .def = "512", .min = 8, .max = 4096,
     .help = "Width E of the shared image-text embedding (the global projections)."},
    {.name = "model.lora_rank", .type = CFGT_INT, F(model_lora_rank), .def = "8", .min = 0, .max = 256,
     .help = "LoRA rank on the text tower's fused QKV (0: no LoRA, text tower frozen)."},
    {.name = "model.lora_alpha", .type = CFGT_REAL, F(model_lora_alpha), .def = "32", .rmin = 0,
     .rmax = 4096, .help = "LoRA alpha (scale alpha / rank)."},
    {.name = "model.seed", .type = CFGT_INT, F(model_seed), .def = "0", .min = 0, .max = INT64_MAX,
     .help = "Seed of every randomly initialised tensor (heads, projections, random towers)."},
    /* [data] */
    {.name = "data.source", .type = CFGT_ENUM, F(data_source), .def = "phantom",
     .choices = "phantom, mias, embed, rsna, dicom",
     .help = "Data set kind; the keys each needs are in docs/training.md, Data sources."},
    {.name = "data.root", .type = CFGT_STR, F(data_root), .def = "",
     .help = "Folder of the images (a `mama phantom` or `mama import mias` folder, the EMBED or "
             "RSNA image root, or a folder of DICOM studies)."},
    {.name = "data.csv", .type = CFGT_STR, F(data_csv), .def = "",
     .help = "EMBED metadata CSV, RSNA train.csv, or the labels CSV of a DICOM folder "
             "(EMBED metadata columns); unused for phantom and mias."},
    {.name = "data.clinical_csv", .type = CFGT_STR, F(data_clinical_csv), .def = "",
     .help = "EMBED clinical CSV (embed, and dicom when reports are wanted)."},
    {.name = "data.split_seed", .type = CFGT_INT, F(data_split_seed), .def = "0", .min = 0,
     .max = INT64_MAX,
     .help = "Seed of the patient-level 70/10/20 split; the split is written to the run folder "
             "as split.csv."},
    {.name = "data.strict", .type = CFGT_BOOL, F(data_strict), .def = "false",
     .help = "Stop at the first malformed CSV row (file:line); false: leave such rows out, count "
             "them and log each."},
    {.name = "data.cache_dir", .type = CFGT_STR, F(data_cache_dir), .def = "",
     .help = "Preprocessing cache folder (engine/vision/prepcache) of train.mode = mama; empty: "
             "RUN/cache. (heads computes its features once, through the scoring path.)"},
    {.name = "data.workers", .type = CFGT_INT, F(data_workers), .def = "2", .min = 0, .max = 64,
     .help = "Threads that decode and preprocess images (0: on the training thread)."},
    {.name = "data.prefetch", .type = CFGT_INT, F(data_prefetch), .def = "2", .min = 1, .max = 64,
     .help = "Batches prepared ahead of the step."},
    /* [image] */
    {.name = "image.size", .type = CFGT_INT, F(image_size), .def = "518", .min = 14, .max = 1036,
     .help = "Model input side in pixels, a multiple of the patch size 14."},
    /* [train] */
    {.name = "train.mode", .type = CFGT_ENUM, F(train_mode), .def = "mama", .choices = "mama, heads",
     .help = "`mama`: image-text pretraining of both towers (MAMA_METHOD.md sections 4-8); `heads`: "
             "linear heads for density, BI-RADS and cancer on the frozen image tower (section 9's "
             "probe as a resumable job; the text tower is not used)."},
    {.name = "train.out_dir", .type = CFGT_STR, F(train_out_dir), .def = "runs",
     .help = "Folder that holds the run folders."},
    {.name = "train.name", .type = CFGT_STR, F(train_name), .def = "",
     .help = "Run folder name under train.out_dir (empty: the start time, YYYYMMDD-HHMMSS)."},
    {.name = "train.batch", .type = CFGT_INT, F(train_batch), .def = "36", .min = 1, .max = 4096,
     .help = "Images per micro-batch."},
    {.name = "train.accumulation", .type = CFGT_INT, F(train_accumulation), .def = "2", .min = 1,
     .max = 1024, .help = "Micro-batches per optimiser step."},
    {.name = "train.steps", .type = CFGT_INT, F(train_steps), .def = "40000", .min = 1,
     .max = 100000000, .help = "Optimiser steps in total."},
    {.name = "train.warmup_steps", .type = CFGT_INT, F(train_warmup_steps), .def = "4000", .min = 0,
     .max = 100000000, .help = "Linear warm-up steps from 0 to train.lr."},
    {.name = "train.schedule", .type = CFGT_ENUM, F(train_schedule), .def = "cosine",
     .choices = "cosine, linear, constant",
     .help = "Learning rate after warm-up, from train.lr to train.lr_min at train.steps."},
    {.name = "train.lr", .type = CFGT_REAL, F(train_lr), .def = "4e-5", .rmin = 0, .rmax = 10,
     .help = "Peak AdamW learning rate."},
    {.name = "train.lr_min", .type = CFGT_REAL, F(train_lr_min), .def = "1e-8", .rmin = 0, .rmax = 10,
     .help = "Final learning rate (cosine, linear)."},
    {.name = "train.weight_decay", .type = CFGT_REAL, F(train_weight_decay), .def = "0.1", .rmin = 0,
     .rmax = 10, .help = "AdamW weight decay (never on norms, biases and logit scales)."},
    {.name = "train.beta1", .type = CFGT_REAL, F(train_beta1), .def = "0.9", .rmin = 0, .rmax = 0.999999,
     .help = "AdamW beta1."},
    {.name = "train.beta2", .type = CFGT_REAL, F(train_beta2), .def = "0.999", .rmin = 0,
     .rmax = 0.999999, .help = "AdamW beta2."},
    {.name = "train.late_step", .type = CFGT_INT, F(train_late_step), .def = "8000", .min = 0,
     .max = 100000000,
     .help = "Step from which the multi-view, second-view and local (SLA) terms are added and the "
             "local heads train (also after a resume past it)."},
    {.name = "train.seed", .type = CFGT_INT, F(train_seed), .def = "0", .min = 0, .max = INT64_MAX,
     .help = "Seed of the data order, augmentations, multi-view pairs and report masking."},
    {.name = "train.checkpoint_every", .type = CFGT_INT, F(train_checkpoint_every), .def = "500",
     .min = 1, .max = 100000000,
     .help = "Steps between checkpoints (also written on SIGINT/SIGTERM and at the end)."},
    {.name = "train.eval_every", .type = CFGT_INT, F(train_eval_every), .def = "1000", .min = 0,
     .max = 100000000, .help = "Steps between validation evaluations (0: only at the end)."},
    {.name = "train.max_nan_steps", .type = CFGT_INT, F(train_max_nan_steps), .def = "3", .min = 1,
     .max = 1000,
     .help = "Consecutive steps with a non-finite loss (skipped, step and term logged) before the run "
             "stops, keeping the last good checkpoint."},
    {.name = "train.threads", .type = CFGT_INT, F(train_threads), .def = "0", .min = 0, .max = 1024,
     .help = "Compute threads of the step (0: all cores)."},
    /* [augment] */
    {.name = "augment.enabled", .type = CFGT_BOOL, F(augment_enabled), .def = "true",
     .help = "Training augmentation (MAMA_METHOD.md section 6); evaluation never augments."},
    {.name = "augment.scale_min", .type = CFGT_REAL, F(augment_scale_min), .def = "0.1", PROB,
     .help = "Random resized crop: smallest area fraction."},
    {.name = "augment.scale_max", .type = CFGT_REAL, F(augment_scale_max), .def = "1", PROB,
     .help = "Random resized crop: largest area fraction."},
    {.name = "augment.hflip", .type = CFGT_REAL, F(augment_hflip), .def = "0.5", PROB,
     .help = "Probability of a horizontal flip."},
    {.name = "augment.vflip", .type = CFGT_REAL, F(augment_vflip), .def = "0.5", PROB,
     .help = "Probability of a vertical flip."},
    {.name = "augment.jitter", .type = CFGT_REAL, F(augment_jitter), .def = "0.8", PROB,
     .help = "Brightness and contrast jitter strength (factors in 1 +- jitter)."},
    {.name = "augment.jitter_p", .type = CFGT_REAL, F(augment_jitter_p), .def = "0.8", PROB,
     .help = "Probability of the jitter."},
    {.name = "augment.blur_kernel", .type = CFGT_INT, F(augment_blur_kernel), .def = "7", .min = 1,
     .max = 31, .help = "Gaussian blur kernel side (odd)."},
    {.name = "augment.blur_sigma_min", .type = CFGT_REAL, F(augment_blur_sigma_min), .def = "0.1",
     .rmin = 0.01, .rmax = 20, .help = "Gaussian blur: smallest sigma."},
    {.name = "augment.blur_sigma_max", .type = CFGT_REAL, F(augment_blur_sigma_max), .def = "2",
     .rmin = 0.01, .rmax = 20, .help = "Gaussian blur: largest sigma."},
    {.name = "augment.blur_p", .type = CFGT_REAL, F(augment_blur_p), .def = "0.4", PROB,
     .help = "Probability of the blur."},
    /* [multiview] */
    {.name = "multiview.pair_p", .type = CFGT_REAL, F(multiview_pair_p), .def = "0.5", PROB,
     .help = "Probability that the second view is another image of the same study (else an "
             "independently augmented copy of the same image)."},
    /* [report] */
    {.name = "report.mask_p", .type = CFGT_REAL, F(report_mask_p), .def = "0.8", PROB,
     .help = "Probability that each field of report.mask_fields reads \"unknown\" in a training "
             "sample (independently)."},
    {.name = "report.mask_fields", .type = CFGT_STR, F(report_mask_fields),
     .def = "age, race, ethnicity, image_type, side, view", .label = "list", .check = check_mask_fields,
     .help = "Report meta fields that may be masked; procedure, reason, density, findings and "
             "BI-RADS never are."},
    {.name = "report.max_tokens", .type = CFGT_INT, F(report_max_tokens), .def = "144", .min = 16,
     .max = 1024, .help = "Caption length in tokens (padded or truncated)."},
    /* [loss] */
    {.name = "loss.nt_xent_temperature", .type = CFGT_REAL, F(loss_nt_xent_temperature), .def = "0.5",
     .rmin = 0.01, .rmax = 10, .help = "Temperature of the multi-view NT-Xent term."},
    /* [log] */
    {.name = "log.level", .type = CFGT_ENUM, F(log_level), .def = "info", .label = "level",
     .choices = "error, warn, info, debug", .help = "error, warn, info or debug."},
};

static const cfgt_table table = {entries, sizeof entries / sizeof entries[0], "mama train"};

void train_config_defaults(train_config *c) {
    memset(c, 0, sizeof *c);
    cfgt_defaults(&table, c);
}

int train_config_set(train_config *c, const char *key, const char *value, char *err, size_t errlen) {
    return cfgt_set(&table, c, key, value, err, errlen);
}

int train_config_set_arg(train_config *c, const char *kv, char *err, size_t errlen) {
    return cfgt_set_arg(&table, c, kv, err, errlen);
}

int train_config_load_file(train_config *c, const char *path, char *err, size_t errlen) {
    return cfgt_load_file(&table, c, path, err, errlen);
}

/* A path the run needs: set, and there (a folder when want_dir). */
static int need_path(const char *key, const char *path, int want_dir, const char *why, char *err,
                     size_t errlen) {
    struct stat st;
    if (!path[0]) {
        snprintf(err, errlen, "%s: must be set %s", key, why);
        return -1;
    }
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s: %s", key, path, strerror(errno));
        return -1;
    }
    if (want_dir && !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: %s is not a folder", key, path);
        return -1;
    }
    if (!want_dir && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: %s is a folder, not a file", key, path);
        return -1;
    }
    return 0;
}

static int finish_ranges(const train_config *c, char *err, size_t errlen) {
    if (c->image_size % 14) {
        snprintf(err, errlen, "image.size: %lld is not a multiple of the patch size 14",
                 (long long)c->image_size);
        return -1;
    }
    if (c->train_warmup_steps > c->train_steps) {
        snprintf(err, errlen, "train.warmup_steps: %lld is more than train.steps (%lld)",
                 (long long)c->train_warmup_steps, (long long)c->train_steps);
        return -1;
    }
    if (!strcmp(c->train_mode, "mama") && c->train_late_step > c->train_steps) {
        snprintf(err, errlen, "train.late_step: %lld is after train.steps (%lld)",
                 (long long)c->train_late_step, (long long)c->train_steps);
        return -1;
    }
    if (c->train_lr_min > c->train_lr) {
        snprintf(err, errlen, "train.lr_min: %g is above train.lr (%g)", c->train_lr_min, c->train_lr);
        return -1;
    }
    if (c->augment_scale_min > c->augment_scale_max || c->augment_scale_min <= 0) {
        snprintf(err, errlen, "augment.scale_min: %g must be in (0, augment.scale_max = %g]",
                 c->augment_scale_min, c->augment_scale_max);
        return -1;
    }
    if (c->augment_blur_sigma_min > c->augment_blur_sigma_max) {
        snprintf(err, errlen, "augment.blur_sigma_min: %g is above augment.blur_sigma_max (%g)",
                 c->augment_blur_sigma_min, c->augment_blur_sigma_max);
        return -1;
    }
    if (c->augment_blur_kernel % 2 == 0) {
        snprintf(err, errlen, "augment.blur_kernel: %lld is not odd", (long long)c->augment_blur_kernel);
        return -1;
    }
    return 0;
}

static int finish_model(const train_config *c, char *err, size_t errlen) {
    if (strcmp(c->model_image_init, "random") != 0 &&
        need_path("model.image_weights", c->model_image_weights, 0,
                  "when model.image_init is hf or model", err, errlen))
        return -1;
    if (!strcmp(c->model_image_init, "random") && !strcmp(c->model_image_config, "auto")) {
        snprintf(err, errlen, "model.image_config: auto needs a checkpoint; with model.image_init = "
                 "random choose tiny, base or micro");
        return -1;
    }
    if (!strcmp(c->train_mode, "mama") && strcmp(c->model_text_init, "random") != 0 &&
        need_path("model.text_weights", c->model_text_weights, 1, "when model.text_init is hf", err,
                  errlen))
        return -1;
    return 0;
}

static int finish_data(const train_config *c, char *err, size_t errlen) {
    const char *s = c->data_source;
    if (need_path("data.root", c->data_root, 1, "(the images of the data source)", err, errlen))
        return -1;
    int wants_csv = !strcmp(s, "embed") || !strcmp(s, "rsna") || !strcmp(s, "dicom");
    if (wants_csv) {
        char why[64];
        snprintf(why, sizeof why, "for data.source = %s", s);
        if (need_path("data.csv", c->data_csv, 0, why, err, errlen)) return -1;
    }
    if (!strcmp(s, "embed") &&
        need_path("data.clinical_csv", c->data_clinical_csv, 0, "for data.source = embed", err, errlen))
        return -1;
    if (c->data_clinical_csv[0] &&
        need_path("data.clinical_csv", c->data_clinical_csv, 0, "", err, errlen))
        return -1;
    return 0;
}

int train_config_finish(const train_config *c, char *err, size_t errlen) {
    if (finish_ranges(c, err, errlen) || finish_model(c, err, errlen) || finish_data(c, err, errlen))
        return -1;
    return 0;
}

void train_config_write(const train_config *c, FILE *out) {
    fprintf(out, "# effective configuration of this run (mama train); `mama train -c` reads it back\n");
    cfgt_write(&table, c, out);
}

void train_config_print_help(FILE *out) { cfgt_print_help(&table, out); }

void train_config_print_markdown(FILE *out) { cfgt_print_markdown_table(&table, out); }
