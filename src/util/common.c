/*
 * common.c - status names and address text conversion.
 */
#include "callerid/common.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

const char *cid_status_name(enum cid_status s)
{
	switch (s) {
	case CID_OK:
		return "ok";
	case CID_TRUNCATED:
		return "truncated";
	case CID_MALFORMED:
		return "malformed";
	case CID_UNSUPPORTED:
		return "unsupported";
	}
	return "unknown";
}

char *cid_addr_str(const struct cid_addr *a, char *buf, size_t buf_len)
{
	int af;

	if (!buf || buf_len == 0)
		return buf;
	buf[0] = '\0';
	if (!a)
		return buf;
	if (a->family == 4) {
		/* dotted quad by hand: inet_ntop formats IPv4 with sprintf, a
		 * few percent of storing a flow (make bench) */
		char tmp[16];
		size_t n = 0;
		for (int i = 0; i < 4; i++) {
			unsigned v = a->b[i];
			if (i)
				tmp[n++] = '.';
			if (v >= 100)
				tmp[n++] = (char)('0' + v / 100);
			if (v >= 10)
				tmp[n++] = (char)('0' + v / 10 % 10);
			tmp[n++] = (char)('0' + v % 10);
		}
		if (n >= buf_len)
			return buf; /* too small: empty, as inet_ntop would fail */
		memcpy(buf, tmp, n);
		buf[n] = '\0';
		return buf;
	}
	if (a->family == 6)
		af = AF_INET6;
	else
		return buf; /* unset address: empty text, never garbage */
	/* inet_ntop takes a socklen_t; buf_len beyond that is never needed. */
	if (!inet_ntop(af, a->b, buf, (socklen_t)(buf_len > 1024 ? 1024 : buf_len)))
		buf[0] = '\0';
	return buf;
}

bool cid_addr_parse(struct cid_addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	if (!s)
		return false;
	if (inet_pton(AF_INET, s, a->b) == 1) {
		a->family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, a->b) == 1) {
		a->family = 6;
		return true;
	}
	memset(a, 0, sizeof(*a));
	return false;
}
