/*
 * filter.c - what `callerid capture` captures: endpoints (IPs, CIDRs,
 * hostnames) turned into a BPF expression with IMDS and the user's -f, and
 * the IMDS request-line reader (live.h).
 */
#include <netdb.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "callerid/live.h"

#define IMDS_MAX_METHOD 16u

static bool add_net(struct cid_net *nets, size_t *num_nets, size_t max, const struct cid_net *n)
{
	for (size_t i = 0; i < *num_nets; i++)
		if (nets[i].prefix == n->prefix && !memcmp(&nets[i].addr, &n->addr, sizeof(n->addr)))
			return true;  /* already there: a name listed twice, or A and AAAA overlap */
	if (*num_nets >= max)
		return false;
	nets[(*num_nets)++] = *n;
	return true;
}

int cid_filter_resolve(struct cid_net *nets, size_t *num_nets, size_t max, const char *endpoint, char *err,
		       size_t err_len)
{
	struct addrinfo hints, *res = NULL;
	struct cid_net n;
	size_t found = 0;
	int rc;
	if (!endpoint || !*endpoint) {
		snprintf(err, err_len, "empty endpoint");
		return -CID_EINVAL;
	}
	if (cid_net_parse(&n, endpoint)) {
		if (!add_net(nets, num_nets, max, &n))
			goto full;
		return 0;
	}
	/* A CIDR that did not parse is a typo, not a name. */
	if (strchr(endpoint, '/')) {
		snprintf(err, err_len, "bad endpoint '%s' (IP, CIDR or hostname)", endpoint);
		return -CID_EINVAL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(endpoint, NULL, &hints, &res);
	if (rc != 0) {
		snprintf(err, err_len, "cannot resolve endpoint '%s': %s", endpoint, gai_strerror(rc));
		return -CID_EINVAL;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		memset(&n, 0, sizeof(n));
		if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ai->ai_addr;
			n.addr.family = 4;
			memcpy(n.addr.b, &sin->sin_addr, 4);
			n.prefix = 32;
		} else if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
			const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)ai->ai_addr;
			n.addr.family = 6;
			memcpy(n.addr.b, &sin6->sin6_addr, 16);
			n.prefix = 128;
		} else {
			continue;
		}
		if (!add_net(nets, num_nets, max, &n)) {
			freeaddrinfo(res);
			goto full;
		}
		found++;
	}
	freeaddrinfo(res);
	if (!found) {
		snprintf(err, err_len, "endpoint '%s' has no IPv4 or IPv6 address", endpoint);
		return -CID_EINVAL;
	}
	return 0;
full:
	snprintf(err, err_len, "too many endpoint addresses (at most %zu)", max);
	return -CID_EINVAL;
}

/* Appends to out; false when it does not fit. */
static bool app(char *out, size_t out_len, size_t *len, const char *s)
{
	size_t n = strlen(s);
	if (*len + n + 1 > out_len)
		return false;
	memcpy(out + *len, s, n + 1);
	*len += n;
	return true;
}

static void net_text(const struct cid_net *n, char *buf, size_t buf_len)
{
	struct cid_addr a = n->addr;
	unsigned full = a.family == 4 ? 32u : 128u;
	unsigned prefix = n->prefix > full ? full : n->prefix;
	char ip[CID_ADDRSTRLEN];
	/* libpcap rejects "net" with host bits set: clear them. */
	for (unsigned bit = prefix; bit < full; bit++)
		a.b[bit / 8] = (uint8_t)(a.b[bit / 8] & ~(0x80u >> (bit % 8)));
	cid_addr_str(&a, ip, sizeof(ip));
	if (prefix == full)
		snprintf(buf, buf_len, "host %s", ip);
	else
		snprintf(buf, buf_len, "net %s/%u", ip, prefix);
}

bool cid_filter_build(char *out, size_t out_len, const struct cid_net *nets, size_t num_nets, bool imds,
		      const char *user_expr)
{
	return cid_filter_build_ex(out, out_len, nets, num_nets, imds, false, user_expr);
}

bool cid_filter_build_ex(char *out, size_t out_len, const struct cid_net *nets, size_t num_nets, bool imds,
			 bool dns, const char *user_expr)
{
	size_t len = 0;
	bool ok = true;
	char t[CID_ADDRSTRLEN + 16];
	if (!out_len)
		return false;
	out[0] = '\0';
	if (num_nets) {
		ok &= app(out, out_len, &len, "(");
		for (size_t i = 0; i < num_nets && ok; i++) {
			net_text(&nets[i], t, sizeof(t));
			if (i)
				ok &= app(out, out_len, &len, " or ");
			ok &= app(out, out_len, &len, t);
		}
		if (imds)
			ok &= app(out, out_len, &len, " or " CID_IMDS_FILTER);
		/* DNS over UDP and TCP (RFC 1035 section 4.2) */
		if (dns)
			ok &= app(out, out_len, &len, " or port 53");
		ok &= app(out, out_len, &len, ")");
	}
	if (user_expr && *user_expr) {
		if (len)
			ok &= app(out, out_len, &len, " and (");
		else
			ok &= app(out, out_len, &len, "(");
		ok &= app(out, out_len, &len, user_expr);
		ok &= app(out, out_len, &len, ")");
	}
	if (!ok)
		out[0] = '\0';
	return ok;
}

bool cid_filter_check(const char *expr, int dlt, int snaplen, char *err, size_t err_len)
{
	struct bpf_program prog;
	pcap_t *dead = pcap_open_dead(dlt, snaplen);
	bool ok;
	if (!dead) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	ok = pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0;
	if (ok)
		pcap_freecode(&prog);
	else
		snprintf(err, err_len, "%s", pcap_geterr(dead));
	pcap_close(dead);
	return ok;
}
