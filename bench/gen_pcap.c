/*
 * gen_pcap.c - a deterministic synthetic capture for `make bench`.
 *
 *   gen_pcap [--sll2] OUT.pcap SIZE_MB [SEED]
 *
 * Writes a classic pcap (microsecond timestamps, LINKTYPE_ETHERNET, or
 * LINKTYPE_LINUX_SLL2 with --sll2) of at least SIZE_MB * 10^6 bytes, shaped
 * like the node capture of /work/shared/PERF.md: ~1.4 M packets, ~50 k flows
 * and ~30 k TLS flows per GB, ~750 bytes per record on average.
 *
 * Traffic, as seen from an EKS node (the capture point is the client side):
 *  - TLS to a few VPC-endpoint addresses on 443 (and a little on 8443): TCP
 *    handshake, a ClientHello built here (RFC 8446 4.1.2 / RFC 5246 7.4.1.2:
 *    SNI, ciphers, groups, key_share, supported_versions, ALPN, GREASE per
 *    RFC 8701 for one client profile), the server flight, then keep-alive
 *    request/response bursts of application-data records (content type 23),
 *    then close. One tenth of the ClientHellos are split over 2-3 TCP
 *    segments (some split inside the 5-byte record header), a third of those
 *    delivered out of order. A few segments are retransmitted.
 *  - DNS over UDP (A + AAAA, some NXDOMAIN search-path expansions),
 *    IMDS HTTP (token PUT, credential GETs), and bulk TCP with MSS-sized
 *    segments.
 * About 5 % of the flows are IPv6.
 *
 * Determinism: one PRNG (splitmix64) seeded from SEED drives everything and
 * its draws do not depend on SIZE_MB, so the file for a smaller size is a
 * byte-exact prefix of the file for a larger size with the same seed. The
 * capture simply stops mid-traffic, as a real capture cut by size would.
 * TCP/UDP checksums are 0; IPv4 header checksums are correct.
 *
 * Counts go to stderr. Exit 0 on success, 1 on I/O error, 2 on usage error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NUM_SLOTS 256                    /* flows in progress at once */
#define POOL_SIZE (1u << 20)             /* random bytes for payloads */
#define OUTBUF_SIZE (4u << 20)           /* stdio buffer of the output */
#define SNAPLEN 262144u
#define LINKTYPE_ETHERNET 1u
#define LINKTYPE_LINUX_SLL2 276u
#define T0_US 1710417600000000ull        /* 2024-03-14T12:00:00Z */
#define MSS_V4 1460u
#define MSS_V6 1440u

enum { C2S = 0, S2C = 1 };
enum { F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_PSH = 0x08, F_ACK = 0x10 };
enum kind { K_TLS, K_DNS, K_BULK, K_IMDS };

struct buf {
	uint8_t *p;
	size_t len, cap;
};

/* One packet of a flow's script; times are relative to the flow start. */
struct pkt {
	uint64_t t;
	uint32_t off, len; /* payload: bytes [off, off+len) of stream[dir] */
	uint32_t seq, ack;
	uint8_t dir, flags, retrans;
};

struct flow {
	enum kind kind;
	bool v6, udp, split, split_ooo;
	uint8_t cip[16], sip[16], cmac[6];
	uint16_t cport, sport, ipid[2];
	uint32_t ifindex;
	struct buf stream[2];
	struct pkt *pkts;
	size_t num_pkts, cap_pkts, next;
	uint64_t start_us;
	/* builder state */
	uint64_t now;
	uint32_t isn[2], sent[2], fin[2], rtt;
	bool tls13;
};

struct gen {
	uint64_t rng;
	FILE *out;
	uint32_t linktype;
	uint64_t limit, written;
	uint8_t *pool;
	uint8_t frame[16 + 20 + 40 + 60 + 70000];
	struct flow slots[NUM_SLOTS];
	int heap[NUM_SLOTS];
	uint16_t next_port[64];
	/* counts */
	uint64_t num_pkts, num_flows, num_tls, num_split, num_split_ooo;
	uint64_t num_retrans, num_udp, num_v6;
};

static const uint8_t GW_MAC[6] = {0x02, 0x5a, 0x11, 0x00, 0x00, 0x01};

static const char *const SNI_EC2[] = {
	"ec2.us-east-1.amazonaws.com",
	"vpce-0a1b2c3d4e5f60718-k2j9x7yq.ec2.us-east-1.vpce.amazonaws.com",
};
static const char *const SNI_STS[] = {"sts.us-east-1.amazonaws.com", "sts.amazonaws.com"};
static const char *const SNI_SSM[] = {
	"ssm.us-east-1.amazonaws.com", "ssmmessages.us-east-1.amazonaws.com",
	"ec2messages.us-east-1.amazonaws.com",
};
static const char *const SNI_S3[] = {
	"s3.us-east-1.amazonaws.com",
	"application-artifacts-and-build-logs-for-the-platform-team-2024-prod.s3.us-east-1.amazonaws.com",
	"logs.us-east-1.amazonaws.com",
};

struct endpoint {
	uint8_t v4[4];
	const char *const *names;
	unsigned num_names;
};

static const struct endpoint ENDPOINTS[] = {
	{{10, 0, 128, 21}, SNI_EC2, 2},
	{{10, 0, 128, 22}, SNI_STS, 2},
	{{10, 0, 129, 40}, SNI_SSM, 3},
	{{10, 0, 129, 41}, SNI_S3, 3},
};

static const char *const DNS_NAMES[] = {
	"ec2.us-east-1.amazonaws.com", "sts.us-east-1.amazonaws.com",
	"ssm.us-east-1.amazonaws.com", "logs.us-east-1.amazonaws.com",
	"kubernetes.default.svc.cluster.local", "metrics-server.kube-system.svc.cluster.local",
	"orders-db.prod.svc.cluster.local", "registry-1.docker.io",
};

static void die(const char *what)
{
	fprintf(stderr, "gen_pcap: %s: %s\n", what, errno ? strerror(errno) : "failed");
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

/* Uniform in [0, n). */
static uint32_t rnd_below(struct gen *g, uint32_t n)
{
	return (uint32_t)(((rnd(g) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static uint32_t rnd_range(struct gen *g, uint32_t lo, uint32_t hi)
{
	return lo + rnd_below(g, hi - lo + 1);
}

static bool chance(struct gen *g, uint32_t per_mille)
{
	return rnd_below(g, 1000) < per_mille;
}

/* Roughly log-uniform in [lo, hi]: many small values, a few large ones. */
static uint32_t rnd_log(struct gen *g, uint32_t lo, uint32_t hi)
{
	uint32_t v = lo;
	while (v < hi / 2 && chance(g, 500))
		v *= 2;
	return rnd_range(g, v, v * 2 < hi ? v * 2 : hi);
}

/* --- byte writers (big-endian) ------------------------------------------- */

static void buf_reserve(struct buf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len < extra)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		die("out of memory");
	b->p = p;
	b->cap = cap;
}

static void put_u8(struct buf *b, uint32_t v)
{
	buf_reserve(b, 1);
	b->p[b->len++] = (uint8_t)v;
}

static void put_u16(struct buf *b, uint32_t v)
{
	put_u8(b, v >> 8);
	put_u8(b, v);
}

/* n 16-bit values given as unsigned arguments. */
static void put_u16v(struct buf *b, int n, ...)
{
	va_list ap;
	va_start(ap, n);
	while (n-- > 0)
		put_u16(b, va_arg(ap, unsigned));
	va_end(ap);
}

static void put_u16a(struct buf *b, const uint16_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_u16(b, v[i]);
}

static void put_zero(struct buf *b, size_t n)
{
	buf_reserve(b, n);
	memset(b->p + b->len, 0, n);
	b->len += n;
}

static void put_bytes(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* n pseudo-random bytes, copied from the pool at a random offset. */
static void put_rand(struct gen *g, struct buf *b, size_t n)
{
	while (n) {
		size_t off = rnd_below(g, POOL_SIZE / 2);
		size_t k = n < POOL_SIZE / 2 ? n : POOL_SIZE / 2;
		put_bytes(b, g->pool + off, k);
		n -= k;
	}
}

/* Opens a length field of `width` bytes; len_close() fills it in. */
static size_t len_open(struct buf *b, unsigned width)
{
	size_t pos = b->len;
	put_zero(b, width);
	return pos;
}

static void len_close(struct buf *b, size_t pos, unsigned width)
{
	size_t n = b->len - pos - width;
	for (unsigned i = 0; i < width; i++)
		b->p[pos + i] = (uint8_t)(n >> (8 * (width - 1 - i)));
}

/* Fixed-size writers for frame headers. */
static uint8_t *wr16(uint8_t *p, uint32_t v)
{
	*p++ = (uint8_t)(v >> 8);
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *wr32(uint8_t *p, uint32_t v)
{
	p = wr16(p, v >> 16);
	return wr16(p, v);
}

static uint8_t *wr32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

/* --- flow scripts -------------------------------------------------------- */

static void add_pkt(struct flow *f, uint8_t dir, uint8_t flags, uint32_t off, uint32_t len,
		    uint32_t seq)
{
	if (f->num_pkts == f->cap_pkts) {
		size_t cap = f->cap_pkts ? f->cap_pkts * 2 : 64;
		struct pkt *p = realloc(f->pkts, cap * sizeof *p);
		if (!p)
			die("out of memory");
		f->pkts = p;
		f->cap_pkts = cap;
	}
	uint8_t o = (uint8_t)(1 - dir);
	struct pkt *p = &f->pkts[f->num_pkts++];
	p->t = f->now;
	p->dir = dir;
	p->flags = flags;
	p->off = off;
	p->len = len;
	p->seq = seq;
	p->ack = (flags & F_ACK) ? f->isn[o] + 1 + f->sent[o] + f->fin[o] : 0;
	p->retrans = 0;
}

/* A TCP segment carrying stream[dir] bytes [off, off+len) (RFC 9293 3.4). */
static void tcp_seg(struct flow *f, uint8_t dir, uint8_t flags, uint32_t off, uint32_t len)
{
	add_pkt(f, dir, flags, off, len, f->isn[dir] + 1 + off);
	if (off + len > f->sent[dir])
		f->sent[dir] = off + len;
}

static void tcp_flag(struct flow *f, uint8_t dir, uint8_t flags)
{
	if (flags & F_SYN) {
		add_pkt(f, dir, flags, 0, 0, f->isn[dir]);
		return;
	}
	add_pkt(f, dir, flags, f->sent[dir], 0, f->isn[dir] + 1 + f->sent[dir] + f->fin[dir]);
	if (flags & F_FIN)
		f->fin[dir] = 1;
}

/* The last packet again, RTO later (lost after the capture point). */
static void maybe_retransmit(struct gen *g, struct flow *f, uint32_t per_mille)
{
	if (!chance(g, per_mille))
		return;
	struct pkt copy = f->pkts[f->num_pkts - 1];
	f->now += rnd_range(g, 200000, 260000);
	add_pkt(f, copy.dir, copy.flags, copy.off, copy.len, copy.seq);
	f->pkts[f->num_pkts - 1].ack = copy.ack;
	f->pkts[f->num_pkts - 1].retrans = 1;
}

/* Sends the unsent bytes of stream[dir] in MSS segments. The capture point
 * is the client: the client ACKs server data every second segment; a server
 * ACK for client data shows up one RTT later unless `reply_next` says the
 * receiver answers with data at once (the ACK rides on the answer). */
static void send_data(struct gen *g, struct flow *f, uint8_t dir, bool reply_next)
{
	uint32_t mss = f->v6 ? MSS_V6 : MSS_V4;
	uint32_t end = (uint32_t)f->stream[dir].len;
	unsigned nseg = 0;
	while (f->sent[dir] < end) {
		uint32_t off = f->sent[dir];
		uint32_t n = end - off < mss ? end - off : mss;
		uint8_t flags = (uint8_t)(F_ACK | (off + n == end ? F_PSH : 0));
		tcp_seg(f, dir, flags, off, n);
		maybe_retransmit(g, f, 3);
		nseg++;
		f->now += rnd_range(g, 8, 40);
		if (dir == S2C && nseg % 2 == 0 && off + n < end) {
			f->now += rnd_range(g, 10, 60);
			tcp_flag(f, C2S, F_ACK);
		}
	}
	if (reply_next)
		return;
	f->now += dir == S2C ? rnd_range(g, 40, 40000) : f->rtt;
	tcp_flag(f, (uint8_t)(1 - dir), F_ACK);
}

static void tcp_open(struct gen *g, struct flow *f)
{
	f->isn[C2S] = (uint32_t)rnd(g);
	f->isn[S2C] = (uint32_t)rnd(g);
	tcp_flag(f, C2S, F_SYN);
	if (chance(g, 5)) { /* SYN lost beyond the capture point */
		f->now += 1000000;
		tcp_flag(f, C2S, F_SYN);
		f->pkts[f->num_pkts - 1].retrans = 1;
	}
	f->now += f->rtt;
	tcp_flag(f, S2C, F_SYN | F_ACK); /* acknowledges the SYN: isn + 1 */
	f->now += rnd_range(g, 10, 60);
	tcp_flag(f, C2S, F_ACK);
}

/* Closes the connection: client FIN (most), server FIN after idle, or RST. */
static void tcp_close(struct gen *g, struct flow *f)
{
	uint32_t how = rnd_below(g, 100);
	if (how < 85) {
		f->now += rnd_range(g, 100, 200000);
		tcp_flag(f, C2S, F_FIN | F_ACK);
		f->now += f->rtt;
		tcp_flag(f, S2C, F_FIN | F_ACK);
		f->now += rnd_range(g, 10, 60);
		tcp_flag(f, C2S, F_ACK);
	} else if (how < 95) {
		f->now += rnd_range(g, 2000000, 20000000);
		tcp_flag(f, S2C, F_FIN | F_ACK);
		f->now += rnd_range(g, 10, 80);
		tcp_flag(f, C2S, F_FIN | F_ACK);
		f->now += f->rtt;
		tcp_flag(f, S2C, F_ACK);
	} else {
		f->now += rnd_range(g, 100, 500000);
		tcp_flag(f, C2S, F_RST | F_ACK);
	}
}

/* --- TLS (RFC 8446, RFC 5246) --------------------------------------------- */

static uint32_t grease(struct gen *g)
{
	return 0x0a0au + 0x1010u * rnd_below(g, 16); /* RFC 8701 section 2 */
}

/* Appends a TLS record of `type` around the bytes writer() adds. */
static size_t rec_open(struct buf *b, uint32_t type, uint32_t version)
{
	put_u8(b, type);
	put_u16(b, version);
	return len_open(b, 2);
}

static size_t hs_open(struct buf *b, uint32_t type)
{
	put_u8(b, type);
	return len_open(b, 3);
}

/* A record of n random bytes: what an encrypted message looks like. */
static void put_record_rand(struct gen *g, struct buf *b, uint32_t type, uint32_t n)
{
	put_u8(b, type);
	put_u16v(b, 2, 0x0303, n);
	put_rand(g, b, n);
}

/* Application data: `plain` bytes of plaintext in records of at most 2^14
 * (RFC 8446 5.1) plus the AEAD expansion (1.3: type + tag; 1.2 GCM:
 * explicit nonce + tag). */
static void put_appdata(struct gen *g, struct flow *f, uint8_t dir, uint32_t plain)
{
	struct buf *b = &f->stream[dir];
	uint32_t over = f->tls13 ? 17 : 24;
	do {
		uint32_t n = plain < 16384 ? plain : 16384;
		put_record_rand(g, b, 23, n + over);
		plain -= n;
	} while (plain);
}

static void ext_empty(struct buf *b, uint32_t type)
{
	put_u16v(b, 2, type, 0);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
static const char CCS[] = "\x14\x03\x03\x00\x01\x01"; /* ChangeCipherSpec record */

/* ClientHello, RFC 8446 4.1.2; extension bodies per RFC 6066 3 (SNI),
 * RFC 8422 5.1 (groups, point formats), RFC 7301 3.1 (ALPN), RFC 8446
 * 4.2.1/4.2.3/4.2.8/4.2.9, RFC 7685 (padding). Profile 0: browser-like with
 * GREASE and padding; 1: OpenSSL-based SDK offering 1.3; 2: TLS 1.2 only. */
static void put_client_hello(struct gen *g, struct flow *f, const char *sni, unsigned profile)
{
	struct buf *b = &f->stream[C2S];
	bool gr = profile == 0, v13 = profile != 2;
	size_t rec = rec_open(b, 22, 0x0301);
	size_t hs = hs_open(b, 1);
	put_u16(b, 0x0303);
	put_rand(g, b, 32);
	if (v13 || chance(g, 200)) {
		put_u8(b, 32);
		put_rand(g, b, 32);
	} else {
		put_u8(b, 0);
	}
	static const uint16_t suites13[] = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c,
					    0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
					    0x009d, 0x002f, 0x0035};
	static const uint16_t suites12[] = {0xc02f, 0xc030, 0xc02b, 0xc02c, 0xc027, 0xc028,
					    0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
					    0x00ff};
	size_t l = len_open(b, 2);
	if (gr)
		put_u16(b, grease(g));
	put_u16a(b, v13 ? suites13 : suites12, v13 ? COUNT(suites13) : COUNT(suites12));
	len_close(b, l, 2);
	put_u16(b, 0x0100); /* compression methods: null only */

	size_t exts = len_open(b, 2);
	if (gr)
		ext_empty(b, grease(g));
	put_u16(b, 0); /* server_name */
	size_t e = len_open(b, 2);
	size_t list = len_open(b, 2);
	put_u8(b, 0); /* host_name */
	put_u16(b, (uint32_t)strlen(sni));
	put_bytes(b, sni, strlen(sni));
	len_close(b, list, 2);
	len_close(b, e, 2);
	ext_empty(b, 23); /* extended_master_secret */
	put_bytes(b, "\xff\x01\x00\x01\x00", 5); /* renegotiation_info */
	put_u16(b, 10); /* supported_groups */
	e = len_open(b, 2);
	list = len_open(b, 2);
	if (gr)
		put_u16(b, grease(g));
	put_u16v(b, 3, 0x001d, 0x0017, 0x0018);
	len_close(b, list, 2);
	len_close(b, e, 2);
	put_bytes(b, "\x00\x0b\x00\x02\x01\x00", 6); /* ec_point_formats */
	ext_empty(b, 35); /* session_ticket */
	if (profile == 0 || (profile == 1 && chance(g, 500))) {
		put_u16(b, 16); /* ALPN */
		e = len_open(b, 2);
		list = len_open(b, 2);
		if (profile == 0) {
			put_u8(b, 2);
			put_bytes(b, "h2", 2);
		}
		put_u8(b, 8);
		put_bytes(b, "http/1.1", 8);
		len_close(b, list, 2);
		len_close(b, e, 2);
	}
	if (profile == 0) /* status_request: OCSP, empty lists */
		put_bytes(b, "\x00\x05\x00\x05\x01\x00\x00\x00\x00", 9);
	static const uint16_t sigalgs[] = {0x0403, 0x0804, 0x0401, 0x0503,
					   0x0805, 0x0501, 0x0806, 0x0601};
	put_u16(b, 13); /* signature_algorithms */
	e = len_open(b, 2);
	list = len_open(b, 2);
	put_u16a(b, sigalgs, COUNT(sigalgs));
	len_close(b, list, 2);
	len_close(b, e, 2);
	if (v13) {
		put_u16(b, 51); /* key_share */
		e = len_open(b, 2);
		list = len_open(b, 2);
		if (gr) {
			put_u16v(b, 2, grease(g), 1);
			put_u8(b, 0);
		}
		put_u16v(b, 2, 0x001d, 32);
		put_rand(g, b, 32);
		len_close(b, list, 2);
		len_close(b, e, 2);
		put_bytes(b, "\x00\x2d\x00\x02\x01\x01", 6); /* psk_key_exchange_modes */
		put_u16(b, 43); /* supported_versions */
		e = len_open(b, 2);
		list = len_open(b, 1);
		if (gr)
			put_u16(b, grease(g));
		put_u16v(b, 2, 0x0304, 0x0303);
		len_close(b, list, 1);
		len_close(b, e, 2);
	}
	if (gr) {
		ext_empty(b, grease(g));
		size_t have = b->len - hs + 4; /* RFC 7685 4: pad up to 512 */
		if (have < 512) {
			put_u16v(b, 2, 21, (unsigned)(512 - have));
			put_zero(b, 512 - have);
		}
	}
	len_close(b, exts, 2);
	len_close(b, hs, 3);
	len_close(b, rec, 2);
}

/* ServerHello (RFC 8446 4.1.3) and the rest of the server's first flight. */
static void put_server_flight(struct gen *g, struct flow *f, const uint8_t *sid, size_t sid_len)
{
	struct buf *b = &f->stream[S2C];
	size_t rec = rec_open(b, 22, 0x0303);
	size_t hs = hs_open(b, 2);
	put_u16(b, 0x0303);
	put_rand(g, b, 32);
	put_u8(b, (uint32_t)sid_len);
	put_bytes(b, sid, sid_len);
	if (f->tls13)
		put_u16(b, chance(g, 800) ? 0x1301 : 0x1302);
	else
		put_u16(b, chance(g, 700) ? 0xc02f : 0xc030);
	put_u8(b, 0);
	size_t exts = len_open(b, 2);
	if (f->tls13) {
		/* supported_versions: 1.3; key_share: x25519 */
		put_u16v(b, 7, 43, 2, 0x0304, 51, 36, 0x001d, 32);
		put_rand(g, b, 32);
	} else { /* renegotiation_info, ec_point_formats, extended_master_secret */
		put_bytes(b, "\xff\x01\x00\x01\x00\x00\x0b\x00\x02\x01\x00\x00\x17\x00\x00", 15);
	}
	len_close(b, exts, 2);
	len_close(b, hs, 3);
	len_close(b, rec, 2);
	if (f->tls13) {
		/* RFC 8446 D.4 compatibility CCS, then the encrypted
		 * EncryptedExtensions..Finished as one application-data record. */
		put_bytes(b, CCS, 6);
		put_appdata(g, f, S2C, rnd_range(g, 2800, 4800));
		return;
	}
	rec = rec_open(b, 22, 0x0303);
	hs = hs_open(b, 11); /* Certificate: leaf + intermediate (RFC 5246 7.4.2) */
	size_t certs = len_open(b, 3);
	for (int i = 0; i < 2; i++) {
		size_t c = len_open(b, 3);
		uint32_t n = rnd_range(g, 1000, 1600);
		put_u16v(b, 2, 0x3082, n); /* DER SEQUENCE header; the body is filler */
		put_rand(g, b, n);
		len_close(b, c, 3);
	}
	len_close(b, certs, 3);
	len_close(b, hs, 3);
	hs = hs_open(b, 12); /* ServerKeyExchange, ECDHE (RFC 8422 5.4) */
	put_bytes(b, "\x03\x00\x1d\x20", 4); /* named_curve x25519, 32-byte point */
	put_rand(g, b, 32);
	put_u16v(b, 2, 0x0804, 256); /* rsa_pss_rsae_sha256, 256-byte signature */
	put_rand(g, b, 256);
	len_close(b, hs, 3);
	hs = hs_open(b, 14); /* ServerHelloDone */
	len_close(b, hs, 3);
	len_close(b, rec, 2);
}

static void build_tls(struct gen *g, struct flow *f, const char *sni)
{
	unsigned profile = rnd_below(g, 100) < 20 ? 0 : rnd_below(g, 100) < 66 ? 1 : 2;
	f->tls13 = profile != 2;
	tcp_open(g, f);
	f->now += rnd_range(g, 30, 400);

	put_client_hello(g, f, sni, profile);
	uint32_t ch_len = (uint32_t)f->stream[C2S].len;
	uint8_t sid[32];
	size_t sid_len = f->stream[C2S].p[43]; /* our own bytes: legacy_session_id */
	memcpy(sid, f->stream[C2S].p + 44, sid_len);
	if (f->split) {
		/* 2 or 3 pieces; a third of the first cuts fall inside the 5-byte
		 * record header; a third of the splits arrive out of order. */
		uint32_t cut[4] = {0, 0, 0, ch_len};
		unsigned pieces = chance(g, 500) ? 3 : 2;
		cut[1] = chance(g, 333) ? rnd_range(g, 1, 4) : rnd_range(g, 5, ch_len / 2);
		cut[2] = pieces == 3 ? rnd_range(g, cut[1] + 1, ch_len - 1) : ch_len;
		static const unsigned orders[3][3] = {{0, 1, 2}, {1, 0, 2}, {2, 0, 1}};
		unsigned o = !f->split_ooo ? 0 : pieces == 3 && chance(g, 500) ? 2 : 1;
		for (unsigned i = 0; i < pieces; i++) {
			unsigned k = orders[o][i];
			uint32_t hi = k + 1 < pieces ? cut[k + 1] : ch_len;
			tcp_seg(f, C2S, F_ACK | F_PSH, cut[k], hi - cut[k]);
			f->now += rnd_range(g, 5, 300);
		}
	} else {
		send_data(g, f, C2S, true);
	}
	f->now += f->rtt + rnd_range(g, 200, 2500);
	put_server_flight(g, f, sid, sid_len);
	send_data(g, f, S2C, true);
	f->now += rnd_range(g, 150, 1200);
	struct buf *c = &f->stream[C2S];
	if (f->tls13) {
		put_bytes(c, CCS, 6);
		put_appdata(g, f, C2S, 36); /* Finished */
		send_data(g, f, C2S, false);
		f->now += rnd_range(g, 50, 500);
		put_appdata(g, f, S2C, rnd_range(g, 180, 260)); /* NewSessionTicket */
		if (chance(g, 500))
			put_appdata(g, f, S2C, rnd_range(g, 180, 260));
	} else {
		size_t r = rec_open(c, 22, 0x0303);
		size_t h = hs_open(c, 16); /* ClientKeyExchange (RFC 8422 5.7) */
		put_u8(c, 32);
		put_rand(g, c, 32);
		len_close(c, h, 3);
		len_close(c, r, 2);
		put_bytes(c, CCS, 6);
		put_record_rand(g, c, 22, 40); /* encrypted Finished */
		send_data(g, f, C2S, true);
		f->now += f->rtt + rnd_range(g, 100, 800);
		struct buf *s = &f->stream[S2C];
		size_t hs = rec_open(s, 22, 0x0303);
		size_t t = hs_open(s, 4); /* NewSessionTicket (RFC 5077 3.3) */
		put_u16v(s, 3, 0, 0x1c20, 192); /* lifetime 7200 s, ticket length */
		put_rand(g, s, 192);
		len_close(s, t, 3);
		len_close(s, hs, 2);
		put_bytes(s, CCS, 6);
		put_record_rand(g, s, 22, 40);
	}
	send_data(g, f, S2C, false);

	/* Keep-alive bursts: one API call each (request, answer, ACKs). */
	unsigned bursts = chance(g, 50) ? 0 : rnd_range(g, 1, 5);
	for (unsigned i = 0; i < bursts; i++) {
		f->now += i == 0 ? rnd_range(g, 100, 5000) : rnd_log(g, 50000, 6000000);
		put_appdata(g, f, C2S, rnd_range(g, 500, 1500));
		if (chance(g, 150))
			put_appdata(g, f, C2S, rnd_log(g, 100, 12000)); /* a body */
		send_data(g, f, C2S, true);
		f->now += f->rtt + rnd_log(g, 2000, 150000);
		put_appdata(g, f, S2C, rnd_range(g, 200, 600)); /* headers */
		if (chance(g, 800))
			put_appdata(g, f, S2C, rnd_log(g, 500, 48000)); /* body */
		send_data(g, f, S2C, false);
	}
	if (bursts) { /* close_notify alert (encrypted) */
		put_record_rand(g, &f->stream[C2S], f->tls13 ? 23 : 21, f->tls13 ? 19 : 26);
		f->now += rnd_range(g, 1000, 100000);
		send_data(g, f, C2S, true);
	}
	tcp_close(g, f);
}

/* --- other traffic ------------------------------------------------------- */

static void put_dns_name(struct buf *b, const char *name)
{
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		put_u8(b, (uint32_t)n);
		put_bytes(b, p, n);
		p += n + (dot ? 1 : 0);
	}
	put_u8(b, 0);
}

/* One UDP exchange: a query and its answer (RFC 1035 4.1). */
static void dns_exchange(struct gen *g, struct flow *f, const char *name, uint32_t qtype)
{
	bool nx = strstr(name, ".svc.cluster.local.") != NULL;
	uint32_t id = rnd_below(g, 65536);
	struct buf *q = &f->stream[C2S], *r = &f->stream[S2C];
	uint32_t qoff = (uint32_t)q->len, roff = (uint32_t)r->len;
	put_u16v(q, 6, id, 0x0100, 1, 0, 0, 0); /* RD, one question */
	put_dns_name(q, name);
	put_u16v(q, 2, qtype, 1);
	add_pkt(f, C2S, 0, qoff, (uint32_t)q->len - qoff, 0);
	f->now += rnd_log(g, 200, 20000);
	uint32_t answers = nx ? 0 : rnd_range(g, 1, 3);
	put_u16v(r, 6, id, nx ? 0x8183u : 0x8180u, 1, answers, 0, 0);
	put_dns_name(r, name);
	put_u16v(r, 2, qtype, 1);
	for (uint32_t i = 0; i < answers; i++) {
		/* name: pointer to the question (4.1.4); class IN; TTL 60 */
		put_u16v(r, 6, 0xc00c, qtype, 1, 0, 60, qtype == 1 ? 4u : 16u);
		if (qtype == 1) {
			put_u16v(r, 2, 0x0a00, rnd_below(g, 65536));
		} else {
			put_u16(r, 0xfd00);
			put_rand(g, r, 14);
		}
	}
	add_pkt(f, S2C, 0, roff, (uint32_t)r->len - roff, 0);
	f->now += rnd_range(g, 20, 300);
}

static void build_dns(struct gen *g, struct flow *f)
{
	const char *name = DNS_NAMES[rnd_below(g, sizeof DNS_NAMES / sizeof DNS_NAMES[0])];
	char expanded[256];
	if (chance(g, 200)) { /* ndots:5 search-path expansion, answered NXDOMAIN */
		snprintf(expanded, sizeof expanded, "%s.default.svc.cluster.local.", name);
		name = expanded;
	}
	dns_exchange(g, f, name, 1);
	if (chance(g, 700))
		dns_exchange(g, f, name, 28);
}

/* IMDSv2 (169.254.169.254:80): token PUT, then credential GETs. */
static void build_imds(struct gen *g, struct flow *f)
{
	static const char *const ua[] = {
		"aws-sdk-go/1.44.122 (go1.20.4; linux; amd64)",
		"Boto3/1.28.40 md/Botocore#1.31.40 ua/2.0 os/linux#5.10.192 lang/python#3.11.4",
		"aws-sdk-java/2.20.26 Linux/5.10.192 OpenJDK_64-Bit_Server_VM/17.0.8",
	};
	const char *agent = ua[rnd_below(g, 3)];
	char text[1024], token[57];
	for (int i = 0; i < 56; i++)
		token[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[rnd_below(g, 62)];
	token[56] = '\0';
	tcp_open(g, f);
	int n = snprintf(text, sizeof text,
			 "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"
			 "User-Agent: %s\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"
			 "Content-Length: 0\r\n\r\n", agent);
	put_bytes(&f->stream[C2S], text, (size_t)n);
	send_data(g, f, C2S, true);
	f->now += f->rtt + rnd_range(g, 100, 900);
	n = snprintf(text, sizeof text,
		     "HTTP/1.1 200 OK\r\nX-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600\r\n"
		     "Content-Length: 56\r\nServer: EC2ws\r\n\r\n%s", token);
	put_bytes(&f->stream[S2C], text, (size_t)n);
	send_data(g, f, S2C, false);
	static const char *const paths[] = {"/latest/meta-data/iam/security-credentials/",
					    "/latest/meta-data/iam/security-credentials/eks-node-role"};
	for (int i = 0; i < 2; i++) {
		f->now += rnd_range(g, 200, 3000);
		n = snprintf(text, sizeof text,
			     "GET %s HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: %s\r\n"
			     "X-aws-ec2-metadata-token: %s\r\n\r\n", paths[i], agent, token);
		put_bytes(&f->stream[C2S], text, (size_t)n);
		send_data(g, f, C2S, true);
		f->now += f->rtt + rnd_range(g, 100, 900);
		uint32_t body = i == 0 ? 13 : 1310;
		n = snprintf(text, sizeof text,
			     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %u\r\n"
			     "Server: EC2ws\r\n\r\n", (unsigned)body);
		put_bytes(&f->stream[S2C], text, (size_t)n);
		put_rand(g, &f->stream[S2C], body);
		send_data(g, f, S2C, false);
	}
	tcp_close(g, f);
}

/* Bulk TCP: small requests, answers of many MSS-sized segments. */
static void build_bulk(struct gen *g, struct flow *f)
{
	tcp_open(g, f);
	unsigned rounds = rnd_range(g, 1, 2);
	for (unsigned i = 0; i < rounds; i++) {
		f->now += rnd_range(g, 50, 200000);
		put_rand(g, &f->stream[C2S], rnd_range(g, 60, 400));
		send_data(g, f, C2S, true);
		f->now += f->rtt + rnd_range(g, 100, 5000);
		put_rand(g, &f->stream[S2C], rnd_log(g, 10000, 1000000));
		send_data(g, f, S2C, false);
	}
	tcp_close(g, f);
}

/* Picks the next flow of a slot and writes its script. */
static void new_flow(struct gen *g, struct flow *f, uint64_t start_us)
{
	f->start_us = start_us;
	f->num_pkts = f->next = 0;
	f->stream[0].len = f->stream[1].len = 0;
	f->now = 0;
	f->tls13 = false;
	f->sent[0] = f->sent[1] = f->fin[0] = f->fin[1] = 0;
	f->rtt = rnd_range(g, 150, 1500);
	f->v6 = chance(g, 50);
	f->udp = f->split = f->split_ooo = false;
	f->ipid[0] = (uint16_t)rnd(g);
	f->ipid[1] = (uint16_t)rnd(g);
	uint32_t who = rnd_below(g, 41); /* 0: the node itself, else a pod */
	f->ifindex = who ? 10 + who : 2;
	memset(f->cip, 0, 16);
	memset(f->sip, 0, 16);
	uint8_t v4c[4] = {10, 0, (uint8_t)(who ? 3 : 0), (uint8_t)(who ? 10 + who : 10)};
	memcpy(f->cmac, "\x02\x42\x0a\x00", 4);
	f->cmac[4] = v4c[2];
	f->cmac[5] = v4c[3];
	uint16_t *np = &g->next_port[who];
	*np = (uint16_t)(*np + rnd_range(g, 1, 7));
	if (*np < 32768 || *np > 60999)
		*np = (uint16_t)rnd_range(g, 32768, 40000);
	f->cport = *np;

	uint32_t k = rnd_below(g, 1000);
	uint8_t v4s[4];
	const char *sni = NULL;
	if (k < 600) {
		f->kind = K_TLS;
		const struct endpoint *ep = &ENDPOINTS[rnd_below(g, 4)];
		memcpy(v4s, ep->v4, 4);
		sni = ep->names[rnd_below(g, ep->num_names)];
		f->sport = 443;
		if (chance(g, 30)) { /* in-cluster TLS on another port */
			uint8_t svc[4] = {10, 0, 6, (uint8_t)rnd_range(g, 10, 20)};
			memcpy(v4s, svc, 4);
			sni = "internal-api.prod.svc.cluster.local";
			f->sport = 8443;
		}
		f->split = chance(g, 100);
		f->split_ooo = f->split && chance(g, 333);
	} else if (k < 860) {
		f->kind = K_DNS;
		f->udp = true;
		uint8_t res[4] = {10, 0, 0, 2};
		memcpy(v4s, res, 4);
		f->sport = 53;
	} else if (k < 965) {
		f->kind = K_BULK;
		static const uint16_t ports[] = {5432, 6379, 8080, 9000, 2049, 9092};
		uint8_t srv[4] = {10, 0, 5, (uint8_t)rnd_range(g, 10, 60)};
		memcpy(v4s, srv, 4);
		f->sport = ports[rnd_below(g, 6)];
	} else {
		f->kind = K_IMDS;
		uint8_t imds[4] = {169, 254, 169, 254};
		memcpy(v4s, imds, 4);
		f->sport = 80;
		f->v6 = false;
	}
	if (f->v6) { /* fd00:10::/64 ULA plan mirroring the v4 one */
		uint8_t c6[16] = {0xfd, 0, 0, 0x10, 0, v4c[2], 0, 0, 0, 0, 0, 0, 0, 0, 0, v4c[3]};
		uint8_t s6[16] = {0xfd, 0, 0, 0x10, 0, v4s[2], 0, 0, 0, 0, 0, 0, 0, 0, 0, v4s[3]};
		memcpy(f->cip, c6, 16);
		memcpy(f->sip, s6, 16);
	} else {
		memcpy(f->cip, v4c, 4);
		memcpy(f->sip, v4s, 4);
	}
	switch (f->kind) {
	case K_TLS: build_tls(g, f, sni); break;
	case K_DNS: build_dns(g, f); break;
	case K_BULK: build_bulk(g, f); break;
	case K_IMDS: build_imds(g, f); break;
	}
}

/* --- output -------------------------------------------------------------- */

static void write_out(struct gen *g, const void *p, size_t n)
{
	if (fwrite(p, 1, n, g->out) != n)
		die("write");
	g->written += n;
}

static uint32_t ip4_csum(const uint8_t *h)
{
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

static void emit(struct gen *g, struct flow *f, const struct pkt *p)
{
	uint8_t *fr = g->frame + 16, *q = fr;
	const uint8_t *src = p->dir == C2S ? f->cip : f->sip;
	const uint8_t *dst = p->dir == C2S ? f->sip : f->cip;
	uint32_t ethertype = f->v6 ? 0x86dd : 0x0800;
	if (g->linktype == LINKTYPE_ETHERNET) {
		memcpy(q, p->dir == C2S ? GW_MAC : f->cmac, 6);
		memcpy(q + 6, p->dir == C2S ? f->cmac : GW_MAC, 6);
		q = wr16(q + 12, ethertype);
	} else { /* LINKTYPE_LINUX_SLL2 header, 20 bytes */
		q = wr16(q, ethertype);
		q = wr16(q, 0);
		q = wr32(q, f->ifindex);
		q = wr16(q, 1); /* ARPHRD_ETHER */
		*q++ = p->dir == C2S ? 4 : 0; /* PACKET_OUTGOING / PACKET_HOST */
		*q++ = 6;
		memcpy(q, p->dir == C2S ? f->cmac : GW_MAC, 6);
		q[6] = q[7] = 0;
		q += 8;
	}
	bool syn = (p->flags & F_SYN) != 0;
	uint32_t l4 = f->udp ? 8 : syn ? 32 : 20;
	uint32_t l4len = l4 + p->len;
	uint8_t proto = f->udp ? 17 : 6;
	if (f->v6) {
		q = wr32(q, 0x60000000u);
		q = wr16(q, l4len);
		*q++ = proto;
		*q++ = 64;
		memcpy(q, src, 16);
		memcpy(q + 16, dst, 16);
		q += 32;
	} else {
		uint8_t *ip = q;
		*q++ = 0x45;
		*q++ = 0;
		q = wr16(q, 20 + l4len);
		q = wr16(q, f->ipid[p->dir]++);
		q = wr16(q, 0x4000);
		*q++ = p->dir == C2S ? 64 : 254;
		*q++ = proto;
		q = wr16(q, 0);
		memcpy(q, src, 4);
		memcpy(q + 4, dst, 4);
		q += 8;
		wr16(ip + 10, ip4_csum(ip));
	}
	uint16_t sport = p->dir == C2S ? f->cport : f->sport;
	uint16_t dport = p->dir == C2S ? f->sport : f->cport;
	q = wr16(q, sport);
	q = wr16(q, dport);
	if (f->udp) {
		q = wr16(q, l4len);
		q = wr16(q, 0);
	} else {
		q = wr32(q, p->seq);
		q = wr32(q, p->ack);
		*q++ = (uint8_t)((l4 / 4) << 4);
		*q++ = p->flags;
		q = wr16(q, syn ? 64240 : 502);
		q = wr32(q, 0); /* checksum 0, urgent pointer 0 */
		if (syn) { /* MSS, SACK permitted, NOP, window scale 7 (RFC 9293 3.1) */
			static const uint8_t opt[12] = {2, 4, 0, 0, 4, 2, 1, 1, 1, 3, 3, 7};
			memcpy(q, opt, 12);
			wr16(q + 2, f->v6 ? MSS_V6 : MSS_V4);
			q += 12;
		}
	}
	if (p->len) {
		memcpy(q, f->stream[p->dir].p + p->off, p->len);
		q += p->len;
	}
	uint32_t caplen = (uint32_t)(q - fr);
	uint64_t ts = f->start_us + p->t;
	uint8_t *h = g->frame;
	h = wr32le(h, (uint32_t)(ts / 1000000));
	h = wr32le(h, (uint32_t)(ts % 1000000));
	h = wr32le(h, caplen);
	wr32le(h, caplen);
	write_out(g, g->frame, 16 + caplen);

	g->num_pkts++;
	g->num_retrans += p->retrans;
	if (f->next == 0) {
		g->num_flows++;
		g->num_tls += f->kind == K_TLS;
		g->num_split += f->split;
		g->num_split_ooo += f->split_ooo;
		g->num_udp += f->udp;
		g->num_v6 += f->v6;
	}
}

static uint64_t key(const struct gen *g, int i)
{
	const struct flow *f = &g->slots[i];
	return f->start_us + f->pkts[f->next].t;
}

static void sift_down(struct gen *g, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < NUM_SLOTS && key(g, g->heap[l]) < key(g, g->heap[m]))
			m = l;
		if (r < NUM_SLOTS && key(g, g->heap[r]) < key(g, g->heap[m]))
			m = r;
		if (m == i)
			return;
		int t = g->heap[i];
		g->heap[i] = g->heap[m];
		g->heap[m] = t;
		i = m;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: gen_pcap [--sll2] OUT.pcap SIZE_MB [SEED]\n");
	exit(2);
}

static unsigned long long parse_num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	static struct gen gen;
	struct gen *g = &gen;
	int a = 1;
	g->linktype = LINKTYPE_ETHERNET;
	if (a < argc && strcmp(argv[a], "--sll2") == 0) {
		g->linktype = LINKTYPE_LINUX_SLL2;
		a++;
	}
	if (argc - a < 2 || argc - a > 3)
		usage();
	const char *path = argv[a];
	g->limit = parse_num(argv[a + 1]) * 1000000ull;
	g->rng = argc - a == 3 ? parse_num(argv[a + 2]) : 1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	g->pool = malloc(POOL_SIZE);
	char *obuf = malloc(OUTBUF_SIZE);
	if (!g->pool || !obuf)
		die("out of memory");
	for (size_t i = 0; i < POOL_SIZE; i += 8) {
		uint64_t v = rnd(g);
		memcpy(g->pool + i, &v, 8);
	}
	g->out = fopen(path, "wb");
	if (!g->out)
		die(path);
	setvbuf(g->out, obuf, _IOFBF, OUTBUF_SIZE);

	uint8_t hdr[24], *h = hdr; /* pcap file header, little-endian */
	h = wr32le(h, 0xa1b2c3d4u);
	h = wr32le(h, 2u | 4u << 16);
	h = wr32le(h, 0);
	h = wr32le(h, 0);
	h = wr32le(h, SNAPLEN);
	wr32le(h, g->linktype);
	write_out(g, hdr, sizeof hdr);

	for (int i = 0; i < NUM_SLOTS; i++) {
		new_flow(g, &g->slots[i], T0_US + rnd_below(g, 2000000));
		g->heap[i] = i;
	}
	for (int i = NUM_SLOTS / 2 - 1; i >= 0; i--)
		sift_down(g, i);
	while (g->written < g->limit) {
		struct flow *f = &g->slots[g->heap[0]];
		emit(g, f, &f->pkts[f->next]);
		if (++f->next == f->num_pkts)
			new_flow(g, f, f->start_us + f->pkts[f->num_pkts - 1].t +
					       rnd_log(g, 1000, 400000));
		sift_down(g, 0);
	}
	if (fclose(g->out) != 0)
		die("close");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr,
		"gen_pcap: %s: %llu bytes, %llu packets, %llu flows (%llu TLS, %llu UDP, %llu IPv6), "
		"%llu split ClientHellos (%llu out of order), %llu retransmissions; "
		"%.1f MB/s\n",
		path, (unsigned long long)g->written, (unsigned long long)g->num_pkts,
		(unsigned long long)g->num_flows, (unsigned long long)g->num_tls,
		(unsigned long long)g->num_udp, (unsigned long long)g->num_v6,
		(unsigned long long)g->num_split, (unsigned long long)g->num_split_ooo,
		(unsigned long long)g->num_retrans, secs > 0 ? (double)g->written / 1e6 / secs : 0.0);
	for (int i = 0; i < NUM_SLOTS; i++) {
		free(g->slots[i].pkts);
		free(g->slots[i].stream[0].p);
		free(g->slots[i].stream[1].p);
	}
	free(g->pool);
	free(obuf);
	return 0;
}
