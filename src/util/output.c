/*
 * output.c - listings (table, JSON lines, CSV) and the escapers that make
 * wire strings safe for a terminal, JSON, CSV and HTML.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "callerid/output.h"

bool cid_fmt_parse(enum cid_fmt *fmt, const char *s)
{
	if (!strcmp(s, "table"))
		*fmt = CID_FMT_TABLE;
	else if (!strcmp(s, "json"))
		*fmt = CID_FMT_JSON;
	else if (!strcmp(s, "csv"))
		*fmt = CID_FMT_CSV;
	else
		return false;
	return true;
}

enum cid_fmt cid_fmt_default(void)
{
	return CID_FMT_TABLE;
}

/* ---- bounded buffer ---------------------------------------------------- */

void cid_buf_init(struct cid_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : (size_t)16 << 20;
}

void cid_buf_cleanup(struct cid_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void cid_buf_reset(struct cid_buf *b)
{
	b->len = 0;
	b->capped = false;
	b->oom = false;
	if (b->p)
		b->p[0] = '\0';
}

static bool buf_grow(struct cid_buf *b, size_t need)
{
	size_t ncap;
	char *np;
	if (b->len + need + 1 <= b->cap)
		return true;
	if (b->len + need + 1 > b->max + 1) {
		b->capped = true;
		return false;
	}
	ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + need + 1)
		ncap *= 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	np = realloc(b->p, ncap);
	if (!np) {
		b->oom = true;
		return false;
	}
	b->p = np;
	b->cap = ncap;
	return true;
}

void cid_buf_add(struct cid_buf *b, const char *s, size_t n)
{
	if (!buf_grow(b, n)) {
		/* keep what fits so a capped cell still shows its start */
		size_t room = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
		if (room && b->p) {
			memcpy(b->p + b->len, s, room < n ? room : n);
			b->len += room < n ? room : n;
			b->p[b->len] = '\0';
		}
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void cid_buf_adds(struct cid_buf *b, const char *s)
{
	cid_buf_add(b, s, strlen(s));
}

void cid_buf_addc(struct cid_buf *b, char c)
{
	cid_buf_add(b, &c, 1);
}

void cid_buf_printf(struct cid_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		cid_buf_add(b, small, (size_t)n);
		return;
	}
	if (!buf_grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

const char *cid_buf_str(struct cid_buf *b)
{
	return b->p ? b->p : "";
}

/* ---- escapers ---------------------------------------------------------- */

/* Length of a valid UTF-8 sequence at s (RFC 3629), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1fu;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0fu;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07u;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	/* C1 controls (U+0080..U+009F) act on some terminals: escape them too */
	if (cp >= 0x80 && cp <= 0x9f)
		return 0;
	return len;
}

static void add_hex_byte(struct cid_buf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
	cid_buf_add(b, e, 4);
}

void cid_esc_text(struct cid_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		size_t k;
		if (u[i] == '\\') {
			cid_buf_add(b, "\\\\", 2);
			i++;
			continue;
		}
		if (u[i] < 0x20 || u[i] == 0x7f) {
			add_hex_byte(b, u[i]);
			i++;
			continue;
		}
		k = utf8_len(u + i, n - i);
		if (!k) {
			add_hex_byte(b, u[i]);
			i++;
			continue;
		}
		cid_buf_add(b, s + i, k);
		i += k;
	}
}

void cid_esc_json(struct cid_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	cid_buf_addc(b, '"');
	while (i < n) {
		unsigned char c = u[i];
		size_t k;
		switch (c) {
		case '"': cid_buf_add(b, "\\\"", 2); i++; continue;
		case '\\': cid_buf_add(b, "\\\\", 2); i++; continue;
		case '\n': cid_buf_add(b, "\\n", 2); i++; continue;
		case '\r': cid_buf_add(b, "\\r", 2); i++; continue;
		case '\t': cid_buf_add(b, "\\t", 2); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			cid_buf_printf(b, "\\u%04x", c);
			i++;
			continue;
		}
		k = utf8_len(u + i, n - i);
		if (!k) {
			/* not UTF-8: keep the byte's value visible */
			cid_buf_printf(b, "\\u%04x", c);
			i++;
			continue;
		}
		cid_buf_add(b, s + i, k);
		i += k;
	}
	cid_buf_addc(b, '"');
}

void cid_esc_csv(struct cid_buf *b, const char *s, size_t n)
{
	struct cid_buf t;
	bool quote = false;
	cid_buf_init(&t, b->max);
	/* first neutralise control and invalid bytes like text does */
	cid_esc_text(&t, s, n);
	for (size_t i = 0; i < t.len; i++)
		if (t.p[i] == '"' || t.p[i] == ',' || t.p[i] == ' ')
			quote = true;
	if (t.len && strchr("=+-@", t.p[0]))
		quote = true;
	if (quote)
		cid_buf_addc(b, '"');
	/* RFC 4180 has no formula rule; OWASP's advice: prefix a quote */
	if (t.len && strchr("=+-@", t.p[0]))
		cid_buf_addc(b, '\'');
	for (size_t i = 0; i < t.len; i++) {
		if (t.p[i] == '"')
			cid_buf_addc(b, '"');
		cid_buf_addc(b, t.p[i]);
	}
	if (quote)
		cid_buf_addc(b, '"');
	cid_buf_cleanup(&t);
}

void cid_esc_html(struct cid_buf *b, const char *s, size_t n)
{
	struct cid_buf t;
	cid_buf_init(&t, b->max);
	cid_esc_text(&t, s, n);
	for (size_t i = 0; i < t.len; i++) {
		switch (t.p[i]) {
		case '&': cid_buf_adds(b, "&amp;"); break;
		case '<': cid_buf_adds(b, "&lt;"); break;
		case '>': cid_buf_adds(b, "&gt;"); break;
		case '"': cid_buf_adds(b, "&quot;"); break;
		case '\'': cid_buf_adds(b, "&#39;"); break;
		default: cid_buf_addc(b, t.p[i]);
		}
	}
	cid_buf_cleanup(&t);
}

/* ---- time --------------------------------------------------------------- */

/* Days from civil date (proleptic Gregorian), Howard Hinnant's algorithm. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

char *cid_time_str(int64_t us, char *buf, size_t buf_len)
{
	int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
	int64_t frac = us - secs * 1000000;
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t rem = secs - days * 86400;
	/* civil_from_days */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	snprintf(buf, buf_len, "%04lld-%02u-%02uT%02u:%02u:%02u.%06lldZ", (long long)y, m, d,
		 (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60), (long long)frac);
	return buf;
}

static bool take_digits(const char **s, int n, int64_t *out)
{
	int64_t v = 0;
	for (int i = 0; i < n; i++) {
		if ((*s)[i] < '0' || (*s)[i] > '9')
			return false;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return true;
}

bool cid_time_parse(const char *s, int64_t *us)
{
	int64_t y, mo, d, h = 0, mi = 0, se = 0, frac = 0, off = 0;
	const char *p = s;
	bool all_digits = *s != '\0';
	for (const char *q = s; *q; q++)
		if (!((*q >= '0' && *q <= '9') || *q == '.'))
			all_digits = false;
	if (all_digits) {
		/* epoch seconds with an optional fraction */
		int64_t whole = 0, f = 0, scale = 1000000;
		int dots = 0;
		for (const char *q = s; *q; q++) {
			if (*q == '.') {
				if (++dots > 1)
					return false;
				continue;
			}
			if (!dots) {
				if (whole > (INT64_MAX / 10 - 10) / 1000000)
					return false;
				whole = whole * 10 + (*q - '0');
			} else if (scale > 1) {
				scale /= 10;
				f += (*q - '0') * scale;
			}
		}
		*us = whole * 1000000 + f;
		return true;
	}
	if (!take_digits(&p, 4, &y) || *p++ != '-' || !take_digits(&p, 2, &mo) || *p++ != '-' ||
	    !take_digits(&p, 2, &d))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return false;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (!take_digits(&p, 2, &h) || *p++ != ':' || !take_digits(&p, 2, &mi))
			return false;
		if (*p == ':') {
			p++;
			if (!take_digits(&p, 2, &se))
				return false;
		}
		if (*p == '.') {
			int64_t scale = 1000000;
			p++;
			if (*p < '0' || *p > '9')
				return false;
			while (*p >= '0' && *p <= '9') {
				if (scale > 1) {
					scale /= 10;
					frac += (*p - '0') * scale;
				}
				p++;
			}
		}
		if (h > 23 || mi > 59 || se > 60)
			return false;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int64_t oh, om = 0;
		p++;
		if (!take_digits(&p, 2, &oh))
			return false;
		if (*p == ':')
			p++;
		if (*p && !take_digits(&p, 2, &om))
			return false;
		off = sign * (oh * 3600 + om * 60);
	}
	if (*p)
		return false;
	*us = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se) - off) *
		      1000000 + frac;
	return true;
}

/* ---- listings ----------------------------------------------------------- */

#define TABLE_BUFFER_ROWS 1000

struct cid_table {
	FILE *out;
	enum cid_fmt fmt;
	const char *const *cols;
	size_t num_cols;
	size_t col;              /* next cell index in the row */
	struct cid_buf row;      /* JSON/CSV: the line being built */
	/* table: cells of buffered rows */
	char **cells;
	size_t num_rows, cap_rows;
	size_t *width;
	bool streaming;          /* widths fixed, rows printed as they end */
	bool header_done;
	bool row_oom;            /* a cell of this row could not be kept */
	uint64_t dropped;        /* rows not printed for want of memory */
};

struct cid_table *cid_table_new(FILE *out, enum cid_fmt fmt, const char *const *cols, size_t num_cols)
{
	struct cid_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->out = out;
	t->fmt = fmt;
	t->cols = cols;
	t->num_cols = num_cols;
	cid_buf_init(&t->row, 0);
	t->width = calloc(num_cols, sizeof(size_t));
	if (!t->width) {
		free(t);
		return NULL;
	}
	for (size_t i = 0; i < num_cols; i++)
		t->width[i] = strlen(cols[i]);
	if (fmt == CID_FMT_CSV) {
		struct cid_buf h;
		cid_buf_init(&h, 0);
		for (size_t i = 0; i < num_cols; i++) {
			if (i)
				cid_buf_addc(&h, ',');
			cid_esc_csv(&h, cols[i], strlen(cols[i]));
		}
		if (h.oom)
			t->dropped++; /* no header rather than half of one */
		else
			fprintf(out, "%s\n", cid_buf_str(&h));
		cid_buf_cleanup(&h);
	}
	return t;
}

/* Adds one cell; kind: 's' string (escaped per format), 'n' null, 'r' raw
 * (numbers, JSON values). */
static void cell(struct cid_table *t, char kind, const char *s, size_t n)
{
	size_t i = t->col++;
	if (i >= t->num_cols)
		return;
	if (t->fmt == CID_FMT_JSON) {
		cid_buf_adds(&t->row, i ? ",\"" : "{\"");
		cid_buf_adds(&t->row, t->cols[i]);
		cid_buf_adds(&t->row, "\":");
		if (kind == 'n')
			cid_buf_adds(&t->row, "null");
		else if (kind == 'r')
			cid_buf_add(&t->row, s, n);
		else
			cid_esc_json(&t->row, s, n);
		return;
	}
	if (t->fmt == CID_FMT_CSV) {
		if (i)
			cid_buf_addc(&t->row, ',');
		if (kind != 'n')
			cid_esc_csv(&t->row, s, n);
		return;
	}
	/* table: escape into a cell string. The row's slots are made (and
	 * emptied) with its first cell, so a row cut short by a failed
	 * allocation never leaves a slot unset. */
	{
		struct cid_buf c;
		size_t base = t->num_rows * t->num_cols;
		if (i == 0) {
			if (base + t->num_cols > t->cap_rows) {
				size_t ncap = t->cap_rows ? t->cap_rows * 2 : t->num_cols * 64;
				char **nc = realloc(t->cells, ncap * sizeof(char *));
				if (!nc) {
					t->row_oom = true;
					return;
				}
				t->cells = nc;
				t->cap_rows = ncap;
			}
			for (size_t k = 0; k < t->num_cols; k++)
				t->cells[base + k] = NULL;
		}
		if (t->row_oom)
			return;
		cid_buf_init(&c, 1 << 16);
		if (kind == 'n')
			cid_buf_addc(&c, '-');
		else
			cid_esc_text(&c, s, n);
		if (c.len == 0)
			cid_buf_addc(&c, '-');
		if (c.oom || !c.p) {
			cid_buf_cleanup(&c);
			t->row_oom = true;
			return;
		}
		if (!t->streaming && c.len > t->width[i])
			t->width[i] = c.len;
		t->cells[base + i] = c.p;
	}
}

void cid_table_str(struct cid_table *t, const char *s)
{
	if (!s)
		cell(t, 'n', NULL, 0);
	else
		cell(t, 's', s, strlen(s));
}

void cid_table_strn(struct cid_table *t, const char *s, size_t n)
{
	if (!s)
		cell(t, 'n', NULL, 0);
	else
		cell(t, 's', s, n);
}

void cid_table_int(struct cid_table *t, int64_t v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%lld", (long long)v);
	cell(t, t->fmt == CID_FMT_JSON ? 'r' : 's', b, (size_t)n);
}

void cid_table_real(struct cid_table *t, double v)
{
	char b[64];
	int n = snprintf(b, sizeof(b), "%.6g", v);
	cell(t, t->fmt == CID_FMT_JSON ? 'r' : 's', b, (size_t)n);
}

void cid_table_null(struct cid_table *t)
{
	cell(t, 'n', NULL, 0);
}

void cid_table_time(struct cid_table *t, int64_t us)
{
	char b[40];
	if (!us) {
		cell(t, 'n', NULL, 0);
		return;
	}
	cid_time_str(us, b, sizeof(b));
	cell(t, 's', b, strlen(b));
}

void cid_table_json(struct cid_table *t, const char *json)
{
	if (!json)
		cell(t, 'n', NULL, 0);
	else
		cell(t, t->fmt == CID_FMT_JSON ? 'r' : 's', json, strlen(json));
}

static void print_table_row(struct cid_table *t, char **row)
{
	for (size_t i = 0; i < t->num_cols; i++) {
		const char *c = row[i] ? row[i] : "-";
		if (i + 1 < t->num_cols)
			fprintf(t->out, "%-*s  ", (int)t->width[i], c);
		else
			fprintf(t->out, "%s", c);
	}
	fputc('\n', t->out);
}

static void table_emit(struct cid_table *t)
{
	if (!t->header_done) {
		for (size_t i = 0; i < t->num_cols; i++) {
			if (i + 1 < t->num_cols)
				fprintf(t->out, "%-*s  ", (int)t->width[i], t->cols[i]);
			else
				fprintf(t->out, "%s", t->cols[i]);
		}
		fputc('\n', t->out);
		t->header_done = true;
	}
	for (size_t r = 0; r < t->num_rows; r++) {
		print_table_row(t, t->cells + r * t->num_cols);
		for (size_t i = 0; i < t->num_cols; i++)
			free(t->cells[r * t->num_cols + i]);
	}
	t->num_rows = 0;
}

void cid_table_end_row(struct cid_table *t)
{
	while (t->col < t->num_cols)
		cell(t, 'n', NULL, 0);
	t->col = 0;
	if (t->row_oom || t->row.oom) {
		/* a row is printed whole or not at all; the caller reports
		 * cid_table_dropped() */
		t->row_oom = false;
		t->dropped++;
		cid_buf_reset(&t->row);
		if (t->fmt == CID_FMT_TABLE && t->cells)
			for (size_t i = 0; i < t->num_cols; i++) {
				free(t->cells[t->num_rows * t->num_cols + i]);
				t->cells[t->num_rows * t->num_cols + i] = NULL;
			}
		return;
	}
	if (t->fmt == CID_FMT_JSON) {
		cid_buf_addc(&t->row, '}');
		fprintf(t->out, "%s\n", cid_buf_str(&t->row));
		cid_buf_reset(&t->row);
		return;
	}
	if (t->fmt == CID_FMT_CSV) {
		fprintf(t->out, "%s\n", cid_buf_str(&t->row));
		cid_buf_reset(&t->row);
		return;
	}
	t->num_rows++;
	if (t->streaming || t->num_rows >= TABLE_BUFFER_ROWS) {
		table_emit(t);
		t->streaming = true;
	}
}

uint64_t cid_table_dropped(const struct cid_table *t)
{
	return t ? t->dropped : 0;
}

void cid_table_free(struct cid_table *t)
{
	if (!t)
		return;
	if (t->fmt == CID_FMT_TABLE && (t->num_rows || !t->header_done))
		table_emit(t);
	free(t->cells);
	free(t->width);
	cid_buf_cleanup(&t->row);
	free(t);
}
