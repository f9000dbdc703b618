/*
 * fingerprint.c - JA3, JA3S (salesforce/ja3 definition) and JA4 (FoxIO's
 * published JA4 technical details, BSD-3-Clause method) of parsed hellos.
 *
 * Hashes come from libcrypto (EVP MD5 / SHA-256); nothing is hand-written.
 * JA4S and the rest of JA4+ are not implemented (FoxIO License 1.1).
 *
 * HelloRetryRequest: the caller passes the FIRST ClientHello of a
 * connection; JA3/JA4 then describe what the client offered unprompted
 * (the second ClientHello is shaped by the server's HRR). This matches the
 * FoxIO Rust implementation; FoxIO's Python reports the second one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "callerid/cursor.h"
#include "callerid/digest.h"
#include "callerid/tls.h"

/* A bounded text builder: appends never overrun; ok turns false on the
 * first append that did not fit. */
struct sbuf {
	char *p;
	size_t cap;
	size_t len;
	bool ok;
};

static void sb_init(struct sbuf *b, char *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	b->ok = cap > 0;
	if (cap > 0)
		p[0] = '\0';
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (!b->ok)
		return;
	if (n >= b->cap - b->len) {
		/* cut: keep what fits, stay NUL-terminated */
		size_t fit = b->cap - b->len - 1;
		memcpy(b->p + b->len, s, fit);
		b->len += fit;
		b->p[b->len] = '\0';
		b->ok = false;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* Decimal and hex by hand: snprintf was a tenth of the cost of storing a
 * TLS row (make bench). */
static void sb_uint(struct sbuf *b, unsigned v)
{
	char tmp[10];
	size_t n = sizeof(tmp);
	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n);
	sb_put(b, tmp + n, sizeof(tmp) - n);
}

static const char hex_digits[] = "0123456789abcdef";

static void sb_hex4(struct sbuf *b, uint16_t v)
{
	char tmp[4] = {hex_digits[v >> 12], hex_digits[(v >> 8) & 15], hex_digits[(v >> 4) & 15],
		       hex_digits[v & 15]};
	sb_put(b, tmp, sizeof(tmp));
}

/* Appends a '-'-joined decimal list, GREASE values left out (JA3). */
static void ja3_list(struct sbuf *b, const uint16_t *v, size_t n)
{
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (cid_tls_is_grease(v[i]))
			continue;
		if (!first)
			sb_put(b, "-", 1);
		sb_uint(b, v[i]);
		first = false;
	}
}

static void to_hex(char *out, const unsigned char *md, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_digits[md[i] >> 4];
		out[2 * i + 1] = hex_digits[md[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

/* Digest of s into lowercase hex (out holds 2 * digest size + 1). */
static bool digest_hex(const EVP_MD *md, const char *s, size_t n, char *out)
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!md || EVP_Digest(s, n, buf, &len, md, NULL) != 1) {
		out[0] = '\0';
		return false;
	}
	to_hex(out, buf, len);
	return true;
}

static bool finish_md5(struct sbuf *b, char md5_hex[33])
{
	md5_hex[0] = '\0';
	if (!b->ok)
		return false;
	return digest_hex(cid_md(CID_MD5), b->p, b->len, md5_hex);
}

bool cid_ja3(const struct cid_tls_hello *ch, char *str, size_t str_cap, char md5_hex[33])
{
	struct sbuf b;
	bool first = true;

	/* SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats */
	sb_init(&b, str, str_cap);
	sb_uint(&b, ch->legacy_version);
	sb_put(&b, ",", 1);
	ja3_list(&b, ch->ciphers, ch->num_ciphers);
	sb_put(&b, ",", 1);
	ja3_list(&b, ch->exts, ch->num_exts);
	sb_put(&b, ",", 1);
	ja3_list(&b, ch->groups, ch->num_groups);
	sb_put(&b, ",", 1);
	for (size_t i = 0; i < ch->num_point_formats; i++) {
		if (!first)
			sb_put(&b, "-", 1);
		sb_uint(&b, ch->point_formats[i]);
		first = false;
	}
	return finish_md5(&b, md5_hex);
}

bool cid_ja3s(const struct cid_tls_hello *sh, char *str, size_t str_cap, char md5_hex[33])
{
	struct sbuf b;

	/* SSLVersion,Cipher,Extensions */
	sb_init(&b, str, str_cap);
	sb_uint(&b, sh->legacy_version);
	sb_put(&b, ",", 1);
	if (sh->num_ciphers > 0)
		sb_uint(&b, sh->ciphers[0]);
	sb_put(&b, ",", 1);
	ja3_list(&b, sh->exts, sh->num_exts);
	return finish_md5(&b, md5_hex);
}

static int cmp_u16(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
	return (x > y) - (x < y);
}

/* Copies the non-GREASE values of v (minus the ones in skip) into out
 * (only counts them when out is NULL). */
static size_t filter(uint16_t *out, const uint16_t *v, size_t n, const uint16_t *skip, size_t num_skip)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool drop = cid_tls_is_grease(v[i]);
		for (size_t j = 0; j < num_skip && !drop; j++)
			drop = v[i] == skip[j];
		if (!drop && out)
			out[k] = v[i];
		k += !drop;
	}
	return k;
}

static void hex_list(struct sbuf *b, const uint16_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_put(b, ",", 1);
		sb_hex4(b, v[i]);
	}
}

/* First 12 hex digits of SHA-256 of the text, "000000000000" if the text
 * could not be built. False when libcrypto could not hash it (out of
 * memory, no provider): a made-up value would pass for a real one. */
static bool sha12(const struct sbuf *b, char out[13])
{
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	if (!b->ok) {
		memcpy(out, "000000000000", 13);
		return true;
	}
	if (!digest_hex(cid_md(CID_SHA256), b->p, b->len, hex))
		return false;
	memcpy(out, hex, 12);
	out[12] = '\0';
	return true;
}

/* JA4 "TLS and DTLS Version": highest non-GREASE supported_versions value,
 * else the ClientHello legacy_version. */
static const char *ja4_version(const struct cid_tls_hello *ch)
{
	uint16_t v = ch->legacy_version;
	bool have = false;

	for (size_t i = 0; i < ch->num_versions; i++) {
		if (cid_tls_is_grease(ch->versions[i]))
			continue;
		if (!have || ch->versions[i] > v)
			v = ch->versions[i];
		have = true;
	}
	switch (v) {
	case 0x0304: return "13";
	case 0x0303: return "12";
	case 0x0302: return "11";
	case 0x0301: return "10";
	case 0x0300: return "s3";
	case 0x0002: return "s2";
	case 0xfeff: return "d1";
	case 0xfefd: return "d2";
	case 0xfefc: return "d3";
	default: return "00";
	}
}

static bool is_alnum_ascii(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* JA4 "ALPN Extension Value": first and last byte of the first ALPN value;
 * "00" when absent or empty; when either byte is not an ASCII letter or
 * digit, the first hex digit of the first byte and the last hex digit of
 * the last byte. */
static void ja4_alpn(const struct cid_tls_hello *ch, char out[3])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t first, last;

	if (!ch->has_alpn || ch->num_alpn == 0 || ch->alpn_first_len == 0) {
		memcpy(out, "00", 3);
		return;
	}
	first = ch->alpn_first[0];
	last = ch->alpn_first[ch->alpn_first_len - 1];
	if (is_alnum_ascii(first) && is_alnum_ascii(last)) {
		out[0] = (char)first;
		out[1] = (char)last;
	} else {
		out[0] = digits[first >> 4];
		out[1] = digits[last & 0x0f];
	}
	out[2] = '\0';
}

static unsigned cap99(size_t n)
{
	return n > 99 ? 99u : (unsigned)n;
}

/* Appends part b or c of a JA4 form: the list text itself (raw forms), or
 * its sha12 ("000000000000" when empty is set). False when libcrypto could
 * not hash. */
static bool ja4_part(struct sbuf *o, const struct sbuf *text, bool raw, bool empty)
{
	char hash[13];
	if (raw) {
		sb_put(o, text->p, text->len);
		return true;
	}
	if (empty) {
		sb_str(o, "000000000000");
		return true;
	}
	if (!sha12(text, hash))
		return false;
	sb_str(o, hash);
	return true;
}

/* Parts b and c of a JA4 form after its JA4_a (see cid_ja4_lists). */
static void ja4_bc(struct sbuf *o, const uint16_t *c, size_t nc, const uint16_t *e, size_t ne, const uint16_t *g,
		   size_t ng, unsigned form)
{
	static const uint16_t sni_alpn[] = {0x0000, 0x0010};
	uint16_t ciphers[CID_TLS_MAX_CIPHERS], exts[CID_TLS_MAX_EXTS], sigs[CID_TLS_MAX_GROUPS];
	size_t num_ciphers, num_exts, num_sigs;
	char text[CID_JA4_RAW_MAX];
	struct sbuf b;
	bool original = form & CID_JA4_ORIGINAL, raw = form & CID_JA4_RAW;

	num_ciphers = filter(ciphers, c, nc < CID_TLS_MAX_CIPHERS ? nc : CID_TLS_MAX_CIPHERS, NULL, 0);
	ne = ne < CID_TLS_MAX_EXTS ? ne : CID_TLS_MAX_EXTS;
	num_exts = filter(exts, e, ne, sni_alpn, 2);
	num_sigs = filter(sigs, g, ng < CID_TLS_MAX_GROUPS ? ng : CID_TLS_MAX_GROUPS, NULL, 0);
	if (!original) {
		qsort(ciphers, num_ciphers, sizeof(ciphers[0]), cmp_u16);
		qsort(exts, num_exts, sizeof(exts[0]), cmp_u16);
	}
	/* JA4_b: the ciphers */
	sb_init(&b, text, sizeof(text));
	hex_list(&b, ciphers, num_ciphers);
	sb_put(o, "_", 1);
	if (!ja4_part(o, &b, raw, num_ciphers == 0)) {
		o->ok = false;
		return;
	}
	/* JA4_c: the extensions, '_', the signature algorithms in wire order.
	 * The original order keeps SNI and ALPN. Hashed, it is zeros when no
	 * extension but SNI and ALPN is there, in the original order too (as
	 * FoxIO's reference code does). */
	sb_init(&b, text, sizeof(text));
	if (original)
		hex_list(&b, exts, filter(exts, e, ne, NULL, 0));
	else
		hex_list(&b, exts, num_exts);
	if (num_sigs > 0) {
		sb_put(&b, "_", 1);
		hex_list(&b, sigs, num_sigs);
	}
	sb_put(o, "_", 1);
	if (!ja4_part(o, &b, raw, num_exts == 0))
		o->ok = false;
}

void cid_ja4_lists(const char *ja4_a, const uint16_t *ciphers, size_t num_ciphers, const uint16_t *exts,
		   size_t num_exts, const uint16_t *sigs, size_t num_sigs, unsigned form, char *out, size_t cap)
{
	struct sbuf o;
	sb_init(&o, out, cap);
	sb_put(&o, ja4_a, strnlen(ja4_a, CID_JA4_A_LEN));
	if (strnlen(ja4_a, CID_JA4_A_LEN) == CID_JA4_A_LEN)
		ja4_bc(&o, ciphers, num_ciphers, exts, num_exts, sigs, num_sigs, form);
	else
		o.ok = false;
	if (!o.ok && cap > 0)
		out[0] = '\0';
}

void cid_ja4_form(const struct cid_tls_hello *ch, char transport, unsigned form, char *out, size_t cap)
{
	char a[CID_JA4_A_LEN + 1], alpn[3], counts[5];
	struct sbuf o;
	bool sni = ch->has_sni;

	for (size_t i = 0; i < ch->num_exts && !sni; i++)
		sni = ch->exts[i] == 0x0000; /* "If the SNI extension (0x0000) exists" */
	ja4_alpn(ch, alpn);
	/* the counts have SNI and ALPN */
	(void)snprintf(counts, sizeof(counts), "%02u%02u", cap99(filter(NULL, ch->ciphers, ch->num_ciphers, NULL, 0)),
		       cap99(filter(NULL, ch->exts, ch->num_exts, NULL, 0)));
	/* JA4_a */
	sb_init(&o, a, sizeof(a));
	sb_put(&o, &transport, 1);
	sb_str(&o, ja4_version(ch));
	sb_put(&o, sni ? "d" : "i", 1);
	sb_str(&o, counts);
	sb_str(&o, alpn);
	cid_ja4_lists(a, ch->ciphers, ch->num_ciphers, ch->exts, ch->num_exts, ch->sig_algs, ch->num_sig_algs, form,
		      out, cap);
}

void cid_ja4(const struct cid_tls_hello *ch, char transport, char out[CID_JA4_LEN])
{
	cid_ja4_form(ch, transport, 0, out, CID_JA4_LEN);
}

bool cid_ja4_hex_list(const uint8_t *text, size_t len, uint16_t *out, size_t cap, size_t *n)
{
	struct cid_cur c;
	*n = 0;
	cid_cur_init(&c, text, len);
	while (cid_cur_len(&c) > 0) {
		const uint8_t *p;
		uint8_t comma;
		uint16_t v = 0;
		if (*n > 0 && (!cid_cur_u8(&c, &comma) || comma != ','))
			return false;
		if (!cid_cur_bytes(&c, &p, 4))
			return false;
		for (size_t i = 0; i < 4; i++) {
			unsigned d;
			if (p[i] >= '0' && p[i] <= '9')
				d = (unsigned)(p[i] - '0');
			else if (p[i] >= 'a' && p[i] <= 'f')
				d = (unsigned)(p[i] - 'a' + 10);
			else
				return false;
			v = (uint16_t)((unsigned)v << 4 | d);
		}
		if (*n == cap)
			return false;
		out[(*n)++] = v;
	}
	return true;
}
