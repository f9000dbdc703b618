/*
 * fuzz_dns.c - libFuzzer harness for the DNS message parser and the TCP
 * framer (src/proto/dns.c). The input is parsed as one message (a UDP
 * payload) from an exact-size heap copy, then as a TCP stream of
 * length-prefixed messages fed in segments whose size comes from the
 * first byte; every framed message is parsed too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cid_dns_msg m;
static struct cid_dns_framer f;

static void parse(const uint8_t *p, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);
	const char *why = NULL;
	if (!copy)
		return;
	if (n)
		memcpy(copy, p, n);
	if (cid_dns_parse(&m, &why, copy, n) == CID_OK) {
		if (m.num_answers > CID_DNS_MAX_ANSWERS || m.qname.len > 253 || m.trailing > n)
			abort();
		for (uint32_t i = 0; i < m.num_answers; i++) {
			const struct cid_dns_rr *rr = &m.answers[i];
			if (rr->name.len > 253 || rr->target.len > 253 || rr->name.text[rr->name.len] != '\0')
				abort();
			if (!cid_dns_type_name(rr->type))
				abort();
		}
		(void)cid_dns_rcode_name(m.rcode);
	} else if (!why || !why[0]) {
		abort(); /* every failure has a reason */
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t seg, off = 0;
	parse(data, size);
	if (size < 1)
		return 0;
	seg = (size_t)data[0] + 1;
	cid_dns_framer_init(&f);
	while (off < size) {
		size_t n = size - off < seg ? size - off : seg, pos = 0;
		for (;;) {
			const uint8_t *msg;
			size_t msg_len, used;
			enum cid_status st = cid_dns_framer_feed(&f, &used, &msg, &msg_len, data + off + pos, n - pos);
			if (used > n - pos)
				abort();
			pos += used;
			if (st == CID_TRUNCATED)
				break;
			if (st == CID_OK)
				parse(msg, msg_len);
			else if (msg || msg_len <= CID_DNS_TCP_MSG_CAP)
				abort();
		}
		off += n;
	}
	return 0;
}
