/*
 * flow.h - the bidirectional flow table, TCP stream starts, TLS hellos and
 * request bursts: the pure engine behind `read` and `capture`.
 *
 * Frames go in (cid_engine_frame), finished flows come out through the
 * callbacks. No I/O, no globals; every growing structure has a cap, and
 * hitting a cap is counted in struct cid_engine_stats.
 */
#ifndef CID_FLOW_H
#define CID_FLOW_H

#include "callerid/common.h"
#include "callerid/decode.h"
#include "callerid/tls.h"

enum cid_end {
	CID_END_NONE = 0,
	CID_END_FIN,
	CID_END_RST,
	CID_END_IDLE,
	CID_END_EOC,      /* end of capture: still open when the input ended */
	CID_END_EVICTED,  /* pushed out by the table-size cap */
};
const char *cid_end_name(enum cid_end e);

/* State of TLS parsing on a flow; stored in tls.status. */
enum cid_tls_status {
	CID_TLSS_NONE = 0,     /* TLS records seen mid-stream, no hello */
	CID_TLSS_CLIENT_ONLY,  /* ClientHello, no ServerHello (yet) */
	CID_TLSS_OK,           /* both hellos */
	CID_TLSS_SERVER_ONLY,  /* mid-stream: ServerHello without ClientHello */
	CID_TLSS_MALFORMED,
	CID_TLSS_GAP,          /* a hole in the stream before the hello was complete */
	CID_TLSS_TOO_BIG,      /* hello larger than the stream cap */
	CID_TLSS_SSLV2,        /* SSLv2-format hello: not decoded */
};
const char *cid_tls_status_name(enum cid_tls_status s);

/* Status of one direction's reassembly. */
enum cid_stream_status {
	CID_STREAM_OK = 0,
	CID_STREAM_GAP,        /* bytes missing; in-order delivery stopped */
	CID_STREAM_CAPPED,     /* out-of-order hold full */
};

struct cid_request {
	int64_t ts_ns;         /* first client application byte of the burst */
	int64_t answer_ns;     /* first server application byte after it; 0 none */
	uint64_t c2s_bytes;
	uint64_t s2c_bytes;
};

struct cid_flow_tls {
	enum cid_tls_status status;
	unsigned num_client_hellos;       /* 2 after a HelloRetryRequest */
	bool hrr;                         /* a HelloRetryRequest was seen */
	struct cid_tls_hello ch;          /* the FIRST ClientHello (the one JA3/JA4 describe) */
	struct cid_tls_hello sh;          /* the final ServerHello (not the HRR) */
	bool have_ch, have_sh;
	/* TLS <= 1.2 ECDHE: the named curve of the ServerKeyExchange (RFC 8422
	 * 5.4), which is where those versions name the group; ske_wait while
	 * the server's flight after its ServerHello is being walked to it */
	bool have_ske_group, ske_wait;
	uint16_t ske_group;
	int64_t ch_ns, sh_ns;
	bool reported;                    /* on_tls has been called */
};

/* The negotiated key-exchange group: the ServerHello's key_share (TLS
 * 1.3), else the ServerKeyExchange's named curve (TLS <= 1.2 ECDHE). false
 * when neither is known (resumed sessions, RSA or DHE key exchange). */
static inline bool cid_flow_tls_group(const struct cid_flow_tls *t, uint16_t *group)
{
	if (t->have_sh && t->sh.num_key_share) {
		*group = t->sh.key_share[0];
		return true;
	}
	if (t->have_ske_group) {
		*group = t->ske_group;
		return true;
	}
	return false;
}

struct cid_stream;  /* opaque: reassembly state of one direction */
struct cid_flow_quic;
struct cid_http_conn;
struct cid_http_rec;
struct cid_dns_framer;

/* One DNS message as captured (parsed when it is stored). */
struct cid_dns_row;
struct cid_dns_raw {
	int64_t ts_ns;
	uint8_t dir;                      /* 0 client->server (a query), 1 the answer */
	uint16_t len;
	uint8_t *bytes;
};

#define CID_EV_PER_FLOW 16u          /* HTTP requests / DNS messages kept per flow */
#define CID_EV_TOTAL 20000u          /* ... in the whole engine at once */
#define CID_DNS_RAW_CAP 4096u        /* bytes of one DNS message kept */

/* Plaintext evidence on a flow: IMDS HTTP requests, DNS messages. */
struct cid_flow_ev {
	struct cid_http_conn *http;
	struct cid_http_rec *http_recs;
	uint32_t num_http, http_written;
	struct cid_dns_raw dns[CID_EV_PER_FLOW];
	/* dns[] made into rows by the flow queue (evidence.h), or NULL: the
	 * store parses dns[] when it writes them */
	struct cid_dns_row *dns_rows;
	uint32_t num_dns, dns_written;
	struct cid_dns_framer *framer[2]; /* DNS over TCP */
	bool dns_tcp;                     /* a TCP flow to port 53 */
	bool dns_lost[2];                 /* a hole broke the TCP framing */
	uint32_t dropped;                 /* records past the caps */
	size_t held;                      /* bytes of it in the engine's flow_mem */
};
struct cid_recwalk { /* TLS record-boundary walker for one direction */
	uint8_t hdr[5];
	uint8_t hdr_have;
	uint32_t body_left;
	uint8_t type;
	bool lost;           /* desynchronised: fall back to payload sizes */
	bool synced;         /* found a record boundary */
};

struct cid_flow {
	uint64_t seq_no;                  /* order of creation in this engine */
	int64_t db_id;                    /* store's row id, 0 until written */
	int64_t req_last_id;              /* store: row id of reqs[reqs_written - 1] */
	/* store: a hash of what the flow row and the last request row hold
	 * (a rewrite that would change nothing is skipped) */
	uint64_t row_sig, req_last_sig;
	uint8_t proto;                    /* 6 or 17 */
	struct cid_addr cli, srv;
	uint16_t cport, sport;
	bool direction_guessed;           /* no SYN: client/server from ports */
	bool mid_stream;                  /* TCP flow that began before the capture */
	int64_t first_ns, last_ns;
	uint64_t c2s_pkts, c2s_bytes, s2c_pkts, s2c_bytes;   /* bytes: transport payload, as on the wire */
	uint64_t dup_pkts;                /* same packet seen again on another interface */
	uint32_t syn_seq;
	bool have_syn;
	uint8_t fin_seen;                 /* bit 0 client, bit 1 server */
	enum cid_end end_reason;
	uint32_t ifaces[CID_MAX_IFACES];
	uint8_t num_ifaces;
	/* TCP streams, per direction 0 = client->server, 1 = server->client. */
	struct cid_stream *stream[2];
	struct cid_recwalk walk[2];
	struct cid_flow_tls *tls;         /* NULL until TLS is seen */
	struct cid_flow_ev *ev;           /* NULL unless HTTP or DNS was seen */
	struct cid_flow_quic *quic;       /* QUIC Initial keys while the hellos are read */
	/* Request bursts. */
	struct cid_request *reqs;
	uint32_t num_reqs, cap_reqs;
	uint32_t reqs_dropped;
	uint32_t reqs_written;           /* store: requests already written */
	/* store: the TLS state its tls row holds (a live flow is put every
	 * second; the row is rewritten only when this changes) */
	int64_t tls_written_ch_ns, tls_written_sh_ns;
	uint32_t tls_written_state;
	bool tls_written;
	bool burst_open;
	bool burst_answered;
	bool tls13_fin_skipped;
	int64_t burst_last_c2s_ns;
	bool burst_dropped;               /* the open burst is past the cap */
	/* Dedup ring: recent packet signatures. */
	uint32_t dedup_sig[4];
	uint32_t dedup_if[4];
	int64_t dedup_ns[4];
	uint8_t dedup_pos;
	bool closing;                     /* FIN both ways or RST: lingers briefly */
	bool answered;                    /* the server sent data (or a UDP reply) */
	bool hello_done;                  /* no more hello parsing on this flow */
	bool bursts;                      /* request bursts are recorded (TLS-like flow) */
	uint8_t undecided_tries;          /* payload chunks seen before TLS was recognised */
	uint8_t stream_start_seen;        /* first chunks checked for plaintext protocols */
	int64_t close_ns;
	uint64_t hash;
	uint64_t touch;                   /* engine's activity counter at the last packet */
	/* Table links. */
	struct cid_flow *hnext;           /* hash chain */
	struct cid_flow *lru_prev, *lru_next;  /* LRU list, or the closing list */
	/* Hello buffers per direction (first bytes of the stream), NULL when done. */
	uint8_t *hbuf[2];
	uint32_t hcap[2];                 /* allocated bytes of hbuf (grows up to stream_cap) */
	uint32_t hlen[2];
	uint32_t hneed[2];
	uint8_t hindex[2];                /* next handshake message index to look at */
	/* First bytes of a direction while fewer than a TLS record header
	 * (a tiny or hostile first segment): judged once 5 bytes are in. */
	uint8_t head[2][4];
	uint8_t head_len[2];
	void *user;                       /* for the caller */
};

struct cid_engine_stats {
	uint64_t frames;
	uint64_t bytes;                   /* captured bytes */
	uint64_t decoded;                 /* TCP/UDP packets */
	uint64_t filtered;                /* decoded but outside the endpoint filter */
	uint64_t skipped[CID_SKIP__COUNT];
	uint64_t dup_pkts;
	uint64_t flows;                   /* flows created */
	uint64_t flows_tls;
	uint64_t flows_evicted;           /* by the table cap or the memory cap */
	uint64_t flows_evicted_mem;       /* of those: to keep held bytes under flow_mem */
	uint64_t held_peak;               /* most bytes of TLS state, hello buffers and
	                                     out-of-order data held at once */
	uint64_t flows_idle;
	uint64_t stream_gaps;
	uint64_t stream_ooo_capped;
	uint64_t stream_bytes_capped;     /* bytes past the per-direction cap not buffered */
	uint64_t tls_malformed;
	uint64_t quic_initials;           /* QUIC Initial packets decrypted */
	uint64_t quic_undecrypted;        /* QUIC Initial packets whose keys did not fit */
	uint64_t reqs;
	uint64_t reqs_dropped;
	uint64_t time_backwards;          /* frames older than the last one */
	uint64_t http_reqs;               /* plaintext HTTP requests (IMDS) */
	uint64_t dns_msgs;                /* DNS messages */
	uint64_t ev_dropped;              /* HTTP/DNS records past the caps */
	uint64_t alloc_failed;
};

struct cid_engine_config {
	size_t stream_cap;                /* default CID_STREAM_CAP_DEFAULT */
	size_t max_flows;                 /* default CID_FLOW_MAX_DEFAULT */
	/* Bytes of TLS state, hello buffers, out-of-order data and plaintext
	 * evidence (HTTP parser state and records, DNS messages) of all flows
	 * together (default CID_FLOW_MEM_DEFAULT); with max_flows (each flow
	 * itself is ~0.5 KiB) it bounds the engine's memory. Over it, flows are
	 * evicted as for max_flows. Both caps evict flows the server never sent
	 * data on (a SYN flood, never-finished hellos) before answered ones,
	 * least recently active first. */
	size_t flow_mem;
	int64_t idle_ns;                  /* default CID_FLOW_IDLE_DEFAULT_US*1000 */
	int64_t burst_gap_ns;             /* default CID_BURST_GAP_DEFAULT_US*1000 */
	int64_t dedup_window_ns;          /* default 50 ms */
	int64_t linger_ns;                /* closed flows stay this long (late ACKs); default 2 s */
	uint64_t hash_seed;               /* flow hash seed (the CLI passes a random one) */
	/* Endpoint filter: when num_nets > 0, only packets with an address in
	 * one of these networks are kept (the others are counted as filtered). */
	const struct cid_net *nets;
	size_t num_nets;
	/* Called when both hellos (or the ClientHello and then end of flow) are known. */
	void (*on_tls)(void *ctx, struct cid_flow *f);
	/* Called once per flow as it ends, before it is freed. It may take
	 * over f->tls and f->reqs (setting them NULL): the engine frees what
	 * is left. */
	void (*on_end)(void *ctx, struct cid_flow *f);
	/* Optional: called once per flow as it is created, on its first packet
	 * (tuple, direction and first_ns set; no packet counted yet). Live
	 * attribution runs here. */
	void (*on_new)(void *ctx, struct cid_flow *f);
	/* Optional: called after each packet counted on a flow whose f->user
	 * is set (a duplicate included: it changes dup_pkts), so a caller that
	 * keeps state for some flows learns which of them changed without
	 * walking them all. f stays valid for the call; it must not end it. */
	void (*on_touch)(void *ctx, struct cid_flow *f);
	/* Called for each plaintext HTTP request as it completes (may be NULL). */
	void (*on_http)(void *ctx, struct cid_flow *f, const struct cid_http_rec *r);
	/* Server ports whose TCP flows are parsed as HTTP/1.x when they start
	 * like a request; default {80} (IMDS is 169.254.169.254:80). */
	uint16_t http_ports[8];
	size_t num_http_ports;
	bool dns;                         /* parse port-53 traffic; default true */
	bool quic;                        /* decrypt QUIC Initial packets (hellos); default true */
	void *ctx;
};

struct cid_engine;

/* Fills cfg with the defaults (callbacks NULL). */
void cid_engine_config_default(struct cid_engine_config *cfg);
/* NULL on allocation failure. */
struct cid_engine *cid_engine_new(const struct cid_engine_config *cfg);
/* Ends every open flow (CID_END_EOC, on_end called) and frees. NULL-safe. */
void cid_engine_free(struct cid_engine *e);
/* Ends every open flow with the given reason (on_end called); the table is
 * empty afterwards. Used at end of each input file. */
void cid_engine_flush(struct cid_engine *e, enum cid_end reason);
/* Expires flows idle at time now_ns (live capture calls this on a timer). */
void cid_engine_expire(struct cid_engine *e, int64_t now_ns);
/* Feeds one frame. ifindex: interface it was captured on (0 unknown). */
void cid_engine_frame(struct cid_engine *e, int64_t ts_ns, int dlt, uint32_t ifindex,
		      const uint8_t *p, size_t caplen, size_t wirelen);
const struct cid_engine_stats *cid_engine_stats(const struct cid_engine *e);
size_t cid_engine_num_flows(const struct cid_engine *e);
/* Bytes of TLS state, hello buffers and out-of-order data held now (what
 * flow_mem caps); 0 once the table is empty. */
size_t cid_engine_held(const struct cid_engine *e);

/* Community ID v1 (base64 of SHA-1, seed 0) for a flow: "1:...", or ""
 * when libcrypto could not hash (out of memory). */
void cid_community_id(const struct cid_flow *f, uint16_t seed, char out[64]);

#endif /* CID_FLOW_H */
