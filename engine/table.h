/* table.h: what the data set readers (embed.c, rsna.c, mias.c, phantom_truth.c) share:
 * strict or lenient handling of malformed rows, the list of rows set aside, a string
 * pool for the fields they keep, and field parsers with messages naming file:line.
 *
 * Strict mode: the first malformed row fails the load with MAMA_EFORMAT and its
 * "file:line: reason". Lenient mode: malformed rows are left out, but every one is
 * counted and its message kept in table_issues, so nothing is dropped silently. */
#ifndef MAMA_TABLE_H
#define MAMA_TABLE_H

#include <stddef.h>

#include "engine/status.h"

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
