/*
 * flow.c - the engine: decode each frame, find its flow, count it once,
 * reassemble the stream starts, parse the TLS hellos, cut request bursts.
 *
 * Memory is bounded: the table holds at most max_flows flows; each stream
 * holds at most CID_STREAM_OOO_CAP early bytes; hello buffers grow to at
 * most stream_cap bytes and are freed as soon as the hellos are parsed; the
 * TLS state, hello buffers and early bytes of all flows together stay under
 * flow_mem; each flow keeps at most CID_FLOW_MAX_REQUESTS bursts. To make
 * room a flow is evicted (and counted): one the server never sent data on
 * if there is one (a SYN flood or never-finished hellos must not push out
 * the connections that carry API calls), else a closed one, else the least
 * recently active.
 */
#include <stdlib.h>
#include <string.h>

#include "callerid/flow.h"
#include "callerid/stream.h"
#include "flow_internal.h"

const char *cid_end_name(enum cid_end e)
{
	switch (e) {
	case CID_END_NONE: return "open";
	case CID_END_FIN: return "fin";
	case CID_END_RST: return "rst";
	case CID_END_IDLE: return "idle";
	case CID_END_EOC: return "end_of_capture";
	case CID_END_EVICTED: return "evicted";
	}
	return "?";
}

const char *cid_tls_status_name(enum cid_tls_status s)
{
	switch (s) {
	case CID_TLSS_NONE: return "no_hello";
	case CID_TLSS_CLIENT_ONLY: return "client_hello_only";
	case CID_TLSS_OK: return "ok";
	case CID_TLSS_SERVER_ONLY: return "server_hello_only";
	case CID_TLSS_MALFORMED: return "malformed";
	case CID_TLSS_GAP: return "gap";
	case CID_TLSS_TOO_BIG: return "too_big";
	case CID_TLSS_SSLV2: return "sslv2";
	}
	return "?";
}

void cid_engine_config_default(struct cid_engine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->stream_cap = CID_STREAM_CAP_DEFAULT;
	cfg->max_flows = CID_FLOW_MAX_DEFAULT;
	cfg->flow_mem = CID_FLOW_MEM_DEFAULT;
	cfg->idle_ns = CID_FLOW_IDLE_DEFAULT_US * 1000;
	cfg->burst_gap_ns = CID_BURST_GAP_DEFAULT_US * 1000;
	cfg->dedup_window_ns = 50 * 1000000LL;
	cfg->linger_ns = 2 * 1000000000LL;
	cfg->http_ports[0] = 80;
	cfg->num_http_ports = 1;
	cfg->dns = true;
	cfg->quic = true;
}

struct cid_engine *cid_engine_new(const struct cid_engine_config *cfg)
{
	struct cid_engine *e = calloc(1, sizeof(*e));
	size_t nb = 1024;
	if (!e)
		return NULL;
	e->cfg = *cfg;
	if (!e->cfg.stream_cap)
		e->cfg.stream_cap = CID_STREAM_CAP_DEFAULT;
	if (e->cfg.stream_cap > (1u << 24))
		e->cfg.stream_cap = 1u << 24;
	if (!e->cfg.max_flows)
		e->cfg.max_flows = CID_FLOW_MAX_DEFAULT;
	if (!e->cfg.flow_mem)
		e->cfg.flow_mem = CID_FLOW_MEM_DEFAULT;
	while (nb < e->cfg.max_flows && nb < ((size_t)1 << 26))
		nb <<= 1;
	e->nbuckets = nb;
	/* buckets are pointers to chains */
	// NOLINTNEXTLINE(bugprone-sizeof-expression)
	e->buckets = calloc(nb, sizeof(*e->buckets));
	e->scratch = malloc(e->cfg.stream_cap);
	if (!e->buckets || !e->scratch) {
		free(e->buckets);
		free(e->scratch);
		free(e);
		return NULL;
	}
	return e;
}

/* ---- hashing and lists -------------------------------------------------- */

static inline uint64_t load64(const uint8_t *b)
{
	uint64_t v;
	memcpy(&v, b, 8);
	return v;
}

/* Direction-independent hash of the 5-tuple: the two endpoints are hashed
 * separately and combined with a commutative operation. */
static uint64_t tuple_hash(uint64_t seed, const struct cid_addr *a, uint16_t ap, const struct cid_addr *b,
			   uint16_t bp, uint8_t proto)
{
	uint64_t ha = cid_mix64(seed ^ load64(a->b) ^ cid_mix64(load64(a->b + 8) ^ ap));
	uint64_t hb = cid_mix64(seed ^ load64(b->b) ^ cid_mix64(load64(b->b + 8) ^ bp));
	return cid_mix64((ha + hb) ^ proto);
}

static void list_remove(struct cid_flow **head, struct cid_flow **tail, struct cid_flow *f)
{
	if (f->lru_prev)
		f->lru_prev->lru_next = f->lru_next;
	else
		*head = f->lru_next;
	if (f->lru_next)
		f->lru_next->lru_prev = f->lru_prev;
	else
		*tail = f->lru_prev;
	f->lru_prev = f->lru_next = NULL;
}

static void list_append(struct cid_flow **head, struct cid_flow **tail, struct cid_flow *f)
{
	f->lru_next = NULL;
	f->lru_prev = *tail;
	if (*tail)
		(*tail)->lru_next = f;
	else
		*head = f;
	*tail = f;
}

/* The open list a flow belongs on. */
static void open_remove(struct cid_engine *e, struct cid_flow *f)
{
	if (f->answered)
		list_remove(&e->lru_head, &e->lru_tail, f);
	else
		list_remove(&e->new_head, &e->new_tail, f);
}

static void open_append(struct cid_engine *e, struct cid_flow *f)
{
	f->touch = ++e->touch;
	if (f->answered)
		list_append(&e->lru_head, &e->lru_tail, f);
	else
		list_append(&e->new_head, &e->new_tail, f);
}

/* The least recently active open flow of either list (NULL when none). */
static struct cid_flow *oldest_open(const struct cid_engine *e)
{
	if (!e->new_head)
		return e->lru_head;
	if (!e->lru_head)
		return e->new_head;
	return e->new_head->touch < e->lru_head->touch ? e->new_head : e->lru_head;
}

static void bucket_remove(struct cid_engine *e, struct cid_flow *f)
{
	struct cid_flow **pp = &e->buckets[f->hash & (e->nbuckets - 1)];
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	f->hnext = NULL;
}

/* ---- ending a flow ------------------------------------------------------ */

static void flow_release(struct cid_engine *e, struct cid_flow *f)
{
	cid_ev_release(e, f);
	for (int d = 0; d < 2; d++) {
		cid_stream_free(f->stream[d]);
		if (f->hbuf[d])
			cid_flow_held(e, -(int64_t)f->hcap[d]);
		free(f->hbuf[d]);
	}
	free(f->tls); /* uncounted already (end_flow) */
	free(f->reqs);
	free(f);
}

static void end_flow(struct cid_engine *e, struct cid_flow *f, enum cid_end why)
{
	if (f->closing)
		list_remove(&e->closing_head, &e->closing_tail, f);
	else
		open_remove(e, f);
	bucket_remove(e, f);
	e->num_flows--;
	/* Deliver what is still held (holes become gaps), close the burst. */
	cid_flow_quic_release(e, f);
	for (int d = 0; d < 2; d++)
		if (f->stream[d])
			cid_flow_stream_close(e, f, d);
	cid_burst_finish(e, f);
	cid_ev_finish(e, f);
	if (f->end_reason == CID_END_NONE || why == CID_END_EVICTED)
		f->end_reason = why;
	if (why == CID_END_EVICTED)
		e->st.flows_evicted++;
	else if (why == CID_END_IDLE)
		e->st.flows_idle++;
	cid_flow_tls_settle(e, f);
	/* The TLS state leaves the engine's budget now: on_end may take it
	 * over (read's writer queue does), leaving f->tls NULL. */
	if (f->tls)
		cid_flow_held(e, -(int64_t)sizeof(*f->tls));
	if (e->cfg.on_end)
		e->cfg.on_end(e->cfg.ctx, f);
	flow_release(e, f);
}

void cid_engine_flush(struct cid_engine *e, enum cid_end reason)
{
	struct cid_flow *f;
	while (e->closing_head)
		end_flow(e, e->closing_head, reason);
	while ((f = oldest_open(e)))
		end_flow(e, f, reason);
}

void cid_engine_expire(struct cid_engine *e, int64_t now_ns)
{
	struct cid_flow *f;
	while (e->closing_head && now_ns - e->closing_head->close_ns > e->cfg.linger_ns)
		end_flow(e, e->closing_head, e->closing_head->end_reason);
	while ((f = oldest_open(e)) && now_ns - f->last_ns > e->cfg.idle_ns)
		end_flow(e, f, CID_END_IDLE);
}

/* Ends one flow to make room: the least recently active flow not answered
 * yet (evicted: returns 2), else the longest-closed (1: it ends as it was
 * going to, only without waiting for late ACKs), else the least recently
 * active answered flow (2). 0 when the table is empty. Closed flows go
 * after the floods so that a real connection's last ACK, arriving during
 * one, still lands on it. */
static int evict_one(struct cid_engine *e)
{
	struct cid_flow *f = e->new_head;
	if (!f && e->closing_head) {
		f = e->closing_head;
		end_flow(e, f, f->end_reason);
		return 1;
	}
	if (!f)
		f = e->lru_head;
	if (!f)
		return 0;
	end_flow(e, f, CID_END_EVICTED);
	return 2;
}

void cid_engine_free(struct cid_engine *e)
{
	if (!e)
		return;
	cid_engine_flush(e, CID_END_EOC);
	free(e->buckets);
	free(e->scratch);
	free(e);
}

const struct cid_engine_stats *cid_engine_stats(const struct cid_engine *e)
{
	return &e->st;
}

size_t cid_engine_num_flows(const struct cid_engine *e)
{
	return e->num_flows;
}

size_t cid_engine_held(const struct cid_engine *e)
{
	return e->held_bytes;
}

/* ---- direction ---------------------------------------------------------- */

/* Ports that are servers when the SYN was not seen. */
static bool well_known_server(uint16_t port)
{
	switch (port) {
	case 443: case 80: case 53: case 8443: case 8080: case 3306: case 5432: case 6443:
	case 10250: case 2379: case 9443: case 853: case 123: case 22: case 25: case 465:
	case 587: case 993: case 995: case 636: case 389: case 5671: case 6379:
		return true;
	default:
		return false;
	}
}

/* Returns true when the packet's source is the client. */
static bool src_is_client(const struct cid_pkt *p, bool *guessed)
{
	*guessed = false;
	if (p->proto == 6 && (p->tcp_flags & CID_TCP_SYN))
		return !(p->tcp_flags & CID_TCP_ACK);
	*guessed = true;
	if (well_known_server(p->dport) && !well_known_server(p->sport))
		return true;
	if (well_known_server(p->sport) && !well_known_server(p->dport))
		return false;
	if (p->dport < 1024 && p->sport >= 1024)
		return true;
	if (p->sport < 1024 && p->dport >= 1024)
		return false;
	/* both ephemeral or both well known: the lower port serves */
	if (p->sport != p->dport)
		return p->sport > p->dport;
	return true;
}

/* ---- the per-packet path ------------------------------------------------ */

static struct cid_flow *lookup(struct cid_engine *e, const struct cid_pkt *p, uint64_t h, int *dir)
{
	struct cid_flow *f;
	for (f = e->buckets[h & (e->nbuckets - 1)]; f; f = f->hnext) {
		if (f->hash != h || f->proto != p->proto)
			continue;
		if (f->cport == p->sport && f->sport == p->dport && !memcmp(&f->cli, &p->src, sizeof(p->src)) &&
		    !memcmp(&f->srv, &p->dst, sizeof(p->dst))) {
			*dir = 0;
			return f;
		}
		if (f->cport == p->dport && f->sport == p->sport && !memcmp(&f->cli, &p->dst, sizeof(p->dst)) &&
		    !memcmp(&f->srv, &p->src, sizeof(p->src))) {
			*dir = 1;
			return f;
		}
	}
	return NULL;
}

static struct cid_flow *create(struct cid_engine *e, const struct cid_pkt *p, uint64_t h, int64_t ts, int *dir)
{
	struct cid_flow *f;
	bool guessed;
	if (e->num_flows >= e->cfg.max_flows)
		(void)evict_one(e);
	f = calloc(1, sizeof(*f));
	if (!f) {
		e->st.alloc_failed++;
		return NULL;
	}
	f->seq_no = ++e->next_seq_no;
	f->proto = p->proto;
	f->hash = h;
	if (src_is_client(p, &guessed)) {
		f->cli = p->src, f->srv = p->dst, f->cport = p->sport, f->sport = p->dport;
		*dir = 0;
	} else {
		f->cli = p->dst, f->srv = p->src, f->cport = p->dport, f->sport = p->sport;
		*dir = 1;
	}
	f->direction_guessed = guessed;
	f->mid_stream = p->proto == 6 && !(p->tcp_flags & CID_TCP_SYN);
	f->first_ns = f->last_ns = ts;
	f->hnext = e->buckets[h & (e->nbuckets - 1)];
	e->buckets[h & (e->nbuckets - 1)] = f;
	open_append(e, f);
	e->num_flows++;
	e->st.flows++;
	if (e->cfg.on_new)
		e->cfg.on_new(e->cfg.ctx, f);
	return f;
}

/* Same packet seen again (another interface of `-i any`, or the outgoing and
 * incoming copy on lo): same signature from a different interface/packet
 * type within the dedup window. A retransmission on the same interface is
 * not a duplicate. */
static bool is_duplicate(struct cid_engine *e, struct cid_flow *f, const struct cid_pkt *p, int dir,
			 uint32_t ifkey, int64_t ts)
{
	uint32_t sig = (uint32_t)cid_mix64(((uint64_t)p->seq << 32 | p->ack) ^
				       ((uint64_t)p->l4_csum << 48 | (uint64_t)p->ip_id << 32 |
					(uint64_t)(p->payload_wire_len & 0xffffff) << 8 | p->tcp_flags) ^
				       (uint64_t)dir);
	for (unsigned i = 0; i < 4; i++) {
		if (f->dedup_sig[i] == sig && f->dedup_ns[i] && f->dedup_if[i] != ifkey &&
		    ts - f->dedup_ns[i] <= e->cfg.dedup_window_ns && ts >= f->dedup_ns[i])
			return true;
	}
	f->dedup_sig[f->dedup_pos] = sig;
	f->dedup_if[f->dedup_pos] = ifkey;
	f->dedup_ns[f->dedup_pos] = ts;
	f->dedup_pos = (uint8_t)((f->dedup_pos + 1) & 3);
	return false;
}

static void note_iface(struct cid_flow *f, uint32_t ifindex)
{
	if (!ifindex)
		return;
	for (unsigned i = 0; i < f->num_ifaces; i++)
		if (f->ifaces[i] == ifindex)
			return;
	if (f->num_ifaces < CID_MAX_IFACES)
		f->ifaces[f->num_ifaces++] = ifindex;
}

static void tcp_state(struct cid_engine *e, struct cid_flow *f, const struct cid_pkt *p, int dir, int64_t ts)
{
	if ((p->tcp_flags & CID_TCP_SYN) && dir == 0 && !(p->tcp_flags & CID_TCP_ACK)) {
		f->have_syn = true;
		f->syn_seq = p->seq;
	}
	if (p->tcp_flags & CID_TCP_SYN) {
		cid_flow_stream_isn(e, f, dir, p->seq + 1);
	}
	if (f->closing)
		return;
	if (p->tcp_flags & CID_TCP_RST)
		f->end_reason = CID_END_RST;
	else if (p->tcp_flags & CID_TCP_FIN)
		f->fin_seen |= (uint8_t)(1u << dir);
	if ((p->tcp_flags & CID_TCP_RST) || f->fin_seen == 3) {
		if (f->end_reason == CID_END_NONE)
			f->end_reason = CID_END_FIN;
		f->closing = true;
		f->close_ns = ts;
		open_remove(e, f);
		list_append(&e->closing_head, &e->closing_tail, f);
	}
}

void cid_engine_frame(struct cid_engine *e, int64_t ts, int dlt, uint32_t ifindex, const uint8_t *p,
		      size_t caplen, size_t wirelen)
{
	struct cid_pkt pkt;
	enum cid_skip why = CID_SKIP_NONE;
	struct cid_flow *f;
	uint64_t h;
	int dir;
	uint32_t ifkey;
	(void)wirelen;

	e->st.frames++;
	e->st.bytes += caplen;
	if (ts < e->now_ns)
		e->st.time_backwards++;
	else
		e->now_ns = ts;
	/* Expire before looking up, so a reused tuple starts a new flow. The
	 * cheap test keeps this off the common path. */
	if ((e->lru_head && e->now_ns - e->lru_head->last_ns > e->cfg.idle_ns) ||
	    (e->new_head && e->now_ns - e->new_head->last_ns > e->cfg.idle_ns) ||
	    (e->closing_head && e->now_ns - e->closing_head->close_ns > e->cfg.linger_ns))
		cid_engine_expire(e, e->now_ns);

	memset(&pkt, 0, sizeof(pkt));
	if (cid_decode_frame(&pkt, &why, dlt, p, caplen) != CID_OK) {
		e->st.skipped[why < CID_SKIP__COUNT ? why : CID_SKIP_LINKTYPE]++;
		return;
	}
	e->st.decoded++;
	if (e->cfg.num_nets) {
		bool keep = false;
		for (size_t i = 0; i < e->cfg.num_nets && !keep; i++)
			keep = cid_net_match(&e->cfg.nets[i], &pkt.src) || cid_net_match(&e->cfg.nets[i], &pkt.dst);
		if (!keep) {
			e->st.filtered++;
			return;
		}
	}
	if (pkt.ifindex)
		ifindex = pkt.ifindex;
	ifkey = ifindex << 8 | pkt.pkttype;

	h = tuple_hash(e->cfg.hash_seed, &pkt.src, pkt.sport, &pkt.dst, pkt.dport, pkt.proto);
	f = lookup(e, &pkt, h, &dir);
	/* A new SYN on a closed (or closing) connection's tuple: a new flow. */
	if (f && pkt.proto == 6 && (pkt.tcp_flags & (CID_TCP_SYN | CID_TCP_ACK)) == CID_TCP_SYN && f->have_syn &&
	    pkt.seq != f->syn_seq && (f->closing || dir == 0)) {
		end_flow(e, f, f->end_reason ? f->end_reason : CID_END_FIN);
		f = NULL;
	}
	if (!f) {
		f = create(e, &pkt, h, ts, &dir);
		if (!f)
			return;
	} else if (is_duplicate(e, f, &pkt, dir, ifkey, ts)) {
		f->dup_pkts++;
		e->st.dup_pkts++;
		note_iface(f, ifindex);
		if (f->user && e->cfg.on_touch)
			e->cfg.on_touch(e->cfg.ctx, f);
		return;
	}
	if (f->c2s_pkts + f->s2c_pkts == 0)
		(void)is_duplicate(e, f, &pkt, dir, ifkey, ts); /* record the first packet's signature */
	note_iface(f, ifindex);
	if (ts > f->last_ns)
		f->last_ns = ts;
	if (!f->closing) {
		/* to the tail of its list; data (or a UDP reply) from the server
		 * moves it to the answered flows */
		open_remove(e, f);
		if (dir == 1 && (pkt.payload_wire_len || pkt.proto == 17))
			f->answered = true;
		open_append(e, f);
	}
	if (dir == 0) {
		f->c2s_pkts++;
		f->c2s_bytes += pkt.payload_wire_len;
	} else {
		f->s2c_pkts++;
		f->s2c_bytes += pkt.payload_wire_len;
	}
	if (pkt.proto == 17 && e->cfg.dns && (pkt.sport == 53 || pkt.dport == 53) && pkt.payload_len)
		cid_ev_dns_udp(e, f, dir, pkt.payload, pkt.payload_len, ts);
	if (pkt.proto == 17 && e->cfg.quic && pkt.payload_len && !f->hello_done &&
	    (f->quic || (dir == 0 && !f->tls && f->c2s_pkts <= CID_QUIC_TRIES)))
		cid_flow_quic(e, f, dir, pkt.payload, pkt.payload_len, ts);
	if (pkt.proto == 6) {
		tcp_state(e, f, &pkt, dir, ts);
		/* data in a SYN (TCP Fast Open, RFC 7413) starts after the SYN's
		 * own sequence number */
		if (pkt.payload_len)
			cid_flow_tcp_payload(e, f, dir, pkt.seq + ((pkt.tcp_flags & CID_TCP_SYN) ? 1u : 0u),
					     pkt.payload, pkt.payload_len, ts);
	}
	if (f->user && e->cfg.on_touch)
		e->cfg.on_touch(e->cfg.ctx, f);
	/* The memory cap, once the packet is done with (f may go too). */
	while (e->held_bytes > e->cfg.flow_mem) {
		int r = evict_one(e);
		if (!r)
			break;
		if (r == 2)
			e->st.flows_evicted_mem++;
	}
}
