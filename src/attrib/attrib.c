/*
 * attrib.c - the attributor: from a flow's client end to the process,
 * container and pod that own its socket (DESIGN "attrib"; issue 6).
 *
 *   client address of this namespace -> sock_diag here
 *       no socket: conntrack reply tuple -> original (pre-SNAT) client
 *                  -> the namespace holding that address -> sock_diag there
 *   client address of another namespace (a pod's veth) -> sock_diag there
 *   socket inode -> pid (procfs cache) -> stat/cmdline/exe/cgroup
 *
 * The CPU time of each lookup is measured (CLOCK_THREAD_CPUTIME_ID) and
 * reported in the summary: the extra cost per new flow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "callerid/attrib_int.h"
#include "callerid/store.h"

struct cid_attrib {
	struct cid_attrib_opts opts;
	struct cid_procfs *pf;
	struct cid_sockdiag *sd;      /* this namespace */
	struct cid_conntrack *ct;     /* NULL when unavailable */
	struct cid_links *links;
	struct cid_netns *ns;         /* NULL when disabled */
	int64_t wait_ns;              /* of the last lookup (CID_AF_NETNS_WAIT) */
	struct cid_attrib_stats st;
};

const char *cid_attrib_fail_name(enum cid_attrib_fail f)
{
	switch (f) {
	case CID_AF_NONE: return "none";
	case CID_AF_NOT_LOCAL: return "client not local";
	case CID_AF_NO_SOCKET: return "no socket";
	case CID_AF_NO_INODE: return "socket without owner";
	case CID_AF_NO_PROCESS: return "no process holds the socket";
	case CID_AF_PROC_GONE: return "process ended while read";
	case CID_AF_NETNS: return "namespace not entered";
	case CID_AF_NETLINK: return "netlink error";
	case CID_AF_NO_CONNTRACK: return "no socket and no conntrack entry";
	case CID_AF_NETNS_WAIT: return "client's namespace not found yet";
	case CID_AF__COUNT: break;
	}
	return "?";
}

void cid_attrib_opts_default(struct cid_attrib_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->conntrack = true;
	o->netns = true;
}

struct cid_attrib *cid_attrib_new(const struct cid_attrib_opts *o, char *err, size_t err_len)
{
	struct cid_attrib *a = calloc(1, sizeof(*a));
	const char *root;
	char e2[CID_ERRBUF_SIZE];
	if (!a) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	if (o)
		a->opts = *o;
	else
		cid_attrib_opts_default(&a->opts);
	root = a->opts.proc_root ? a->opts.proc_root : getenv("CALLERID_PROC_ROOT");
	a->pf = cid_procfs_new(root && *root ? root : "/proc");
	if (!a->pf) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	a->sd = cid_sockdiag_new(err, err_len);
	if (!a->sd)
		goto fail;
	a->links = cid_links_new(err, err_len);
	if (!a->links)
		goto fail;
	/* conntrack and other namespaces are optional: without them, pods
	 * behind SNAT are not attributed (counted), the rest works */
	if (a->opts.conntrack)
		a->ct = cid_conntrack_new(e2, sizeof(e2));
	if (a->opts.netns)
		a->ns = cid_netns_new(a->pf, e2, sizeof(e2));
	return a;
fail:
	cid_attrib_free(a);
	return NULL;
}

void cid_attrib_free(struct cid_attrib *a)
{
	if (!a)
		return;
	cid_netns_free(a->ns);
	cid_links_free(a->links);
	cid_conntrack_free(a->ct);
	cid_sockdiag_free(a->sd);
	cid_procfs_free(a->pf);
	free(a);
}

bool cid_attrib_is_local(struct cid_attrib *a, const struct cid_addr *addr)
{
	if (cid_links_poll(a->links)) {
		a->st.link_refreshes++;
		/* a pod's veth: its namespace may hold the next clients */
		if (a->ns)
			cid_netns_links_changed(a->ns);
	}
	return cid_links_is_local(a->links, addr);
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* socket -> process fields */
static enum cid_attrib_fail owner_of(struct cid_attrib *a, struct cid_owner *out, const struct cid_sock *s)
{
	int32_t pid;
	if (!s->inode)
		return CID_AF_NO_INODE;
	out->sock_inode = s->inode;
	out->uid = s->uid;
	if (cid_procfs_socket_pid(a->pf, s->inode, &pid, &a->st.inode_walks, &a->st.hot_hits) != 1)
		return CID_AF_NO_PROCESS;
	return cid_procfs_owner(a->pf, pid, out);
}

/* The socket of (cli, cport) -> (srv, sport) in a namespace that holds cli
 * (not ours). Several may hold the address: each is asked; when none has
 * the socket, the namespaces are rescanned once (a new one may hold it). */
static enum cid_attrib_fail in_other_ns(struct cid_attrib *a, struct cid_sock *s, uint64_t *ino, uint8_t proto,
					const struct cid_addr *cli, uint16_t cport, const struct cid_addr *srv,
					uint16_t sport)
{
	struct cid_netns_hit hits[8];
	enum cid_attrib_fail f = CID_AF_NOT_LOCAL;
	if (!a->ns)
		return CID_AF_NOT_LOCAL;
	for (int pass = 0; pass < 2; pass++) {
		int64_t wait = 0;
		size_t num = cid_netns_find(a->ns, cli, pass == 1, hits, 8, &a->st.netns_scans, &wait);
		if (!num && pass == 0 && wait > 0) {
			/* a namespace made since the last rescan may hold it */
			a->wait_ns = wait;
			return CID_AF_NETNS_WAIT;
		}
		for (size_t i = 0; i < num; i++) {
			int r = cid_sockdiag_find(hits[i].sd, s, proto, cli, cport, srv, sport);
			if (r > 0) {
				*ino = hits[i].inode;
				return CID_AF_NONE;
			}
			f = r < 0 ? CID_AF_NETLINK : CID_AF_NO_SOCKET;
		}
		if (!num)
			break;
	}
	return f;
}

static enum cid_attrib_fail lookup(struct cid_attrib *a, struct cid_owner *out, uint8_t proto,
				   const struct cid_addr *cli, uint16_t cport, const struct cid_addr *srv,
				   uint16_t sport)
{
	struct cid_sock s;
	enum cid_attrib_fail f;
	uint64_t ino = 0;
	int r;
	if (cid_attrib_is_local(a, cli)) {
		r = cid_sockdiag_find(a->sd, &s, proto, cli, cport, srv, sport);
		if (r < 0)
			return CID_AF_NETLINK;
		if (r > 0) {
			out->method = "sock_diag";
			out->netns = a->ns ? cid_netns_self(a->ns) : 0;
			return owner_of(a, out, &s);
		}
		/* not ours: a translated connection? */
		if (a->ct) {
			struct cid_addr ocli, osrv;
			uint16_t ocport, osport;
			r = cid_conntrack_original(a->ct, &ocli, &ocport, &osrv, &osport, proto, cli, cport, srv, sport);
			if (r < 0)
				return CID_AF_NETLINK;
			if (r > 0 && (memcmp(&ocli, cli, sizeof(ocli)) || ocport != cport)) {
				out->nat = true;
				out->orig_cli = ocli;
				out->orig_cport = ocport;
				out->method = "conntrack";
				f = in_other_ns(a, &s, &ino, proto, &ocli, ocport, &osrv, osport);
				if (f != CID_AF_NONE)
					return f;
				out->netns = ino;
				return owner_of(a, out, &s);
			}
		}
		return a->ct ? CID_AF_NO_SOCKET : CID_AF_NO_CONNTRACK;
	}
	f = in_other_ns(a, &s, &ino, proto, cli, cport, srv, sport);
	if (f != CID_AF_NONE)
		return f;
	out->method = "sock_diag_netns";
	out->netns = ino;
	return owner_of(a, out, &s);
}

enum cid_attrib_fail cid_attrib_lookup(struct cid_attrib *a, struct cid_owner *out, uint8_t proto,
				       const struct cid_addr *cli, uint16_t cport, const struct cid_addr *srv,
				       uint16_t sport)
{
	uint64_t t0 = cpu_ns(), dt;
	enum cid_attrib_fail f;
	memset(out, 0, sizeof(*out));
	a->wait_ns = 0;
	f = lookup(a, out, proto, cli, cport, srv, sport);
	dt = cpu_ns() - t0;
	a->st.attempts++;
	a->st.ns_total += dt;
	if (dt > a->st.ns_max)
		a->st.ns_max = dt;
	if (f != CID_AF_NONE) {
		bool nat = out->nat;
		struct cid_addr oc = out->orig_cli;
		uint16_t op = out->orig_cport;
		memset(out, 0, sizeof(*out));
		/* the pre-NAT tuple is worth keeping even without an owner */
		out->nat = nat;
		out->orig_cli = oc;
		out->orig_cport = op;
	}
	return f;
}

void cid_attrib_note(struct cid_attrib *a, enum cid_attrib_fail f, bool final, bool retry)
{
	if (f == CID_AF_NONE) {
		a->st.attributed++;
		if (retry)
			a->st.attributed_retry++;
		return;
	}
	if (final && f < CID_AF__COUNT)
		a->st.fail[f]++;
}

int64_t cid_attrib_wait_ns(const struct cid_attrib *a)
{
	return a->wait_ns;
}

const struct cid_attrib_stats *cid_attrib_stats(const struct cid_attrib *a)
{
	return &a->st;
}

struct cid_attrib_stats *cid_attrib_stats_rw(struct cid_attrib *a)
{
	return &a->st;
}

void cid_attrib_summary(const struct cid_attrib *a, FILE *f)
{
	const struct cid_attrib_stats *s = &a->st;
	fprintf(f, "attribution: %llu flows from local clients, %llu attributed (%llu on a retry), %llu NAT links\n",
		(unsigned long long)s->flows, (unsigned long long)s->attributed,
		(unsigned long long)s->attributed_retry, (unsigned long long)s->nat_links);
	for (int i = 1; i < CID_AF__COUNT; i++)
		if (s->fail[i])
			fprintf(f, "  not attributed: %llu %s\n", (unsigned long long)s->fail[i],
				cid_attrib_fail_name((enum cid_attrib_fail)i));
	fprintf(f, "  lookups %llu, CPU per lookup %.1f us (max %.1f us), /proc fd walks %llu, recent-owner hits %llu,"
		" namespace scans %llu (%llu namespace loads), link changes %llu\n",
		(unsigned long long)s->attempts, s->attempts ? (double)s->ns_total / (double)s->attempts / 1000.0 : 0.0,
		(double)s->ns_max / 1000.0, (unsigned long long)s->inode_walks, (unsigned long long)s->hot_hits,
		(unsigned long long)s->netns_scans, (unsigned long long)cid_netns_loads(a->ns),
		(unsigned long long)s->link_refreshes);
}

/* ---- rows (storage contract: owner, nat_link) ---------------------------- */

static int run_stmt(struct cid_store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -CID_EDB;
	return cid_store_row_done(s);
}

int cid_attrib_put_owner(struct cid_store *s, int64_t flow_id, const struct cid_owner *o, int64_t seen_us)
{
	sqlite3_stmt *st = NULL;
	char ns[32];
	if (cid_store_begin(s) < 0)
		return -CID_EDB;
	if (sqlite3_prepare_v2(cid_store_db(s),
			       "INSERT INTO owner(flow_id, method, pid, comm, exe, cmdline, uid, container_id, pod_uid,"
			       " netns, seen_us) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
			       -1, &st, NULL) != SQLITE_OK)
		return -CID_EDB;
	sqlite3_bind_int64(st, 1, flow_id);
	sqlite3_bind_text(st, 2, o->method ? o->method : "?", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, o->pid);
	sqlite3_bind_text(st, 4, o->comm, -1, SQLITE_STATIC);
	if (o->exe[0])
		sqlite3_bind_text(st, 5, o->exe, -1, SQLITE_STATIC);
	if (o->cmdline[0])
		sqlite3_bind_text(st, 6, o->cmdline, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, o->uid);
	if (o->container_id[0])
		sqlite3_bind_text(st, 8, o->container_id, -1, SQLITE_STATIC);
	if (o->pod_uid[0])
		sqlite3_bind_text(st, 9, o->pod_uid, -1, SQLITE_STATIC);
	if (o->netns) {
		snprintf(ns, sizeof(ns), "net:[%llu]", (unsigned long long)o->netns);
		sqlite3_bind_text(st, 10, ns, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int64(st, 11, seen_us);
	return run_stmt(s, st);
}

int cid_attrib_put_nat_link(struct cid_store *s, int64_t inner_flow_id, int64_t outer_flow_id, const char *method)
{
	sqlite3_stmt *st = NULL;
	if (cid_store_begin(s) < 0)
		return -CID_EDB;
	if (sqlite3_prepare_v2(cid_store_db(s),
			       "INSERT INTO nat_link(inner_flow_id, outer_flow_id, method) VALUES(?1, ?2, ?3)", -1, &st,
			       NULL) != SQLITE_OK)
		return -CID_EDB;
	sqlite3_bind_int64(st, 1, inner_flow_id);
	sqlite3_bind_int64(st, 2, outer_flow_id);
	sqlite3_bind_text(st, 3, method, -1, SQLITE_STATIC);
	return run_stmt(s, st);
}
