/*
 * dns.c - one DNS message (RFC 1035 section 4.1) through a cursor: header,
 * question, the A (RFC 1035 3.4.1) / AAAA (RFC 3596 2.2) / CNAME (RFC 1035
 * 3.3.1) answers, EDNS(0) from the OPT record (RFC 6891 6.1), and the
 * two-byte framing of DNS over TCP (RFC 1035 4.2.2).
 *
 * Names use message compression (RFC 1035 4.1.4). A pointer must point
 * strictly before the first byte of the labels being read when it is met,
 * so every jump goes backwards past everything read so far: loops are
 * impossible, and a jump count cap bounds the work anyway.
 */
#include "callerid/dns.h"

#include <stddef.h>
#include <string.h>

#include "callerid/cursor.h"

#define CLASS_IN 1u

/* The whole message, for compression pointers. */
struct msg {
	const uint8_t *p;
	size_t len;
};

static size_t offset_of(const struct msg *m, const struct cid_cur *c)
{
	return (size_t)(cid_cur_data(c) - m->p);
}

/* Reads a possibly compressed name at *c (a window inside the message) and
 * advances *c past it (up to and including the first pointer). Running out
 * of *c before any pointer is TRUNCATED (the caller knows whether more bytes
 * could exist); running out of the message after a pointer is MALFORMED. */
static enum cid_status read_name(const struct msg *m, struct cid_cur *c, struct cid_dns_name *out,
				 const char **reason)
{
	struct cid_cur r = *c;
	size_t wire = 0, low = offset_of(m, c);
	unsigned jumps = 0;
	bool jumped = false;
	uint8_t l, b2;

	out->len = 0;
	out->text[0] = '\0';
	for (;;) {
		if (!cid_cur_u8(&r, &l))
			goto ran_out;
		switch (l & 0xC0) {
		case 0x00:
			if (l == 0) {
				if (!jumped)
					*c = r;
				return CID_OK;
			}
			/* 2.3.4: the whole name, length octets and root
			 * included, is at most 255 octets */
			wire += 1u + l;
			if (wire + 1 > CID_DNS_NAME_MAX) {
				*reason = "name longer than 255 octets";
				return CID_MALFORMED;
			}
			if (cid_cur_len(&r) < l)
				goto ran_out;
			if (out->len)
				out->text[out->len++] = '.';
			(void)cid_cur_copy(&r, (uint8_t *)out->text + out->len, l);
			out->len = (uint8_t)(out->len + l);
			out->text[out->len] = '\0';
			break;
		case 0xC0: {
			size_t off;
			if (!cid_cur_u8(&r, &b2))
				goto ran_out;
			off = ((size_t)(l & 0x3F) << 8) | b2;
			if (off >= low) {
				*reason = off >= m->len ? "compression pointer past the end"
							: "compression pointer does not point backwards";
				return CID_MALFORMED;
			}
			if (++jumps > CID_DNS_MAX_JUMPS) {
				*reason = "too many compression pointers";
				return CID_MALFORMED;
			}
			if (!jumped) {
				*c = r;
				jumped = true;
			}
			cid_cur_init(&r, m->p, m->len);
			(void)cid_cur_skip(&r, off);
			low = off;
			break;
		}
		default:
			/* 0x40 / 0x80: extended label types (RFC 6891 5), or a
			 * length over 63 */
			*reason = "label longer than 63 octets (reserved label type)";
			return CID_MALFORMED;
		}
	}
ran_out:
	if (jumped) {
		*reason = "compressed name runs past the end";
		return CID_MALFORMED;
	}
	*reason = "message ends inside a name";
	return CID_TRUNCATED;
}

/* ASCII case-insensitive name equality (RFC 4343). */
static bool name_eq(const struct cid_dns_name *a, const struct cid_dns_name *b)
{
	if (a->len != b->len)
		return false;
	for (size_t i = 0; i < a->len; i++) {
		char x = a->text[i], y = b->text[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (char)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

/* Marks the answers reached from the qname through CNAMEs. */
static void mark_chain(struct cid_dns_msg *m)
{
	const struct cid_dns_name *chain[CID_DNS_MAX_ANSWERS + 1];
	size_t num = 0;
	bool more = true;
	if (!m->have_question)
		return;
	chain[num++] = &m->qname;
	while (more) {
		more = false;
		for (uint32_t i = 0; i < m->num_answers; i++) {
			struct cid_dns_rr *rr = &m->answers[i];
			if (rr->on_chain)
				continue;
			for (size_t k = 0; k < num; k++) {
				if (!name_eq(&rr->name, chain[k]))
					continue;
				rr->on_chain = true;
				more = true;
				if (rr->type == CID_DNS_TYPE_CNAME && num < CID_DNS_MAX_ANSWERS + 1)
					chain[num++] = &rr->target;
				break;
			}
		}
	}
}

/* The fixed part of a resource record after its name (RFC 1035 4.1.3). */
struct rr_fixed {
	uint16_t type, klass;
	uint32_t ttl;
	struct cid_cur rdata;
};

static enum cid_status read_rr(const struct msg *m, struct cid_cur *c, struct cid_dns_name *name,
			       struct rr_fixed *f, const char **reason)
{
	struct cid_cur t = *c;
	enum cid_status st = read_name(m, &t, name, reason);
	if (st != CID_OK)
		return st;
	if (!cid_cur_u16(&t, &f->type) || !cid_cur_u16(&t, &f->klass) || !cid_cur_u32(&t, &f->ttl) ||
	    !cid_cur_sub_u16len(&t, &f->rdata)) {
		*reason = "message ends inside a resource record";
		return CID_TRUNCATED;
	}
	*c = t;
	return CID_OK;
}

static enum cid_status answer(const struct msg *msg, struct cid_dns_msg *m, const struct cid_dns_name *name,
			      struct rr_fixed *f, const char **reason)
{
	struct cid_dns_rr *rr;
	if (f->klass != CLASS_IN ||
	    (f->type != CID_DNS_TYPE_A && f->type != CID_DNS_TYPE_AAAA && f->type != CID_DNS_TYPE_CNAME) ||
	    m->num_answers == CID_DNS_MAX_ANSWERS) {
		m->answers_other++;
		return CID_OK;
	}
	rr = &m->answers[m->num_answers];
	memset(rr, 0, sizeof(*rr));
	rr->name = *name;
	rr->type = f->type;
	rr->ttl = f->ttl;
	if (f->type == CID_DNS_TYPE_A) {
		if (cid_cur_len(&f->rdata) != 4 || !cid_cur_copy(&f->rdata, rr->addr.b, 4)) {
			*reason = "A record RDATA is not 4 bytes";
			return CID_MALFORMED;
		}
		rr->addr.family = 4;
	} else if (f->type == CID_DNS_TYPE_AAAA) {
		if (cid_cur_len(&f->rdata) != 16 || !cid_cur_copy(&f->rdata, rr->addr.b, 16)) {
			*reason = "AAAA record RDATA is not 16 bytes";
			return CID_MALFORMED;
		}
		rr->addr.family = 6;
	} else {
		enum cid_status st = read_name(msg, &f->rdata, &rr->target, reason);
		if (st == CID_TRUNCATED) {
			*reason = "CNAME target runs past its RDATA";
			return CID_MALFORMED;
		}
		if (st != CID_OK)
			return st;
		if (cid_cur_len(&f->rdata)) {
			*reason = "CNAME RDATA longer than its name";
			return CID_MALFORMED;
		}
	}
	m->num_answers++;
	return CID_OK;
}

/* OPT pseudo-record (RFC 6891 6.1.2, 6.1.3). */
static enum cid_status opt(struct cid_dns_msg *m, const struct cid_dns_name *name, const struct rr_fixed *f,
			   const char **reason)
{
	if (m->edns) {
		*reason = "more than one OPT record"; /* 6.1.1: FORMERR */
		return CID_MALFORMED;
	}
	if (name->len) {
		*reason = "OPT record not owned by the root";
		return CID_MALFORMED;
	}
	m->edns = true;
	m->edns_udp_size = f->klass;
	m->edns_version = (uint8_t)(f->ttl >> 16);
	m->edns_do = (f->ttl & 0x8000u) != 0;
	m->rcode = (uint16_t)(((f->ttl >> 24) << 4) | (m->rcode & 0xFu));
	return CID_OK;
}

enum cid_status cid_dns_parse(struct cid_dns_msg *m, const char **reason, const uint8_t *p, size_t p_len)
{
	struct msg msg = {p, p_len};
	struct cid_cur c;
	struct cid_dns_name name;
	struct rr_fixed f;
	enum cid_status st = CID_OK;
	const char *why = "";

	memset(m, 0, offsetof(struct cid_dns_msg, answers));
	m->num_answers = 0;
	m->answers_other = 0;
	m->edns = false;
	m->edns_udp_size = 0;
	m->edns_version = 0;
	m->edns_do = false;
	m->trailing = 0;
	cid_cur_init(&c, p, p_len);

	/* 4.1.1 header */
	if (!cid_cur_u16(&c, &m->id) || !cid_cur_u16(&c, &m->flags) || !cid_cur_u16(&c, &m->qdcount) ||
	    !cid_cur_u16(&c, &m->ancount) || !cid_cur_u16(&c, &m->nscount) ||
	    !cid_cur_u16(&c, &m->arcount)) {
		why = "message shorter than the 12-byte header";
		st = CID_TRUNCATED;
		goto out;
	}
	m->qr = (m->flags & 0x8000u) != 0;
	m->opcode = (uint8_t)((m->flags >> 11) & 0xFu);
	m->tc = (m->flags & 0x0200u) != 0;
	m->rcode = (uint16_t)(m->flags & 0xFu);

	/* 4.1.2 question section */
	for (unsigned i = 0; i < m->qdcount; i++) {
		uint16_t qtype, qclass;
		if (m->tc && !cid_cur_len(&c))
			goto done;
		st = read_name(&msg, &c, &name, &why);
		if (st != CID_OK)
			goto out;
		if (!cid_cur_u16(&c, &qtype) || !cid_cur_u16(&c, &qclass)) {
			why = "message ends inside a question";
			st = CID_TRUNCATED;
			goto out;
		}
		if (i == 0) {
			m->have_question = true;
			m->qname = name;
			m->qtype = qtype;
			m->qclass = qclass;
		}
	}
	/* 4.1.3 answer, authority, additional */
	for (unsigned i = 0; i < m->ancount; i++) {
		if (m->tc && !cid_cur_len(&c))
			goto done;
		st = read_rr(&msg, &c, &name, &f, &why);
		if (st == CID_OK)
			st = answer(&msg, m, &name, &f, &why);
		if (st != CID_OK)
			goto out;
	}
	for (unsigned i = 0; i < m->nscount; i++) {
		if (m->tc && !cid_cur_len(&c))
			goto done;
		st = read_rr(&msg, &c, &name, &f, &why);
		if (st != CID_OK)
			goto out;
	}
	for (unsigned i = 0; i < m->arcount; i++) {
		if (m->tc && !cid_cur_len(&c))
			goto done;
		st = read_rr(&msg, &c, &name, &f, &why);
		if (st == CID_OK && f.type == CID_DNS_TYPE_OPT)
			st = opt(m, &name, &f, &why);
		if (st != CID_OK)
			goto out;
	}
	/* Bytes after the last section are ignored, as resolvers do, and
	 * counted. */
	m->trailing = cid_cur_len(&c);
done:
	mark_chain(m);
	st = CID_OK;
	why = "";
out:
	if (reason)
		*reason = why;
	return st;
}

const char *cid_dns_type_name(uint16_t type)
{
	switch (type) {
	case 1: return "A";
	case 2: return "NS";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 12: return "PTR";
	case 15: return "MX";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 33: return "SRV";
	case 41: return "OPT";
	case 64: return "SVCB";
	case 65: return "HTTPS";
	case 255: return "ANY";
	}
	return NULL;
}

const char *cid_dns_rcode_name(uint16_t rcode)
{
	/* RFC 1035 4.1.1, RFC 2136, RFC 6891 (IANA DNS RCODEs) */
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					    "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
					    "NXRRSET", "NOTAUTH", "NOTZONE"};
	if (rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	if (rcode == 16)
		return "BADVERS";
	return NULL;
}

/* ---- TCP framing ---------------------------------------------------------- */

void cid_dns_framer_init(struct cid_dns_framer *f)
{
	f->hdr_have = 0;
	f->need = 0;
	f->have = 0;
	f->skipping = false;
}

enum cid_status cid_dns_framer_feed(struct cid_dns_framer *f, size_t *used, const uint8_t **msg,
				    size_t *msg_len, const uint8_t *p, size_t p_len)
{
	struct cid_cur c;
	cid_cur_init(&c, p, p_len);
	*msg = NULL;
	*msg_len = 0;
	for (;;) {
		if (f->hdr_have < 2) {
			if (!cid_cur_u8(&c, &f->len_hdr[f->hdr_have]))
				break;
			if (++f->hdr_have < 2)
				continue;
			f->need = (uint16_t)((f->len_hdr[0] << 8) | f->len_hdr[1]);
			f->have = 0;
			f->skipping = f->need > CID_DNS_TCP_MSG_CAP;
			if (f->skipping) {
				*used = p_len - cid_cur_len(&c);
				*msg_len = f->need;
				return CID_UNSUPPORTED;
			}
			/* a whole message inside p: hand it out without copying */
			if (f->need <= cid_cur_len(&c)) {
				(void)cid_cur_bytes(&c, msg, f->need);
				*msg_len = f->need;
				f->hdr_have = 0;
				*used = p_len - cid_cur_len(&c);
				return CID_OK;
			}
		}
		{
			size_t n = (size_t)(f->need - f->have);
			if (n > cid_cur_len(&c))
				n = cid_cur_len(&c);
			if (f->skipping)
				(void)cid_cur_skip(&c, n);
			else
				(void)cid_cur_copy(&c, f->buf + f->have, n);
			f->have = (uint16_t)(f->have + n);
			if (f->have < f->need)
				break;
			f->hdr_have = 0;
			if (!f->skipping) {
				*msg = f->buf;
				*msg_len = f->need;
				*used = p_len - cid_cur_len(&c);
				return CID_OK;
			}
		}
	}
	*used = p_len - cid_cur_len(&c);
	return CID_TRUNCATED;
}
