/*
 * test_community_id.c - Community ID v1 against published values:
 *   - the spec's baseline tables (corelight/community-id-spec,
 *     baseline/baseline_deflt.json and baseline_seed1.json): each tuple in
 *     both directions gives the same ID;
 *   - Suricata's suricata-verify test community-id-ipv4 (its runner's
 *     configuration uses seed 7) and tshark 4.0's communityid dissector
 *     (seed 0) on the same flow; tshark on foxio-ja4 ipv6.pcapng;
 *   - and end to end: the first frame of that capture through the decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "callerid/common.h"
#include "callerid/decode.h"
#include "callerid/flow.h"

struct vec {
	uint8_t proto;
	const char *saddr, *daddr;
	uint16_t sport, dport;
	uint16_t seed;
	const char *want;
};

static const struct vec vecs[] = {
	/* spec baseline, seed 0 */
	{6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, 0,
	 "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
	{6, "128.232.110.120", "66.35.250.204", 34855, 80, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
	{17, "192.168.1.52", "8.8.8.8", 54585, 53, 0, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
	{132, "192.168.170.8", "192.168.170.56", 7, 7, 0, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
	{46, "10.1.12.1", "10.1.12.2", 0, 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
	/* spec baseline, seed 1 */
	{6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, 1,
	 "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
	{6, "128.232.110.120", "66.35.250.204", 34855, 80, 1, "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
	{17, "192.168.1.52", "8.8.8.8", 54585, 53, 1, "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
	{132, "192.168.170.8", "192.168.170.56", 7, 7, 1, "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
	{46, "10.1.12.1", "10.1.12.2", 0, 0, 1, "1:rYir8gphR31noO9iDRQmF/BteEI="},
	/* suricata-verify community-id-ipv4 (seed 7) and tshark (seed 0) */
	{6, "172.26.0.39", "172.217.14.206", 35958, 443, 7, "1:IwiTNfuO7aCaamMijl+7/X9uLx0="},
	{6, "172.26.0.39", "172.217.14.206", 35958, 443, 0, "1:0rRFlkfZsYZ0l7PqLoMEAxHMqrI="},
	/* tshark on foxio-ja4/pcap/ipv6.pcapng */
	{6, "2001:4998:ef83:14:8000::100d", "2606:4700::6811:d209", 64034, 443, 0,
	 "1:/wxqZ626SZRx3CanjPRZ6tl4iH8="},
};

static struct cid_flow *flow_of(uint8_t proto, const char *a, uint16_t ap, const char *b, uint16_t bp)
{
	struct cid_flow *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->proto = proto;
	assert_true(cid_addr_parse(&f->cli, a));
	assert_true(cid_addr_parse(&f->srv, b));
	f->cport = ap;
	f->sport = bp;
	return f;
}

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		char out[64];
		struct cid_flow *f = flow_of(v->proto, v->saddr, v->sport, v->daddr, v->dport);
		memset(out, 'x', sizeof(out));
		cid_community_id(f, v->seed, out);
		assert_string_equal(out, v->want);
		/* The other direction hashes the same. */
		struct cid_flow *r = flow_of(v->proto, v->daddr, v->dport, v->saddr, v->sport);
		cid_community_id(r, v->seed, out);
		assert_string_equal(out, v->want);
		free(f);
		free(r);
	}
}

/* Same address on both sides: the port decides the order. */
static void test_same_address(void **state)
{
	char a[64], b[64], c[64];
	struct cid_flow *f1 = flow_of(6, "127.0.0.1", 5000, "127.0.0.1", 80);
	struct cid_flow *f2 = flow_of(6, "127.0.0.1", 80, "127.0.0.1", 5000);
	struct cid_flow *f3 = flow_of(17, "127.0.0.1", 80, "127.0.0.1", 5000);
	(void)state;
	cid_community_id(f1, 0, a);
	cid_community_id(f2, 0, b);
	cid_community_id(f3, 0, c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 30);
	assert_memory_equal(a, "1:", 2);
	free(f1);
	free(f2);
	free(f3);
}

/* The first packet of the suricata-verify capture, through the decoder. */
static void test_from_capture(void **state)
{
	const char *dir = getenv("CALLERID_DATA");
	char path[1024], err[PCAP_ERRBUF_SIZE], out[64];
	struct pcap_pkthdr *h;
	const u_char *d;
	struct cid_pkt pkt;
	enum cid_skip why;
	struct cid_flow *f;
	pcap_t *pc;
	(void)state;
	snprintf(path, sizeof(path), "%s/suricata-verify/community-id-ipv4/input.pcap",
		 dir && *dir ? dir : "../shared/data");
	pc = pcap_open_offline(path, err);
	if (!pc)
		skip();
	assert_int_equal(pcap_next_ex(pc, &h, &d), 1);
	assert_int_equal(cid_decode_frame(&pkt, &why, pcap_datalink(pc), d, h->caplen), CID_OK);
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->proto = pkt.proto;
	f->cli = pkt.src;
	f->srv = pkt.dst;
	f->cport = pkt.sport;
	f->sport = pkt.dport;
	cid_community_id(f, 7, out);
	assert_string_equal(out, "1:IwiTNfuO7aCaamMijl+7/X9uLx0=");
	cid_community_id(f, 0, out);
	assert_string_equal(out, "1:0rRFlkfZsYZ0l7PqLoMEAxHMqrI=");
	free(f);
	pcap_close(pc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_same_address),
		cmocka_unit_test(test_from_capture),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
