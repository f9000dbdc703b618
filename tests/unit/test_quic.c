/* test_quic.c - QUIC Initial packets: variable-length integers (RFC 9000
 * A.1's examples), HMAC-SHA256 (RFC 4231), the Initial keys (RFC 9001
 * A.1's values), long headers
 * good and bad, packets protected here (AES-128-GCM and header protection
 * through libcrypto, RFC 9001 5.3-5.4) and opened by quic.c, the frames of
 * an Initial packet, and the engine on UDP flows: a ClientHello split over
 * two packets out of order, a ServerHello coalesced with a Handshake
 * packet, a Retry, version 2, and datagrams that only look like QUIC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "callerid/cursor.h"
#include "callerid/digest.h"
#include "callerid/flow.h"
#include "callerid/quic.h"

/* ---- bytes ---------------------------------------------------------------- */

struct buf {
	uint8_t b[8192];
	size_t n;
};

static void b8(struct buf *t, uint8_t v) { t->b[t->n++] = v; }
static void b16(struct buf *t, uint16_t v) { b8(t, (uint8_t)(v >> 8)), b8(t, (uint8_t)v); }
static void b32(struct buf *t, uint32_t v) { b16(t, (uint16_t)(v >> 16)), b16(t, (uint16_t)v); }
static void bmem(struct buf *t, const void *p, size_t n) { memcpy(t->b + t->n, p, n), t->n += n; }
static void bfill(struct buf *t, uint8_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b8(t, (uint8_t)(v + i));
}
/* a 2-byte variable-length integer (RFC 9000 16), v < 16384 */
static void bvar2(struct buf *t, size_t v) { b16(t, (uint16_t)(0x4000 | v)); }

static void unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

#define TEST_SNI "s3.eu-west-1.amazonaws.com"

/* Starts a hello: handshake type, legacy_version, random, an empty
 * legacy_session_id (QUIC has none); returns where its length goes. */
static size_t hello_start(struct buf *t, uint8_t type, uint8_t random_seed)
{
	size_t hs;
	t->n = 0;
	b8(t, type), hs = t->n, b8(t, 0), b16(t, 0);
	b16(t, 0x0303);
	bfill(t, random_seed, 32);
	b8(t, 0);
	return hs;
}

/* Fills in the extensions' and the message's lengths. */
static void hello_end(struct buf *t, size_t hs, size_t exts)
{
	t->b[exts] = (uint8_t)((t->n - exts - 2) >> 8), t->b[exts + 1] = (uint8_t)(t->n - exts - 2);
	t->b[hs + 1] = (uint8_t)((t->n - hs - 3) >> 8), t->b[hs + 2] = (uint8_t)(t->n - hs - 3);
}

/* A TLS 1.3 ClientHello handshake message (RFC 8446 4.1.2), as QUIC's
 * CRYPTO frames carry it: no record header. */
static void client_hello(struct buf *t)
{
	size_t hs = hello_start(t, 1, 0x10), exts;
	b16(t, 6), b16(t, 0x1301), b16(t, 0x1302), b16(t, 0x1303);
	b8(t, 1), b8(t, 0);
	exts = t->n, b16(t, 0);
	b16(t, 0), b16(t, (uint16_t)(5 + strlen(TEST_SNI)));
	b16(t, (uint16_t)(3 + strlen(TEST_SNI))), b8(t, 0), b16(t, (uint16_t)strlen(TEST_SNI));
	bmem(t, TEST_SNI, strlen(TEST_SNI));
	b16(t, 10), b16(t, 4), b16(t, 2), b16(t, 0x001d);
	b16(t, 13), b16(t, 4), b16(t, 2), b16(t, 0x0403);
	b16(t, 16), b16(t, 5), b16(t, 3), b8(t, 2), bmem(t, "h3", 2);
	b16(t, 43), b16(t, 3), b8(t, 2), b16(t, 0x0304);
	b16(t, 51), b16(t, 38), b16(t, 36), b16(t, 0x001d), b16(t, 32), bfill(t, 0x90, 32);
	b16(t, 57), b16(t, 4), b8(t, 1), b8(t, 2), b8(t, 0x40), b8(t, 0x64); /* quic_transport_parameters */
	hello_end(t, hs, exts);
}

/* A TLS 1.3 ServerHello handshake message with x25519. */
static void server_hello(struct buf *t)
{
	size_t hs = hello_start(t, 2, 0x20), exts;
	b16(t, 0x1301);
	b8(t, 0);
	exts = t->n, b16(t, 0);
	b16(t, 43), b16(t, 2), b16(t, 0x0304);
	b16(t, 51), b16(t, 36), b16(t, 0x001d), b16(t, 32), bfill(t, 0xa0, 32);
	hello_end(t, hs, exts);
}

/* A CRYPTO frame (RFC 9000 19.6). */
static void crypto_frame(struct buf *t, size_t off, const uint8_t *p, size_t n)
{
	b8(t, 0x06), bvar2(t, off), bvar2(t, n), bmem(t, p, n);
}

/* ---- protection, written here from RFC 9001 5.3-5.4 ------------------------ */

struct pkt_spec {
	uint32_t version;
	uint8_t type_bits;
	const uint8_t *dcid, *scid;
	size_t dcid_len, scid_len;
	uint32_t pn;
	size_t pn_len;
};

/* Appends a protected long-header Initial packet carrying frames. */
static void protect(struct buf *out, const struct pkt_spec *s, const struct cid_quic_keys *k, const uint8_t *frames,
		    size_t n)
{
	size_t start = out->n, pn_off, hl;
	uint8_t nonce[12], mask[16] = {0}, tag[16];
	int len = 0;
	EVP_CIPHER_CTX *ctx;
	b8(out, (uint8_t)(0xc0u | (unsigned)s->type_bits << 4 | (unsigned)(s->pn_len - 1)));
	b32(out, s->version);
	b8(out, (uint8_t)s->dcid_len), bmem(out, s->dcid, s->dcid_len);
	b8(out, (uint8_t)s->scid_len), bmem(out, s->scid, s->scid_len);
	b8(out, 0); /* token length */
	bvar2(out, s->pn_len + n + 16);
	pn_off = out->n - start;
	for (size_t i = 0; i < s->pn_len; i++)
		b8(out, (uint8_t)(s->pn >> (8 * (s->pn_len - 1 - i))));
	hl = out->n - start;
	memcpy(nonce, k->iv, 12);
	for (size_t i = 0; i < 4; i++)
		nonce[11 - i] ^= (uint8_t)(s->pn >> (8 * i));
	ctx = EVP_CIPHER_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, k->key, nonce), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &len, out->b + start, (int)hl), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, out->b + out->n, &len, frames, (int)n), 1);
	out->n += (size_t)len;
	assert_int_equal(EVP_EncryptFinal_ex(ctx, out->b + out->n, &len), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
	bmem(out, tag, 16);
	EVP_CIPHER_CTX_free(ctx);
	ctx = EVP_CIPHER_CTX_new();
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, k->hp, NULL), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, mask, &len, out->b + start + pn_off + 4, 16), 1);
	EVP_CIPHER_CTX_free(ctx);
	out->b[start] ^= mask[0] & 0x0f;
	for (size_t i = 0; i < s->pn_len; i++)
		out->b[start + pn_off + i] ^= mask[1 + i];
}

/* the engine looks at a UDP flow's first 4 client packets (CID_QUIC_TRIES) */
#define CID_QUIC_TRIES_TEST 4

static const uint8_t DCID[8] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};
static const uint8_t SCID[4] = {0xc1, 0x01, 0x02, 0x03};
static const uint8_t SCID_SRV[5] = {0x5e, 0x01, 0x02, 0x03, 0x04};

/* ---- pure functions ------------------------------------------------------ */

static void test_varint(void **state)
{
	static const struct {
		const char *hex;
		size_t n;
		uint64_t v;
	} ex[] = {
		{"c2197c5eff14e88c", 8, 151288809941952652ull},
		{"9d7f3e7d", 4, 494878333},
		{"7bbd", 2, 15293},
		{"25", 1, 37},
		{"4025", 2, 37},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		uint8_t b[8] = {0};
		struct cid_cur c;
		uint64_t v = 0;
		unhex(ex[i].hex, b, ex[i].n);
		cid_cur_init(&c, b, ex[i].n);
		assert_true(cid_cur_varint(&c, &v));
		assert_true(v == ex[i].v);
		assert_int_equal(cid_cur_len(&c), 0);
		/* one byte short: fails and consumes nothing */
		cid_cur_init(&c, b, ex[i].n - 1);
		assert_false(cid_cur_varint(&c, &v));
		assert_int_equal(cid_cur_len(&c), ex[i].n - 1);
	}
}

/* RFC 4231 4.3 and 4.7: a short key, and one longer than the block. */
static void test_hmac_rfc4231(void **state)
{
	uint8_t key[131], out[32], want[32];
	static const char msg7[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	(void)state;
	assert_true(cid_hmac_sha256((const uint8_t *)"Jefe", 4, (const uint8_t *)"what do ya want for nothing?", 28, out));
	unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, 32);
	assert_memory_equal(out, want, 32);
	memset(key, 0xaa, sizeof(key));
	assert_true(cid_hmac_sha256(key, sizeof(key), (const uint8_t *)msg7, strlen(msg7), out));
	unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", want, 32);
	assert_memory_equal(out, want, 32);
}

static void test_initial_keys_rfc9001(void **state)
{
	static const struct {
		bool server;
		const char *key, *iv, *hp;
	} rfc[] = {
		{false, "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c", "9f50449e04a0e810283a1e9933adedd2"},
		{true, "cf3a5331653c364c88f0f379b6067e37", "0ac1493ca1905853b0bba03e", "c206b8d9b9f0f37644430b490eeaa314"},
	};
	struct cid_quic_keys k;
	uint8_t want[16];
	(void)state;
	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		assert_true(cid_quic_initial_keys(&k, CID_QUIC_V1, DCID, sizeof(DCID), rfc[i].server));
		unhex(rfc[i].key, want, 16);
		assert_memory_equal(k.key, want, 16);
		unhex(rfc[i].iv, want, 12);
		assert_memory_equal(k.iv, want, 12);
		unhex(rfc[i].hp, want, 16);
		assert_memory_equal(k.hp, want, 16);
	}
	/* version 2 has its own salt and labels; unknown versions have none */
	assert_true(cid_quic_initial_keys(&k, CID_QUIC_V2, DCID, sizeof(DCID), false));
	unhex("1f369613dd76d5467730efcbe3b1a22d", want, 16);
	assert_memory_not_equal(k.key, want, 16);
	assert_false(cid_quic_initial_keys(&k, 0xff00001d, DCID, sizeof(DCID), false));
}

static void build_initial(struct buf *out, uint32_t version, uint8_t type_bits, bool server, const uint8_t *frames,
			  size_t n, uint32_t pn)
{
	struct cid_quic_keys k;
	struct pkt_spec s = {version, type_bits, DCID, SCID, sizeof(DCID), sizeof(SCID), pn, 2};
	assert_true(cid_quic_initial_keys(&k, version, DCID, sizeof(DCID), server));
	protect(out, &s, &k, frames, n);
}

static void test_decrypt_round_trip(void **state)
{
	struct buf fr = {.n = 0}, pkt = {.n = 0}, ch;
	struct cid_quic_long h;
	struct cid_quic_keys k, ks;
	uint8_t plain[CID_QUIC_MAX_PACKET];
	size_t len;
	uint64_t pn;
	(void)state;
	client_hello(&ch);
	crypto_frame(&fr, 0, ch.b, ch.n);
	b8(&fr, 0x00), b8(&fr, 0x00);
	build_initial(&pkt, CID_QUIC_V1, 0, false, fr.b, fr.n, 7);
	assert_int_equal(cid_quic_parse_long(&h, pkt.b, pkt.n), CID_OK);
	assert_int_equal(h.type, CID_QUIC_INITIAL);
	assert_int_equal(h.packet_len, pkt.n);
	assert_int_equal(h.dcid_len, 8);
	assert_memory_equal(h.dcid, DCID, 8);
	assert_int_equal(h.scid_len, 4);
	assert_true(cid_quic_initial_keys(&k, CID_QUIC_V1, h.dcid, h.dcid_len, false));
	assert_int_equal(cid_quic_decrypt(&k, &h, pkt.b, plain, &len, &pn), CID_OK);
	assert_int_equal(pn, 7);
	assert_int_equal(len, fr.n);
	assert_memory_equal(plain, fr.b, fr.n);
	/* the server's keys do not open the client's packet */
	assert_true(cid_quic_initial_keys(&ks, CID_QUIC_V1, h.dcid, h.dcid_len, true));
	assert_int_equal(cid_quic_decrypt(&ks, &h, pkt.b, plain, &len, &pn), CID_MALFORMED);
	/* one bit changed in the ciphertext: the tag does not verify */
	pkt.b[h.pn_offset + 10] ^= 1;
	assert_int_equal(cid_quic_decrypt(&k, &h, pkt.b, plain, &len, &pn), CID_MALFORMED);
	pkt.b[h.pn_offset + 10] ^= 1;
	/* too short for the header protection sample */
	h.packet_len = h.pn_offset + 19;
	assert_int_equal(cid_quic_decrypt(&k, &h, pkt.b, plain, &len, &pn), CID_MALFORMED);
	/* version 2: Initial is type 1 (RFC 9369 3.2) */
	pkt.n = 0;
	build_initial(&pkt, CID_QUIC_V2, 1, true, fr.b, fr.n, 0);
	assert_int_equal(cid_quic_parse_long(&h, pkt.b, pkt.n), CID_OK);
	assert_int_equal(h.type, CID_QUIC_INITIAL);
	assert_true(cid_quic_initial_keys(&ks, CID_QUIC_V2, h.dcid, h.dcid_len, true));
	assert_int_equal(cid_quic_decrypt(&ks, &h, pkt.b, plain, &len, &pn), CID_OK);
	assert_memory_equal(plain, fr.b, fr.n);
}

static void test_parse_long_bad(void **state)
{
	struct cid_quic_long h;
	struct buf t = {.n = 0};
	(void)state;
	assert_int_equal(cid_quic_parse_long(&h, (const uint8_t *)"", 0), CID_TRUNCATED);
	/* a short header (1-RTT) */
	b8(&t, 0x40), bfill(&t, 1, 30);
	assert_int_equal(cid_quic_parse_long(&h, t.b, t.n), CID_UNSUPPORTED);
	/* Version Negotiation (version 0), and a draft version */
	t.n = 0, b8(&t, 0xc0), b32(&t, 0), b8(&t, 4), bfill(&t, 1, 4), b8(&t, 0), b32(&t, 1);
	assert_int_equal(cid_quic_parse_long(&h, t.b, t.n), CID_UNSUPPORTED);
	t.b[1] = 0xff, t.b[4] = 0x1d;
	assert_int_equal(cid_quic_parse_long(&h, t.b, t.n), CID_UNSUPPORTED);
	/* version 1: the fixed bit clear, a 21-byte DCID, a token and a length past the end */
	t.n = 0, b8(&t, 0x80), b32(&t, 1), b8(&t, 0), b8(&t, 0), b8(&t, 0), bvar2(&t, 4), bfill(&t, 0, 4);
	assert_int_equal(cid_quic_parse_long(&h, t.b, t.n), CID_MALFORMED);
	t.b[0] = 0xc0;
	assert_int_equal(cid_quic_parse_long(&h, t.b, t.n), CID_OK);
	assert_int_equal(h.packet_len, t.n);
	t.b[t.n - 5] = 5; /* Length 5, 4 bytes left */
	assert_int_equal(cid_quic_parse_long(&h, t.b, t.n), CID_MALFORMED);
	t.n = 0, b8(&t, 0xc0), b32(&t, 1), b8(&t, 21), bfill(&t, 0, 21), b8(&t, 0), b8(&t, 0), b8(&t, 0);
	assert_int_equal(cid_quic_parse_long(&h, t.b, t.n), CID_MALFORMED);
	t.n = 0, b8(&t, 0xc0), b32(&t, 1), b8(&t, 0), b8(&t, 0), bvar2(&t, 100), bfill(&t, 0, 20);
	assert_int_equal(cid_quic_parse_long(&h, t.b, t.n), CID_MALFORMED);
	/* a Retry takes the rest of the datagram */
	t.n = 0, b8(&t, 0xf0), b32(&t, 1), b8(&t, 0), b8(&t, 4), bfill(&t, 9, 4), bfill(&t, 0, 24);
	assert_int_equal(cid_quic_parse_long(&h, t.b, t.n), CID_OK);
	assert_int_equal(h.type, CID_QUIC_RETRY);
	assert_int_equal(h.packet_len, t.n);
}

struct seen {
	uint64_t off[8];
	size_t len[8];
	size_t n;
};

static void on_crypto(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	struct seen *s = ctx;
	(void)p;
	if (s->n < 8)
		s->off[s->n] = off, s->len[s->n++] = n;
}

static void test_frames(void **state)
{
	struct buf t = {.n = 0};
	struct seen s = {.n = 0};
	uint8_t data[10] = {0};
	(void)state;
	b8(&t, 0x00), b8(&t, 0x00), b8(&t, 0x01);            /* PADDING, PING */
	b8(&t, 0x02), b8(&t, 9), b8(&t, 0), b8(&t, 1), b8(&t, 2), b8(&t, 1), b8(&t, 3); /* ACK, one more range */
	crypto_frame(&t, 5, data, 5);
	b8(&t, 0x03), b8(&t, 1), b8(&t, 0), b8(&t, 0), b8(&t, 0), b8(&t, 1), b8(&t, 2), b8(&t, 3); /* ACK_ECN */
	crypto_frame(&t, 0, data, 5);
	b8(&t, 0x1c), b8(&t, 0x0a), b8(&t, 0x06), b8(&t, 2), bmem(&t, "no", 2); /* CONNECTION_CLOSE */
	assert_int_equal(cid_quic_frames(t.b, t.n, on_crypto, &s), CID_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.off[0], 5);
	assert_int_equal(s.off[1], 0);
	/* a STREAM frame is not allowed in an Initial packet: the CRYPTO
	 * frames before it were passed on */
	b8(&t, 0x08), b8(&t, 0), b8(&t, 0);
	s.n = 0;
	assert_int_equal(cid_quic_frames(t.b, t.n, on_crypto, &s), CID_MALFORMED);
	assert_int_equal(s.n, 2);
	/* a CRYPTO frame longer than the packet */
	t.n = 0, b8(&t, 0x06), b8(&t, 0), b8(&t, 20), bfill(&t, 0, 10);
	s.n = 0;
	assert_int_equal(cid_quic_frames(t.b, t.n, on_crypto, &s), CID_MALFORMED);
	assert_int_equal(s.n, 0);
}

/* Every prefix of a packet and of its frames: the parsers stop inside
 * what they were given (ASan checks the reads) and never take a cut
 * packet for a whole one. */
static void test_every_prefix(void **state)
{
	struct buf fr = {.n = 0}, pkt = {.n = 0}, ch;
	struct seen s;
	(void)state;
	client_hello(&ch);
	b8(&fr, 0x02), b8(&fr, 3), b8(&fr, 0), b8(&fr, 0), b8(&fr, 3);
	crypto_frame(&fr, 0, ch.b, ch.n);
	b8(&fr, 0x1c), b8(&fr, 0x0a), b8(&fr, 0x06), b8(&fr, 2), bmem(&fr, "no", 2);
	build_initial(&pkt, CID_QUIC_V1, 0, false, fr.b, fr.n, 3);
	for (size_t n = 0; n < pkt.n; n++) {
		struct cid_quic_long h;
		uint8_t *cut = malloc(n ? n : 1);
		assert_non_null(cut);
		memcpy(cut, pkt.b, n);
		assert_int_not_equal(cid_quic_parse_long(&h, cut, n), CID_OK);
		free(cut);
	}
	for (size_t n = 0, b2 = 5 + 5 + ch.n; n < fr.n; n++) {
		uint8_t *cut = malloc(n ? n : 1);
		enum cid_status st;
		assert_non_null(cut);
		memcpy(cut, fr.b, n);
		s.n = 0;
		st = cid_quic_frames(cut, n, on_crypto, &s);
		/* OK only when cut between frames (after the ACK, after the
		 * CRYPTO frame), malformed inside one */
		assert_int_equal(st, n == 0 || n == 5 || n == b2 ? CID_OK : CID_MALFORMED);
		assert_int_equal(s.n, n >= b2 ? 1 : 0);
		free(cut);
	}
}

/* ---- the engine ------------------------------------------------------------ */

static uint8_t frame[9000];
static struct {
	unsigned ended, on_tls;
	bool have_ch, have_sh, group_ok;
	uint16_t version, group;
	char sni[CID_TLS_MAX_NAME];
	enum cid_tls_status status;
	uint8_t proto;
} R;

static void on_end(void *ctx, struct cid_flow *f)
{
	(void)ctx;
	R.ended++;
	R.proto = f->proto;
	if (!f->tls)
		return;
	R.have_ch = f->tls->have_ch;
	R.have_sh = f->tls->have_sh;
	R.status = f->tls->status;
	R.version = f->tls->have_sh ? cid_tls_negotiated_version(&f->tls->sh) : 0;
	R.group_ok = cid_flow_tls_group(f->tls, &R.group);
	if (f->tls->have_ch && f->tls->ch.has_sni)
		snprintf(R.sni, sizeof(R.sni), "%s", f->tls->ch.sni);
}

static void on_tls(void *ctx, struct cid_flow *f)
{
	(void)ctx;
	R.on_tls++;
	/* reported with both hellos */
	assert_true(f->tls->have_ch && f->tls->have_sh);
}

static struct cid_engine *engine(void)
{
	struct cid_engine_config cfg;
	struct cid_engine *e;
	memset(&R, 0, sizeof(R));
	cid_engine_config_default(&cfg);
	cfg.on_end = on_end;
	cfg.on_tls = on_tls;
	e = cid_engine_new(&cfg);
	assert_non_null(e);
	return e;
}

/* A UDP datagram in EN10MB + IPv4, 10.0.0.1:50000 <-> 10.0.0.2:443. */
static void udp(struct cid_engine *e, int64_t ts, bool from_client, const uint8_t *p, size_t n)
{
	static const uint8_t cli[4] = {10, 0, 0, 1}, srv[4] = {10, 0, 0, 2};
	size_t o = 0, ul = 8 + n;
	memset(frame, 0, 12);
	frame[0] = 2, frame[6] = 2;
	o = 12;
	frame[o++] = 0x08, frame[o++] = 0x00;
	frame[o++] = 0x45, frame[o++] = 0;
	frame[o++] = (uint8_t)((20 + ul) >> 8), frame[o++] = (uint8_t)(20 + ul);
	memset(frame + o, 0, 4), o += 4;
	frame[o++] = 64, frame[o++] = 17, frame[o++] = 0, frame[o++] = 0;
	memcpy(frame + o, from_client ? cli : srv, 4), o += 4;
	memcpy(frame + o, from_client ? srv : cli, 4), o += 4;
	frame[o++] = from_client ? 0xc3 : 0x01, frame[o++] = from_client ? 0x50 : 0xbb;
	frame[o++] = from_client ? 0x01 : 0xc3, frame[o++] = from_client ? 0xbb : 0x50;
	frame[o++] = (uint8_t)(ul >> 8), frame[o++] = (uint8_t)ul, frame[o++] = 0, frame[o++] = 0;
	memcpy(frame + o, p, n);
	cid_engine_frame(e, ts, CID_DLT_EN10MB, 0, frame, o + n, o + n);
}

/* Pads a client packet's frames so that the datagram is 1200 bytes;
 * header: the packet's bytes before its frames. */
static void pad_to(struct buf *fr, size_t header)
{
	while (header + fr->n + 16 < CID_QUIC_MIN_INITIAL)
		b8(fr, 0);
}

static void finish(struct cid_engine *e)
{
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(cid_engine_held(e), 0);
	cid_engine_free(e);
}

/* The server's Initial: ACK, ServerHello, and a Handshake packet in the
 * same datagram. */
static void server_datagram(struct cid_engine *e, int64_t ts)
{
	struct buf sh, fr = {.n = 0}, d = {.n = 0};
	struct cid_quic_keys k;
	struct pkt_spec s = {CID_QUIC_V1, 0, SCID, SCID_SRV, sizeof(SCID), sizeof(SCID_SRV), 0, 1};
	uint8_t junk[300];
	server_hello(&sh);
	b8(&fr, 0x02), b8(&fr, 1), b8(&fr, 0), b8(&fr, 0), b8(&fr, 1);
	crypto_frame(&fr, 0, sh.b, sh.n);
	assert_true(cid_quic_initial_keys(&k, CID_QUIC_V1, DCID, sizeof(DCID), true));
	protect(&d, &s, &k, fr.b, fr.n);
	memset(junk, 0x5a, sizeof(junk));
	b8(&d, 0xe1), b32(&d, 1), b8(&d, 4), bmem(&d, SCID, 4), b8(&d, 5), bmem(&d, SCID_SRV, 5);
	bvar2(&d, sizeof(junk)), bmem(&d, junk, sizeof(junk));
	udp(e, ts, false, d.b, d.n);
}

/* The ClientHello's second part, then its first (server_between: the
 * server's Initial between them, as when the first part's datagram is
 * lost and sent again), then the server's Initial. */
static void hellos(bool server_between)
{
	struct cid_engine *e = engine();
	struct buf ch, fr, d;
	size_t cut;
	client_hello(&ch);
	cut = ch.n / 3;
	/* the second part of the ClientHello first (RFC 9000 leaves the order
	 * to the sender; Chrome scrambles it), then the first */
	fr.n = 0, crypto_frame(&fr, cut, ch.b + cut, ch.n - cut), pad_to(&fr, 24);
	d.n = 0, build_initial(&d, CID_QUIC_V1, 0, false, fr.b, fr.n, 0);
	assert_true(d.n >= CID_QUIC_MIN_INITIAL);
	udp(e, 1000, true, d.b, d.n);
	assert_int_equal(R.on_tls, 0);
	if (server_between) {
		server_datagram(e, 1500);
		/* not reported before the ClientHello is in */
		assert_int_equal(R.on_tls, 0);
	}
	fr.n = 0, crypto_frame(&fr, 0, ch.b, cut), pad_to(&fr, 24);
	d.n = 0, build_initial(&d, CID_QUIC_V1, 0, false, fr.b, fr.n, 1);
	udp(e, 2000, true, d.b, d.n);
	if (!server_between)
		server_datagram(e, 3000);
	assert_int_equal(R.on_tls, 1);
	assert_int_equal(cid_engine_stats(e)->quic_initials, 3);
	assert_int_equal(cid_engine_stats(e)->quic_undecrypted, 0);
	finish(e);
	assert_int_equal(R.ended, 1);
	assert_int_equal(R.proto, 17);
	assert_true(R.have_ch && R.have_sh);
	assert_string_equal(R.sni, TEST_SNI);
	assert_int_equal(R.version, 0x0304);
	assert_true(R.group_ok);
	assert_int_equal(R.group, 0x001d);
	assert_int_equal(R.status, CID_TLSS_OK);
}

static void test_engine_hellos(void **state)
{
	(void)state;
	hellos(false);
	hellos(true);
}

static void test_engine_retry(void **state)
{
	static const uint8_t NEW_DCID[4] = {0x1b, 0x03, 0x6a, 0x11};
	struct cid_engine *e = engine();
	struct buf ch, sh, fr, d;
	struct cid_quic_keys k;
	(void)state;
	client_hello(&ch);
	server_hello(&sh);
	fr.n = 0, crypto_frame(&fr, 0, ch.b, ch.n), pad_to(&fr, 24);
	d.n = 0, build_initial(&d, CID_QUIC_V1, 0, false, fr.b, fr.n, 0);
	udp(e, 1000, true, d.b, d.n);
	b8(&fr, 0), b8(&fr, 0), b8(&fr, 0), b8(&fr, 0); /* the new DCID is 4 bytes shorter */
	/* Retry (RFC 9000 17.2.5): a new connection ID, a token, the integrity tag */
	d.n = 0, b8(&d, 0xf0), b32(&d, 1), b8(&d, 4), bmem(&d, SCID, 4), b8(&d, 4), bmem(&d, NEW_DCID, 4);
	bfill(&d, 0x33, 40);
	udp(e, 2000, false, d.b, d.n);
	/* the client again, with keys from the server's connection ID */
	{
		struct pkt_spec s = {CID_QUIC_V1, 0, NEW_DCID, SCID, 4, 4, 1, 2};
		assert_true(cid_quic_initial_keys(&k, CID_QUIC_V1, NEW_DCID, 4, false));
		d.n = 0, protect(&d, &s, &k, fr.b, fr.n);
		udp(e, 3000, true, d.b, d.n);
	}
	fr.n = 0, crypto_frame(&fr, 0, sh.b, sh.n);
	{
		struct pkt_spec s = {CID_QUIC_V1, 0, SCID, SCID_SRV, 4, 5, 0, 2};
		assert_true(cid_quic_initial_keys(&k, CID_QUIC_V1, NEW_DCID, 4, true));
		d.n = 0, protect(&d, &s, &k, fr.b, fr.n);
		udp(e, 4000, false, d.b, d.n);
	}
	assert_int_equal(cid_engine_stats(e)->quic_initials, 3);
	finish(e);
	assert_true(R.have_ch && R.have_sh);
	assert_int_equal(R.status, CID_TLSS_OK);
}

/* Datagrams that look like QUIC and are not: no TLS state, nothing held. */
static void test_engine_not_quic(void **state)
{
	struct cid_engine *e = engine();
	struct buf d;
	(void)state;
	/* a well-formed Initial header around bytes no key opens */
	d.n = 0, b8(&d, 0xc1), b32(&d, 1), b8(&d, 8), bmem(&d, DCID, 8), b8(&d, 0), b8(&d, 0);
	bvar2(&d, 1182), bfill(&d, 0x77, 1182);
	assert_int_equal(d.n, CID_QUIC_MIN_INITIAL);
	for (int i = 0; i < 6; i++)
		udp(e, 1000 + i, true, d.b, d.n);
	assert_int_equal(cid_engine_stats(e)->quic_undecrypted, CID_QUIC_TRIES_TEST);
	assert_int_equal(cid_engine_stats(e)->flows_tls, 0);
	/* a small datagram is not looked at */
	d.n = 40;
	udp(e, 2000, true, d.b, d.n);
	assert_int_equal(cid_engine_stats(e)->quic_undecrypted, CID_QUIC_TRIES_TEST);
	finish(e);
	assert_false(R.have_ch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint),
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_initial_keys_rfc9001),
		cmocka_unit_test(test_decrypt_round_trip),
		cmocka_unit_test(test_parse_long_bad),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_engine_hellos),
		cmocka_unit_test(test_engine_retry),
		cmocka_unit_test(test_engine_not_quic),
	};
	if (!cid_md_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
