/*
 * live.h - live capture for `callerid capture`: the libpcap adapter (one
 * handle per interface, polled together), the capture filter built from
 * the endpoints, and the IMDS request-line reader.
 *
 * Only live.c touches libpcap's live API; filter.c is pure except for the
 * name resolution in cid_filter_resolve (getaddrinfo) and the expression
 * check in cid_filter_check (pcap_compile on a dead handle).
 */
#ifndef CID_LIVE_H
#define CID_LIVE_H

#include "callerid/common.h"

#define CID_LIVE_MAX_IFACES 32u
#define CID_LIVE_IFNAME_CACHE 256u       /* ifindex -> name entries kept */
#define CID_FILTER_MAX_NETS 256u
#define CID_LIVE_TIMEOUT_MS 100          /* longest a packet waits in the kernel ring */
#define CID_IMDS_ADDR "169.254.169.254"
/* The link-local credential services a node's processes and pods ask, all
 * plain HTTP on port 80: IMDS over IPv4 and IPv6, and the EKS Pod Identity
 * agent over IPv4 and IPv6. */
#define CID_IMDS_ADDRS {"169.254.169.254", "fd00:ec2::254", "169.254.170.23", "fd00:ec2::23"}
#define CID_NUM_IMDS_ADDRS 4
#define CID_IMDS_FILTER                                                                                       \
	"((host 169.254.169.254 or host fd00:ec2::254 or host 169.254.170.23 or host fd00:ec2::23) and tcp port 80)"

/* ---- capture handles (live.c) ------------------------------------------- */

struct cid_live_opts {
	int snaplen;          /* bytes kept per packet */
	int buffer_kib;       /* kernel ring size (pcap_set_buffer_size) */
	bool immediate;       /* deliver each packet as it arrives (else within CID_LIVE_TIMEOUT_MS) */
	bool nano;            /* ask for nanosecond timestamps where supported */
	int timeout_ms;       /* ring block timeout; 0 = CID_LIVE_TIMEOUT_MS (live attribution
	                         uses a few ms so a short connection's SYN arrives while its
	                         socket still exists) */
};

struct cid_live_pkt {
	int64_t ts_ns;
	uint32_t caplen, wirelen;
	int dlt;
	uint32_t ifindex;     /* interface index of a named -i; 0 for "any" (SLL2 carries it) */
	unsigned src;         /* which cid_live_add'ed handle (0, 1, ...) */
	const uint8_t *data;  /* valid during the callback only */
};

struct cid_live_stats {
	uint64_t received;    /* pcap_stats ps_recv, summed over the handles */
	uint64_t dropped;     /* ps_drop: no room in the kernel buffer */
	uint64_t if_dropped;  /* ps_ifdrop: dropped by the interface/driver */
};

struct cid_live;

/* The defaults: snaplen 262144, 32 MiB buffer, not immediate (packets are
 * delivered in ring blocks at least every CID_LIVE_TIMEOUT_MS), nanoseconds. */
void cid_live_opts_default(struct cid_live_opts *o);
/* An empty set of handles. NULL on allocation failure. */
struct cid_live *cid_live_new(void);
/* Closes every handle and frees. NULL-safe. */
void cid_live_free(struct cid_live *l);

/* Opens and activates a capture on ifname ("any" gets LINUX_SLL2 when the
 * library offers it). warn receives activation warnings ("" when none).
 * 0, or -CID_EPCAP / -CID_EINVAL with the reason in err. */
int cid_live_add(struct cid_live *l, const char *ifname, const struct cid_live_opts *o, char *warn,
		 size_t warn_len, char *err, size_t err_len);
/* Installs one filter expression on every handle (compiled per handle's
 * link type). 0 or -CID_EPCAP with the reason in err. bpf_insns gets the
 * size of the first handle's program; dump (may be NULL) receives its
 * bpf_image listing when dump_len > 0. */
int cid_live_setfilter(struct cid_live *l, const char *expr, unsigned *bpf_insns, char *dump,
		       size_t dump_len, char *err, size_t err_len);

size_t cid_live_count(const struct cid_live *l);
const char *cid_live_name(const struct cid_live *l, unsigned src);
int cid_live_dlt(const struct cid_live *l, unsigned src);
/* libpcap's name of the handle's link type ("LINUX_SLL2", "EN10MB"). */
const char *cid_live_dlt_name(const struct cid_live *l, unsigned src);
/* "nano" or "micro": the timestamp precision the handle delivers. */
const char *cid_live_precision(const struct cid_live *l, unsigned src);

/* Waits up to timeout_ms for packets on any handle and delivers what is
 * ready through cb. Returns the number of packets delivered (0 on timeout
 * or when a signal interrupted the wait), or -CID_EPCAP with err set. A
 * handle whose interface went away (libpcap: "The interface disappeared")
 * is no longer polled and cid_live_take_lost() says which; only when no
 * handle is left does polling fail, with that message in err. */
int cid_live_poll(struct cid_live *l, int timeout_ms, void (*cb)(void *ctx, const struct cid_live_pkt *pkt),
		  void *ctx, char *err, size_t err_len);
/* "IFACE: reason" for a handle lost in the last cid_live_poll (once), else
 * NULL. The text stays valid until the next call. */
const char *cid_live_take_lost(struct cid_live *l);
/* Sums pcap_stats over the handles; a lost handle counts with its last
 * statistics. 0, or -CID_EPCAP when there is no handle. */
int cid_live_stats(struct cid_live *l, struct cid_live_stats *st);

/* The name of an interface index in the capture's network namespace
 * (if_indextoname, cached; "ifN" when unknown). Returns a pointer into the
 * cache, valid until cid_live_free. */
const char *cid_live_ifname(struct cid_live *l, uint32_t ifindex);

/* ---- the capture filter (filter.c) -------------------------------------- */

/* Adds the networks of one -e argument to nets[*num_nets..max): an IP or a
 * CIDR as given, a hostname as all of its addresses (getaddrinfo; duplicates
 * skipped). 0, or -CID_EINVAL (bad text, no addresses, too many) with err. */
int cid_filter_resolve(struct cid_net *nets, size_t *num_nets, size_t max, const char *endpoint, char *err,
		       size_t err_len);

/* Writes the capture's BPF expression into out:
 *   (ENDPOINTS or IMDS) and (USER)
 * ENDPOINTS is "host A or net N/P ..." over nets (IPv4 and IPv6), IMDS is
 * CID_IMDS_FILTER (IMDS and the Pod Identity agent, IPv4 and IPv6, port 80)
 * when imds, USER is user_expr.
 * With no nets the endpoint part is left out (everything is captured,
 * IMDS included). "" means no filter. false when out is too small. */
bool cid_filter_build(char *out, size_t out_len, const struct cid_net *nets, size_t num_nets, bool imds,
		      const char *user_expr);
/* As cid_filter_build, and with dns " or port 53" joins the endpoint part
 * (capture --dns: lookups over UDP and TCP). */
bool cid_filter_build_ex(char *out, size_t out_len, const struct cid_net *nets, size_t num_nets, bool imds,
			 bool dns, const char *user_expr);

/* Compiles expr for link type dlt on a dead handle: true when libpcap
 * accepts it, else false with libpcap's message in err. */
bool cid_filter_check(const char *expr, int dlt, int snaplen, char *err, size_t err_len);

#endif /* CID_LIVE_H */
