/*
 * community_id.c - Community ID flow hashing, version 1.
 *
 * Spec: https://github.com/corelight/community-id-spec (v1). The hash input
 * is, all in network byte order:
 *     seed (2) | addr A | addr B | protocol (1) | 0 (1) | port A (2) | port B (2)
 * where endpoint A is the "smaller" one: lower address bytes, or the same
 * address and the lower port. That ordering makes both directions of a flow
 * hash alike. Ports are included for port-carrying protocols only (TCP,
 * UDP, SCTP; our flows are TCP or UDP). The result is "1:" followed by the
 * base64 of the SHA-1 digest.
 */
#include "callerid/flow.h"

#include <string.h>

#include <openssl/evp.h>

#include "callerid/digest.h"

#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_SCTP 132

static size_t addr_len(const struct cid_addr *a)
{
	return a->family == 6 ? 16u : 4u;
}

static size_t put_addr(uint8_t *buf, size_t n, const struct cid_addr *a)
{
	size_t l = addr_len(a);
	memcpy(buf + n, a->b, l);
	return n + l;
}

static size_t put_u16(uint8_t *buf, size_t n, uint16_t v)
{
	buf[n] = (uint8_t)(v >> 8);
	buf[n + 1] = (uint8_t)(v & 0xffu);
	return n + 2;
}

/* True when (a, ap) sorts strictly before (b, bp): the spec compares the
 * addresses as byte strings, then the ports as numbers. */
static bool endpoint_less(const struct cid_addr *a, uint16_t ap,
			  const struct cid_addr *b, uint16_t bp)
{
	size_t la = addr_len(a), lb = addr_len(b);
	int cmp = memcmp(a->b, b->b, la < lb ? la : lb);
	if (cmp == 0 && la != lb)
		cmp = la < lb ? -1 : 1;
	return cmp < 0 || (cmp == 0 && ap < bp);
}

void cid_community_id(const struct cid_flow *f, uint16_t seed, char out[64])
{
	const struct cid_addr *a1 = &f->cli, *a2 = &f->srv;
	uint16_t p1 = f->cport, p2 = f->sport;
	uint8_t buf[2 + 16 + 16 + 1 + 1 + 2 + 2];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t n = 0;
	int enc;

	out[0] = '\0';
	if (!endpoint_less(a1, p1, a2, p2)) {
		const struct cid_addr *ta = a1;
		uint16_t tp = p1;
		a1 = a2;
		a2 = ta;
		p1 = p2;
		p2 = tp;
	}
	n = put_u16(buf, n, seed);
	n = put_addr(buf, n, a1);
	n = put_addr(buf, n, a2);
	buf[n++] = f->proto;
	buf[n++] = 0; /* padding */
	if (f->proto == PROTO_TCP || f->proto == PROTO_UDP || f->proto == PROTO_SCTP) {
		n = put_u16(buf, n, p1);
		n = put_u16(buf, n, p2);
	}
	const EVP_MD *sha1 = cid_md(CID_SHA1);
	if (!sha1 || EVP_Digest(buf, n, md, &md_len, sha1, NULL) != 1 || md_len != 20)
		return;
	/* 20 bytes -> 28 base64 characters + NUL, after the 2-byte prefix. */
	out[0] = '1';
	out[1] = ':';
	enc = EVP_EncodeBlock((unsigned char *)out + 2, md, (int)md_len);
	if (enc != 28)
		out[0] = '\0';
}
