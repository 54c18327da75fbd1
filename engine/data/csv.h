/* csv.h: a strict RFC 4180 reader for the data sets' tables (EMBED, RSNA, phantom).
 * Fields are separated by commas, records by LF or CRLF; a field may be quoted, and a
 * quoted field may hold commas, doubled quotes ("") and line breaks. A leading UTF-8 BOM
 * is skipped. Anything else (a quote inside an unquoted field, text after a closing quote,
 * a quote left open at the end of the file) is an error naming the file and line.
 * The whole file is read into memory once; fields are NUL-terminated and valid until the
 * next csv_next. */
#ifndef MAMA_CSV_H
#define MAMA_CSV_H

#include <stddef.h>

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct csv_reader csv_reader;

/* Opens path (MAMA_EIO when it cannot be read). *out_reader is freed with csv_close. */
mama_status csv_open(const char *path, csv_reader **out_reader);
/* Same over a copy of data (len bytes); name is used in messages. */
mama_status csv_open_mem(const char *name, const char *data, size_t len, csv_reader **out_reader);
void csv_close(csv_reader *r);

/* Reads the next record: MAMA_OK with *out_nfields set, MAMA_ENOTFOUND at the end of the
 * file, MAMA_EFORMAT ("file:line: ...") for a malformed record; after an error the reader
 * has skipped to the next line, so a lenient caller may go on. Blank lines are skipped. */
mama_status csv_next(csv_reader *r, int *out_nfields);
const char *csv_field(const csv_reader *r, int i); /* "" when i is out of range */
int csv_nfields(const csv_reader *r);
int csv_line(const csv_reader *r);                 /* first line of the current record */
const char *csv_name(const csv_reader *r);

/* Reads the header record and finds each of names[0..n) in it: out_index[k] is the
 * column of names[k], or -1. Missing columns whose required[k] is nonzero give
 * MAMA_EFORMAT naming the first one ("file:1: no column 'x'"); required may be NULL
 * (all required). An empty file is MAMA_EFORMAT too. */
mama_status csv_header(csv_reader *r, const char *const *names, const int *required, int n, int *out_index);

#ifdef __cplusplus
}
#endif
#endif
