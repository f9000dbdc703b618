/*
 * attrib_int.h - the adapters behind the attributor (attrib.h). Each one
 * wraps one outside interface: procfs.c (/proc, honouring a root override),
 * sockdiag.c (libnl-idiag), conntrack.c (libnl-nf), links.c (libnl-route)
 * and netns.c (other network namespaces). Used by attrib.c and the tests.
 */
#ifndef CID_ATTRIB_INT_H
#define CID_ATTRIB_INT_H

#include "callerid/attrib.h"

/* The attributor's counters, for the capture glue (track.c). */
struct cid_attrib_stats *cid_attrib_stats_rw(struct cid_attrib *a);

/* ---- /proc (procfs.c) ---------------------------------------------------- */

struct cid_procfs;

/* root: the /proc to read ("/proc", or a fixture tree). NULL on allocation
 * failure. */
struct cid_procfs *cid_procfs_new(const char *root);
void cid_procfs_free(struct cid_procfs *pf);
const char *cid_procfs_root(const struct cid_procfs *pf);

/* Reads root/rel into buf (at most cap bytes). Returns the length, or -1
 * when the file cannot be read. */
long cid_procfs_read(struct cid_procfs *pf, const char *rel, uint8_t *buf, size_t cap);

/* The pid whose fd table holds socket inode: the cache, then the fds of
 * recent owners, then a full walk that refreshes the cache. 1 found, 0 not.
 * walks/hot_hits (may be NULL) count the full walks and recent-owner hits. */
int cid_procfs_socket_pid(struct cid_procfs *pf, uint64_t inode, int32_t *pid, uint64_t *walks,
			  uint64_t *hot_hits);

/* Fills o's process fields (pid, start_ticks, comm, exe, cmdline,
 * container_id, pod_uid; netns when 0) for pid. The stat file is read
 * before and after: a pid that ended or was reused meanwhile gives
 * CID_AF_PROC_GONE. CID_AF_NONE on success. */
enum cid_attrib_fail cid_procfs_owner(struct cid_procfs *pf, int32_t pid, struct cid_owner *o);

/* Calls cb for every process's network namespace (pid, inode), in /proc
 * order; stops when cb returns false. Returns the number of pids seen. */
size_t cid_procfs_each_netns(struct cid_procfs *pf, bool (*cb)(void *ctx, int32_t pid, uint64_t inode), void *ctx);

/* ---- sock_diag (sockdiag.c) ---------------------------------------------- */

struct cid_sockdiag;

/* A NETLINK_SOCK_DIAG socket in the calling thread's network namespace.
 * NULL with err. */
struct cid_sockdiag *cid_sockdiag_new(char *err, size_t err_len);
void cid_sockdiag_free(struct cid_sockdiag *sd);

struct cid_sock {
	uint64_t inode;    /* 0: no owner (TIME_WAIT, orphan) */
	uint32_t uid;
	uint8_t state;     /* TCP state (linux/tcp_states.h); 7 (CLOSE) for UDP */
};

/* Looks up the socket whose local end is (cli, cport) and remote end
 * (srv, sport), TCP (6) or UDP (17), by exact id (SOCK_DIAG_BY_FAMILY
 * without a dump). 1 found, 0 none, -1 netlink failure. */
int cid_sockdiag_find(struct cid_sockdiag *sd, struct cid_sock *out, uint8_t proto, const struct cid_addr *cli,
		      uint16_t cport, const struct cid_addr *srv, uint16_t sport);

/* ---- conntrack (conntrack.c) --------------------------------------------- */

struct cid_conntrack;

struct cid_conntrack *cid_conntrack_new(char *err, size_t err_len);
void cid_conntrack_free(struct cid_conntrack *ct);

/* The original tuple of the connection whose reply direction is
 * (srv, sport) -> (cli, cport): what a flow seen after SNAT as
 * cli:cport -> srv:sport was before translation. 1 found (orig_* set),
 * 0 no entry, -1 netlink failure. */
int cid_conntrack_original(struct cid_conntrack *ct, struct cid_addr *orig_cli, uint16_t *orig_cport,
			   struct cid_addr *orig_srv, uint16_t *orig_sport, uint8_t proto, const struct cid_addr *cli,
			   uint16_t cport, const struct cid_addr *srv, uint16_t sport);

/* ---- rtnetlink (links.c) ------------------------------------------------- */

struct cid_links;

/* Link and address caches of the calling thread's namespace, kept by a
 * libnl cache manager (change notifications). NULL with err. */
struct cid_links *cid_links_new(char *err, size_t err_len);
void cid_links_free(struct cid_links *l);
/* Applies pending change notifications (non-blocking). Returns the number
 * of refreshes done (0 when nothing changed). */
int cid_links_poll(struct cid_links *l);
bool cid_links_is_local(struct cid_links *l, const struct cid_addr *a);
/* The name of ifindex ("" when unknown); is_veth set when it is a veth. */
const char *cid_links_name(struct cid_links *l, uint32_t ifindex, bool *is_veth);

/* Addresses of the namespace the calling thread is in, by a one-off
 * rtnetlink dump. Returns the count (at most max), or -1. */
int cid_links_dump_addrs(struct cid_addr *out, size_t max);

/* ---- other network namespaces (netns.c) ---------------------------------- */

struct cid_netns;

struct cid_netns *cid_netns_new(struct cid_procfs *pf, char *err, size_t err_len);
void cid_netns_free(struct cid_netns *n);
struct cid_netns_hit {
	struct cid_sockdiag *sd;   /* opened inside the namespace */
	uint64_t inode;
};

/* The namespaces (not the capture's own) holding address a, up to max, in
 * out. Rescans /proc and /run/netns when none is known or force_rescan is
 * set, at most every second (every 10 ms within a second of
 * cid_netns_links_changed). Returns the number found; when a wanted rescan
 * had to wait within that second, *wait_ns (if given) is how long, else 0. */
size_t cid_netns_find(struct cid_netns *n, const struct cid_addr *a, bool force_rescan, struct cid_netns_hit *out,
		      size_t max, uint64_t *scans, int64_t *wait_ns);
/* The capture namespace's links or addresses changed (a pod's veth came
 * or went): rescans may come faster for a while. */
void cid_netns_links_changed(struct cid_netns *n);
/* How many times a namespace was entered to read its addresses. NULL-safe. */
uint64_t cid_netns_loads(const struct cid_netns *n);
/* The capture's own namespace inode. */
uint64_t cid_netns_self(const struct cid_netns *n);

#endif /* CID_ATTRIB_INT_H */
