/*
 * timeline.h - `callerid timeline`: one time-ordered story of CloudTrail
 * events, flows (open/close), request bursts, event <-> burst matches and
 * pod snapshots, grouped into one lane per owner (docs/timeline.md).
 *
 * Two layers:
 * - the loader (src/analyze/timeline.c, its per-table readers in
 *   timeline_load.c) reads the store (schema versions 1 and 2; tables or
 *   columns a version lacks read as NULL) and builds the items and lanes in
 *   memory, sorted: lanes by their first item (the "unattributed" lane
 *   last), items in a lane by time;
 * - the writers: text and JSON lines (timeline_text.c), one self-contained
 *   HTML page with an SVG swimlane chart (timeline_html.c).
 *
 * Lanes (keys as the correlator writes attribution.owner_key):
 *   "pod:<namespace>/<name>", "process:<comm>[<pid>]", "host:<ip>" and
 *   "unattributed" (events whose verdict is ambiguous or unmatched, or that
 *   were never correlated). A flow goes to the lane of an attributed event
 *   on it (or on a flow NAT-linked to it), else to its live owner, else to
 *   the pod of its NAT-linked inner flow's client, else to the pod whose IP
 *   is its client address, else to "host:<client ip>".
 *
 * Every string in an item came from the store and may hold any byte (SNI,
 * user agents, pod names are wire or API data): the writers escape it for
 * their destination (output.h).
 */
#ifndef CID_TIMELINE_H
#define CID_TIMELINE_H

#include <stdio.h>
#include <sqlite3.h>

#include "callerid/common.h"

/* Items kept at most; past the cap items are counted in num_dropped. */
#define CID_TL_MAX_ITEMS_DEFAULT 250000u
/* Lanes kept at most; items of further lanes are dropped (and counted). */
#define CID_TL_MAX_LANES 10000u

enum cid_tl_fmt { CID_TL_TEXT = 0, CID_TL_JSON, CID_TL_HTML };

/* Parses "text", "json", "html". false for anything else. */
bool cid_tl_fmt_parse(enum cid_tl_fmt *fmt, const char *s);

enum cid_tl_type {
	CID_TL_SNAPSHOT = 0, /* order = tie-break rank at equal times */
	CID_TL_FLOW_OPEN,
	CID_TL_REQUEST,
	CID_TL_MATCH,
	CID_TL_EVENT,
	CID_TL_FLOW_CLOSE,
	CID_TL_IMDS,         /* an IMDS request (http row with an IMDS path) */
	CID_TL_DNS,          /* a DNS lookup (the answer, or a query never answered) */
};

/* The JSON/text name of an item type ("flow_open", ...). */
const char *cid_tl_type_name(enum cid_tl_type t);

/* A string read from the store: n bytes at p (may hold NUL), p NULL when
 * the column was NULL. Owned by the timeline. */
struct cid_tl_str {
	char *p;
	size_t n;
};

/*
 * One item. Which fields are set depends on type (docs/timeline.md):
 * event      event_id name source error_code error_message source_ip
 *            user_agent arn verdict confidence flow_id request_id
 *            other_us (= request_us) skew_us reasons
 * flow_open  flow_id client server sni tls_version cipher alpn
 *            other_us (= last_us) end_reason
 * flow_close flow_id client server end_reason other_us (= first_us) byte
 *            and packet counters
 * request    flow_id request_id other_us (= answer_us) c2s/s2c_bytes
 *            event_id (matched event, if any) verdict
 * match      event_id name (event name) other_us (= event time) flow_id
 *            request_id verdict confidence skew_us; lane2 = the burst's lane
 * snapshot   pod_ns pod_name pod_uid pod_ip node host_ip phase
 *            controller service_account host_network
 * imds       flow_id client server method path user_agent imds_kind role
 *            imdsv imds_token status (has_status) other_us (= answer_us)
 *            error_message (= parse_error)
 * dns        flow_id client server qname qtype rcode answers (the answers'
 *            data, comma-separated, in answer order) error_message
 *            (= parse_error); other_us = 0
 * Both go to the lane of their flow (else the pod whose IP asked, else
 * "host:<client ip>").
 */
struct cid_tl_item {
	enum cid_tl_type type;
	int64_t time_us;
	size_t lane;  /* index into timeline.lanes */
	size_t lane2; /* match: lane of the burst (SIZE_MAX when unknown) */
	size_t seq;   /* load order, the last tie-break */
	int64_t flow_id, request_id; /* 0 = none */
	int64_t other_us;            /* 0 = none; meaning by type, above */
	int64_t c2s_pkts, c2s_bytes, s2c_pkts, s2c_bytes;
	int64_t skew_us;
	double confidence;
	bool has_skew, has_confidence, host_network;
	struct cid_tl_str event_id, name, source, error_code, error_message, source_ip, user_agent,
		arn, verdict, reasons;
	struct cid_tl_str client, server, sni, tls_version, cipher, alpn, end_reason;
	struct cid_tl_str pod_ns, pod_name, pod_uid, pod_ip, node, host_ip, phase, controller,
		service_account;
	/* imds and dns items */
	struct cid_tl_str method, path, imds_kind, role, qname, answers;
	int64_t status, imdsv, qtype, rcode;
	bool has_status, imds_token;
};

/* A lane: one owner. kind is "pod", "process", "host" or "unattributed"
 * (a static string). */
struct cid_tl_lane {
	struct cid_tl_str key;
	const char *kind;
	int64_t first_us;
	size_t num_items, num_events, num_attributed, num_errors, num_flows, num_requests;
};

struct cid_timeline {
	struct cid_tl_item *items;
	size_t num_items, cap_items;
	struct cid_tl_lane *lanes;
	size_t num_lanes, cap_lanes;
	size_t num_dropped;      /* items past a cap */
	int64_t first_us, last_us; /* over every item time (and match event times) */
	bool has_since, has_until;
	int64_t since_us, until_us;
	/* lane key lookup (open addressing over lanes[]) */
	size_t *lane_index;
	size_t lane_index_cap;
};

/* What to load. Zero-initialised = everything, default cap. */
struct cid_tl_opts {
	bool has_since, has_until;
	int64_t since_us, until_us; /* inclusive bounds on item times */
	size_t max_items;           /* 0 = CID_TL_MAX_ITEMS_DEFAULT */
};

/*
 * Reads the store through db (read only; no writes, no temp tables) and
 * builds the sorted timeline. Returns the timeline (free with
 * cid_timeline_free) or NULL with the reason in err (a query that failed,
 * out of memory). An empty store gives an empty timeline, not an error.
 */
struct cid_timeline *cid_timeline_load(sqlite3 *db, const struct cid_tl_opts *o, char *err,
				       size_t err_len);
/* Frees the timeline and every string in it. NULL-safe. */
void cid_timeline_free(struct cid_timeline *t);

/*
 * Writers. Each returns 0, or -CID_EIO when writing to out failed (a
 * partial output may have been written). Strings are escaped for the
 * destination; nothing in the output is fetched from anywhere.
 * text: a header line, then per lane a "== <lane>" header and one line per
 *       item, times as UTC ISO-8601 with microseconds.
 * json: one object per line, per item, in the same order as text.
 * html: one self-contained XHTML-compatible page: inline CSS, an inline
 *       SVG swimlane chart with a time axis and hover titles, a legend, a
 *       table of lanes and a table of events. No script, no URL.
 */
int cid_timeline_text(const struct cid_timeline *t, FILE *out);
int cid_timeline_json(const struct cid_timeline *t, FILE *out);
int cid_timeline_html(const struct cid_timeline *t, FILE *out);

/*
 * Axis ticks for a span of span_us microseconds: the smallest "nice" step
 * (1-2-5 steps of ms and s, then 15 s, 30 s, minutes, hours, days) that
 * gives at most max_ticks ticks. Pure; used by the HTML writer.
 */
int64_t cid_tl_tick_step(int64_t span_us, int max_ticks);

#endif /* CID_TIMELINE_H */
