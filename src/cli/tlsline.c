/* tlsline.c - one line per TLS flow (see tlsline.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/tlsline.h"

struct tlsline {
	FILE *out;
	enum cid_fmt fmt;
	struct cid_table *t;   /* json / csv */
	struct cid_buf b;
	uint64_t lost;         /* lines not printed, or without a fingerprint, for want of memory */
};

static const char *const cols[] = {"time", "client", "server", "sni", "version", "cipher",
				   "group", "alpn", "ja4", "ja3_hash", "status"};

struct tlsline *cid_tlsline_new(FILE *out, enum cid_fmt fmt)
{
	struct tlsline *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->out = out;
	l->fmt = fmt;
	cid_buf_init(&l->b, 1 << 16);
	if (fmt != CID_FMT_TABLE) {
		l->t = cid_table_new(out, fmt, cols, sizeof(cols) / sizeof(cols[0]));
		if (!l->t) {
			cid_tlsline_free(l);
			return NULL;
		}
	}
	return l;
}

void cid_tlsline_free(struct tlsline *l)
{
	if (!l)
		return;
	cid_table_free(l->t);
	cid_buf_cleanup(&l->b);
	free(l);
}

char *cid_endpoint_str(const struct cid_addr *a, uint16_t port, char *buf, size_t buf_len)
{
	char ip[CID_ADDRSTRLEN];
	cid_addr_str(a, ip, sizeof(ip));
	if (a->family == 6)
		snprintf(buf, buf_len, "[%s]:%u", ip, port);
	else
		snprintf(buf, buf_len, "%s:%u", ip, port);
	return buf;
}

void cid_tlsline_print(struct tlsline *l, const struct cid_flow *f)
{
	const struct cid_flow_tls *t = f->tls;
	char cli[64], srv[64], when[40], ja4[CID_JA4_LEN] = "", ja3s[CID_JA3_MAX], ja3h[33] = "";
	const char *ver = NULL, *cipher = NULL, *group = NULL;
	uint16_t group_code;
	int64_t ts;
	if (!l || !t)
		return;
	ts = t->have_ch ? t->ch_ns : t->have_sh ? t->sh_ns : f->first_ns;
	cid_endpoint_str(&f->cli, f->cport, cli, sizeof(cli));
	cid_endpoint_str(&f->srv, f->sport, srv, sizeof(srv));
	cid_time_str(ts / 1000, when, sizeof(when));
	if (t->have_sh) {
		ver = cid_tls_version_name(cid_tls_negotiated_version(&t->sh));
		cipher = t->sh.num_ciphers ? cid_tls_cipher_name(t->sh.ciphers[0]) : NULL;
	}
	if (cid_flow_tls_group(t, &group_code))
		group = cid_tls_group_name(group_code);
	if (t->have_ch) {
		/* the JA3 string always fits: false means libcrypto failed */
		cid_ja4(&t->ch, f->proto == 17 ? 'q' : 't', ja4);
		if (!cid_ja3(&t->ch, ja3s, sizeof(ja3s), ja3h))
			ja3h[0] = '\0';
		if (!ja4[0] || !ja3h[0])
			l->lost++;
	}
	if (l->fmt != CID_FMT_TABLE) {
		cid_table_str(l->t, when);
		cid_table_str(l->t, cli);
		cid_table_str(l->t, srv);
		if (t->have_ch && t->ch.has_sni)
			cid_table_strn(l->t, t->ch.sni, t->ch.sni_len);
		else
			cid_table_null(l->t);
		cid_table_str(l->t, ver);
		cid_table_str(l->t, cipher);
		cid_table_str(l->t, group);
		if (t->have_sh && t->sh.has_alpn)
			cid_table_str(l->t, t->sh.alpn);
		else
			cid_table_null(l->t);
		cid_table_str(l->t, ja4[0] ? ja4 : NULL);
		cid_table_str(l->t, ja3h[0] ? ja3h : NULL);
		cid_table_str(l->t, cid_tls_status_name(t->status));
		cid_table_end_row(l->t);
		return;
	}
	cid_buf_reset(&l->b);
	cid_buf_printf(&l->b, "%s %s > %s %s", when, cli, srv, ver ? ver : "-");
	cid_buf_printf(&l->b, " %s", cipher ? cipher : "-");
	if (group)
		cid_buf_printf(&l->b, " %s", group);
	if (t->have_ch && t->ch.has_sni) {
		cid_buf_adds(&l->b, " sni=");
		cid_esc_text(&l->b, t->ch.sni, t->ch.sni_len);
	}
	if (t->have_sh && t->sh.has_alpn) {
		cid_buf_adds(&l->b, " alpn=");
		cid_esc_text(&l->b, t->sh.alpn, strlen(t->sh.alpn));
	}
	if (ja4[0])
		cid_buf_printf(&l->b, " ja4=%s", ja4);
	if (t->status != CID_TLSS_OK)
		cid_buf_printf(&l->b, " [%s]", cid_tls_status_name(t->status));
	if (l->b.oom) {
		l->lost++; /* whole or not at all */
		return;
	}
	fprintf(l->out, "%s\n", cid_buf_str(&l->b));
}

uint64_t cid_tlsline_lost(const struct tlsline *l)
{
	return l ? l->lost + cid_table_dropped(l->t) : 0;
}
