/* test_stream.c - TCP reassembly: in order, out of order, retransmission,
 * overlap, holes, caps, sequence wrap-around. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "callerid/stream.h"

struct sink {
	uint8_t data[1 << 18];
	size_t len;
	size_t gaps;
	size_t gap_bytes;
	size_t calls;
};

static void deliver(void *ctx, const uint8_t *p, size_t n, bool seg_start, int64_t ts)
{
	struct sink *s = ctx;
	(void)seg_start;
	(void)ts;
	s->calls++;
	if (!p) {
		s->gaps++;
		s->gap_bytes += n;
		return;
	}
	assert_true(s->len + n <= sizeof(s->data));
	memcpy(s->data + s->len, p, n);
	s->len += n;
}

static uint8_t src[200000];

static void fill(void)
{
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + i / 251);
}

static struct sink sk;

static void add(struct cid_stream *s, uint32_t isn, size_t off, size_t n)
{
	assert_true(cid_stream_add(s, isn + (uint32_t)off, src + off, n, 0, deliver, &sk));
}

static void test_in_order(void **state)
{
	struct cid_stream *s = cid_stream_new();
	(void)state;
	memset(&sk, 0, sizeof(sk));
	cid_stream_set_isn(s, 1000);
	add(s, 1000, 0, 100);
	add(s, 1000, 100, 50);
	assert_int_equal(sk.len, 150);
	assert_memory_equal(sk.data, src, 150);
	assert_int_equal(cid_stream_delivered(s), 150);
	cid_stream_free(s);
}

static void test_out_of_order(void **state)
{
	struct cid_stream *s = cid_stream_new();
	(void)state;
	memset(&sk, 0, sizeof(sk));
	cid_stream_set_isn(s, 5);
	add(s, 5, 200, 100);
	add(s, 5, 100, 100);
	assert_int_equal(sk.len, 0);
	assert_int_equal(cid_stream_held(s), 200);
	add(s, 5, 0, 100);
	assert_int_equal(sk.len, 300);
	assert_memory_equal(sk.data, src, 300);
	assert_int_equal(cid_stream_held(s), 0);
	cid_stream_free(s);
}

static void test_retransmit_and_overlap(void **state)
{
	struct cid_stream *s = cid_stream_new();
	(void)state;
	memset(&sk, 0, sizeof(sk));
	cid_stream_set_isn(s, 0);
	add(s, 0, 0, 100);
	add(s, 0, 0, 100);  /* pure retransmission */
	add(s, 0, 50, 100); /* overlaps 50 delivered bytes */
	add(s, 0, 120, 10); /* inside what is delivered */
	add(s, 0, 300, 50); /* early */
	add(s, 0, 280, 40); /* early, overlaps the held one */
	add(s, 0, 150, 150);
	assert_int_equal(sk.len, 350);
	assert_memory_equal(sk.data, src, 350);
	assert_int_equal(cid_stream_stats(s)->retransmitted, 2);
	assert_true(cid_stream_stats(s)->overlaps >= 2);
	cid_stream_free(s);
}

static void test_wraparound(void **state)
{
	struct cid_stream *s = cid_stream_new();
	uint32_t isn = 0xffffff00u;
	(void)state;
	memset(&sk, 0, sizeof(sk));
	cid_stream_set_isn(s, isn);
	add(s, isn, 300, 100); /* past the wrap, early */
	add(s, isn, 0, 300);
	assert_int_equal(sk.len, 400);
	assert_memory_equal(sk.data, src, 400);
	cid_stream_free(s);
}

static void test_gap_on_close(void **state)
{
	struct cid_stream *s = cid_stream_new();
	(void)state;
	memset(&sk, 0, sizeof(sk));
	cid_stream_set_isn(s, 0);
	add(s, 0, 0, 10);
	add(s, 0, 20, 10);
	cid_stream_close(s, 0, deliver, &sk);
	assert_int_equal(sk.gaps, 1);
	assert_int_equal(sk.gap_bytes, 10);
	assert_int_equal(sk.len, 20);
	assert_memory_equal(sk.data + 10, src + 20, 10);
	cid_stream_free(s);
}

static void test_hold_cap(void **state)
{
	struct cid_stream *s = cid_stream_new();
	(void)state;
	memset(&sk, 0, sizeof(sk));
	cid_stream_set_isn(s, 0);
	/* a hole at 0..100, then more early segments than may be held */
	for (size_t off = 100; off < 100 + 100 * (CID_STREAM_OOO_SEGS + 10); off += 100)
		add(s, 0, off, 100);
	assert_true(cid_stream_held(s) <= CID_STREAM_OOO_CAP);
	assert_true(sk.gaps >= 1);
	assert_true(cid_stream_stats(s)->hold_full >= 1);
	/* after the forced gap, the held data came out in order */
	assert_memory_equal(sk.data, src + 100, sk.len);
	cid_stream_free(s);
}

static void test_no_isn_midstream(void **state)
{
	struct cid_stream *s = cid_stream_new();
	(void)state;
	memset(&sk, 0, sizeof(sk));
	add(s, 777, 500, 100); /* first segment seen starts the stream */
	add(s, 777, 600, 100);
	assert_int_equal(sk.len, 200);
	assert_memory_equal(sk.data, src + 500, 200);
	cid_stream_free(s);
}

static void test_huge_early_segment(void **state)
{
	struct cid_stream *s = cid_stream_new();
	(void)state;
	memset(&sk, 0, sizeof(sk));
	cid_stream_set_isn(s, 0);
	add(s, 0, 10, CID_STREAM_OOO_CAP + 1000);
	assert_int_equal(sk.gaps, 1);
	assert_int_equal(sk.len, CID_STREAM_OOO_CAP + 1000);
	cid_stream_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_retransmit_and_overlap),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_gap_on_close),
		cmocka_unit_test(test_hold_cap),
		cmocka_unit_test(test_no_isn_midstream),
		cmocka_unit_test(test_huge_early_segment),
	};
	fill();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
