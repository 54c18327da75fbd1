/* train_config.h: the settings of `mama train -c train.conf`. One table (train_config.c),
 * through the same machinery as mamad's (common/config_table.h): the file, `--set
 * key=value` overrides, `--help`, and the settings table of docs/training.md (a quick test
 * fails when the two disagree). train_config_finish does the checks that involve several
 * keys or the file system; every message names the key. */
#ifndef MAMA_TRAIN_CONFIG_H
#define MAMA_TRAIN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TRAIN_PATH_MAX 1024

typedef struct train_config {
    /* [model] */
    char model_image_init[16];     /* random, hf, model */
    char model_image_config[16];   /* auto, tiny, base, micro */
    char model_image_weights[TRAIN_PATH_MAX];
    char model_text_tower[16];     /* gpt2, bert */
    char model_text_init[16];      /* random, hf */
    char model_text_weights[TRAIN_PATH_MAX];
    int64_t model_embed;
    int64_t model_lora_rank;
    double model_lora_alpha;
    int64_t model_seed;
    /* [data] */
    char data_source[16];          /* phantom, mias, embed, rsna, dicom */
    char data_root[TRAIN_PATH_MAX];
    char data_csv[TRAIN_PATH_MAX];
    char data_clinical_csv[TRAIN_PATH_MAX];
    int64_t data_split_seed;
    int64_t data_strict;
    char data_cache_dir[TRAIN_PATH_MAX];
    int64_t data_workers;
    int64_t data_prefetch;
    /* [image] */
    int64_t image_size;
    /* [train] */
    char train_mode[16];           /* mama, heads */
    char train_out_dir[TRAIN_PATH_MAX];
    char train_name[128];
    int64_t train_batch;
    int64_t train_accumulation;
    int64_t train_steps;
    int64_t train_warmup_steps;
    char train_schedule[16];       /* cosine, linear, constant */
    double train_lr, train_lr_min, train_weight_decay, train_beta1, train_beta2;
    int64_t train_late_step;
    int64_t train_seed;
    int64_t train_checkpoint_every;
    int64_t train_eval_every;
    int64_t train_max_nan_steps;
    int64_t train_threads;
    /* [augment] */
    int64_t augment_enabled;
    double augment_scale_min, augment_scale_max;
    double augment_hflip, augment_vflip;
    double augment_jitter, augment_jitter_p;
    int64_t augment_blur_kernel;
    double augment_blur_sigma_min, augment_blur_sigma_max, augment_blur_p;
    /* [multiview] */
    double multiview_pair_p;
    /* [report] */
    double report_mask_p;
    char report_mask_fields[128];
    int64_t report_max_tokens;
    /* [loss] */
    double loss_nt_xent_temperature;
    /* [log] */
    char log_level[16];
} train_config;

void train_config_defaults(train_config *c);
int train_config_set(train_config *c, const char *key, const char *value, char *err, size_t errlen);
int train_config_set_arg(train_config *c, const char *kv, char *err, size_t errlen);
int train_config_load_file(train_config *c, const char *path, char *err, size_t errlen);
/* Checks between keys (image.size a multiple of the patch, late_step within steps, ...)
 * and that the files the data source needs exist. 0, or -1 with a message naming a key. */
int train_config_finish(const train_config *c, char *err, size_t errlen);
/* Parses report.mask_fields into six flags in the order age, race, ethnicity, image_type,
 * side, view. 0, or -1 naming the unknown field. */
int train_config_mask_fields(const char *list, int out_flags[6], char *err, size_t errlen);

/* The effective configuration as a file that train_config_load_file reads back. */
void train_config_write(const train_config *c, FILE *out);
void train_config_print_help(FILE *out);
/* The settings table of docs/training.md, between its BEGIN/END markers. */
void train_config_print_markdown(FILE *out);

#endif
