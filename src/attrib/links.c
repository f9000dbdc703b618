/*
 * links.c - the rtnetlink adapter (libnl-route): the capture namespace's
 * interfaces (index -> name, veth or not) and addresses, kept current by a
 * libnl cache manager that applies RTM_NEWLINK/NEWADDR/DEL* notifications
 * as they come (polled without blocking before each lookup), and a one-off
 * address dump for other namespaces.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/socket.h>

#include "callerid/attrib_int.h"

struct cid_links {
	struct nl_cache_mngr *mngr;
	struct nl_cache *links, *addrs;
	bool dirty;
	struct cid_addr local[CID_ATTRIB_MAX_LOCAL];
	size_t num_local;
	char name[64];
};

static void on_change(struct nl_cache *cache, struct nl_object *obj, int action, void *arg)
{
	struct cid_links *l = arg;
	(void)cache;
	(void)obj;
	(void)action;
	l->dirty = true;
}

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

/* Copies a cache of rtnl_addr into a flat array (lookups scan it). */
static size_t flatten(struct nl_cache *c, struct cid_addr *out, size_t max)
{
	size_t n = 0;
	for (struct nl_object *o = nl_cache_get_first(c); o && n < max; o = nl_cache_get_next(o))
		if (from_nl(&out[n], rtnl_addr_get_local((struct rtnl_addr *)o)))
			n++;
	return n;
}

struct cid_links *cid_links_new(char *err, size_t err_len)
{
	struct cid_links *l = calloc(1, sizeof(*l));
	int r;
	if (!l) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	r = nl_cache_mngr_alloc(NULL, NETLINK_ROUTE, NL_AUTO_PROVIDE, &l->mngr);
	if (r >= 0)
		r = nl_cache_mngr_add(l->mngr, "route/link", on_change, l, &l->links);
	if (r >= 0)
		r = nl_cache_mngr_add(l->mngr, "route/addr", on_change, l, &l->addrs);
	if (r < 0) {
		snprintf(err, err_len, "rtnetlink: %s", nl_geterror(r));
		cid_links_free(l);
		return NULL;
	}
	l->num_local = flatten(l->addrs, l->local, CID_ATTRIB_MAX_LOCAL);
	return l;
}

void cid_links_free(struct cid_links *l)
{
	if (!l)
		return;
	if (l->mngr)
		nl_cache_mngr_free(l->mngr);
	free(l);
}

int cid_links_poll(struct cid_links *l)
{
	/* the manager's socket is non-blocking: this returns at once */
	(void)nl_cache_mngr_poll(l->mngr, 0);
	if (!l->dirty)
		return 0;
	l->dirty = false;
	l->num_local = flatten(l->addrs, l->local, CID_ATTRIB_MAX_LOCAL);
	return 1;
}

bool cid_links_is_local(struct cid_links *l, const struct cid_addr *a)
{
	for (size_t i = 0; i < l->num_local; i++)
		if (!memcmp(&l->local[i], a, sizeof(*a)))
			return true;
	return false;
}

const char *cid_links_name(struct cid_links *l, uint32_t ifindex, bool *is_veth)
{
	struct rtnl_link *k = rtnl_link_get(l->links, (int)ifindex);
	*is_veth = false;
	l->name[0] = '\0';
	if (!k)
		return l->name;
	snprintf(l->name, sizeof(l->name), "%s", rtnl_link_get_name(k) ? rtnl_link_get_name(k) : "");
	*is_veth = rtnl_link_is_veth(k) != 0;
	rtnl_link_put(k);
	return l->name;
}

int cid_links_dump_addrs(struct cid_addr *out, size_t max)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *c = NULL;
	int n = -1;
	if (!sk)
		return -1;
	if (nl_connect(sk, NETLINK_ROUTE) >= 0 && rtnl_addr_alloc_cache(sk, &c) >= 0) {
		n = (int)flatten(c, out, max);
		nl_cache_free(c);
	}
	nl_socket_free(sk);
	return n;
}
