/*
 * timeline_html.c - `callerid timeline --format html`: one self-contained
 * page. Inline CSS, an inline SVG swimlane chart (one lane per owner, a UTC
 * time axis, flows as bars, bursts as diamonds, events as circles coloured
 * by verdict with a red ring for an error, dashed lines joining an event to
 * the burst it was matched to, snapshots as triangles; every mark carries
 * an SVG <title> shown on hover), a legend, a table of lanes and a table of
 * events. No script, no external resource, no URL: the page opens the same
 * from a mail attachment as from disk.
 *
 * The markup is XHTML-compatible (every element closed, every attribute
 * quoted, only XML's predefined entities) so it parses as XML too. Every
 * string from the store goes through cid_esc_html (output.h): & < > " '
 * become entities and control or non-UTF-8 bytes become visible \xNN.
 */
#include <stdlib.h>
#include <string.h>

#include "callerid/output.h"
#include "callerid/timeline.h"

/* Geometry of the chart, in SVG user units (px at 100 %). */
#define W 1400.0
#define LABEL_W 300.0
#define PAD_R 30.0
#define AXIS_H 52.0
#define LANE_H 68.0
#define X0 (LABEL_W + 16.0)
#define X1 (W - PAD_R)
#define ROW_FLOW 12.0  /* flow bars, from the lane's top */
#define ROW_SNAP 28.0  /* snapshots */
#define ROW_BURST 42.0 /* request bursts */
#define ROW_EVENT 56.0 /* events */
#define LABEL_MAX 38u  /* bytes of a lane key shown before an ellipsis */
#define FLUSH_AT (64u * 1024u)

#define C_ATTRIBUTED "#2e7d32"
#define C_AMBIGUOUS "#ef8f00"
#define C_UNMATCHED "#757575"
#define C_ERROR "#c62828"
#define C_BURST "#6a1b9a"
#define C_BURST_FREE "#90a4ae"
#define C_SNAP "#00897b"
#define C_IMDS "#d84315"
#define C_DNS "#1565c0"

struct page {
	FILE *out;
	struct cid_buf b;
	int rc;
	const struct cid_timeline *t;
	int64_t t0, t1; /* axis range */
};

static void flush(struct page *pg)
{
	if (pg->rc == 0 && pg->b.len && fwrite(pg->b.p, 1, pg->b.len, pg->out) != pg->b.len)
		pg->rc = -CID_EIO;
	cid_buf_reset(&pg->b);
}

static void s(struct page *pg, const char *z)
{
	cid_buf_adds(&pg->b, z);
	if (pg->b.len >= FLUSH_AT)
		flush(pg);
}

static void esc(struct page *pg, const struct cid_tl_str *v)
{
	if (v->p)
		cid_esc_html(&pg->b, v->p, v->n);
	if (pg->b.len >= FLUSH_AT)
		flush(pg);
}

/* An escaped value, or a dash for NULL/empty. */
static void esc_or_dash(struct page *pg, const struct cid_tl_str *v)
{
	if (v->p && v->n)
		esc(pg, v);
	else
		s(pg, "-");
}

/* The lane key cut at LABEL_MAX bytes (on a UTF-8 boundary) with an ellipsis. */
static void esc_short(struct page *pg, const struct cid_tl_str *v)
{
	size_t n = v->n;
	if (n <= LABEL_MAX) {
		esc(pg, v);
		return;
	}
	n = LABEL_MAX;
	while (n > 0 && ((unsigned char)v->p[n] & 0xc0) == 0x80)
		n--; /* do not cut a UTF-8 sequence */
	cid_esc_html(&pg->b, v->p, n);
	s(pg, "\xe2\x80\xa6"); /* U+2026 */
}

static void time_txt(struct page *pg, int64_t us)
{
	char ts[40];
	if (us)
		s(pg, cid_time_str(us, ts, sizeof(ts)));
	else
		s(pg, "-");
}

static void dur_txt(struct page *pg, int64_t us)
{
	int64_t a = us < 0 ? -us : us;
	if (a < 1000)
		cid_buf_printf(&pg->b, "%lld us", (long long)us);
	else if (a < 1000000)
		cid_buf_printf(&pg->b, "%.3f ms", (double)us / 1e3);
	else
		cid_buf_printf(&pg->b, "%.3f s", (double)us / 1e6);
}

static double xpos(const struct page *pg, int64_t us)
{
	if (us < pg->t0)
		us = pg->t0;
	if (us > pg->t1)
		us = pg->t1;
	return X0 + (double)(us - pg->t0) * (X1 - X0) / (double)(pg->t1 - pg->t0);
}

static double lane_y(size_t lane)
{
	return AXIS_H + (double)lane * LANE_H;
}

static const char *verdict_colour(const struct cid_tl_str *v)
{
	if (!v->p)
		return "#ffffff";
	if (v->n == 10 && !memcmp(v->p, "attributed", 10))
		return C_ATTRIBUTED;
	if (v->n == 9 && !memcmp(v->p, "ambiguous", 9))
		return C_AMBIGUOUS;
	return C_UNMATCHED;
}

static const char *verdict_class(const struct cid_tl_str *v)
{
	if (!v->p)
		return "none";
	if (v->n == 10 && !memcmp(v->p, "attributed", 10))
		return "attributed";
	if (v->n == 9 && !memcmp(v->p, "ambiguous", 9))
		return "ambiguous";
	return "unmatched";
}

static bool has(const struct cid_tl_str *v)
{
	return v->p && v->n;
}

/* ---- head ---------------------------------------------------------------- */

static const char css[] =
	"body{font:14px/1.4 system-ui,'DejaVu Sans',sans-serif;margin:20px;color:#212121;"
	"background:#fafafa}"
	"h1{font-size:20px;margin:0 0 4px}"
	"h2{font-size:16px;margin:24px 0 8px}"
	".sub{color:#555;margin:0 0 12px}"
	".warn{color:" C_ERROR ";font-weight:bold}"
	".chart{background:#fff;border:1px solid #ddd;overflow-x:auto}"
	"svg.tl{display:block;max-width:100%;height:auto}"
	"svg.tl text{font-family:system-ui,'DejaVu Sans',sans-serif}"
	".lbl{font-size:13px;font-weight:bold;fill:#212121}"
	".lstat{font-size:11px;fill:#666}"
	".tick{font-size:11px;fill:#555}"
	".grid{stroke:#e0e0e0;stroke-width:1}"
	".lane0{fill:#ffffff}.lane1{fill:#f3f6f9}"
	".flow{fill:#bbdefb;stroke:#64b5f6;stroke-width:1;fill-opacity:.8}"
	".match{stroke:" C_BURST ";stroke-width:1.5;stroke-dasharray:4 3;fill:none}"
	"ul.legend{list-style:none;padding:0;margin:8px 0;display:flex;flex-wrap:wrap;gap:6px 18px}"
	"ul.legend li{display:flex;align-items:center;gap:6px}"
	".scroll{overflow-x:auto;max-width:100%}"
	"table{border-collapse:collapse;background:#fff;font-size:13px}"
	"th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}"
	"th{background:#eceff1}"
	"td.ua,td.arn{min-width:180px;max-width:340px;overflow-wrap:anywhere}"
	"td.t{white-space:nowrap}"
	"td.num{text-align:right}"
	"tr.v-attributed td.v{color:" C_ATTRIBUTED ";font-weight:bold}"
	"tr.v-ambiguous td.v{color:" C_AMBIGUOUS ";font-weight:bold}"
	"tr.v-unmatched td.v{color:" C_UNMATCHED ";font-weight:bold}"
	"td.err{color:" C_ERROR "}"
	"code{font-family:'DejaVu Sans Mono',monospace;font-size:12px}";

static void head(struct page *pg)
{
	const struct cid_timeline *t = pg->t;
	size_t ev = 0, at = 0, am = 0, un = 0, fl = 0, rq = 0;
	for (size_t i = 0; i < t->num_items; i++) {
		const struct cid_tl_item *it = &t->items[i];
		if (it->type == CID_TL_EVENT) {
			const char *c = verdict_class(&it->verdict);
			ev++;
			at += !strcmp(c, "attributed");
			am += !strcmp(c, "ambiguous");
			un += !strcmp(c, "unmatched");
		}
		fl += it->type == CID_TL_FLOW_OPEN;
		rq += it->type == CID_TL_REQUEST;
	}
	s(pg, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
	      "<title>callerid timeline</title>\n<style>");
	s(pg, css);
	s(pg, "</style>\n</head>\n<body>\n<h1>callerid timeline</h1>\n<p class=\"sub\">");
	if (t->num_items) {
		time_txt(pg, t->first_us);
		s(pg, " \xe2\x80\x93 "); /* en dash */
		time_txt(pg, t->last_us);
		cid_buf_printf(&pg->b,
			       " (UTC) \xc2\xb7 %zu lanes \xc2\xb7 %zu events: %zu attributed, %zu ambiguous,"
			       " %zu unmatched, %zu not correlated \xc2\xb7 %zu flows \xc2\xb7 %zu bursts",
			       t->num_lanes, ev, at, am, un, ev - at - am - un, fl, rq);
	} else {
		s(pg, "No items in the selected window.");
	}
	if (t->has_since || t->has_until) {
		s(pg, " \xc2\xb7 window");
		if (t->has_since) {
			s(pg, " from ");
			time_txt(pg, t->since_us);
		}
		if (t->has_until) {
			s(pg, " until ");
			time_txt(pg, t->until_us);
		}
	}
	s(pg, "</p>\n");
	if (t->num_dropped)
		cid_buf_printf(&pg->b, "<p class=\"warn\">%zu items were dropped at the item cap;"
				       " narrow the window with --since/--until.</p>\n",
			       t->num_dropped);
}

/* ---- chart ----------------------------------------------------------------- */

static void axis(struct page *pg, double height)
{
	int64_t span = pg->t1 - pg->t0;
	int64_t step = cid_tl_tick_step(span, 8);
	int64_t first = pg->t0 / step * step;
	char ts[40];
	size_t from, len;
	if (first < pg->t0)
		first += step;
	/* label precision follows the step */
	if (step >= 86400000000LL)
		from = 0, len = 10; /* YYYY-MM-DD */
	else if (step >= 3600000000LL || (step >= 60000000 && span > 86400000000LL))
		from = 5, len = 11; /* MM-DDTHH:MM */
	else if (step >= 60000000)
		from = 11, len = 5; /* HH:MM */
	else if (step >= 1000000)
		from = 11, len = 8; /* HH:MM:SS */
	else if (step >= 1000)
		from = 11, len = 12; /* HH:MM:SS.mmm */
	else
		from = 11, len = 15;
	/* the caption names the date of the axis start (YYYY-MM-DD) */
	cid_time_str(pg->t0, ts, sizeof(ts));
	ts[10] = '\0';
	cid_buf_printf(&pg->b, "<text class=\"tick\" x=\"10\" y=\"%.1f\">time axis: UTC, from %s</text>\n",
		       AXIS_H - 12, ts);
	for (int64_t tk = first; tk <= pg->t1; tk += step) {
		double x = xpos(pg, tk);
		cid_time_str(tk, ts, sizeof(ts));
		ts[from + len] = '\0';
		cid_buf_printf(&pg->b,
			       "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			       "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
			       x, AXIS_H - 8, x, height - 4, x, AXIS_H - 12, ts + from);
		if (pg->b.len >= FLUSH_AT)
			flush(pg);
	}
	cid_buf_printf(&pg->b,
		       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9e9e9e\"/>\n",
		       X0, AXIS_H - 6, X1, AXIS_H - 6);
}

static void lanes_bg(struct page *pg)
{
	const struct cid_timeline *t = pg->t;
	for (size_t i = 0; i < t->num_lanes; i++) {
		const struct cid_tl_lane *ln = &t->lanes[i];
		double y = lane_y(i);
		cid_buf_printf(&pg->b, "<g class=\"lane\" id=\"lane-%zu\"><rect class=\"lane%zu\" x=\"0\""
				       " y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
			       i, i % 2, y, W, LANE_H);
		s(pg, "<title>");
		esc(pg, &ln->key);
		cid_buf_printf(&pg->b, "\n%s lane: %zu events (%zu attributed, %zu with an error),"
				       " %zu flows, %zu bursts</title>",
			       ln->kind, ln->num_events, ln->num_attributed, ln->num_errors,
			       ln->num_flows, ln->num_requests);
		cid_buf_printf(&pg->b, "<text class=\"lbl\" x=\"10\" y=\"%.1f\">", y + 27);
		esc_short(pg, &ln->key);
		cid_buf_printf(&pg->b, "</text><text class=\"lstat\" x=\"10\" y=\"%.1f\">%s \xc2\xb7"
				       " %zu events \xc2\xb7 %zu flows \xc2\xb7 %zu bursts</text></g>\n",
			       y + 46, ln->kind, ln->num_events, ln->num_flows, ln->num_requests);
	}
}

static void flow_bar(struct page *pg, const struct cid_tl_item *it, int64_t from, int64_t to)
{
	double y = lane_y(it->lane) + ROW_FLOW;
	double xa = xpos(pg, from), xb = xpos(pg, to);
	if (xb - xa < 3)
		xb = xa + 3;
	cid_buf_printf(&pg->b, "<rect class=\"flow\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"9\""
			       " rx=\"2\"><title>flow %lld: ",
		       xa, y - 4.5, xb - xa, (long long)it->flow_id);
	esc_or_dash(pg, &it->client);
	s(pg, " \xe2\x86\x92 ");
	esc_or_dash(pg, &it->server);
	if (it->type == CID_TL_FLOW_OPEN) {
		s(pg, "\nSNI: ");
		esc_or_dash(pg, &it->sni);
		s(pg, "\nTLS: ");
		esc_or_dash(pg, &it->tls_version);
		s(pg, " ");
		esc_or_dash(pg, &it->cipher);
		if (has(&it->alpn)) {
			s(pg, "\nALPN: ");
			esc(pg, &it->alpn);
		}
	}
	s(pg, "\nopen: ");
	time_txt(pg, it->type == CID_TL_FLOW_OPEN ? it->time_us : it->other_us);
	s(pg, "\nclose: ");
	time_txt(pg, it->type == CID_TL_FLOW_OPEN ? it->other_us : it->time_us);
	s(pg, "</title></rect>\n");
}

static void burst_mark(struct page *pg, const struct cid_tl_item *it)
{
	double x = xpos(pg, it->time_us), y = lane_y(it->lane) + ROW_BURST;
	const char *c = it->event_id.p ? C_BURST : C_BURST_FREE;
	cid_buf_printf(&pg->b, "<polygon class=\"burst\" points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\""
			       " fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"0.8\"><title>burst %lld on flow %lld\n",
		       x, y - 6, x + 5, y, x, y + 6, x - 5, y, c, (long long)it->request_id,
		       (long long)it->flow_id);
	time_txt(pg, it->time_us);
	cid_buf_printf(&pg->b, "\nup %lld B, down %lld B", (long long)it->c2s_bytes,
		       (long long)it->s2c_bytes);
	if (it->other_us) {
		s(pg, ", answer after ");
		dur_txt(pg, it->other_us - it->time_us);
	}
	if (it->event_id.p) {
		s(pg, "\nclaimed by event ");
		esc(pg, &it->event_id);
		s(pg, " (");
		esc_or_dash(pg, &it->verdict);
		s(pg, ")");
	}
	s(pg, "</title></polygon>\n");
}

static void event_mark(struct page *pg, const struct cid_tl_item *it)
{
	double x = xpos(pg, it->time_us), y = lane_y(it->lane) + ROW_EVENT;
	bool err = has(&it->error_code);
	cid_buf_printf(&pg->b, "<circle class=\"event v-%s%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\""
			       " stroke=\"%s\" stroke-width=\"%s\"><title>",
		       verdict_class(&it->verdict), err ? " error" : "", x, y,
		       verdict_colour(&it->verdict), err ? C_ERROR : C_UNMATCHED, err ? "2.5" : "1");
	esc_or_dash(pg, &it->name);
	if (has(&it->source)) {
		s(pg, " (");
		esc(pg, &it->source);
		s(pg, ")");
	}
	s(pg, "\n");
	time_txt(pg, it->time_us);
	if (err) {
		s(pg, "\nerror: ");
		esc(pg, &it->error_code);
	}
	s(pg, "\nsource IP: ");
	esc_or_dash(pg, &it->source_ip);
	s(pg, "\nuser agent: ");
	esc_or_dash(pg, &it->user_agent);
	s(pg, "\nidentity: ");
	esc_or_dash(pg, &it->arn);
	s(pg, "\nverdict: ");
	if (it->verdict.p)
		esc(pg, &it->verdict);
	else
		s(pg, "not correlated");
	if (it->has_confidence)
		cid_buf_printf(&pg->b, " (confidence %.2f)", it->confidence);
	s(pg, "\nevent ID: ");
	esc_or_dash(pg, &it->event_id);
	s(pg, "</title></circle>\n");
}

static void snap_mark(struct page *pg, const struct cid_tl_item *it)
{
	double x = xpos(pg, it->time_us), y = lane_y(it->lane) + ROW_SNAP;
	cid_buf_printf(&pg->b, "<polygon class=\"snapshot\" points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\""
			       " fill=\"%s\"><title>snapshot ",
		       x - 5, y - 5, x + 5, y - 5, x, y + 4, C_SNAP);
	time_txt(pg, it->time_us);
	s(pg, it->host_network ? "\nhostNetwork pod " : "\npod ");
	esc_or_dash(pg, &it->pod_ns);
	s(pg, "/");
	esc_or_dash(pg, &it->pod_name);
	s(pg, "\nIP: ");
	esc_or_dash(pg, &it->pod_ip);
	s(pg, "\nnode: ");
	esc_or_dash(pg, &it->node);
	s(pg, "\nphase: ");
	esc_or_dash(pg, &it->phase);
	s(pg, "\ncontroller: ");
	esc_or_dash(pg, &it->controller);
	s(pg, "\nservice account: ");
	esc_or_dash(pg, &it->service_account);
	s(pg, "</title></polygon>\n");
}

/* An IMDS request: a square on the snapshot row (filled for a credential
 * fetch); a DNS lookup: a small circle on the same row. */
static void evidence_mark(struct page *pg, const struct cid_tl_item *it)
{
	double x = xpos(pg, it->time_us), y = lane_y(it->lane) + ROW_SNAP;
	if (it->type == CID_TL_IMDS) {
		bool creds = it->imds_kind.p && it->imds_kind.n == 11 && !memcmp(it->imds_kind.p, "credentials", 11);
		cid_buf_printf(&pg->b, "<rect class=\"imds\" x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\""
				       " fill=\"%s\" stroke=\"" C_IMDS "\"><title>IMDS ",
			       x - 4, y - 4, creds ? C_IMDS : "#ffffff");
		time_txt(pg, it->time_us);
		s(pg, "\n");
		if (has(&it->error_message)) {
			s(pg, "broken: ");
			esc(pg, &it->error_message);
		} else {
			esc_or_dash(pg, &it->method);
			s(pg, " ");
			esc_or_dash(pg, &it->path);
			cid_buf_printf(&pg->b, "\nIMDSv%lld", (long long)it->imdsv);
			if (has(&it->role)) {
				s(pg, ", role ");
				esc(pg, &it->role);
			}
			if (it->has_status)
				cid_buf_printf(&pg->b, ", status %lld", (long long)it->status);
			s(pg, "\nuser agent: ");
			esc_or_dash(pg, &it->user_agent);
		}
		cid_buf_printf(&pg->b, "\nflow %lld from ", (long long)it->flow_id);
		esc_or_dash(pg, &it->client);
		s(pg, "</title></rect>\n");
		return;
	}
	cid_buf_printf(&pg->b, "<circle class=\"dns\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"" C_DNS "\">"
			       "<title>DNS ",
		       x, y);
	time_txt(pg, it->time_us);
	s(pg, "\n");
	if (has(&it->error_message)) {
		s(pg, "broken: ");
		esc(pg, &it->error_message);
	} else {
		esc_or_dash(pg, &it->qname);
		cid_buf_printf(&pg->b, " type %lld", (long long)it->qtype);
		if (it->has_status)
			cid_buf_printf(&pg->b, ", rcode %lld", (long long)it->rcode);
		else
			s(pg, ", no answer");
		s(pg, "\nanswers: ");
		esc_or_dash(pg, &it->answers);
	}
	s(pg, "\nfrom ");
	esc_or_dash(pg, &it->client);
	s(pg, "</title></circle>\n");
}

static void match_line(struct page *pg, const struct cid_tl_item *it)
{
	size_t bl = it->lane2 < pg->t->num_lanes ? it->lane2 : it->lane;
	double xb = xpos(pg, it->time_us), yb = lane_y(bl) + ROW_BURST;
	double xe = xpos(pg, it->other_us), ye = lane_y(it->lane) + ROW_EVENT;
	/* a gentle curve so a line inside one lane stays visible */
	cid_buf_printf(&pg->b, "<path class=\"match\" d=\"M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f\">"
			       "<title>match: event ",
		       xb, yb, xb, (yb + ye) / 2 + 6, xe, (yb + ye) / 2 - 6, xe, ye);
	esc_or_dash(pg, &it->event_id);
	s(pg, " ");
	esc_or_dash(pg, &it->name);
	cid_buf_printf(&pg->b, " \xe2\x86\x94 burst %lld on flow %lld", (long long)it->request_id,
		       (long long)it->flow_id);
	if (it->has_skew) {
		s(pg, "\nskew ");
		dur_txt(pg, it->skew_us);
	}
	if (it->has_confidence)
		cid_buf_printf(&pg->b, "\nconfidence %.2f", it->confidence);
	s(pg, "</title></path>\n");
}

static void chart(struct page *pg)
{
	const struct cid_timeline *t = pg->t;
	double height = AXIS_H + (double)t->num_lanes * LANE_H + 8;
	int64_t span = t->last_us - t->first_us;
	int64_t pad = span > 0 ? span / 30 + 1 : 1000000;
	pg->t0 = t->first_us - pad;
	pg->t1 = t->last_us + pad;
	cid_buf_printf(&pg->b, "<div class=\"chart\"><svg class=\"tl\" width=\"%.0f\" height=\"%.0f\""
			       " viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"timeline\">\n",
		       W, height, W, height);
	lanes_bg(pg);
	axis(pg, height);
	/* layers, back to front: flows, snapshots, match lines, bursts, events */
	for (int layer = 0; layer < 5; layer++) {
		for (size_t i = 0; i < t->num_items; i++) {
			const struct cid_tl_item *it = &t->items[i];
			switch (layer * 10 + (int)it->type) {
			case 0 * 10 + CID_TL_FLOW_OPEN:
				flow_bar(pg, it, it->time_us,
					 it->other_us && it->other_us >= it->time_us ? it->other_us
										  : it->time_us);
				break;
			case 0 * 10 + CID_TL_FLOW_CLOSE:
				/* its open is outside the window: the bar starts at the axis */
				if (t->has_since && it->other_us < t->since_us)
					flow_bar(pg, it, pg->t0, it->time_us);
				break;
			case 1 * 10 + CID_TL_SNAPSHOT: snap_mark(pg, it); break;
			case 1 * 10 + CID_TL_IMDS:
			case 1 * 10 + CID_TL_DNS: evidence_mark(pg, it); break;
			case 2 * 10 + CID_TL_MATCH: match_line(pg, it); break;
			case 3 * 10 + CID_TL_REQUEST: burst_mark(pg, it); break;
			case 4 * 10 + CID_TL_EVENT: event_mark(pg, it); break;
			default: break;
			}
			if (pg->b.len >= FLUSH_AT)
				flush(pg);
		}
	}
	s(pg, "</svg></div>\n");
}

/* ---- legend and tables ------------------------------------------------------ */

static void legend(struct page *pg)
{
	static const struct {
		const char *shape, *text;
	} items[] = {
		{"<circle cx=\"9\" cy=\"8\" r=\"6\" fill=\"" C_ATTRIBUTED "\"/>", "event, attributed"},
		{"<circle cx=\"9\" cy=\"8\" r=\"6\" fill=\"" C_AMBIGUOUS "\"/>", "event, ambiguous"},
		{"<circle cx=\"9\" cy=\"8\" r=\"6\" fill=\"" C_UNMATCHED "\"/>", "event, unmatched"},
		{"<circle cx=\"9\" cy=\"8\" r=\"6\" fill=\"#ffffff\" stroke=\"" C_UNMATCHED "\"/>",
		 "event, not correlated"},
		{"<circle cx=\"9\" cy=\"8\" r=\"5.5\" fill=\"#ffffff\" stroke=\"" C_ERROR
		 "\" stroke-width=\"2.5\"/>",
		 "red ring: the call failed (errorCode)"},
		{"<polygon points=\"9,2 14,8 9,14 4,8\" fill=\"" C_BURST "\"/>",
		 "request burst claimed by an event"},
		{"<polygon points=\"9,2 14,8 9,14 4,8\" fill=\"" C_BURST_FREE "\"/>",
		 "request burst, no event"},
		{"<path d=\"M1,12 C6,12 12,4 17,4\" class=\"match\"/>", "match: event \xe2\x86\x94 burst"},
		{"<rect x=\"1\" y=\"4\" width=\"16\" height=\"8\" rx=\"2\" class=\"flow\"/>",
		 "flow, open to close"},
		{"<polygon points=\"4,3 14,3 9,12\" fill=\"" C_SNAP "\"/>", "pod snapshot"},
		{"<rect x=\"5\" y=\"4\" width=\"8\" height=\"8\" fill=\"" C_IMDS "\"/>",
		 "IMDS credential fetch (hollow: other IMDS request)"},
		{"<circle cx=\"9\" cy=\"8\" r=\"3.5\" fill=\"" C_DNS "\"/>", "DNS lookup"},
	};
	s(pg, "<ul class=\"legend\">\n");
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		s(pg, "<li><svg width=\"18\" height=\"16\" viewBox=\"0 0 18 16\">");
		s(pg, items[i].shape);
		s(pg, "</svg>");
		s(pg, items[i].text);
		s(pg, "</li>\n");
	}
	s(pg, "</ul>\n<p class=\"sub\">Hover a mark for its details. Lanes: one per owner"
	      " (pod, process or host address); events that no single owner explains are in"
	      " the <code>unattributed</code> lane.</p>\n");
}

static void lanes_table(struct page *pg)
{
	const struct cid_timeline *t = pg->t;
	s(pg, "<h2>Lanes</h2>\n<div class=\"scroll\"><table class=\"lanes\"><thead><tr><th>lane</th><th>kind</th>"
	      "<th>events</th><th>attributed</th><th>errors</th><th>flows</th><th>bursts</th>"
	      "<th>first item (UTC)</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < t->num_lanes; i++) {
		const struct cid_tl_lane *ln = &t->lanes[i];
		s(pg, "<tr><td><code>");
		esc(pg, &ln->key);
		cid_buf_printf(&pg->b, "</code></td><td>%s</td><td class=\"num\">%zu</td>"
				       "<td class=\"num\">%zu</td><td class=\"num\">%zu</td>"
				       "<td class=\"num\">%zu</td><td class=\"num\">%zu</td><td>",
			       ln->kind, ln->num_events, ln->num_attributed, ln->num_errors,
			       ln->num_flows, ln->num_requests);
		time_txt(pg, ln->first_us);
		s(pg, "</td></tr>\n");
	}
	s(pg, "</tbody></table></div>\n");
}

static int cmp_event_ptr(const void *a, const void *b)
{
	const struct cid_tl_item *x = *(const struct cid_tl_item *const *)a;
	const struct cid_tl_item *y = *(const struct cid_tl_item *const *)b;
	if (x->time_us != y->time_us)
		return x->time_us < y->time_us ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void events_table(struct page *pg)
{
	const struct cid_timeline *t = pg->t;
	const struct cid_tl_item **ev;
	size_t n = 0;
	for (size_t i = 0; i < t->num_items; i++)
		n += t->items[i].type == CID_TL_EVENT;
	s(pg, "<h2>Events</h2>\n");
	if (!n) {
		s(pg, "<p class=\"sub\">No CloudTrail events in the window.</p>\n");
		return;
	}
	/* an array of pointers: the element is a pointer */
	// NOLINTNEXTLINE(bugprone-sizeof-expression)
	ev = malloc(n * sizeof(*ev));
	if (!ev) {
		s(pg, "<p class=\"warn\">out of memory: event table left out</p>\n");
		return;
	}
	n = 0;
	for (size_t i = 0; i < t->num_items; i++)
		if (t->items[i].type == CID_TL_EVENT)
			ev[n++] = &t->items[i];
	// NOLINTNEXTLINE(bugprone-sizeof-expression)
	qsort(ev, n, sizeof(*ev), cmp_event_ptr);
	s(pg, "<div class=\"scroll\"><table class=\"events\"><thead><tr><th>time (UTC)</th><th>event</th><th>error</th>"
	      "<th>source IP</th><th>user agent</th><th>identity</th><th>verdict</th>"
	      "<th>confidence</th><th>owner lane</th><th>flow</th><th>burst (UTC)</th>"
	      "<th>skew</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < n; i++) {
		const struct cid_tl_item *it = ev[i];
		cid_buf_printf(&pg->b, "<tr class=\"v-%s\"><td class=\"t\">", verdict_class(&it->verdict));
		time_txt(pg, it->time_us);
		s(pg, "</td><td>");
		esc_or_dash(pg, &it->name);
		s(pg, has(&it->error_code) ? "</td><td class=\"err\">" : "</td><td>");
		esc_or_dash(pg, &it->error_code);
		s(pg, "</td><td>");
		esc_or_dash(pg, &it->source_ip);
		s(pg, "</td><td class=\"ua\">");
		esc_or_dash(pg, &it->user_agent);
		s(pg, "</td><td class=\"arn\">");
		esc_or_dash(pg, &it->arn);
		s(pg, "</td><td class=\"v\">");
		if (it->verdict.p)
			esc(pg, &it->verdict);
		else
			s(pg, "not correlated");
		s(pg, "</td><td class=\"num\">");
		if (it->has_confidence)
			cid_buf_printf(&pg->b, "%.2f", it->confidence);
		else
			s(pg, "-");
		s(pg, "</td><td><code>");
		esc(pg, &t->lanes[it->lane].key);
		s(pg, "</code></td><td class=\"num\">");
		if (it->flow_id)
			cid_buf_printf(&pg->b, "%lld", (long long)it->flow_id);
		else
			s(pg, "-");
		s(pg, "</td><td class=\"t\">");
		time_txt(pg, it->other_us);
		s(pg, "</td><td class=\"num\">");
		if (it->has_skew)
			dur_txt(pg, it->skew_us);
		else
			s(pg, "-");
		s(pg, "</td></tr>\n");
	}
	s(pg, "</tbody></table></div>\n");
	free(ev);
}

int cid_timeline_html(const struct cid_timeline *t, FILE *out)
{
	struct page pg = {0};
	pg.out = out;
	pg.t = t;
	cid_buf_init(&pg.b, 4u << 20);
	head(&pg);
	if (t->num_items) {
		legend(&pg);
		chart(&pg);
		lanes_table(&pg);
	}
	events_table(&pg);
	s(&pg, "<p class=\"sub\">Made by callerid timeline. Times are UTC; CloudTrail event times"
	       " have whole-second precision and mark when the call completed.</p>\n"
	       "</body>\n</html>\n");
	flush(&pg);
	if (pg.b.oom && pg.rc == 0)
		pg.rc = -CID_EIO;
	cid_buf_cleanup(&pg.b);
	if (pg.rc == 0 && (fflush(out) || ferror(out)))
		pg.rc = -CID_EIO;
	return pg.rc;
}
