/*
 * tlsline.h - the one-line-per-TLS-flow output of `read` and `capture`:
 * text like tcpdump's packet lines, or JSON lines / CSV rows.
 */
#ifndef CID_TLSLINE_H
#define CID_TLSLINE_H

#include <stdio.h>

#include "callerid/flow.h"
#include "callerid/output.h"

struct tlsline;
/* NULL when out of memory. */
struct tlsline *cid_tlsline_new(FILE *out, enum cid_fmt fmt);
void cid_tlsline_print(struct tlsline *l, const struct cid_flow *f);
void cid_tlsline_free(struct tlsline *l);
/* Lines not printed, or printed without their JA3/JA4, because memory ran
 * out: the caller reports them. */
uint64_t cid_tlsline_lost(const struct tlsline *l);

/* "ip:port" or "[ip6]:port". */
char *cid_endpoint_str(const struct cid_addr *a, uint16_t port, char *buf, size_t buf_len);

#endif
