/* table.h: what the data set readers (embed.c, rsna.c, mias.c, phantom_truth.c) share:
 * reading a CSV table row by row into an array, strict or lenient handling of malformed
 * rows, the list of rows set aside, a string pool for the fields they keep, and field
 * parsers with messages naming file:line.
 *
 * Strict mode: the first malformed row fails the load with MAMA_EFORMAT and its
 * "file:line: reason". Lenient mode: malformed rows are left out, but every one is
 * counted and its message kept in table_issues, so nothing is dropped silently. */
#ifndef MAMA_TABLE_H
#define MAMA_TABLE_H

#include <stddef.h>

#include "engine/data/csv.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum table_mode { TABLE_STRICT = 0, TABLE_LENIENT = 1 } table_mode;

typedef struct table_issues {
    int count;      /* malformed rows left out */
    char **msg;     /* count messages, "file:line: reason" */
    int cap;
} table_issues;

void table_issues_init(table_issues *is);
void table_issues_free(table_issues *is);
/* Records the thread's last error message (mama_last_error) as an issue. */
mama_status table_issues_add_last(table_issues *is);

/* After a row failed with rc: strict mode returns rc; lenient mode records the message
 * in is and returns MAMA_OK (MAMA_ENOMEM is always returned). is may be NULL in strict
 * mode; in lenient mode a NULL is is an error (nothing may be dropped unseen). */
mama_status table_row_failed(table_mode mode, table_issues *is, mama_status rc);

/* Parses the current record of r into dst (elem bytes, zeroed): idx[k] is the column of
 * the k-th requested name, or -1 when an optional column is absent. ctx: the caller's. */
typedef mama_status (*table_row_fn)(void *ctx, csv_reader *r, const int *idx, void *dst);

#define TABLE_MAX_COLS 32

/* Reads the CSV table at path: its header (names, required, ncols as csv_header; ncols
 * at most TABLE_MAX_COLS), then every data row through fn into a growing array of
 * elem-byte rows. A malformed record, a row whose field count differs from the header's
 * ("file:line: N fields, the header has M") or a row fn refuses goes to table_row_failed:
 * strict mode fails the load, lenient mode leaves the row out and records it in issues.
 * On MAMA_OK: *out_rows (malloc'd; NULL when there are no rows), *out_n, and when
 * out_lines is not NULL *out_lines (malloc'd: the first file line of each row). */
mama_status table_read_csv(const char *path, const char *const *names, const int *required, int ncols,
                           size_t elem, table_row_fn fn, void *ctx, table_mode mode, table_issues *issues,
                           void **out_rows, int **out_lines, int *out_n);

/* String pool: copies live until table_pool_free. */
typedef struct table_pool {
    struct table_pool_block *head;
} table_pool;
const char *table_pool_strdup(table_pool *p, const char *s); /* NULL when out of memory */
void table_pool_free(table_pool *p);

/* Field parsers: MAMA_OK, or MAMA_EFORMAT "file:line: column 'col': 'text' is not ...".
 * An empty field gives the missing value (int: missing, double: NAN). Integers accept a
 * trailing ".0" (pandas writes 4.0). */
mama_status table_parse_int(const char *file, int line, const char *col, const char *text, long lo, long hi,
                            long missing, long *out_value);
mama_status table_parse_double(const char *file, int line, const char *col, const char *text, double lo, double hi,
                               double *out_value);
/* One character of allowed (e.g. "LRB"); empty gives 0 when empty_ok, else an error. */
mama_status table_parse_char(const char *file, int line, const char *col, const char *text, const char *allowed,
                             int empty_ok, char *out_value);
/* True/False, 1/0, yes/no (any case); empty gives missing. */
mama_status table_parse_bool(const char *file, int line, const char *col, const char *text, int missing,
                             int *out_value);

#ifdef __cplusplus
}
#endif
#endif
