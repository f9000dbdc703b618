/* flow_internal.h - the engine's private parts, shared by the files in src/flow. */
#ifndef CID_FLOW_INTERNAL_H
#define CID_FLOW_INTERNAL_H

#include "callerid/flow.h"

struct cid_engine {
	struct cid_engine_config cfg;
	struct cid_engine_stats st;
	struct cid_flow **buckets;
	size_t nbuckets;
	size_t num_flows;
	/* Open flows, least recently active first, on two lists: flows whose
	 * server has sent data (answered) and the others (new). Evictions take
	 * new flows first; f->touch orders the two lists against each other. */
	struct cid_flow *lru_head, *lru_tail;          /* open answered flows */
	struct cid_flow *new_head, *new_tail;          /* open flows not answered yet */
	uint64_t touch;
	size_t held_bytes;                             /* TLS state, hello buffers, out-of-order data */
	struct cid_flow *closing_head, *closing_tail;  /* closed flows lingering, oldest first */
	uint64_t next_seq_no;
	int64_t now_ns;
	uint8_t *scratch;                              /* one handshake message */
	struct cid_tls_hello tmp_hello;                /* a ServerHello being parsed */
	uint32_t ev_records;                           /* HTTP/DNS records held by flows */
	/* delivery context */
	struct cid_flow *cur_flow;
	int cur_dir;
};

/* tlsflow.c */
/* Adds (or with a negative delta removes) bytes held for reassembly. */
void cid_flow_held(struct cid_engine *e, int64_t delta);
void cid_flow_stream_isn(struct cid_engine *e, struct cid_flow *f, int dir, uint32_t next_seq);
void cid_flow_tcp_payload(struct cid_engine *e, struct cid_flow *f, int dir, uint32_t seq, const uint8_t *p,
			  size_t n, int64_t ts);
void cid_flow_stream_close(struct cid_engine *e, struct cid_flow *f, int dir);
/* Settles the TLS status at the end of a flow and calls on_tls if not yet. */
void cid_flow_tls_settle(struct cid_engine *e, struct cid_flow *f);
/* The flow's TLS state, made when missing (NULL on allocation failure). */
struct cid_flow_tls *cid_flow_tls_start(struct cid_engine *e, struct cid_flow *f);
/* A hello is coming in this direction (QUIC: the client's, once its first
 * Initial opened): its buffer now, so that the other side's hello does not
 * end the parsing while this one's first bytes are still missing. */
void cid_flow_hello_expect(struct cid_engine *e, struct cid_flow *f, int dir);
/* One direction's handshake bytes from QUIC CRYPTO frames, in order
 * (first: they start the direction), parsed as TLS handshake records; p
 * NULL: a gap of n bytes. */
void cid_flow_crypto_bytes(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n,
			   bool first, int64_t ts);
/* quicflow.c: the hellos of QUIC flows */
#define CID_QUIC_TRIES 4  /* a UDP flow's first client packets looked at for an Initial */
void cid_flow_quic(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n, int64_t ts);
/* Frees the keys and the CRYPTO reassembly (the flow ends, or its hellos are in). */
void cid_flow_quic_release(struct cid_engine *e, struct cid_flow *f);
/* burst.c */
void cid_burst_walk(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n, bool seg_start,
		    int64_t ts);
void cid_burst_data(struct cid_engine *e, struct cid_flow *f, int dir, uint64_t n, int64_t ts);
void cid_burst_finish(struct cid_engine *e, struct cid_flow *f);

/* evflow.c: plaintext evidence (HTTP/IMDS, DNS) */
bool cid_ev_http_port(const struct cid_engine *e, uint16_t port);
bool cid_ev_looks_like_http(const uint8_t *p, size_t n);
bool cid_ev_http_start(struct cid_engine *e, struct cid_flow *f);
bool cid_ev_dns_tcp_start(struct cid_engine *e, struct cid_flow *f);
void cid_ev_http_feed(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n, int64_t ts);
void cid_ev_dns_udp(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n, int64_t ts);
void cid_ev_dns_tcp(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n, int64_t ts);
void cid_ev_finish(struct cid_engine *e, struct cid_flow *f);
void cid_ev_release(struct cid_engine *e, struct cid_flow *f);

#endif
