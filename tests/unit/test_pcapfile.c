/* test_pcapfile.c - the pcap/pcapng reader on hand-built files: both pcap
 * magics in both byte orders, pcapng blocks and options, several sections,
 * every kind of damage (error names offset and record; what came before is
 * delivered), an every-prefix truncation sweep, and the same capture
 * gzip-compressed (zlib's own deflate) whole, cut and damaged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "callerid/pcapfile.h"

/* ---- a little file builder ---------------------------------------------- */

struct bld {
	uint8_t b[1 << 16];
	size_t n;
	bool le; /* write multi-byte fields little-endian */
};

static struct bld B;

static void put8(struct bld *b, uint8_t v)
{
	assert_true(b->n < sizeof(b->b));
	b->b[b->n++] = v;
}

static void put16(struct bld *b, uint16_t v)
{
	if (b->le) {
		put8(b, (uint8_t)v);
		put8(b, (uint8_t)(v >> 8));
	} else {
		put8(b, (uint8_t)(v >> 8));
		put8(b, (uint8_t)v);
	}
}

static void put32(struct bld *b, uint32_t v)
{
	if (b->le) {
		put16(b, (uint16_t)v);
		put16(b, (uint16_t)(v >> 16));
	} else {
		put16(b, (uint16_t)(v >> 16));
		put16(b, (uint16_t)v);
	}
}

static void put_bytes(struct bld *b, const uint8_t *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	if (n)
		memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void pad4(struct bld *b)
{
	while (b->n & 3)
		put8(b, 0);
}

static void patch32(struct bld *b, size_t at, uint32_t v)
{
	size_t save = b->n;
	b->n = at;
	put32(b, v);
	b->n = save;
}

static void bld_reset(struct bld *b, bool le)
{
	b->n = 0;
	b->le = le;
}

/* Packet payloads: recognisable bytes, first byte = record number. */
static uint8_t pkt[2048];

static void fill_pkt(uint8_t tag, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pkt[i] = (uint8_t)(tag + i * 3);
}

/* pcap: magic is the value as a native number, written in b's byte order. */
static void pcap_hdr(struct bld *b, uint32_t magic, uint32_t snaplen, uint32_t linktype)
{
	put32(b, magic);
	put16(b, 2);
	put16(b, 4);
	put32(b, 0);
	put32(b, 0);
	put32(b, snaplen);
	put32(b, linktype);
}

static void pcap_rec(struct bld *b, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len, uint8_t tag)
{
	put32(b, sec);
	put32(b, frac);
	put32(b, caplen);
	put32(b, len);
	fill_pkt(tag, caplen);
	put_bytes(b, pkt, caplen);
}

/* pcapng blocks. Each returns the offset where the block started. */
static size_t blk_begin(struct bld *b, uint32_t type)
{
	size_t at = b->n;
	put32(b, type);
	put32(b, 0); /* patched by blk_end */
	return at;
}

static void blk_end(struct bld *b, size_t at)
{
	uint32_t len;
	pad4(b);
	len = (uint32_t)(b->n - at + 4);
	put32(b, len);
	patch32(b, at + 4, len);
}

static size_t ng_shb(struct bld *b)
{
	size_t at = blk_begin(b, 0x0A0D0D0Au);
	put32(b, 0x1A2B3C4Du);
	put16(b, 1);
	put16(b, 0);
	put32(b, 0xFFFFFFFFu); /* section length unknown */
	put32(b, 0xFFFFFFFFu);
	blk_end(b, at);
	return at;
}

static void opt(struct bld *b, uint16_t code, const void *v, uint16_t len)
{
	put16(b, code);
	put16(b, len);
	put_bytes(b, v, len);
	pad4(b);
}

/* tsresol < 0: no option; has_off: if_tsoffset given. */
static size_t ng_idb(struct bld *b, uint16_t lt, uint32_t snaplen, const char *name, int tsresol, bool has_off,
		     uint64_t off)
{
	size_t at = blk_begin(b, 1);
	put16(b, lt);
	put16(b, 0);
	put32(b, snaplen);
	if (name)
		opt(b, 2, name, (uint16_t)strlen(name));
	if (tsresol >= 0) {
		uint8_t r = (uint8_t)tsresol;
		opt(b, 9, &r, 1);
	}
	if (has_off) {
		/* one 64-bit integer in the section's byte order */
		put16(b, 14);
		put16(b, 8);
		if (b->le) {
			put32(b, (uint32_t)off);
			put32(b, (uint32_t)(off >> 32));
		} else {
			put32(b, (uint32_t)(off >> 32));
			put32(b, (uint32_t)off);
		}
	}
	if (name || tsresol >= 0 || has_off)
		opt(b, 0, NULL, 0);
	blk_end(b, at);
	return at;
}

static size_t ng_epb(struct bld *b, uint32_t ifid, uint64_t ts, uint32_t caplen, uint32_t len, uint8_t tag)
{
	size_t at = blk_begin(b, 6);
	put32(b, ifid);
	put32(b, (uint32_t)(ts >> 32));
	put32(b, (uint32_t)ts);
	put32(b, caplen);
	put32(b, len);
	fill_pkt(tag, caplen);
	put_bytes(b, pkt, caplen);
	blk_end(b, at);
	return at;
}

static size_t ng_spb(struct bld *b, uint32_t len, uint32_t present, uint8_t tag)
{
	size_t at = blk_begin(b, 3);
	put32(b, len);
	fill_pkt(tag, present);
	put_bytes(b, pkt, present);
	blk_end(b, at);
	return at;
}

static size_t ng_other(struct bld *b, uint32_t type, size_t body)
{
	size_t at = blk_begin(b, type);
	for (size_t i = 0; i < body; i++)
		put8(b, (uint8_t)i);
	blk_end(b, at);
	return at;
}

/* ---- reading it back ---------------------------------------------------- */

#define MAX_RECS 64

struct got {
	bool opened;
	int rc;                 /* last cid_pcapfile_next result (0 or -1) */
	size_t num;
	struct cid_pcap_rec r[MAX_RECS];
	uint8_t first[MAX_RECS]; /* first data byte (the tag) */
	char err[CID_ERRBUF_SIZE];
	char warn[512];
	uint64_t warnings;
	uint64_t offset;
	uint32_t num_ifaces;
	char ifname[4][32];
	int dlt[4];
};

static struct got G;
static bool G_inflated; /* records live in the reader's buffer, not in p */

static void read_all(const uint8_t *p, size_t n)
{
	char err[CID_ERRBUF_SIZE] = "";
	struct cid_pcapfile *f;
	struct cid_pcap_rec rec;
	int rc;
	memset(&G, 0, sizeof(G));
	f = cid_pcapfile_open_mem(p, n, err, sizeof(err));
	if (!f) {
		snprintf(G.err, sizeof(G.err), "%s", err);
		assert_true(err[0] != '\0');
		G.rc = -1;
		return;
	}
	G.opened = true;
	while ((rc = cid_pcapfile_next(f, &rec)) == 1) {
		assert_true(G.num < MAX_RECS);
		if (rec.caplen) {
			assert_non_null(rec.data);
			if (!G_inflated)
				assert_true(rec.data >= p && rec.data + rec.caplen <= p + n);
			G.first[G.num] = rec.data[0];
		}
		assert_true(rec.wirelen >= rec.caplen);
		assert_true(rec.ts_ns >= 0); /* differences of two times fit an int64 */
		G.r[G.num++] = rec;
	}
	G.rc = rc;
	assert_true(rc == 0 || rc == -1);
	/* after the end or an error the reader stays put */
	assert_int_equal(cid_pcapfile_next(f, &rec), rc);
	if (rc < 0)
		assert_true(cid_pcapfile_error(f)[0] != '\0');
	snprintf(G.err, sizeof(G.err), "%s", cid_pcapfile_error(f));
	snprintf(G.warn, sizeof(G.warn), "%s", cid_pcapfile_warning(f));
	G.warnings = cid_pcapfile_warnings(f);
	G.offset = cid_pcapfile_offset(f);
	G.num_ifaces = cid_pcapfile_num_ifaces(f);
	assert_int_equal(cid_pcapfile_records(f), G.num);
	for (uint32_t i = 0; i < 4 && i < G.num_ifaces; i++) {
		const char *nm = cid_pcapfile_ifname(f, i);
		snprintf(G.ifname[i], sizeof(G.ifname[i]), "%s", nm ? nm : "");
		G.dlt[i] = cid_pcapfile_dlt(f, i);
	}
	assert_null(cid_pcapfile_ifname(f, 100000));
	assert_int_equal(cid_pcapfile_dlt(f, 100000), -1);
	cid_pcapfile_free(f);
}

/* The error names the byte offset and the record number. */
static void expect_error_at(uint64_t off, uint64_t recno, const char *what)
{
	char s[64];
	assert_int_equal(G.rc, -1);
	snprintf(s, sizeof(s), "offset %llu ", (unsigned long long)off);
	if (!strstr(G.err, s))
		fail_msg("error '%s' does not name '%s'", G.err, s);
	snprintf(s, sizeof(s), "record %llu", (unsigned long long)recno);
	if (!strstr(G.err, s))
		fail_msg("error '%s' does not name '%s'", G.err, s);
	if (what && !strstr(G.err, what))
		fail_msg("error '%s' does not say '%s'", G.err, what);
}

/* ---- pcap --------------------------------------------------------------- */

static void test_pcap_magics(void **state)
{
	static const struct {
		bool le;
		uint32_t magic;
		bool nsec;
	} cases[] = {
		{true, 0xa1b2c3d4u, false},
		{false, 0xa1b2c3d4u, false},
		{true, 0xa1b23c4du, true},
		{false, 0xa1b23c4du, true},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t frac = cases[i].nsec ? 123456789u : 123456u;
		bld_reset(&B, cases[i].le);
		pcap_hdr(&B, cases[i].magic, 65535, 1);
		pcap_rec(&B, 1700000000u, frac, 60, 60, 1);
		pcap_rec(&B, 1700000001u, 0, 40, 1500, 2);  /* snapped */
		pcap_rec(&B, 1700000002u, 999, 0, 0, 3);    /* zero length */
		read_all(B.b, B.n);
		assert_int_equal(G.rc, 0);
		assert_int_equal(G.num, 3);
		assert_int_equal(G.r[0].ts_ns, 1700000000LL * 1000000000LL + 123456789LL - (cases[i].nsec ? 0 : 789));
		assert_int_equal(G.r[0].caplen, 60);
		assert_int_equal(G.r[0].wirelen, 60);
		assert_int_equal(G.r[0].dlt, 1);
		assert_int_equal(G.r[0].ifid, 0);
		assert_int_equal(G.first[0], 1);
		assert_int_equal(G.r[1].ts_ns, 1700000001LL * 1000000000LL);
		assert_int_equal(G.r[1].caplen, 40);
		assert_int_equal(G.r[1].wirelen, 1500);
		assert_int_equal(G.first[1], 2);
		assert_int_equal(G.r[2].caplen, 0);
		assert_int_equal(G.r[2].ts_ns, 1700000002LL * 1000000000LL + (cases[i].nsec ? 999 : 999000));
		assert_int_equal(G.num_ifaces, 1);
		assert_int_equal(G.warnings, 0);
	}
}

static void test_pcap_linktype_fcs_bits(void **state)
{
	(void)state;
	bld_reset(&B, true);
	pcap_hdr(&B, 0xa1b2c3d4u, 65535, 0x14000000u | 113u); /* FCS bits over LINUX_SLL */
	pcap_rec(&B, 1, 0, 20, 20, 9);
	read_all(B.b, B.n);
	assert_int_equal(G.rc, 0);
	assert_int_equal(G.num, 1);
	assert_int_equal(G.r[0].dlt, 113);
}

static void test_pcap_caplen_gt_len(void **state)
{
	(void)state;
	bld_reset(&B, true);
	pcap_hdr(&B, 0xa1b2c3d4u, 65535, 1);
	pcap_rec(&B, 1, 0, 50, 10, 1); /* caplen > len: wire length raised */
	read_all(B.b, B.n);
	assert_int_equal(G.rc, 0);
	assert_int_equal(G.num, 1);
	assert_int_equal(G.r[0].caplen, 50);
	assert_int_equal(G.r[0].wirelen, 50);
}

static void test_pcap_bad_fraction_warns(void **state)
{
	(void)state;
	bld_reset(&B, true);
	pcap_hdr(&B, 0xa1b2c3d4u, 65535, 1);
	pcap_rec(&B, 1, 2000000u, 10, 10, 1);
	pcap_rec(&B, 2, 0, 10, 10, 2);
	read_all(B.b, B.n);
	assert_int_equal(G.rc, 0);
	assert_int_equal(G.num, 2);
	assert_true(G.warnings >= 1);
	assert_non_null(strstr(G.warn, "offset"));
}

static void test_pcap_errors(void **state)
{
	size_t rec2;
	(void)state;
	/* wrong magic */
	bld_reset(&B, true);
	pcap_hdr(&B, 0x12345678u, 65535, 1);
	pcap_rec(&B, 1, 0, 10, 10, 1);
	read_all(B.b, B.n);
	assert_false(G.opened);
	assert_non_null(strstr(G.err, "magic"));
	assert_non_null(strstr(G.err, "offset 0"));

	/* empty and tiny inputs */
	read_all(B.b, 0);
	assert_false(G.opened);
	read_all(B.b, 3);
	assert_false(G.opened);

	/* truncated file header */
	bld_reset(&B, true);
	pcap_hdr(&B, 0xa1b2c3d4u, 65535, 1);
	read_all(B.b, 20);
	assert_false(G.opened);
	assert_non_null(strstr(G.err, "offset 0"));
	assert_non_null(strstr(G.err, "header"));

	/* unsupported version */
	bld_reset(&B, true);
	pcap_hdr(&B, 0xa1b2c3d4u, 65535, 1);
	B.b[4] = 3;
	read_all(B.b, B.n);
	assert_false(G.opened);

	/* truncated record header after two good records */
	bld_reset(&B, true);
	pcap_hdr(&B, 0xa1b2c3d4u, 65535, 1);
	pcap_rec(&B, 1, 0, 10, 10, 1);
	pcap_rec(&B, 2, 0, 10, 10, 2);
	rec2 = B.n;
	pcap_rec(&B, 3, 0, 10, 10, 3);
	read_all(B.b, rec2 + 7);
	assert_int_equal(G.num, 2);
	expect_error_at(rec2, 3, "record header truncated");

	/* truncated packet data */
	read_all(B.b, rec2 + 16 + 5);
	assert_int_equal(G.num, 2);
	expect_error_at(rec2, 3, "packet data truncated");

	/* caplen > 262144 */
	bld_reset(&B, false);
	pcap_hdr(&B, 0xa1b2c3d4u, 65535, 1);
	pcap_rec(&B, 1, 0, 10, 10, 1);
	rec2 = B.n;
	put32(&B, 2);
	put32(&B, 0);
	put32(&B, CID_PCAP_MAX_CAPLEN + 1);
	put32(&B, CID_PCAP_MAX_CAPLEN + 1);
	for (int i = 0; i < 100; i++)
		put8(&B, 0);
	read_all(B.b, B.n);
	assert_int_equal(G.num, 1);
	expect_error_at(rec2, 2, "262145");

	/* exactly the cap is fine when the bytes are there; absurd snaplen in
	 * the file header is not an error by itself */
	bld_reset(&B, true);
	pcap_hdr(&B, 0xa1b2c3d4u, 0xFFFFFFFFu, 1);
	pcap_rec(&B, 1, 0, 10, 10, 1);
	read_all(B.b, B.n);
	assert_int_equal(G.rc, 0);
	assert_int_equal(G.num, 1);
}

static void test_pcap_prefix_sweep(void **state)
{
	size_t bounds[8], nb = 0, full;
	(void)state;
	bld_reset(&B, true);
	pcap_hdr(&B, 0xa1b23c4du, 65535, 101);
	bounds[nb++] = B.n;
	pcap_rec(&B, 1, 5, 20, 20, 1);
	bounds[nb++] = B.n;
	pcap_rec(&B, 2, 5, 0, 0, 2);
	bounds[nb++] = B.n;
	pcap_rec(&B, 3, 5, 33, 40, 3);
	bounds[nb++] = B.n;
	full = B.n;
	for (size_t len = 0; len <= full; len++) {
		size_t complete = 0, at_boundary = 0;
		read_all(B.b, len);
		if (len < 24) {
			assert_false(G.opened);
			continue;
		}
		for (size_t k = 1; k < nb; k++)
			if (bounds[k] <= len)
				complete = k;
		for (size_t k = 0; k < nb; k++)
			if (bounds[k] == len)
				at_boundary = 1;
		assert_true(G.opened);
		assert_int_equal(G.num, complete);
		if (at_boundary) {
			assert_int_equal(G.rc, 0);
		} else {
			expect_error_at(bounds[complete], complete + 1, NULL);
		}
	}
}

/* ---- gzip --------------------------------------------------------------- */

/* p[0..n) gzip-compressed (RFC 1952) into out, as one member, or two when
 * split is inside; returns the compressed length. */
static size_t gzip_of(const uint8_t *p, size_t n, size_t split, uint8_t *out, size_t cap)
{
	size_t done = 0;
	for (int m = 0; m < 2; m++) {
		size_t from = m ? split : 0, to = m || split >= n ? n : split;
		z_stream z;
		if (m && split >= n)
			break;
		memset(&z, 0, sizeof(z));
		assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
		z.next_in = (Bytef *)(uintptr_t)(p + from);
		z.avail_in = (uInt)(to - from);
		z.next_out = out + done;
		z.avail_out = (uInt)(cap - done);
		assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
		done = cap - z.avail_out;
		deflateEnd(&z);
	}
	return done;
}

static struct got plain;

static void expect_plain_prefix(void)
{
	assert_true(G.num <= plain.num);
	for (size_t i = 0; i < G.num; i++) {
		assert_int_equal(G.r[i].caplen, plain.r[i].caplen);
		assert_int_equal(G.r[i].ts_ns, plain.r[i].ts_ns);
		if (G.r[i].caplen)
			assert_int_equal(G.first[i], plain.first[i]);
	}
}

/* A gzip-compressed capture reads as the plain one: whole, in two members,
 * cut at every compressed byte (what inflated is delivered, then an error
 * naming the compressed offset), with any byte damaged (no crash, an error
 * or a clean end), and with bytes after it (a warning). */
static void test_pcap_gzip(void **state)
{
	static uint8_t gz[4096], bad[4096 + 8];
	size_t gzlen;
	(void)state;
	bld_reset(&B, true);
	pcap_hdr(&B, 0xa1b2c3d4u, 65535, 1);
	for (uint8_t i = 1; i <= 6; i++)
		pcap_rec(&B, i, 5, 40u * i, 40u * i, i);
	read_all(B.b, B.n);
	plain = G;
	assert_int_equal(plain.num, 6);
	G_inflated = true;

	gzlen = gzip_of(B.b, B.n, B.n, gz, sizeof(gz));
	read_all(gz, gzlen);
	assert_int_equal(G.rc, 0);
	assert_int_equal(G.num, 6);
	expect_plain_prefix();
	assert_int_equal(G.offset, B.n); /* offsets are in the decompressed data */

	for (size_t split = 1; split < B.n; split += 37) {
		size_t len = gzip_of(B.b, B.n, split, bad, sizeof(bad));
		read_all(bad, len);
		assert_int_equal(G.rc, 0);
		assert_int_equal(G.num, 6);
		expect_plain_prefix();
	}

	for (size_t len = 0; len < gzlen; len++) {
		read_all(gz, len);
		assert_int_equal(G.rc, -1);
		expect_plain_prefix();
		if (len >= 2 && G.opened && !strstr(G.err, "gzip data truncated at compressed offset"))
			fail_msg("cut at %zu: '%s'", len, G.err);
	}

	for (size_t i = 0; i < gzlen; i++) {
		memcpy(bad, gz, gzlen);
		bad[i] ^= 0x5a;
		read_all(bad, gzlen);
		if (G.rc == -1 && !G.err[0])
			fail_msg("damage at %zu: error without a message", i);
	}

	memcpy(bad, gz, gzlen);
	memcpy(bad + gzlen, "\0junk", 5);
	read_all(bad, gzlen + 5);
	assert_int_equal(G.rc, 0);
	assert_int_equal(G.num, 6);
	assert_int_equal(G.warnings, 1);
	assert_non_null(strstr(G.warn, "after the gzip data"));

	/* a pcap error inside: the decompressed offset and the record */
	gzlen = gzip_of(B.b, B.n - 3, B.n, gz, sizeof(gz));
	read_all(gz, gzlen);
	expect_error_at(B.n - (16 + 240), 6, "of the decompressed data");
	G_inflated = false;
}

/* ---- pcapng ------------------------------------------------------------- */

static void build_ng(struct bld *b, bool le)
{
	bld_reset(b, le);
	ng_shb(b);
	ng_idb(b, 1, 65535, "eth0", 9, false, 0);                   /* ns */
	ng_other(b, 0x00000BADu, 10);                                /* unknown */
	ng_idb(b, 101, 0, "lo", 0x80 | 20, true, 100);              /* 2^-20, +100 s */
	ng_epb(b, 0, 1700000000123456789ULL, 60, 60, 1);
	ng_epb(b, 1, (5ULL << 20) | (1ULL << 19), 21, 99, 2);        /* 5.5 s */
	ng_other(b, 4, 16);                                          /* name resolution */
	ng_spb(b, 30, 30, 3);                                        /* iface 0, padded to 32 */
	ng_other(b, 5, 8);                                           /* interface statistics */
	ng_epb(b, 0, 1700000001000000000ULL, 0, 0, 4);
}

static void check_ng_first_section(void)
{
	assert_int_equal(G.r[0].ts_ns, 1700000000123456789LL);
	assert_int_equal(G.r[0].dlt, 1);
	assert_int_equal(G.r[0].ifid, 0);
	assert_int_equal(G.r[0].caplen, 60);
	assert_int_equal(G.first[0], 1);
	assert_int_equal(G.r[1].ts_ns, 105500000000LL);
	assert_int_equal(G.r[1].dlt, 101);
	assert_int_equal(G.r[1].ifid, 1);
	assert_int_equal(G.r[1].caplen, 21);
	assert_int_equal(G.r[1].wirelen, 99);
	assert_int_equal(G.first[1], 2);
	assert_int_equal(G.r[2].dlt, 1);
	assert_int_equal(G.r[2].ifid, 0);
	assert_int_equal(G.r[2].caplen, 30);
	assert_int_equal(G.r[2].wirelen, 30);
	assert_int_equal(G.first[2], 3);
	assert_int_equal(G.r[3].caplen, 0);
	assert_int_equal(G.r[3].ts_ns, 1700000001000000000LL);
}

static void test_pcapng_blocks(void **state)
{
	(void)state;
	for (int le = 0; le < 2; le++) {
		build_ng(&B, le);
		read_all(B.b, B.n);
		assert_int_equal(G.rc, 0);
		assert_int_equal(G.num, 4);
		check_ng_first_section();
		assert_int_equal(G.num_ifaces, 2);
		assert_string_equal(G.ifname[0], "eth0");
		assert_string_equal(G.ifname[1], "lo");
		assert_int_equal(G.dlt[0], 1);
		assert_int_equal(G.dlt[1], 101);
		assert_int_equal(G.warnings, 0);
		assert_int_equal(G.offset, B.n);
	}
}

static void test_pcapng_default_resolution(void **state)
{
	(void)state;
	bld_reset(&B, true);
	ng_shb(&B);
	ng_idb(&B, 1, 0, NULL, -1, false, 0); /* no options: microseconds */
	ng_epb(&B, 0, 1700000000000001ULL, 4, 4, 1);
	read_all(B.b, B.n);
	assert_int_equal(G.rc, 0);
	assert_int_equal(G.num, 1);
	assert_int_equal(G.r[0].ts_ns, 1700000000000001000LL);
	assert_string_equal(G.ifname[0], "");
}

static void test_pcapng_two_sections(void **state)
{
	size_t second;
	(void)state;
	build_ng(&B, true);
	second = B.n;
	/* the second section is big-endian: its SHB decides */
	B.le = false;
	ng_shb(&B);
	ng_idb(&B, 113, 0, "any", 6, false, 0);
	ng_epb(&B, 0, 42000000ULL, 8, 8, 5); /* 42 s in µs */
	read_all(B.b, B.n);
	assert_true(second > 0);
	assert_int_equal(G.rc, 0);
	assert_int_equal(G.num, 5);
	check_ng_first_section();
	assert_int_equal(G.num_ifaces, 3);
	assert_int_equal(G.r[4].ifid, 2);
	assert_int_equal(G.r[4].dlt, 113);
	assert_int_equal(G.r[4].ts_ns, 42000000000LL);
	assert_string_equal(G.ifname[2], "any");
	assert_int_equal(G.first[4], 5);
}

static void test_pcapng_undefined_iface(void **state)
{
	(void)state;
	bld_reset(&B, true);
	ng_shb(&B);
	ng_idb(&B, 1, 0, "eth0", -1, false, 0);
	ng_epb(&B, 0, 1, 10, 10, 1);
	ng_epb(&B, 7, 2, 10, 10, 2); /* no interface 7 */
	ng_epb(&B, 0, 3, 10, 10, 3);
	read_all(B.b, B.n);
	assert_int_equal(G.rc, 0);
	assert_int_equal(G.num, 2);
	assert_int_equal(G.first[0], 1);
	assert_int_equal(G.first[1], 3);
	assert_int_equal(G.warnings, 1);
	assert_non_null(strstr(G.warn, "undefined interface"));
	assert_non_null(strstr(G.warn, "offset "));

	/* an EPB before any IDB, an SPB without an interface */
	bld_reset(&B, true);
	ng_shb(&B);
	ng_epb(&B, 0, 1, 10, 10, 1);
	ng_spb(&B, 10, 10, 2);
	ng_idb(&B, 1, 0, NULL, -1, false, 0);
	ng_epb(&B, 0, 1, 10, 10, 3);
	read_all(B.b, B.n);
	assert_int_equal(G.rc, 0);
	assert_int_equal(G.num, 1);
	assert_int_equal(G.first[0], 3);
	assert_int_equal(G.warnings, 2);
}

static void test_pcapng_epb_caplen_overrun(void **state)
{
	size_t at;
	(void)state;
	bld_reset(&B, true);
	ng_shb(&B);
	ng_idb(&B, 1, 0, NULL, -1, false, 0);
	at = ng_epb(&B, 0, 1, 10, 10, 1);
	patch32(&B, at + 20, 500); /* caplen beyond the block */
	ng_epb(&B, 0, 2, 10, 10, 2);
	read_all(B.b, B.n);
	assert_int_equal(G.rc, 0);
	assert_int_equal(G.num, 1);
	assert_int_equal(G.first[0], 2);
	assert_int_equal(G.warnings, 1);
}

static void test_pcapng_errors(void **state)
{
	static const uint32_t bad_lens[] = {13, 8, 0, 4, CID_PCAP_MAX_BLOCK + 4, 0xFFFFFFFCu};
	size_t at;
	(void)state;
	for (size_t i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
		bld_reset(&B, true);
		ng_shb(&B);
		ng_idb(&B, 1, 0, NULL, -1, false, 0);
		ng_epb(&B, 0, 1, 10, 10, 1);
		ng_epb(&B, 0, 2, 10, 10, 2);
		at = ng_epb(&B, 0, 3, 10, 10, 3);
		ng_epb(&B, 0, 4, 10, 10, 4);
		patch32(&B, at + 4, bad_lens[i]);
		read_all(B.b, B.n);
		assert_int_equal(G.num, 2);
		expect_error_at(at, 3, "bad block length");
	}
	/* trailing length differs from the leading one */
	bld_reset(&B, false);
	ng_shb(&B);
	ng_idb(&B, 1, 0, NULL, -1, false, 0);
	ng_epb(&B, 0, 1, 10, 10, 1);
	at = ng_epb(&B, 0, 2, 10, 10, 2);
	patch32(&B, B.n - 4, 48);
	read_all(B.b, B.n);
	assert_int_equal(G.num, 1);
	expect_error_at(at, 2, "trailing length");

	/* a block truncated by the end of the file */
	bld_reset(&B, true);
	ng_shb(&B);
	ng_idb(&B, 1, 0, NULL, -1, false, 0);
	ng_epb(&B, 0, 1, 10, 10, 1);
	at = ng_epb(&B, 0, 2, 10, 10, 2);
	read_all(B.b, B.n - 1);
	assert_int_equal(G.num, 1);
	expect_error_at(at, 2, "truncated");

	/* SHB with a bad byte-order magic */
	bld_reset(&B, true);
	ng_shb(&B);
	B.b[8] = 0x99;
	ng_idb(&B, 1, 0, NULL, -1, false, 0);
	read_all(B.b, B.n);
	assert_true(!G.opened || G.rc == -1);
	if (G.opened)
		expect_error_at(0, 1, "byte-order");

	/* SHB of an unknown major version */
	bld_reset(&B, true);
	ng_shb(&B);
	B.b[12] = 2;
	read_all(B.b, B.n);
	assert_true(!G.opened || G.rc == -1);
}

static void test_pcapng_hostile_options(void **state)
{
	static const uint8_t huge_res = 0x7f, huge_res2 = 0xff, big_dec = 19;
	size_t at;
	(void)state;
	/* out-of-range if_tsresol values warn and keep the default; an
	 * option longer than the block stops option parsing */
	bld_reset(&B, true);
	ng_shb(&B);
	at = blk_begin(&B, 1);
	put16(&B, 1);
	put16(&B, 0);
	put32(&B, 0);
	opt(&B, 9, &huge_res, 1);
	opt(&B, 9, &huge_res2, 1);
	opt(&B, 9, &big_dec, 1);
	opt(&B, 2, "x", 1);
	put16(&B, 2);
	put16(&B, 200); /* overruns the block */
	blk_end(&B, at);
	ng_epb(&B, 0, 7000001ULL, 4, 4, 1);
	/* extreme time stamps and offsets do not overflow */
	ng_idb(&B, 1, 0, NULL, 0x80 | 62, true, 0x7FFFFFFFFFFFFFFFULL);
	ng_epb(&B, 1, 0xFFFFFFFFFFFFFFFFULL, 4, 4, 2);
	ng_idb(&B, 1, 0, NULL, 0, true, 0x8000000000000000ULL);
	ng_epb(&B, 2, 0xFFFFFFFFFFFFFFFFULL, 4, 4, 3);
	ng_idb(&B, 1, 0, NULL, 18, false, 0);
	ng_epb(&B, 3, 0xFFFFFFFFFFFFFFFFULL, 4, 4, 4);
	ng_idb(&B, 1, 0, NULL, -1, true, (uint64_t)-100); /* before 1970: the epoch */
	ng_epb(&B, 4, 5, 4, 4, 5);
	read_all(B.b, B.n);
	assert_int_equal(G.rc, 0);
	assert_int_equal(G.num, 5);
	assert_int_equal(G.r[4].ts_ns, 0);
	assert_true(G.r[1].ts_ns > 0);
	assert_int_equal(G.r[0].ts_ns, 7000001000LL);
	assert_string_equal(G.ifname[0], "x");
	assert_true(G.warnings >= 3);
}

static void test_pcapng_prefix_sweep(void **state)
{
	size_t bounds[16], nb = 0, full;
	uint64_t recs_at[16];
	(void)state;
	bld_reset(&B, true);
	ng_shb(&B);
	bounds[nb] = B.n, recs_at[nb++] = 0;
	ng_idb(&B, 1, 65535, "eth0", 9, false, 0);
	bounds[nb] = B.n, recs_at[nb++] = 0;
	ng_epb(&B, 0, 1, 20, 20, 1);
	bounds[nb] = B.n, recs_at[nb++] = 1;
	ng_other(&B, 0x4242u, 6);
	bounds[nb] = B.n, recs_at[nb++] = 1;
	ng_spb(&B, 30, 30, 2);
	bounds[nb] = B.n, recs_at[nb++] = 2;
	ng_epb(&B, 0, 3, 0, 0, 3);
	bounds[nb] = B.n, recs_at[nb++] = 3;
	full = B.n;
	for (size_t len = 0; len <= full; len++) {
		size_t k, last = 0;
		bool boundary = false;
		read_all(B.b, len);
		if (len < 12) {
			assert_false(G.opened);
			continue;
		}
		assert_true(G.opened);
		for (k = 0; k < nb; k++) {
			if (bounds[k] <= len)
				last = k;
			if (bounds[k] == len)
				boundary = true;
		}
		if (len < bounds[0]) {
			assert_int_equal(G.num, 0);
			expect_error_at(0, 1, NULL);
			continue;
		}
		assert_int_equal(G.num, recs_at[last]);
		if (boundary)
			assert_int_equal(G.rc, 0);
		else
			expect_error_at(bounds[last], recs_at[last] + 1, NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pcap_magics),
		cmocka_unit_test(test_pcap_linktype_fcs_bits),
		cmocka_unit_test(test_pcap_caplen_gt_len),
		cmocka_unit_test(test_pcap_bad_fraction_warns),
		cmocka_unit_test(test_pcap_errors),
		cmocka_unit_test(test_pcap_prefix_sweep),
		cmocka_unit_test(test_pcap_gzip),
		cmocka_unit_test(test_pcapng_blocks),
		cmocka_unit_test(test_pcapng_default_resolution),
		cmocka_unit_test(test_pcapng_two_sections),
		cmocka_unit_test(test_pcapng_undefined_iface),
		cmocka_unit_test(test_pcapng_epb_caplen_overrun),
		cmocka_unit_test(test_pcapng_errors),
		cmocka_unit_test(test_pcapng_hostile_options),
		cmocka_unit_test(test_pcapng_prefix_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
