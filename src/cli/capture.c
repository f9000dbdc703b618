/*
 * capture.c - `callerid capture`: live capture on a node into the store,
 * the tcpdump replacement of DESIGN's CLI contract. Same pipeline as
 * `read` (engine -> store, one line per TLS flow), plus: the filter built
 * from the endpoints and IMDS, libpcap statistics in the capture row,
 * pcap/pcapng evidence with rotation (-w -C -G -W), privilege drop (-Z),
 * and a 1 s timer that commits changed flows so a kill -9 loses at most the
 * last second.
 *
 * Faults: a -w file that cannot be written (disk full) is reported at once
 * and the capture goes on recording flows without it (exit status 1 at the
 * end); a database that cannot be written ends the capture (exit 1) with
 * what was committed kept; an interface that goes away is reported and the
 * others go on, and when none is left the capture ends (exit 1) with its
 * final statistics written.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "callerid/attrib.h"
#include "callerid/digest.h"
#include "callerid/cli.h"
#include "callerid/decode.h"
#include "callerid/flow.h"
#include "callerid/http.h"
#include "callerid/live.h"
#include "callerid/output.h"
#include "callerid/store.h"
#include "callerid/tlsline.h"
#include "callerid/writer.h"

#define TICK_NS 1000000000LL
#define FILTER_MAX 16384
#define ATTRIB_TIMEOUT_MS 1   /* ring block timeout with live attribution */
#define POST_WAIT_MS 10000    /* at the end, for -z commands still running */
#define EXPIRE_BATCH 20000u   /* flows one --retain pass deletes at most */
/* Capabilities kept after -Z: none, in any set (bounding and ambient
 * included). Live attribution is turned off with -Z, since it needs
 * CAP_NET_ADMIN (conntrack, sock_diag in other namespaces), CAP_SYS_PTRACE
 * + CAP_DAC_READ_SEARCH (/proc/PID/fd and ns of other users) and
 * CAP_SYS_ADMIN (setns into pod namespaces): see docs/capture.md and
 * docs/attrib.md. */
#define KEEP_CAPS 0ULL

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* A flow whose TLS was reported and that is still open: rewritten by the
 * timer while it changes. It is on one of two lists: changed since it was
 * last written (dirty: the engine's on_touch puts it there) or not, so the
 * timer visits only the flows that changed, not every open one (5,600
 * open flows took 7-9 ms to walk in the live bench). */
struct track {
	struct cid_flow *f;
	struct track *prev, *next;
	bool dirty;
};

struct track_list {
	struct track *head;
};

struct cap_ctx {
	struct cid_store *store;
	const char *db_path;
	int64_t capture_id;
	int64_t started_us;
	struct cid_engine *eng;
	struct cid_live *live;
	struct cid_writer *wr;
	int wr_iface[CID_LIVE_MAX_IFACES];
	struct tlsline *lines;
	bool quiet, imds;
	struct track_list dirty, clean;
	uint64_t count_limit, pkts;
	bool done;
	int store_failed;
	char store_err[CID_ERRBUF_SIZE];
	bool writer_failed;
	uint64_t imds_reqs;
	struct cid_addr imds_addrs[CID_NUM_IMDS_ADDRS];
	struct cid_buf b;
	struct cid_live_stats last_st;
	struct cid_attrib *attrib;          /* NULL: --no-attrib, -Z, or unavailable */
	struct cid_attrib_track *atr;
	const char *zcmd;      /* -z */
	int64_t retain_us;     /* --retain; 0: keep everything */
	int64_t next_expire;   /* when the next --retain pass runs (ns) */
	uint64_t expired;      /* flows deleted by --retain */
	unsigned post_left;    /* -z commands still running at the end */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: callerid capture [-i IFACE]... [-e ENDPOINT]... [--imds|--no-imds] [--dns] [-f BPF]\n"
		"                        [-w FILE [-C MB] [-G SEC] [-W N] [-z CMD]] [-c COUNT] [-s SNAPLEN]\n"
		"                        [-B KiB] [-Z USER] [--no-attrib] [--db FILE] [-q] [-v]\n"
		"                        [--stream-cap BYTES] [--flow-mem BYTES] [--max-flows N] [--idle SEC]\n"
		"                        [--immediate] [--retain DURATION]\n"
		"  Captures live (default interface: any) and records flows with TLS metadata and\n"
		"  request bursts, committed every second; one line per new TLS flow, IMDS\n"
		"  request and drop report. SIGINT/SIGTERM/SIGHUP end the capture cleanly.\n"
		"  -e ENDPOINT  IP, CIDR or hostname (all its addresses); builds the filter\n"
		"  --no-imds    leave IMDS and the Pod Identity agent (169.254.169.254,\n"
		"               169.254.170.23, fd00:ec2::254, fd00:ec2::23, port 80) out of the filter\n"
		"  --dns        add DNS (port 53) to the endpoint filter: lookups are recorded\n"
		"  -f BPF       ANDed with the endpoint filter; -v prints the result\n"
		"  -w FILE      also write the packets (pcapng if FILE ends in .pcapng)\n"
		"  -C MB -G SEC -W N   rotate by size (10^6 bytes), by time, keep N files\n"
		"  -z CMD       run \"CMD FILE\" on each file a rotation closes (-z gzip)\n"
		"  -Z USER      drop root after opening the capture, database and -w file\n"
		"  --immediate  hand each packet over at once (more CPU; default: within 100 ms)\n"
		"  --retain D   keep only the flows of the last D (30m, 6h, 2d) in the database\n");
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t random_seed(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 32;
}

/* flow.ifaces: names of the interfaces, resolved in this network namespace. */
static const char *ifaces_text(struct cap_ctx *c, const struct cid_flow *f)
{
	cid_buf_reset(&c->b);
	for (unsigned i = 0; i < f->num_ifaces; i++) {
		if (i)
			cid_buf_addc(&c->b, ',');
		cid_buf_adds(&c->b, cid_live_ifname(c->live, f->ifaces[i]));
	}
	return c->b.len ? cid_buf_str(&c->b) : NULL;
}

static void put_flow(struct cap_ctx *c, struct cid_flow *f)
{
	if (!c->store || c->store_failed)
		return;
	if (cid_store_put_flow(c->store, c->capture_id, f, ifaces_text(c, f)) < 0) {
		c->store_failed = 1;
		snprintf(c->store_err, sizeof(c->store_err), "%s", cid_store_errmsg(c->store));
	}
}

static void track_push(struct track_list *l, struct track *t)
{
	t->prev = NULL;
	t->next = l->head;
	if (l->head)
		l->head->prev = t;
	l->head = t;
}

static void track_unlink(struct cap_ctx *c, struct track *t)
{
	struct track_list *l = t->dirty ? &c->dirty : &c->clean;
	if (t->prev)
		t->prev->next = t->next;
	else
		l->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
}

static void on_tls(void *ctx, struct cid_flow *f)
{
	struct cap_ctx *c = ctx;
	struct track *t;
	if (!c->quiet)
		cid_tlsline_print(c->lines, f);
	if (f->user)
		return;
	t = calloc(1, sizeof(*t));
	if (!t)
		return;  /* written at its end only */
	t->f = f;
	t->dirty = true;
	track_push(&c->dirty, t);
	f->user = t;
}

/* A packet on a tracked flow: the next tick writes it. */
static void on_touch(void *ctx, struct cid_flow *f)
{
	struct cap_ctx *c = ctx;
	struct track *t = f->user;
	if (t->dirty)
		return;
	track_unlink(c, t);
	t->dirty = true;
	track_push(&c->dirty, t);
}

static void untrack(struct cap_ctx *c, struct track *t)
{
	track_unlink(c, t);
	t->f->user = NULL;
	free(t);
}

static void on_end(void *ctx, struct cid_flow *f)
{
	struct cap_ctx *c = ctx;
	if (f->user)
		untrack(c, f->user);
	put_flow(c, f);
	if (c->atr)
		cid_attrib_track_end(c->atr, f);
}

/* Live attribution on the first packet of each flow (issue 6). */
static void on_new(void *ctx, struct cid_flow *f)
{
	struct cap_ctx *c = ctx;
	if (c->atr)
		cid_attrib_track_new_flow(c->atr, f, now_ns());
}

/* The attribution glue writes a flow row before its owner rows. */
static int put_flow_cb(void *ctx, struct cid_flow *f)
{
	struct cap_ctx *c = ctx;
	put_flow(c, f);
	return c->store_failed ? -1 : 0;
}

/* One line per IMDS request, from the engine's HTTP parser (http.c) as
 * the request completes: the same request seen on a pod's veth and on the
 * uplink is one flow, so it is printed once; a head split across segments
 * is reassembled first. */
static void on_http(void *ctx, struct cid_flow *f, const struct cid_http_rec *r)
{
	struct cap_ctx *c = ctx;
	char cli[64], srv[64], when[40];
	bool service = false, pod_identity;
	for (size_t i = 0; i < CID_NUM_IMDS_ADDRS && !service; i++)
		service = !memcmp(&f->srv, &c->imds_addrs[i], sizeof(f->srv));
	if (r->parse_error[0] || !r->req.method_len || (r->req.imds == CID_HTTP_IMDS_NONE && !service))
		return;
	/* 169.254.170.23 and fd00:ec2::23 (entries 2 and 3) */
	pod_identity = r->req.imds == CID_HTTP_IMDS_POD_IDENTITY ||
		       !memcmp(&f->srv, &c->imds_addrs[2], sizeof(f->srv)) ||
		       !memcmp(&f->srv, &c->imds_addrs[3], sizeof(f->srv));
	c->imds_reqs++;
	if (c->quiet)
		return;
	cid_endpoint_str(&f->cli, f->cport, cli, sizeof(cli));
	cid_endpoint_str(&f->srv, f->sport, srv, sizeof(srv));
	cid_time_str(r->ts_ns / 1000, when, sizeof(when));
	cid_buf_reset(&c->b);
	cid_buf_printf(&c->b, "%s %s > %s %s ", when, cli, srv, pod_identity ? "POD-IDENTITY" : "IMDS");
	cid_esc_text(&c->b, r->req.method, r->req.method_len);
	cid_buf_addc(&c->b, ' ');
	cid_esc_text(&c->b, r->req.path, r->req.path_len);
	/* (the Pod Identity agent's token is in Authorization: no v1/v2) */
	if (!pod_identity && (r->req.imds == CID_HTTP_IMDS_TOKEN || r->req.have_token_ttl))
		cid_buf_adds(&c->b, " token-request");
	else if (!pod_identity)
		cid_buf_adds(&c->b, r->req.imds_token ? " v2" : " v1");
	if (r->req.have_user_agent) {
		cid_buf_adds(&c->b, " ua=");
		cid_esc_text(&c->b, r->req.user_agent, r->req.user_agent_len);
	}
	fprintf(stdout, "%s\n", cid_buf_str(&c->b));
}

/* -w failed (a full disk): said once, at once; the capture goes on without
 * it, since the flows in the database are what it is run for. A tcpdump
 * user still learns that the evidence file is short: the message, the end
 * summary and exit status 1. A symbolic link where the next file goes
 * stops the capture (exit 1): that one was put there. */
static void note_writer_failure(struct cap_ctx *c)
{
	if (c->writer_failed)
		return;
	c->writer_failed = true;
	if (cid_writer_refused(c->wr)) {
		/* not an accident: someone planted the link (tests/privs) */
		cid_cli_err("capture", "-w: %s; capture stopped", cid_writer_error(c->wr));
		c->done = true;
		return;
	}
	cid_cli_err("capture", "-w: %s; no more packets are written to files, flows still go to the database",
		    cid_writer_error(c->wr));
}

static void on_packet(void *ctx, const struct cid_live_pkt *lp)
{
	struct cap_ctx *c = ctx;
	if (c->done)
		return;
	c->pkts++;
	if (c->wr && !c->writer_failed &&
	    cid_writer_packet(c->wr, (unsigned)c->wr_iface[lp->src], lp->ts_ns, lp->data, lp->caplen, lp->wirelen) < 0)
		note_writer_failure(c);
	cid_engine_frame(c->eng, lp->ts_ns, lp->dlt, lp->ifindex, lp->data, lp->caplen, lp->wirelen);
	if (c->count_limit && c->pkts >= c->count_limit)
		c->done = true;
}

/* --retain passes: every minute, or every half retention when shorter. */
static int64_t expire_every(int64_t retain_us)
{
	int64_t half_ns = retain_us * 500;
	return half_ns < 60 * 1000000000LL ? (half_ns < 1000000000LL ? 1000000000LL : half_ns) : 60 * 1000000000LL;
}

/* The 1 s timer: expire, rewrite changed open flows, commit, flush -w,
 * statistics and drop reports. */
static void tick(struct cap_ctx *c, int64_t now)
{
	struct cid_live_stats st;
	cid_engine_expire(c->eng, now);
	while (c->dirty.head) {
		struct track *t = c->dirty.head;
		put_flow(c, t->f);
		track_unlink(c, t);
		t->dirty = false;
		track_push(&c->clean, t);
	}
	if (cid_live_stats(c->live, &st) == 0) {
		if (c->store)
			(void)cid_store_capture_end(c->store, c->capture_id, c->started_us, now / 1000, st.received,
						    st.dropped, st.if_dropped);
		if ((st.dropped > c->last_st.dropped || st.if_dropped > c->last_st.if_dropped) && !c->quiet) {
			char when[40];
			cid_time_str(now / 1000, when, sizeof(when));
			fprintf(stdout, "%s drops: %llu packets dropped by kernel (+%llu), %llu by interface (+%llu)\n",
				when, (unsigned long long)st.dropped,
				(unsigned long long)(st.dropped - c->last_st.dropped),
				(unsigned long long)st.if_dropped,
				(unsigned long long)(st.if_dropped - c->last_st.if_dropped));
		}
		c->last_st = st;
	}
	if (c->retain_us && c->store && !c->store_failed && now >= c->next_expire) {
		uint64_t gone = 0;
		if (cid_store_expire(c->store, now / 1000 - c->retain_us, EXPIRE_BATCH, &gone) < 0) {
			c->store_failed = 1;
			snprintf(c->store_err, sizeof(c->store_err), "%s", cid_store_errmsg(c->store));
		}
		c->expired += gone;
		/* a full pass: go on at the next tick; else wait a while */
		c->next_expire = now + (gone == EXPIRE_BATCH ? 0 : expire_every(c->retain_us));
	}
	if (c->store && !c->store_failed && cid_store_flush(c->store) < 0) {
		c->store_failed = 1;
		snprintf(c->store_err, sizeof(c->store_err), "%s", cid_store_errmsg(c->store));
	}
	if (c->wr && !c->writer_failed && cid_writer_flush(c->wr) < 0)
		note_writer_failure(c);
	if (c->wr)
		cid_writer_reap(c->wr);
	fflush(stdout);
}

/* Interfaces lost in the last poll (a deleted veth): the others go on. */
static void report_lost(struct cap_ctx *c)
{
	const char *lost;
	while ((lost = cid_live_take_lost(c->live)))
		cid_cli_err("capture", "warning: %s; still capturing on the other interfaces", lost);
}

static void summary(const struct cap_ctx *c, const struct cid_live_stats *ls)
{
	const struct cid_engine_stats *st = cid_engine_stats(c->eng);
	fprintf(stderr, "%llu packets captured\n", (unsigned long long)c->pkts);
	fprintf(stderr, "%llu packets received by filter\n", (unsigned long long)ls->received);
	fprintf(stderr, "%llu packets dropped by kernel\n", (unsigned long long)ls->dropped);
	fprintf(stderr, "%llu packets dropped by interface\n", (unsigned long long)ls->if_dropped);
	fprintf(stderr, "%llu packets decoded, %llu flows, %llu TLS flows, %llu request bursts, %llu IMDS requests\n",
		(unsigned long long)st->decoded, (unsigned long long)st->flows, (unsigned long long)st->flows_tls,
		(unsigned long long)st->reqs, (unsigned long long)c->imds_reqs);
	for (int i = 1; i < CID_SKIP__COUNT; i++)
		if (st->skipped[i])
			fprintf(stderr, "  not decoded: %llu %s\n", (unsigned long long)st->skipped[i],
				cid_skip_name((enum cid_skip)i));
	cid_cli_flow_counts(stderr, st, true);
	if (st->alloc_failed)
		fprintf(stderr, "  allocation failures: %llu\n", (unsigned long long)st->alloc_failed);
	if (cid_store_hash_failures(c->store))
		fprintf(stderr, "  fingerprints not computed (libcrypto failed, out of memory): %llu\n",
			(unsigned long long)cid_store_hash_failures(c->store));
	if (cid_tlsline_lost(c->lines))
		fprintf(stderr, "  TLS lines not printed or incomplete (out of memory): %llu\n",
			(unsigned long long)cid_tlsline_lost(c->lines));
	if (c->wr)
		fprintf(stderr, "%llu packets written to %llu file(s), last %s\n",
			(unsigned long long)cid_writer_packets(c->wr), (unsigned long long)cid_writer_files(c->wr),
			cid_writer_path(c->wr));
	if (c->wr && c->writer_failed)
		fprintf(stderr, "  -w stopped: %s\n", cid_writer_error(c->wr));
	if (c->retain_us)
		fprintf(stderr, "  flows deleted by --retain: %llu\n", (unsigned long long)c->expired);
	if (c->wr && cid_writer_post_started(c->wr))
		fprintf(stderr, "  -z %s: %llu file(s) handed over, %llu failed, %u still running\n", c->zcmd,
			(unsigned long long)cid_writer_post_started(c->wr),
			(unsigned long long)cid_writer_post_failed(c->wr), c->post_left);
}

/* -Z: give the database and the -w file to USER, then become USER keeping
 * only KEEP_CAPS (none), with the bounding and ambient sets emptied and
 * no_new_privs set, so that not even an exec of a set-user-ID program can
 * bring a privilege back. docs/capture.md lists the resulting
 * /proc/PID/status lines; tests/privs/privs.t checks them. */
static int drop_privileges(struct cap_ctx *c, const char *user, const char *db_path, char *err, size_t err_len)
{
	struct passwd *pw = getpwnam(user);
	static const char *const sfx[] = {"", "-wal", "-shm"};
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	if (!pw) {
		snprintf(err, err_len, "-Z: no user '%s'", user);
		return -1;
	}
	for (size_t i = 0; c->store && i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		char p[4096];
		snprintf(p, sizeof(p), "%s%s", db_path, sfx[i]);
		if (chown(p, pw->pw_uid, pw->pw_gid) != 0 && errno != ENOENT) {
			snprintf(err, err_len, "-Z: chown %.300s: %s", p, strerror(errno));
			return -1;
		}
	}
	if (c->wr && cid_writer_chown(c->wr, pw->pw_uid, pw->pw_gid) < 0) {
		snprintf(err, err_len, "-Z: %s", cid_writer_error(c->wr));
		return -1;
	}
	/* The bounding set (needs CAP_SETPCAP, so while still root): every
	 * capability the kernel knows, until PR_CAPBSET_READ says EINVAL. */
	for (unsigned long cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0L, 0L, 0L) < 0)
			break;
		if (!(KEEP_CAPS & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0L, 0L, 0L) != 0) {
			snprintf(err, err_len, "-Z: cannot drop capability %lu from the bounding set: %s", cap,
				 strerror(errno));
			return -1;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) != 0 && errno != EINVAL) {
		snprintf(err, err_len, "-Z: cannot clear the ambient capabilities: %s", strerror(errno));
		return -1;
	}
	if (KEEP_CAPS && prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) {
		snprintf(err, err_len, "-Z: PR_SET_KEEPCAPS: %s", strerror(errno));
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		snprintf(err, err_len, "-Z: cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	/* setuid clears the permitted and effective sets but not the
	 * inheritable one: all three are set here, to KEEP_CAPS and none */
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)KEEP_CAPS;
	data[1].effective = data[1].permitted = (uint32_t)(KEEP_CAPS >> 32);
	if (syscall(SYS_capset, &hdr, data) != 0) {
		snprintf(err, err_len, "-Z: capset: %s", strerror(errno));
		return -1;
	}
	if (KEEP_CAPS)
		(void)prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0) {
		snprintf(err, err_len, "-Z: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	/* check rather than trust: no way back to root, no capability left */
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0 || data[0].effective != (uint32_t)KEEP_CAPS ||
	    data[0].permitted != (uint32_t)KEEP_CAPS || data[0].inheritable || data[1].inheritable ||
	    data[1].effective != (uint32_t)(KEEP_CAPS >> 32) || data[1].permitted != (uint32_t)(KEEP_CAPS >> 32)) {
		snprintf(err, err_len, "-Z: capabilities left after the drop");
		return -1;
	}
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, err_len, "-Z: root could be regained");
		return -1;
	}
	return 0;
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;
	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* --retain: N seconds, or N followed by s, m, h or d; 1 s to 366 days. */
static bool parse_duration(const char *s, int64_t *us)
{
	char num[32];
	size_t n = s ? strlen(s) : 0;
	uint64_t v, mult = 1;
	if (n == 0 || n >= sizeof(num))
		return false;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's': mult = 1; num[--n] = '\0'; break;
	case 'm': mult = 60; num[--n] = '\0'; break;
	case 'h': mult = 3600; num[--n] = '\0'; break;
	case 'd': mult = 86400; num[--n] = '\0'; break;
	default: break;
	}
	if (!parse_u64(num, 1, 366u * 86400u, &v) || v * mult > 366u * 86400u)
		return false;
	*us = (int64_t)(v * mult) * 1000000;
	return true;
}

int cid_cmd_capture(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, 'D'},        {"imds", no_argument, NULL, 'M'},
		{"dns", no_argument, NULL, 'U'},
		{"no-imds", no_argument, NULL, 'N'},         {"no-attrib", no_argument, NULL, 'A'},
		{"stream-cap", required_argument, NULL, 'S'}, {"max-flows", required_argument, NULL, 'X'},
		{"flow-mem", required_argument, NULL, 'T'},
		{"idle", required_argument, NULL, 'I'},      {"help", no_argument, NULL, 'h'},
		{"immediate", no_argument, NULL, 'P'},       {"no-immediate", no_argument, NULL, 'Q'},
		{"retain", required_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	static struct cid_net nets[CID_FILTER_MAX_NETS];
	const char *ifnames[CID_LIVE_MAX_IFACES];
	size_t num_if = 0, num_nets = 0;
	const char *user_expr = NULL, *db_opt = NULL, *wpath = NULL, *zuser = NULL, *zcmd = NULL, *db_path;
	uint64_t cmb = 0, gsec = 0, wring = 0, count = 0, snaplen = 262144, bufkib = 32768, v;
	int verbose = 0, opt, status = 0, immediate = -1;
	bool no_attrib = false, dns = false;
	struct cid_engine_config cfg;
	struct cid_live_opts lo;
	struct cid_live_stats ls;
	struct cap_ctx c;
	char *filter = NULL, *dump = NULL;
	char err[CID_ERRBUF_SIZE], warn[CID_ERRBUF_SIZE], host[256] = "";
	struct sigaction sa;
	int64_t next_tick;
	unsigned insns = 0;

	memset(&c, 0, sizeof(c));
	c.imds = true;
	{
		static const char *const addrs[CID_NUM_IMDS_ADDRS] = CID_IMDS_ADDRS;
		for (size_t i = 0; i < CID_NUM_IMDS_ADDRS; i++)
			cid_addr_parse(&c.imds_addrs[i], addrs[i]);
	}
	cid_engine_config_default(&cfg);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "i:e:f:w:C:G:W:z:c:s:B:Z:qvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (num_if >= CID_LIVE_MAX_IFACES) {
				cid_cli_err("capture", "too many -i (at most %u)", CID_LIVE_MAX_IFACES);
				return 2;
			}
			ifnames[num_if++] = optarg;
			break;
		case 'e':
			if (cid_filter_resolve(nets, &num_nets, CID_FILTER_MAX_NETS, optarg, err, sizeof(err)) < 0) {
				cid_cli_err("capture", "%s", err);
				return 2;
			}
			break;
		case 'f': user_expr = optarg; break;
		case 'w': wpath = optarg; break;
		case 'z': zcmd = optarg; break;
		case 'C':
			if (!parse_u64(optarg, 1, 1000000, &cmb)) {
				cid_cli_err("capture", "-C must be 1..1000000 (MB)");
				return 2;
			}
			break;
		case 'G':
			if (!parse_u64(optarg, 1, 86400 * 366, &gsec)) {
				cid_cli_err("capture", "-G must be a number of seconds");
				return 2;
			}
			break;
		case 'W':
			if (!parse_u64(optarg, 1, CID_WRITER_MAX_RING, &wring)) {
				cid_cli_err("capture", "-W must be 1..%u", CID_WRITER_MAX_RING);
				return 2;
			}
			break;
		case 'c':
			if (!parse_u64(optarg, 1, UINT64_MAX, &count)) {
				cid_cli_err("capture", "-c must be a positive count");
				return 2;
			}
			break;
		case 's':
			if (!parse_u64(optarg, 0, 262144, &snaplen)) {
				cid_cli_err("capture", "-s must be 0..262144");
				return 2;
			}
			if (snaplen == 0)
				snaplen = 262144;  /* as tcpdump: 0 means the default */
			if (snaplen < 96) {
				cid_cli_err("capture", "-s must be at least 96 to see TLS hellos");
				return 2;
			}
			break;
		case 'B':
			if (!parse_u64(optarg, 64, 4194304, &bufkib)) {
				cid_cli_err("capture", "-B must be 64..4194304 (KiB)");
				return 2;
			}
			break;
		case 'Z': zuser = optarg; break;
		case 'q': c.quiet = true; break;
		case 'v': verbose++; break;
		case 'D': db_opt = optarg; break;
		case 'M': c.imds = true; break;
		case 'U': dns = true; break;
		case 'N': c.imds = false; break;
		case 'A': no_attrib = true; break;
		case 'P': immediate = 1; break;
		case 'Q': immediate = 0; break;
		case 'S':
			if (!parse_u64(optarg, 1024, 1u << 24, &v)) {
				cid_cli_err("capture", "--stream-cap must be 1024..16777216");
				return 2;
			}
			cfg.stream_cap = (size_t)v;
			break;
		case 'T':
			if (!cid_cli_bytes(optarg, &cfg.flow_mem)) {
				cid_cli_err("capture", "--flow-mem must be 1M..1T (bytes, or with K, M, G)");
				return 2;
			}
			break;
		case 'X':
			if (!parse_u64(optarg, 16, 1u << 26, &v)) {
				cid_cli_err("capture", "--max-flows must be 16..67108864");
				return 2;
			}
			cfg.max_flows = (size_t)v;
			break;
		case 'R':
			if (!parse_duration(optarg, &c.retain_us)) {
				cid_cli_err("capture", "--retain must be a duration: 90, 90s, 30m, 6h, 2d (at most 366d)");
				return 2;
			}
			break;
		case 'I':
			if (!parse_u64(optarg, 1, 86400, &v)) {
				cid_cli_err("capture", "--idle must be 1..86400 seconds");
				return 2;
			}
			cfg.idle_ns = (int64_t)v * 1000000000LL;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		cid_cli_err("capture", "unexpected argument '%s' (the filter goes in -f)", argv[optind]);
		return 2;
	}
	if ((cmb || gsec || wring || zcmd) && !wpath) {
		cid_cli_err("capture", "-C, -G, -W and -z need -w FILE");
		return 2;
	}
	if (zcmd && (!cmb && !gsec)) {
		cid_cli_err("capture", "-z needs -C or -G (it runs on each file a rotation closes)");
		return 2;
	}
	if (zcmd && !zcmd[0]) {
		cid_cli_err("capture", "-z needs a command");
		return 2;
	}
	if (wring && !cmb && !gsec) {
		cid_cli_err("capture", "-W needs -C or -G");
		return 2;
	}
	if (!num_if)
		ifnames[num_if++] = "any";

	/* The filter: a bad expression is a usage error before anything starts. */
	filter = malloc(FILTER_MAX);
	dump = verbose > 1 ? malloc(1 << 16) : NULL;
	if (!filter || (verbose > 1 && !dump)) {
		cid_cli_err("capture", "out of memory");
		status = 1;
		goto out;
	}
	if (!cid_filter_build_ex(filter, FILTER_MAX, nets, num_nets, c.imds, dns, user_expr)) {
		cid_cli_err("capture", "filter expression too long");
		status = 2;
		goto out;
	}
	if (*filter && !cid_filter_check(filter, CID_DLT_LINUX_SLL2, (int)snaplen, err, sizeof(err))) {
		cid_cli_err("capture", "bad filter expression: %s", err);
		status = 2;
		goto out;
	}

	cid_live_opts_default(&lo);
	lo.snaplen = (int)snaplen;
	lo.buffer_kib = (int)bufkib;
	if (immediate >= 0)
		lo.immediate = immediate == 1;
	/* attribution needs the SYN while the socket exists: short ring
	 * blocks (TPACKET_V3 keeps its throughput, unlike immediate mode) */
	if (!no_attrib && !zuser)
		lo.timeout_ms = ATTRIB_TIMEOUT_MS;
	c.live = cid_live_new();
	if (!c.live) {
		cid_cli_err("capture", "out of memory");
		status = 1;
		goto out;
	}
	for (size_t i = 0; i < num_if; i++) {
		if (cid_live_add(c.live, ifnames[i], &lo, warn, sizeof(warn), err, sizeof(err)) < 0) {
			cid_cli_err("capture", "%s", err);
			status = 1;
			goto out;
		}
		if (*warn)
			cid_cli_err("capture", "warning: %s", warn);
	}
	if (*filter && cid_live_setfilter(c.live, filter, &insns, dump, dump ? 1 << 16 : 0, err, sizeof(err)) < 0) {
		cid_cli_err("capture", "%s", err);
		status = 2;
		goto out;
	}
	if (verbose) {
		fprintf(stderr, "callerid: capture: filter: %s (%u BPF instructions)\n", *filter ? filter : "(none)",
			insns);
		if (dump)
			fputs(dump, stderr);
	}

	if (!cid_md_init()) {
		cid_cli_err("capture", "libcrypto: cannot set up its digests and ciphers (out of memory)");
		status = 1;
		goto out;
	}
	db_path = cid_cli_db_path(db_opt);
	c.db_path = db_path;
	c.store = cid_store_open(db_path, false, err, sizeof(err));
	if (!c.store) {
		cid_cli_err("capture", "%s", err);
		status = 1;
		goto out;
	}
	if (wpath) {
		struct cid_writer_opts wo;
		cid_writer_opts_default(&wo, wpath);
		wo.rotate_bytes = cmb * 1000000u;
		wo.rotate_sec = (int64_t)gsec;
		wo.ring = (unsigned)wring;
		wo.snaplen = (uint32_t)snaplen;
		wo.post_rotate = zcmd;
		c.zcmd = zcmd;
		c.wr = cid_writer_new(&wo, err, sizeof(err));
		if (!c.wr) {
			cid_cli_err("capture", "-w: %s", err);
			status = 2;
			goto out;
		}
		for (unsigned i = 0; i < cid_live_count(c.live); i++) {
			c.wr_iface[i] = cid_writer_add_iface(c.wr, cid_live_dlt(c.live, i), cid_live_name(c.live, i));
			if (c.wr_iface[i] < 0) {
				cid_cli_err("capture", "-w: %s", cid_writer_error(c.wr));
				status = 2;
				goto out;
			}
		}
		if (cid_writer_start(c.wr, now_ns()) < 0) {
			cid_cli_err("capture", "-w: %s", cid_writer_error(c.wr));
			status = 1;
			goto out;
		}
	}
	if (zuser && drop_privileges(&c, zuser, db_path, err, sizeof(err)) < 0) {
		cid_cli_err("capture", "%s", err);
		status = 1;
		goto out;
	}

	c.started_us = now_ns() / 1000;
	gethostname(host, sizeof(host) - 1);
	{
		struct cid_buf src;
		cid_buf_init(&src, 4096);
		for (size_t i = 0; i < num_if; i++) {
			if (i)
				cid_buf_addc(&src, ',');
			cid_buf_adds(&src, ifnames[i]);
		}
		if (cid_store_capture_begin(c.store, "live", cid_buf_str(&src), host, *filter ? filter : NULL,
					    c.started_us, &c.capture_id) < 0 ||
		    cid_store_flush(c.store) < 0) {
			cid_cli_err("capture", "%s", cid_store_errmsg(c.store));
			cid_buf_cleanup(&src);
			status = 1;
			goto out;
		}
		cid_buf_cleanup(&src);
		/* WAL checkpoints (a copy and two fsyncs per 40 MB) on a thread
		 * of their own, not in the capture loop; started after -Z so
		 * that it holds no privilege either (capabilities are per
		 * thread), and as USER it can open the database it was given. */
		cid_store_ckpt_begin(c.store);
	}

	/* Live attribution: needs root (netlink in other namespaces, /proc of
	 * every user), so not with -Z; a failure leaves the capture running
	 * without it. */
	if (!no_attrib && !zuser) {
		struct cid_attrib_opts ao;
		cid_attrib_opts_default(&ao);
		c.attrib = cid_attrib_new(&ao, err, sizeof(err));
		if (!c.attrib)
			cid_cli_err("capture", "warning: live attribution off: %s", err);
		else if (!(c.atr = cid_attrib_track_new(c.attrib, c.store, c.capture_id, put_flow_cb, &c))) {
			cid_cli_err("capture", "out of memory");
			status = 1;
			goto out;
		}
	} else if (!no_attrib && zuser && verbose) {
		cid_cli_err("capture", "live attribution is off with -Z (it needs root)");
	}

	c.count_limit = count;
	c.lines = cid_tlsline_new(stdout, CID_FMT_TABLE);
	cid_buf_init(&c.b, 1 << 16);
	cfg.on_tls = on_tls;
	cfg.on_end = on_end;
	cfg.on_new = c.atr ? on_new : NULL;
	cfg.on_touch = on_touch;
	cfg.on_http = on_http;
	cfg.ctx = &c;
	cfg.hash_seed = random_seed();
	c.eng = cid_engine_new(&cfg);
	if (!c.eng || !c.lines) {
		cid_cli_err("capture", "out of memory");
		status = 1;
		goto out;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;  /* no SA_RESTART: poll returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (unsigned i = 0; i < cid_live_count(c.live); i++)
		fprintf(stderr, "callerid: listening on %s, link-type %s, snapshot length %llu bytes, %sseconds\n",
			cid_live_name(c.live, i), cid_live_dlt_name(c.live, i),
			(unsigned long long)snaplen, cid_live_precision(c.live, i));

	next_tick = now_ns() + TICK_NS;
	while (!got_signal && !c.done) {
		int64_t now = now_ns();
		int timeout = now >= next_tick ? 0 : (int)((next_tick - now) / 1000000) + 1;
		if (c.atr && cid_attrib_track_pending(c.atr) && timeout > 5)
			timeout = 5;
		if (cid_live_poll(c.live, timeout, on_packet, &c, err, sizeof(err)) < 0) {
			cid_cli_err("capture", "%s; no interface left, the capture ends", err);
			status = 1;
			break;
		}
		report_lost(&c);
		if (c.atr)
			cid_attrib_track_retry(c.atr, now_ns());
		if (c.store_failed)
			break;
		now = now_ns();
		if (now >= next_tick) {
			tick(&c, now);
			next_tick = now + TICK_NS;
		}
	}

	/* Packets already in the kernel ring are part of the capture: a ring
	 * block is handed over at the latest CID_LIVE_TIMEOUT_MS after its
	 * first packet. (Not after -c: the count is reached.) */
	if (got_signal && status == 0 && !c.done)
		for (int k = 0; k < 4; k++) {
			int r = cid_live_poll(c.live, CID_LIVE_TIMEOUT_MS + 50, on_packet, &c, err, sizeof(err));
			report_lost(&c);
			if (r <= 0)
				break;
		}
	/* The end: every open flow written, final statistics, one commit. */
	memset(&ls, 0, sizeof(ls));
	(void)cid_live_stats(c.live, &ls);
	cid_engine_flush(c.eng, CID_END_EOC);
	if (!c.store_failed) {
		if (cid_store_capture_end(c.store, c.capture_id, c.started_us, now_ns() / 1000, ls.received, ls.dropped,
					  ls.if_dropped) < 0 ||
		    cid_store_flush(c.store) < 0) {
			c.store_failed = 1;
			snprintf(c.store_err, sizeof(c.store_err), "%s", cid_store_errmsg(c.store));
		}
	}
	if (c.store_failed) {
		cid_cli_err("capture", "database %s: storing flows failed: %s; what was committed before is kept",
			    c.db_path, c.store_err);
		status = 1;
	}
	if (c.wr && !c.writer_failed && cid_writer_flush(c.wr) < 0)
		note_writer_failure(&c);
	if (c.writer_failed)
		status = 1;
	/* the files already rotated are being compressed: let that finish */
	if (c.wr)
		c.post_left = cid_writer_wait_post(c.wr, POST_WAIT_MS);
	fflush(stdout);
	summary(&c, &ls);
	if (c.attrib)
		cid_attrib_summary(c.attrib, stderr);
	if (c.atr && cid_attrib_track_error(c.atr))
		cid_cli_err("capture", "attribution rows: %s", cid_attrib_track_error(c.atr));
out:
	cid_engine_free(c.eng);  /* empty by now, or never fed */
	cid_attrib_track_free(c.atr);
	cid_attrib_free(c.attrib);
	while (c.dirty.head)
		/* the head's prev is NULL, so untrack moves the head on; the
		 * analyzer assumes a non-NULL prev for the head */
		untrack(&c, c.dirty.head); // NOLINT(clang-analyzer-unix.Malloc)
	while (c.clean.head)
		untrack(&c, c.clean.head); // NOLINT(clang-analyzer-unix.Malloc)
	cid_writer_free(c.wr);
	cid_tlsline_free(c.lines);
	cid_store_free(c.store);
	cid_live_free(c.live);
	cid_buf_cleanup(&c.b);
	free(filter);
	free(dump);
	return status;
}
