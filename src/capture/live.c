/*
 * live.c - the libpcap live adapter (live.h): pcap_create + pcap_activate
 * with immediate mode, a kernel buffer size, nanosecond timestamps where
 * supported, LINUX_SLL2 on "any" (it carries the interface index), and
 * several handles polled together on their selectable descriptors. A
 * handle whose interface goes away is set aside (its last statistics kept)
 * and the others go on; polling fails once none is left.
 */
#include <errno.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/live.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

struct handle {
	pcap_t *p;
	char name[64];
	int dlt;
	uint32_t ifindex;
	bool nano;
	unsigned src;
	bool dead;             /* its interface went away: no longer polled */
	struct pcap_stat last; /* the last statistics read (kept when dead) */
};

struct ifcache {
	uint32_t ifindex;
	char name[IF_NAMESIZE + 4];
};

struct cid_live {
	struct handle h[CID_LIVE_MAX_IFACES];
	unsigned n;
	struct ifcache cache[CID_LIVE_IFNAME_CACHE];
	unsigned num_cache;
	unsigned cache_next;   /* slot reused when the cache is full */
	unsigned num_alive;
	char lost[CID_ERRBUF_SIZE]; /* an interface that went away, not yet reported */
	char lost_out[CID_ERRBUF_SIZE];
	/* during a dispatch */
	void (*cb)(void *ctx, const struct cid_live_pkt *pkt);
	void *cb_ctx;
	int delivered;
};

struct dispatch_arg {
	struct cid_live *l;
	struct handle *h;
};

void cid_live_opts_default(struct cid_live_opts *o)
{
	o->snaplen = 262144;
	o->buffer_kib = 32768;
	/* Measured (scripts/bench_capture.sh): immediate mode makes libpcap use
	 * TPACKET_V2 with one wakeup per packet and drops from ~100 kpps on;
	 * TPACKET_V3 blocks retired every 100 ms hold the rates tcpdump holds,
	 * and 100 ms is well inside the 1 s commit interval. */
	o->immediate = false;
	o->nano = true;
	o->timeout_ms = 0;
}

struct cid_live *cid_live_new(void)
{
	return calloc(1, sizeof(struct cid_live));
}

void cid_live_free(struct cid_live *l)
{
	if (!l)
		return;
	for (unsigned i = 0; i < l->n; i++)
		pcap_close(l->h[i].p);
	free(l);
}

static bool has_dlt(pcap_t *p, int dlt)
{
	int *list = NULL;
	int n = pcap_list_datalinks(p, &list);
	bool found = false;
	for (int i = 0; i < n; i++)
		if (list[i] == dlt)
			found = true;
	if (list)
		pcap_free_datalinks(list);
	return found;
}

int cid_live_add(struct cid_live *l, const char *ifname, const struct cid_live_opts *o, char *warn,
		 size_t warn_len, char *err, size_t err_len)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct handle *h;
	pcap_t *p;
	int rc;
	if (warn_len)
		warn[0] = '\0';
	if (l->n >= CID_LIVE_MAX_IFACES) {
		snprintf(err, err_len, "too many interfaces (at most %u)", CID_LIVE_MAX_IFACES);
		return -CID_EINVAL;
	}
	p = pcap_create(ifname, ebuf);
	if (!p) {
		snprintf(err, err_len, "%s: %s", ifname, ebuf);
		return -CID_EPCAP;
	}
	pcap_set_snaplen(p, o->snaplen);
	pcap_set_promisc(p, 0);   /* the node's own traffic is all we need */
	pcap_set_timeout(p, o->timeout_ms > 0 ? o->timeout_ms : CID_LIVE_TIMEOUT_MS);
	if (o->immediate)
		pcap_set_immediate_mode(p, 1);
	if (o->buffer_kib > 0)
		pcap_set_buffer_size(p, o->buffer_kib * 1024);
	/* Not every device supports nanoseconds; microseconds are then used. */
	if (o->nano)
		(void)pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
	rc = pcap_activate(p);
	if (rc < 0) {
		if (rc == PCAP_ERROR)
			snprintf(err, err_len, "%s: %s", ifname, pcap_geterr(p));
		else
			snprintf(err, err_len, "%s: %s%s%s", ifname, pcap_statustostr(rc),
				 *pcap_geterr(p) ? ": " : "", pcap_geterr(p));
		pcap_close(p);
		return -CID_EPCAP;
	}
	if (rc > 0 && warn_len)
		snprintf(warn, warn_len, "%s: %s%s%s", ifname, pcap_statustostr(rc),
			 rc == PCAP_WARNING && *pcap_geterr(p) ? ": " : "", rc == PCAP_WARNING ? pcap_geterr(p) : "");
	/* "any": SLL2 carries the interface index of every packet. */
	if (!strcmp(ifname, "any") && has_dlt(p, DLT_LINUX_SLL2))
		(void)pcap_set_datalink(p, DLT_LINUX_SLL2);
	if (pcap_setnonblock(p, 1, ebuf) < 0) {
		snprintf(err, err_len, "%s: %s", ifname, ebuf);
		pcap_close(p);
		return -CID_EPCAP;
	}
	h = &l->h[l->n];
	memset(h, 0, sizeof(*h));
	h->p = p;
	snprintf(h->name, sizeof(h->name), "%s", ifname);
	h->dlt = pcap_datalink(p);
	h->ifindex = strcmp(ifname, "any") ? if_nametoindex(ifname) : 0;
	h->nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
	h->src = l->n;
	l->n++;
	l->num_alive++;
	return 0;
}

int cid_live_setfilter(struct cid_live *l, const char *expr, unsigned *bpf_insns, char *dump, size_t dump_len,
		       char *err, size_t err_len)
{
	if (bpf_insns)
		*bpf_insns = 0;
	if (dump && dump_len)
		dump[0] = '\0';
	for (unsigned i = 0; i < l->n; i++) {
		struct bpf_program prog;
		if (pcap_compile(l->h[i].p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			snprintf(err, err_len, "%s: %s", l->h[i].name, pcap_geterr(l->h[i].p));
			return -CID_EPCAP;
		}
		if (i == 0) {
			size_t len = 0;
			if (bpf_insns)
				*bpf_insns = prog.bf_len;
			for (unsigned k = 0; dump && k < prog.bf_len && len + 1 < dump_len; k++) {
				int w = snprintf(dump + len, dump_len - len, "%s\n", bpf_image(&prog.bf_insns[k], (int)k));
				if (w < 0 || (size_t)w >= dump_len - len)
					break;
				len += (size_t)w;
			}
		}
		if (pcap_setfilter(l->h[i].p, &prog) < 0) {
			snprintf(err, err_len, "%s: %s", l->h[i].name, pcap_geterr(l->h[i].p));
			pcap_freecode(&prog);
			return -CID_EPCAP;
		}
		pcap_freecode(&prog);
	}
	return 0;
}

size_t cid_live_count(const struct cid_live *l)
{
	return l->n;
}

const char *cid_live_name(const struct cid_live *l, unsigned src)
{
	return src < l->n ? l->h[src].name : "";
}

int cid_live_dlt(const struct cid_live *l, unsigned src)
{
	return src < l->n ? l->h[src].dlt : -1;
}

const char *cid_live_dlt_name(const struct cid_live *l, unsigned src)
{
	const char *n = src < l->n ? pcap_datalink_val_to_name(l->h[src].dlt) : NULL;
	return n ? n : "unknown";
}

const char *cid_live_precision(const struct cid_live *l, unsigned src)
{
	return src < l->n && l->h[src].nano ? "nano" : "micro";
}

static void on_packet(u_char *user, const struct pcap_pkthdr *ph, const u_char *bytes)
{
	struct dispatch_arg *a = (struct dispatch_arg *)(void *)user;
	struct cid_live_pkt pkt;
	int64_t frac = (int64_t)ph->ts.tv_usec;
	pkt.ts_ns = (int64_t)ph->ts.tv_sec * 1000000000LL + (a->h->nano ? frac : frac * 1000);
	pkt.caplen = ph->caplen;
	pkt.wirelen = ph->len;
	pkt.dlt = a->h->dlt;
	pkt.ifindex = a->h->ifindex;
	pkt.src = a->h->src;
	pkt.data = bytes;
	a->l->delivered++;
	a->l->cb(a->l->cb_ctx, &pkt);
}

int cid_live_poll(struct cid_live *l, int timeout_ms, void (*cb)(void *ctx, const struct cid_live_pkt *pkt),
		  void *ctx, char *err, size_t err_len)
{
	struct pollfd pfd[CID_LIVE_MAX_IFACES];
	unsigned idx[CID_LIVE_MAX_IFACES], num = 0;
	int rc;
	if (!l->num_alive) {
		snprintf(err, err_len, "no interface left to capture on");
		return -CID_EPCAP;
	}
	for (unsigned i = 0; i < l->n; i++) {
		if (l->h[i].dead)
			continue;
		pfd[num].fd = pcap_get_selectable_fd(l->h[i].p);
		pfd[num].events = POLLIN;
		pfd[num].revents = 0;
		idx[num++] = i;
	}
	rc = poll(pfd, num, timeout_ms);
	if (rc < 0) {
		if (errno == EINTR)
			return 0;
		snprintf(err, err_len, "poll: %s", strerror(errno));
		return -CID_EPCAP;
	}
	l->cb = cb;
	l->cb_ctx = ctx;
	l->delivered = 0;
	for (unsigned k = 0; k < num; k++) {
		struct handle *h = &l->h[idx[k]];
		struct dispatch_arg a = {l, h};
		struct pcap_stat ps;
		if (!pfd[k].revents)
			continue;
		/* POLLERR without data: the interface went away (deleted; a veth
		 * whose pod is gone); dispatch says why. */
		rc = pcap_dispatch(h->p, -1, on_packet, (u_char *)(void *)&a);
		if (rc != PCAP_ERROR)
			continue;
		/* two lost in one poll: both named */
		size_t used = strlen(l->lost);
		snprintf(l->lost + used, sizeof(l->lost) - used, "%s%s: %s", used ? "; " : "", h->name,
			 pcap_geterr(h->p));
		if (pcap_stats(h->p, &ps) == 0)
			h->last = ps;
		h->dead = true;
		l->num_alive--;
		if (!l->num_alive) {
			snprintf(err, err_len, "%s", l->lost);
			l->lost[0] = '\0';
			return -CID_EPCAP;
		}
	}
	return l->delivered;
}

const char *cid_live_take_lost(struct cid_live *l)
{
	if (!l->lost[0])
		return NULL;
	snprintf(l->lost_out, sizeof(l->lost_out), "%s", l->lost);
	l->lost[0] = '\0';
	return l->lost_out;
}

int cid_live_stats(struct cid_live *l, struct cid_live_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < l->n; i++) {
		struct pcap_stat ps;
		/* a handle that cannot say (gone) counts with what it said last */
		if (!l->h[i].dead && pcap_stats(l->h[i].p, &ps) == 0)
			l->h[i].last = ps;
		st->received += l->h[i].last.ps_recv;
		st->dropped += l->h[i].last.ps_drop;
		st->if_dropped += l->h[i].last.ps_ifdrop;
	}
	return l->n ? 0 : -CID_EPCAP;
}

const char *cid_live_ifname(struct cid_live *l, uint32_t ifindex)
{
	struct ifcache *slot;
	char name[IF_NAMESIZE];
	for (unsigned i = 0; i < l->num_cache; i++)
		if (l->cache[i].ifindex == ifindex)
			return l->cache[i].name;
	if (l->num_cache < CID_LIVE_IFNAME_CACHE) {
		slot = &l->cache[l->num_cache++];
	} else {
		slot = &l->cache[l->cache_next];
		l->cache_next = (l->cache_next + 1) % CID_LIVE_IFNAME_CACHE;
	}
	slot->ifindex = ifindex;
	if (ifindex && if_indextoname(ifindex, name))
		snprintf(slot->name, sizeof(slot->name), "%s", name);
	else
		snprintf(slot->name, sizeof(slot->name), "if%u", ifindex);
	return slot->name;
}
