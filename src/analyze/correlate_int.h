/*
 * correlate_int.h - what correlate_db.c (loading, owners, storing) and
 * correlate_out.c (the printed and stored forms) share.
 */
#ifndef CID_CORRELATE_INT_H
#define CID_CORRELATE_INT_H

#include <stdio.h>

#include "callerid/correlate.h"
#include "callerid/k8s.h"
#include "callerid/output.h"

#define US 1000000LL

struct strtab {
	char **slot;
	size_t cap, n;
};

/* ---- owners ------------------------------------------------------------ */

struct owner {
	char key[600];
	char kind[8];               /* process | pod | host */
	char node_ip[CID_ADDRSTRLEN];
	char client_ip[CID_ADDRSTRLEN];
	struct cid_pod *pod;        /* NULL unless a pod is known */
	int64_t pid;
	char *comm, *exe, *container_id;
	struct cid_pod_list host_pods;
	char *label;
	char *method;               /* how the owner was found */
	/* summary */
	uint64_t explained, ambiguous_in;
	/* IMDS credential fetches by this owner: ctx.imds[imds_first ..] */
	size_t imds_first, num_imds;
};

struct burst_row {
	int64_t request_id, flow_id, inner_flow_id, flow_first_us;
	const char *server_ip;
	int server_port;
	const char *nat_method;
	const char *inner_client_ip;
};

/* Where an IMDS fetch was seen (beside struct cid_cor_imds). */
struct imds_row {
	int64_t flow_id;
	int owner;
	size_t seq;     /* load order (time order) */
	struct cid_cor_imds f;
};

struct ctx {
	sqlite3 *db;
	struct strtab strs;
	struct owner *owners;
	size_t num_owners, cap_owners;
	/* flow id -> owner index, open addressing (ids are > 0) */
	int64_t *flow_ids;
	int *flow_owner;
	size_t num_flows, cap_flows;
	/* client address -> owner, when that cannot depend on time: no live
	 * rows and at most one pod snapshot */
	bool ip_cache_ok, have_owner_rows;
	const char **ip_cached;
	int *ip_owner;
	size_t num_ip, cap_ip;
	/* IMDS credential fetches (http rows), grouped by owner */
	struct cid_cor_imds *imds;
	struct imds_row *imds_rows;
	size_t num_imds;
	char err[CID_ERRBUF_SIZE];
};

struct event_row {
	char *event_id;
	const char *name, *error_code, *user_agent, *arn;
	const char *role_delivery;  /* sessionContext.ec2RoleDelivery */
	int64_t time_us;
};

struct explain_ctx {
	FILE *out;
	const struct cid_cor_burst *bu;
	const struct burst_row *br;
	const struct ctx *c;
	const struct cid_cor_result *res;
	const struct cid_cor_event *ev;
	const struct event_row *er;
	size_t ne, self;
	int64_t offset;
};

/* correlate_out.c */
/* The owner fetched node-role credentials from IMDS (o->num_imds: every
 * .../iam/security-credentials/<role> GET is one, IMDS serves only the
 * instance profile's role) although it runs under an IRSA or Pod Identity
 * service account: its own pod has one, or, for the node's address, one of
 * the hostNetwork pods sharing it does. ORIGIN.md's situation. When b is
 * not NULL, appends those pods to it: "ns/name (IRSA), ns/name (Pod
 * Identity)". */
bool cid_cor_imds_under_irsa(const struct owner *o, struct cid_buf *b);
void cid_cor_out_reasons(struct cid_buf *b, const struct cid_cor_event *e, const struct cid_cor_result *r,
			 const struct cid_cor_burst *bu, const struct burst_row *br, const struct owner *ow,
			 int64_t offset);
void cid_cor_out_event_json(struct cid_buf *b, const struct cid_cor_event *e, const struct event_row *er,
			    const struct cid_cor_result *r, const struct cid_cor_burst *bu,
			    const struct burst_row *br, const struct ctx *c, int64_t offset);
const char *cid_cor_out_owner_cell(const struct ctx *c, const struct cid_cor_result *r,
				   const struct cid_cor_burst *bu, struct cid_buf *tmp);
void cid_cor_out_summary(FILE *out, enum cid_fmt fmt, const struct ctx *c, const struct cid_cor_event *ev,
			 const struct event_row *er, const struct cid_cor_result *res, size_t ne,
			 const struct cid_cor_burst *bu, const struct cid_cor_totals *tot);
void cid_cor_out_explain_one(void *vctx, size_t k, enum cid_cor_excl why, double score);

#endif
