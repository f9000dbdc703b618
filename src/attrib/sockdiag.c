/*
 * sockdiag.c - the sock_diag adapter (libnl-idiag): one socket by its exact
 * 4-tuple, never a dump and never /proc/net/tcp text.
 *
 * The request is SOCK_DIAG_BY_FAMILY with struct inet_diag_req_v2 and no
 * NLM_F_DUMP (linux/inet_diag.h; sock_diag(7)): the kernel answers with the
 * one socket (inet_diag_find_one_icsk for TCP, udp_dump_one for UDP) or
 * ENOENT. The cookie must be INET_DIAG_NOCOOKIE. The reply is parsed by
 * libnl-idiag (idiagnl_msg_parse), not by an overlay here.
 *
 * UDP: udp_dump_one looks the socket up as if a packet came from the id's
 * "src" to its "dst" (the kernel's own comment says they are swapped), so
 * for UDP the local end goes in dst; both orders are tried and the answer
 * must have the client's port as its local port.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netlink/errno.h>
#include <netlink/idiag/idiagnl.h>
#include <netlink/idiag/msg.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "callerid/attrib_int.h"

struct cid_sockdiag {
	struct nl_sock *sk;
};

struct reply {
	bool found;
	uint16_t want_local_port;
	struct cid_sock s;
};

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct reply *r = arg;
	struct idiagnl_msg *m = NULL;
	if (idiagnl_msg_parse(nlmsg_hdr(msg), &m) < 0 || !m)
		return NL_SKIP;
	/* libnl keeps the ports as the kernel sent them: network order */
	if (ntohs(idiagnl_msg_get_sport(m)) == r->want_local_port && !r->found) {
		r->found = true;
		r->s.inode = idiagnl_msg_get_inode(m);
		r->s.uid = idiagnl_msg_get_uid(m);
		r->s.state = idiagnl_msg_get_state(m);
	}
	idiagnl_msg_put(m);
	return NL_STOP; /* one answer per exact-id request */
}

struct cid_sockdiag *cid_sockdiag_new(char *err, size_t err_len)
{
	struct cid_sockdiag *sd = calloc(1, sizeof(*sd));
	struct timeval tv = {0, 500000};
	int r;
	if (!sd) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	sd->sk = nl_socket_alloc();
	if (!sd->sk) {
		snprintf(err, err_len, "sock_diag: no netlink socket");
		free(sd);
		return NULL;
	}
	r = idiagnl_connect(sd->sk);
	if (r < 0) {
		snprintf(err, err_len, "sock_diag: %s", nl_geterror(r));
		cid_sockdiag_free(sd);
		return NULL;
	}
	/* one answer per request: no ACK to drain; a kernel that never answers
	 * must not stall the capture */
	nl_socket_disable_auto_ack(sd->sk);
	(void)setsockopt(nl_socket_get_fd(sd->sk), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return sd;
}

void cid_sockdiag_free(struct cid_sockdiag *sd)
{
	if (!sd)
		return;
	nl_socket_free(sd->sk);
	free(sd);
}

static void put_addr(uint32_t dst[4], const struct cid_addr *a)
{
	memset(dst, 0, 16);
	memcpy(dst, a->b, a->family == 6 ? 16 : 4);
}

/* One exact-id request. 1 found, 0 not, -1 failure. */
static int query(struct cid_sockdiag *sd, struct cid_sock *out, uint8_t proto, const struct cid_addr *src,
		 uint16_t sport, const struct cid_addr *dst, uint16_t dport, uint16_t local_port)
{
	struct inet_diag_req_v2 req;
	struct nl_msg *msg;
	struct reply r;
	int rc;
	memset(&req, 0, sizeof(req));
	memset(&r, 0, sizeof(r));
	req.sdiag_family = src->family == 6 ? AF_INET6 : AF_INET;
	req.sdiag_protocol = proto;
	req.idiag_states = ~0u;
	req.id.idiag_sport = htons(sport);
	req.id.idiag_dport = htons(dport);
	put_addr(req.id.idiag_src, src);
	put_addr(req.id.idiag_dst, dst);
	req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	msg = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST);
	if (!msg)
		return -1;
	if (nlmsg_append(msg, &req, sizeof(req), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return -1;
	}
	rc = nl_send_auto(sd->sk, msg);
	nlmsg_free(msg);
	if (rc < 0)
		return -1;
	r.want_local_port = local_port;
	nl_socket_modify_cb(sd->sk, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &r);
	rc = nl_recvmsgs_default(sd->sk);
	if (rc < 0 && rc != -NLE_OBJ_NOTFOUND && rc != -NLE_NOADDR && rc != -NLE_INVAL)
		return -1;
	if (!r.found)
		return 0;
	*out = r.s;
	return 1;
}

int cid_sockdiag_find(struct cid_sockdiag *sd, struct cid_sock *out, uint8_t proto, const struct cid_addr *cli,
		      uint16_t cport, const struct cid_addr *srv, uint16_t sport)
{
	int r;
	if (proto != 6 && proto != 17)
		return 0;
	r = query(sd, out, proto, cli, cport, srv, sport, cport);
	if (r != 0 || proto != 17)
		return r;
	/* UDP: the local end as the id's destination (see the top) */
	return query(sd, out, proto, srv, sport, cli, cport, cport);
}
