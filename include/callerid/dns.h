/*
 * dns.h - DNS messages (RFC 1035 section 4; EDNS(0) RFC 6891; AAAA RFC
 * 3596): the question, the A/AAAA/CNAME answers and the response code,
 * to learn which names a client resolved to the addresses it then
 * connected to. Pure and bounded: bytes in, a struct out.
 *
 * Names are kept raw: the labels' bytes joined with '.', no trailing dot,
 * "" for the root. A label may itself hold '.' or any byte; names are
 * escaped only on output.
 */
#ifndef CID_DNS_H
#define CID_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "callerid/common.h"

#define CID_DNS_NAME_MAX 255u      /* wire octets of a name (RFC 1035 2.3.4) */
#define CID_DNS_MAX_JUMPS 32u      /* compression pointers followed per name */
#define CID_DNS_MAX_ANSWERS 32u    /* A/AAAA/CNAME answers kept per message */
#define CID_DNS_TCP_MSG_CAP 16384u /* TCP messages larger than this are skipped */

#define CID_DNS_TYPE_A 1u
#define CID_DNS_TYPE_CNAME 5u
#define CID_DNS_TYPE_AAAA 28u
#define CID_DNS_TYPE_OPT 41u

/* A name in presentation-free raw form: text[len], NUL-terminated. At
 * most 253 bytes (255 wire octets less the first length and the root). */
struct cid_dns_name {
	uint8_t len;
	char text[CID_DNS_NAME_MAX + 1];
};

/* One A, AAAA or CNAME record of the answer section. */
struct cid_dns_rr {
	struct cid_dns_name name;    /* owner name */
	uint16_t type;               /* CID_DNS_TYPE_A, _AAAA or _CNAME */
	uint32_t ttl;
	struct cid_addr addr;        /* A / AAAA */
	struct cid_dns_name target;  /* CNAME */
	bool on_chain;               /* owner is the qname or reached from it by CNAMEs */
};

struct cid_dns_msg {
	uint16_t id;
	uint16_t flags;              /* header bits after the id, as on the wire */
	bool qr;                     /* a response */
	bool tc;                     /* truncated by the sender (TC bit) */
	uint8_t opcode;
	uint16_t rcode;              /* 4 bits, 12 with the EDNS extended rcode */
	uint16_t qdcount, ancount, nscount, arcount;
	bool have_question;          /* the first question is below */
	struct cid_dns_name qname;
	uint16_t qtype, qclass;
	struct cid_dns_rr answers[CID_DNS_MAX_ANSWERS];
	uint32_t num_answers;
	uint32_t answers_other;      /* answer records of other types, or past the cap */
	bool edns;                   /* an OPT record was present */
	uint16_t edns_udp_size;
	uint8_t edns_version;
	bool edns_do;
	size_t trailing;             /* bytes after the last section (ignored) */
};

/* Parses one DNS message (a UDP payload, or one message of a TCP stream
 * without its length prefix). OK: m filled. TRUNCATED: the message ends
 * inside a section (for UDP that is malformed too). MALFORMED: it
 * contradicts RFC 1035 (compression loop or pointer forward or past the
 * end, label over 63, name over 255, bad RDATA length, two OPT records).
 * *reason (may be NULL) gets a one-line reason, "" on OK. A message with
 * the TC bit that stops at a record boundary is OK (RFC 2181 section 9). */
enum cid_status cid_dns_parse(struct cid_dns_msg *m, const char **reason, const uint8_t *p,
			      size_t p_len);

/* "A", "AAAA", "CNAME", ... for the common types; NULL for others. */
const char *cid_dns_type_name(uint16_t type);
/* "NOERROR", "NXDOMAIN", ... ; NULL for unknown codes. */
const char *cid_dns_rcode_name(uint16_t rcode);

/*
 * DNS over TCP (RFC 1035 section 4.2.2, RFC 7766 section 8): each message
 * is preceded by a two-byte length. The framer is fed the in-order bytes
 * of one direction and hands out whole messages.
 */
struct cid_dns_framer {
	uint8_t len_hdr[2];
	uint8_t hdr_have;
	uint16_t need;      /* length of the current message */
	uint16_t have;      /* bytes of it in buf */
	bool skipping;      /* the current message is over the cap: skipped */
	uint8_t buf[CID_DNS_TCP_MSG_CAP];
};

void cid_dns_framer_init(struct cid_dns_framer *f);

/* Consumes bytes from p until a message is complete or p is used up;
 * *used = bytes consumed. Returns:
 *   OK: *msg / *msg_len is one whole message (valid until the next call;
 *       it points into f or into p); call again with p + *used.
 *   TRUNCATED: all of p consumed (*used == p_len), no message complete.
 *   UNSUPPORTED: a message of *msg_len bytes is larger than
 *       CID_DNS_TCP_MSG_CAP; it is skipped (*msg = NULL); call again. */
enum cid_status cid_dns_framer_feed(struct cid_dns_framer *f, size_t *used, const uint8_t **msg,
				    size_t *msg_len, const uint8_t *p, size_t p_len);

#endif /* CID_DNS_H */
