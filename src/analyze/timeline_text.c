/*
 * timeline_text.c - the text and JSON-lines writers of `callerid timeline`
 * (the loader is timeline.c and timeline_load.c, the HTML writer
 * timeline_html.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/output.h"
#include "callerid/timeline.h"

#define LINE_CAP (1u << 20)  /* bytes of one output line */
/* ---- text ------------------------------------------------------------------------ */

static void dur(struct cid_buf *b, int64_t us)
{
	int64_t a = us < 0 ? -us : us;
	if (a < 1000)
		cid_buf_printf(b, "%lld us", (long long)us);
	else if (a < 1000000)
		cid_buf_printf(b, "%.3f ms", (double)us / 1e3);
	else
		cid_buf_printf(b, "%.3f s", (double)us / 1e6);
}

static void text_str(struct cid_buf *b, const char *label, const struct cid_tl_str *s)
{
	if (!s->p)
		return;
	cid_buf_addc(b, ' ');
	if (label)
		cid_buf_adds(b, label);
	cid_esc_text(b, s->p, s->n);
}

/* A value that may hold spaces: quoted (quotes inside are escaped). */
static void text_quoted(struct cid_buf *b, const char *label, const struct cid_tl_str *s)
{
	struct cid_buf t;
	if (!s->p)
		return;
	cid_buf_init(&t, b->max);
	cid_esc_text(&t, s->p, s->n);
	cid_buf_printf(b, " %s\"", label);
	for (size_t i = 0; i < t.len; i++) {
		if (t.p[i] == '"')
			cid_buf_addc(b, '\\');
		cid_buf_addc(b, t.p[i]);
	}
	cid_buf_addc(b, '"');
	cid_buf_cleanup(&t);
}

static void text_item(struct cid_buf *b, const struct cid_tl_item *it)
{
	char ts[40];
	cid_buf_printf(b, "%s  %-10s", cid_time_str(it->time_us, ts, sizeof(ts)),
		       cid_tl_type_name(it->type));
	switch (it->type) {
	case CID_TL_EVENT:
		text_str(b, NULL, &it->name);
		if (it->error_code.p && it->error_code.n)
			text_str(b, "error=", &it->error_code);
		text_str(b, "src=", &it->source_ip);
		if (it->verdict.p) {
			text_str(b, "verdict=", &it->verdict);
			if (it->has_confidence)
				cid_buf_printf(b, " conf=%.2f", it->confidence);
		} else {
			cid_buf_adds(b, " verdict=none");
		}
		text_str(b, "id=", &it->event_id);
		text_quoted(b, "ua=", &it->user_agent);
		text_str(b, "arn=", &it->arn);
		break;
	case CID_TL_FLOW_OPEN:
		cid_buf_printf(b, " flow %lld", (long long)it->flow_id);
		text_str(b, NULL, &it->client);
		cid_buf_adds(b, " ->");
		text_str(b, NULL, &it->server);
		text_str(b, "sni=", &it->sni);
		text_str(b, NULL, &it->tls_version);
		text_str(b, NULL, &it->cipher);
		text_str(b, "alpn=", &it->alpn);
		break;
	case CID_TL_FLOW_CLOSE:
		cid_buf_printf(b, " flow %lld", (long long)it->flow_id);
		if (it->end_reason.p)
			text_str(b, NULL, &it->end_reason);
		else
			cid_buf_adds(b, " last-packet");
		cid_buf_adds(b, " after ");
		dur(b, it->time_us - it->other_us);
		cid_buf_printf(b, ": up %lld pkts %lld B, down %lld pkts %lld B",
			       (long long)it->c2s_pkts, (long long)it->c2s_bytes,
			       (long long)it->s2c_pkts, (long long)it->s2c_bytes);
		break;
	case CID_TL_REQUEST:
		cid_buf_printf(b, " burst %lld on flow %lld: up %lld B, down %lld B",
			       (long long)it->request_id, (long long)it->flow_id,
			       (long long)it->c2s_bytes, (long long)it->s2c_bytes);
		if (it->other_us) {
			cid_buf_adds(b, ", answer after ");
			dur(b, it->other_us - it->time_us);
		}
		if (it->event_id.p) {
			text_str(b, "event=", &it->event_id);
			text_str(b, "verdict=", &it->verdict);
		}
		break;
	case CID_TL_MATCH:
		text_str(b, "event=", &it->event_id);
		text_str(b, NULL, &it->name);
		cid_buf_printf(b, " at %s <-> burst %lld on flow %lld",
			       cid_time_str(it->other_us, ts, sizeof(ts)), (long long)it->request_id,
			       (long long)it->flow_id);
		if (it->has_skew) {
			cid_buf_adds(b, " skew ");
			if (it->skew_us >= 0)
				cid_buf_addc(b, '+');
			dur(b, it->skew_us);
		}
		text_str(b, "verdict=", &it->verdict);
		if (it->has_confidence)
			cid_buf_printf(b, " conf=%.2f", it->confidence);
		break;
	case CID_TL_SNAPSHOT:
		cid_buf_adds(b, it->host_network ? " hostNetwork pod " : " pod ");
		if (it->pod_ns.p)
			cid_esc_text(b, it->pod_ns.p, it->pod_ns.n);
		cid_buf_addc(b, '/');
		if (it->pod_name.p)
			cid_esc_text(b, it->pod_name.p, it->pod_name.n);
		text_str(b, "ip=", &it->pod_ip);
		text_str(b, "node=", &it->node);
		text_str(b, "phase=", &it->phase);
		text_str(b, "by=", &it->controller);
		text_str(b, "sa=", &it->service_account);
		break;
	case CID_TL_IMDS:
		cid_buf_printf(b, " flow %lld", (long long)it->flow_id);
		text_str(b, NULL, &it->client);
		if (it->error_message.p) {
			text_quoted(b, "error=", &it->error_message);
			break;
		}
		text_str(b, NULL, &it->method);
		text_str(b, NULL, &it->path);
		text_str(b, "kind=", &it->imds_kind);
		text_str(b, "role=", &it->role);
		cid_buf_printf(b, " IMDSv%lld%s", (long long)it->imdsv, it->imds_token ? " token-sent" : "");
		if (it->has_status)
			cid_buf_printf(b, " status=%lld", (long long)it->status);
		text_quoted(b, "ua=", &it->user_agent);
		break;
	case CID_TL_DNS:
		text_str(b, NULL, &it->client);
		cid_buf_adds(b, " ->");
		text_str(b, NULL, &it->server);
		if (it->error_message.p) {
			text_quoted(b, "error=", &it->error_message);
			break;
		}
		text_str(b, NULL, &it->qname);
		cid_buf_printf(b, " type=%lld", (long long)it->qtype);
		if (it->has_status)
			cid_buf_printf(b, " rcode=%lld", (long long)it->rcode);
		else
			cid_buf_adds(b, " no-answer");
		text_str(b, "answers=", &it->answers);
		break;
	}
	cid_buf_addc(b, '\n');
}

static int put(struct cid_buf *b, FILE *out)
{
	if (b->len && fwrite(b->p, 1, b->len, out) != b->len)
		return -CID_EIO;
	cid_buf_reset(b);
	return 0;
}

int cid_timeline_text(const struct cid_timeline *t, FILE *out)
{
	struct cid_buf b;
	char t0[40], t1[40];
	int rc = 0;
	cid_buf_init(&b, LINE_CAP);
	if (!t->num_items)
		cid_buf_adds(&b, "# callerid timeline: no items\n");
	else
		cid_buf_printf(&b, "# callerid timeline: %s .. %s, %zu lanes, %zu items\n",
			       cid_time_str(t->first_us, t0, sizeof(t0)),
			       cid_time_str(t->last_us, t1, sizeof(t1)), t->num_lanes, t->num_items);
	if (t->num_dropped)
		cid_buf_printf(&b, "# %zu items dropped at the cap\n", t->num_dropped);
	for (size_t i = 0; i < t->num_items && rc == 0; i++) {
		const struct cid_tl_item *it = &t->items[i];
		if (i == 0 || it->lane != t->items[i - 1].lane) {
			const struct cid_tl_lane *ln = &t->lanes[it->lane];
			cid_buf_adds(&b, "\n== ");
			cid_esc_text(&b, ln->key.p, ln->key.n);
			cid_buf_printf(&b, " (%s: %zu events, %zu attributed, %zu errors, %zu flows,"
					   " %zu bursts)\n",
				       ln->kind, ln->num_events, ln->num_attributed, ln->num_errors,
				       ln->num_flows, ln->num_requests);
		}
		text_item(&b, it);
		rc = put(&b, out);
	}
	if (rc == 0)
		rc = put(&b, out);
	cid_buf_cleanup(&b);
	if (rc == 0 && (fflush(out) || ferror(out)))
		rc = -CID_EIO;
	return rc;
}

/* ---- JSON lines ---------------------------------------------------------------------- */

static void j_str(struct cid_buf *b, const char *key, const struct cid_tl_str *s)
{
	cid_buf_printf(b, ",\"%s\":", key);
	if (s->p)
		cid_esc_json(b, s->p, s->n);
	else
		cid_buf_adds(b, "null");
}

static void j_int(struct cid_buf *b, const char *key, int64_t v, bool set)
{
	if (set)
		cid_buf_printf(b, ",\"%s\":%lld", key, (long long)v);
	else
		cid_buf_printf(b, ",\"%s\":null", key);
}

static void j_time(struct cid_buf *b, const char *key, int64_t us)
{
	char ts[40];
	if (us)
		cid_buf_printf(b, ",\"%s\":\"%s\"", key, cid_time_str(us, ts, sizeof(ts)));
	else
		cid_buf_printf(b, ",\"%s\":null", key);
}

static void j_conf(struct cid_buf *b, const struct cid_tl_item *it)
{
	if (it->has_confidence && isfinite(it->confidence))
		cid_buf_printf(b, ",\"confidence\":%.4g", it->confidence);
	else
		cid_buf_adds(b, ",\"confidence\":null");
}

/* True when s is valid UTF-8 (RFC 3629): JSON text must be (RFC 8259
 * section 8.1), and json_valid() does not check it. */
static bool utf8_ok(const struct cid_tl_str *s)
{
	const unsigned char *u = (const unsigned char *)s->p;
	size_t i = 0;
	while (i < s->n) {
		unsigned char c = u[i];
		size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
			: c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		if (!len || i + len > s->n)
			return false;
		for (size_t k = 1; k < len; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				return false;
		/* overlongs, surrogates and > U+10FFFF (RFC 3629 section 4) */
		if ((c == 0xe0 && u[i + 1] < 0xa0) || (c == 0xed && u[i + 1] > 0x9f) ||
		    (c == 0xf0 && u[i + 1] < 0x90) || (c == 0xf4 && u[i + 1] > 0x8f))
			return false;
		i += len;
	}
	return true;
}

static void json_item(struct cid_buf *b, const struct cid_timeline *t, const struct cid_tl_item *it)
{
	const struct cid_tl_lane *ln = &t->lanes[it->lane];
	cid_buf_printf(b, "{\"type\":\"%s\",\"lane\":", cid_tl_type_name(it->type));
	cid_esc_json(b, ln->key.p, ln->key.n);
	cid_buf_printf(b, ",\"lane_kind\":\"%s\"", ln->kind);
	j_time(b, "time", it->time_us);
	cid_buf_printf(b, ",\"time_us\":%lld", (long long)it->time_us);
	switch (it->type) {
	case CID_TL_EVENT:
		j_str(b, "event_id", &it->event_id);
		j_str(b, "name", &it->name);
		j_str(b, "source", &it->source);
		j_str(b, "error_code", &it->error_code);
		j_str(b, "error_message", &it->error_message);
		j_str(b, "source_ip", &it->source_ip);
		j_str(b, "user_agent", &it->user_agent);
		j_str(b, "arn", &it->arn);
		j_str(b, "verdict", &it->verdict);
		j_conf(b, it);
		j_int(b, "flow_id", it->flow_id, it->flow_id != 0);
		j_int(b, "request_id", it->request_id, it->request_id != 0);
		j_time(b, "request_time", it->other_us);
		j_int(b, "skew_us", it->skew_us, it->has_skew);
		/* reasons: JSON the store validated (json_valid) and minified */
		cid_buf_adds(b, ",\"reasons\":");
		if (it->reasons.p && utf8_ok(&it->reasons))
			cid_buf_add(b, it->reasons.p, it->reasons.n);
		else
			cid_buf_adds(b, "null");
		break;
	case CID_TL_FLOW_OPEN:
	case CID_TL_FLOW_CLOSE:
		j_int(b, "flow_id", it->flow_id, true);
		j_str(b, "client", &it->client);
		j_str(b, "server", &it->server);
		if (it->type == CID_TL_FLOW_OPEN) {
			j_str(b, "sni", &it->sni);
			j_str(b, "tls_version", &it->tls_version);
			j_str(b, "cipher", &it->cipher);
			j_str(b, "alpn", &it->alpn);
			j_time(b, "close_time", it->other_us);
		} else {
			j_str(b, "end_reason", &it->end_reason);
			j_time(b, "open_time", it->other_us);
			j_int(b, "duration_us", it->time_us - it->other_us, it->other_us != 0);
			j_int(b, "c2s_pkts", it->c2s_pkts, true);
			j_int(b, "c2s_bytes", it->c2s_bytes, true);
			j_int(b, "s2c_pkts", it->s2c_pkts, true);
			j_int(b, "s2c_bytes", it->s2c_bytes, true);
		}
		break;
	case CID_TL_REQUEST:
		j_int(b, "request_id", it->request_id, true);
		j_int(b, "flow_id", it->flow_id, it->flow_id != 0);
		j_time(b, "answer_time", it->other_us);
		j_int(b, "c2s_bytes", it->c2s_bytes, true);
		j_int(b, "s2c_bytes", it->s2c_bytes, true);
		j_str(b, "event_id", &it->event_id);
		j_str(b, "verdict", &it->verdict);
		break;
	case CID_TL_MATCH:
		j_str(b, "event_id", &it->event_id);
		j_str(b, "name", &it->name);
		j_time(b, "event_time", it->other_us);
		j_int(b, "request_id", it->request_id, it->request_id != 0);
		j_int(b, "flow_id", it->flow_id, it->flow_id != 0);
		cid_buf_adds(b, ",\"request_lane\":");
		if (it->lane2 < t->num_lanes)
			cid_esc_json(b, t->lanes[it->lane2].key.p, t->lanes[it->lane2].key.n);
		else
			cid_buf_adds(b, "null");
		j_str(b, "verdict", &it->verdict);
		j_conf(b, it);
		j_int(b, "skew_us", it->skew_us, it->has_skew);
		break;
	case CID_TL_SNAPSHOT:
		j_str(b, "namespace", &it->pod_ns);
		j_str(b, "name", &it->pod_name);
		j_str(b, "uid", &it->pod_uid);
		j_str(b, "pod_ip", &it->pod_ip);
		j_str(b, "node", &it->node);
		j_str(b, "host_ip", &it->host_ip);
		cid_buf_printf(b, ",\"host_network\":%s", it->host_network ? "true" : "false");
		j_str(b, "phase", &it->phase);
		j_str(b, "controller", &it->controller);
		j_str(b, "service_account", &it->service_account);
		break;
	case CID_TL_IMDS:
		j_int(b, "flow_id", it->flow_id, it->flow_id != 0);
		j_str(b, "client", &it->client);
		j_str(b, "server", &it->server);
		j_str(b, "method", &it->method);
		j_str(b, "path", &it->path);
		j_str(b, "user_agent", &it->user_agent);
		j_str(b, "imds_kind", &it->imds_kind);
		j_str(b, "role", &it->role);
		j_int(b, "imdsv", it->imdsv, it->imdsv != 0);
		cid_buf_printf(b, ",\"token_sent\":%s", it->imds_token ? "true" : "false");
		j_int(b, "status", it->status, it->has_status);
		j_time(b, "answer_time", it->other_us);
		j_str(b, "parse_error", &it->error_message);
		break;
	case CID_TL_DNS:
		j_int(b, "flow_id", it->flow_id, it->flow_id != 0);
		j_str(b, "client", &it->client);
		j_str(b, "server", &it->server);
		j_str(b, "qname", &it->qname);
		j_int(b, "qtype", it->qtype, !it->error_message.p);
		j_int(b, "rcode", it->rcode, it->has_status);
		j_str(b, "answers", &it->answers);
		j_str(b, "parse_error", &it->error_message);
		break;
	}
	cid_buf_adds(b, "}\n");
}

int cid_timeline_json(const struct cid_timeline *t, FILE *out)
{
	struct cid_buf b;
	int rc = 0;
	cid_buf_init(&b, LINE_CAP);
	for (size_t i = 0; i < t->num_items && rc == 0; i++) {
		json_item(&b, t, &t->items[i]);
		if (b.capped) {
			/* a line past the cap would be cut mid-string: say so
			 * instead of printing broken JSON */
			cid_buf_reset(&b);
			cid_buf_printf(&b, "{\"type\":\"%s\",\"truncated\":true}\n",
				       cid_tl_type_name(t->items[i].type));
		}
		rc = put(&b, out);
	}
	cid_buf_cleanup(&b);
	if (rc == 0 && (fflush(out) || ferror(out)))
		rc = -CID_EIO;
	return rc;
}
