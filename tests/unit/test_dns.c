/*
 * test_dns.c - DNS message parsing (RFC 1035, 3596, 6891) and the TCP
 * framer.
 *
 * Real vectors: UDP payloads from foxio-ja4/pcap/latest.pcapng (frames 2,
 * 6, 71, 108, 148) and v6.pcap (frame 2), cut with tshark -e udp.payload;
 * the expected values are tshark 4.0's (dns.qry.name, dns.a, dns.cname,
 * dns.resp.ttl, dns.flags.rcode). Hostile and EDNS/AAAA messages are
 * crafted below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "callerid/dns.h"

static const char v_latest_2[] =
	"533c01000001000000000000077064782d636f6c0f65756d2d61707064796e616d69637303636f6d0000010001";
static const char v_latest_6[] =
	"533c81800001000900000000077064782d636f6c0f65756d2d61707064796e616d69637303636f6d0000010001c00c00"
	"05000100000101000603636f6cc014c039000100010000003c000422d45d41c039000100010000003c000422df77d1c0"
	"39000100010000003c00042cecc429c039000100010000003c00042cf00e0fc039000100010000003c00043270c01ac0"
	"39000100010000003c00043425348fc039000100010000003c00043425571bc039000100010000003c000422d0ab57";
static const char v_latest_71[] =
	"d6d98180000100050000000009646973636f766572790363656d05636c6f75640275730000010001c00c000500010000"
	"000a001f0e643268356f6b6a7a39383735696e0a636c6f756466726f6e74036e657400c034000100010000003c00040d"
	"21a565c034000100010000003c00040d21a527c034000100010000003c00040d21a529c034000100010000003c00040d"
	"21a548";
static const char v_latest_108[] =
	"5a7e818000010004000000000461707073096964656e747275737403636f6d0000010001c00c00050001000000650019"
	"096964656e747275737409656467657375697465036e657400c030000500010000539900140561313935320464736371"
	"06616b616d6169c044c05500010001000000140004172bf239c05500010001000000140004172bf23a";
static const char v_latest_148[] =
	"7e508183000100000001000004777061640b626c75656361746c616273036e65740000010001c01100060001000002c6"
	"0049076e732d3131313909617773646e732d3131036f72670011617773646e732d686f73746d617374657206616d617a"
	"6f6e03636f6d000000000100001c20000003840012750000015180";
static const char v_v6_2[] =
	"0006858000010006000200050669746f6a756e036f72670000ff0001c00c0002000100000e10001407636f636f6e7574"
	"0669746f6a756e036f726700c00c0002000100000e10001a057469676572056869726f6f086f73686f6b756a69036f72"
	"6700c00c000f000100000e100016000a07636f636f6e75740669746f6a756e036f726700c00c000f000100000e100013"
	"0014046b6977690669746f6a756e036f726700c00c0001000100000e100004d2a05f61c00c0006000100000e10003106"
	"69746f6a756e036f72670004726f6f740669746f6a756e036f7267000bea476800000e100000012c0036ee8000000e10"
	"c00c0002000100000e10001407636f636f6e75740669746f6a756e036f726700c00c0002000100000e10001a05746967"
	"6572056869726f6f086f73686f6b756a69036f72670007636f636f6e7574c00c0001000100000e100004d2a05f610574"
	"69676572056869726f6f086f73686f6b756a69c0130001000100000e100004d29121f2046b697769c00c001c00010000"
	"0e1000103ffe05010410000002c0dffffe47033ec173001c000100000e1000103ffe050104100100525400fffeda48bf"
	"c1730001000100000e100004d2a05f63";

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex) / 2;
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		char two[3] = {hex[2 * i], hex[2 * i + 1], 0};
		out[i] = (uint8_t)strtoul(two, NULL, 16);
	}
	return n;
}

static struct cid_dns_msg m; /* large: not on the stack */

static const char *addr_text(const struct cid_addr *a, char *buf)
{
	return cid_addr_str(a, buf, CID_ADDRSTRLEN);
}

struct real {
	const char *name;
	const char *hex;
	uint16_t id, flags, qtype, rcode;
	const char *qname;
	uint32_t num_answers, answers_other;
	const char *answers; /* "name type data ttl chain;" joined */
};

static const struct real reals[] = {
	{"latest #2 query", v_latest_2, 0x533c, 0x0100, 1, 0, "pdx-col.eum-appdynamics.com", 0, 0, ""},
	{"latest #6 CNAME + 8 A", v_latest_6, 0x533c, 0x8180, 1, 0, "pdx-col.eum-appdynamics.com", 9, 0,
	 "pdx-col.eum-appdynamics.com CNAME col.eum-appdynamics.com 257 1;"
	 "col.eum-appdynamics.com A 34.212.93.65 60 1;col.eum-appdynamics.com A 34.223.119.209 60 1;"
	 "col.eum-appdynamics.com A 44.236.196.41 60 1;col.eum-appdynamics.com A 44.240.14.15 60 1;"
	 "col.eum-appdynamics.com A 50.112.192.26 60 1;col.eum-appdynamics.com A 52.37.52.143 60 1;"
	 "col.eum-appdynamics.com A 52.37.87.27 60 1;col.eum-appdynamics.com A 34.208.171.87 60 1;"},
	{"latest #71 CNAME to cloudfront", v_latest_71, 0xd6d9, 0x8180, 1, 0, "discovery.cem.cloud.us", 5, 0,
	 "discovery.cem.cloud.us CNAME d2h5okjz9875in.cloudfront.net 10 1;"
	 "d2h5okjz9875in.cloudfront.net A 13.33.165.101 60 1;d2h5okjz9875in.cloudfront.net A 13.33.165.39 60 1;"
	 "d2h5okjz9875in.cloudfront.net A 13.33.165.41 60 1;d2h5okjz9875in.cloudfront.net A 13.33.165.72 60 1;"},
	{"latest #108 two CNAMEs", v_latest_108, 0x5a7e, 0x8180, 1, 0, "apps.identrust.com", 4, 0,
	 "apps.identrust.com CNAME identrust.edgesuite.net 101 1;"
	 "identrust.edgesuite.net CNAME a1952.dscq.akamai.net 21401 1;"
	 "a1952.dscq.akamai.net A 23.43.242.57 20 1;a1952.dscq.akamai.net A 23.43.242.58 20 1;"},
	{"latest #148 NXDOMAIN", v_latest_148, 0x7e50, 0x8183, 1, 3, "wpad.bluecatlabs.net", 0, 0, ""},
	{"v6 #2 ANY with NS/MX/SOA", v_v6_2, 0x0006, 0, 255, 0, "itojun.org", 1, 5, "itojun.org A 210.160.95.97 3600 1;"},
};

static void answers_text(char *out, size_t cap, const struct cid_dns_msg *msg)
{
	size_t len = 0;
	out[0] = '\0';
	for (uint32_t i = 0; i < msg->num_answers; i++) {
		const struct cid_dns_rr *rr = &msg->answers[i];
		char a[CID_ADDRSTRLEN];
		int n = snprintf(out + len, cap - len, "%s %s %s %u %d;", rr->name.text,
				 cid_dns_type_name(rr->type),
				 rr->type == CID_DNS_TYPE_CNAME ? rr->target.text : addr_text(&rr->addr, a),
				 (unsigned)rr->ttl, rr->on_chain);
		assert_true(n > 0 && (size_t)n < cap - len);
		len += (size_t)n;
	}
}

static void test_real(void **state)
{
	static uint8_t buf[2048];
	static char text[4096];
	(void)state;
	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
		const struct real *r = &reals[i];
		size_t n = unhex(buf, sizeof(buf), r->hex);
		const char *why;
		assert_int_equal(cid_dns_parse(&m, &why, buf, n), CID_OK);
		assert_string_equal(why, "");
		assert_int_equal(m.id, r->id);
		if (r->flags)
			assert_int_equal(m.flags, r->flags);
		assert_int_equal(m.qr, (m.flags & 0x8000) != 0);
		assert_true(m.have_question);
		assert_string_equal(m.qname.text, r->qname);
		assert_int_equal(m.qname.len, strlen(r->qname));
		assert_int_equal(m.qtype, r->qtype);
		assert_int_equal(m.rcode, r->rcode);
		assert_int_equal(m.num_answers, r->num_answers);
		assert_int_equal(m.answers_other, r->answers_other);
		assert_int_equal(m.trailing, 0);
		answers_text(text, sizeof(text), &m);
		if (r->answers[0] || strcmp(r->name, "v6 #2 ANY with NS/MX/SOA") == 0)
			assert_string_equal(text, r->answers);
	}
	/* the v6 message: header counts as tshark shows them */
	assert_int_equal(m.ancount, 6);
	assert_int_equal(m.nscount, 2);
	assert_int_equal(m.arcount, 5);
	assert_string_equal(cid_dns_rcode_name(3), "NXDOMAIN");
	assert_null(cid_dns_rcode_name(12));
}

/* Every prefix of a real message is TRUNCATED, never OK or MALFORMED. */
static void test_truncation_sweep(void **state)
{
	static uint8_t buf[2048];
	(void)state;
	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
		size_t n = unhex(buf, sizeof(buf), reals[i].hex);
		for (size_t k = 0; k < n; k++) {
			/* a heap copy of exactly k bytes: ASan sees any overread */
			uint8_t *p = malloc(k ? k : 1);
			const char *why = NULL;
			enum cid_status st;
			memcpy(p, buf, k);
			st = cid_dns_parse(&m, &why, p, k);
			if (st != CID_TRUNCATED)
				fail_msg("%s prefix %zu: %s (%s)", reals[i].name, k, cid_status_name(st), why);
			assert_true(why && why[0]);
			free(p);
		}
	}
}

/* A small builder for crafted messages. */
struct b {
	uint8_t p[2048];
	size_t n;
};
static void put(struct b *b, const char *hex)
{
	b->n += unhex(b->p + b->n, sizeof(b->p) - b->n, hex);
}
static void put16(struct b *b, unsigned v)
{
	b->p[b->n++] = (uint8_t)(v >> 8);
	b->p[b->n++] = (uint8_t)v;
}
static void hdr(struct b *b, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
	b->n = 0;
	put16(b, 0xbeef);
	put16(b, flags);
	put16(b, qd);
	put16(b, an);
	put16(b, ns);
	put16(b, ar);
}

/* EDNS(0), AAAA, a CNAME chain, an answer off the chain, case-insensitive
 * names (RFC 4343). */
static void test_crafted_ok(void **state)
{
	static struct b b;
	char a[CID_ADDRSTRLEN];
	const char *why;
	(void)state;
	hdr(&b, 0x8180, 1, 4, 0, 1);
	/* question at 12: sts.amazonaws.com AAAA ("amazonaws" at 16) */
	put(&b, "03737473" "09616d617a6f6e617773" "03636f6d00" "001c0001");
	/* sts.amazonaws.com CNAME x.sts.amazonaws.com */
	put(&b, "c00c" "0005" "0001" "0000003c" "0004" "0178c00c");
	/* x.STS.amazonaws.com AAAA 2600:1f18::1 */
	put(&b, "017803535453c010" "001c" "0001" "0000001e" "0010" "26001f18000000000000000000000001");
	/* z (off the chain) A 192.0.2.7 */
	put(&b, "017a00" "0001" "0001" "00000001" "0004" "c0000207");
	/* a TXT answer: counted as other */
	put(&b, "c00c" "0010" "0001" "00000001" "0002" "0161");
	/* OPT: udp 1232, extended rcode 1, version 0, DO */
	put(&b, "00" "0029" "04d0" "01008000" "0000");
	{
		enum cid_status st = cid_dns_parse(&m, &why, b.p, b.n);
		if (st != CID_OK)
			fail_msg("crafted: %s (%s)", cid_status_name(st), why);
	}
	assert_int_equal(m.num_answers, 3);
	assert_int_equal(m.answers_other, 1);
	assert_string_equal(m.answers[0].target.text, "x.sts.amazonaws.com");
	assert_string_equal(m.answers[1].name.text, "x.STS.amazonaws.com");
	assert_string_equal(addr_text(&m.answers[1].addr, a), "2600:1f18::1");
	assert_true(m.answers[0].on_chain);
	assert_true(m.answers[1].on_chain);
	assert_false(m.answers[2].on_chain);
	assert_string_equal(addr_text(&m.answers[2].addr, a), "192.0.2.7");
	assert_true(m.edns);
	assert_int_equal(m.edns_udp_size, 1232);
	assert_true(m.edns_do);
	assert_int_equal(m.rcode, 16); /* extended rcode 1 << 4 | 0: BADVERS */
	assert_string_equal(cid_dns_rcode_name(m.rcode), "BADVERS");
	/* without the additional count the OPT bytes are trailing */
	b.p[11] = 0;
	assert_int_equal(cid_dns_parse(&m, &why, b.p, b.n), CID_OK);
	assert_int_equal(m.trailing, 11);
	assert_false(m.edns);
	/* the OPT bytes read as a fifth answer parse; a sixth is missing */
	b.p[7] = 5;
	assert_int_equal(cid_dns_parse(&m, &why, b.p, b.n), CID_OK);
	assert_int_equal(m.answers_other, 2);
	b.p[7] = 6;
	assert_int_equal(cid_dns_parse(&m, &why, b.p, b.n), CID_TRUNCATED);

	/* TC: a message cut by its sender at a record boundary is OK */
	hdr(&b, 0x8380, 1, 3, 0, 0);
	put(&b, "0161" "00" "00010001");
	put(&b, "c00c" "0001" "0001" "00000001" "0004" "0a000001");
	assert_int_equal(cid_dns_parse(&m, &why, b.p, b.n), CID_OK);
	assert_true(m.tc);
	assert_int_equal(m.num_answers, 1);
	b.n -= 2; /* but not inside a record */
	assert_int_equal(cid_dns_parse(&m, &why, b.p, b.n), CID_TRUNCATED);

	/* the longest name: 255 octets */
	hdr(&b, 0x0100, 1, 0, 0, 0);
	for (int i = 0; i < 3; i++) {
		put(&b, "3f");
		memset(b.p + b.n, 'a', 63);
		b.n += 63;
	}
	put(&b, "3d");
	memset(b.p + b.n, 'b', 61);
	b.n += 61;
	put(&b, "00" "00010001");
	assert_int_equal(cid_dns_parse(&m, &why, b.p, b.n), CID_OK);
	assert_int_equal(m.qname.len, 253);
	assert_int_equal(strlen(m.qname.text), 253);
	/* the root */
	hdr(&b, 0x0100, 1, 0, 0, 0);
	put(&b, "00" "00020001");
	assert_int_equal(cid_dns_parse(&m, &why, b.p, b.n), CID_OK);
	assert_int_equal(m.qname.len, 0);
}

struct hostile {
	const char *name;
	const char *hex; /* after a header of qd=1 an=1 (first byte of the qname at 12) */
	unsigned qd, an, ar;
	enum cid_status want;
	const char *reason_part;
};

static const struct hostile hostile[] = {
	{"pointer to itself", "c00c00010001", 1, 0, 0, CID_MALFORMED, "backwards"},
	{"pointer forward", "c00e00010001", 1, 0, 0, CID_MALFORMED, "backwards"},
	{"pointer past the end", "c0ff00010001", 1, 0, 0, CID_MALFORMED, "past the end"},
	{"pointer into the header", "c00200010001", 1, 0, 0, CID_MALFORMED, "runs past|label|"},
	{"label then loop", "0161c00c00010001", 1, 0, 0, CID_MALFORMED, "backwards"},
	{"label type 0x40", "4161626300010001", 1, 0, 0, CID_MALFORMED, "63"},
	{"label type 0x80", "8161626300010001", 1, 0, 0, CID_MALFORMED, "63"},
	{"label longer than the message", "3f6162", 1, 0, 0, CID_TRUNCATED, "name"},
	{"pointer cut", "c0", 1, 0, 0, CID_TRUNCATED, "name"},
	{"question cut", "0161000001", 1, 0, 0, CID_TRUNCATED, "question"},
	{"answer missing", "016100" "00010001", 1, 1, 0, CID_TRUNCATED, ""},
	{"rdlength past the end", "016100" "00010001" "c00c000100010000000100080a000001", 1, 1, 0, CID_TRUNCATED,
	 "record"},
	{"A of 5 bytes", "016100" "00010001" "c00c000100010000000100050a00000101", 1, 1, 0, CID_MALFORMED, "A record"},
	{"AAAA of 4 bytes", "016100" "00010001" "c00c001c00010000000100040a000001", 1, 1, 0, CID_MALFORMED, "AAAA"},
	{"CNAME longer than its name", "016100" "00010001" "c00c000500010000000100040162000000", 1, 1, 0,
	 CID_MALFORMED, "CNAME"},
	{"CNAME past its RDATA", "016100" "00010001" "c00c00050001000000010002016200", 1, 1, 0, CID_MALFORMED,
	 "CNAME"},
	{"CNAME pointing at itself", "016100" "00010001" "c00c000500010000000100040162c01f", 1, 1, 0, CID_MALFORMED,
	 "backwards"},
	{"two OPT", "016100" "00010001" "0000290200000000000000" "0000290200000000000000", 1, 0, 2, CID_MALFORMED,
	 "OPT"},
	{"OPT not at the root", "016100" "00010001" "c00c00290200000000000000", 1, 0, 1, CID_MALFORMED, "OPT"},
};

static void test_hostile(void **state)
{
	static struct b b;
	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const struct hostile *h = &hostile[i];
		const char *why = NULL;
		enum cid_status st;
		uint8_t *p;
		hdr(&b, 0x8180, h->qd, h->an, 0, h->ar);
		put(&b, h->hex);
		p = malloc(b.n);
		memcpy(p, b.p, b.n);
		st = cid_dns_parse(&m, &why, p, b.n);
		free(p);
		if (st != h->want || !why)
			fail_msg("%s: got %s (%s)", h->name, cid_status_name(st), why ? why : "-");
		if (h->reason_part[0] && !strstr(h->reason_part, "|") && !strstr(why, h->reason_part))
			fail_msg("%s: reason '%s'", h->name, why);
	}
}

static void test_limits(void **state)
{
	static struct b b;
	const char *why;
	(void)state;
	/* a name of 5 x 63-byte labels */
	hdr(&b, 0x0100, 1, 0, 0, 0);
	for (int i = 0; i < 5; i++) {
		put(&b, "3f");
		memset(b.p + b.n, 'a', 63);
		b.n += 63;
	}
	put(&b, "00" "00010001");
	assert_int_equal(cid_dns_parse(&m, &why, b.p, b.n), CID_MALFORMED);
	assert_non_null(strstr(why, "255"));
	/* over 255 through pointers: each question is a 63-byte label in
	 * front of the question before it; the fourth is too long */
	hdr(&b, 0x0100, 4, 0, 0, 0);
	{
		size_t prev = 12;
		for (int i = 0; i < 4; i++) {
			size_t here = b.n;
			put(&b, "3f");
			memset(b.p + b.n, 'a' + i, 63);
			b.n += 63;
			if (i == 0)
				put(&b, "00");
			else
				put16(&b, 0xC000u | (unsigned)prev);
			put(&b, "00010001");
			prev = here;
		}
	}
	assert_int_equal(cid_dns_parse(&m, &why, b.p, b.n), CID_MALFORMED);
	assert_non_null(strstr(why, "255"));
	b.p[5] = 3; /* three are fine: 3 x 64 + 1 octets */
	assert_int_equal(cid_dns_parse(&m, &why, b.p, b.n), CID_OK);
	/* a chain of 40 pointers, each to the question before it */
	hdr(&b, 0x0100, 40, 0, 0, 0);
	put(&b, "0161" "00" "00010001");
	{
		size_t prev = 12;
		for (int i = 1; i < 40; i++) {
			size_t here = b.n;
			put16(&b, 0xC000u | (unsigned)prev);
			put(&b, "00010001");
			prev = here;
		}
	}
	assert_int_equal(cid_dns_parse(&m, &why, b.p, b.n), CID_MALFORMED);
	assert_non_null(strstr(why, "too many"));
	/* 32 jumps are fine */
	b.p[5] = 33;
	assert_int_equal(cid_dns_parse(&m, &why, b.p, b.n), CID_OK);
	assert_int_equal(m.trailing, 7 * 6);
	/* more A answers than kept */
	hdr(&b, 0x8180, 1, 40, 0, 0);
	put(&b, "0161" "00" "00010001");
	for (int i = 0; i < 40; i++)
		put(&b, "c00c000100010000000100040a000001");
	assert_int_equal(cid_dns_parse(&m, &why, b.p, b.n), CID_OK);
	assert_int_equal(m.num_answers, CID_DNS_MAX_ANSWERS);
	assert_int_equal(m.answers_other, 40 - CID_DNS_MAX_ANSWERS);
}

static struct cid_dns_framer fr;

static void test_framer(void **state)
{
	static uint8_t stream[4096];
	uint8_t one[1024];
	size_t len = 0, n1, n2;
	const uint8_t *msg;
	size_t msg_len, used;
	(void)state;
	n1 = unhex(one, sizeof(one), v_latest_6);
	stream[len++] = (uint8_t)(n1 >> 8);
	stream[len++] = (uint8_t)n1;
	memcpy(stream + len, one, n1);
	len += n1;
	n2 = unhex(one, sizeof(one), v_latest_2);
	stream[len++] = 0;
	stream[len++] = (uint8_t)n2;
	memcpy(stream + len, one, n2);
	len += n2;
	/* a message over the cap: skipped */
	stream[len++] = 0xff;
	stream[len++] = 0xff;
	/* whole, then every split size */
	for (size_t step = 1; step <= len; step = step < 16 ? step + 1 : step * 2) {
		size_t off = 0, got = 0, skipped = 0;
		cid_dns_framer_init(&fr);
		while (off < len) {
			size_t n = len - off < step ? len - off : step;
			size_t pos = 0;
			for (;;) {
				enum cid_status st =
					cid_dns_framer_feed(&fr, &used, &msg, &msg_len, stream + off + pos, n - pos);
				pos += used;
				if (st == CID_TRUNCATED) {
					assert_int_equal(pos, n);
					break;
				}
				if (st == CID_UNSUPPORTED) {
					assert_int_equal(msg_len, 65535);
					assert_null(msg);
					skipped++;
					continue;
				}
				assert_int_equal(st, CID_OK);
				assert_int_equal(cid_dns_parse(&m, NULL, msg, msg_len), CID_OK);
				assert_int_equal(msg_len, got == 0 ? n1 : n2);
				got++;
			}
			off += n;
		}
		assert_int_equal(got, 2);
		assert_int_equal(skipped, 1);
		/* 65535 - 0 bytes of the skipped message: still skipping */
		assert_true(fr.skipping);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real),
		cmocka_unit_test(test_truncation_sweep),
		cmocka_unit_test(test_crafted_ok),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_framer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
