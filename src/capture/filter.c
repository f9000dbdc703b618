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

#include "callerid/cursor.h"
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
			ok &= app(out, out_len, &len, " or (host " CID_IMDS_ADDR " and tcp port 80)");
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

/* ---- IMDS request heads --------------------------------------------------- */

/* Takes one CRLF-terminated line (without the CRLF) off c. false when no
 * CRLF is in c (the head is cut short). */
static bool take_line(struct cid_cur *c, struct cid_cur *line)
{
	uint8_t a, b;
	for (size_t i = 0; cid_cur_peek_u8(c, i, &a); i++) {
		if (a != '\r')
			continue;
		if (!cid_cur_peek_u8(c, i + 1, &b))
			return false;
		if (b != '\n')
			continue;
		if (!cid_cur_sub(c, line, i) || !cid_cur_skip(c, 2))
			return false;
		return true;
	}
	return false;
}

/* Takes bytes up to the next space (not included; the space is consumed). */
static bool take_word(struct cid_cur *c, struct cid_cur *w)
{
	uint8_t a;
	for (size_t i = 0; cid_cur_peek_u8(c, i, &a); i++)
		if (a == ' ')
			return cid_cur_sub(c, w, i) && cid_cur_skip(c, 1);
	return false;
}

static bool ieq(const struct cid_cur *c, const char *s)
{
	size_t n = strlen(s);
	uint8_t a;
	if (cid_cur_len(c) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		(void)cid_cur_peek_u8(c, i, &a);
		if (a >= 'A' && a <= 'Z')
			a = (uint8_t)(a + 32);
		if (a != (uint8_t)s[i])
			return false;
	}
	return true;
}

/* Strips optional whitespace around a field value (RFC 9112 section 5.1). */
static void trim_ows(struct cid_cur *v)
{
	uint8_t a;
	while (cid_cur_peek_u8(v, 0, &a) && (a == ' ' || a == '\t'))
		(void)cid_cur_skip(v, 1);
	while (cid_cur_len(v) && cid_cur_peek_u8(v, cid_cur_len(v) - 1, &a) && (a == ' ' || a == '\t'))
		v->len--;
}

/* Could this be the start of a request line? Lets a partial head be told
 * apart from non-HTTP bytes (MALFORMED) before the CRLF arrives. */
static bool method_prefix_ok(const struct cid_cur *c)
{
	uint8_t a;
	size_t i;
	for (i = 0; cid_cur_peek_u8(c, i, &a); i++) {
		if (a == ' ')
			return i > 0;
		if (a < 'A' || a > 'Z' || i >= IMDS_MAX_METHOD)
			return false;
	}
	return true;
}

enum cid_status cid_imds_parse(struct cid_imds_req *r, const uint8_t *p, size_t p_len)
{
	struct cid_cur c, line, method, path, ver;
	const uint8_t *vp;
	uint8_t minor;
	memset(r, 0, sizeof(*r));
	cid_cur_init(&c, p, p_len);
	if (!method_prefix_ok(&c))
		return CID_MALFORMED;
	if (!take_line(&c, &line))
		return CID_TRUNCATED;
	/* RFC 9112 3: method SP request-target SP HTTP-version */
	if (!take_word(&line, &method) || !take_word(&line, &path) || !cid_cur_len(&method) ||
	    !cid_cur_len(&path))
		return CID_MALFORMED;
	ver = line;
	if (cid_cur_len(&ver) != 8 || !cid_cur_peek_u8(&ver, 7, &minor) || minor < '0' || minor > '9' ||
	    !cid_cur_bytes(&ver, &vp, 7) || memcmp(vp, "HTTP/1.", 7))
		return CID_MALFORMED;
	r->method = (const char *)cid_cur_data(&method);
	r->method_len = cid_cur_len(&method);
	r->path = (const char *)cid_cur_data(&path);
	r->path_len = cid_cur_len(&path);
	/* RFC 9112 5: field-name ":" OWS field-value OWS, until an empty line. */
	for (;;) {
		struct cid_cur name, val;
		uint8_t a;
		size_t colon = 0;
		if (!take_line(&c, &line))
			return CID_TRUNCATED;
		if (!cid_cur_len(&line))
			return CID_OK;
		while (cid_cur_peek_u8(&line, colon, &a) && a != ':')
			colon++;
		if (colon == 0 || colon >= cid_cur_len(&line))
			return CID_MALFORMED;
		if (!cid_cur_sub(&line, &name, colon) || !cid_cur_skip(&line, 1))
			return CID_MALFORMED;
		val = line;
		trim_ows(&val);
		if (ieq(&name, "host")) {
			r->host = (const char *)cid_cur_data(&val);
			r->host_len = cid_cur_len(&val);
		} else if (ieq(&name, "user-agent")) {
			r->ua = (const char *)cid_cur_data(&val);
			r->ua_len = cid_cur_len(&val);
		} else if (ieq(&name, "x-aws-ec2-metadata-token")) {
			r->token = true;
		} else if (ieq(&name, "x-aws-ec2-metadata-token-ttl-seconds")) {
			r->token_ttl = true;
		}
	}
}
