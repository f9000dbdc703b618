/*
 * tls.c - TLS record walking and ClientHello / ServerHello parsing; the
 * named curve of a TLS <= 1.2 ServerKeyExchange.
 *
 * Every byte here comes off the wire: it is read only through the cursor,
 * every length-prefixed vector becomes a child cursor, and every structure
 * ends with a "fully consumed" check. Lists that grow on input are capped
 * (CID_TLS_MAX_*); hitting a cap sets lists_truncated, never overruns.
 *
 * References: RFC 8446 (TLS 1.3) 4.1.2, 4.1.3, 4.2, 5.1; RFC 5246 (TLS 1.2)
 * 6.2, 7.1, 7.4.1.2, 7.4.1.3; RFC 6066 3 (server_name); RFC 7301 3.1 (ALPN);
 * 7.4.3 (ServerKeyExchange); RFC 8422 5.1 (supported_groups,
 * ec_point_formats), 5.4 (ServerECDHParams); RFC 5489 2 (ECDHE_PSK);
 * RFC 8701 (GREASE).
 */
#include <string.h>

#include "callerid/cursor.h"
#include "callerid/tls.h"

/* Record content types, RFC 8446 5.1 / RFC 6520 (heartbeat). */
#define CT_CHANGE_CIPHER_SPEC 20
#define CT_ALERT 21
#define CT_HANDSHAKE 22
#define CT_APPLICATION_DATA 23
#define CT_HEARTBEAT 24

#define RECORD_HDR_LEN 5u
#define HS_HDR_LEN 4u
/* RFC 5246 6.2.3: a TLSCiphertext fragment is at most 2^14 + 2048 bytes. */
#define RECORD_MAX_LEN (16384u + 2048u)

/* Extension code points (IANA TLS ExtensionType Values). */
#define EXT_SERVER_NAME 0x0000
#define EXT_SUPPORTED_GROUPS 0x000a
#define EXT_EC_POINT_FORMATS 0x000b
#define EXT_SIGNATURE_ALGORITHMS 0x000d
#define EXT_ALPN 0x0010
#define EXT_SUPPORTED_VERSIONS 0x002b
#define EXT_KEY_SHARE 0x0033
#define EXT_ECH 0xfe0d

/* Bits of the "already seen" mask: RFC 8446 4.2 forbids duplicate
 * extensions; when a hostile peer sends them anyway the first one wins. */
#define SEEN_SNI 0x01u
#define SEEN_GROUPS 0x02u
#define SEEN_POINTS 0x04u
#define SEEN_SIGALGS 0x08u
#define SEEN_ALPN 0x10u
#define SEEN_VERSIONS 0x20u
#define SEEN_KEY_SHARE 0x40u

/* RFC 8446 4.1.3: a ServerHello whose random is SHA-256("HelloRetryRequest")
 * is a HelloRetryRequest. */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

bool cid_tls_is_grease(uint16_t v)
{
	/* RFC 8701 2: 0x0a0a, 0x1a1a, ..., 0xfafa. */
	return (v & 0x0f0fu) == 0x0a0au && (v >> 8) == (v & 0xffu);
}

/* Appends v to a capped list; counts an overflow instead of overrunning. */
static void push_u16(uint16_t *list, uint16_t *num, unsigned cap, uint16_t v, bool *truncated)
{
	if (*num >= cap) {
		*truncated = true;
		return;
	}
	list[(*num)++] = v;
}

/* Reads a vector of uint16 values (a u16- or u8-length-prefixed body that
 * must fill the extension exactly and have an even length) into a list.
 * Validates before filling, so a malformed body leaves the list untouched. */
static void read_u16_vector(struct cid_tls_hello *h, const struct cid_cur *body, bool u8len,
			    uint16_t *list, uint16_t *num, unsigned cap)
{
	struct cid_cur c = *body, vec;
	bool ok = u8len ? cid_cur_sub_u8len(&c, &vec) : cid_cur_sub_u16len(&c, &vec);
	uint16_t v;

	if (!ok || cid_cur_len(&c) != 0 || cid_cur_len(&vec) % 2 != 0)
		return; /* malformed extension body: skipped */
	while (cid_cur_u16(&vec, &v))
		push_u16(list, num, cap, v, &h->lists_truncated);
}

/* Copies wire bytes into a NUL-terminated text buffer at *len. Stops at a
 * NUL byte (a C string cannot carry it) or at the cap; returns false when
 * anything was left out. */
static bool append_text(char *dst, size_t cap, uint16_t *len, struct cid_cur *src)
{
	uint8_t b;
	while (cid_cur_len(src) > 0) {
		if ((size_t)*len + 1 >= cap || !cid_cur_peek_u8(src, 0, &b) || b == 0) {
			dst[*len] = '\0';
			return false;
		}
		(void)cid_cur_skip(src, 1);
		dst[(*len)++] = (char)b;
	}
	dst[*len] = '\0';
	return true;
}

/* server_name, RFC 6066 3: ServerNameList <1..2^16-1> of {NameType,
 * HostName <1..2^16-1>}. The first host_name (type 0) is kept. */
static void parse_sni(struct cid_tls_hello *h, const struct cid_cur *body)
{
	struct cid_cur c = *body, list;

	if (!cid_cur_sub_u16len(&c, &list) || cid_cur_len(&c) != 0)
		return; /* list length disagrees with the extension length */
	while (cid_cur_len(&list) > 0) {
		uint8_t type;
		struct cid_cur name;
		if (!cid_cur_u8(&list, &type) || !cid_cur_sub_u16len(&list, &name))
			return; /* entry overruns the list: stop, keep what we have */
		if (type != 0 || h->has_sni)
			continue;
		h->has_sni = true;
		h->sni_len = 0;
		h->sni[0] = '\0';
		if (!append_text(h->sni, sizeof(h->sni), &h->sni_len, &name))
			h->sni_truncated = true; /* longer than the cap, or a NUL byte */
	}
}

/* ALPN, RFC 7301 3.1: ProtocolNameList <2..2^16-1> of ProtocolName
 * <1..2^8-1>. The whole list is validated first; the names are joined
 * with ',' (capped) and the first one is kept raw. */
static void parse_alpn(struct cid_tls_hello *h, const struct cid_cur *body)
{
	struct cid_cur c = *body, list, scan, name;
	uint16_t len = 0;
	bool full = false;

	if (!cid_cur_sub_u16len(&c, &list) || cid_cur_len(&c) != 0)
		return;
	scan = list;
	while (cid_cur_len(&scan) > 0)
		if (!cid_cur_sub_u8len(&scan, &name))
			return; /* a name overruns the list: skip the extension */
	h->has_alpn = true;
	h->alpn[0] = '\0';
	while (cid_cur_sub_u8len(&list, &name)) {
		if (h->num_alpn++ == 0) {
			struct cid_cur first = name;
			h->alpn_first_len = (uint8_t)cid_cur_len(&first);
			(void)cid_cur_copy(&first, h->alpn_first, h->alpn_first_len);
		} else if (!full) {
			struct cid_cur comma = {(const uint8_t *)",", 1};
			full = !append_text(h->alpn, sizeof(h->alpn), &len, &comma);
		}
		if (!full)
			full = !append_text(h->alpn, sizeof(h->alpn), &len, &name);
	}
	if (full)
		h->lists_truncated = true; /* joined text cut at the cap or at a NUL */
}

/* key_share in a ClientHello, RFC 8446 4.2.8: client_shares <0..2^16-1> of
 * KeyShareEntry {NamedGroup group; opaque key_exchange<1..2^16-1>}. */
static void parse_client_key_share(struct cid_tls_hello *h, const struct cid_cur *body)
{
	struct cid_cur c = *body, list, scan, key;
	uint16_t group;

	if (!cid_cur_sub_u16len(&c, &list) || cid_cur_len(&c) != 0)
		return;
	scan = list;
	while (cid_cur_len(&scan) > 0)
		if (!cid_cur_u16(&scan, &group) || !cid_cur_sub_u16len(&scan, &key))
			return; /* an entry overruns the list: skip the extension */
	while (cid_cur_u16(&list, &group) && cid_cur_sub_u16len(&list, &key))
		push_u16(h->key_share, &h->num_key_share, CID_TLS_MAX_SMALL, group,
			 &h->lists_truncated);
}

/* ec_point_formats, RFC 8422 5.1.2: ECPointFormatList <1..2^8-1>. */
static void parse_point_formats(struct cid_tls_hello *h, const struct cid_cur *body)
{
	struct cid_cur c = *body, list;
	uint8_t v;

	if (!cid_cur_sub_u8len(&c, &list) || cid_cur_len(&c) != 0)
		return;
	while (cid_cur_u8(&list, &v)) {
		if (h->num_point_formats >= CID_TLS_MAX_SMALL) {
			h->lists_truncated = true;
			break;
		}
		h->point_formats[h->num_point_formats++] = v;
	}
}

/* Returns true the first time bit is seen; later duplicates are ignored. */
static bool first_time(unsigned *seen, unsigned bit)
{
	if (*seen & bit)
		return false;
	*seen |= bit;
	return true;
}

static void client_extension(struct cid_tls_hello *h, unsigned *seen, uint16_t type,
			     const struct cid_cur *body)
{
	switch (type) {
	case EXT_SERVER_NAME:
		if (first_time(seen, SEEN_SNI))
			parse_sni(h, body);
		break;
	case EXT_SUPPORTED_GROUPS: /* RFC 8446 4.2.7: NamedGroupList <2..2^16-1> */
		if (first_time(seen, SEEN_GROUPS))
			read_u16_vector(h, body, false, h->groups, &h->num_groups, CID_TLS_MAX_GROUPS);
		break;
	case EXT_EC_POINT_FORMATS:
		if (first_time(seen, SEEN_POINTS))
			parse_point_formats(h, body);
		break;
	case EXT_SIGNATURE_ALGORITHMS: /* RFC 8446 4.2.3: <2..2^16-2> */
		if (first_time(seen, SEEN_SIGALGS))
			read_u16_vector(h, body, false, h->sig_algs, &h->num_sig_algs, CID_TLS_MAX_GROUPS);
		break;
	case EXT_ALPN:
		if (first_time(seen, SEEN_ALPN))
			parse_alpn(h, body);
		break;
	case EXT_SUPPORTED_VERSIONS: /* RFC 8446 4.2.1: versions <2..254> */
		if (first_time(seen, SEEN_VERSIONS))
			read_u16_vector(h, body, true, h->versions, &h->num_versions, CID_TLS_MAX_SMALL);
		break;
	case EXT_KEY_SHARE:
		if (first_time(seen, SEEN_KEY_SHARE))
			parse_client_key_share(h, body);
		break;
	case EXT_ECH: /* draft-ietf-tls-esni: outer ClientHello carries 0xfe0d */
		h->ech = true;
		break;
	default:
		break;
	}
}

static void server_extension(struct cid_tls_hello *h, unsigned *seen, uint16_t type,
			     const struct cid_cur *body)
{
	struct cid_cur c = *body, key;
	uint16_t v;

	switch (type) {
	case EXT_SUPPORTED_VERSIONS: /* RFC 8446 4.2.1: selected_version */
		if (first_time(seen, SEEN_VERSIONS) && cid_cur_u16(&c, &v) && cid_cur_len(&c) == 0) {
			h->versions[0] = v;
			h->num_versions = 1;
		}
		break;
	case EXT_KEY_SHARE:
		/* RFC 8446 4.2.8: HRR carries selected_group only; a ServerHello
		 * carries one KeyShareEntry. */
		if (!first_time(seen, SEEN_KEY_SHARE) || !cid_cur_u16(&c, &v))
			break;
		if (!h->hrr && !cid_cur_sub_u16len(&c, &key))
			break;
		if (cid_cur_len(&c) == 0) {
			h->key_share[0] = v;
			h->num_key_share = 1;
		}
		break;
	case EXT_ALPN: /* RFC 7301 3.1: exactly one name; we accept the list form */
		if (first_time(seen, SEEN_ALPN))
			parse_alpn(h, body);
		break;
	case EXT_EC_POINT_FORMATS: /* RFC 8422 5.2 */
		if (first_time(seen, SEEN_POINTS))
			parse_point_formats(h, body);
		break;
	case EXT_ECH: /* HRR ECH confirmation */
		h->ech = true;
		break;
	default:
		break;
	}
}

/* Walks the extensions block (RFC 8446 4.2: Extension extensions<..>).
 * The block itself must be consistent: each extension's length must fit. */
static enum cid_status parse_extensions(struct cid_tls_hello *h, struct cid_cur *exts, bool client)
{
	unsigned seen = 0;

	while (cid_cur_len(exts) > 0) {
		uint16_t type;
		struct cid_cur body;
		if (!cid_cur_u16(exts, &type) || !cid_cur_sub_u16len(exts, &body))
			return CID_MALFORMED; /* extension overruns the block */
		push_u16(h->exts, &h->num_exts, CID_TLS_MAX_EXTS, type, &h->lists_truncated);
		if (client)
			client_extension(h, &seen, type, &body);
		else
			server_extension(h, &seen, type, &body);
	}
	return CID_OK;
}

/* The optional extensions block that ends both hellos: absent entirely
 * (RFC 5246 7.4.1.2, pre-TLS-1.2 peers) or a u16 vector that ends the
 * message exactly. */
static enum cid_status parse_tail(struct cid_tls_hello *h, struct cid_cur *c, bool client)
{
	struct cid_cur exts;

	if (cid_cur_len(c) == 0)
		return CID_OK;
	if (!cid_cur_sub_u16len(c, &exts))
		return CID_MALFORMED; /* extensions length overruns the message */
	if (cid_cur_len(c) != 0)
		return CID_MALFORMED; /* trailing bytes after the extensions */
	return parse_extensions(h, &exts, client);
}

enum cid_status cid_tls_parse_client_hello(struct cid_tls_hello *h, const uint8_t *msg, size_t msg_len)
{
	struct cid_cur c, sid, suites, comp;
	uint16_t v;

	memset(h, 0, sizeof(*h));
	h->hs_type = CID_TLS_HS_CLIENT_HELLO;
	cid_cur_init(&c, msg, msg_len);

	/* RFC 8446 4.1.2: legacy_version, random[32], legacy_session_id<0..32> */
	if (!cid_cur_u16(&c, &h->legacy_version) || !cid_cur_copy(&c, h->random, sizeof(h->random)))
		return CID_MALFORMED;
	if (!cid_cur_sub_u8len(&c, &sid) || cid_cur_len(&sid) > sizeof(h->session_id))
		return CID_MALFORMED; /* session id longer than 32 bytes */
	h->session_id_len = (uint8_t)cid_cur_len(&sid);
	(void)cid_cur_copy(&sid, h->session_id, h->session_id_len);

	/* cipher_suites<2..2^16-2>: an even, non-empty list */
	if (!cid_cur_sub_u16len(&c, &suites) || cid_cur_len(&suites) == 0 ||
	    cid_cur_len(&suites) % 2 != 0)
		return CID_MALFORMED;
	while (cid_cur_u16(&suites, &v))
		push_u16(h->ciphers, &h->num_ciphers, CID_TLS_MAX_CIPHERS, v, &h->lists_truncated);

	/* legacy_compression_methods<1..2^8-1> */
	if (!cid_cur_sub_u8len(&c, &comp) || cid_cur_len(&comp) == 0)
		return CID_MALFORMED;
	return parse_tail(h, &c, true);
}

enum cid_status cid_tls_parse_server_hello(struct cid_tls_hello *h, const uint8_t *msg, size_t msg_len)
{
	struct cid_cur c, sid;
	uint16_t suite;

	memset(h, 0, sizeof(*h));
	h->hs_type = CID_TLS_HS_SERVER_HELLO;
	cid_cur_init(&c, msg, msg_len);

	/* RFC 8446 4.1.3: legacy_version, random[32], legacy_session_id_echo<0..32>,
	 * cipher_suite, legacy_compression_method, extensions */
	if (!cid_cur_u16(&c, &h->legacy_version) || !cid_cur_copy(&c, h->random, sizeof(h->random)))
		return CID_MALFORMED;
	if ((h->legacy_version >> 8) == 0x7f && (h->legacy_version & 0xffu) < 22) {
		/* draft-ietf-tls-tls13-N before draft 22: version, random,
		 * cipher_suite, extensions (no session id, no compression). */
		if (!cid_cur_u16(&c, &suite))
			return CID_MALFORMED;
	} else {
		if (!cid_cur_sub_u8len(&c, &sid) || cid_cur_len(&sid) > sizeof(h->session_id))
			return CID_MALFORMED;
		h->session_id_len = (uint8_t)cid_cur_len(&sid);
		(void)cid_cur_copy(&sid, h->session_id, h->session_id_len);
		if (!cid_cur_u16(&c, &suite) || !cid_cur_u8(&c, &h->compression))
			return CID_MALFORMED;
	}
	h->ciphers[0] = suite;
	h->num_ciphers = 1;
	h->hrr = memcmp(h->random, hrr_random, sizeof(hrr_random)) == 0;
	return parse_tail(h, &c, false);
}

uint16_t cid_tls_negotiated_version(const struct cid_tls_hello *sh)
{
	/* RFC 8446 4.2.1: a TLS 1.3 server sets legacy_version to 0x0303 and
	 * names the real version in supported_versions. */
	if (sh->num_versions > 0)
		return sh->versions[0];
	return sh->legacy_version;
}

bool cid_tls_looks_like_handshake(const uint8_t *p, size_t p_len)
{
	struct cid_cur c;
	uint8_t type, major, minor, hs;
	uint16_t len;

	cid_cur_init(&c, p, p_len);
	if (!cid_cur_u8(&c, &type) || !cid_cur_u8(&c, &major) || !cid_cur_u8(&c, &minor) ||
	    !cid_cur_u16(&c, &len))
		return false;
	if (type != CT_HANDSHAKE || major != 3 || minor > 4 || len == 0 || len > RECORD_MAX_LEN)
		return false;
	/* When the first handshake byte is there, it must open a hello. */
	if (cid_cur_u8(&c, &hs) && hs != CID_TLS_HS_CLIENT_HELLO && hs != CID_TLS_HS_SERVER_HELLO)
		return false;
	return true;
}

/* SSLv2-compatible ClientHello (RFC 5246 E.2): 2-byte length with the high
 * bit set, then msg_type 1. Checked only at the stream start. */
static enum cid_status check_sslv2(const struct cid_cur *s, size_t *need)
{
	uint8_t b0, b2;

	if (!cid_cur_peek_u8(s, 0, &b0) || !(b0 & 0x80u))
		return CID_OK;
	if (!cid_cur_peek_u8(s, 2, &b2)) {
		*need = 3;
		return CID_TRUNCATED;
	}
	return b2 == 1 ? CID_UNSUPPORTED : CID_MALFORMED;
}

/* The walk behind cid_tls_find_handshake and cid_tls_find_plain_handshake;
 * ccs_ends: a ChangeCipherSpec record ends it (see tls.h). */
static enum cid_status find_handshake(const uint8_t *stream, size_t stream_len, unsigned index, bool ccs_ends,
				      uint8_t *hs_type, uint8_t *out, size_t out_cap, size_t *out_len,
				      size_t *need)
{
	struct cid_cur s;
	uint8_t hdr[HS_HDR_LEN];
	size_t hdr_got = 0, body_len = 0, body_got = 0;
	unsigned msg_no = 0;
	enum cid_status st;

	*hs_type = 0;
	*out_len = 0;
	*need = 0;
	cid_cur_init(&s, stream, stream_len);
	st = check_sslv2(&s, need);
	if (st != CID_OK)
		return st;

	for (;;) {
		size_t rec_start = stream_len - cid_cur_len(&s);
		size_t avail, rec_end;
		uint8_t type, major, minor;
		uint16_t rec_len;
		struct cid_cur rec = {NULL, 0};

		/* RFC 8446 5.1: type, legacy_record_version, length, fragment */
		if (cid_cur_len(&s) < RECORD_HDR_LEN) {
			*need = rec_start + RECORD_HDR_LEN;
			return CID_TRUNCATED;
		}
		(void)cid_cur_u8(&s, &type);
		(void)cid_cur_u8(&s, &major);
		(void)cid_cur_u8(&s, &minor);
		(void)cid_cur_u16(&s, &rec_len);
		if (type < CT_CHANGE_CIPHER_SPEC || type > CT_HEARTBEAT || major != 3 ||
		    rec_len > RECORD_MAX_LEN)
			return CID_MALFORMED; /* not a TLS record header */
		rec_end = rec_start + RECORD_HDR_LEN + rec_len;
		avail = cid_cur_len(&s) < rec_len ? cid_cur_len(&s) : rec_len;
		bool skip = type == CT_CHANGE_CIPHER_SPEC;
		if (skip && ccs_ends)
			return CID_UNSUPPORTED; /* the rest is encrypted (RFC 5246 7.1) */
		if (type == CT_ALERT && rec_len == 2) {
			/* A plaintext warning alert (RFC 5246 7.2, e.g. unrecognized_name
			 * sent before the ServerHello) does not end the handshake. */
			uint8_t level;
			if (!cid_cur_peek_u8(&s, 0, &level)) {
				*need = rec_start + RECORD_HDR_LEN + 1;
				return CID_TRUNCATED;
			}
			skip = level == 1; /* skipped like a CCS below */
		}
		if (type != CT_HANDSHAKE && !skip)
			return CID_UNSUPPORTED; /* fatal alert / application data: handshake over */

		if (skip) {
			if (avail < rec_len) {
				*need = rec_end;
				return CID_TRUNCATED;
			}
			(void)cid_cur_skip(&s, rec_len);
			continue;
		}

		/* Handshake fragments are concatenated across records (RFC 8446
		 * 5.1); consume what is here, even of an incomplete record. */
		(void)cid_cur_sub(&s, &rec, avail);
		while (cid_cur_len(&rec) > 0 || (hdr_got == HS_HDR_LEN && body_got == body_len)) {
			if (hdr_got < HS_HDR_LEN) {
				(void)cid_cur_u8(&rec, &hdr[hdr_got++]);
				if (hdr_got < HS_HDR_LEN)
					continue;
				body_len = ((size_t)hdr[1] << 16) | ((size_t)hdr[2] << 8) | hdr[3];
				body_got = 0;
				if (msg_no == index && body_len > out_cap)
					return CID_UNSUPPORTED; /* message larger than the caller's buffer */
			}
			if (body_got < body_len) {
				size_t take = body_len - body_got;
				if (take > cid_cur_len(&rec))
					take = cid_cur_len(&rec);
				if (msg_no == index)
					(void)cid_cur_copy(&rec, out + body_got, take);
				else
					(void)cid_cur_skip(&rec, take);
				body_got += take;
			}
			if (body_got < body_len)
				break; /* continues in the next record */
			if (msg_no == index) {
				*hs_type = hdr[0];
				*out_len = body_len;
				return CID_OK;
			}
			msg_no++;
			hdr_got = 0;
			body_len = body_got = 0;
		}
		if (avail < rec_len) {
			/* Ask for the rest of the current item, or of the record. */
			size_t remaining = hdr_got < HS_HDR_LEN ? HS_HDR_LEN - hdr_got : body_len - body_got;
			size_t want = stream_len + remaining;
			*need = want < rec_end ? want : rec_end;
			return CID_TRUNCATED;
		}
	}
}

enum cid_status cid_tls_find_handshake(const uint8_t *stream, size_t stream_len, unsigned index,
				       uint8_t *hs_type, uint8_t *out, size_t out_cap,
				       size_t *out_len, size_t *need)
{
	return find_handshake(stream, stream_len, index, false, hs_type, out, out_cap, out_len, need);
}

enum cid_status cid_tls_find_plain_handshake(const uint8_t *stream, size_t stream_len, unsigned index,
					     uint8_t *hs_type, uint8_t *out, size_t out_cap,
					     size_t *out_len, size_t *need)
{
	return find_handshake(stream, stream_len, index, true, hs_type, out, out_cap, out_len, need);
}

/* RFC 8422 5.4 ECCurveType */
#define CURVE_EXPLICIT_PRIME 1
#define CURVE_EXPLICIT_CHAR2 2
#define CURVE_NAMED 3

enum cid_status cid_tls_parse_server_key_exchange(uint16_t *group, const uint8_t *msg, size_t msg_len,
						  uint16_t version, uint16_t suite)
{
	enum cid_tls_ske_kind kind = cid_tls_cipher_ske_kind(suite);
	struct cid_cur c, hint, point, sig;
	uint8_t curve_type;
	uint16_t named, alg;

	if (kind == CID_TLS_SKE_NONE)
		return CID_UNSUPPORTED; /* RSA, DHE, ...: no ServerECDHParams to read */
	cid_cur_init(&c, msg, msg_len);
	/* RFC 5489 2: ECDHE_PSK sends psk_identity_hint<0..2^16-1> first */
	if (kind == CID_TLS_SKE_ECDHE_PSK && !cid_cur_sub_u16len(&c, &hint))
		return CID_MALFORMED;
	if (!cid_cur_u8(&c, &curve_type))
		return CID_MALFORMED;
	if (curve_type == CURVE_EXPLICIT_PRIME || curve_type == CURVE_EXPLICIT_CHAR2)
		return CID_UNSUPPORTED; /* explicit curve parameters: no name to give */
	if (curve_type != CURVE_NAMED || !cid_cur_u16(&c, &named))
		return CID_MALFORMED;
	/* ECPoint public <1..2^8-1> (RFC 8422 5.4) */
	if (!cid_cur_sub_u8len(&c, &point) || cid_cur_len(&point) == 0)
		return CID_MALFORMED;
	if (kind == CID_TLS_SKE_ECDHE) {
		/* TLS 1.2 names the signature's algorithm (RFC 5246 7.4.3);
		 * earlier versions sign with the certificate's key (RFC 4492 5.4) */
		if (version >= 0x0303 && !cid_cur_u16(&c, &alg))
			return CID_MALFORMED;
		if (!cid_cur_sub_u16len(&c, &sig))
			return CID_MALFORMED;
	}
	if (cid_cur_len(&c) != 0)
		return CID_MALFORMED; /* trailing bytes after the parameters */
	*group = named;
	return CID_OK;
}
