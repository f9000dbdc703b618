/*
 * test_decode.c - link / IP / TCP / UDP decoding: hand-built frames for
 * every link type and header variant, every-prefix truncation sweeps, and
 * every frame of a few real captures (counts checked against tshark).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <string.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "callerid/common.h"
#include "callerid/decode.h"

/* ------------------------------------------------------------------ */
/* Frame builder (test side only: writes bytes, never parses them).    */

struct buf {
	uint8_t d[4096];
	size_t n;
};

static void b8(struct buf *b, unsigned v) { b->d[b->n++] = (uint8_t)v; }
static void b16(struct buf *b, unsigned v) { b8(b, v >> 8); b8(b, v & 0xff); }
static void b32(struct buf *b, uint32_t v) { b16(b, v >> 16); b16(b, v & 0xffff); }
static void bmem(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	memcpy(b->d + b->n, p, n);
	b->n += n;
}
static void bfill(struct buf *b, unsigned v, size_t n)
{
	memset(b->d + b->n, (int)v, n);
	b->n += n;
}
static void bcat(struct buf *b, const struct buf *o) { bmem(b, o->d, o->n); }

static const uint8_t V4A[4] = {10, 0, 0, 1}, V4B[4] = {192, 0, 2, 7};
static const uint8_t V6A[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t V6B[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 2};
static const char PAYLOAD[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
#define PAYLOAD_LEN (sizeof(PAYLOAD) - 1)

/* TCP with opt_len bytes of options (multiple of 4; NOP-padded MSS). */
static void mk_tcp(struct buf *b, size_t opt_len, const void *pl, size_t pl_len)
{
	b->n = 0;
	b16(b, 40000);
	b16(b, 443);
	b32(b, 0x11223344u);
	b32(b, 0x55667788u);
	b16(b, (unsigned)(((20 + opt_len) / 4) << 12) | 0x18u); /* PSH|ACK */
	b16(b, 0xfaf0);
	b16(b, 0xbeef);
	b16(b, 0);
	if (opt_len >= 4) {
		b8(b, 2); /* MSS */
		b8(b, 4);
		b16(b, 1460);
		bfill(b, 1, opt_len - 4); /* NOPs */
	}
	bmem(b, pl, pl_len);
}

static void mk_udp(struct buf *b, const void *pl, size_t pl_len)
{
	b->n = 0;
	b16(b, 5353);
	b16(b, 53);
	b16(b, (unsigned)(8 + pl_len));
	b16(b, 0xcafe);
	bmem(b, pl, pl_len);
}

/* IPv4 with opt_len bytes of options (multiple of 4), the given flags /
 * fragment field, protocol and payload. */
static void mk_ipv4(struct buf *b, size_t opt_len, unsigned frag, unsigned proto, const struct buf *l4)
{
	b->n = 0;
	b8(b, 0x40 | (unsigned)((20 + opt_len) / 4));
	b8(b, 0);
	b16(b, (unsigned)(20 + opt_len + l4->n));
	b16(b, 0x1234);
	b16(b, frag);
	b8(b, 63);
	b8(b, proto);
	b16(b, 0);
	bmem(b, V4A, 4);
	bmem(b, V4B, 4);
	if (opt_len) {
		bfill(b, 1, opt_len - 1); /* NOPs */
		b8(b, 0);                  /* End of option list */
	}
	bcat(b, l4);
}

/* An IPv6 extension header in a chain. */
struct ext {
	uint8_t type;
	uint8_t len_units;  /* hdr ext len byte (meaning depends on type) */
	uint16_t frag;      /* fragment: offset << 3 | M */
};

static void mk_ipv6(struct buf *b, const struct ext *ext, size_t num_ext, unsigned proto,
		    const struct buf *l4)
{
	struct buf e = {.n = 0};
	for (size_t i = 0; i < num_ext; i++) {
		unsigned next = i + 1 < num_ext ? ext[i + 1].type : proto;
		size_t len;
		b8(&e, next);
		if (ext[i].type == 44) {
			b8(&e, 0);
			b16(&e, ext[i].frag);
			b32(&e, 0xabcdef01u);
			continue;
		}
		b8(&e, ext[i].len_units);
		if (ext[i].type == 51)
			len = ((size_t)ext[i].len_units + 2) * 4;
		else
			len = ((size_t)ext[i].len_units + 1) * 8;
		if (ext[i].type == 0 || ext[i].type == 60) {
			b8(&e, 1); /* PadN covering the rest */
			b8(&e, (unsigned)(len - 4));
			bfill(&e, 0, len - 4);
		} else {
			bfill(&e, 0, len - 2);
		}
	}
	b->n = 0;
	b32(b, 0x60012345u);
	b16(b, (unsigned)(e.n + l4->n));
	b8(b, num_ext ? ext[0].type : proto);
	b8(b, 64);
	bmem(b, V6A, 16);
	bmem(b, V6B, 16);
	bcat(b, &e);
	bcat(b, l4);
}

static void mk_eth(struct buf *b, const uint16_t *tags, const uint16_t *vids, size_t num_tags,
		   unsigned etype, const struct buf *ip)
{
	static const uint8_t mac1[6] = {2, 0, 0, 0, 0, 1}, mac2[6] = {2, 0, 0, 0, 0, 2};
	b->n = 0;
	bmem(b, mac1, 6);
	bmem(b, mac2, 6);
	for (size_t i = 0; i < num_tags; i++) {
		b16(b, tags[i]);
		b16(b, 0xe000u | vids[i]); /* PCP 7 */
	}
	b16(b, etype);
	bcat(b, ip);
}

static void mk_sll(struct buf *b, unsigned pkttype, unsigned hatype, unsigned proto, const struct buf *ip)
{
	b->n = 0;
	b16(b, pkttype);
	b16(b, hatype);
	b16(b, 6);
	bfill(b, 0xaa, 6);
	bfill(b, 0, 2);
	b16(b, proto);
	bcat(b, ip);
}

static void mk_sll2(struct buf *b, unsigned pkttype, uint32_t ifindex, unsigned hatype, unsigned proto,
		    const struct buf *ip)
{
	b->n = 0;
	b16(b, proto);
	b16(b, 0);
	b32(b, ifindex);
	b16(b, hatype);
	b8(b, pkttype);
	b8(b, 6);
	bfill(b, 0xbb, 6);
	bfill(b, 0, 2);
	bcat(b, ip);
}

/* NULL / LOOP: 4-byte family, big-endian or little-endian. */
static void mk_null(struct buf *b, uint32_t family, int little, const struct buf *ip)
{
	b->n = 0;
	if (little) {
		b8(b, family & 0xff);
		b8(b, (family >> 8) & 0xff);
		b8(b, (family >> 16) & 0xff);
		b8(b, family >> 24);
	} else {
		b32(b, family);
	}
	bcat(b, ip);
}

static void ipv4_tcp(struct buf *ip)
{
	struct buf l4;
	mk_tcp(&l4, 0, PAYLOAD, PAYLOAD_LEN);
	mk_ipv4(ip, 0, 0x4000, 6, &l4);
}

static void ipv6_udp(struct buf *ip)
{
	struct buf l4;
	mk_udp(&l4, PAYLOAD, PAYLOAD_LEN);
	mk_ipv6(ip, NULL, 0, 17, &l4);
}

static enum cid_status dec(struct cid_pkt *pkt, enum cid_skip *why, int dlt, const struct buf *b)
{
	memset(pkt, 0x5a, sizeof(*pkt)); /* garbage in: decoder must set what it reports */
	return cid_decode_frame(pkt, why, dlt, b->d, b->n);
}

static void check_v4_tcp(const struct cid_pkt *pkt)
{
	assert_int_equal(pkt->src.family, 4);
	assert_memory_equal(pkt->src.b, V4A, 4);
	assert_memory_equal(pkt->dst.b, V4B, 4);
	for (int i = 4; i < 16; i++)
		assert_int_equal(pkt->src.b[i] | pkt->dst.b[i], 0);
	assert_int_equal(pkt->proto, 6);
	assert_int_equal(pkt->ttl, 63);
	assert_int_equal(pkt->ip_id, 0x1234);
	assert_false(pkt->first_fragment);
	assert_int_equal(pkt->sport, 40000);
	assert_int_equal(pkt->dport, 443);
	assert_int_equal(pkt->seq, 0x11223344u);
	assert_int_equal(pkt->ack, 0x55667788u);
	assert_int_equal(pkt->tcp_flags, CID_TCP_PSH | CID_TCP_ACK);
	assert_int_equal(pkt->window, 0xfaf0);
	assert_int_equal(pkt->l4_csum, 0xbeef);
	assert_int_equal(pkt->payload_len, PAYLOAD_LEN);
	assert_int_equal(pkt->payload_wire_len, PAYLOAD_LEN);
	assert_memory_equal(pkt->payload, PAYLOAD, PAYLOAD_LEN);
}

static void check_v6_udp(const struct cid_pkt *pkt)
{
	assert_int_equal(pkt->src.family, 6);
	assert_memory_equal(pkt->src.b, V6A, 16);
	assert_memory_equal(pkt->dst.b, V6B, 16);
	assert_int_equal(pkt->proto, 17);
	assert_int_equal(pkt->ttl, 64);
	assert_int_equal(pkt->ip_id, 0);
	assert_int_equal(pkt->sport, 5353);
	assert_int_equal(pkt->dport, 53);
	assert_int_equal(pkt->l4_csum, 0xcafe);
	assert_int_equal(pkt->payload_len, PAYLOAD_LEN);
	assert_int_equal(pkt->payload_wire_len, PAYLOAD_LEN);
	assert_memory_equal(pkt->payload, PAYLOAD, PAYLOAD_LEN);
}

/* ------------------------------------------------------------------ */
/* Link types.                                                         */

struct link_case {
	const char *name;
	int dlt;
	int v6;               /* 0: IPv4/TCP inside, 1: IPv6/UDP */
	void (*wrap)(struct buf *out, const struct buf *ip, int v6);
	enum cid_status want;
	enum cid_skip why;
	uint32_t ifindex;
	uint8_t pkttype;
};

static void w_raw(struct buf *o, const struct buf *ip, int v6) { (void)v6; *o = *ip; }
static void w_eth(struct buf *o, const struct buf *ip, int v6) { mk_eth(o, NULL, NULL, 0, v6 ? 0x86dd : 0x0800, ip); }
static void w_sll(struct buf *o, const struct buf *ip, int v6) { mk_sll(o, 4, 1, v6 ? 0x86dd : 0x0800, ip); }
static void w_sll2(struct buf *o, const struct buf *ip, int v6) { mk_sll2(o, 0, 0x01020304u, 1, v6 ? 0x86dd : 0x0800, ip); }
static void w_null_le(struct buf *o, const struct buf *ip, int v6) { mk_null(o, v6 ? 30 : 2, 1, ip); }
static void w_null_be(struct buf *o, const struct buf *ip, int v6) { mk_null(o, v6 ? 24 : 2, 0, ip); }
static void w_null_28(struct buf *o, const struct buf *ip, int v6) { (void)v6; mk_null(o, 28, 1, ip); }
static void w_null_bad(struct buf *o, const struct buf *ip, int v6) { (void)v6; mk_null(o, 7, 1, ip); }
static void w_loop(struct buf *o, const struct buf *ip, int v6) { mk_null(o, v6 ? 28 : 2, 0, ip); }
static void w_eth_arp(struct buf *o, const struct buf *ip, int v6) { (void)v6; mk_eth(o, NULL, NULL, 0, 0x0806, ip); }
static void w_eth_8023(struct buf *o, const struct buf *ip, int v6) { (void)v6; mk_eth(o, NULL, NULL, 0, (unsigned)ip->n, ip); }
static void w_sll_netlink(struct buf *o, const struct buf *ip, int v6) { (void)v6; mk_sll(o, 4, 824, 0x0800, ip); }
static void w_sll2_netlink(struct buf *o, const struct buf *ip, int v6) { (void)v6; mk_sll2(o, 4, 3, 824, 0x0800, ip); }
static void w_sll_vlan(struct buf *o, const struct buf *ip, int v6)
{
	struct buf t = {.n = 0};
	b16(&t, 77);
	b16(&t, v6 ? 0x86dd : 0x0800);
	bcat(&t, ip);
	mk_sll(o, 0, 1, 0x8100, &t);
}

/* PPP (RFC 1661, 1662): address and control ff 03, a 2-byte protocol */
static void w_ppp(struct buf *o, const struct buf *ip, int v6)
{
	o->n = 0;
	o->d[o->n++] = 0xff, o->d[o->n++] = 0x03, o->d[o->n++] = 0x00, o->d[o->n++] = v6 ? 0x57 : 0x21;
	memcpy(o->d + o->n, ip->d, ip->n), o->n += ip->n;
}
/* the IPv6 protocol number over an IPv4 packet */
static void w_ppp_mismatch(struct buf *o, const struct buf *ip, int v6)
{
	(void)v6;
	w_ppp(o, ip, 1);
}
static void w_ppp_short(struct buf *o, const struct buf *ip, int v6)
{
	(void)v6;
	o->n = 0;
	o->d[o->n++] = 0x21;
	memcpy(o->d + o->n, ip->d, ip->n), o->n += ip->n;
}
static void w_ppp_lcp(struct buf *o, const struct buf *ip, int v6)
{
	(void)v6;
	o->n = 0;
	o->d[o->n++] = 0xff, o->d[o->n++] = 0x03, o->d[o->n++] = 0xc0, o->d[o->n++] = 0x21;
	memcpy(o->d + o->n, ip->d, ip->n), o->n += ip->n;
}

static const struct link_case link_cases[] = {
	{"raw101 v4", CID_DLT_RAW, 0, w_raw, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"raw101 v6", CID_DLT_RAW, 1, w_raw, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"raw12 v4", 12, 0, w_raw, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"raw14 v6", 14, 1, w_raw, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"ipv4 228", CID_DLT_IPV4, 0, w_raw, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"ipv6 229", CID_DLT_IPV6, 1, w_raw, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"ipv4 228 given v6", CID_DLT_IPV4, 1, w_raw, CID_MALFORMED, CID_SKIP_IP_BAD, 0, CID_PKTTYPE_UNKNOWN},
	{"ipv6 229 given v4", CID_DLT_IPV6, 0, w_raw, CID_MALFORMED, CID_SKIP_IP_BAD, 0, CID_PKTTYPE_UNKNOWN},
	{"eth v4", CID_DLT_EN10MB, 0, w_eth, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"eth v6", CID_DLT_EN10MB, 1, w_eth, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"eth arp", CID_DLT_EN10MB, 0, w_eth_arp, CID_UNSUPPORTED, CID_SKIP_NOT_IP, 0, CID_PKTTYPE_UNKNOWN},
	{"eth 802.3 length", CID_DLT_EN10MB, 0, w_eth_8023, CID_UNSUPPORTED, CID_SKIP_NOT_IP, 0, CID_PKTTYPE_UNKNOWN},
	{"sll v4", CID_DLT_LINUX_SLL, 0, w_sll, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_OUTGOING},
	{"sll v6", CID_DLT_LINUX_SLL, 1, w_sll, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_OUTGOING},
	{"sll vlan", CID_DLT_LINUX_SLL, 0, w_sll_vlan, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_HOST},
	{"sll netlink", CID_DLT_LINUX_SLL, 0, w_sll_netlink, CID_UNSUPPORTED, CID_SKIP_NOT_IP, 0, CID_PKTTYPE_OUTGOING},
	{"sll2 v4", CID_DLT_LINUX_SLL2, 0, w_sll2, CID_OK, CID_SKIP_NONE, 0x01020304u, CID_PKTTYPE_HOST},
	{"sll2 v6", CID_DLT_LINUX_SLL2, 1, w_sll2, CID_OK, CID_SKIP_NONE, 0x01020304u, CID_PKTTYPE_HOST},
	{"sll2 netlink", CID_DLT_LINUX_SLL2, 0, w_sll2_netlink, CID_UNSUPPORTED, CID_SKIP_NOT_IP, 3, CID_PKTTYPE_OUTGOING},
	{"null le v4", CID_DLT_NULL, 0, w_null_le, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"null le v6 (30)", CID_DLT_NULL, 1, w_null_le, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"null be v4", CID_DLT_NULL, 0, w_null_be, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"null be v6 (24)", CID_DLT_NULL, 1, w_null_be, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"null v6 (28)", CID_DLT_NULL, 1, w_null_28, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"null 28 given v4", CID_DLT_NULL, 0, w_null_28, CID_MALFORMED, CID_SKIP_IP_BAD, 0, CID_PKTTYPE_UNKNOWN},
	{"null family 7", CID_DLT_NULL, 0, w_null_bad, CID_UNSUPPORTED, CID_SKIP_NOT_IP, 0, CID_PKTTYPE_UNKNOWN},
	{"loop v4", CID_DLT_LOOP, 0, w_loop, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"loop v6", CID_DLT_LOOP, 1, w_loop, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"loop little-endian", CID_DLT_LOOP, 0, w_null_le, CID_UNSUPPORTED, CID_SKIP_NOT_IP, 0, CID_PKTTYPE_UNKNOWN},
	{"802.11 unsupported", 105, 0, w_raw, CID_UNSUPPORTED, CID_SKIP_LINKTYPE, 0, CID_PKTTYPE_UNKNOWN},
	{"ppp v4 (ff 03 00 21)", CID_DLT_PPP, 0, w_ppp, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"ppp v6 (ff 03 00 57)", CID_DLT_PPP, 1, w_ppp, CID_OK, CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"ppp_hdlc v4, address elided, protocol compressed (21)", CID_DLT_PPP_HDLC, 0, w_ppp_short, CID_OK,
	 CID_SKIP_NONE, 0, CID_PKTTYPE_UNKNOWN},
	{"ppp lcp (c0 21)", CID_DLT_PPP, 0, w_ppp_lcp, CID_UNSUPPORTED, CID_SKIP_NOT_IP, 0, CID_PKTTYPE_UNKNOWN},
	{"ppp says v6, holds v4", CID_DLT_PPP, 0, w_ppp_mismatch, CID_MALFORMED, CID_SKIP_IP_BAD, 0, CID_PKTTYPE_UNKNOWN},
	{"negative dlt", -1, 0, w_raw, CID_UNSUPPORTED, CID_SKIP_LINKTYPE, 0, CID_PKTTYPE_UNKNOWN},
};

/* Scratch frames shared by the tests below (run one at a time). */
static struct buf l4, ip, fr;
static struct cid_pkt pkt;
static enum cid_skip why;

static void test_link_types(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(link_cases) / sizeof(link_cases[0]); i++) {
		const struct link_case *lc = &link_cases[i];
		enum cid_status st;
		if (lc->v6)
			ipv6_udp(&ip);
		else
			ipv4_tcp(&ip);
		lc->wrap(&fr, &ip, lc->v6);
		st = dec(&pkt, &why, lc->dlt, &fr);
		print_message("# %s: %s %s\n", lc->name, cid_status_name(st), cid_skip_name(why));
		assert_int_equal(st, lc->want);
		assert_int_equal(why, lc->why);
		if (st != CID_OK) {
			/* Nothing left over from the garbage dec() put in. */
			assert_null(pkt.payload);
			assert_int_equal(pkt.payload_len, 0);
			assert_int_equal(pkt.sport, 0);
			if (why != CID_SKIP_IP_BAD)
				assert_int_equal(pkt.src.family, 0);
		}
		if (lc->why == CID_SKIP_LINKTYPE)
			continue;
		assert_int_equal(pkt.ifindex, lc->ifindex);
		assert_int_equal(pkt.pkttype, lc->pkttype);
		if (st != CID_OK)
			continue;
		if (lc->v6)
			check_v6_udp(&pkt);
		else
			check_v4_tcp(&pkt);
	}
}

static void test_vlan(void **state)
{
	static const struct {
		size_t n;
		uint16_t tags[4];
		uint16_t vids[4];
	} cases[] = {
		{0, {0}, {0}},
		{1, {0x8100}, {100}},
		{2, {0x88a8, 0x8100}, {10, 20}},
		{3, {0x9100, 0x88a8, 0x8100}, {30, 20, 4095}},
		{4, {0x8100, 0x8100, 0x8100, 0x8100}, {1, 2, 3, 0}},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ipv4_tcp(&ip);
		mk_eth(&fr, cases[i].tags, cases[i].vids, cases[i].n, 0x0800, &ip);
		assert_int_equal(dec(&pkt, &why, CID_DLT_EN10MB, &fr), CID_OK);
		assert_int_equal(pkt.num_vlans, cases[i].n);
		assert_int_equal(pkt.vlan, cases[i].n ? cases[i].vids[cases[i].n - 1] : 0);
		check_v4_tcp(&pkt);
		/* Cut inside the tags: link truncation. */
		if (cases[i].n) {
			fr.n = 14 + 4 * (cases[i].n - 1) + 1;
			assert_int_equal(dec(&pkt, &why, CID_DLT_EN10MB, &fr), CID_TRUNCATED);
			assert_int_equal(why, CID_SKIP_LINK_TRUNC);
		}
	}
	/* A tag followed by ARP. */
	{
		uint16_t t = 0x8100, v = 5;
		ipv4_tcp(&ip);
		mk_eth(&fr, &t, &v, 1, 0x0806, &ip);
		assert_int_equal(dec(&pkt, &why, CID_DLT_EN10MB, &fr), CID_UNSUPPORTED);
		assert_int_equal(why, CID_SKIP_NOT_IP);
		assert_int_equal(pkt.num_vlans, 1);
	}
	/* 300 tags: num_vlans saturates, no overrun. */
	{
		ipv4_tcp(&ip);
		fr.n = 0;
		bfill(&fr, 0, 12);
		for (int i = 0; i < 300; i++) {
			b16(&fr, 0x8100);
			b16(&fr, (unsigned)i & 0xfff);
		}
		b16(&fr, 0x0800);
		bcat(&fr, &ip);
		assert_int_equal(dec(&pkt, &why, CID_DLT_EN10MB, &fr), CID_OK);
		assert_int_equal(pkt.num_vlans, 255);
		assert_int_equal(pkt.vlan, 299);
	}
}

/* SLL packet type above 255 (it is 16 bits on the wire) clamps to unknown. */
static void test_sll_fields(void **state)
{
	(void)state;
	ipv4_tcp(&ip);
	mk_sll(&fr, 0x0102, 1, 0x0800, &ip);
	assert_int_equal(dec(&pkt, &why, CID_DLT_LINUX_SLL, &fr), CID_OK);
	assert_int_equal(pkt.pkttype, CID_PKTTYPE_UNKNOWN);
	assert_int_equal(pkt.ifindex, 0);
	mk_sll(&fr, 3, 772, 0x0800, &ip); /* loopback ARPHRD, other-host */
	assert_int_equal(dec(&pkt, &why, CID_DLT_LINUX_SLL, &fr), CID_OK);
	assert_int_equal(pkt.pkttype, 3);
	mk_sll2(&fr, 4, 0xfffffffeu, 65534, 0x0800, &ip); /* ARPHRD_NONE (tun) */
	assert_int_equal(dec(&pkt, &why, CID_DLT_LINUX_SLL2, &fr), CID_OK);
	assert_int_equal(pkt.ifindex, 0xfffffffeu);
	assert_int_equal(pkt.pkttype, CID_PKTTYPE_OUTGOING);
	check_v4_tcp(&pkt);
	mk_sll2(&fr, 0, 9, 1, 0x0003, &ip); /* ETH_P_ALL-style protocol: not IP */
	assert_int_equal(dec(&pkt, &why, CID_DLT_LINUX_SLL2, &fr), CID_UNSUPPORTED);
	assert_int_equal(why, CID_SKIP_NOT_IP);
	assert_int_equal(pkt.ifindex, 9);
}

/* ------------------------------------------------------------------ */
/* IPv4.                                                               */

static void test_ipv4_options(void **state)
{
	(void)state;
	for (size_t opt = 0; opt <= 40; opt += 4) {
		mk_tcp(&l4, 0, PAYLOAD, PAYLOAD_LEN);
		mk_ipv4(&ip, opt, 0x4000, 6, &l4);
		assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_OK);
		check_v4_tcp(&pkt);
	}
}

static void test_ipv4_bad(void **state)
{
	(void)state;
	mk_tcp(&l4, 0, PAYLOAD, PAYLOAD_LEN);
	for (unsigned ihl = 0; ihl < 5; ihl++) {
		mk_ipv4(&ip, 0, 0, 6, &l4);
		ip.d[0] = (uint8_t)(0x40 | ihl);
		assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_MALFORMED);
		assert_int_equal(why, CID_SKIP_IP_BAD);
	}
	/* Version 5 / 0 on RAW. */
	mk_ipv4(&ip, 0, 0, 6, &l4);
	ip.d[0] = 0x55;
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_MALFORMED);
	assert_int_equal(why, CID_SKIP_IP_BAD);
	ip.d[0] = 0x05;
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_MALFORMED);
	/* Ethertype IPv4 but a version-6 nibble (and the reverse): the link
	 * layer and the header disagree. */
	mk_ipv4(&ip, 0, 0, 6, &l4);
	ip.d[0] = 0x65;
	mk_eth(&fr, NULL, NULL, 0, 0x0800, &ip);
	assert_int_equal(dec(&pkt, &why, CID_DLT_EN10MB, &fr), CID_MALFORMED);
	assert_int_equal(why, CID_SKIP_IP_BAD);
	mk_ipv4(&ip, 0, 0, 6, &l4);
	mk_sll(&fr, 0, 1, 0x86dd, &ip);
	assert_int_equal(dec(&pkt, &why, CID_DLT_LINUX_SLL, &fr), CID_MALFORMED);
	assert_int_equal(why, CID_SKIP_IP_BAD);
	/* Total length smaller than the header. */
	mk_ipv4(&ip, 8, 0, 6, &l4);
	ip.d[2] = 0;
	ip.d[3] = 24;
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_MALFORMED);
	assert_int_equal(why, CID_SKIP_IP_BAD);
	/* Options claimed (IHL 15) but only 30 bytes captured. */
	mk_ipv4(&ip, 0, 0, 6, &l4);
	ip.d[0] = 0x4f;
	ip.n = 30;
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_TRUNCATED);
	assert_int_equal(why, CID_SKIP_IP_TRUNC);
	/* ICMP. */
	mk_ipv4(&ip, 0, 0, 1, &l4);
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_UNSUPPORTED);
	assert_int_equal(why, CID_SKIP_L4_OTHER);
	assert_int_equal(pkt.proto, 1);
}

/* Ethernet pads short frames to 60 bytes: the IP length trims it. */
static void test_eth_padding(void **state)
{
	(void)state;
	mk_udp(&l4, "hi", 2);
	mk_ipv4(&ip, 0, 0, 17, &l4);
	mk_eth(&fr, NULL, NULL, 0, 0x0800, &ip);
	bfill(&fr, 0xee, 60 - fr.n);
	assert_int_equal(dec(&pkt, &why, CID_DLT_EN10MB, &fr), CID_OK);
	assert_int_equal(pkt.payload_len, 2);
	assert_int_equal(pkt.payload_wire_len, 2);
	assert_memory_equal(pkt.payload, "hi", 2);
	/* TCP, no payload, padded. */
	mk_tcp(&l4, 0, NULL, 0);
	mk_ipv4(&ip, 0, 0, 6, &l4);
	mk_eth(&fr, NULL, NULL, 0, 0x0800, &ip);
	bfill(&fr, 0xee, 60 - fr.n);
	assert_int_equal(dec(&pkt, &why, CID_DLT_EN10MB, &fr), CID_OK);
	assert_int_equal(pkt.payload_len, 0);
	assert_int_equal(pkt.payload_wire_len, 0);
	/* IPv6 UDP, padded. */
	mk_udp(&l4, "", 0);
	mk_ipv6(&ip, NULL, 0, 17, &l4);
	mk_eth(&fr, NULL, NULL, 0, 0x86dd, &ip);
	bfill(&fr, 0xee, 16);
	assert_int_equal(dec(&pkt, &why, CID_DLT_EN10MB, &fr), CID_OK);
	assert_int_equal(pkt.payload_len, 0);
}

static void test_ipv4_fragments(void **state)
{
	static const struct {
		unsigned frag;
		enum cid_status st;
		enum cid_skip why;
		bool first;
	} cases[] = {
		{0x0000, CID_OK, CID_SKIP_NONE, false},          /* not fragmented */
		{0x4000, CID_OK, CID_SKIP_NONE, false},          /* DF */
		{0x2000, CID_OK, CID_SKIP_NONE, true},           /* first fragment */
		{0x2001, CID_UNSUPPORTED, CID_SKIP_IP_FRAGMENT, false}, /* middle */
		{0x00b9, CID_UNSUPPORTED, CID_SKIP_IP_FRAGMENT, false}, /* last */
		{0x1fff, CID_UNSUPPORTED, CID_SKIP_IP_FRAGMENT, false},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mk_tcp(&l4, 0, PAYLOAD, PAYLOAD_LEN);
		mk_ipv4(&ip, 0, cases[i].frag, 6, &l4);
		assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), cases[i].st);
		assert_int_equal(why, cases[i].why);
		if (cases[i].st == CID_OK) {
			assert_int_equal(pkt.first_fragment, cases[i].first);
			assert_int_equal(pkt.sport, 40000);
		}
	}
	/* First fragment of a big UDP datagram: UDP length > fragment,
	 * clamped to what this fragment holds. */
	{
		mk_udp(&l4, PAYLOAD, PAYLOAD_LEN);
		l4.d[4] = 0x05; /* UDP length 1400 */
		l4.d[5] = 0x78;
		mk_ipv4(&ip, 0, 0x2000, 17, &l4);
		assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_OK);
		assert_true(pkt.first_fragment);
		assert_int_equal(pkt.payload_len, PAYLOAD_LEN);
		assert_int_equal(pkt.payload_wire_len, PAYLOAD_LEN);
	}
}

/* ------------------------------------------------------------------ */
/* IPv6 extension headers.                                             */

static void test_ipv6_ext(void **state)
{
	static const struct {
		const char *name;
		struct ext ext[4];
		size_t n;
		enum cid_status st;
		enum cid_skip why;
		bool first;
	} cases[] = {
		{"hop-by-hop", {{0, 0, 0}}, 1, CID_OK, CID_SKIP_NONE, false},
		{"hop-by-hop long", {{0, 3, 0}}, 1, CID_OK, CID_SKIP_NONE, false},
		{"routing", {{43, 2, 0}}, 1, CID_OK, CID_SKIP_NONE, false},
		{"dstopts", {{60, 0, 0}}, 1, CID_OK, CID_SKIP_NONE, false},
		{"ah", {{51, 4, 0}}, 1, CID_OK, CID_SKIP_NONE, false},
		{"mobility", {{135, 1, 0}}, 1, CID_OK, CID_SKIP_NONE, false},
		{"fragment first", {{44, 0, 0x0001}}, 1, CID_OK, CID_SKIP_NONE, true},
		{"fragment atomic", {{44, 0, 0x0000}}, 1, CID_OK, CID_SKIP_NONE, false},
		{"fragment non-first", {{44, 0, 0x0008}}, 1, CID_UNSUPPORTED, CID_SKIP_IP_FRAGMENT, false},
		{"fragment last", {{44, 0, 0x05a0}}, 1, CID_UNSUPPORTED, CID_SKIP_IP_FRAGMENT, false},
		{"chain", {{0, 0, 0}, {60, 1, 0}, {43, 0, 0}, {44, 0, 1}}, 4, CID_OK, CID_SKIP_NONE, true},
		{"ah then dstopts", {{51, 1, 0}, {60, 0, 0}}, 2, CID_OK, CID_SKIP_NONE, false},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int tcp = 0; tcp < 2; tcp++) {
			if (tcp)
				mk_tcp(&l4, 12, PAYLOAD, PAYLOAD_LEN);
			else
				mk_udp(&l4, PAYLOAD, PAYLOAD_LEN);
			mk_ipv6(&ip, cases[i].ext, cases[i].n, tcp ? 6 : 17, &l4);
			print_message("# ipv6 %s %s\n", cases[i].name, tcp ? "tcp" : "udp");
			assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), cases[i].st);
			assert_int_equal(why, cases[i].why);
			if (cases[i].st != CID_OK)
				continue;
			assert_int_equal(pkt.first_fragment, cases[i].first);
			assert_int_equal(pkt.proto, tcp ? 6 : 17);
			assert_int_equal(pkt.payload_len, PAYLOAD_LEN);
			assert_int_equal(pkt.payload_wire_len, PAYLOAD_LEN);
			assert_memory_equal(pkt.payload, PAYLOAD, PAYLOAD_LEN);
			assert_int_equal(pkt.dport, tcp ? 443 : 53);
		}
	}
}

static void test_ipv6_bad(void **state)
{
	struct ext many[17];
	(void)state;
	mk_udp(&l4, PAYLOAD, PAYLOAD_LEN);
	/* No Next Header. */
	mk_ipv6(&ip, NULL, 0, 59, &l4);
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_UNSUPPORTED);
	assert_int_equal(why, CID_SKIP_L4_OTHER);
	/* ICMPv6 after a hop-by-hop header. */
	{
		struct ext e = {0, 0, 0};
		mk_ipv6(&ip, &e, 1, 58, &l4);
		assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_UNSUPPORTED);
		assert_int_equal(why, CID_SKIP_L4_OTHER);
		assert_int_equal(pkt.proto, 58);
	}
	/* ESP. */
	mk_ipv6(&ip, NULL, 0, 50, &l4);
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_UNSUPPORTED);
	assert_int_equal(why, CID_SKIP_L4_OTHER);
	/* 16 extension headers are walked, 17 are too many. */
	for (size_t i = 0; i < 17; i++)
		many[i] = (struct ext){60, 0, 0};
	mk_ipv6(&ip, many, 16, 17, &l4);
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_OK);
	mk_ipv6(&ip, many, 17, 17, &l4);
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_MALFORMED);
	assert_int_equal(why, CID_SKIP_IPV6_EXT_BAD);
	/* Extension header longer than the payload length says. */
	{
		struct ext e = {60, 0, 0};
		struct buf empty = {.n = 0};
		mk_ipv6(&ip, &e, 1, 17, &empty);
		ip.d[41] = 5; /* 48 bytes claimed, 8 present, payload length 8 */
		assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_MALFORMED);
		assert_int_equal(why, CID_SKIP_IPV6_EXT_BAD);
		ip.d[5] = 48; /* payload length now covers it: the capture is short */
		assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_TRUNCATED);
		assert_int_equal(why, CID_SKIP_IP_TRUNC);
	}
	/* Bad version on raw IPv6 link. */
	mk_ipv6(&ip, NULL, 0, 17, &l4);
	ip.d[0] = 0x70;
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_MALFORMED);
	assert_int_equal(why, CID_SKIP_IP_BAD);
}

/* ------------------------------------------------------------------ */
/* TCP / UDP.                                                          */

static void test_tcp_options(void **state)
{
	(void)state;
	for (size_t opt = 0; opt <= 40; opt += 4) {
		mk_tcp(&l4, opt, PAYLOAD, PAYLOAD_LEN);
		mk_ipv4(&ip, 0, 0x4000, 6, &l4);
		assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_OK);
		check_v4_tcp(&pkt);
	}
}

static void test_tcp_bad(void **state)
{
	(void)state;
	for (unsigned doff = 0; doff < 5; doff++) {
		mk_tcp(&l4, 0, PAYLOAD, PAYLOAD_LEN);
		l4.d[12] = (uint8_t)(doff << 4);
		mk_ipv4(&ip, 0, 0, 6, &l4);
		assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_MALFORMED);
		assert_int_equal(why, CID_SKIP_TCP_BAD);
	}
	/* Data offset past the segment (no payload, 20-byte segment, doff 6). */
	mk_tcp(&l4, 0, NULL, 0);
	l4.d[12] = 0x60;
	mk_ipv4(&ip, 0, 0, 6, &l4);
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_MALFORMED);
	assert_int_equal(why, CID_SKIP_TCP_BAD);
	/* Segment shorter than a TCP header, per the IP length. */
	mk_tcp(&l4, 0, NULL, 0);
	l4.n = 12;
	mk_ipv4(&ip, 0, 0, 6, &l4);
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_MALFORMED);
	assert_int_equal(why, CID_SKIP_TCP_BAD);
	/* SYN|FIN|RST|ECE|CWR flags all reported. */
	mk_tcp(&l4, 0, NULL, 0);
	l4.d[13] = 0xc7;
	mk_ipv4(&ip, 0, 0, 6, &l4);
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_OK);
	assert_int_equal(pkt.tcp_flags, 0xc7);
}

static void test_udp_lengths(void **state)
{
	(void)state;
	for (unsigned ulen = 0; ulen < 8; ulen++) {
		mk_udp(&l4, PAYLOAD, PAYLOAD_LEN);
		l4.d[4] = 0;
		l4.d[5] = (uint8_t)ulen;
		mk_ipv4(&ip, 0, 0, 17, &l4);
		assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_MALFORMED);
		assert_int_equal(why, CID_SKIP_UDP_BAD);
	}
	/* UDP length shorter than the IP payload: the extra bytes are not data. */
	mk_udp(&l4, PAYLOAD, PAYLOAD_LEN);
	l4.d[5] = 8 + 3;
	mk_ipv6(&ip, NULL, 0, 17, &l4);
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_OK);
	assert_int_equal(pkt.payload_len, 3);
	assert_int_equal(pkt.payload_wire_len, 3);
	/* Longer than the IP payload: clamped. */
	l4.d[4] = 0xff;
	mk_ipv6(&ip, NULL, 0, 17, &l4);
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_OK);
	assert_int_equal(pkt.payload_len, PAYLOAD_LEN);
	/* IP payload shorter than a UDP header. */
	mk_udp(&l4, NULL, 0);
	l4.n = 6;
	mk_ipv4(&ip, 0, 0, 17, &l4);
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_MALFORMED);
	assert_int_equal(why, CID_SKIP_UDP_BAD);
}

/* Snaplen: the capture holds fewer bytes than the headers announce. */
static void test_snaplen(void **state)
{
	static uint8_t big[1400];
	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	mk_tcp(&l4, 12, big, sizeof(big));
	mk_ipv4(&ip, 0, 0x4000, 6, &l4);
	mk_eth(&fr, NULL, NULL, 0, 0x0800, &ip);
	fr.n = 96; /* tcpdump -s 96 */
	assert_int_equal(dec(&pkt, &why, CID_DLT_EN10MB, &fr), CID_OK);
	assert_int_equal(pkt.payload_len, 96 - 14 - 20 - 32);
	assert_int_equal(pkt.payload_wire_len, sizeof(big));
	assert_memory_equal(pkt.payload, big, pkt.payload_len);

	mk_udp(&l4, big, sizeof(big));
	mk_ipv6(&ip, NULL, 0, 17, &l4);
	mk_sll2(&fr, 0, 1, 1, 0x86dd, &ip);
	fr.n = 100;
	assert_int_equal(dec(&pkt, &why, CID_DLT_LINUX_SLL2, &fr), CID_OK);
	assert_int_equal(pkt.payload_len, 100 - 20 - 40 - 8);
	assert_int_equal(pkt.payload_wire_len, sizeof(big));

	/* IPv4 total length 0 (segmentation offload): the capture is used. */
	mk_tcp(&l4, 0, big, 200);
	mk_ipv4(&ip, 0, 0x4000, 6, &l4);
	ip.d[2] = ip.d[3] = 0;
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_OK);
	assert_int_equal(pkt.payload_len, 200);
	assert_int_equal(pkt.payload_wire_len, 200);
	/* IPv6 payload length 0 likewise. */
	mk_udp(&l4, big, 200);
	mk_ipv6(&ip, NULL, 0, 17, &l4);
	ip.d[4] = ip.d[5] = 0;
	assert_int_equal(dec(&pkt, &why, CID_DLT_RAW, &ip), CID_OK);
	assert_int_equal(pkt.payload_len, 200);
}

static void test_zero_length(void **state)
{
	static const int dlts[] = {CID_DLT_NULL, CID_DLT_EN10MB, CID_DLT_RAW, 12, 14, CID_DLT_LOOP,
				   CID_DLT_LINUX_SLL, CID_DLT_IPV4, CID_DLT_IPV6, CID_DLT_LINUX_SLL2};
	static const uint8_t one = 0x45;
	(void)state;
	for (size_t i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++) {
		enum cid_status st = cid_decode_frame(&pkt, &why, dlts[i], NULL, 0);
		assert_int_equal(st, CID_TRUNCATED);
		assert_true(why == CID_SKIP_LINK_TRUNC || why == CID_SKIP_IP_TRUNC);
		st = cid_decode_frame(&pkt, &why, dlts[i], &one, 0);
		assert_int_equal(st, CID_TRUNCATED);
		st = cid_decode_frame(&pkt, &why, dlts[i], &one, 1);
		assert_int_not_equal(st, CID_OK);
	}
	{
		assert_int_equal(cid_decode_ip(&pkt, &why, NULL, 0), CID_TRUNCATED);
		assert_int_equal(why, CID_SKIP_IP_TRUNC);
	}
}

/* ------------------------------------------------------------------ */
/* Every-prefix truncation sweep: each proper prefix that cuts into the */
/* headers is TRUNCATED (never OK, never MALFORMED: the bytes present   */
/* are all valid); prefixes that cut only the payload are OK with the   */
/* bytes present and the wire length from the headers.                  */

static void sweep(int dlt, const struct buf *frame, size_t hdr_len, size_t pl_len)
{
	for (size_t n = 0; n <= frame->n; n++) {
		enum cid_status st;
		/* A private copy of exactly n bytes, so ASan sees any over-read. */
		uint8_t *p = malloc(n ? n : 1);
		assert_non_null(p);
		memcpy(p, frame->d, n);
		st = cid_decode_frame(&pkt, &why, dlt, p, n);
		if (n < hdr_len) {
			if (st != CID_TRUNCATED)
				print_message("# dlt %d prefix %zu: %s %s\n", dlt, n, cid_status_name(st),
					      cid_skip_name(why));
			assert_int_equal(st, CID_TRUNCATED);
			assert_int_not_equal(why, CID_SKIP_NONE);
		} else {
			assert_int_equal(st, CID_OK);
			assert_int_equal(pkt.payload_len, n - hdr_len);
			assert_int_equal(pkt.payload_wire_len, pl_len);
			assert_ptr_equal(pkt.payload, p + hdr_len);
		}
		free(p);
	}
}

static void test_truncation_sweep(void **state)
{
	static const struct ext chain[] = {{0, 0, 0}, {43, 0, 0}, {44, 0, 1}, {51, 1, 0}, {60, 0, 0}};
	const size_t chain_len = 8 + 8 + 8 + 12 + 8;
	struct buf tcp, udp, ip4, ip6, ip6x;
	uint16_t tags[3] = {0x88a8, 0x8100, 0x8100}, vids[3] = {1, 2, 3};
	(void)state;
	mk_tcp(&tcp, 12, PAYLOAD, PAYLOAD_LEN);
	mk_udp(&udp, PAYLOAD, PAYLOAD_LEN);
	mk_ipv4(&ip4, 8, 0x2000, 6, &tcp);
	mk_ipv6(&ip6, NULL, 0, 17, &udp);
	mk_ipv6(&ip6x, chain, 5, 6, &tcp);

	sweep(CID_DLT_RAW, &ip4, 28 + 32, PAYLOAD_LEN);
	sweep(CID_DLT_IPV4, &ip4, 28 + 32, PAYLOAD_LEN);
	sweep(CID_DLT_IPV6, &ip6, 48, PAYLOAD_LEN);
	sweep(CID_DLT_RAW, &ip6x, 40 + chain_len + 32, PAYLOAD_LEN);
	mk_eth(&fr, NULL, NULL, 0, 0x0800, &ip4);
	sweep(CID_DLT_EN10MB, &fr, 14 + 28 + 32, PAYLOAD_LEN);
	mk_eth(&fr, tags, vids, 3, 0x86dd, &ip6x);
	sweep(CID_DLT_EN10MB, &fr, 14 + 12 + 40 + chain_len + 32, PAYLOAD_LEN);
	mk_sll(&fr, 4, 1, 0x86dd, &ip6);
	sweep(CID_DLT_LINUX_SLL, &fr, 16 + 48, PAYLOAD_LEN);
	mk_sll2(&fr, 0, 7, 1, 0x0800, &ip4);
	sweep(CID_DLT_LINUX_SLL2, &fr, 20 + 28 + 32, PAYLOAD_LEN);
	mk_null(&fr, 2, 1, &ip4);
	sweep(CID_DLT_NULL, &fr, 4 + 28 + 32, PAYLOAD_LEN);
	mk_null(&fr, 30, 1, &ip6);
	sweep(CID_DLT_NULL, &fr, 4 + 48, PAYLOAD_LEN);
	mk_null(&fr, 24, 0, &ip6x);
	sweep(CID_DLT_LOOP, &fr, 4 + 40 + chain_len + 32, PAYLOAD_LEN);
}

/* ------------------------------------------------------------------ */
/* Names and addresses.                                                */

static void test_names(void **state)
{
	(void)state;
	for (int i = 0; i < CID_SKIP__COUNT; i++) {
		const char *a = cid_skip_name((enum cid_skip)i);
		assert_non_null(a);
		assert_string_not_equal(a, "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(a, cid_skip_name((enum cid_skip)j));
	}
	assert_string_equal(cid_skip_name(CID_SKIP__COUNT), "unknown");
	assert_string_equal(cid_skip_name((enum cid_skip)-1), "unknown");
	assert_string_equal(cid_skip_name(CID_SKIP_IP_FRAGMENT), "ip_fragment");
	assert_string_equal(cid_status_name(CID_OK), "ok");
	assert_string_equal(cid_status_name(CID_TRUNCATED), "truncated");
	assert_string_equal(cid_status_name(CID_MALFORMED), "malformed");
	assert_string_equal(cid_status_name(CID_UNSUPPORTED), "unsupported");
	assert_string_equal(cid_status_name((enum cid_status)42), "unknown");
}

static void test_addr(void **state)
{
	static const struct {
		const char *in;
		bool ok;
		uint8_t family;
		const char *out;
	} cases[] = {
		{"10.0.0.1", true, 4, "10.0.0.1"},
		{"255.255.255.255", true, 4, "255.255.255.255"},
		{"::1", true, 6, "::1"},
		{"2001:DB8:0:0:0:0:0:1", true, 6, "2001:db8::1"},
		{"::ffff:10.1.2.3", true, 6, "::ffff:10.1.2.3"},
		{"fe80::1%eth0", false, 0, ""},
		{"10.0.0.256", false, 0, ""},
		{"", false, 0, ""},
		{"10.0.0.1 ", false, 0, ""},
		{"example.com", false, 0, ""},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cid_addr a;
		char buf[CID_ADDRSTRLEN];
		memset(&a, 0x77, sizeof(a));
		assert_int_equal(cid_addr_parse(&a, cases[i].in), cases[i].ok);
		assert_int_equal(a.family, cases[i].family);
		assert_string_equal(cid_addr_str(&a, buf, sizeof(buf)), cases[i].out);
		if (cases[i].family == 4)
			for (int k = 4; k < 16; k++)
				assert_int_equal(a.b[k], 0);
	}
	{
		struct cid_addr a;
		char small[8];
		assert_true(cid_addr_parse(&a, "192.168.100.200"));
		assert_string_equal(cid_addr_str(&a, small, sizeof(small)), ""); /* too small: empty */
		assert_false(cid_addr_parse(&a, NULL));
		assert_ptr_equal(cid_addr_str(&a, small, 0), small);
	}
	{
		/* IPv4 is formatted by hand: every octet value in every
		 * position, as inet_ntop prints it; exactly-fitting buffers */
		struct cid_addr a;
		char buf[CID_ADDRSTRLEN], want[INET_ADDRSTRLEN];
		memset(&a, 0, sizeof(a));
		a.family = 4;
		for (unsigned v = 0; v < 256; v++) {
			a.b[0] = (uint8_t)v;
			a.b[1] = (uint8_t)(255 - v);
			a.b[2] = (uint8_t)(v * 7);
			a.b[3] = (uint8_t)(v / 3);
			assert_non_null(inet_ntop(AF_INET, a.b, want, sizeof(want)));
			assert_string_equal(cid_addr_str(&a, buf, sizeof(buf)), want);
			assert_string_equal(cid_addr_str(&a, buf, strlen(want) + 1), want);
			assert_string_equal(cid_addr_str(&a, buf, strlen(want)), "");
		}
	}
}

/* ------------------------------------------------------------------ */
/* Real captures: every frame, counts as tshark 4.0 sees them          */
/* (frame.protocols containing :tcp / :udp, sum of tcp.len /            */
/* udp.length-8 on the outermost transport header).                     */

struct capture_case {
	const char *path;
	int dlt;
	unsigned frames, tcp, udp;
	unsigned long tcp_bytes, udp_bytes;
	int ifindex;          /* of every decoded frame, -1: not checked */
	int num_vlans;        /* of every decoded frame, -1: not checked */
	int vlan;
	enum cid_skip skip;   /* reason for every skipped frame */
	const char *local;    /* SLL: frames from this address are OUTGOING, others HOST */
};

static const struct capture_case captures[] = {
	{"zeek/traces/tls/openjdk-25.0.2-zeek.org.pcap", CID_DLT_LINUX_SLL2, 6, 6, 0, 3377, 0, 2, 0, 0, CID_SKIP_NONE,
	 "192.168.64.6"},
	{"zeek/traces/linux_dlt_sll2.pcap", CID_DLT_LINUX_SLL2, 6, 0, 0, 0, 0, -1, -1, 0, CID_SKIP__COUNT, NULL},
	{"zeek/traces/vlan-qinqinq.pcap", CID_DLT_EN10MB, 14, 14, 0, 5143, 0, 0, 3, 10, CID_SKIP_NONE, NULL},
	{"arkime/twovlan.pcap", CID_DLT_EN10MB, 6, 6, 0, 4457, 0, 0, 2, 200, CID_SKIP_NONE, NULL},
	{"zeek/traces/http-vlan-0.pcap", CID_DLT_EN10MB, 14, 14, 0, 5143, 0, 0, 1, 0, CID_SKIP_NONE, NULL},
	{"foxio-ja4/pcap/ipv6.pcapng", CID_DLT_NULL, 9, 9, 0, 3047, 0, 0, 0, 0, CID_SKIP_NONE, NULL},
	{"suricata-verify/quic-v2/input.pcap", CID_DLT_NULL, 15, 0, 15, 0, 4722, 0, 0, 0, CID_SKIP_NONE, NULL},
	/* libpcap reports LINKTYPE_RAW files as DLT_RAW, 12 on Linux */
	{"suricata-verify/tls/tls-pre-1970/input.pcap", 12, 17, 17, 0, 2196, 0, 0, 0, 0, CID_SKIP_NONE, NULL},
	{"arkime/gtp-iphone.pcap", CID_DLT_LINUX_SLL, 106, 0, 106, 0, 24123, 0, 0, 0, CID_SKIP_NONE, NULL},
	{"suricata-verify/community-id-ipv4/input.pcap", CID_DLT_EN10MB, 43, 43, 0, 28170, 0, 0, -1, 0, CID_SKIP_NONE, NULL},
};

static const char *data_dir(void)
{
	const char *d = getenv("CALLERID_DATA");
	if (d && *d)
		return d;
	return "../shared/data";
}

static void test_captures(void **state)
{
	char path[1024], err[PCAP_ERRBUF_SIZE];
	pcap_t *probe;
	(void)state;
	snprintf(path, sizeof(path), "%s/%s", data_dir(), captures[0].path);
	probe = pcap_open_offline(path, err);
	if (!probe) {
		print_message("# %s: %s\n", path, err);
		skip();
	}
	pcap_close(probe);

	for (size_t i = 0; i < sizeof(captures) / sizeof(captures[0]); i++) {
		const struct capture_case *cc = &captures[i];
		unsigned frames = 0, tcp = 0, udp = 0;
		unsigned long tcp_bytes = 0, udp_bytes = 0;
		struct pcap_pkthdr *h;
		const u_char *d;
		pcap_t *pc;
		snprintf(path, sizeof(path), "%s/%s", data_dir(), cc->path);
		pc = pcap_open_offline(path, err);
		if (!pc)
			fail_msg("%s: %s", path, err);
		assert_int_equal(pcap_datalink(pc), cc->dlt);
		while (pcap_next_ex(pc, &h, &d) == 1) {
			enum cid_status st = cid_decode_frame(&pkt, &why, pcap_datalink(pc), d, h->caplen);
			frames++;
			if (st != CID_OK) {
				if (cc->skip != CID_SKIP__COUNT)
					assert_int_equal(why, cc->skip);
				continue;
			}
			if (pkt.proto == 6) {
				tcp++;
				tcp_bytes += pkt.payload_wire_len;
			} else {
				udp++;
				udp_bytes += pkt.payload_wire_len;
			}
			if (cc->ifindex >= 0)
				assert_int_equal(pkt.ifindex, (unsigned)cc->ifindex);
			if (cc->local) {
				char a[CID_ADDRSTRLEN];
				bool out = strcmp(cid_addr_str(&pkt.src, a, sizeof(a)), cc->local) == 0;
				assert_int_equal(pkt.pkttype, out ? CID_PKTTYPE_OUTGOING : CID_PKTTYPE_HOST);
			}
			if (cc->num_vlans >= 0) {
				assert_int_equal(pkt.num_vlans, (unsigned)cc->num_vlans);
				assert_int_equal(pkt.vlan, (unsigned)cc->vlan);
			}
		}
		pcap_close(pc);
		print_message("# %s: %u frames, %u tcp, %u udp\n", cc->path, frames, tcp, udp);
		assert_int_equal(frames, cc->frames);
		assert_int_equal(tcp, cc->tcp);
		assert_int_equal(udp, cc->udp);
		assert_int_equal(tcp_bytes, cc->tcp_bytes);
		assert_int_equal(udp_bytes, cc->udp_bytes);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_types),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_sll_fields),
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ipv4_bad),
		cmocka_unit_test(test_eth_padding),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv6_ext),
		cmocka_unit_test(test_ipv6_bad),
		cmocka_unit_test(test_tcp_options),
		cmocka_unit_test(test_tcp_bad),
		cmocka_unit_test(test_udp_lengths),
		cmocka_unit_test(test_snaplen),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_truncation_sweep),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_captures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
