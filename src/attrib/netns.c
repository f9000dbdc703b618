/*
 * netns.c - other network namespaces: a pod's sockets are only visible to
 * sock_diag inside the pod's namespace.
 *
 * The namespaces are found the way the kernel exposes them to everyone:
 * /proc/PID/ns/net of every process (and /run/netns bind mounts). For each
 * one a file descriptor is kept, its addresses are read by an rtnetlink
 * dump from inside it, and a sock_diag socket is opened inside it (setns(2)
 * on this thread, the socket, setns back: a netlink socket stays in the
 * namespace it was created in). A flow's client address picks the
 * namespace. The table is rebuilt on a miss, at most every second, or
 * every 10 ms for a second after the capture namespace's links changed (a
 * new pod's veth: its namespace and address come with it, and its first
 * connection may follow within milliseconds); a miss that has to wait in
 * that second is told how long, so that the caller can ask again then (a
 * miss outside it is final: remote clients would otherwise each be asked
 * about several times). Namespaces that
 * disappeared are closed (an open fd would keep them alive). A rebuild
 * walks /proc (a readlink per process: 0.6 ms on a quiet VM, more on a
 * busy node); remote clients miss all the time, and at the 100 ms pace
 * this once had, the walks were about a tenth of the capture's CPU at
 * 25 kpps. New pods come with a link change, which opens the fast window.
 *
 * A rescan enters only the namespaces whose addresses may have changed:
 * new ones, ones without an address other than loopback and link-local
 * (the CNI adds the pod's address after the namespace exists), ones that
 * appeared less than YOUNG_NS ago (after the first scan: the ones there
 * at the start are old), and the others every REFRESH_NS. A pod's
 * address lives as long as its namespace, and entering every namespace on
 * each rescan cost ~23 us per namespace (1.4 ms per rescan with 60 pods,
 * ten times a second under a stream of remote clients).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "callerid/attrib_int.h"

#define RESCAN_NS 1000000000LL
#define FAST_RESCAN_NS 10000000LL
#define FAST_WINDOW_NS 1000000000LL
#define RUN_NETNS "/run/netns"
#define YOUNG_NS 2000000000LL
#define REFRESH_NS 10000000000LL

struct ns {
	uint64_t inode;
	int fd;
	bool seen;
	struct cid_sockdiag *sd;
	struct cid_addr addrs[CID_ATTRIB_NETNS_ADDRS];
	size_t num_addrs;
	int64_t first_seen_ns, loaded_ns;  /* mono_ns(); loaded_ns 0: never */
};

struct cid_netns {
	struct cid_procfs *pf;
	int self_fd;
	uint64_t self_inode;
	struct ns ns[CID_ATTRIB_MAX_NETNS];
	size_t num;
	int64_t last_scan_ns;
	int64_t fast_until_ns;  /* rescans every FAST_RESCAN_NS until then */
	bool broken;   /* could not return to our namespace once: never leave again */
	uint64_t loads;  /* namespaces entered to read their addresses */
	bool scanned;    /* a rescan ran: namespaces found later are new ones */
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct cid_netns *cid_netns_new(struct cid_procfs *pf, char *err, size_t err_len)
{
	struct cid_netns *n = calloc(1, sizeof(*n));
	struct stat st;
	if (!n) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	n->pf = pf;
	n->self_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (n->self_fd < 0 || fstat(n->self_fd, &st) != 0) {
		snprintf(err, err_len, "netns: /proc/thread-self/ns/net: %s", strerror(errno));
		if (n->self_fd >= 0)
			close(n->self_fd);
		free(n);
		return NULL;
	}
	n->self_inode = (uint64_t)st.st_ino;
	return n;
}

static void drop(struct ns *e)
{
	cid_sockdiag_free(e->sd);
	if (e->fd >= 0)
		close(e->fd);
	memset(e, 0, sizeof(*e));
	e->fd = -1;
}

void cid_netns_free(struct cid_netns *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->num; i++)
		drop(&n->ns[i]);
	close(n->self_fd);
	free(n);
}

uint64_t cid_netns_self(const struct cid_netns *n)
{
	return n->self_inode;
}

/* Enters e, reads its addresses (and opens its sock_diag socket when it
 * has none), comes back. false when we could not enter. */
static bool load(struct cid_netns *n, struct ns *e, int64_t now)
{
	char err[CID_ERRBUF_SIZE];
	int k;
	if (n->broken || setns(e->fd, CLONE_NEWNET) != 0)
		return false;
	n->loads++;
	e->loaded_ns = now;
	k = cid_links_dump_addrs(e->addrs, CID_ATTRIB_NETNS_ADDRS);
	e->num_addrs = k > 0 ? (size_t)k : 0;
	if (!e->sd)
		e->sd = cid_sockdiag_new(err, sizeof(err));
	if (setns(n->self_fd, CLONE_NEWNET) != 0) {
		n->broken = true;  /* the capture keeps its own sockets; we stop looking */
		return false;
	}
	return true;
}

/* An address a pod's client could have: not loopback, not IPv6 link-local. */
static bool routable(const struct cid_addr *a)
{
	static const uint8_t v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	if (a->family == 4)
		return a->b[0] != 127;
	return memcmp(a->b, v6_loop, 16) != 0 && !(a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80);
}

/* Whether a rescan enters e (see the top of the file). */
static bool stale(const struct ns *e, int64_t now)
{
	bool has = false;
	if (!e->loaded_ns || now - e->first_seen_ns < YOUNG_NS || now - e->loaded_ns >= REFRESH_NS)
		return true;
	for (size_t k = 0; k < e->num_addrs && !has; k++)
		has = routable(&e->addrs[k]);
	return !has || !e->sd;
}

static struct ns *known(struct cid_netns *n, uint64_t inode)
{
	for (size_t i = 0; i < n->num; i++)
		if (n->ns[i].inode == inode)
			return &n->ns[i];
	return NULL;
}

static void add(struct cid_netns *n, uint64_t inode, const char *path)
{
	struct ns *e = known(n, inode);
	int fd;
	if (inode == n->self_inode)
		return;
	if (e) {
		e->seen = true;
		return;
	}
	if (n->num >= CID_ATTRIB_MAX_NETNS)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	e = &n->ns[n->num++];
	memset(e, 0, sizeof(*e));
	e->inode = inode;
	e->fd = fd;
	e->seen = true;
	/* the namespaces there at the first scan are old: not young */
	e->first_seen_ns = n->scanned ? mono_ns() : INT64_MIN / 4;
}

static bool on_pid(void *ctx, int32_t pid, uint64_t inode)
{
	struct cid_netns *n = ctx;
	char path[1024];
	if (inode == n->self_inode || known(n, inode)) {
		struct ns *e = known(n, inode);
		if (e)
			e->seen = true;
		return true;
	}
	snprintf(path, sizeof(path), "%s/%d/ns/net", cid_procfs_root(n->pf), (int)pid);
	add(n, inode, path);
	return true;
}

static void rescan(struct cid_netns *n, int64_t now)
{
	DIR *d;
	struct dirent *de;
	size_t w = 0;
	for (size_t i = 0; i < n->num; i++)
		n->ns[i].seen = false;
	(void)cid_procfs_each_netns(n->pf, on_pid, n);
	d = opendir(RUN_NETNS);
	if (d) {
		while ((de = readdir(d)) != NULL) {
			char path[1024];
			struct stat st;
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", RUN_NETNS, de->d_name);
			if (stat(path, &st) == 0)
				add(n, (uint64_t)st.st_ino, path);
		}
		closedir(d);
	}
	/* close what is gone, refresh what may have changed */
	for (size_t i = 0; i < n->num; i++) {
		if (!n->ns[i].seen || (stale(&n->ns[i], now) && !load(n, &n->ns[i], now))) {
			drop(&n->ns[i]);
			continue;
		}
		if (w != i)
			n->ns[w] = n->ns[i];
		w++;
	}
	n->num = w;
	n->scanned = true;
}

/* The namespaces holding a (several can: labs, or pods with overlapping
 * ranges on bridges), up to max. */
static size_t by_addr(struct cid_netns *n, const struct cid_addr *a, struct cid_netns_hit *out, size_t max)
{
	size_t num = 0;
	for (size_t i = 0; i < n->num && num < max; i++)
		for (size_t k = 0; k < n->ns[i].num_addrs; k++)
			if (!memcmp(&n->ns[i].addrs[k], a, sizeof(*a))) {
				if (n->ns[i].sd) {
					out[num].sd = n->ns[i].sd;
					out[num].inode = n->ns[i].inode;
					num++;
				}
				break;
			}
	return num;
}

void cid_netns_links_changed(struct cid_netns *n)
{
	n->fast_until_ns = mono_ns() + FAST_WINDOW_NS;
}

size_t cid_netns_find(struct cid_netns *n, const struct cid_addr *a, bool force_rescan, struct cid_netns_hit *out,
		      size_t max, uint64_t *scans, int64_t *wait_ns)
{
	size_t num = by_addr(n, a, out, max);
	if (wait_ns)
		*wait_ns = 0;
	if ((!num || force_rescan) && !n->broken) {
		int64_t now = mono_ns();
		int64_t every = now < n->fast_until_ns ? FAST_RESCAN_NS : RESCAN_NS;
		if (!n->last_scan_ns || now - n->last_scan_ns >= every) {
			n->last_scan_ns = now;
			rescan(n, now);
			if (scans)
				(*scans)++;
			num = by_addr(n, a, out, max);
		} else if (wait_ns && every == FAST_RESCAN_NS) {
			/* worth waiting for only while a new pod may be coming
			 * up; otherwise (remote clients) the miss stands */
			*wait_ns = n->last_scan_ns + every - now;
		}
	}
	return num;
}

uint64_t cid_netns_loads(const struct cid_netns *n)
{
	return n ? n->loads : 0;
}
