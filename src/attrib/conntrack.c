/*
 * conntrack.c - the conntrack adapter (libnl-nf): the original tuple of a
 * translated connection.
 *
 * A pod's connection leaves the node after SNAT (masquerade) with the
 * node's address; the capture on the uplink sees node:P -> server. The
 * conntrack entry's reply tuple is server -> node:P, and its original tuple
 * is pod:p -> server (nf_conntrack; ctnetlink's IPCTNL_MSG_CT_GET accepts
 * either tuple: libnl sends only the reply tuple when only it is set). One
 * exact GET, never a dump of the table.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netfilter/ct.h>
#include <netlink/netfilter/nfnl.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "callerid/attrib_int.h"

struct cid_conntrack {
	struct nl_sock *sk;
};

struct ct_reply {
	bool found;
	struct cid_addr cli, srv;
	uint16_t cport, sport;
};

static bool from_nl(struct cid_addr *out, struct nl_addr *a)
{
	unsigned len;
	if (!a)
		return false;
	len = nl_addr_get_len(a);
	memset(out, 0, sizeof(*out));
	if (nl_addr_get_family(a) == AF_INET && len == 4)
		out->family = 4;
	else if (nl_addr_get_family(a) == AF_INET6 && len == 16)
		out->family = 6;
	else
		return false;
	memcpy(out->b, nl_addr_get_binary_addr(a), len);
	return true;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct ct_reply *r = arg;
	struct nfnl_ct *ct = NULL;
	if (nfnlmsg_ct_parse(nlmsg_hdr(msg), &ct) < 0 || !ct)
		return NL_SKIP;
	if (!r->found && from_nl(&r->cli, nfnl_ct_get_src(ct, 0)) && from_nl(&r->srv, nfnl_ct_get_dst(ct, 0))) {
		r->cport = nfnl_ct_get_src_port(ct, 0);
		r->sport = nfnl_ct_get_dst_port(ct, 0);
		r->found = true;
	}
	nfnl_ct_put(ct);
	/* ctnetlink marks even a single GET answer NLM_F_MULTI and sends no
	 * NLMSG_DONE: stop at the answer instead of waiting for more */
	return NL_STOP;
}

struct cid_conntrack *cid_conntrack_new(char *err, size_t err_len)
{
	struct cid_conntrack *ct = calloc(1, sizeof(*ct));
	struct timeval tv = {0, 500000};
	int r;
	if (!ct || !(ct->sk = nl_socket_alloc())) {
		snprintf(err, err_len, "conntrack: out of memory");
		free(ct);
		return NULL;
	}
	r = nfnl_connect(ct->sk);
	if (r < 0) {
		snprintf(err, err_len, "conntrack: %s", nl_geterror(r));
		cid_conntrack_free(ct);
		return NULL;
	}
	nl_socket_disable_auto_ack(ct->sk);
	(void)setsockopt(nl_socket_get_fd(ct->sk), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return ct;
}

void cid_conntrack_free(struct cid_conntrack *ct)
{
	if (!ct)
		return;
	nl_socket_free(ct->sk);
	free(ct);
}

static struct nl_addr *to_nl(const struct cid_addr *a)
{
	return nl_addr_build(a->family == 6 ? AF_INET6 : AF_INET, a->b, a->family == 6 ? 16 : 4);
}

int cid_conntrack_original(struct cid_conntrack *ct, struct cid_addr *orig_cli, uint16_t *orig_cport,
			   struct cid_addr *orig_srv, uint16_t *orig_sport, uint8_t proto, const struct cid_addr *cli,
			   uint16_t cport, const struct cid_addr *srv, uint16_t sport)
{
	struct nfnl_ct *q = nfnl_ct_alloc();
	struct nl_addr *rs = to_nl(srv), *rd = to_nl(cli);
	struct ct_reply r;
	struct nl_msg *msg = NULL;
	int rc = -1;
	memset(&r, 0, sizeof(r));
	if (!q || !rs || !rd)
		goto out;
	nfnl_ct_set_family(q, (uint8_t)(cli->family == 6 ? AF_INET6 : AF_INET));
	nfnl_ct_set_proto(q, proto);
	/* the reply direction: server -> the address the server saw */
	if (nfnl_ct_set_src(q, 1, rs) < 0 || nfnl_ct_set_dst(q, 1, rd) < 0)
		goto out;
	nfnl_ct_set_src_port(q, 1, sport);
	nfnl_ct_set_dst_port(q, 1, cport);
	/* not nfnl_ct_query(): it waits for an ACK; here the one answer (or
	 * the error) is read directly */
	if (nfnl_ct_build_query_request(q, 0, &msg) < 0)
		goto out;
	rc = nl_send_auto(ct->sk, msg);
	nlmsg_free(msg);
	if (rc < 0) {
		rc = -1;
		goto out;
	}
	nl_socket_modify_cb(ct->sk, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &r);
	rc = nl_recvmsgs_default(ct->sk);
	if (rc < 0 && rc != -NLE_OBJ_NOTFOUND) {
		rc = -1;
		goto out;
	}
	rc = 0;
	if (r.found) {
		*orig_cli = r.cli;
		*orig_srv = r.srv;
		*orig_cport = r.cport;
		*orig_sport = r.sport;
		rc = 1;
	}
out:
	nl_addr_put(rs);
	nl_addr_put(rd);
	nfnl_ct_put(q);
	return rc;
}
