/*
 * fuzz_tls.c - libFuzzer harness for the TLS record walker, both hello
 * parsers, the ServerKeyExchange parser and the fingerprints. The input is
 * one direction of a TCP stream; the first byte picks the handshake index
 * (bits 0-1) and the walker (bit 2: the plaintext-only one). Every message
 * found is parsed as a ClientHello, a ServerHello (and fingerprinted) and
 * a ServerKeyExchange of each kind; every prefix that the walker asks to
 * grow is replayed at the size it asked for. Each hello's JA4 forms are
 * also rebuilt from its lists written and parsed as the database holds
 * them (cid_ja4_hex_list, cid_ja4_lists), and must come out the same; the
 * raw input is parsed as such a list too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A list as the database stores it ("1301,c02b"), parsed back. */
static size_t round_trip(const uint16_t *v, size_t n, uint16_t *out, size_t cap)
{
	static char text[5 * 256 + 1];
	size_t len = 0, got;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, i ? ",%04x" : "%04x", v[i]);
	if (!cid_ja4_hex_list((const uint8_t *)text, len, out, cap, &got) || got != n)
		abort();
	return got;
}

/* Every JA4 form, directly and from the lists as `flows` rebuilds them:
 * both ways must agree. */
static void use_ja4_forms(const struct cid_tls_hello *h, const char *ja4)
{
	static char direct[CID_JA4_RAW_MAX], rebuilt[CID_JA4_RAW_MAX];
	static uint16_t c[CID_TLS_MAX_CIPHERS], e[CID_TLS_MAX_EXTS], g[CID_TLS_MAX_GROUPS];
	size_t nc = round_trip(h->ciphers, h->num_ciphers, c, CID_TLS_MAX_CIPHERS);
	size_t ne = round_trip(h->exts, h->num_exts, e, CID_TLS_MAX_EXTS);
	size_t ng = round_trip(h->sig_algs, h->num_sig_algs, g, CID_TLS_MAX_GROUPS);
	for (unsigned form = 0; form <= (CID_JA4_RAW | CID_JA4_ORIGINAL); form++) {
		cid_ja4_form(h, 't', form, direct, sizeof(direct));
		cid_ja4_lists(ja4, c, nc, e, ne, g, ng, form, rebuilt, sizeof(rebuilt));
		if (ja4[0] && strcmp(direct, rebuilt) != 0)
			abort();
	}
}

static void use_hello(const struct cid_tls_hello *h)
{
	char str[CID_JA3_MAX], md5[33], ja4[CID_JA4_LEN];
	(void)cid_ja3(h, str, sizeof(str), md5);
	(void)cid_ja3(h, str, 40, md5);
	(void)cid_ja3s(h, str, sizeof(str), md5);
	cid_ja4(h, 't', ja4);
	use_ja4_forms(h, ja4);
	(void)cid_tls_version_name(cid_tls_negotiated_version(h));
	(void)cid_tls_cipher_name(h->ciphers[0]);
	(void)cid_tls_group_name(h->key_share[0]);
}

/* ECDHE-RSA, ECDH_anon, ECDHE_PSK, RSA; TLS 1.0 and 1.2 */
static void use_ske(const uint8_t *m, size_t n)
{
	static const uint16_t suites[] = {0xc02f, 0xc018, 0xc035, 0x009c};
	uint16_t group;
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (cid_tls_parse_server_key_exchange(&group, m, n, 0x0303, suites[i]) == CID_OK)
			(void)cid_tls_group_name(group);
		(void)cid_tls_parse_server_key_exchange(&group, m, n, 0x0301, suites[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cid_tls_hello h;
	uint8_t *msg, type;
	size_t msg_len, need, have;
	unsigned index;
	bool plain;
	enum cid_status st;

	if (size < 1)
		return 0;
	index = data[0] & 3u;
	plain = (data[0] & 4u) != 0;
	data++;
	size--;
	(void)cid_tls_looks_like_handshake(data, size);
	msg = malloc(65536);
	if (!msg)
		return 0;
	/* the caller's loop: start small, grow to what the walker asks for */
	have = size < 5 ? size : 5;
	for (;;) {
		st = (plain ? cid_tls_find_plain_handshake : cid_tls_find_handshake)(data, have, index, &type, msg,
										     65536, &msg_len, &need);
		if (st != CID_TRUNCATED || need > size)
			break;
		if (need <= have)
			abort(); /* the walker must always ask for more */
		have = need;
	}
	if (st == CID_OK) {
		if (cid_tls_parse_client_hello(&h, msg, msg_len) == CID_OK)
			use_hello(&h);
		if (cid_tls_parse_server_hello(&h, msg, msg_len) == CID_OK)
			use_hello(&h);
		use_ske(msg, msg_len);
	}
	/* the raw bytes as a stored hex list (a database edited by hand) */
	{
		static uint16_t v[64];
		size_t n;
		(void)cid_ja4_hex_list(data, size, v, 64, &n);
	}
	/* the raw bytes as a hello body too */
	if (cid_tls_parse_client_hello(&h, data, size) == CID_OK)
		use_hello(&h);
	if (cid_tls_parse_server_hello(&h, data, size) == CID_OK)
		use_hello(&h);
	use_ske(data, size);
	free(msg);
	return 0;
}
