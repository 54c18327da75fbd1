/* train_data.h: a training data source (data.source of train.conf) as one flat list of
 * images with their patient, study and labels, and its patient-level split written to the
 * run folder. The readers are engine/data's; this file only maps each source's columns
 * onto the labels the trainer and `mama eval` use. */
#ifndef MAMA_TRAIN_DATA_H
#define MAMA_TRAIN_DATA_H

#include <stddef.h>

#include "engine/data/split.h"
#include "tools/train_config.h"

typedef struct train_item {
    char *patient, *study, *path;   /* path: absolute or relative to the working folder */
    char laterality;                /* 'L' / 'R' */
    int density;                    /* 0..3 = A..D; -1 unknown */
    int birads;                     /* 0..6; -1 unknown */
    int cancer;                     /* 0 / 1; -1 unknown */
    int line;                       /* line of the row in its table (0: none) */
} train_item;

typedef struct train_data {
    train_item *items;
    int n;
    split_kind *split;              /* per item, after train_data_split */
    int n_bad_rows;                 /* rows left out (lenient mode), each logged */
} train_data;

/* Reads the data source of c. Malformed rows: with data.strict the first one fails with
 * its file:line; otherwise each is logged to log_out and counted. An empty data set is an
 * error naming data.source and data.root. err gets the message. Free with train_data_free. */
int train_data_load(const train_config *c, train_data *out, FILE *log_out, char *err, size_t errlen);
void train_data_free(train_data *d);

/* Patient-level 70/10/20 split with data.split_seed; fails (naming the split) when the
 * train or validation split would be empty. */
int train_data_split(train_data *d, uint64_t seed, char *err, size_t errlen);

/* split.csv: patient,study,path,laterality,density,birads,cancer,split (RFC 4180 quoting). */
int train_data_write_split(const train_data *d, const char *path, char *err, size_t errlen);

#endif
