/* test_correlate.c - the matching core on hand-built rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "callerid/correlate.h"

#define S 1000000LL
#define T0 (1700000000LL * S)

static struct cid_cor_event ev(int64_t t, const char *ip, const char *ver, const char *cipher)
{
	struct cid_cor_event e = {.time_us = T0 + t, .source_ip = ip, .host = "ec2.us-east-1.amazonaws.com",
				  .tls_version = ver, .cipher = cipher};
	return e;
}

static struct cid_cor_burst bu(int64_t t, const char *ip, const char *ver, const char *cipher, int owner)
{
	struct cid_cor_burst b = {.ts_us = T0 + t, .client_ip = ip, .sni = "ec2.us-east-1.amazonaws.com",
				  .tls_version = ver, .cipher = cipher, .handshake = ver != NULL, .owner = owner};
	return b;
}

static void run(struct cid_cor_result *r, const struct cid_cor_event *e, size_t ne, const struct cid_cor_burst *b,
		size_t nb, bool autooff, int64_t *off)
{
	struct cid_cor_params p;
	int64_t o = 0;
	cid_cor_params_default(&p);
	p.auto_offset = autooff;
	assert_int_equal(cid_correlate(r, &o, e, ne, b, nb, &p), 0);
	if (off)
		*off = o;
}

static void test_single_match(void **state)
{
	struct cid_cor_event e[] = {ev(10 * S, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")};
	struct cid_cor_burst b[] = {bu(10 * S + 300000, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 7)};
	struct cid_cor_result r[1];
	(void)state;
	run(r, e, 1, b, 1, false, NULL);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	assert_int_equal(r[0].burst, 0);
	assert_true(r[0].address_checked);
	assert_true(r[0].confidence > 0.9);
}

static void test_keepalive_many_calls(void **state)
{
	/* one owner, one connection, ten calls two seconds apart */
	struct cid_cor_event e[10];
	struct cid_cor_burst b[10];
	struct cid_cor_result r[10];
	(void)state;
	for (int i = 0; i < 10; i++) {
		e[9 - i] = ev(i * 2 * S, "10.0.0.10", "TLSv1.3", "TLS_AES_128_GCM_SHA256"); /* unordered */
		b[i] = bu(i * 2 * S + 200000, "10.0.0.10", "TLSv1.3", "TLS_AES_128_GCM_SHA256", 1);
	}
	run(r, e, 10, b, 10, false, NULL);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(r[i].verdict, CID_ATTRIBUTED);
		/* each event took the burst of its own call */
		assert_int_equal(b[r[i].burst].ts_us - e[i].time_us, 200000);
	}
}

static void test_two_owners_same_second_ambiguous(void **state)
{
	struct cid_cor_event e[] = {ev(5 * S, "10.0.0.10", "TLSv1.2", "AES128-GCM-SHA256"),
				    ev(5 * S, "10.0.0.10", "TLSv1.2", "AES128-GCM-SHA256")};
	struct cid_cor_burst b[] = {bu(5 * S + 100000, "10.0.0.10", "TLSv1.2", "AES128-GCM-SHA256", 1),
				    bu(5 * S + 400000, "10.0.0.10", "TLSv1.2", "AES128-GCM-SHA256", 2)};
	struct cid_cor_result r[2];
	(void)state;
	run(r, e, 2, b, 2, false, NULL);
	/* never a guess */
	assert_int_equal(r[0].verdict, CID_AMBIGUOUS);
	assert_int_equal(r[1].verdict, CID_AMBIGUOUS);
	assert_int_equal(r[0].num_owners, 2);
	assert_true(r[0].confidence <= 0.5);
}

static void test_tls_version_separates(void **state)
{
	struct cid_cor_event e[] = {ev(5 * S, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"),
				    ev(5 * S, "10.0.0.10", "TLSv1.3", "TLS_AES_128_GCM_SHA256")};
	struct cid_cor_burst b[] = {bu(5 * S + 100000, "10.0.0.10", "TLSv1.3", "TLS_AES_128_GCM_SHA256", 1),
				    bu(5 * S + 400000, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 2)};
	struct cid_cor_result r[2];
	(void)state;
	run(r, e, 2, b, 2, false, NULL);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[0].burst].owner, 2);
	assert_int_equal(r[1].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[1].burst].owner, 1);
	assert_int_equal(r[0].excluded[CID_EXCL_VERSION], 1);
}

static void test_cipher_mismatch_unmatched(void **state)
{
	struct cid_cor_event e[] = {ev(5 * S, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384")};
	struct cid_cor_burst b[] = {bu(5 * S, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 1)};
	struct cid_cor_result r[1];
	(void)state;
	run(r, e, 1, b, 1, false, NULL);
	assert_int_equal(r[0].verdict, CID_UNMATCHED);
	assert_true(r[0].unmatched & CID_UNM_ALL_EXCLUDED);
	assert_int_equal(r[0].excluded[CID_EXCL_CIPHER], 1);
}

/* tlsDetails.keyExchange against the flow's group (key_share, or the TLS
 * 1.2 ServerKeyExchange curve): a difference excludes the burst, like the
 * version and the cipher; case does not matter; unknown on either side
 * (an empty string is unknown) does not exclude. */
static void test_key_exchange(void **state)
{
	struct cid_cor_event e[] = {ev(5 * S, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"),
				    ev(9 * S, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")};
	struct cid_cor_burst b[] = {bu(5 * S + 100000, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 1),
				    bu(5 * S + 400000, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 2),
				    bu(9 * S + 100000, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 1)};
	struct cid_cor_result r[2];
	(void)state;
	/* two owners in the same second: only the group tells them apart */
	e[0].key_exchange = "secp256r1";
	b[0].group = "x25519";
	b[1].group = "secp256r1";
	run(r, e, 1, b, 2, false, NULL);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[0].burst].owner, 2);
	assert_int_equal(r[0].excluded[CID_EXCL_KEY_EXCHANGE], 1);
	/* different spelling of case: a match */
	e[0].key_exchange = "SECP256R1";
	run(r, e, 1, b, 2, false, NULL);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[0].burst].owner, 2);
	/* every burst differs: unmatched, with the reason counted */
	e[1].key_exchange = "X25519MLKEM768";
	b[2].group = "x25519";
	run(r, e + 1, 1, b + 2, 1, false, NULL);
	assert_int_equal(r[0].verdict, CID_UNMATCHED);
	assert_true(r[0].unmatched & CID_UNM_ALL_EXCLUDED);
	assert_int_equal(r[0].excluded[CID_EXCL_KEY_EXCHANGE], 1);
	assert_string_equal(cid_cor_excl_name(CID_EXCL_KEY_EXCHANGE), "key exchange differs");
	/* unknown on either side: no test */
	b[2].group = NULL; /* a resumed TLS 1.2 session, RSA key exchange */
	run(r, e + 1, 1, b + 2, 1, false, NULL);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	b[2].group = "x25519";
	e[1].key_exchange = NULL;
	run(r, e + 1, 1, b + 2, 1, false, NULL);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	e[1].key_exchange = "";
	run(r, e + 1, 1, b + 2, 1, false, NULL);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	/* the IMDS evidence never brings back an excluded burst: see
	 * test_imds_never_overrides_exclusion; the version is tested first */
	e[1].key_exchange = "secp384r1";
	e[1].tls_version = "TLSv1.3";
	run(r, e + 1, 1, b + 2, 1, false, NULL);
	assert_int_equal(r[0].excluded[CID_EXCL_VERSION], 1);
	assert_int_equal(r[0].excluded[CID_EXCL_KEY_EXCHANGE], 0);
}

static void test_outside_capture(void **state)
{
	struct cid_cor_event e[] = {ev(500 * S, "10.0.0.10", NULL, NULL)};
	struct cid_cor_burst b[] = {bu(5 * S, "10.0.0.10", "TLSv1.2", "X", 1)};
	struct cid_cor_result r[1];
	(void)state;
	run(r, e, 1, b, 1, false, NULL);
	assert_int_equal(r[0].verdict, CID_UNMATCHED);
	assert_true(r[0].unmatched & CID_UNM_OUTSIDE_CAPTURE);
}

static void test_other_host(void **state)
{
	/* a private source address never seen in the capture: another node */
	struct cid_cor_event e[] = {ev(5 * S, "10.0.0.99", NULL, NULL)};
	struct cid_cor_burst b[] = {bu(5 * S, "10.0.0.10", "TLSv1.2", "X", 1)};
	struct cid_cor_result r[1];
	(void)state;
	run(r, e, 1, b, 1, false, NULL);
	assert_int_equal(r[0].verdict, CID_UNMATCHED);
	assert_true(r[0].unmatched & CID_UNM_ADDRESS_UNSEEN);
}

/* Two nodes' captures merged: node A (10.0.0.10) captured from 100 to
 * 200 s, node B (10.0.0.20) from 500 to 600 s. A call from A at 550 s is
 * inside the capture but outside what it saw of A: said so, with A's span;
 * a call from A at 150 s with no burst then is not. */
static void test_address_outside(void **state)
{
	struct cid_cor_event e[] = {ev(550 * S, "10.0.0.10", NULL, NULL), ev(150 * S, "10.0.0.10", NULL, NULL)};
	struct cid_cor_burst b[] = {bu(100 * S, "10.0.0.10", "TLSv1.2", "X", 1), bu(200 * S, "10.0.0.10", "TLSv1.2", "X", 1),
				    bu(500 * S, "10.0.0.20", "TLSv1.2", "X", 2), bu(600 * S, "10.0.0.20", "TLSv1.2", "X", 2)};
	struct cid_cor_result r[2];
	(void)state;
	run(r, e, 2, b, 4, false, NULL);
	assert_int_equal(r[0].verdict, CID_UNMATCHED);
	assert_true(r[0].unmatched & CID_UNM_ADDRESS_OUTSIDE);
	assert_false(r[0].unmatched & (CID_UNM_OUTSIDE_CAPTURE | CID_UNM_ADDRESS_UNSEEN));
	assert_int_equal(r[0].addr_first_us, T0 + 100 * S);
	assert_int_equal(r[0].addr_last_us, T0 + 200 * S);
	assert_int_equal(r[1].verdict, CID_UNMATCHED);
	assert_true(r[1].unmatched & CID_UNM_NO_BURST_IN_WINDOW);
	assert_false(r[1].unmatched & CID_UNM_ADDRESS_OUTSIDE);
}

static void test_public_source_drops_address(void **state)
{
	/* behind a NAT gateway CloudTrail shows its public address */
	struct cid_cor_event e[] = {ev(5 * S, "203.0.113.7", "TLSv1.2", "X")};
	struct cid_cor_burst b[] = {bu(5 * S, "10.0.0.10", "TLSv1.2", "X", 1)};
	struct cid_cor_result r[1];
	(void)state;
	run(r, e, 1, b, 1, false, NULL);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	assert_false(r[0].address_checked);
	assert_true(r[0].confidence < 0.9);
}

static void test_midstream_lower_confidence(void **state)
{
	struct cid_cor_event e[] = {ev(5 * S, "10.0.0.10", "TLSv1.2", "X")};
	struct cid_cor_burst b[] = {bu(5 * S, "10.0.0.10", NULL, NULL, 1)};
	struct cid_cor_result r[1];
	(void)state;
	run(r, e, 1, b, 1, false, NULL);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	assert_true(r[0].confidence < 0.75);
}

static void test_forced_assignment(void **state)
{
	/* e1 could be A or B, but e0 can only be B (TLS), and B made one call:
	 * e1 is A's */
	struct cid_cor_event e[] = {ev(5 * S, "10.0.0.10", "TLSv1.3", NULL), ev(5 * S, "10.0.0.10", NULL, NULL)};
	struct cid_cor_burst b[] = {bu(5 * S + 1000, "10.0.0.10", "TLSv1.2", "X", 1),
				    bu(5 * S + 2000, "10.0.0.10", "TLSv1.3", "Y", 2)};
	struct cid_cor_result r[2];
	(void)state;
	run(r, e, 2, b, 2, false, NULL);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[0].burst].owner, 2);
	assert_int_equal(r[1].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[1].burst].owner, 1);
}

static void test_skew_auto(void **state)
{
	/* the capture clock runs 42 s ahead of CloudTrail's */
	struct cid_cor_event e[20];
	struct cid_cor_burst b[20];
	struct cid_cor_result r[20];
	int64_t off = 0;
	(void)state;
	for (int i = 0; i < 20; i++) {
		e[i] = ev(i * 7 * S, "10.0.0.10", "TLSv1.2", "X");
		b[i] = bu(i * 7 * S + 42 * S + 300000, "10.0.0.10", "TLSv1.2", "X", 1);
	}
	run(r, e, 20, b, 20, false, NULL);
	assert_int_equal(r[3].verdict, CID_UNMATCHED);
	run(r, e, 20, b, 20, true, &off);
	assert_true(off > 41 * S && off < 43 * S);
	for (int i = 0; i < 20; i++)
		assert_int_equal(r[i].verdict, CID_ATTRIBUTED);
}

static void test_more_events_than_bursts(void **state)
{
	struct cid_cor_event e[] = {ev(5 * S, "10.0.0.10", NULL, NULL), ev(5 * S, "10.0.0.10", NULL, NULL)};
	struct cid_cor_burst b[] = {bu(5 * S, "10.0.0.10", "TLSv1.2", "X", 1)};
	struct cid_cor_result r[2];
	(void)state;
	run(r, e, 2, b, 1, false, NULL);
	assert_int_equal(r[0].verdict + r[1].verdict, CID_ATTRIBUTED + CID_UNMATCHED);
	assert_true((r[0].unmatched | r[1].unmatched) & CID_UNM_TAKEN);
}

static void test_answer_second_separates(void **state)
{
	/* A calls at 4.3 (answered 4.4), B at 5.3 (answered 5.4): the event of
	 * second 4 is A's, the event of second 5 is B's, although both bursts
	 * lie inside both widened windows */
	struct cid_cor_event e[] = {ev(4 * S, "10.0.0.10", "TLSv1.3", "X"), ev(5 * S, "10.0.0.10", "TLSv1.3", "X")};
	struct cid_cor_burst b[] = {bu(4 * S + 300000, "10.0.0.10", "TLSv1.3", "X", 1),
				    bu(5 * S + 300000, "10.0.0.10", "TLSv1.3", "X", 2)};
	struct cid_cor_result r[2];
	(void)state;
	b[0].answer_us = b[0].ts_us + 100000;
	b[1].answer_us = b[1].ts_us + 100000;
	run(r, e, 2, b, 2, false, NULL);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[0].burst].owner, 1);
	assert_int_equal(r[1].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[1].burst].owner, 2);
	/* a call answered at 5.02 may be the event of second 4 or 5: with two
	 * owners there, ambiguous */
	b[0].answer_us = T0 + 5 * S + 20000;
	b[1].answer_us = T0 + 5 * S + 20000;
	run(r, e, 1, b, 2, false, NULL);
	assert_int_equal(r[0].verdict, CID_AMBIGUOUS);
}

/* The origin story: two host-network processes (same node address, same
 * TLS) call DescribeTags in the same second with the node role; only the
 * IMDS evidence separates them (table-driven over the evidence). */
static const struct cid_cor_imds imds_v2_boto[] = {{T0, "eks-node-role", "Botocore/1.31.0", 2}};
static const struct cid_cor_imds imds_v1_curl[] = {{T0, "eks-node-role", "curl/7.88.1", 1}};
static const struct cid_cor_imds imds_other_role[] = {{T0, "some-other-role", "curl/7.88.1", 2}};

static void test_imds_separates(void **state)
{
	static const struct {
		const char *what;
		const char *role, *ua;
		uint8_t imdsv;
		const struct cid_cor_imds *a, *b; /* fetches of owners 1 and 2 */
		enum cid_verdict verdict;
		int owner;
		unsigned evidence;
	} cases[] = {
		{"role and version name owner 1", "eks-node-role", NULL, 2, imds_v2_boto, imds_v1_curl, CID_ATTRIBUTED, 1,
		 CID_COR_EV_IMDS_ROLE},
		{"role and version name owner 2", "eks-node-role", NULL, 1, imds_v2_boto, imds_v1_curl, CID_ATTRIBUTED, 2,
		 CID_COR_EV_IMDS_ROLE},
		{"version unknown: both fetched the role", "EKS-Node-Role", NULL, 0, imds_v2_boto, imds_v1_curl,
		 CID_AMBIGUOUS, 0, 0},
		{"only one fetched the role", "eks-node-role", NULL, 0, imds_other_role, imds_v1_curl, CID_ATTRIBUTED, 2,
		 CID_COR_EV_IMDS_ROLE},
		{"both fetched the role, the user agent names owner 1", "eks-node-role", "Botocore/1.31.0", 0,
		 imds_v2_boto, imds_v1_curl, CID_ATTRIBUTED, 1, CID_COR_EV_IMDS_ROLE | CID_COR_EV_IMDS_UA},
		/* an IRSA call by the same SDK: a node-role fetch is no evidence */
		{"user agent alone, not the node role", NULL, "Botocore/1.31.0", 0, imds_v2_boto, imds_v1_curl,
		 CID_AMBIGUOUS, 0, 0},
		/* the user agent of a fetch of another role does not count */
		{"user agent of another role's fetch", "eks-node-role", "curl/7.88.1", 0, imds_v2_boto, imds_other_role,
		 CID_ATTRIBUTED, 1, CID_COR_EV_IMDS_ROLE},
		{"role and user agent", "eks-node-role", "curl/7.88.1", 1, imds_v2_boto, imds_v1_curl, CID_ATTRIBUTED, 2,
		 CID_COR_EV_IMDS_ROLE | CID_COR_EV_IMDS_UA},
		{"not the node role", NULL, NULL, 0, imds_v2_boto, imds_v1_curl, CID_AMBIGUOUS, 0, 0},
		{"no IMDS fetches seen", "eks-node-role", "curl/7.88.1", 2, NULL, NULL, CID_AMBIGUOUS, 0, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cid_cor_event e[] = {ev(5 * S, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")};
		struct cid_cor_burst b[] = {bu(5 * S + 100000, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 1),
					    bu(5 * S + 400000, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 2)};
		struct cid_cor_result r[1];
		e[0].node_role = cases[i].role;
		e[0].user_agent = cases[i].ua;
		e[0].imdsv = cases[i].imdsv;
		b[0].imds = cases[i].a;
		b[0].num_imds = cases[i].a ? 1 : 0;
		b[1].imds = cases[i].b;
		b[1].num_imds = cases[i].b ? 1 : 0;
		run(r, e, 1, b, 2, false, NULL);
		print_message("# %s\n", cases[i].what);
		assert_int_equal(r[0].verdict, cases[i].verdict);
		if (cases[i].verdict == CID_ATTRIBUTED) {
			assert_int_equal(b[r[0].burst].owner, cases[i].owner);
			assert_int_equal(r[0].evidence, cases[i].evidence);
		} else {
			assert_int_equal(r[0].num_owners, 2);
		}
	}
}

/* IMDS evidence never overrides an exclusion: the owner that fetched the
 * role but whose flow's TLS version (or address) differs stays out. */
static void test_imds_never_overrides_exclusion(void **state)
{
	struct cid_cor_event e[] = {ev(5 * S, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")};
	struct cid_cor_burst b[] = {bu(5 * S + 100000, "10.0.0.10", "TLSv1.3", "TLS_AES_128_GCM_SHA256", 1),
				    bu(5 * S + 200000, "10.0.0.99", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 3),
				    bu(5 * S + 400000, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 2)};
	struct cid_cor_result r[1];
	(void)state;
	e[0].node_role = "eks-node-role";
	e[0].imdsv = 2;
	e[0].user_agent = "Botocore/1.31.0";
	b[0].imds = imds_v2_boto;
	b[0].num_imds = 1;
	b[1].imds = imds_v2_boto;
	b[1].num_imds = 1;
	run(r, e, 1, b, 3, false, NULL);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[0].burst].owner, 2);
	assert_int_equal(r[0].evidence, 0);
	assert_int_equal(r[0].excluded[CID_EXCL_VERSION], 1);
	assert_int_equal(r[0].excluded[CID_EXCL_ADDRESS], 1);
	assert_int_equal(cid_cor_evidence(&e[0], &b[0]), CID_COR_EV_IMDS_ROLE | CID_COR_EV_IMDS_UA);
}

/* A bonus is one tier: a burst in the event's own second without IMDS
 * evidence and a burst outside it with the evidence are alike. */
static void test_imds_worth_one_tier(void **state)
{
	struct cid_cor_event e[] = {ev(5 * S, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")};
	struct cid_cor_burst b[] = {bu(4 * S + 500000, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 1),
				    bu(5 * S + 400000, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 2)};
	struct cid_cor_result r[1];
	(void)state;
	e[0].node_role = "eks-node-role";
	b[0].imds = imds_v2_boto;
	b[0].num_imds = 1;
	run(r, e, 1, b, 2, false, NULL);
	assert_int_equal(r[0].verdict, CID_AMBIGUOUS);
}

/* One-to-one, whatever the order: B's IRSA call is alike between A's and
 * B's bursts and comes first; A's node-role call, decided by A's IMDS
 * fetch, takes A's burst after it. B's call is then B's, by elimination,
 * one step less sure (ORIGIN: the second caller of the same second). */
static void test_elimination(void **state)
{
	struct cid_cor_event e[] = {ev(5 * S, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"),
				    ev(5 * S, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")};
	struct cid_cor_burst b[] = {bu(5 * S + 100000, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 1),
				    bu(5 * S + 400000, "10.0.0.10", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 2)};
	struct cid_cor_result r[2];
	(void)state;
	e[1].node_role = "eks-node-role";
	e[1].imdsv = 2;
	b[0].imds = imds_v2_boto;
	b[0].num_imds = 1;
	run(r, e, 2, b, 2, false, NULL);
	assert_int_equal(r[1].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[1].burst].owner, 1);
	assert_false(r[1].by_elimination);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[0].burst].owner, 2);
	assert_true(r[0].by_elimination);
	/* A's: another owner's burst was a candidate; B's: by elimination */
	assert_true(r[1].confidence > 0.84 && r[1].confidence < 0.86);
	assert_true(r[0].confidence > 0.84 && r[0].confidence < 0.86);
	/* without the evidence nothing decides: both stay ambiguous */
	b[0].num_imds = 0;
	run(r, e, 2, b, 2, false, NULL);
	assert_int_equal(r[0].verdict, CID_AMBIGUOUS);
	assert_int_equal(r[1].verdict, CID_AMBIGUOUS);
}

/* e0 is alike between A, B and C; e1, decided for A by its IMDS
 * evidence, is assigned after it: e0 stays ambiguous, between B and C. */
static void test_elimination_narrows(void **state)
{
	struct cid_cor_event e[] = {ev(5 * S, "10.0.0.10", "TLSv1.3", "X"), ev(5 * S, "10.0.0.10", "TLSv1.3", "X")};
	struct cid_cor_burst b[] = {bu(5 * S + 100000, "10.0.0.10", "TLSv1.3", "X", 1),
				    bu(5 * S + 200000, "10.0.0.10", "TLSv1.3", "X", 2),
				    bu(5 * S + 300000, "10.0.0.10", "TLSv1.3", "X", 3)};
	struct cid_cor_result r[2];
	(void)state;
	e[1].node_role = "eks-node-role";
	b[0].imds = imds_v2_boto;
	b[0].num_imds = 1;
	run(r, e, 2, b, 3, false, NULL);
	assert_int_equal(r[1].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[1].burst].owner, 1);
	assert_int_equal(r[0].verdict, CID_AMBIGUOUS);
	assert_int_equal(r[0].num_owners, 2);
	assert_true(r[0].owners[0] != 1 && r[0].owners[1] != 1);
	assert_true(r[0].confidence > 0.44 && r[0].confidence < 0.46);
}

/* A chain: e0 alike between A and B, e1 between B and C, e2 decided for
 * C by its IMDS evidence and assigned last. C's burst taken settles e1 on
 * B, and B's taken settles e0 on A. An ambiguous event whose every alike
 * burst went to others stays ambiguous (never "taken"). */
static void test_elimination_chain(void **state)
{
	struct cid_cor_event e[] = {ev(2 * S, "10.0.0.10", "TLSv1.3", "X"), ev(4 * S, "10.0.0.10", "TLSv1.3", "X"),
				    ev(4 * S, "10.0.0.10", "TLSv1.3", "X"), ev(4 * S, "10.0.0.10", "TLSv1.3", "X")};
	struct cid_cor_burst b[] = {bu(1 * S + 500000, "10.0.0.10", "TLSv1.3", "X", 1),
				    bu(3 * S + 500000, "10.0.0.10", "TLSv1.3", "X", 2),
				    bu(5 * S + 500000, "10.0.0.10", "TLSv1.3", "X", 3)};
	struct cid_cor_result r[4];
	(void)state;
	e[2].node_role = "eks-node-role";
	b[2].imds = imds_v2_boto;
	b[2].num_imds = 1;
	run(r, e, 3, b, 3, false, NULL);
	assert_int_equal(r[2].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[2].burst].owner, 3);
	assert_int_equal(r[1].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[1].burst].owner, 2);
	assert_true(r[1].by_elimination);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[0].burst].owner, 1);
	assert_true(r[0].by_elimination);
	/* a fourth event like e1, assigned after e2: it gets B's burst in its
	 * turn (as before elimination existed), which leaves e1 nothing; e1
	 * stays ambiguous, and e0 is A's */
	run(r, e, 4, b, 3, false, NULL);
	assert_int_equal(b[r[2].burst].owner, 3);
	assert_int_equal(r[3].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[3].burst].owner, 2);
	assert_false(r[3].by_elimination);
	assert_int_equal(r[1].verdict, CID_AMBIGUOUS);
	assert_int_equal(r[1].num_owners, 2);
	assert_int_equal(r[0].verdict, CID_ATTRIBUTED);
	assert_int_equal(b[r[0].burst].owner, 1);
}

static void test_private_ranges(void **state)
{
	(void)state;
	assert_true(cid_ip_is_private("10.1.2.3"));
	assert_true(cid_ip_is_private("172.20.0.1"));
	assert_false(cid_ip_is_private("172.32.0.1"));
	assert_true(cid_ip_is_private("192.168.1.1"));
	assert_true(cid_ip_is_private("100.64.0.1"));
	assert_true(cid_ip_is_private("fd00::1"));
	assert_false(cid_ip_is_private("8.8.8.8"));
	assert_false(cid_ip_is_private("ec2.amazonaws.com"));
	assert_false(cid_ip_is_private(NULL));
}

/* The node role is read from the identity as CloudTrail writes it for
 * instance-profile credentials; IRSA and users are not the node role. */
static void test_node_role(void **state)
{
	char role[65], tiny[4];
	(void)state;
	assert_true(cid_cor_node_role("arn:aws:sts::111122223333:assumed-role/eks-worker-role/i-1a2b3c", NULL,
				      role, sizeof(role)));
	assert_string_equal(role, "eks-worker-role");
	/* ec2RoleDelivery marks instance-profile credentials whatever the session */
	assert_true(cid_cor_node_role("arn:aws:sts::111122223333:assumed-role/node/sess", "2.0", role, sizeof(role)));
	assert_string_equal(role, "node");
	/* IRSA: a web-identity session name, no ec2RoleDelivery */
	assert_false(cid_cor_node_role("arn:aws:sts::111122223333:assumed-role/app-irsa/botocore-session-1", NULL,
				       role, sizeof(role)));
	assert_false(cid_cor_node_role("arn:aws:iam::111122223333:user/alice", NULL, role, sizeof(role)));
	assert_false(cid_cor_node_role("arn:aws:sts::111122223333:assumed-role//i-1", NULL, role, sizeof(role)));
	assert_false(cid_cor_node_role("arn:aws:sts::111122223333:assumed-role/no-session", "2.0", role, sizeof(role)));
	assert_false(cid_cor_node_role(NULL, "2.0", role, sizeof(role)));
	/* a name that does not fit is refused, never cut */
	assert_false(cid_cor_node_role("arn:aws:sts::1:assumed-role/four/i-1", NULL, tiny, sizeof(tiny)));
	assert_true(cid_cor_node_role("arn:aws:sts::1:assumed-role/abc/i-1", NULL, tiny, sizeof(tiny)));
	assert_string_equal(tiny, "abc");
}

static void test_empty(void **state)
{
	struct cid_cor_result r[1];
	struct cid_cor_event e[] = {ev(5 * S, "10.0.0.10", NULL, NULL)};
	(void)state;
	run(r, e, 1, NULL, 0, true, NULL);
	assert_int_equal(r[0].verdict, CID_UNMATCHED);
	run(r, e, 0, NULL, 0, true, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_match),
		cmocka_unit_test(test_keepalive_many_calls),
		cmocka_unit_test(test_two_owners_same_second_ambiguous),
		cmocka_unit_test(test_elimination),
		cmocka_unit_test(test_elimination_chain),
		cmocka_unit_test(test_elimination_narrows),
		cmocka_unit_test(test_tls_version_separates),
		cmocka_unit_test(test_cipher_mismatch_unmatched),
		cmocka_unit_test(test_key_exchange),
		cmocka_unit_test(test_outside_capture),
		cmocka_unit_test(test_other_host),
		cmocka_unit_test(test_address_outside),
		cmocka_unit_test(test_public_source_drops_address),
		cmocka_unit_test(test_midstream_lower_confidence),
		cmocka_unit_test(test_forced_assignment),
		cmocka_unit_test(test_skew_auto),
		cmocka_unit_test(test_more_events_than_bursts),
		cmocka_unit_test(test_answer_second_separates),
		cmocka_unit_test(test_private_ranges),
		cmocka_unit_test(test_imds_separates),
		cmocka_unit_test(test_imds_never_overrides_exclusion),
		cmocka_unit_test(test_imds_worth_one_tier),
		cmocka_unit_test(test_node_role),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
