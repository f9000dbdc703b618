/*
 * ctscan.c - finds CloudTrail records in a file's bytes without parsing
 * JSON, parses eventTime, and computes requestParameters shapes.
 *
 * The splitter only tracks what RFC 8259 needs to find where a value ends:
 * strings (section 7: '"' opens and closes, '\' escapes the next byte) and
 * structural characters (section 2: [ ] { } , :). Everything else is left
 * to SQLite's JSON1 functions, which validate each record. All bytes are
 * read through the cursor (include/callerid/cursor.h).
 */
#include <string.h>

#include "callerid/cursor.h"
#include "callerid/ingest.h"

/* RFC 8259 section 2: insignificant whitespace. */
static bool is_ws(uint8_t b)
{
	return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

static void skip_ws(struct cid_cur *c)
{
	uint8_t b;
	while (cid_cur_peek_u8(c, 0, &b) && is_ws(b))
		cid_cur_skip(c, 1);
}

/* Skips a UTF-8 byte order mark (some exports start with one). */
static void skip_bom(struct cid_cur *c)
{
	uint8_t a, b, d;
	if (cid_cur_peek_u8(c, 0, &a) && cid_cur_peek_u8(c, 1, &b) && cid_cur_peek_u8(c, 2, &d) &&
	    a == 0xEF && b == 0xBB && d == 0xBF)
		cid_cur_skip(c, 3);
}

/* Consumes a string whose opening quote is at the cursor. */
static enum cid_status scan_string(struct cid_cur *c)
{
	struct cid_cur t = *c;
	uint8_t b;
	cid_cur_skip(&t, 1);
	for (;;) {
		const uint8_t *d = cid_cur_data(&t);
		size_t n = cid_cur_len(&t);
		/* Fast path: jump to the next quote or backslash. */
		const uint8_t *q = memchr(d, '"', n);
		const uint8_t *e = q ? memchr(d, '\\', (size_t)(q - d)) : memchr(d, '\\', n);
		if (!q && !e)
			return CID_TRUNCATED;
		if (e) {
			cid_cur_skip(&t, (size_t)(e - d) + 1);
			if (!cid_cur_u8(&t, &b)) /* the escaped byte (section 7) */
				return CID_TRUNCATED;
			continue;
		}
		cid_cur_skip(&t, (size_t)(q - d) + 1);
		*c = t;
		return CID_OK;
	}
}

/* A scalar (number, true, false, null) ends at whitespace or a structural
 * character; its grammar is SQLite's business. */
static enum cid_status scan_scalar(struct cid_cur *c)
{
	struct cid_cur t = *c;
	uint8_t b;
	size_t n = 0;
	while (cid_cur_peek_u8(&t, 0, &b)) {
		if (is_ws(b) || b == ',' || b == ']' || b == '}' || b == '[' || b == '{' ||
		    b == ':' || b == '"')
			break;
		cid_cur_skip(&t, 1);
		n++;
	}
	if (n == 0)
		return CID_MALFORMED;
	if (cid_cur_len(&t) == 0)
		return CID_TRUNCATED; /* a number may continue in the missing bytes */
	*c = t;
	return CID_OK;
}

enum cid_status cid_ct_scan_value(struct cid_cur *c, struct cid_cur *val)
{
	struct cid_cur t = *c, start;
	uint8_t stack[CID_CT_MAX_DEPTH];
	size_t depth = 0, deep = 0; /* deep: levels below the stack, counted */
	bool too_deep = false;
	uint8_t b;
	enum cid_status st;

	skip_ws(&t);
	start = t;
	if (!cid_cur_peek_u8(&t, 0, &b))
		return CID_TRUNCATED;
	if (b == '"') {
		if ((st = scan_string(&t)) != CID_OK)
			return st;
	} else if (b != '{' && b != '[') {
		if ((st = scan_scalar(&t)) != CID_OK)
			return st;
	} else {
		for (;;) {
			if (!cid_cur_peek_u8(&t, 0, &b))
				return CID_TRUNCATED;
			if (b == '"') {
				if ((st = scan_string(&t)) != CID_OK)
					return st;
				continue;
			}
			cid_cur_skip(&t, 1);
			if (b == '{' || b == '[') {
				if (depth == CID_CT_MAX_DEPTH || deep) {
					/* deeper than any record: only counted, to
					 * find the value's end and skip it whole */
					deep++;
					too_deep = true;
				} else {
					stack[depth++] = b == '{' ? '}' : ']';
				}
			} else if (b == '}' || b == ']') {
				if (deep) {
					deep--;
					continue;
				}
				if (depth == 0 || stack[depth - 1] != b)
					return CID_MALFORMED; /* mismatched bracket */
				if (--depth == 0)
					break;
			}
		}
	}
	val->data = cid_cur_data(&start);
	val->len = cid_cur_len(&start) - cid_cur_len(&t);
	*c = t;
	return too_deep ? CID_UNSUPPORTED : CID_OK;
}

/* Compares a key's raw bytes (between its quotes) with a literal. Escaped
 * spellings of a key do not match: CloudTrail writes keys plainly. */
static bool key_is(const struct cid_cur *key, const char *lit)
{
	size_t n = strlen(lit);
	return cid_cur_len(key) == n + 2 && memcmp(cid_cur_data(key) + 1, lit, n) == 0;
}

static bool key_has_prefix(const struct cid_cur *key, const char *lit)
{
	size_t n = strlen(lit);
	return cid_cur_len(key) >= n + 2 && memcmp(cid_cur_data(key) + 1, lit, n) == 0;
}

/* The reason given for a record nested deeper than the scanner follows. */
#define DEEP "nesting deeper than 256 levels"

struct split {
	const uint8_t *base;
	const struct cid_ct_sink *sink;
	struct cid_ct_split_info *info;
	size_t index;
};

static size_t off_of(const struct split *s, const struct cid_cur *c)
{
	return (size_t)(cid_cur_data(c) - s->base);
}

static enum cid_status fail(struct split *s, const struct cid_cur *at, enum cid_status st,
			    const char *reason)
{
	s->info->err_offset = off_of(s, at);
	s->info->reason = reason;
	return st;
}

static void emit(struct split *s, enum cid_ct_src src, const struct cid_cur *v)
{
	s->index++;
	s->info->num_records++;
	if (s->sink && s->sink->record)
		s->sink->record(s->sink->ctx, src, s->index, cid_cur_data(v), cid_cur_len(v));
}

/* Walks an array whose '[' has been consumed, emitting each element. */
static enum cid_status split_array(struct split *s, struct cid_cur *c, enum cid_ct_src src)
{
	uint8_t b;
	struct cid_cur v;
	enum cid_status st;

	skip_ws(c);
	if (cid_cur_peek_u8(c, 0, &b) && b == ']') {
		cid_cur_skip(c, 1);
		return CID_OK;
	}
	for (;;) {
		skip_ws(c);
		st = cid_ct_scan_value(c, &v);
		if (st == CID_TRUNCATED)
			return fail(s, c, st, "file ends inside a record");
		if (st == CID_UNSUPPORTED) {
			/* too deep: this record goes, the others stay */
			s->index++;
			s->info->num_bad++;
			if (s->sink && s->sink->bad)
				s->sink->bad(s->sink->ctx, s->index, (size_t)(cid_cur_data(&v) - s->base), DEEP);
		} else if (st != CID_OK) {
			return fail(s, c, st, "record is not a delimited JSON value");
		} else {
			emit(s, src, &v);
		}
		skip_ws(c);
		if (!cid_cur_u8(c, &b))
			return fail(s, c, CID_TRUNCATED, "file ends inside the records array");
		if (b == ']')
			return CID_OK;
		if (b != ',')
			return fail(s, c, CID_MALFORMED, "expected ',' or ']' after a record");
	}
}

/* What a top-level object turned out to be. */
enum obj_kind { OBJ_CONTAINER, OBJ_DIGEST, OBJ_RECORD, OBJ_DEEP_RECORD, OBJ_OTHER };

/*
 * Walks the members of a top-level object at the cursor ('{' not yet
 * consumed). "Records" / "Events" arrays are split in place (so a truncated
 * S3 file still yields the records before the cut); other members are only
 * skipped, noting keys that identify a digest or a bare record.
 */
static enum cid_status split_object(struct split *s, struct cid_cur *c, enum obj_kind *kind)
{
	struct cid_cur key, v;
	uint8_t b;
	enum cid_status st;
	bool container = false, digest = false, record = false, too_deep = false;

	cid_cur_skip(c, 1);
	skip_ws(c);
	if (cid_cur_peek_u8(c, 0, &b) && b == '}') {
		cid_cur_skip(c, 1);
		*kind = OBJ_OTHER;
		return CID_OK;
	}
	for (;;) {
		skip_ws(c);
		if (!cid_cur_peek_u8(c, 0, &b))
			return fail(s, c, CID_TRUNCATED, "file ends inside an object");
		if (b != '"')
			return fail(s, c, CID_MALFORMED, "expected a member name");
		if (cid_ct_scan_value(c, &key) != CID_OK)
			return fail(s, c, CID_TRUNCATED, "file ends inside a member name");
		skip_ws(c);
		if (!cid_cur_u8(c, &b))
			return fail(s, c, CID_TRUNCATED, "file ends after a member name");
		if (b != ':')
			return fail(s, c, CID_MALFORMED, "expected ':' after a member name");
		skip_ws(c);
		bool is_records = key_is(&key, "Records"), is_events = key_is(&key, "Events");
		if ((is_records || is_events) && cid_cur_peek_u8(c, 0, &b) && b != '[')
			return fail(s, c, CID_UNSUPPORTED,
				    is_records ? "\"Records\" is not an array" : "\"Events\" is not an array");
		if ((is_records || is_events) && cid_cur_peek_u8(c, 0, &b) && b == '[') {
			cid_cur_skip(c, 1);
			st = split_array(s, c, is_records ? CID_CT_SRC_RECORDS : CID_CT_SRC_EVENTS);
			if (st != CID_OK)
				return st;
			container = true;
		} else {
			st = cid_ct_scan_value(c, &v);
			if (st == CID_UNSUPPORTED)
				too_deep = true; /* skipped whole; a record with it goes */
			else if (st != CID_OK)
				return fail(s, c, st,
					    st == CID_TRUNCATED ? "file ends inside a value"
								: "value is not delimited JSON");
			/* CloudTrail digest files (CloudTrail-Digest/ tree) carry
			 * digestStartTime, digestEndTime, digestS3Bucket, ... */
			if (key_has_prefix(&key, "digest"))
				digest = true;
			if (key_is(&key, "eventID") || key_is(&key, "eventTime") ||
			    key_is(&key, "eventVersion"))
				record = true;
		}
		skip_ws(c);
		if (!cid_cur_u8(c, &b))
			return fail(s, c, CID_TRUNCATED, "file ends inside an object");
		if (b == '}')
			break;
		if (b != ',')
			return fail(s, c, CID_MALFORMED, "expected ',' or '}' after a member");
	}
	*kind = container ? OBJ_CONTAINER
		: digest  ? OBJ_DIGEST
		: record  ? (too_deep ? OBJ_DEEP_RECORD : OBJ_RECORD)
			  : OBJ_OTHER;
	return CID_OK;
}

/* True when the value v is followed by a newline (or the end) before any
 * other byte, and holds no newline itself: a JSON line. */
static bool is_single_line(const struct cid_cur *v, const struct cid_cur *after)
{
	uint8_t b;
	struct cid_cur t = *after;
	if (memchr(cid_cur_data(v), '\n', cid_cur_len(v)))
		return false;
	while (cid_cur_u8(&t, &b)) {
		if (b == '\n')
			return true;
		if (!is_ws(b))
			return false;
	}
	return true;
}

/* JSON lines: skips the rest of the line starting at line_start. */
static void skip_line(struct cid_cur *c, const struct cid_cur *line_start)
{
	const uint8_t *d = cid_cur_data(line_start);
	size_t n = cid_cur_len(line_start);
	const uint8_t *nl = memchr(d, '\n', n);
	*c = *line_start;
	cid_cur_skip(c, nl ? (size_t)(nl - d) + 1 : n);
}

enum cid_status cid_ct_split(const uint8_t *p, size_t p_len, const struct cid_ct_sink *sink,
			     struct cid_ct_split_info *info)
{
	struct split s = {p, sink, info, 0};
	struct cid_cur c, start, v;
	uint8_t b;
	enum cid_status st;
	enum obj_kind kind;
	bool first = true;

	memset(info, 0, sizeof(*info));
	cid_cur_init(&c, p, p_len);
	skip_bom(&c);
	for (;; first = false) {
		skip_ws(&c);
		start = c;
		if (!cid_cur_peek_u8(&c, 0, &b))
			return CID_OK;
		if (b == '[') {
			cid_cur_skip(&c, 1);
			if ((st = split_array(&s, &c, CID_CT_SRC_ARRAY)) != CID_OK)
				return st;
			continue;
		}
		if (b != '{') {
			if (info->lines) {
				s.index++;
				info->num_bad++;
				if (sink && sink->bad)
					sink->bad(sink->ctx, s.index, off_of(&s, &start),
						  "line is not a JSON object");
				skip_line(&c, &start);
				continue;
			}
			return fail(&s, &c, first ? CID_UNSUPPORTED : CID_MALFORMED,
				    first ? "not JSON (expected '{' or '[')"
					  : "expected '{' or '[' at top level");
		}
		size_t before = info->num_records;
		st = split_object(&s, &c, &kind);
		if (st != CID_OK) {
			/* In JSON lines one bad line costs one record only. A
			 * container that failed after emitting records is fatal. */
			if (info->lines && info->num_records == before) {
				s.index++;
				info->num_bad++;
				if (sink && sink->bad)
					sink->bad(sink->ctx, s.index, info->err_offset, info->reason);
				info->reason = NULL;
				skip_line(&c, &start);
				continue;
			}
			return st;
		}
		v.data = cid_cur_data(&start);
		v.len = cid_cur_len(&start) - cid_cur_len(&c);
		switch (kind) {
		case OBJ_CONTAINER:
			break;
		case OBJ_DIGEST:
			info->num_digests++;
			break;
		case OBJ_OTHER:
			if (first)
				return fail(&s, &start, CID_UNSUPPORTED,
					    "JSON but not CloudTrail (no Records, Events or eventID)");
			/* a later odd object is a bad record (SQLite says why) */
			emit(&s, CID_CT_SRC_LINE, &v);
			break;
		case OBJ_RECORD:
			if (first && is_single_line(&v, &c))
				info->lines = true;
			emit(&s, CID_CT_SRC_LINE, &v);
			break;
		case OBJ_DEEP_RECORD:
			if (first && is_single_line(&v, &c))
				info->lines = true;
			s.index++;
			info->num_bad++;
			if (sink && sink->bad)
				sink->bad(sink->ctx, s.index, off_of(&s, &start), DEEP);
			break;
		}
	}
}

/* ---- eventTime ---- */

static bool digits(struct cid_cur *c, size_t n, int64_t *out)
{
	int64_t v = 0;
	uint8_t b;
	for (size_t i = 0; i < n; i++) {
		if (!cid_cur_u8(c, &b) || b < '0' || b > '9')
			return false;
		v = v * 10 + (b - '0');
	}
	*out = v;
	return true;
}

static bool expect(struct cid_cur *c, uint8_t want)
{
	uint8_t b;
	return cid_cur_u8(c, &b) && b == want;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days
 * inverse: eras of 400 years, years starting in March). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t days_in_month(int64_t y, int64_t m)
{
	static const int8_t dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dim[m - 1];
}

enum cid_status cid_ct_parse_time(const char *s, size_t s_len, int64_t *us)
{
	struct cid_cur c;
	int64_t y, mo, d, h, mi, sec, frac = 0, tz = 0, th, tm;
	uint8_t b;

	cid_cur_init(&c, (const uint8_t *)s, s_len);
	if (!digits(&c, 4, &y) || !expect(&c, '-') || !digits(&c, 2, &mo) || !expect(&c, '-') ||
	    !digits(&c, 2, &d))
		return CID_MALFORMED;
	if (!cid_cur_u8(&c, &b) || (b != 'T' && b != 't' && b != ' '))
		return CID_MALFORMED;
	if (!digits(&c, 2, &h) || !expect(&c, ':') || !digits(&c, 2, &mi) || !expect(&c, ':') ||
	    !digits(&c, 2, &sec))
		return CID_MALFORMED;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
		return CID_MALFORMED;
	if (cid_cur_peek_u8(&c, 0, &b) && b == '.') {
		size_t n = 0;
		cid_cur_skip(&c, 1);
		while (cid_cur_peek_u8(&c, 0, &b) && b >= '0' && b <= '9') {
			if (n < 6)
				frac = frac * 10 + (b - '0');
			n++;
			cid_cur_skip(&c, 1);
		}
		if (n == 0)
			return CID_MALFORMED;
		for (; n < 6; n++)
			frac *= 10;
	}
	if (cid_cur_u8(&c, &b)) {
		if (b == 'Z' || b == 'z') {
			/* UTC */
		} else if (b == '+' || b == '-') {
			if (!digits(&c, 2, &th) || !expect(&c, ':') || !digits(&c, 2, &tm) || th > 23 ||
			    tm > 59)
				return CID_MALFORMED;
			tz = (th * 60 + tm) * 60 * (b == '+' ? 1 : -1);
		} else {
			return CID_MALFORMED;
		}
		if (cid_cur_len(&c) != 0)
			return CID_MALFORMED;
	}
	*us = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - tz) * 1000000 + frac;
	return CID_OK;
}

/* ---- requestParameters shapes ---- */

static enum cid_status shape_value(struct cid_buf *out, struct cid_cur *c, size_t depth);

static enum cid_status shape_array(struct cid_buf *out, struct cid_cur *c, size_t depth)
{
	struct cid_buf prev, cur;
	enum cid_status st = CID_OK;
	uint8_t b;
	bool any = false;

	cid_buf_init(&prev, CID_CT_SHAPE_CAP);
	cid_buf_init(&cur, CID_CT_SHAPE_CAP);
	cid_cur_skip(c, 1);
	cid_buf_addc(out, '[');
	for (;;) {
		skip_ws(c);
		if (!cid_cur_peek_u8(c, 0, &b)) {
			st = CID_MALFORMED;
			break;
		}
		if (b == ']') {
			cid_cur_skip(c, 1);
			break;
		}
		if (b == ',') {
			cid_cur_skip(c, 1);
			continue;
		}
		cid_buf_reset(&cur);
		if ((st = shape_value(&cur, c, depth + 1)) != CID_OK)
			break;
		/* Collapse runs of equal element shapes: lists of instances
		 * or filters of one kind have one shape. */
		if (!any || cur.len != prev.len || memcmp(cid_buf_str(&cur), cid_buf_str(&prev), cur.len)) {
			if (any)
				cid_buf_addc(out, ',');
			cid_buf_add(out, cid_buf_str(&cur), cur.len);
			cid_buf_reset(&prev);
			cid_buf_add(&prev, cid_buf_str(&cur), cur.len);
			any = true;
		}
	}
	cid_buf_addc(out, ']');
	cid_buf_cleanup(&prev);
	cid_buf_cleanup(&cur);
	return st;
}

static enum cid_status shape_object(struct cid_buf *out, struct cid_cur *c, size_t depth)
{
	struct cid_cur key;
	enum cid_status st;
	uint8_t b;
	bool any = false;

	cid_cur_skip(c, 1);
	cid_buf_addc(out, '{');
	for (;;) {
		skip_ws(c);
		if (!cid_cur_peek_u8(c, 0, &b))
			return CID_MALFORMED;
		if (b == '}') {
			cid_cur_skip(c, 1);
			break;
		}
		if (b == ',') {
			cid_cur_skip(c, 1);
			continue;
		}
		if (b != '"' || cid_ct_scan_value(c, &key) != CID_OK)
			return CID_MALFORMED;
		skip_ws(c);
		if (!expect(c, ':'))
			return CID_MALFORMED;
		if (any)
			cid_buf_addc(out, ',');
		any = true;
		cid_buf_add(out, (const char *)cid_cur_data(&key), cid_cur_len(&key));
		cid_buf_addc(out, ':');
		if ((st = shape_value(out, c, depth + 1)) != CID_OK)
			return st;
	}
	cid_buf_addc(out, '}');
	return CID_OK;
}

static enum cid_status shape_value(struct cid_buf *out, struct cid_cur *c, size_t depth)
{
	struct cid_cur v;
	uint8_t b;

	if (depth >= CID_CT_MAX_DEPTH / 8)
		return CID_UNSUPPORTED;
	if (out->capped)
		return CID_UNSUPPORTED;
	skip_ws(c);
	if (!cid_cur_peek_u8(c, 0, &b))
		return CID_MALFORMED;
	if (b == '{')
		return shape_object(out, c, depth);
	if (b == '[')
		return shape_array(out, c, depth);
	if (cid_ct_scan_value(c, &v) != CID_OK) {
		/* A scalar at the very end of the input (a bare number). */
		if (b == '"' || cid_cur_len(c) == 0)
			return CID_MALFORMED;
		v = *c;
		cid_cur_skip(c, cid_cur_len(c));
	}
	if (b == '"')
		cid_buf_adds(out, "\"string\"");
	else if (b == 't' || b == 'f')
		cid_buf_adds(out, "\"boolean\"");
	else if (b == 'n')
		cid_buf_adds(out, "\"null\"");
	else if (b == '-' || (b >= '0' && b <= '9'))
		cid_buf_adds(out, "\"number\"");
	else
		return CID_MALFORMED;
	return CID_OK;
}

enum cid_status cid_ct_shape(struct cid_buf *out, const uint8_t *p, size_t p_len)
{
	struct cid_cur c;
	enum cid_status st;
	cid_cur_init(&c, p, p_len);
	st = shape_value(out, &c, 0);
	if (st == CID_OK && out->capped)
		st = CID_UNSUPPORTED;
	return st;
}
