/*
 * evidence.h - writers for the IMDS/HTTP and DNS evidence tables (`http`,
 * `dns`: DESIGN.md storage contract, schema version 3 columns in
 * src/store/schema.c), through the store's connection and write batches.
 *
 * Wire strings (method, path, Host, User-Agent, role, DNS names) are bound
 * raw with their length and escaped only on output. No HTTP body ever
 * reaches these writers: struct cid_http_rec has no place for one.
 *
 * dns.answers is JSON text: an array in answer-section order of
 *   {"name":N,"type":"A"|"AAAA"|"CNAME","ttl":T,"data":D,"chain":B}
 * where data is the address (inet_ntop text) or the CNAME target, chain is
 * true when the record is reached from the question name through CNAMEs,
 * and name bytes that are not UTF-8 are written as \u00NN of the byte.
 * "[]" for a response without such answers; NULL for a query or a message
 * that did not parse.
 */
#ifndef CID_EVIDENCE_H
#define CID_EVIDENCE_H

#include "callerid/common.h"
#include "callerid/dns.h"
#include "callerid/http.h"
#include "callerid/output.h"
#include "callerid/store.h"

struct cid_evidence; /* prepared statements over a store */

/* A writer over an open, writable store (which must outlive it). NULL on
 * failure with the reason in err. */
struct cid_evidence *cid_evidence_new(struct cid_store *s, char *err, size_t err_len);
/* Finalizes the statements (does not close or flush the store). NULL-safe. */
void cid_evidence_free(struct cid_evidence *e);

/* Writes one http row for a record of cid_http_conn_next, inside the
 * store's current batch (begun if needed, counted with
 * cid_store_row_done). flow_id: the flow's row id, 0 for NULL. Times
 * become microseconds. 0, -CID_EDB (the reason is then
 * sqlite3_errmsg(cid_store_db(s))) or -CID_ENOMEM (a value could not be
 * bound; nothing was written). */
int cid_evidence_put_http(struct cid_evidence *e, int64_t flow_id, const struct cid_http_rec *r);

/* Where and when a DNS message was seen. client = the side that asked
 * (the stub resolver's address and port), server = the side at port 53. */
struct cid_dns_seen {
	int64_t ts_ns;
	int64_t flow_id;         /* 0 for NULL */
	uint8_t proto;           /* 17 UDP, 6 TCP */
	struct cid_addr client, server;
	uint16_t client_port, server_port;
};

/* Writes one dns row. st/reason are what cid_dns_parse returned: on OK, m
 * fills the row; otherwise the row keeps the place and time with
 * parse_error "<status>: <reason>" and whatever header m holds when st is
 * not OK is ignored (m may then be NULL). 0, -CID_EDB or -CID_ENOMEM, as
 * cid_evidence_put_http. */
int cid_evidence_put_dns(struct cid_evidence *e, const struct cid_dns_seen *w, const struct cid_dns_msg *m,
			 enum cid_status st, const char *reason);

/* One dns row's values made from a raw message, so that writing it is
 * binds only: the flow queue makes them on the reader's thread, which
 * has CPU to spare, while its writer thread is the bottleneck. text holds
 * the question name then the answers JSON, or the parse error. */
#define CID_DNS_ROW_CAP (64u * 1024u) /* b's max: 32 answers of two 253-byte names fit */
struct cid_dns_row {
	int64_t ts_ns;
	char *text;                  /* owned by cid_dns_row_make's rows */
	uint32_t qname_len, answers_len, why_len;
	bool ok;                     /* parsed; otherwise text is the error */
	bool have_question, qr;
	bool answers_null;           /* over the answers cap: NULL */
	uint16_t qtype, rcode, id, flags;
};

/* Parses d (scratch and b are the caller's working space) into r, whose
 * text is then r's own. 0 or -CID_ENOMEM (nothing to free then). */
int cid_dns_row_make(struct cid_dns_row *r, struct cid_dns_msg *scratch, struct cid_buf *b,
		     const struct cid_dns_raw *d);
void cid_dns_row_free(struct cid_dns_row *r);
/* Writes a row made by cid_dns_row_make; returns as cid_evidence_put_dns. */
int cid_evidence_put_dns_row(struct cid_evidence *e, const struct cid_dns_seen *w, const struct cid_dns_row *r);
/* Parses d (in scratch) and writes its row. */
int cid_evidence_put_dns_raw(struct cid_evidence *e, const struct cid_dns_seen *w, struct cid_dns_msg *scratch,
			     const struct cid_dns_raw *d);

/* Appends the answers JSON described above to b (used by the dns writer;
 * exposed for tests and output). */
void cid_evidence_dns_answers_json(struct cid_buf *b, const struct cid_dns_msg *m);

#endif /* CID_EVIDENCE_H */
