/*
 * attrib.h - live attribution: which process, container and pod owns the
 * socket of a flow (DESIGN "attrib" stage, issue 6).
 *
 * Two layers, as STYLE.md asks:
 *   - pure parsers (cgroup.c, procparse.c): bytes of /proc files and link
 *     targets in, structs out, through the cursor; no I/O, no globals;
 *   - adapters (procfs.c, sockdiag.c, conntrack.c, links.c, netns.c) over
 *     /proc (with a CALLERID_PROC_ROOT override for tests) and libnl
 *     (idiag, nf, route), tied together by attrib.c.
 *
 * Every failure is counted by reason in struct cid_attrib_stats; nothing here
 * stops a capture.
 */
#ifndef CID_ATTRIB_H
#define CID_ATTRIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "callerid/common.h"

/* Caps (one place). */
#define CID_ATTRIB_ID_LEN 65u            /* container id: 64 hex + NUL */
#define CID_ATTRIB_POD_UID_LEN 37u       /* 8-4-4-4-12 + NUL */
#define CID_ATTRIB_COMM_LEN 65u          /* comm (kernel: 16, kthreads up to 64) */
#define CID_ATTRIB_EXE_LEN 1024u         /* exe link target kept */
#define CID_ATTRIB_CMDLINE_LEN 1024u     /* cmdline kept (args joined by spaces) */
#define CID_PROC_FILE_CAP (64u * 1024u)  /* bytes read from one /proc file */
#define CID_ATTRIB_INODE_CACHE 65536u    /* socket inode -> pid entries */
#define CID_ATTRIB_HOT_PIDS 64u          /* pids rescanned first on a miss */
#define CID_ATTRIB_MAX_NETNS 256u        /* network namespaces tracked */
#define CID_ATTRIB_NETNS_ADDRS 32u       /* addresses kept per namespace */
#define CID_ATTRIB_MAX_LOCAL 256u        /* addresses of the capture's namespace */

/* ---- cgroup paths (cgroup.c, pure) --------------------------------------- */

enum cid_cg_runtime {
	CID_CG_RT_NONE = 0,
	CID_CG_RT_CONTAINERD,
	CID_CG_RT_CRIO,
	CID_CG_RT_DOCKER,
	CID_CG_RT_UNKNOWN,   /* a bare 64-hex id (cgroupfs driver names no runtime) */
};
const char *cid_cg_runtime_name(enum cid_cg_runtime r);

enum cid_cg_driver { CID_CG_DRV_NONE = 0, CID_CG_DRV_SYSTEMD, CID_CG_DRV_CGROUPFS };
enum cid_cg_qos { CID_CG_QOS_NONE = 0, CID_CG_QOS_GUARANTEED, CID_CG_QOS_BURSTABLE, CID_CG_QOS_BESTEFFORT };

struct cid_cgroup_info {
	char container_id[CID_ATTRIB_ID_LEN];  /* "" when none: 64 lower-case hex */
	char pod_uid[CID_ATTRIB_POD_UID_LEN];  /* "" when none: canonical, with '-' */
	enum cid_cg_runtime runtime;
	enum cid_cg_driver driver;
	enum cid_cg_qos qos;
	bool kubepods;                         /* under the kubelet's kubepods tree */
};

/*
 * Parses one cgroup path (the third field of a /proc/PID/cgroup line, e.g.
 * "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid
 * with '_'>.slice/cri-containerd-<id>.scope" or "/kubepods/burstable/
 * pod<uid>/<id>"). Knows the systemd and cgroupfs drivers, containerd,
 * CRI-O and Docker naming, and containerd's "slice:runtime:id" form.
 * CID_OK when a container id or a pod uid was found (out filled),
 * CID_UNSUPPORTED when the path names neither (out zeroed), CID_MALFORMED
 * when the path does not start with '/'. Never reads past p_len.
 */
enum cid_status cid_cgroup_parse_path(struct cid_cgroup_info *out, const uint8_t *p, size_t p_len);

/*
 * Parses a whole /proc/PID/cgroup file: lines "ID:CONTROLLERS:PATH\n" (v1
 * hierarchies and the v2 "0::" line). The result is the line that says the
 * most (pod uid and container id beat one of them). CID_OK when a line named
 * a container or pod, CID_UNSUPPORTED when every line was well-formed but
 * none did, CID_TRUNCATED when the input is empty or its last line has no
 * newline (a cut read: nothing is trusted), CID_MALFORMED on a bad line.
 */
enum cid_status cid_cgroup_parse(struct cid_cgroup_info *out, const uint8_t *p, size_t p_len);

/* ---- /proc files (procparse.c, pure) ------------------------------------- */

struct cid_proc_stat {
	int32_t pid;
	char comm[CID_ATTRIB_COMM_LEN];
	char state;
	int32_t ppid;
	uint64_t start_ticks;   /* field 22: start time after boot, clock ticks */
};

/* /proc/PID/stat (proc(5)): "pid (comm) state ppid ... starttime ...". comm
 * may hold spaces and ')' - the last ')' ends it. CID_OK with out filled;
 * CID_TRUNCATED when the text ends before field 22 is complete (its
 * terminating space or newline); CID_MALFORMED otherwise. */
enum cid_status cid_proc_parse_stat(struct cid_proc_stat *out, const uint8_t *p, size_t p_len);

struct cid_proc_status {
	char name[CID_ATTRIB_COMM_LEN];
	int32_t tgid, ppid;
	uint32_t uid_real, uid_eff;
	int32_t nspid;          /* last NSpid value: the pid inside its pid namespace */
};

/* /proc/PID/status: "Key:\tvalue\n" lines. CID_OK when Name, Tgid and Uid
 * were read from complete lines; CID_TRUNCATED when one of them is missing
 * and the text ends in a partial line (or is empty); CID_MALFORMED when a
 * needed value is not a number or is missing from complete text. */
enum cid_status cid_proc_parse_status(struct cid_proc_status *out, const uint8_t *p, size_t p_len);

/* /proc/PID/cmdline: NUL-separated arguments, joined with single spaces into
 * out (NUL-terminated, at most out_len - 1 bytes; *cut set when the text was
 * longer). Control bytes become '?'. CID_OK; CID_UNSUPPORTED when empty (a
 * kernel thread or a zombie). out_len must be at least 1. */
enum cid_status cid_proc_parse_cmdline(char *out, size_t out_len, bool *cut, const uint8_t *p, size_t p_len);

/* A link target "KIND:[NUMBER]" as /proc/PID/fd/N ("socket:[123]") and
 * /proc/PID/ns/net ("net:[4026531840]") show it, with kind "socket" or
 * "net". CID_OK with *inode; CID_UNSUPPORTED for another kind or shape (a
 * file path, "pipe:[..]", "anon_inode:..."); CID_TRUNCATED for a proper
 * prefix of a valid target; CID_MALFORMED for a bad number. */
enum cid_status cid_proc_parse_inode_link(uint64_t *inode, const char *kind, const uint8_t *p, size_t p_len);

/* ---- the attributor (attrib.c + adapters) ------------------------------- */

/* Why an attempt found no owner. */
enum cid_attrib_fail {
	CID_AF_NONE = 0,
	CID_AF_NOT_LOCAL,      /* client is neither this node's nor a known namespace's address */
	CID_AF_NO_SOCKET,      /* sock_diag: no such socket (closed already, or never ours) */
	CID_AF_NO_INODE,       /* socket without an owner (TIME_WAIT, orphaned) */
	CID_AF_NO_PROCESS,     /* no /proc/PID/fd holds the inode */
	CID_AF_PROC_GONE,      /* the process ended (or its pid was reused) while read */
	CID_AF_NETNS,          /* could not enter the namespace */
	CID_AF_NETLINK,        /* a netlink query failed */
	CID_AF_NO_CONNTRACK,   /* node-address flow without a socket or a NAT entry */
	CID_AF_NETNS_WAIT,     /* no known namespace holds the client and a rescan must wait:
				* asked again when it may (cid_attrib_wait_ns) */
	CID_AF__COUNT
};
const char *cid_attrib_fail_name(enum cid_attrib_fail f);

/* The owner of one flow's client socket. Strings are "" when unknown. */
struct cid_owner {
	const char *method;     /* static: "sock_diag", "sock_diag_netns", "conntrack" */
	int32_t pid;
	uint32_t uid;           /* the socket's uid (sock_diag) */
	uint64_t start_ticks;   /* of pid: guards against reuse */
	uint64_t sock_inode;
	uint64_t netns;         /* inode of the socket's network namespace */
	char comm[CID_ATTRIB_COMM_LEN];
	char exe[CID_ATTRIB_EXE_LEN];
	char cmdline[CID_ATTRIB_CMDLINE_LEN];
	char container_id[CID_ATTRIB_ID_LEN];
	char pod_uid[CID_ATTRIB_POD_UID_LEN];
	/* SNAT (method "conntrack"): the original client before translation. */
	bool nat;
	struct cid_addr orig_cli;
	uint16_t orig_cport;
};

struct cid_attrib_stats {
	uint64_t attempts;          /* lookups run (first tries and retries) */
	uint64_t flows;             /* flows given to the attributor */
	uint64_t attributed;        /* flows with an owner */
	uint64_t attributed_retry;  /* of them, found on a retry */
	uint64_t nat_links;         /* conntrack links written */
	uint64_t fail[CID_AF__COUNT];   /* last failure of each unattributed flow */
	uint64_t inode_walks;       /* full /proc fd walks (cache refreshes) */
	uint64_t hot_hits;          /* inodes found by rescanning recent owners */
	uint64_t netns_scans;       /* /proc ns rescans */
	uint64_t link_refreshes;    /* rtnetlink change notifications handled */
	uint64_t ns_total;          /* CPU ns spent in lookups (CLOCK_THREAD_CPUTIME_ID) */
	uint64_t ns_max;
};

struct cid_attrib_opts {
	const char *proc_root;  /* NULL: $CALLERID_PROC_ROOT, else "/proc" */
	bool conntrack;         /* ask conntrack about node-address flows (default true) */
	bool netns;             /* look into other network namespaces (default true) */
};

struct cid_attrib;

void cid_attrib_opts_default(struct cid_attrib_opts *o);
/* Opens the netlink sockets (sock_diag, conntrack, rtnetlink) in the
 * calling thread's network namespace. NULL with the reason in err (no
 * libnl socket, no permission). */
struct cid_attrib *cid_attrib_new(const struct cid_attrib_opts *o, char *err, size_t err_len);
/* NULL-safe. */
void cid_attrib_free(struct cid_attrib *a);

/*
 * Finds the owner of the client socket of a flow (proto 6 or 17, the
 * client's and server's address and port as captured). Runs on the first
 * packet: the socket must still exist. Returns CID_AF_NONE with out filled,
 * or the reason nothing was found (counted by the caller's policy through
 * cid_attrib_note). Never blocks for long: netlink queries are answered by
 * the kernel at once; /proc reads are bounded.
 */
enum cid_attrib_fail cid_attrib_lookup(struct cid_attrib *a, struct cid_owner *out, uint8_t proto,
				       const struct cid_addr *cli, uint16_t cport, const struct cid_addr *srv,
				       uint16_t sport);
/* After a lookup that returned CID_AF_NETNS_WAIT: nanoseconds until the
 * namespaces may be rescanned (ask again then); 0 otherwise. */
int64_t cid_attrib_wait_ns(const struct cid_attrib *a);
/* True when addr is an address of the capture's namespace (rtnetlink, kept
 * fresh by change notifications). */
bool cid_attrib_is_local(struct cid_attrib *a, const struct cid_addr *addr);

/* Records the outcome of a flow's attribution in the statistics: final is
 * false for an attempt that will be retried. */
void cid_attrib_note(struct cid_attrib *a, enum cid_attrib_fail f, bool final, bool retry);
const struct cid_attrib_stats *cid_attrib_stats(const struct cid_attrib *a);

/* ---- the capture glue (track.c) ----------------------------------------- */

struct cid_flow;
struct cid_store;

/* How the glue writes a flow row (the capture's own writer, which knows the
 * interface names); must set f->db_id. 0 or negative on failure. */
typedef int (*cid_attrib_put_fn)(void *ctx, struct cid_flow *f);

struct cid_attrib_track;

/* Glue between the engine and the attributor for `capture`. NULL on
 * allocation failure. Does not own a, store or the flows. */
struct cid_attrib_track *cid_attrib_track_new(struct cid_attrib *a, struct cid_store *store, int64_t capture_id,
					      cid_attrib_put_fn put, void *put_ctx);
void cid_attrib_track_free(struct cid_attrib_track *t);
/* A new flow (engine on_new): attributes it when its client is local;
 * owner and nat_link rows are written at once (the flow row is written
 * first when it has no db_id). A miss is retried by cid_attrib_track_retry. */
void cid_attrib_track_new_flow(struct cid_attrib_track *t, struct cid_flow *f, int64_t now_ns);
/* Retries flows whose first attempt found nothing, while they are open (at
 * most 2 retries, at least 5 ms apart). */
void cid_attrib_track_retry(struct cid_attrib_track *t, int64_t now_ns);
/* True while flows wait for a retry: the capture loop then polls with a
 * short timeout (5 ms) so retries are not late. */
bool cid_attrib_track_pending(const struct cid_attrib_track *t);
/* The flow ends (engine on_end, before it is freed): forgets it. Counts a
 * flow that ended unattributed. */
void cid_attrib_track_end(struct cid_attrib_track *t, struct cid_flow *f);
/* Store errors: the first failure's text, or NULL. */
const char *cid_attrib_track_error(const struct cid_attrib_track *t);

/* Writes the end-of-capture attribution summary (counts by reason, CPU). */
void cid_attrib_summary(const struct cid_attrib *a, FILE *f);

/* Inserts an owner row (storage contract) inside the store's batch.
 * 0 or -CID_EDB. */
int cid_attrib_put_owner(struct cid_store *s, int64_t flow_id, const struct cid_owner *o, int64_t seen_us);
/* Inserts a nat_link row. 0 or -CID_EDB. */
int cid_attrib_put_nat_link(struct cid_store *s, int64_t inner_flow_id, int64_t outer_flow_id, const char *method);

#endif /* CID_ATTRIB_H */
