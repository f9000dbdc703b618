/*
 * correlate_out.c - what `correlate` prints and stores per event (the
 * DESIGN's JSON contract, the table), the per-owner summary with its
 * evidence, and --explain. Loading and owners: correlate_db.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/correlate_db.h"
#include "callerid/http.h"
#include "correlate_int.h"

/* The predicate is declared in correlate_int.h: correlate's summary and
 * `events --summary` (cid_imds_flags_load) both use it. */
bool cid_cor_imds_under_irsa(const struct owner *o, struct cid_buf *b)
{
	bool any = false;
	if (!o->num_imds)
		return false;
	if (o->pod && (o->pod->role_arn[0] || o->pod->irsa_token || o->pod->pod_identity)) {
		if (b)
			cid_buf_printf(b, "%s/%s (%s)", o->pod->ns, o->pod->name,
				       o->pod->pod_identity ? "Pod Identity" : "IRSA");
		return true;
	}
	for (size_t i = 0; i < o->host_pods.num_pods; i++) {
		const struct cid_pod *p = &o->host_pods.pods[i];
		if (!p->role_arn[0] && !p->irsa_token && !p->pod_identity)
			continue;
		if (b)
			cid_buf_printf(b, "%s%s/%s (%s)", any ? ", " : "", p->ns, p->name,
				       p->pod_identity ? "Pod Identity" : "IRSA");
		any = true;
	}
	return any;
}

/* ---- output ------------------------------------------------------------ */

static void json_str(struct cid_buf *b, const char *s)
{
	if (s)
		cid_esc_json(b, s, strlen(s));
	else
		cid_buf_adds(b, "null");
}

static void endpoint(char *buf, size_t n, const char *ip, int port)
{
	if (ip && strchr(ip, ':'))
		snprintf(buf, n, "[%s]:%d", ip, port);
	else
		snprintf(buf, n, "%s:%d", ip ? ip : "?", port);
}

/* Human reasons for an event's verdict. */
void cid_cor_out_reasons(struct cid_buf *b, const struct cid_cor_event *e, const struct cid_cor_result *r,
		    const struct cid_cor_burst *bu, const struct burst_row *br, const struct owner *ow,
		    int64_t offset)
{
	char t[40];
	bool first = true;
#define REASON(...)                                   \
	do {                                          \
		struct cid_buf _m;                    \
		cid_buf_init(&_m, 2048);              \
		cid_buf_printf(&_m, __VA_ARGS__);     \
		cid_buf_adds(b, first ? "" : ",");    \
		json_str(b, cid_buf_str(&_m));        \
		cid_buf_cleanup(&_m);                 \
		first = false;                        \
	} while (0)
	cid_buf_addc(b, '[');
	if (r->verdict != CID_UNMATCHED) {
		const struct cid_cor_burst *x = r->burst >= 0 ? &bu[r->burst] : NULL;
		if (x) {
			const struct burst_row *xr = &br[r->burst];
			double d = (double)(x->ts_us - e->time_us - offset) / 1e6;
			cid_time_str(x->ts_us, t, sizeof(t));
			REASON("request burst at %s, %+.3f s from eventTime%s on flow %lld", t, d,
			       offset ? " (after the clock offset)" : "", (long long)xr->flow_id);
			if (r->address_checked)
				REASON("sourceIPAddress %s is the flow's client address%s", e->source_ip,
				       xr->inner_flow_id ? " after SNAT" : "");
			else
				REASON("sourceIPAddress %s cannot be a local address: address not compared",
				       e->source_ip ? e->source_ip : "(none)");
			if (e->host && x->sni)
				REASON("host header %s = SNI", e->host);
			if (e->tls_version && x->tls_version)
				REASON("TLS version %s matches", e->tls_version);
			if (e->cipher && x->cipher)
				REASON("cipher %s matches", e->cipher);
			if (e->key_exchange && *e->key_exchange && x->group)
				REASON("key exchange %s matches", e->key_exchange);
			if (!x->handshake)
				REASON("the flow began before the capture: no TLS details to compare");
			if (ow && (r->evidence & CID_COR_EV_IMDS_ROLE)) {
				const struct cid_cor_imds *f = NULL;
				for (size_t k = 0; k < x->num_imds && !f; k++)
					if (x->imds[k].role && !strcasecmp(x->imds[k].role, e->node_role) &&
					    (!e->imdsv || e->imdsv == x->imds[k].imdsv))
						f = &x->imds[k];
				if (f) {
					cid_time_str(f->ts_us, t, sizeof(t));
					REASON("the call used node role %s%s%s%s, and this owner fetched its credentials from IMDS (IMDSv%d, User-Agent %s) at %s",
					       e->node_role, e->imdsv ? " (ec2RoleDelivery " : "",
					       e->imdsv ? (e->imdsv == 2 ? "2.0" : "1.0") : "", e->imdsv ? ")" : "",
					       f->imdsv, f->user_agent ? f->user_agent : "(none)", t);
				}
			}
			if (r->evidence & CID_COR_EV_IMDS_UA)
				REASON("userAgent %s is the User-Agent of this owner's IMDS credential fetches",
				       e->user_agent);
		}
		if (r->by_elimination)
			REASON("by elimination: the other owners' alike bursts explain events attributed to them");
		if (ow && ow->method)
			REASON("owner: %s", ow->method);
		if (r->verdict == CID_AMBIGUOUS)
			REASON("%d candidate bursts with %d different owners are alike", r->num_cands, r->num_owners);
	} else {
		if (r->unmatched & CID_UNM_ADDRESS_UNSEEN)
			REASON("sourceIPAddress %s never appears in the capture: another host made the call",
			       e->source_ip);
		if (r->unmatched & CID_UNM_OUTSIDE_CAPTURE) {
			REASON("eventTime is outside the capture window");
		} else if (r->unmatched & CID_UNM_ADDRESS_OUTSIDE) {
			char t1[40], t2[40];
			cid_time_str(r->addr_first_us, t1, sizeof(t1));
			cid_time_str(r->addr_last_us, t2, sizeof(t2));
			REASON("the capture saw sourceIPAddress %s only from %s to %s: its host was not captured at"
			       " eventTime",
			       e->source_ip, t1, t2);
		} else if (r->unmatched & CID_UNM_NO_BURST_IN_WINDOW)
			REASON("no request burst within [eventTime - skew, eventTime + 1 s + skew]");
		for (int x = 1; x < CID_EXCL__COUNT; x++)
			if (r->excluded[x])
				REASON("%u burst(s) in the window excluded: %s", r->excluded[x],
				       cid_cor_excl_name((enum cid_cor_excl)x));
		if (r->unmatched & CID_UNM_TAKEN)
			REASON("every candidate burst explains another event");
	}
	cid_buf_addc(b, ']');
#undef REASON
}

#define IMDS_JSON_MAX 16  /* fetches listed per owner; imds_fetches counts all */

/* "imds":[{time, role, imdsv, user_agent, flow_id}...],"imds_fetches":N
 * (after a comma) when the owner made IMDS credential fetches; nothing
 * otherwise, so outputs without IMDS traffic keep their shape. */
static void owner_imds_json(struct cid_buf *b, const struct ctx *c, const struct owner *o)
{
	char t[40];
	if (!o->num_imds)
		return;
	cid_buf_adds(b, ",\"imds\":[");
	for (size_t i = 0; i < o->num_imds && i < IMDS_JSON_MAX; i++) {
		const struct imds_row *r = &c->imds_rows[o->imds_first + i];
		cid_buf_adds(b, i ? ",{\"time\":" : "{\"time\":");
		json_str(b, cid_time_str(r->f.ts_us, t, sizeof(t)));
		cid_buf_adds(b, ",\"role\":");
		json_str(b, r->f.role);
		cid_buf_printf(b, ",\"imdsv\":%d,\"user_agent\":", r->f.imdsv);
		json_str(b, r->f.user_agent);
		cid_buf_printf(b, ",\"flow_id\":%lld}", (long long)r->flow_id);
	}
	cid_buf_printf(b, "],\"imds_fetches\":%zu", o->num_imds);
}

static void owner_json(struct cid_buf *b, const struct ctx *c, const struct owner *o)
{
	if (!o) {
		cid_buf_adds(b, "null");
		return;
	}
	cid_buf_adds(b, "{\"kind\":");
	json_str(b, o->kind);
	cid_buf_adds(b, ",\"node_ip\":");
	json_str(b, o->pod && o->pod->host_ip[0] ? o->pod->host_ip : o->node_ip[0] ? o->node_ip : NULL);
	cid_buf_adds(b, ",\"pod\":");
	if (o->pod) {
		cid_buf_adds(b, "{\"namespace\":");
		json_str(b, o->pod->ns);
		cid_buf_adds(b, ",\"name\":");
		json_str(b, o->pod->name);
		cid_buf_adds(b, ",\"uid\":");
		json_str(b, o->pod->uid);
		cid_buf_adds(b, ",\"ip\":");
		json_str(b, o->pod->pod_ip[0] ? o->pod->pod_ip : NULL);
		cid_buf_adds(b, ",\"owner\":");
		if (o->pod->owner_kind[0]) {
			struct cid_buf w;
			cid_buf_init(&w, 1024);
			cid_buf_printf(&w, "%s %s/%s", o->pod->owner_kind, o->pod->ns, o->pod->owner_name);
			json_str(b, cid_buf_str(&w));
			cid_buf_cleanup(&w);
		} else {
			cid_buf_adds(b, "null");
		}
		cid_buf_adds(b, ",\"service_account\":");
		json_str(b, o->pod->service_account[0] ? o->pod->service_account : NULL);
		cid_buf_printf(b, ",\"host_network\":%s,\"irsa\":%s,\"pod_identity\":%s}",
			       o->pod->host_network ? "true" : "false",
			       (o->pod->role_arn[0] || o->pod->irsa_token) ? "true" : "false",
			       o->pod->pod_identity ? "true" : "false");
	} else {
		cid_buf_adds(b, "null");
	}
	cid_buf_adds(b, ",\"process\":");
	if (!strcmp(o->kind, "process")) {
		cid_buf_printf(b, "{\"pid\":%lld,\"comm\":", (long long)o->pid);
		json_str(b, o->comm);
		cid_buf_adds(b, ",\"exe\":");
		json_str(b, o->exe);
		cid_buf_adds(b, ",\"container_id\":");
		json_str(b, o->container_id);
		cid_buf_addc(b, '}');
	} else {
		cid_buf_adds(b, "null");
	}
	cid_buf_adds(b, ",\"host_network_candidates\":[");
	for (size_t i = 0; i < o->host_pods.num_pods; i++) {
		struct cid_buf w;
		cid_buf_init(&w, 1024);
		cid_buf_printf(&w, "%s/%s", o->host_pods.pods[i].ns, o->host_pods.pods[i].name);
		if (i)
			cid_buf_addc(b, ',');
		json_str(b, cid_buf_str(&w));
		cid_buf_cleanup(&w);
	}
	cid_buf_adds(b, "],\"label\":");
	json_str(b, o->label);
	owner_imds_json(b, c, o);
	cid_buf_addc(b, '}');
}

/* The whole per-event JSON object (DESIGN's contract). */
void cid_cor_out_event_json(struct cid_buf *b, const struct cid_cor_event *e, const struct event_row *er,
		       const struct cid_cor_result *r, const struct cid_cor_burst *bu, const struct burst_row *br,
		       const struct ctx *c, int64_t offset)
{
	char t[40];
	const struct owner *ow = NULL;
	cid_buf_adds(b, "{\"type\":\"event\",\"event_id\":");
	json_str(b, er->event_id);
	cid_buf_adds(b, ",\"event_time\":");
	json_str(b, cid_time_str(e->time_us, t, sizeof(t)));
	cid_buf_adds(b, ",\"event_name\":");
	json_str(b, er->name);
	cid_buf_adds(b, ",\"error_code\":");
	json_str(b, er->error_code);
	cid_buf_adds(b, ",\"source_ip\":");
	json_str(b, e->source_ip);
	cid_buf_printf(b, ",\"verdict\":\"%s\",\"confidence\":%.2f,\"owner\":", cid_verdict_name(r->verdict),
		       r->confidence);
	if (r->verdict == CID_ATTRIBUTED && r->burst >= 0)
		ow = &c->owners[bu[r->burst].owner];
	owner_json(b, c, ow);
	cid_buf_adds(b, ",\"flow\":");
	if (r->burst >= 0) {
		const struct cid_cor_burst *x = &bu[r->burst];
		const struct burst_row *xr = &br[r->burst];
		char cl[80], sv[80];
		/* an index >= 0 implies its rows were loaded */
		// NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
		endpoint(cl, sizeof(cl), x->client_ip, 0);
		endpoint(sv, sizeof(sv), xr->server_ip, xr->server_port);
		cid_buf_printf(b, "{\"id\":%lld,\"request_id\":%lld,\"client\":", (long long)xr->flow_id,
			       (long long)xr->request_id);
		json_str(b, x->client_ip);
		cid_buf_adds(b, ",\"server\":");
		json_str(b, sv);
		cid_buf_adds(b, ",\"sni\":");
		json_str(b, x->sni);
		cid_buf_adds(b, ",\"tls_version\":");
		json_str(b, x->tls_version);
		cid_buf_adds(b, ",\"cipher\":");
		json_str(b, x->cipher);
		cid_buf_adds(b, ",\"group\":");
		json_str(b, x->group);
		cid_buf_adds(b, ",\"request_time\":");
		json_str(b, cid_time_str(x->ts_us, t, sizeof(t)));
		if (xr->inner_flow_id)
			cid_buf_printf(b, ",\"inner_flow_id\":%lld", (long long)xr->inner_flow_id);
		cid_buf_addc(b, '}');
	} else {
		cid_buf_adds(b, "null");
	}
	cid_buf_adds(b, ",\"candidates\":[");
	for (int i = 0; i < r->num_owners && r->verdict != CID_UNMATCHED; i++) {
		if (i)
			cid_buf_addc(b, ',');
		/* an index >= 0 implies its rows were loaded */
		// NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
		json_str(b, c->owners[r->owners[i]].label);
	}
	cid_buf_adds(b, "],\"reasons\":");
	cid_cor_out_reasons(b, e, r, bu, br, r->burst >= 0 ? &c->owners[bu[r->burst].owner] : NULL, offset);
	cid_buf_addc(b, '}');
}

const char *cid_cor_out_owner_cell(const struct ctx *c, const struct cid_cor_result *r, const struct cid_cor_burst *bu,
			      struct cid_buf *tmp)
{
	cid_buf_reset(tmp);
	if (r->verdict == CID_ATTRIBUTED)
		return c->owners[bu[r->burst].owner].label;
	if (r->verdict == CID_AMBIGUOUS) {
		cid_buf_adds(tmp, "one of: ");
		for (int i = 0; i < r->num_owners; i++)
			cid_buf_printf(tmp, "%s%s", i ? "; " : "", c->owners[r->owners[i]].label);
		return cid_buf_str(tmp);
	}
	return NULL;
}

static int cmp_i64p(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* ,"imds_under_irsa":"pods" when the owner is flagged (JSON). */
static void summary_irsa_json(struct cid_buf *b, const struct owner *o)
{
	struct cid_buf w;
	cid_buf_init(&w, 4096);
	if (cid_cor_imds_under_irsa(o, &w)) {
		cid_buf_adds(b, ",\"imds_under_irsa\":");
		json_str(b, cid_buf_str(&w));
	}
	cid_buf_cleanup(&w);
}

/* The text summary's IMDS evidence: count, roles, versions, user agents. */
static void summary_imds_text(struct cid_buf *b, const struct ctx *c, const struct owner *o)
{
	const struct imds_row *r = o->num_imds ? &c->imds_rows[o->imds_first] : NULL;
	char t[40];
	bool v1 = false, v2 = false;
	if (!r)
		return;
	for (size_t i = 0; i < o->num_imds; i++) {
		v1 |= r[i].f.imdsv == 1;
		v2 |= r[i].f.imdsv == 2;
	}
	cid_buf_printf(b, "\n    IMDS: %zu credential fetch(es) of role ", o->num_imds);
	cid_esc_text(b, r[0].f.role, strlen(r[0].f.role));
	cid_buf_printf(b, " (%s%s%s), first at %s, User-Agent ", v1 ? "IMDSv1" : "", v1 && v2 ? " and " : "",
		       v2 ? "IMDSv2" : "", cid_time_str(r[0].f.ts_us, t, sizeof(t)));
	if (r[0].f.user_agent)
		cid_esc_text(b, r[0].f.user_agent, strlen(r[0].f.user_agent));
	else
		cid_buf_adds(b, "(none)");
}

/* Owners that fetch node-role credentials while running under IRSA or Pod
 * Identity, whether or not they explain a selected event. */
static void summary_irsa_list(struct cid_buf *b, enum cid_fmt fmt, const struct ctx *c)
{
	struct cid_buf w;
	size_t n = 0;
	cid_buf_init(&w, 4096);
	for (size_t i = 0; i < c->num_owners; i++) {
		const struct owner *o = &c->owners[i];
		cid_buf_reset(&w);
		if (!cid_cor_imds_under_irsa(o, &w))
			continue;
		if (fmt == CID_FMT_JSON) {
			cid_buf_adds(b, n ? "," : "],\"imds_under_irsa\":[");
			cid_buf_adds(b, "{\"owner\":");
			json_str(b, o->label);
			cid_buf_adds(b, ",\"pods_with_own_credentials\":");
			json_str(b, cid_buf_str(&w));
			cid_buf_printf(b, ",\"imds_fetches\":%zu}", o->num_imds);
		} else {
			if (!n)
				cid_buf_adds(b, "\nNode-role credentials fetched from IMDS under IRSA / Pod Identity:\n");
			cid_buf_adds(b, "  ");
			cid_esc_text(b, o->label, strlen(o->label));
			cid_buf_printf(b, " made %zu IMDS credential fetch(es) although ", o->num_imds);
			cid_esc_text(b, cid_buf_str(&w), strlen(cid_buf_str(&w)));
			cid_buf_adds(b, o->pod ? " has its own credentials\n"
					       : " share(s) its address and has its own credentials: the SDK may ignore them\n");
		}
		n++;
	}
	if (fmt == CID_FMT_JSON)
		cid_buf_addc(b, ']');
	cid_buf_cleanup(&w);
}

/* Per-owner summary: what it explains, with the evidence. */
void cid_cor_out_summary(FILE *out, enum cid_fmt fmt, const struct ctx *c, const struct cid_cor_event *ev,
		    const struct event_row *er, const struct cid_cor_result *res, size_t ne,
		    const struct cid_cor_burst *bu, const struct cid_cor_totals *tot)
{
	struct cid_buf b;
	cid_buf_init(&b, 1 << 24);
	if (fmt == CID_FMT_JSON)
		cid_buf_printf(&b, "{\"type\":\"summary\",\"events\":%llu,\"attributed\":%llu,\"ambiguous\":%llu,"
				   "\"unmatched\":%llu,\"bursts\":%llu,\"clock_offset_s\":%.3f,\"owners\":[",
			       (unsigned long long)tot->events, (unsigned long long)tot->attributed,
			       (unsigned long long)tot->ambiguous, (unsigned long long)tot->unmatched,
			       (unsigned long long)tot->bursts, (double)tot->offset_us / 1e6);
	else
		cid_buf_printf(&b, "\n%llu events: %llu attributed, %llu ambiguous, %llu unmatched (%llu request bursts; clock offset %+.3f s)\n",
			       (unsigned long long)tot->events, (unsigned long long)tot->attributed,
			       (unsigned long long)tot->ambiguous, (unsigned long long)tot->unmatched,
			       (unsigned long long)tot->bursts, (double)tot->offset_us / 1e6);
	for (size_t oi = 0, shown = 0; oi < c->num_owners; oi++) {
		const struct owner *o = &c->owners[oi];
		int64_t *times;
		size_t nt = 0, n_by_name = 0;
		const char *names[16];
		uint64_t counts[16];
		const char *uas[4];
		size_t nua = 0;
		if (!o->explained)
			continue;
		times = malloc(o->explained * sizeof(*times));
		for (size_t i = 0; i < ne; i++) {
			size_t k;
			if (res[i].verdict != CID_ATTRIBUTED || bu[res[i].burst].owner != (int)oi)
				continue;
			if (times)
				times[nt++] = ev[i].time_us;
			for (k = 0; k < n_by_name; k++)
				if (er[i].name && !strcmp(names[k], er[i].name))
					break;
			if (k < n_by_name)
				counts[k]++;
			else if (n_by_name < 16 && er[i].name) {
				names[n_by_name] = er[i].name;
				counts[n_by_name++] = 1;
			}
			for (k = 0; k < nua; k++)
				if (er[i].user_agent && !strcmp(uas[k], er[i].user_agent))
					break;
			if (k == nua && nua < 4 && er[i].user_agent)
				uas[nua++] = er[i].user_agent;
		}
		double median = 0;
		if (times && nt > 1) {
			int64_t *gaps = malloc((nt - 1) * sizeof(*gaps));
			qsort(times, nt, sizeof(*times), cmp_i64p);
			if (gaps) {
				for (size_t i = 1; i < nt; i++)
					gaps[i - 1] = times[i] - times[i - 1];
				qsort(gaps, nt - 1, sizeof(*gaps), cmp_i64p);
				median = (double)gaps[(nt - 1) / 2] / 1e6;
				free(gaps);
			}
		}
		free(times);
		if (fmt == CID_FMT_JSON) {
			cid_buf_adds(&b, shown++ ? ",{\"owner\":" : "{\"owner\":");
			owner_json(&b, c, o);
			cid_buf_printf(&b, ",\"explains\":%llu,\"ambiguous_with_others\":%llu,\"by_event_name\":{",
				       (unsigned long long)o->explained, (unsigned long long)o->ambiguous_in);
			for (size_t k = 0; k < n_by_name; k++) {
				if (k)
					cid_buf_addc(&b, ',');
				json_str(&b, names[k]);
				cid_buf_printf(&b, ":%llu", (unsigned long long)counts[k]);
			}
			cid_buf_adds(&b, "},\"user_agents\":[");
			for (size_t k = 0; k < nua; k++) {
				if (k)
					cid_buf_addc(&b, ',');
				json_str(&b, uas[k]);
			}
			cid_buf_printf(&b, "],\"median_interval_s\":%.3f", median);
			summary_irsa_json(&b, o);
			cid_buf_addc(&b, '}');
		} else {
			cid_buf_adds(&b, "  ");
			cid_esc_text(&b, o->label, strlen(o->label));
			cid_buf_adds(&b, " explains");
			for (size_t k = 0; k < n_by_name; k++) {
				uint64_t all = 0;
				for (size_t i = 0; i < ne; i++)
					all += er[i].name && !strcmp(er[i].name, names[k]);
				cid_buf_printf(&b, "%s %llu of %llu ", k ? "," : "", (unsigned long long)counts[k],
					       (unsigned long long)all);
				cid_esc_text(&b, names[k], strlen(names[k]));
			}
			cid_buf_adds(&b, " events");
			if (o->ambiguous_in)
				cid_buf_printf(&b, " (and is a candidate for %llu ambiguous ones)",
					       (unsigned long long)o->ambiguous_in);
			cid_buf_adds(&b, "\n    evidence: ");
			cid_esc_text(&b, o->method ? o->method : "", o->method ? strlen(o->method) : 0);
			if (nua) {
				cid_buf_adds(&b, "; user agent ");
				for (size_t k = 0; k < nua; k++) {
					cid_buf_adds(&b, k ? ", " : "");
					cid_esc_text(&b, uas[k], strlen(uas[k]));
				}
			}
			if (median > 0)
				cid_buf_printf(&b, "; one call every %.1f s (median)", median);
			summary_imds_text(&b, c, o);
			if (o->host_pods.num_pods) {
				size_t without = 0;
				const struct cid_pod *last = NULL;
				for (size_t i = 0; i < o->host_pods.num_pods; i++)
					if (!o->host_pods.pods[i].role_arn[0] && !o->host_pods.pods[i].irsa_token &&
					    !o->host_pods.pods[i].pod_identity) {
						without++;
						last = &o->host_pods.pods[i];
					}
				cid_buf_printf(&b, "\n    %zu hostNetwork pod(s) share the node's address; %zu run without IRSA or Pod Identity",
					       o->host_pods.num_pods, without);
				if (without == 1 && last)
					cid_buf_printf(&b, " (%s/%s)", last->ns, last->name);
				cid_buf_adds(&b, "; live capture (callerid capture) names the process");
			}
			cid_buf_addc(&b, '\n');
		}
	}
	summary_irsa_list(&b, fmt, c);
	if (fmt == CID_FMT_JSON)
		cid_buf_adds(&b, "}\n");
	fputs(cid_buf_str(&b), out);
	cid_buf_cleanup(&b);
}

void cid_cor_out_explain_one(void *vctx, size_t k, enum cid_cor_excl why, double score)
{
	struct explain_ctx *x = vctx;
	const struct cid_cor_burst *b = &x->bu[k];
	const struct burst_row *r = &x->br[k];
	struct cid_buf line;
	char t[40], sv[80];
	const char *fate = "candidate";
	cid_buf_init(&line, 8192);
	endpoint(sv, sizeof(sv), r->server_ip, r->server_port);
	for (size_t i = 0; i < x->ne; i++)
		if (x->res[i].burst == (long)k) {
			fate = i == x->self ? "CHOSEN" : "explains another event";
			if (i != x->self) {
				cid_buf_adds(&line, "");
			}
			break;
		}
	cid_time_str(b->ts_us, t, sizeof(t));
	cid_buf_printf(&line, "  request %lld %s (%+.3f s) flow %lld %s > %s ", (long long)r->request_id, t,
		       (double)(b->ts_us - x->ev[x->self].time_us - x->offset) / 1e6, (long long)r->flow_id,
		       b->client_ip ? b->client_ip : "?", sv);
	cid_esc_text(&line, b->sni ? b->sni : "-", b->sni ? strlen(b->sni) : 1);
	cid_buf_printf(&line, " %s %s owner ", b->tls_version ? b->tls_version : "-", b->cipher ? b->cipher : "-");
	cid_esc_text(&line, x->c->owners[b->owner].label, strlen(x->c->owners[b->owner].label));
	if (why == CID_EXCL_KEY_EXCHANGE) {
		/* the line does not show the group: say what differed */
		cid_buf_printf(&line, "\n      excluded: %s (flow ", cid_cor_excl_name(why));
		cid_esc_text(&line, b->group, strlen(b->group));
		cid_buf_adds(&line, ", event ");
		cid_esc_text(&line, x->ev[x->self].key_exchange, strlen(x->ev[x->self].key_exchange));
		cid_buf_adds(&line, ")");
	} else if (why != CID_EXCL_NONE) {
		cid_buf_printf(&line, "\n      excluded: %s", cid_cor_excl_name(why));
	}
	else
		cid_buf_printf(&line, "\n      score %.1f: %s", score, fate);
	fprintf(x->out, "%s\n", cid_buf_str(&line));
	cid_buf_cleanup(&line);
}

