/*
 * fuzz_stream.c - libFuzzer harness for TCP reassembly, alone and inside
 * the flow engine.
 *
 * Input: byte 0 picks the mode, byte 1 the number K of segments, then K
 * segment descriptors of 7 bytes (control, sequence offset u32, length
 * u16, big-endian), then the stream content: a segment covering offsets
 * [o, o+len) carries content[(o + i) % content_len] (a fixed pattern when
 * the content is empty), so retransmissions and overlaps carry the same
 * bytes as a real stream would. In engine mode the first half of the
 * content is the client's stream and the second half the server's.
 *
 * Mode bit 0 clear: the segments go to cid_stream_add on one stream
 * (lengths over 4095 only with control bit 7 set); the harness checks that every delivered byte is the content byte at its
 * stream position, that gaps keep positions right, and that the hold never
 * exceeds its cap. Mode bit 0 set: the segments become TCP frames of one
 * connection fed to an engine with small caps (control bit 5 picks the
 * direction, bits 0-4 the TCP flags FIN SYN RST PSH ACK, bits 6-7 the time
 * step; lengths are cut to 13 bits); the harness checks the table cap and that every flow ends once.
 * Mode bit 1 set: no initial sequence number (the first segment starts the
 * stream; in engine mode, no SYN is sent first).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/flow.h"
#include "callerid/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OP_LEN 7u
#define ISN 0xFFFFF000u /* close to the wrap-around */

struct script {
	const uint8_t *ops;
	size_t num_ops;
	const uint8_t *content;
	size_t content_len;
};

static uint8_t seg[65536];

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t pool_at(const uint8_t *pool, size_t pool_len, uint32_t off)
{
	if (!pool_len)
		return (uint8_t)(off * 31u + (off >> 8));
	return pool[off % pool_len];
}

/* Fills out with len bytes of a pool from stream offset off (in runs, as
 * the big segments would be slow byte by byte). */
static void fill_from(uint8_t *out, const uint8_t *pool, size_t pool_len, uint32_t off, size_t len)
{
	size_t i = 0;
	if (!pool_len) {
		for (; i < len; i++)
			out[i] = pool_at(pool, pool_len, off + (uint32_t)i);
		return;
	}
	while (i < len) {
		uint32_t o = off + (uint32_t)i;
		size_t at = (size_t)(o % pool_len), run = pool_len - at;
		uint64_t to_wrap = 0x100000000ULL - o; /* positions wrap at 2^32 like sequence numbers */
		if (run > len - i)
			run = len - i;
		if (run > to_wrap)
			run = (size_t)to_wrap;
		memcpy(out + i, pool + at, run);
		i += run;
	}
}

static void make_seg(const uint8_t *pool, size_t pool_len, uint32_t off, size_t len)
{
	fill_from(seg, pool, pool_len, off, len);
}

/* ---- reassembly alone ---------------------------------------------------- */

struct check {
	const struct script *sc;
	bool have_pos;
	uint32_t pos; /* stream offset (relative to ISN) of the next byte */
	uint64_t bytes;
};

static void on_bytes(void *ctx, const uint8_t *p, size_t n, bool seg_start, int64_t ts)
{
	struct check *c = ctx;
	(void)seg_start;
	(void)ts;
	if (!c->have_pos)
		abort(); /* the harness sets the position before any delivery */
	if (p) {
		static uint8_t want[65536];
		for (size_t i = 0; i < n; i += sizeof(want)) {
			size_t k = n - i < sizeof(want) ? n - i : sizeof(want);
			fill_from(want, c->sc->content, c->sc->content_len, c->pos + (uint32_t)i, k);
			if (memcmp(p + i, want, k))
				abort();
		}
		c->bytes += n;
	} else if (n == 0) {
		abort(); /* an empty gap */
	}
	c->pos += (uint32_t)n;
}

static void run_stream(const struct script *sc, bool no_isn)
{
	struct cid_stream *s = cid_stream_new();
	struct check c;
	if (!s)
		return;
	memset(&c, 0, sizeof(c));
	c.sc = sc;
	if (!no_isn) {
		cid_stream_set_isn(s, ISN);
		c.have_pos = true;
	}
	for (size_t k = 0; k < sc->num_ops; k++) {
		const uint8_t *op = sc->ops + k * OP_LEN;
		uint32_t off = be32(op + 1);
		size_t len = (size_t)op[5] << 8 | op[6];
		/* big segments only when asked for: they make runs slow */
		if (!(op[0] & 0x80))
			len &= 0x0FFF;
		if (!c.have_pos && len) {
			c.have_pos = true;
			c.pos = off;
		}
		make_seg(sc->content, sc->content_len, off, len);
		if (!cid_stream_add(s, ISN + off, seg, len, (int64_t)k, on_bytes, &c))
			continue;
		if (cid_stream_held(s) > CID_STREAM_OOO_CAP)
			abort();
	}
	cid_stream_close(s, 0, on_bytes, &c);
	if (cid_stream_held(s) != 0 || cid_stream_delivered(s) != c.bytes)
		abort();
	cid_stream_free(s);
}

/* ---- inside the engine ------------------------------------------------------ */

static uint8_t frame[20 + 20 + 65536];

static size_t tcp_frame(int dir, uint32_t seq, uint32_t ack, uint8_t flags, size_t len)
{
	static const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
	size_t tot = 40 + len;
	memset(frame, 0, 40);
	frame[0] = 0x45;
	frame[2] = (uint8_t)(tot >> 8), frame[3] = (uint8_t)tot;
	frame[4] = (uint8_t)(seq >> 3), frame[5] = (uint8_t)len; /* IP id varies */
	frame[8] = 64, frame[9] = 6;
	memcpy(frame + 12, dir ? b : a, 4);
	memcpy(frame + 16, dir ? a : b, 4);
	frame[20] = dir ? 0x01 : 0x9c, frame[21] = dir ? 0xbb : 0x40; /* 443 / 40000 */
	frame[22] = dir ? 0x9c : 0x01, frame[23] = dir ? 0x40 : 0xbb;
	for (int i = 0; i < 4; i++) {
		frame[24 + i] = (uint8_t)(seq >> (24 - 8 * i));
		frame[28 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	frame[32] = 0x50;
	frame[33] = flags;
	frame[34] = 0xff, frame[35] = 0xff;
	memcpy(frame + 40, seg, len);
	return tot;
}

static void count_end(void *ctx, struct cid_flow *f)
{
	uint64_t *n = ctx;
	(*n)++;
	if (f->num_reqs > CID_FLOW_MAX_REQUESTS || f->stream[0] || f->stream[1] || f->hbuf[0] || f->hbuf[1])
		abort();
}

static void run_engine(const struct script *sc, bool no_syn)
{
	static const uint8_t tcp_flags[5] = {0x01, 0x02, 0x04, 0x08, 0x10};
	struct cid_engine_config cfg;
	struct cid_engine *e;
	uint64_t ended = 0, created;
	uint32_t isn[2] = {ISN, 0x1000u};
	int64_t ts = 1000000000LL;
	size_t half = sc->content_len / 2;
	cid_engine_config_default(&cfg);
	cfg.max_flows = 4;
	cfg.stream_cap = 1024;
	cfg.idle_ns = 60LL * 1000000000LL;
	cfg.burst_gap_ns = 500LL * 1000000LL;
	cfg.hash_seed = 7;
	cfg.on_end = count_end;
	cfg.ctx = &ended;
	e = cid_engine_new(&cfg);
	if (!e)
		abort();
	if (!no_syn) {
		size_t n = tcp_frame(0, isn[0] - 1, 0, 0x02, 0);
		cid_engine_frame(e, ts, 101, 0, frame, n, n);
		n = tcp_frame(1, isn[1] - 1, isn[0], 0x12, 0);
		cid_engine_frame(e, ts, 101, 0, frame, n, n);
	}
	for (size_t k = 0; k < sc->num_ops; k++) {
		const uint8_t *op = sc->ops + k * OP_LEN;
		uint8_t ctl = op[0], flags = 0;
		int dir = (ctl >> 5) & 1;
		uint32_t off = be32(op + 1);
		size_t len = (size_t)op[5] << 8 | op[6], n;
		static const int64_t steps[4] = {1000000LL, 1000000000LL, 400LL * 1000000000LL, -1000000000LL};
		for (int i = 0; i < 5; i++)
			if (ctl & (1u << i))
				flags |= tcp_flags[i];
		ts += steps[ctl >> 6];
		len &= 0x1FFF; /* a TSO-sized segment at most: the caps here are small */
		/* the client's stream is the first half of the content, the
		 * server's the second */
		if (dir)
			make_seg(sc->content + half, sc->content_len - half, off, len);
		else
			make_seg(sc->content, half, off, len);
		n = tcp_frame(dir, isn[dir] + off, isn[!dir], flags, len);
		cid_engine_frame(e, ts, 101, (uint32_t)(k & 1), frame, n, n);
		if (cid_engine_num_flows(e) > 4)
			abort();
	}
	created = cid_engine_stats(e)->flows;
	cid_engine_free(e);
	if (ended != created)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script sc;
	uint8_t mode;
	if (size < 2)
		return 0;
	mode = data[0];
	sc.num_ops = data[1];
	if (sc.num_ops * OP_LEN > size - 2)
		sc.num_ops = (size - 2) / OP_LEN;
	sc.ops = data + 2;
	sc.content = data + 2 + sc.num_ops * OP_LEN;
	sc.content_len = size - 2 - sc.num_ops * OP_LEN;
	if (mode & 1)
		run_engine(&sc, mode & 2);
	else
		run_stream(&sc, mode & 2);
	return 0;
}
