/* config_table.h: the settings-table machinery shared by mamad (daemon/config.c) and
 * `mama train` (tools/train_config.c). A program describes each setting once (name, type,
 * default, bounds, help, where it lives in the program's own struct); parsing a
 * `key = value` file with [section] headers, `--set key=value` overrides, defaults,
 * `--help` text and the Markdown table of the docs all come from that one description, so
 * the docs cannot drift from the code (each program's test compares them).
 *
 * Storage per type: CFGT_STR a char array (size = its capacity), CFGT_INT / CFGT_BOOL /
 * CFGT_DURATION (milliseconds) / CFGT_SIZE (bytes) an int64_t, CFGT_REAL a double, CFGT_ENUM a char array
 * holding one of the listed choices. Every error message starts with the key. */
#ifndef MAMA_CONFIG_TABLE_H
#define MAMA_CONFIG_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cfgt_type {
    CFGT_STR,
    CFGT_INT,
    CFGT_BOOL,
    CFGT_DURATION,
    CFGT_REAL,
    CFGT_ENUM,
    CFGT_SIZE,      /* bytes, with an optional K, M, G or T (binary) suffix */
} cfgt_type;

/* Extra validation of a CFGT_STR value (e.g. a list of log categories): 0, or -1 with a
 * message that does not repeat the key (the caller prefixes it). */
typedef int (*cfgt_check_fn)(const char *value, char *err, size_t errlen);

typedef struct cfgt_entry {
    const char *name;     /* "dicom.port": section.key */
    cfgt_type type;
    size_t offset, size;  /* where in the program's struct; size of the field */
    const char *def;      /* default, as text */
    int64_t min, max;     /* CFGT_INT / CFGT_DURATION (ms) bounds */
    double rmin, rmax;    /* CFGT_REAL bounds (inclusive) */
    const char *choices;  /* CFGT_ENUM: "a, b, c" (the order shown in messages) */
    cfgt_check_fn check;  /* CFGT_STR: optional extra check */
    const char *label;    /* type name shown in help and docs (NULL: from the type) */
    const char *help;
} cfgt_entry;

typedef struct cfgt_table {
    const cfgt_entry *entries;
    size_t n;
    const char *program;  /* named in "unknown setting" messages: "see PROGRAM --help" */
} cfgt_table;

/* Fills every setting with its default (zeroing nothing else). */
void cfgt_defaults(const cfgt_table *t, void *obj);
/* Sets one setting from text. 0, or -1 with a message naming the key. */
int cfgt_set(const cfgt_table *t, void *obj, const char *key, const char *value, char *err,
             size_t errlen);
/* `key=value` as given to --set. */
int cfgt_set_arg(const cfgt_table *t, void *obj, const char *kv, char *err, size_t errlen);
/* Reads a `key = value` file with [section] headers (# and ; comments, "quoted" values).
 * Errors are "PATH:LINE: message". */
int cfgt_load_file(const cfgt_table *t, void *obj, const char *path, char *err, size_t errlen);
/* The entry of a key, or NULL. */
const cfgt_entry *cfgt_find(const cfgt_table *t, const char *key);

/* One setting's value as text (the form cfgt_set accepts), for writing the effective
 * configuration of a run. */
void cfgt_format(const cfgt_entry *e, const void *obj, char *buf, size_t n);
/* Every setting as a `key = value` file that cfgt_load_file reads back to the same values. */
void cfgt_write(const cfgt_table *t, const void *obj, FILE *out);

/* Help text (two lines per setting) and the Markdown table (header and rows). */
void cfgt_print_help(const cfgt_table *t, FILE *out);
void cfgt_print_markdown_table(const cfgt_table *t, FILE *out);

#endif
