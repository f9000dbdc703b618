/*
 * output.h - the only module that writes listings to stdout: tables, JSON
 * lines and CSV, with every string escaped for its destination.
 *
 * Strings from the wire (SNI, ALPN, user agents, paths) may hold any byte.
 * - table/text: control and non-UTF-8 bytes become \xNN (terminal escapes
 *   are neutralised); backslash is doubled.
 * - JSON: RFC 8259 escaping; invalid UTF-8 bytes become \u00NN of the byte.
 * - CSV: RFC 4180 quoting; a cell starting with = + - @ TAB or CR gets a
 *   leading ' so spreadsheets do not run it as a formula.
 * - HTML: & < > " ' as entities, control bytes as \xNN.
 */
#ifndef CID_OUTPUT_H
#define CID_OUTPUT_H

#include <stdio.h>

#include "callerid/common.h"

enum cid_fmt { CID_FMT_TABLE = 0, CID_FMT_JSON, CID_FMT_CSV };

/* Parses "table", "json", "csv". Returns false for anything else. */
bool cid_fmt_parse(enum cid_fmt *fmt, const char *s);
/* table when stdout is a terminal, else... also table (DESIGN: table is the
 * default on a terminal); listing commands use this for their default. */
enum cid_fmt cid_fmt_default(void);

/* A growable string with a hard cap (curl's dynbuf idea). Appends past the
 * cap are dropped and remembered in .capped. */
struct cid_buf {
	char *p;
	size_t len, cap, max;
	bool capped;
	bool oom;
};
void cid_buf_init(struct cid_buf *b, size_t max);
void cid_buf_cleanup(struct cid_buf *b);
void cid_buf_reset(struct cid_buf *b);
void cid_buf_add(struct cid_buf *b, const char *s, size_t n);
void cid_buf_adds(struct cid_buf *b, const char *s);
void cid_buf_addc(struct cid_buf *b, char c);
void cid_buf_printf(struct cid_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NUL-terminated view ("" when empty). */
const char *cid_buf_str(struct cid_buf *b);

/* Escapers append to b. n bytes of s (s may contain NUL when n given). */
void cid_esc_text(struct cid_buf *b, const char *s, size_t n);
void cid_esc_json(struct cid_buf *b, const char *s, size_t n); /* adds the quotes */
void cid_esc_csv(struct cid_buf *b, const char *s, size_t n);
void cid_esc_html(struct cid_buf *b, const char *s, size_t n);

/* Times: UTC ISO-8601 with microseconds, "2024-01-02T03:04:05.123456Z". */
char *cid_time_str(int64_t us, char *buf, size_t buf_len);
/* Parses ISO-8601 (with or without fraction, Z or +hh:mm) or epoch seconds
 * (with fraction) into microseconds. Returns false on bad input. */
bool cid_time_parse(const char *s, int64_t *us);

/*
 * A listing: columns declared once, rows of cells. Table output buffers up
 * to 1000 rows to size the columns, then streams with those widths.
 * JSON prints one object per row; a NULL cell is JSON null and an empty CSV
 * / "-" table cell. Integer cells are JSON numbers.
 */
struct cid_table;
struct cid_table *cid_table_new(FILE *out, enum cid_fmt fmt, const char *const *cols, size_t num_cols);
void cid_table_str(struct cid_table *t, const char *s);            /* NULL allowed */
void cid_table_strn(struct cid_table *t, const char *s, size_t n);
void cid_table_int(struct cid_table *t, int64_t v);
void cid_table_null(struct cid_table *t);
void cid_table_real(struct cid_table *t, double v);
void cid_table_time(struct cid_table *t, int64_t us);              /* 0 = NULL */
/* A cell that is already a JSON value (array/object); printed raw in JSON,
 * as text elsewhere. */
void cid_table_json(struct cid_table *t, const char *json);
void cid_table_end_row(struct cid_table *t);
/* Prints buffered rows and frees. NULL-safe. */
void cid_table_free(struct cid_table *t);
/* Rows (and a CSV header) not printed because memory ran out while they
 * were built: a row is printed whole or not at all. */
uint64_t cid_table_dropped(const struct cid_table *t);

#endif /* CID_OUTPUT_H */
