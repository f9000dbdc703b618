/*
 * gen_flood.c - deterministic floods for the resource-bound tests
 * (tests/load/) and `make bench` (section flood).
 *
 *   gen_flood [--syn N] [--hello N] [--hello-bytes B] [--hello-len L]
 *             [--http] [--rate PPS] [--seed S] [--real FILE]... OUT.pcap
 *
 * Writes a classic pcap (microsecond timestamps, LINKTYPE_ETHERNET) with:
 *  - a SYN flood: N distinct client 5-tuples (100.64.0.0/10, any port), one
 *    SYN each (RFC 9293 3.1: MSS, SACK permitted, window scale options) to
 *    10.203.0.10-12:443, the lab's endpoint addresses (scripts/lab.sh);
 *  - a never-finished ClientHello flood: N connections, each a handshake
 *    (SYN, SYN-ACK, ACK) and then only the first B bytes of a ClientHello
 *    whose handshake header promises L bytes (RFC 8446 4.1.2, split into
 *    records of at most 2^14 bytes, RFC 8446 5.1). It never completes, so a
 *    reader holds each one's bytes until the flow ends. With --http, the
 *    connections go to port 80 and carry the first B bytes of an HTTP/1.1
 *    request head (RFC 9112 2.1: a GET to IMDS's credentials path, then
 *    header fields) that never reaches its empty line instead;
 *  - real flows: every packet of each --real capture (pcap or pcapng;
 *    Ethernet, Linux cooked v1/v2 or raw IP, turned into Ethernet frames),
 *    capture k of K starting (k+1)/(K+1) of the way through the flood, its
 *    own relative timing kept, merged in time order.
 * The flood runs at PPS packets per second of capture time (default
 * 100000); SYN and hello connections are interleaved evenly.
 *
 * The same arguments always give the same bytes (splitmix64 seeded with S).
 * IPv4 and TCP checksums are correct, so the file can be replayed onto a
 * wire (tcpreplay) as it is. A summary goes to stderr. Exit 0 on success,
 * 1 on an I/O error or an unreadable --real file, 2 on a usage error.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/cursor.h"

#define SNAPLEN 262144u
#define LINKTYPE_ETHERNET 1u
#define T0_US 1767225600000000ull /* 2026-01-01T00:00:00Z */
#define MSS 1460u
#define MAX_HELLO_LEN 60000u      /* extensions fit their 16-bit length */
#define MAX_REAL_FILES 64
#define OUTBUF_SIZE (4u << 20)
#define SNI_FMT "h%08x.flood.invalid"
#define SNI_LEN 23u

enum { F_FIN = 0x01, F_SYN = 0x02, F_PSH = 0x08, F_ACK = 0x10 };

struct real_pkt {
	uint64_t ts_us;
	uint64_t order; /* load order: ties in time keep it */
	uint32_t len, wirelen;
	uint8_t *data; /* an Ethernet frame */
};

struct gen {
	uint64_t rng;
	uint32_t perm_key;
	FILE *out;
	uint64_t rate;
	uint64_t slot;          /* flood packets emitted so far */
	uint64_t bytes;
	uint8_t frame[14 + 20 + 32 + MSS + 16];
	uint8_t rec[16];
	/* the hello template: the whole stream of a never-finished hello */
	uint8_t *hello;
	size_t hello_total;     /* bytes of the complete (never sent) stream */
	size_t hello_send;      /* bytes actually sent */
	size_t hello_random_off, hello_sni_off;
	bool http;              /* the template is an HTTP request head, to port 80 */
	/* real packets, in time order */
	struct real_pkt *real;
	size_t num_real, cap_real, next_real;
	/* counts */
	uint64_t num_syn, num_hello, num_pkts;
};

static const uint8_t CLIENT_MAC[6] = {0x02, 0x42, 0x0a, 0xcb, 0x00, 0x01};
static const uint8_t SERVER_MAC[6] = {0x02, 0x42, 0x0a, 0xcb, 0x00, 0x0a};

static void die(const char *what)
{
	fprintf(stderr, "gen_flood: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

/* --- randomness ---------------------------------------------------------- */

static uint64_t rnd(struct gen *g)
{
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(struct gen *g, uint32_t n)
{
	return (uint32_t)(((rnd(g) >> 32) * (uint64_t)n) >> 32);
}

/* A keyed bijection on 32 bits (xor, odd multiply and xor-shift steps are
 * each invertible): distinct i give distinct tuples, in random order. */
static uint32_t perm32(uint32_t key, uint32_t i)
{
	uint32_t x = i ^ key;
	x *= 0x9e3779b1u;
	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	return x;
}

/* --- byte writers -------------------------------------------------------- */

static uint8_t *wr16(uint8_t *p, uint32_t v)
{
	*p++ = (uint8_t)(v >> 8);
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *wr32(uint8_t *p, uint32_t v)
{
	return wr16(wr16(p, v >> 16), v);
}

static uint8_t *wr32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static void write_out(struct gen *g, const void *p, size_t n)
{
	if (fwrite(p, 1, n, g->out) != n)
		die("write");
	g->bytes += n;
}

static void write_record(struct gen *g, uint64_t ts_us, const uint8_t *frame, uint32_t len, uint32_t wirelen)
{
	uint8_t *h = g->rec;
	h = wr32le(h, (uint32_t)(ts_us / 1000000));
	h = wr32le(h, (uint32_t)(ts_us % 1000000));
	h = wr32le(h, len);
	wr32le(h, wirelen);
	write_out(g, g->rec, 16);
	write_out(g, frame, len);
	g->num_pkts++;
}

/* RFC 1071 one's complement sum, folded; `sum` carries a partial sum. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* --- the flood ----------------------------------------------------------- */

/* The time of the next flood packet; each call takes one slot. */
static uint64_t next_slot(struct gen *g)
{
	return T0_US + g->slot++ * 1000000ull / g->rate;
}

/* Writes the real packets due at or before ts_us. */
static void flush_real(struct gen *g, uint64_t ts_us)
{
	while (g->next_real < g->num_real && g->real[g->next_real].ts_us <= ts_us) {
		const struct real_pkt *r = &g->real[g->next_real++];
		write_record(g, r->ts_us, r->data, r->len, r->wirelen);
	}
}

struct tuple {
	uint8_t cip[4], sip[4];
	uint16_t cport, sport;
};

/* One IPv4 TCP segment, client to server (dir 0) or back (dir 1). */
static void emit_tcp(struct gen *g, const struct tuple *t, int dir, uint32_t seq, uint32_t ack, uint8_t flags,
		     const uint8_t *payload, uint32_t len)
{
	uint64_t ts = next_slot(g);
	uint8_t *fr = g->frame, *q = fr, *ip, *tcp;
	bool syn = (flags & F_SYN) != 0;
	uint32_t thl = syn ? 32 : 20, sum;
	flush_real(g, ts);
	memcpy(q, dir ? CLIENT_MAC : SERVER_MAC, 6);
	memcpy(q + 6, dir ? SERVER_MAC : CLIENT_MAC, 6);
	q = wr16(q + 12, 0x0800);
	ip = q;
	*q++ = 0x45;
	*q++ = 0;
	q = wr16(q, 20 + thl + len);
	q = wr16(q, (uint32_t)g->slot);
	q = wr16(q, 0x4000); /* DF */
	*q++ = 64;
	*q++ = 6;
	q = wr16(q, 0);
	memcpy(q, dir ? t->sip : t->cip, 4);
	memcpy(q + 4, dir ? t->cip : t->sip, 4);
	q += 8;
	wr16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	tcp = q;
	q = wr16(q, dir ? t->sport : t->cport);
	q = wr16(q, dir ? t->cport : t->sport);
	q = wr32(q, seq);
	q = wr32(q, ack);
	*q++ = (uint8_t)((thl / 4) << 4);
	*q++ = flags;
	q = wr16(q, syn ? 64240 : 502);
	q = wr32(q, 0); /* checksum (below), urgent pointer */
	if (syn) {      /* MSS 1460, SACK permitted, NOP, window scale 7 */
		static const uint8_t opt[12] = {2, 4, 0x05, 0xb4, 4, 2, 1, 1, 1, 3, 3, 7};
		memcpy(q, opt, 12);
		q += 12;
	}
	if (len) {
		memcpy(q, payload, len);
		q += len;
	}
	/* RFC 9293 3.1: the checksum covers a pseudo-header and the segment */
	sum = csum_add(0, ip + 12, 8);
	sum += 6 + thl + len;
	sum = csum_add(sum, tcp, thl + len);
	wr16(tcp + 16, csum_fold(sum));
	write_record(g, ts, fr, (uint32_t)(q - fr), (uint32_t)(q - fr));
}

static void flood_tuple(struct gen *g, uint32_t index, struct tuple *t)
{
	uint32_t x = perm32(g->perm_key, index);
	uint32_t host = x >> 10; /* 22 bits of 100.64.0.0/10 */
	t->cip[0] = 100;
	t->cip[1] = (uint8_t)(64 | (host >> 16));
	t->cip[2] = (uint8_t)(host >> 8);
	t->cip[3] = (uint8_t)host;
	/* the low 10 bits pick one of 1024 port ranges of 63: distinct x,
	 * distinct (address, port) */
	t->cport = (uint16_t)(1024 + (x & 0x3ffu) * 63 + rnd_below(g, 63));
	t->sip[0] = 10;
	t->sip[1] = 203;
	t->sip[2] = 0;
	t->sip[3] = (uint8_t)(10 + rnd_below(g, 3));
	t->sport = 443;
}

static void flood_syn(struct gen *g, uint32_t index)
{
	struct tuple t;
	flood_tuple(g, index, &t);
	emit_tcp(g, &t, 0, (uint32_t)rnd(g), 0, F_SYN, NULL, 0);
	g->num_syn++;
}

static void flood_hello(struct gen *g, uint32_t index)
{
	struct tuple t;
	uint32_t cisn, sisn;
	char sni[SNI_LEN + 1];
	flood_tuple(g, index, &t);
	cisn = (uint32_t)rnd(g);
	sisn = (uint32_t)rnd(g);
	if (g->http) {
		t.sport = 80;
	} else {
		for (size_t i = 0; i < 32; i += 8) {
			uint64_t v = rnd(g);
			memcpy(g->hello + g->hello_random_off + i, &v, 8);
		}
		snprintf(sni, sizeof(sni), SNI_FMT, index);
		memcpy(g->hello + g->hello_sni_off, sni, SNI_LEN);
	}
	emit_tcp(g, &t, 0, cisn, 0, F_SYN, NULL, 0);
	emit_tcp(g, &t, 1, sisn, cisn + 1, F_SYN | F_ACK, NULL, 0);
	emit_tcp(g, &t, 0, cisn + 1, sisn + 1, F_ACK, NULL, 0);
	for (size_t off = 0; off < g->hello_send; off += MSS) {
		uint32_t n = (uint32_t)(g->hello_send - off < MSS ? g->hello_send - off : MSS);
		uint8_t flags = (uint8_t)(F_ACK | (off + n == g->hello_send ? F_PSH : 0));
		emit_tcp(g, &t, 0, cisn + 1 + (uint32_t)off, sisn + 1, flags, g->hello + off, n);
	}
	g->num_hello++;
}

/* An HTTP/1.1 request head of `len` bytes that never ends: the request
 * line, Host, User-Agent, then X-Pad fields of 64 bytes, cut at len (the
 * empty line that ends a head, RFC 9112 2.1, never comes). */
static void build_http(struct gen *g, size_t len)
{
	static const char start[] = "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\n"
				    "Host: 169.254.169.254\r\nUser-Agent: gen_flood\r\n";
	size_t n = 0, cap = len + 128;
	g->hello = malloc(cap);
	if (!g->hello)
		die("malloc");
	memcpy(g->hello, start, sizeof(start) - 1);
	n = sizeof(start) - 1;
	while (n < len) {
		int k = snprintf((char *)g->hello + n, cap - n, "X-Pad: %055zu\r\n", n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	g->hello_total = len + 1; /* "one more byte": what is sent is always cut */
}

/* The stream of a ClientHello promising `len` bytes of handshake body
 * (RFC 8446 4.1.2): version, random, session id, 16 cipher suites, null
 * compression, server_name (RFC 6066 3), supported_groups,
 * supported_versions, then padding (RFC 7685) up to len; cut into
 * handshake records of at most 2^14 bytes (RFC 8446 5.1). */
static void build_hello(struct gen *g, size_t len)
{
	static const uint16_t suites[16] = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
					    0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035, 0x00ff};
	size_t msg_len = 4 + len, fixed, ext_total, pad, pos = 0, off = 0;
	uint8_t *msg = calloc(1, msg_len), *p = msg;
	if (!msg)
		die("out of memory");
	*p++ = 1; /* client_hello */
	*p++ = (uint8_t)(len >> 16);
	p = wr16(p, (uint32_t)len);
	p = wr16(p, 0x0303);
	g->hello_random_off = (size_t)(p - msg);
	p += 32;
	*p++ = 32;
	for (int i = 0; i < 32; i++)
		*p++ = (uint8_t)(0xa0 + i);
	p = wr16(p, 32);
	for (int i = 0; i < 16; i++)
		p = wr16(p, suites[i]);
	*p++ = 1;
	*p++ = 0;
	fixed = (size_t)(p - msg) + 2 - 4;
	ext_total = len - fixed;
	p = wr16(p, (uint32_t)ext_total);
	/* server_name */
	p = wr16(p, 0);
	p = wr16(p, 5 + SNI_LEN);
	p = wr16(p, 3 + SNI_LEN);
	*p++ = 0;
	p = wr16(p, SNI_LEN);
	g->hello_sni_off = (size_t)(p - msg);
	p += SNI_LEN;
	/* supported_groups: x25519, secp256r1 */
	p = wr16(p, 10);
	p = wr16(p, 6);
	p = wr16(p, 4);
	p = wr16(p, 0x001d);
	p = wr16(p, 0x0017);
	/* supported_versions: TLS 1.3, 1.2 */
	p = wr16(p, 43);
	p = wr16(p, 5);
	*p++ = 4;
	p = wr16(p, 0x0304);
	p = wr16(p, 0x0303);
	/* padding: zeros up to the promised length */
	pad = msg_len - (size_t)(p - msg) - 4;
	p = wr16(p, 21);
	p = wr16(p, (uint32_t)pad);

	g->hello_total = msg_len + 5 * ((msg_len + 16383) / 16384);
	g->hello = calloc(1, g->hello_total);
	if (!g->hello)
		die("out of memory");
	while (off < msg_len) {
		size_t n = msg_len - off < 16384 ? msg_len - off : 16384;
		uint8_t *h = g->hello + pos;
		h[0] = 22; /* handshake */
		wr16(h + 1, 0x0301);
		wr16(h + 3, (uint32_t)n);
		memcpy(h + 5, msg + off, n);
		if (off == 0) {
			g->hello_random_off += pos + 5;
			g->hello_sni_off += pos + 5;
		}
		pos += 5 + n;
		off += n;
	}
	free(msg);
}

/* --- real captures ------------------------------------------------------- */

static void real_add(struct gen *g, uint64_t ts_us, const uint8_t *ip, size_t ip_len, uint16_t ethertype,
		     uint32_t wire_ip_len)
{
	struct real_pkt *r;
	if (g->num_real == g->cap_real) {
		size_t cap = g->cap_real ? g->cap_real * 2 : 1024;
		struct real_pkt *n = realloc(g->real, cap * sizeof(*n));
		if (!n)
			die("out of memory");
		g->real = n;
		g->cap_real = cap;
	}
	r = &g->real[g->num_real++];
	r->ts_us = ts_us;
	r->order = g->num_real - 1;
	r->len = (uint32_t)(14 + ip_len);
	r->wirelen = 14 + wire_ip_len;
	r->data = malloc(r->len);
	if (!r->data)
		die("out of memory");
	memcpy(r->data, SERVER_MAC, 6);
	memcpy(r->data + 6, CLIENT_MAC, 6);
	wr16(r->data + 12, ethertype);
	memcpy(r->data + 14, ip, ip_len);
}

/* The network-layer packet inside a frame of link type dlt, and its
 * ethertype. false for link types and protocols not carried over. */
static bool frame_ip(int dlt, const uint8_t *p, size_t n, const uint8_t **ip, size_t *ip_len, uint16_t *ethertype,
		     size_t *hdr_len)
{
	struct cid_cur c;
	uint8_t ver;
	cid_cur_init(&c, p, n);
	switch (dlt) {
	case DLT_EN10MB:
		*hdr_len = 14;
		if (!cid_cur_skip(&c, 12) || !cid_cur_u16(&c, ethertype))
			return false;
		break;
	case DLT_LINUX_SLL: /* 16 bytes, protocol last */
		*hdr_len = 16;
		if (!cid_cur_skip(&c, 14) || !cid_cur_u16(&c, ethertype))
			return false;
		break;
	case 276: /* DLT_LINUX_SLL2: 20 bytes, protocol first */
		*hdr_len = 20;
		if (!cid_cur_u16(&c, ethertype) || !cid_cur_skip(&c, 18))
			return false;
		break;
	case DLT_RAW: /* libpcap maps LINKTYPE_RAW (101) to it */
	case 228:     /* DLT_IPV4 */
	case 229:     /* DLT_IPV6 */
		*hdr_len = 0;
		if (!cid_cur_peek_u8(&c, 0, &ver))
			return false;
		*ethertype = (ver >> 4) == 6 ? 0x86dd : 0x0800;
		break;
	default:
		return false;
	}
	*ip = cid_cur_data(&c);
	*ip_len = cid_cur_len(&c);
	return *ethertype == 0x0800 || *ethertype == 0x86dd;
}

/* Loads every IP packet of path, shifted so its first packet is at base_us. */
static void load_real(struct gen *g, const char *path, uint64_t base_us, uint64_t *num_pkts)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	struct pcap_pkthdr *h;
	const u_char *data;
	int64_t first = -1;
	int r, dlt;
	if (!pc) {
		fprintf(stderr, "gen_flood: %s\n", ebuf);
		exit(1);
	}
	dlt = pcap_datalink(pc);
	while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
		const uint8_t *ip;
		size_t ip_len, hdr_len;
		uint16_t et;
		int64_t ts = (int64_t)h->ts.tv_sec * 1000000 + (int64_t)h->ts.tv_usec;
		if (!frame_ip(dlt, data, h->caplen, &ip, &ip_len, &et, &hdr_len))
			continue;
		if (first < 0)
			first = ts;
		real_add(g, base_us + (uint64_t)(ts > first ? ts - first : 0), ip, ip_len, et,
			 h->len > hdr_len ? (uint32_t)(h->len - hdr_len) : (uint32_t)ip_len);
		(*num_pkts)++;
	}
	if (r == PCAP_ERROR) {
		fprintf(stderr, "gen_flood: %s: %s\n", path, pcap_geterr(pc));
		exit(1);
	}
	pcap_close(pc);
}

static int cmp_real(const void *a, const void *b)
{
	const struct real_pkt *x = a, *y = b;
	if (x->ts_us != y->ts_us)
		return x->ts_us < y->ts_us ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* --- main ---------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: gen_flood [--syn N] [--hello N] [--hello-bytes B] [--hello-len L]\n"
			"                 [--http] [--rate PPS] [--seed S] [--real FILE]... OUT.pcap\n");
	exit(2);
}

static uint64_t parse_num(const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;
	if (!s || *s == '-')
		usage();
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	static struct gen gen;
	struct gen *g = &gen;
	const char *real_paths[MAX_REAL_FILES], *path = NULL;
	int num_real_files = 0;
	uint64_t num_syn = 0, num_hello = 0, hello_len = 16000, hello_bytes = 1400, seed = 1;
	uint64_t flood_pkts, hello_pkts, real_pkts = 0, duration_us;
	char *obuf;
	uint8_t hdr[24], *h = hdr;

	g->rate = 100000;
	for (int a = 1; a < argc; a++) {
		const char *o = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;
		if (!strcmp(o, "--syn"))
			num_syn = parse_num(v, 0, 1ull << 32);
		else if (!strcmp(o, "--hello"))
			num_hello = parse_num(v, 0, 1ull << 32);
		else if (!strcmp(o, "--hello-bytes"))
			hello_bytes = parse_num(v, 1, MAX_HELLO_LEN);
		else if (!strcmp(o, "--hello-len"))
			hello_len = parse_num(v, 256, MAX_HELLO_LEN);
		else if (!strcmp(o, "--http")) {
			g->http = true;
			continue; /* no value */
		} else if (!strcmp(o, "--rate"))
			g->rate = parse_num(v, 1, 100000000);
		else if (!strcmp(o, "--seed"))
			seed = parse_num(v, 0, UINT64_MAX);
		else if (!strcmp(o, "--real") && v && num_real_files < MAX_REAL_FILES)
			real_paths[num_real_files++] = v;
		else if (o[0] != '-' && !path && a == argc - 1)
			path = o;
		else
			usage();
		if (o[0] == '-')
			a++;
	}
	if (!path || num_syn + num_hello > (1ull << 32))
		usage();
	g->rng = seed;
	g->perm_key = (uint32_t)rnd(g);

	if (g->http)
		build_http(g, hello_bytes);
	else
		build_hello(g, hello_len);
	/* never finished: at least the last byte is missing */
	g->hello_send = hello_bytes < g->hello_total ? hello_bytes : g->hello_total - 1;
	hello_pkts = 3 + (g->hello_send + MSS - 1) / MSS;
	flood_pkts = num_syn + num_hello * hello_pkts;
	duration_us = flood_pkts * 1000000ull / g->rate;
	for (int k = 0; k < num_real_files; k++)
		load_real(g, real_paths[k], T0_US + duration_us * (uint64_t)(k + 1) / (uint64_t)(num_real_files + 1),
			  &real_pkts);
	if (g->num_real)
		qsort(g->real, g->num_real, sizeof(*g->real), cmp_real);

	obuf = malloc(OUTBUF_SIZE);
	g->out = fopen(path, "wb");
	if (!obuf || !g->out)
		die(path);
	setvbuf(g->out, obuf, _IOFBF, OUTBUF_SIZE);
	h = wr32le(h, 0xa1b2c3d4u);
	h = wr32le(h, 2u | 4u << 16);
	h = wr32le(h, 0);
	h = wr32le(h, 0);
	h = wr32le(h, SNAPLEN);
	wr32le(h, LINKTYPE_ETHERNET);
	write_out(g, hdr, sizeof(hdr));

	/* SYNs and hellos evenly interleaved (event e is a hello when the
	 * hellos' share of the first e+1 events grows past what was sent) */
	for (uint64_t e = 0, hellos = 0; e < num_syn + num_hello; e++) {
		uint64_t want = (e + 1) * num_hello / (num_syn + num_hello);
		if (want > hellos) {
			flood_hello(g, (uint32_t)e);
			hellos++;
		} else {
			flood_syn(g, (uint32_t)e);
		}
	}
	flush_real(g, UINT64_MAX);
	if (fclose(g->out) != 0)
		die("close");
	fprintf(stderr,
		"gen_flood: %s: %llu bytes, %llu packets: %llu SYN tuples, %llu never-finished %s "
		"(%zu of %zu bytes sent, %llu packets each), %llu real packets from %d files; "
		"%.3f s of flood at %llu pps\n",
		path, (unsigned long long)g->bytes, (unsigned long long)g->num_pkts, (unsigned long long)g->num_syn,
		(unsigned long long)g->num_hello, g->http ? "HTTP request heads" : "ClientHellos", g->hello_send, g->hello_total, (unsigned long long)hello_pkts,
		(unsigned long long)real_pkts, num_real_files, (double)duration_us / 1e6,
		(unsigned long long)g->rate);
	for (size_t i = 0; i < g->num_real; i++)
		free(g->real[i].data);
	free(g->real);
	free(g->hello);
	free(obuf);
	return 0;
}
