/*
 * natlink.c - NAT links inside one capture (see natlink.h for the rules).
 *
 * With `tcpdump -i any` on a node, a pod's connection is recorded twice:
 * on the pod's veth with the pod address and on the uplink with the node
 * address after masquerade (SNAT). The two flows share the server address
 * and port, the TLS ClientHello random and, unless the NAT randomises it,
 * the TCP initial sequence number. The flows of a capture are read sorted
 * by each key (SQLite sorts; no index needed, no quadratic join) and every
 * group of flows sharing the key is examined pairwise, with a cap on the
 * group size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/natlink.h"

struct nl_flow {
	int64_t id, cap, first_us, proto, port, syn_seq;
	bool has_syn;
	char client[CID_ADDRSTRLEN + 1];
	char server[CID_ADDRSTRLEN + 1];
	char random[65]; /* hex; "" when no ClientHello */
};

enum method { M_RANDOM, M_ISN };
static const char *const method_name[] = {"client_random", "tcp_isn"};

/* Columns of both queries: 0 id, 1 capture, 2 first_us, 3 proto, 4 client,
 * 5 server, 6 server port, 7 syn_seq, 8 client random. */
#define SEL_COLS                                                                                  \
	"SELECT f.id, f.capture_id, f.first_us, f.proto, f.client_ip, f.server_ip, f.server_port," \
	" f.syn_seq, t.client_random FROM flow f "

static const char *const query[] = {
	/* (a) a 32-byte random, not all zeros (an unset field, never a real
	 * hello: RFC 8446 section 4.1.2) */
	[M_RANDOM] = SEL_COLS "JOIN tls t ON t.flow_id = f.id WHERE (?1 = 0 OR f.capture_id = ?1)"
			      " AND length(t.client_random) = 64 AND t.client_random GLOB '*[^0]*'"
			      /* only a random seen on two flows can pair: the rest are
			       * never read or sorted (an index scan finds them) */
			      " AND t.client_random IN (SELECT client_random FROM tls"
			      " GROUP BY client_random HAVING count(*) > 1)"
			      " ORDER BY f.capture_id, t.client_random, f.proto, f.server_ip,"
			      " f.server_port, f.first_us, f.id",
	/* (b) flows that began with a SYN (syn_seq is NULL otherwise) */
	[M_ISN] = SEL_COLS "LEFT JOIN tls t ON t.flow_id = f.id WHERE (?1 = 0 OR f.capture_id = ?1)"
			   " AND f.syn_seq IS NOT NULL"
			   /* likewise a SYN sequence number seen on two flows */
			   " AND f.syn_seq IN (SELECT syn_seq FROM flow WHERE syn_seq IS NOT NULL"
			   " GROUP BY syn_seq HAVING count(*) > 1)"
			   " ORDER BY f.capture_id, f.proto, f.server_ip,"
			   " f.server_port, f.syn_seq, f.first_us, f.id",
};

struct nl_ctx {
	struct cid_store *s;
	sqlite3 *db;
	sqlite3_stmt *exists, *ins, *count;
	int inserted;
	bool failed;
	struct nl_flow group[CID_NATLINK_MAX_GROUP];
	size_t num_group;
	bool overflow;
};

static void read_row(struct nl_flow *f, sqlite3_stmt *q)
{
	const char *t;
	memset(f, 0, sizeof(*f));
	f->id = sqlite3_column_int64(q, 0);
	f->cap = sqlite3_column_int64(q, 1);
	f->first_us = sqlite3_column_int64(q, 2);
	f->proto = sqlite3_column_int64(q, 3);
	t = (const char *)sqlite3_column_text(q, 4);
	snprintf(f->client, sizeof(f->client), "%s", t ? t : "");
	t = (const char *)sqlite3_column_text(q, 5);
	snprintf(f->server, sizeof(f->server), "%s", t ? t : "");
	f->port = sqlite3_column_int64(q, 6);
	f->has_syn = sqlite3_column_type(q, 7) != SQLITE_NULL;
	f->syn_seq = sqlite3_column_int64(q, 7);
	t = (const char *)sqlite3_column_text(q, 8);
	if (t && strlen(t) == 64)
		memcpy(f->random, t, 65);
}

/* Same group: the key the query sorted on. */
static bool same_key(enum method m, const struct nl_flow *a, const struct nl_flow *b)
{
	if (a->cap != b->cap || a->proto != b->proto || a->port != b->port || strcmp(a->server, b->server))
		return false;
	if (m == M_RANDOM)
		return !strcmp(a->random, b->random);
	return a->has_syn && b->has_syn && a->syn_seq == b->syn_seq;
}

/* How many flows of the capture have this client address. */
static int64_t client_count(struct nl_ctx *c, const struct nl_flow *f)
{
	int64_t n = 0;
	sqlite3_bind_int64(c->count, 1, f->cap);
	sqlite3_bind_text(c->count, 2, f->client, -1, SQLITE_STATIC);
	if (sqlite3_step(c->count) == SQLITE_ROW)
		n = sqlite3_column_int64(c->count, 0);
	sqlite3_reset(c->count);
	return n;
}

/* true when a is the inner (veth, pre-NAT) flow of the pair. */
static bool is_inner(struct nl_ctx *c, const struct nl_flow *a, const struct nl_flow *b)
{
	int64_t na, nb;
	if (a->first_us != b->first_us)
		return a->first_us < b->first_us;
	na = client_count(c, a);
	nb = client_count(c, b);
	if (na != nb)
		return na < nb;
	return a->id < b->id;
}

static void link_pair(struct nl_ctx *c, enum method m, const struct nl_flow *a, const struct nl_flow *b)
{
	const struct nl_flow *in, *out;
	int rc;
	sqlite3_bind_int64(c->exists, 1, a->id);
	sqlite3_bind_int64(c->exists, 2, b->id);
	rc = sqlite3_step(c->exists);
	sqlite3_reset(c->exists);
	if (rc == SQLITE_ROW)
		return; /* already linked, by this run or another method */
	if (rc != SQLITE_DONE) {
		c->failed = true;
		return;
	}
	in = is_inner(c, a, b) ? a : b;
	out = in == a ? b : a;
	sqlite3_bind_int64(c->ins, 1, in->id);
	sqlite3_bind_int64(c->ins, 2, out->id);
	sqlite3_bind_text(c->ins, 3, method_name[m], -1, SQLITE_STATIC);
	rc = sqlite3_step(c->ins);
	sqlite3_reset(c->ins);
	if (rc != SQLITE_DONE || cid_store_row_done(c->s) < 0) {
		c->failed = true;
		return;
	}
	c->inserted++;
}

/* Every pair of the group that passes the method's checks. */
static void flush_group(struct nl_ctx *c, enum method m)
{
	if (!c->overflow) {
		for (size_t i = 0; i < c->num_group && !c->failed; i++) {
			for (size_t j = i + 1; j < c->num_group && !c->failed; j++) {
				const struct nl_flow *a = &c->group[i], *b = &c->group[j];
				int64_t dt = a->first_us - b->first_us;
				if (!a->server[0] || !a->client[0] || !b->client[0] ||
				    !strcmp(a->client, b->client))
					continue; /* the same side twice is not a NAT */
				if (m == M_ISN) {
					if (dt > CID_NATLINK_ISN_WINDOW_US || dt < -CID_NATLINK_ISN_WINDOW_US)
						continue; /* an ISN reused later is another connection */
					if (a->random[0] && b->random[0] && strcmp(a->random, b->random))
						continue; /* two different hellos: two connections */
				}
				link_pair(c, m, a, b);
			}
		}
	}
	c->num_group = 0;
	c->overflow = false;
}

static int run_method(struct nl_ctx *c, enum method m, int64_t capture_id)
{
	sqlite3_stmt *q = NULL;
	struct nl_flow f;
	int rc = SQLITE_DONE;
	if (sqlite3_prepare_v2(c->db, query[m], -1, &q, NULL) != SQLITE_OK)
		return -CID_EDB;
	sqlite3_bind_int64(q, 1, capture_id);
	c->num_group = 0;
	c->overflow = false;
	while (!c->failed && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		read_row(&f, q);
		if (c->num_group && !same_key(m, &c->group[0], &f))
			flush_group(c, m);
		if (c->num_group == CID_NATLINK_MAX_GROUP)
			c->overflow = true; /* bounded work on hostile input */
		else
			c->group[c->num_group++] = f;
	}
	if (!c->failed && rc != SQLITE_DONE)
		c->failed = true;
	if (!c->failed)
		flush_group(c, m);
	sqlite3_finalize(q);
	return c->failed ? -CID_EDB : 0;
}

int cid_natlink_build(struct cid_store *s, int64_t capture_id)
{
	struct nl_ctx *c = calloc(1, sizeof(*c));
	int rc = -CID_EDB;
	if (!c)
		return -CID_ENOMEM;
	c->s = s;
	c->db = cid_store_db(s);
	if (cid_store_begin(s) < 0)
		goto out;
	if (sqlite3_prepare_v2(c->db,
			       "SELECT 1 FROM nat_link WHERE (inner_flow_id = ?1 AND outer_flow_id = ?2)"
			       " OR (inner_flow_id = ?2 AND outer_flow_id = ?1)",
			       -1, &c->exists, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db, "INSERT INTO nat_link(inner_flow_id, outer_flow_id, method) VALUES(?1, ?2, ?3)",
			       -1, &c->ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db, "SELECT count(*) FROM flow WHERE capture_id = ?1 AND client_ip = ?2", -1,
			       &c->count, NULL) != SQLITE_OK)
		goto out;
	if (run_method(c, M_RANDOM, capture_id) < 0 || run_method(c, M_ISN, capture_id) < 0)
		goto out;
	if (cid_store_flush(s) < 0)
		goto out;
	rc = c->inserted;
out:
	sqlite3_finalize(c->exists);
	sqlite3_finalize(c->ins);
	sqlite3_finalize(c->count);
	free(c);
	return rc;
}
