/* net.c - address/prefix matching for endpoint filters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/common.h"

bool cid_net_parse(struct cid_net *n, const char *s)
{
	char host[CID_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long pl;
	char *end;
	if (hl == 0 || hl > CID_ADDRSTRLEN)
		return false;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(n, 0, sizeof(*n));
	if (!cid_addr_parse(&n->addr, host))
		return false;
	n->prefix = n->addr.family == 4 ? 32 : 128;
	if (slash) {
		if (!slash[1])
			return false;
		pl = strtoul(slash + 1, &end, 10);
		if (*end || pl > n->prefix)
			return false;
		n->prefix = (uint8_t)pl;
	}
	/* clear host bits so matching is a masked compare */
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = n->prefix > i * 8 ? n->prefix - i * 8 : 0;
		if (bits < 8)
			n->addr.b[i] &= (uint8_t)(0xff00u >> bits);
	}
	return true;
}

bool cid_net_match(const struct cid_net *n, const struct cid_addr *a)
{
	unsigned full, rem;
	if (n->addr.family != a->family)
		return false;
	full = n->prefix / 8u;
	rem = n->prefix % 8u;
	if (memcmp(n->addr.b, a->b, full))
		return false;
	if (rem && ((n->addr.b[full] ^ a->b[full]) & (uint8_t)(0xff00u >> rem)))
		return false;
	return true;
}
