/*
 * procparse.c - the /proc files live attribution reads, parsed through the
 * cursor (pure: bytes in, structs out). Formats: proc(5) - /proc/PID/stat,
 * /proc/PID/status, /proc/PID/cmdline, and the "type:[inode]" targets of
 * /proc/PID/fd/N and /proc/PID/ns/net links. A process can write almost
 * anything into its comm and cmdline, so both are hostile.
 */
#include <string.h>

#include "callerid/attrib.h"
#include "callerid/cursor.h"

/* The bytes before the next sep (sep consumed). false when there is none
 * (the cursor is left unchanged). */
static bool until(struct cid_cur *c, struct cid_cur *part, uint8_t sep)
{
	const uint8_t *at = cid_cur_len(c) ? memchr(cid_cur_data(c), sep, cid_cur_len(c)) : NULL;
	if (!at)
		return false;
	(void)cid_cur_sub(c, part, (size_t)(at - cid_cur_data(c)));
	(void)cid_cur_skip(c, 1);
	return true;
}

/* The next byte without consuming it, or -1 at the end. */
static int peek(const struct cid_cur *c)
{
	uint8_t b;
	return cid_cur_peek_u8(c, 0, &b) ? b : -1;
}

/* A decimal number filling the whole cursor (at most 20 digits, no
 * overflow). */
static bool number(const struct cid_cur *c, uint64_t *out)
{
	struct cid_cur t = *c;
	uint64_t v = 0;
	uint8_t b;
	if (!cid_cur_len(&t) || cid_cur_len(&t) > 20)
		return false;
	while (cid_cur_u8(&t, &b)) {
		if (b < '0' || b > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(b - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(b - '0');
	}
	*out = v;
	return true;
}

static bool number_i32(const struct cid_cur *c, int32_t *out)
{
	uint64_t v;
	if (!number(c, &v) || v > INT32_MAX)
		return false;
	*out = (int32_t)v;
	return true;
}

/* Copies text into a NUL-terminated buffer, cut to fit; control bytes
 * become '?'. */
static void copy_text(char *out, size_t out_len, const struct cid_cur *c)
{
	struct cid_cur t = *c;
	size_t i = 0;
	uint8_t b;
	while (i + 1 < out_len && cid_cur_u8(&t, &b))
		out[i++] = (char)(b < 0x20 || b == 0x7f ? '?' : b);
	out[i] = '\0';
}

enum cid_status cid_proc_parse_stat(struct cid_proc_stat *out, const uint8_t *p, size_t p_len)
{
	struct cid_cur c, f, comm;
	const uint8_t *close;
	uint64_t v;
	int field;
	memset(out, 0, sizeof(*out));
	cid_cur_init(&c, p, p_len);
	/* field 1: pid, then " (" */
	if (!until(&c, &f, ' '))
		return CID_TRUNCATED;
	if (!number_i32(&f, &out->pid))
		return CID_MALFORMED;
	if (!cid_cur_len(&c))
		return CID_TRUNCATED;
	if (peek(&c) != '(')
		return CID_MALFORMED;
	(void)cid_cur_skip(&c, 1);
	/* field 2: comm, up to the LAST ") " (comm may contain both) */
	close = NULL;
	for (const uint8_t *q = cid_cur_data(&c), *end = q + cid_cur_len(&c);
	     (q = memchr(q, ')', (size_t)(end - q))) != NULL; q++)
		close = q;
	if (!close)
		return CID_TRUNCATED;
	(void)cid_cur_sub(&c, &comm, (size_t)(close - cid_cur_data(&c)));
	(void)cid_cur_skip(&c, 1);
	if (cid_cur_len(&comm) > 64)
		return CID_MALFORMED; /* the kernel's comm is at most 64 bytes */
	copy_text(out->comm, sizeof(out->comm), &comm);
	if (!cid_cur_len(&c))
		return CID_TRUNCATED;
	if (peek(&c) != ' ')
		return CID_MALFORMED;
	(void)cid_cur_skip(&c, 1);
	/* fields 3..22, each ended by a space (or the final newline) */
	for (field = 3; field <= 22; field++) {
		if (!until(&c, &f, ' ')) {
			if (!until(&c, &f, '\n'))
				return CID_TRUNCATED;
		}
		if (field == 3) {
			if (cid_cur_len(&f) != 1)
				return CID_MALFORMED;
			out->state = (char)peek(&f);
			continue;
		}
		if (field == 4 && !number_i32(&f, &out->ppid))
			return CID_MALFORMED;
		if (field == 22) {
			if (!number(&f, &v))
				return CID_MALFORMED;
			out->start_ticks = v;
		}
	}
	return CID_OK;
}

/* "Uid:\treal\teffective\tsaved\tfs" */
static bool uid_fields(struct cid_proc_status *o, struct cid_cur v)
{
	struct cid_cur a, b;
	uint64_t r, e;
	if (!until(&v, &a, '\t') || !until(&v, &b, '\t'))
		return false;
	if (!number(&a, &r) || !number(&b, &e) || r > UINT32_MAX || e > UINT32_MAX)
		return false;
	o->uid_real = (uint32_t)r;
	o->uid_eff = (uint32_t)e;
	return true;
}

enum cid_status cid_proc_parse_status(struct cid_proc_status *out, const uint8_t *p, size_t p_len)
{
	struct cid_cur c, line, key;
	bool have_name = false, have_tgid = false, have_uid = false;
	memset(out, 0, sizeof(*out));
	cid_cur_init(&c, p, p_len);
	while (until(&c, &line, '\n')) {
		if (!until(&line, &key, ':'))
			continue; /* not a "Key:" line: ignored */
		/* the value follows a tab (or spaces in old kernels) */
		while (peek(&line) == '\t' || peek(&line) == ' ')
			(void)cid_cur_skip(&line, 1);
		if (cid_cur_len(&key) == 4 && !memcmp(cid_cur_data(&key), "Name", 4)) {
			/* the kernel escapes '\n' and '\\' in Name */
			copy_text(out->name, sizeof(out->name), &line);
			have_name = true;
		} else if (cid_cur_len(&key) == 4 && !memcmp(cid_cur_data(&key), "Tgid", 4)) {
			if (!number_i32(&line, &out->tgid))
				return CID_MALFORMED;
			have_tgid = true;
		} else if (cid_cur_len(&key) == 4 && !memcmp(cid_cur_data(&key), "PPid", 4)) {
			if (!number_i32(&line, &out->ppid))
				return CID_MALFORMED;
		} else if (cid_cur_len(&key) == 3 && !memcmp(cid_cur_data(&key), "Uid", 3)) {
			if (!uid_fields(out, line))
				return CID_MALFORMED;
			have_uid = true;
		} else if (cid_cur_len(&key) == 5 && !memcmp(cid_cur_data(&key), "NSpid", 5)) {
			/* "NSpid:\t4242\t7": the last is the innermost namespace's */
			struct cid_cur part;
			int32_t last = 0;
			while (until(&line, &part, '\t'))
				if (!number_i32(&part, &last))
					return CID_MALFORMED;
			if (!number_i32(&line, &last))
				return CID_MALFORMED;
			out->nspid = last;
		}
	}
	if (have_name && have_tgid && have_uid)
		return CID_OK;
	return cid_cur_len(&c) || !p_len ? CID_TRUNCATED : CID_MALFORMED;
}

enum cid_status cid_proc_parse_cmdline(char *out, size_t out_len, bool *cut, const uint8_t *p, size_t p_len)
{
	struct cid_cur c;
	size_t i = 0;
	uint8_t b;
	bool sep = false;
	*cut = false;
	out[0] = '\0';
	cid_cur_init(&c, p, p_len);
	while (cid_cur_u8(&c, &b)) {
		if (b == '\0') {
			sep = true;
			continue;
		}
		if (sep && i) {
			if (i + 1 >= out_len) {
				*cut = true;
				break;
			}
			out[i++] = ' ';
		}
		sep = false;
		if (i + 1 >= out_len) {
			*cut = true;
			break;
		}
		out[i++] = (char)(b < 0x20 || b == 0x7f ? '?' : b);
	}
	out[i] = '\0';
	return i ? CID_OK : CID_UNSUPPORTED;
}

enum cid_status cid_proc_parse_inode_link(uint64_t *inode, const char *kind, const uint8_t *p, size_t p_len)
{
	struct cid_cur c, num;
	size_t klen = strlen(kind);
	*inode = 0;
	cid_cur_init(&c, p, p_len);
	/* "kind:[": a proper prefix of it is a cut target */
	if (cid_cur_len(&c) < klen) {
		return p_len && !memcmp(cid_cur_data(&c), kind, p_len) ? CID_TRUNCATED
			: p_len ? CID_UNSUPPORTED : CID_TRUNCATED;
	}
	if (memcmp(cid_cur_data(&c), kind, klen) != 0 || !cid_cur_skip(&c, klen))
		return CID_UNSUPPORTED;
	if (peek(&c) < 0)
		return CID_TRUNCATED;
	if (peek(&c) != ':')
		return CID_UNSUPPORTED;
	(void)cid_cur_skip(&c, 1);
	if (peek(&c) < 0)
		return CID_TRUNCATED;
	if (peek(&c) != '[')
		return CID_UNSUPPORTED;
	(void)cid_cur_skip(&c, 1);
	if (!until(&c, &num, ']')) {
		/* digits so far and no ']' yet: cut; anything else: bad */
		struct cid_cur t = c;
		uint8_t b;
		while (cid_cur_u8(&t, &b))
			if (b < '0' || b > '9')
				return CID_MALFORMED;
		return CID_TRUNCATED;
	}
	if (cid_cur_len(&c) || !number(&num, inode) || *inode == 0) {
		*inode = 0;
		return CID_MALFORMED;
	}
	return CID_OK;
}
