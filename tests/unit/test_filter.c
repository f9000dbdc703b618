/* test_filter.c - the capture filter builder (endpoints, IMDS, -f), endpoint
 * resolution of IPs and CIDRs, and the IMDS request-head reader with an
 * every-prefix truncation sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "callerid/decode.h"
#include "callerid/live.h"

static void nets_of(struct cid_net *nets, size_t *num, const char *const *specs)
{
	char err[256];
	*num = 0;
	for (size_t i = 0; specs[i]; i++)
		assert_int_equal(cid_filter_resolve(nets, num, 16, specs[i], err, sizeof(err)), 0);
}

static void test_build_table(void **state)
{
	static const struct {
		const char *specs[5];
		bool imds;
		const char *user;
		const char *want;
	} cases[] = {
		{{NULL}, true, NULL, ""},
		{{NULL}, false, "tcp port 443", "(tcp port 443)"},
		{{"10.0.0.1", NULL}, false, NULL, "(host 10.0.0.1)"},
		{{"10.0.0.1", NULL}, true, NULL, "(host 10.0.0.1 or ((host 169.254.169.254 or host fd00:ec2::254 or host 169.254.170.23 or host fd00:ec2::23) and tcp port 80))"},
		{{"10.0.0.1", "10.1.2.3/16", "fd00::5", "fd00:1::7/64"}, false, NULL,
		 "(host 10.0.0.1 or net 10.1.0.0/16 or host fd00::5 or net fd00:1::/64)"},
		{{"10.0.0.1", "10.0.0.1", NULL}, false, "tcp", "(host 10.0.0.1) and (tcp)"},
		{{"192.168.1.0/24", NULL}, true, "not port 22",
		 "(net 192.168.1.0/24 or ((host 169.254.169.254 or host fd00:ec2::254 or host 169.254.170.23 or host fd00:ec2::23) and tcp port 80)) and (not port 22)"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cid_net nets[16];
		size_t num;
		char out[512], err[256];
		nets_of(nets, &num, cases[i].specs);
		assert_true(cid_filter_build(out, sizeof(out), nets, num, cases[i].imds, cases[i].user));
		assert_string_equal(out, cases[i].want);
		if (*out)
			assert_true(cid_filter_check(out, CID_DLT_LINUX_SLL2, 262144, err, sizeof(err)));
	}
}

/* capture --dns: port 53 joins the endpoint part (UDP and TCP). */
static void test_build_dns(void **state)
{
	static const char *const specs[] = {"10.0.0.1", NULL};
	struct cid_net nets[16];
	size_t num;
	char out[512], err[256];
	(void)state;
	nets_of(nets, &num, specs);
	assert_true(cid_filter_build_ex(out, sizeof(out), nets, num, true, true, "not port 22"));
	assert_string_equal(out, "(host 10.0.0.1 or ((host 169.254.169.254 or host fd00:ec2::254 or host 169.254.170.23 or host fd00:ec2::23) and tcp port 80) or port 53) and (not port 22)");
	assert_true(cid_filter_check(out, CID_DLT_LINUX_SLL2, 262144, err, sizeof(err)));
	assert_true(cid_filter_build_ex(out, sizeof(out), nets, num, false, true, NULL));
	assert_string_equal(out, "(host 10.0.0.1 or port 53)");
	assert_true(cid_filter_build_ex(out, sizeof(out), NULL, 0, true, true, NULL));
	assert_string_equal(out, "");
}

static void test_build_too_small(void **state)
{
	struct cid_net nets[16];
	size_t num;
	char out[16];
	static const char *const specs[] = {"10.0.0.1", "10.0.0.2", NULL};
	(void)state;
	nets_of(nets, &num, specs);
	assert_false(cid_filter_build(out, sizeof(out), nets, num, true, NULL));
	assert_string_equal(out, "");
}

static void test_resolve_errors(void **state)
{
	struct cid_net nets[2];
	size_t num = 0;
	char err[256];
	(void)state;
	assert_int_equal(cid_filter_resolve(nets, &num, 2, "10.0.0.0/33", err, sizeof(err)), -CID_EINVAL);
	assert_int_equal(cid_filter_resolve(nets, &num, 2, "", err, sizeof(err)), -CID_EINVAL);
	assert_int_equal(cid_filter_resolve(nets, &num, 2, "10.0.0.1", err, sizeof(err)), 0);
	assert_int_equal(cid_filter_resolve(nets, &num, 2, "10.0.0.2", err, sizeof(err)), 0);
	/* a duplicate does not count against the cap */
	assert_int_equal(cid_filter_resolve(nets, &num, 2, "10.0.0.2", err, sizeof(err)), 0);
	assert_int_equal(cid_filter_resolve(nets, &num, 2, "10.0.0.3", err, sizeof(err)), -CID_EINVAL);
	assert_non_null(strstr(err, "too many"));
	assert_int_equal(num, 2);
}

static void test_resolve_localhost(void **state)
{
	struct cid_net nets[8];
	size_t num = 0;
	char err[256];
	(void)state;
	/* "localhost" comes from /etc/hosts: no network needed */
	if (cid_filter_resolve(nets, &num, 8, "localhost", err, sizeof(err)) != 0)
		skip();
	assert_true(num >= 1);
	for (size_t i = 0; i < num; i++)
		assert_int_equal(nets[i].prefix, nets[i].addr.family == 4 ? 32 : 128);
}

static void test_check_bad(void **state)
{
	char err[256] = "";
	(void)state;
	assert_false(cid_filter_check("tcp and and", CID_DLT_LINUX_SLL2, 262144, err, sizeof(err)));
	assert_true(strlen(err) > 0);
	assert_true(cid_filter_check("tcp port 443", CID_DLT_EN10MB, 262144, err, sizeof(err)));
}

/* ---- IMDS ---------------------------------------------------------------- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_table),
		cmocka_unit_test(test_build_dns),
		cmocka_unit_test(test_build_too_small),
		cmocka_unit_test(test_resolve_errors),
		cmocka_unit_test(test_resolve_localhost),
		cmocka_unit_test(test_check_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
