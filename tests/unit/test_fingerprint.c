/*
 * test_fingerprint.c - JA3, JA3S and JA4 on hand-built hellos: the worked
 * examples of FoxIO's JA4 technical details (JA4.md: "t13d1516h2_
 * 8daaf6152771_e5627efa2ab1", the no-signature-algorithms hash
 * 6d807ffa2a79, the ALPN hex examples, the raw and original-order
 * forms of "Raw Output"), the JA3 README example
 * (salesforce/ja3: 769,47-53-...,0 = ada70206e40642a3e4461f35503241d5),
 * GREASE removal, caps and the empty-field rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "callerid/tls.h"

static void set16(uint16_t *dst, uint16_t *num, const uint16_t *src, size_t n)
{
	memcpy(dst, src, n * sizeof(*src));
	*num = (uint16_t)n;
}

/* The JA4.md example hello, with GREASE sprinkled in. */
static void spec_hello(struct cid_tls_hello *h)
{
	static const uint16_t ciphers[] = {0x1a1a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
					   0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
	static const uint16_t exts[] = {0x2a2a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d,
					0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0xfafa};
	static const uint16_t sigs[] = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601};
	static const uint16_t versions[] = {0x3a3a, 0x0304, 0x0303};
	memset(h, 0, sizeof(*h));
	h->hs_type = CID_TLS_HS_CLIENT_HELLO;
	h->legacy_version = 0x0303;
	set16(h->ciphers, &h->num_ciphers, ciphers, sizeof(ciphers) / 2);
	set16(h->exts, &h->num_exts, exts, sizeof(exts) / 2);
	set16(h->sig_algs, &h->num_sig_algs, sigs, sizeof(sigs) / 2);
	set16(h->versions, &h->num_versions, versions, sizeof(versions) / 2);
	h->has_sni = true;
	memcpy(h->sni, "example.com", 12);
	h->has_alpn = true;
	h->num_alpn = 2;
	memcpy(h->alpn_first, "h2", 2);
	h->alpn_first_len = 2;
}

static void test_ja4_spec_example(void **state)
{
	struct cid_tls_hello h;
	char ja4[CID_JA4_LEN];
	(void)state;
	spec_hello(&h);
	cid_ja4(&h, 't', ja4);
	assert_string_equal(ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
	assert_int_equal(strlen(ja4), CID_JA4_LEN - 1);
	cid_ja4(&h, 'q', ja4);
	assert_string_equal(ja4, "q13d1516h2_8daaf6152771_e5627efa2ab1");
	/* "If there are no signature algorithms ... ends without an underscore" */
	h.num_sig_algs = 0;
	cid_ja4(&h, 't', ja4);
	assert_string_equal(ja4, "t13d1516h2_8daaf6152771_6d807ffa2a79");
	/* GREASE-only signature algorithms count as none */
	h.sig_algs[0] = 0x0a0a;
	h.num_sig_algs = 1;
	cid_ja4(&h, 't', ja4);
	assert_string_equal(ja4, "t13d1516h2_8daaf6152771_6d807ffa2a79");
}

/* JA4.md "Raw Output": the same example hello, sorted and original. */
static void test_ja4_forms(void **state)
{
	struct cid_tls_hello h;
	char out[CID_JA4_RAW_MAX], small[CID_JA4_LEN];
	(void)state;
	spec_hello(&h);
	cid_ja4_form(&h, 't', CID_JA4_RAW, out, sizeof(out));
	assert_string_equal(out, "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,"
				 "cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,"
				 "0804,0401,0503,0805,0501,0806,0601");
	cid_ja4_form(&h, 't', CID_JA4_ORIGINAL | CID_JA4_RAW, out, sizeof(out));
	assert_string_equal(out, "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,"
				 "0035_001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,"
				 "0015_0403,0804,0401,0503,0805,0501,0806,0601");
	cid_ja4_form(&h, 't', CID_JA4_ORIGINAL, out, sizeof(out));
	assert_string_equal(out, "t13d1516h2_acb858a92679_18f69afefd3d");
	/* form 0 is JA4 itself */
	cid_ja4_form(&h, 't', 0, out, sizeof(out));
	assert_string_equal(out, "t13d1516h2_8daaf6152771_e5627efa2ab1");
	/* a raw form that does not fit is left empty, never cut */
	cid_ja4_form(&h, 't', CID_JA4_RAW, small, sizeof(small));
	assert_string_equal(small, "");

	/* Only SNI and ALPN among the extensions, no signature algorithms:
	 * the sorted list is empty (raw: nothing after the '_'); the original
	 * order keeps 0000,0010, and its hash is still zeros (FoxIO's
	 * reference code; its socks-https-example.pcap output). */
	h.exts[0] = 0x0000;
	h.exts[1] = 0x0010;
	h.num_exts = 2;
	h.num_sig_algs = 0;
	h.num_versions = 0;
	h.legacy_version = 0x0301;
	cid_ja4_form(&h, 't', CID_JA4_RAW, out, sizeof(out));
	assert_string_equal(out, "t10d1502h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,"
				 "cca9_");
	cid_ja4_form(&h, 't', CID_JA4_ORIGINAL | CID_JA4_RAW, out, sizeof(out));
	assert_string_equal(out, "t10d1502h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,"
				 "0035_0000,0010");
	cid_ja4_form(&h, 't', CID_JA4_ORIGINAL, out, sizeof(out));
	assert_string_equal(out, "t10d1502h2_acb858a92679_000000000000");
	/* no ciphers: empty raw list, zero hash */
	h.num_ciphers = 0;
	cid_ja4_form(&h, 't', CID_JA4_RAW, out, sizeof(out));
	assert_string_equal(out, "t10d0002h2__");
	cid_ja4_form(&h, 't', CID_JA4_ORIGINAL, out, sizeof(out));
	assert_string_equal(out, "t10d0002h2_000000000000_000000000000");
}

/* The stored lists flows rebuilds the forms from: "1301,c02b", parsed
 * through the cursor; every prefix, hostile text, the cap. */
static void test_ja4_hex_list(void **state)
{
	static const char text[] = "1301,c02b,0a0a";
	uint16_t v[4];
	size_t n;
	struct cid_tls_hello h;
	char direct[CID_JA4_RAW_MAX], rebuilt[CID_JA4_RAW_MAX], ja4[CID_JA4_LEN];
	(void)state;
	assert_true(cid_ja4_hex_list((const uint8_t *)text, strlen(text), v, 4, &n));
	assert_int_equal(n, 3);
	assert_int_equal(v[0], 0x1301);
	assert_int_equal(v[1], 0xc02b);
	assert_int_equal(v[2], 0x0a0a);
	for (size_t len = 0; len <= strlen(text); len++) {
		bool whole = len == 0 || len == 4 || len == 9 || len == 14;
		assert_int_equal(cid_ja4_hex_list((const uint8_t *)text, len, v, 4, &n), whole);
	}
	assert_false(cid_ja4_hex_list((const uint8_t *)text, strlen(text), v, 2, &n)); /* over the cap */
	assert_false(cid_ja4_hex_list((const uint8_t *)"C02B", 4, v, 4, &n));      /* not as stored */
	assert_false(cid_ja4_hex_list((const uint8_t *)"13\0001", 5, v, 4, &n));
	assert_false(cid_ja4_hex_list((const uint8_t *)",1301", 5, v, 4, &n));
	assert_false(cid_ja4_hex_list((const uint8_t *)"1301;c02b", 9, v, 4, &n));
	assert_false(cid_ja4_hex_list((const uint8_t *)"0x13", 4, v, 4, &n));

	/* the forms from the lists equal the forms from the hello */
	spec_hello(&h);
	cid_ja4(&h, 't', ja4);
	for (unsigned form = 0; form <= (CID_JA4_RAW | CID_JA4_ORIGINAL); form++) {
		cid_ja4_form(&h, 't', form, direct, sizeof(direct));
		cid_ja4_lists(ja4, h.ciphers, h.num_ciphers, h.exts, h.num_exts, h.sig_algs, h.num_sig_algs, form,
			      rebuilt, sizeof(rebuilt));
		assert_string_equal(direct, rebuilt);
	}
	/* a JA4_a shorter than ten characters gives nothing */
	cid_ja4_lists("t13d", h.ciphers, h.num_ciphers, h.exts, h.num_exts, h.sig_algs, h.num_sig_algs, CID_JA4_RAW,
		      rebuilt, sizeof(rebuilt));
	assert_string_equal(rebuilt, "");
}

static void test_ja4_version_and_sni(void **state)
{
	static const struct {
		uint16_t legacy, supported; /* supported 0: no extension */
		const char *want;
	} rows[] = {
		{0x0303, 0x0304, "13"}, {0x0303, 0, "12"}, {0x0302, 0, "11"}, {0x0301, 0, "10"},
		{0x0300, 0, "s3"}, {0x0002, 0, "s2"}, {0xfeff, 0, "d1"}, {0xfefd, 0, "d2"},
		{0xfefd, 0xfefc, "d3"}, {0x0303, 0x7f12, "00"}, {0x0303, 0x7e01, "00"}, {0x1234, 0, "00"},
		{0x0302, 0x0a0a, "11"}, /* only GREASE: fall back to legacy_version */
	};
	struct cid_tls_hello h;
	char ja4[CID_JA4_LEN];
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		spec_hello(&h);
		h.legacy_version = rows[i].legacy;
		h.num_versions = 0;
		if (rows[i].supported) {
			h.versions[0] = rows[i].supported;
			h.num_versions = 1;
		}
		cid_ja4(&h, 't', ja4);
		assert_memory_equal(ja4 + 1, rows[i].want, 2);
	}
	/* no SNI extension: 'i'; the extension without a host_name: still 'd' */
	spec_hello(&h);
	h.has_sni = false;
	cid_ja4(&h, 't', ja4);
	assert_int_equal(ja4[3], 'd');
	h.exts[2] = 0x0017;
	cid_ja4(&h, 't', ja4);
	assert_int_equal(ja4[3], 'i');
}

static void test_ja4_alpn(void **state)
{
	static const struct {
		const char *alpn;
		size_t len;
		const char *want;
	} rows[] = {
		/* JA4.md "ALPN Extension Value" examples */
		{"h2", 2, "h2"},
		{"http/1.1", 8, "h1"},
		{"\xab", 1, "ab"},
		{"\xab\xcd", 2, "ad"},
		{"\x30\xab", 2, "3b"},
		{"\x30\x31\xab\xcd", 4, "3d"},
		{"\x30\xab\xcd\x31", 4, "01"},
		{"h", 1, "hh"},          /* single character is both first and last */
		{"", 0, "00"},           /* empty first value */
		{"-h2", 3, "22"},        /* '-' (0x2d) first: hex rule */
		{"\xba\xad", 2, "bd"},   /* foxio tls-non-ascii-alpn.pcapng */
	};
	struct cid_tls_hello h;
	char ja4[CID_JA4_LEN];
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		spec_hello(&h);
		memcpy(h.alpn_first, rows[i].alpn, rows[i].len);
		h.alpn_first_len = (uint8_t)rows[i].len;
		cid_ja4(&h, 't', ja4);
		assert_memory_equal(ja4 + 8, rows[i].want, 2);
	}
	spec_hello(&h);
	h.has_alpn = false;
	h.num_alpn = 0;
	h.alpn_first_len = 0;
	cid_ja4(&h, 't', ja4);
	assert_memory_equal(ja4 + 8, "00", 2);
}

static void test_ja4_empty_and_caps(void **state)
{
	struct cid_tls_hello h;
	char ja4[CID_JA4_LEN];
	(void)state;
	/* no ciphers / only SNI and ALPN: "000000000000" */
	spec_hello(&h);
	h.num_ciphers = 0;
	h.exts[0] = 0x0000;
	h.exts[1] = 0x0010;
	h.num_exts = 2;
	cid_ja4(&h, 't', ja4);
	assert_string_equal(ja4, "t13d0002h2_000000000000_000000000000");
	/* counts above 99 print 99; GREASE never counts */
	spec_hello(&h);
	for (uint16_t i = 0; i < 150; i++)
		h.ciphers[i] = (uint16_t)(0x0100 + i);
	h.ciphers[0] = 0x0a0a;
	h.num_ciphers = 150;
	for (uint16_t i = 0; i < 120; i++)
		h.exts[i] = (uint16_t)(0x0100 + i);
	h.num_exts = 120;
	cid_ja4(&h, 't', ja4);
	assert_memory_equal(ja4, "t13d9999h2_", 11);
	spec_hello(&h);
	for (uint16_t i = 0; i < 16; i++)
		h.ciphers[i] = 0x0a0a;
	cid_ja4(&h, 't', ja4);
	assert_memory_equal(ja4, "t13d0016h2_000000000000_", 24);
}

static void test_ja3(void **state)
{
	static const uint16_t ciphers[] = {0x0a0a, 47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4};
	static const uint16_t exts[] = {0, 0xdada, 10, 11};
	static const uint16_t groups[] = {0x2a2a, 23, 24, 25};
	struct cid_tls_hello h;
	char str[CID_JA3_MAX], md5[33], small[16];
	(void)state;
	memset(&h, 0, sizeof(h));
	h.legacy_version = 0x0301;
	set16(h.ciphers, &h.num_ciphers, ciphers, sizeof(ciphers) / 2);
	set16(h.exts, &h.num_exts, exts, sizeof(exts) / 2);
	set16(h.groups, &h.num_groups, groups, sizeof(groups) / 2);
	h.point_formats[0] = 0;
	h.num_point_formats = 1;
	assert_true(cid_ja3(&h, str, sizeof(str), md5));
	assert_string_equal(str, "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0");
	assert_string_equal(md5, "ada70206e40642a3e4461f35503241d5");

	/* the buffer too small: cut, NUL-terminated, no hash */
	assert_false(cid_ja3(&h, small, sizeof(small), md5));
	assert_string_equal(small, "769,47-53-5-10-");
	assert_string_equal(md5, "");
	assert_false(cid_ja3(&h, small, 0, md5));

	/* no extensions: the empty fields keep their commas */
	memset(&h, 0, sizeof(h));
	h.legacy_version = 0x0301;
	h.ciphers[0] = 4;
	h.ciphers[1] = 5;
	h.ciphers[2] = 10;
	h.num_ciphers = 3;
	assert_true(cid_ja3(&h, str, sizeof(str), md5));
	assert_string_equal(str, "769,4-5-10,,,");
	assert_string_equal(md5, "73c580309d73416556b36e213d598ac1"); /* coreutils md5sum */

	/* a full-size hello fits CID_JA3_MAX */
	memset(&h, 0, sizeof(h));
	for (unsigned i = 0; i < CID_TLS_MAX_CIPHERS; i++)
		h.ciphers[i] = 65535;
	h.num_ciphers = CID_TLS_MAX_CIPHERS;
	for (unsigned i = 0; i < CID_TLS_MAX_EXTS; i++)
		h.exts[i] = 65535;
	h.num_exts = CID_TLS_MAX_EXTS;
	for (unsigned i = 0; i < CID_TLS_MAX_GROUPS; i++)
		h.groups[i] = 65535;
	h.num_groups = CID_TLS_MAX_GROUPS;
	h.num_point_formats = CID_TLS_MAX_SMALL;
	memset(h.point_formats, 255, CID_TLS_MAX_SMALL);
	assert_true(cid_ja3(&h, str, sizeof(str), md5));
	assert_int_equal(strlen(md5), 32);
}

static void test_ja3s(void **state)
{
	struct cid_tls_hello h;
	char str[64], md5[33];
	(void)state;
	memset(&h, 0, sizeof(h));
	h.hs_type = CID_TLS_HS_SERVER_HELLO;
	h.legacy_version = 0x0303;
	h.ciphers[0] = 0xc02f;
	h.num_ciphers = 1;
	h.exts[0] = 0xff01;
	h.exts[1] = 0x0a0a; /* GREASE removed */
	h.exts[2] = 11;
	h.exts[3] = 35;
	h.num_exts = 4;
	assert_true(cid_ja3s(&h, str, sizeof(str), md5));
	/* Suricata ja4-tls / tshark ja3s of the same ServerHello */
	assert_string_equal(str, "771,49199,65281-11-35");
	assert_string_equal(md5, "ccc514751b175866924439bdbb5bba34");
	h.num_exts = 0;
	assert_true(cid_ja3s(&h, str, sizeof(str), md5));
	assert_string_equal(str, "771,49199,");
	assert_false(cid_ja3s(&h, str, 5, md5));
	assert_string_equal(str, "771,");
	assert_string_equal(md5, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ja4_spec_example),
		cmocka_unit_test(test_ja4_forms),
		cmocka_unit_test(test_ja4_hex_list),
		cmocka_unit_test(test_ja4_version_and_sni),
		cmocka_unit_test(test_ja4_alpn),
		cmocka_unit_test(test_ja4_empty_and_caps),
		cmocka_unit_test(test_ja3),
		cmocka_unit_test(test_ja3s),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
