/*
 * correlate.h - matching CloudTrail events to request bursts (pure core).
 *
 * DESIGN.md "Correlation - semantics". CloudTrail's eventTime has whole-
 * second precision and may be skewed against the capture clock; SDKs reuse
 * connections. So an event is matched to a request burst, one to one:
 *  1. candidates: bursts whose time lies in [eventTime + offset - skew,
 *     eventTime + offset + 1 s + skew]; SNI = host header, TLS version,
 *     cipher and key exchange equal whenever both sides know them (a
 *     mismatch excludes);
 *     the client address as the endpoint saw it = sourceIPAddress, unless
 *     that address cannot be local (public, or an AWS service name);
 *  2. candidates whose scores are alike form the event's tier. Time
 *     separates candidates only by the second it falls in: a burst whose
 *     answer (the server's first reply: the call's completion, which
 *     eventTime records truncated to the second) lies in the event's own
 *     second, give or take CID_COR_SLOT_SLACK_US, scores higher than one
 *     that is only inside the widened window; finer time never counts;
 *  3. events are assigned most-constrained first; an event whose available
 *     tier has one owner is attributed (and takes a burst), one whose tier
 *     has several owners is ambiguous (and takes none).
 * No I/O: the caller loads rows and resolves owners (correlate_db.c).
 */
#ifndef CID_CORRELATE_H
#define CID_CORRELATE_H

#include "callerid/common.h"

struct cid_cor_event {
	int64_t time_us;
	const char *source_ip;   /* as CloudTrail has it; may be a service name */
	const char *host;        /* tlsDetails.clientProvidedHostHeader, NULL unknown */
	const char *tls_version; /* "TLSv1.2", NULL unknown */
	const char *cipher;      /* NULL unknown */
	const char *key_exchange; /* tlsDetails.keyExchange ("x25519"), NULL unknown */
	/* Identity evidence (optional; NULL / 0 when unknown). node_role: the
	 * IAM role name when the call used the node's instance-profile role
	 * (arn assumed-role/<role>/i-..., or sessionContext.ec2RoleDelivery
	 * present); imdsv: the IMDS version ec2RoleDelivery names ("1.0" -> 1,
	 * "2.0" -> 2), 0 unknown; user_agent: the event's userAgent. */
	const char *node_role;
	uint8_t imdsv;
	const char *user_agent;
};

/* One IMDS credential fetch (GET .../iam/security-credentials/<role>) made
 * by a burst's owner: from the http table, by the flow's owner. */
struct cid_cor_imds {
	int64_t ts_us;
	const char *role;        /* role name from the path */
	const char *user_agent;  /* NULL when not sent */
	uint8_t imdsv;           /* 1 or 2 */
};

/* Evidence bits (cid_cor_result.evidence): each is worth ALIKE (one
 * tier) in a candidate's score, so it can separate two owners, but it is
 * only added to candidates that passed every exclusion test. */
#define CID_COR_EV_IMDS_ROLE 0x01u /* owner fetched the event's node role from IMDS (same version) */
#define CID_COR_EV_IMDS_UA 0x02u   /* the owner's IMDS fetch of the event's node role sent its userAgent */

#define CID_COR_SLOT_SLACK_US 50000 /* capture-side delay of the answer */

struct cid_cor_burst {
	int64_t ts_us;
	int64_t answer_us;       /* first answer byte; 0 when none was seen */
	const char *client_ip;   /* as the endpoint saw it (the outer flow after SNAT) */
	const char *sni;         /* NULL unknown */
	const char *tls_version; /* NULL unknown (no handshake in the capture) */
	const char *cipher;
	const char *group;       /* tls.group: key_share or ServerKeyExchange curve; NULL unknown */
	bool handshake;          /* the flow's hellos were captured */
	int owner;               /* caller's owner index; bursts of one owner share it */
	const struct cid_cor_imds *imds; /* the owner's IMDS credential fetches, or NULL */
	size_t num_imds;
};

enum cid_verdict { CID_UNMATCHED = 0, CID_ATTRIBUTED, CID_AMBIGUOUS };
const char *cid_verdict_name(enum cid_verdict v);

/* Why a burst in the time window was not a candidate. */
enum cid_cor_excl {
	CID_EXCL_NONE = 0,
	CID_EXCL_HOST,       /* SNI differs from the host header */
	CID_EXCL_VERSION,    /* TLS version differs */
	CID_EXCL_CIPHER,     /* cipher differs */
	CID_EXCL_KEY_EXCHANGE, /* keyExchange differs from the flow's group */
	CID_EXCL_ADDRESS,    /* client address differs from sourceIPAddress */
	CID_EXCL__COUNT
};
const char *cid_cor_excl_name(enum cid_cor_excl x);

/* Reasons an event ends unmatched (bit flags). */
#define CID_UNM_NO_BURST_IN_WINDOW 0x01u  /* nothing in the time window */
#define CID_UNM_OUTSIDE_CAPTURE 0x02u     /* event time outside the bursts' span */
#define CID_UNM_ADDRESS_UNSEEN 0x04u      /* private sourceIPAddress never seen: another host */
#define CID_UNM_ALL_EXCLUDED 0x08u        /* bursts in window, all excluded (see excl counts) */
#define CID_UNM_TAKEN 0x10u               /* candidates all explain other events */
/* sourceIPAddress is in the capture, but only at other times (its host's
 * capture, say, began later or ended earlier): see addr_first/last_us */
#define CID_UNM_ADDRESS_OUTSIDE 0x20u

#define CID_COR_MAX_CANDS 64
#define CID_COR_MAX_OWNERS 8

struct cid_cor_result {
	enum cid_verdict verdict;
	long burst;                 /* index of the matched burst, -1 none */
	double confidence;
	double score;
	bool address_checked;       /* the client address was compared */
	unsigned unmatched;         /* CID_UNM_* flags */
	uint32_t excluded[CID_EXCL__COUNT];
	int num_cands;              /* candidates (all tiers) */
	int num_owners;             /* owners in the deciding tier */
	int owners[CID_COR_MAX_OWNERS];
	unsigned evidence;          /* CID_COR_EV_* of the matched burst */
	/* attributed once the alike bursts of the other owners were taken by
	 * events attributed to them (the event was ambiguous until then) */
	bool by_elimination;
	/* CID_UNM_ADDRESS_OUTSIDE: the first and last burst from sourceIPAddress */
	int64_t addr_first_us, addr_last_us;
};

struct cid_cor_params {
	int64_t skew_us;            /* tolerance around the window; default 1 s */
	bool auto_offset;           /* estimate the clock offset first */
	int64_t offset_us;          /* capture clock - CloudTrail clock (used when !auto_offset) */
	int64_t auto_range_us;      /* offsets considered by the estimate; default 300 s */
};

void cid_cor_params_default(struct cid_cor_params *p);

/*
 * Correlates. bursts must be sorted by ts_us (ascending). results has
 * num_events entries. *offset_used receives the clock offset applied
 * (estimated when p->auto_offset). Returns 0, or -CID_ENOMEM.
 */
int cid_correlate(struct cid_cor_result *results, int64_t *offset_used, const struct cid_cor_event *events,
		  size_t num_events, const struct cid_cor_burst *bursts, size_t num_bursts,
		  const struct cid_cor_params *p);

/* For --explain: calls fn for every burst in the event's time window with
 * the exclusion reason (CID_EXCL_NONE for a candidate) and its score. */
void cid_cor_explain(const struct cid_cor_event *e, const struct cid_cor_burst *bursts, size_t num_bursts,
		     const struct cid_cor_params *p, int64_t offset_us,
		     void (*fn)(void *ctx, size_t burst, enum cid_cor_excl why, double score), void *ctx);

/* The CID_COR_EV_* evidence bits burst b's owner brings to event e (no
 * exclusion tests: see cid_cor_explain for those). Only an event made with
 * the node role (e->node_role) has any: the owner's IMDS fetches of that
 * role count, for the role (with the IMDS version ec2RoleDelivery names,
 * when known) and for the user agent. */
unsigned cid_cor_evidence(const struct cid_cor_event *e, const struct cid_cor_burst *b);

/* The node role an event's identity used, if it did: an assumed-role ARN
 * whose session is an instance id (arn:aws:sts::ACCT:assumed-role/<role>/
 * i-...), or any assumed-role ARN when sessionContext.ec2RoleDelivery is
 * set (role_delivery non-NULL: CloudTrail sets it only for instance-profile
 * credentials). Writes the role name, NUL-terminated, to role and returns
 * true; false when the identity is not the node role or the name does not
 * fit in role_len - 1 bytes. */
bool cid_cor_node_role(const char *arn, const char *role_delivery, char *role, size_t role_len);

/* True when the address text is an IP that could be a local (node or pod)
 * address: RFC 1918, RFC 6598 shared space, link-local, loopback, ULA. */
bool cid_ip_is_private(const char *ip);

#endif /* CID_CORRELATE_H */
