/*
 * tls.h - TLS ClientHello / ServerHello parsing, CloudTrail-style names and
 * the JA3, JA3S and JA4 fingerprints.
 *
 * Pure: bytes in, structs out. Hellos are found in the first bytes of a
 * reassembled TCP stream, across TLS records (RFC 8446 5.1: a handshake
 * message may span records) and across segments (the caller's reassembly).
 * JA4S and the other JA4+ methods are deliberately not implemented (FoxIO
 * License 1.1).
 */
#ifndef CID_TLS_H
#define CID_TLS_H

#include "callerid/common.h"

#define CID_TLS_HS_CLIENT_HELLO 1
#define CID_TLS_HS_SERVER_HELLO 2
/* The rest of a TLS <= 1.2 server's plaintext flight (RFC 5246 7.3, 7.4;
 * RFC 6066 8; RFC 4680 2). */
#define CID_TLS_HS_NEW_SESSION_TICKET 4
#define CID_TLS_HS_CERTIFICATE 11
#define CID_TLS_HS_SERVER_KEY_EXCHANGE 12
#define CID_TLS_HS_CERTIFICATE_REQUEST 13
#define CID_TLS_HS_SERVER_HELLO_DONE 14
#define CID_TLS_HS_CERTIFICATE_STATUS 22
#define CID_TLS_HS_SUPPLEMENTAL_DATA 23

#define CID_TLS_MAX_CIPHERS 256u
#define CID_TLS_MAX_EXTS 128u
#define CID_TLS_MAX_GROUPS 64u
#define CID_TLS_MAX_SMALL 32u

struct cid_tls_hello {
	uint8_t hs_type;              /* 1 ClientHello, 2 ServerHello */
	uint16_t legacy_version;      /* client_version / server legacy_version */
	uint8_t random[32];
	uint8_t session_id[32];
	uint8_t session_id_len;
	/* Lists keep wire order, GREASE included. num_* counts what is kept;
	 * lists_truncated is set when a list held more than its cap. */
	uint16_t ciphers[CID_TLS_MAX_CIPHERS];
	uint16_t num_ciphers;         /* server: 1 (the chosen suite) */
	uint16_t exts[CID_TLS_MAX_EXTS];
	uint16_t num_exts;
	uint16_t groups[CID_TLS_MAX_GROUPS];       /* supported_groups (10) */
	uint16_t num_groups;
	uint8_t point_formats[CID_TLS_MAX_SMALL];  /* ec_point_formats (11) */
	uint16_t num_point_formats;
	uint16_t key_share[CID_TLS_MAX_SMALL];     /* key_share (51) groups; server: 1 */
	uint16_t num_key_share;
	uint16_t versions[CID_TLS_MAX_SMALL];      /* supported_versions (43); server: 1 */
	uint16_t num_versions;
	uint16_t sig_algs[CID_TLS_MAX_GROUPS];     /* signature_algorithms (13) */
	uint16_t num_sig_algs;
	bool lists_truncated;
	/* server_name (0): first host_name entry, raw bytes (not escaped). */
	bool has_sni;
	uint16_t sni_len;             /* bytes kept in sni */
	bool sni_truncated;           /* the name was longer than CID_TLS_MAX_NAME-1 */
	char sni[CID_TLS_MAX_NAME];   /* NUL-terminated copy; may contain any byte but NUL */
	/* ALPN (16): protocols joined with ',' (raw bytes), and the first one. */
	bool has_alpn;
	uint16_t num_alpn;
	char alpn[CID_TLS_MAX_NAME];
	uint8_t alpn_first[255];
	uint8_t alpn_first_len;
	bool ech;                     /* encrypted_client_hello (0xfe0d) present */
	bool hrr;                     /* ServerHello is a HelloRetryRequest (RFC 8446 4.1.3) */
	uint8_t compression;          /* server: chosen method */
};

/* Parses a handshake message body (after the 4-byte handshake header) of a
 * ClientHello or ServerHello. CID_OK: *h filled. CID_MALFORMED: the message
 * contradicts RFC 8446 4.1.2/4.1.3 (lengths overrun, trailing bytes).
 * Extensions that are malformed are skipped and do not fail the hello unless
 * the extensions block itself is inconsistent. */
enum cid_status cid_tls_parse_client_hello(struct cid_tls_hello *h, const uint8_t *msg, size_t msg_len);
enum cid_status cid_tls_parse_server_hello(struct cid_tls_hello *h, const uint8_t *msg, size_t msg_len);

/* How a TLS <= 1.2 cipher suite's ServerKeyExchange carries a named curve. */
enum cid_tls_ske_kind {
	CID_TLS_SKE_NONE = 0,   /* no curve there: RSA, DHE, fixed ECDH, plain PSK, unknown suites */
	CID_TLS_SKE_ECDHE,      /* ECDHE_RSA, ECDHE_ECDSA: signed ServerECDHParams (RFC 8422 5.4) */
	CID_TLS_SKE_ECDH_ANON,  /* ECDH_anon: ServerECDHParams, no signature (RFC 8422 5.4) */
	CID_TLS_SKE_ECDHE_PSK,  /* ECDHE_PSK: psk_identity_hint, then ServerECDHParams (RFC 5489 2) */
};
enum cid_tls_ske_kind cid_tls_cipher_ske_kind(uint16_t code);

/*
 * Reads the named curve from a ServerKeyExchange body (after the 4-byte
 * handshake header) of a TLS <= 1.2 handshake that negotiated `version`
 * and the cipher suite `suite`. RFC 8422 5.4: ServerECDHParams =
 * ECParameters {curve_type; NamedCurve when curve_type is named_curve (3)}
 * then ECPoint public <1..2^8-1>; then the signature: for TLS 1.2 a
 * SignatureAndHashAlgorithm and signature<0..2^16-1> (RFC 5246 4.7,
 * 7.4.3), before TLS 1.2 the signature vector alone, none for ECDH_anon
 * and ECDHE_PSK (whose params follow psk_identity_hint<0..2^16-1>, RFC
 * 5489 2). The message must be consumed exactly.
 * CID_OK: *group set. CID_UNSUPPORTED: the suite has no curve in its
 * ServerKeyExchange, or the curve is explicit (curve_type 1 or 2, RFC 8422
 * 5.4 deprecates them). CID_MALFORMED: anything else (a length overruns,
 * an empty point, an unknown curve_type, trailing bytes). *group is only
 * written on CID_OK.
 */
enum cid_status cid_tls_parse_server_key_exchange(uint16_t *group, const uint8_t *msg, size_t msg_len,
						  uint16_t version, uint16_t suite);

/*
 * Finds the index-th (0-based) handshake message in the first bytes of one
 * direction of a TLS stream, reassembling it across records of content type
 * 22. Copies the message body (without the 4-byte header) into out (cap
 * out_cap; a longer message is CID_UNSUPPORTED) and sets *hs_type and
 * *out_len. Returns CID_TRUNCATED with *need = the stream length that would
 * let it progress (the caller waits for that many bytes before calling
 * again); CID_MALFORMED when the bytes are not TLS records;
 * CID_UNSUPPORTED for an SSLv2-format hello or a message over out_cap.
 * Stops at the first non-handshake record (ChangeCipherSpec and plaintext
 * warning alerts are skipped) with CID_UNSUPPORTED.
 */
enum cid_status cid_tls_find_handshake(const uint8_t *stream, size_t stream_len, unsigned index,
				       uint8_t *hs_type, uint8_t *out, size_t out_cap,
				       size_t *out_len, size_t *need);
/* The same, except that a ChangeCipherSpec record ends the walk with
 * CID_UNSUPPORTED: in TLS <= 1.2 what follows it is encrypted (RFC 5246
 * 7.1), so a "handshake record" after it would be read as garbage (the
 * encrypted Finished of a resumed session). For the messages of a TLS 1.2
 * server's plaintext flight after its ServerHello. */
enum cid_status cid_tls_find_plain_handshake(const uint8_t *stream, size_t stream_len, unsigned index,
					     uint8_t *hs_type, uint8_t *out, size_t out_cap,
					     size_t *out_len, size_t *need);

/* True if the bytes look like the start of a TLS record carrying a
 * handshake (22, 0x03xx, length <= 2^14 + 2048). Used to find TLS on any port. */
bool cid_tls_looks_like_handshake(const uint8_t *p, size_t p_len);

bool cid_tls_is_grease(uint16_t v);

/* Names as CloudTrail's tlsDetails spells them: "TLSv1", "TLSv1.1",
 * "TLSv1.2", "TLSv1.3", "SSLv3"; drafts "TLSv1.3-draft23"; NULL unknown. */
const char *cid_tls_version_name(uint16_t v);
/* OpenSSL names for TLS <= 1.2 suites (ECDHE-RSA-AES128-GCM-SHA256), IANA
 * names for TLS 1.3 suites (TLS_AES_128_GCM_SHA256); NULL when unknown. */
const char *cid_tls_cipher_name(uint16_t code);
/* x25519, secp256r1, X25519MLKEM768, ...; NULL when unknown. */
const char *cid_tls_group_name(uint16_t code);

/* The negotiated version of a ServerHello: supported_versions when present
 * (TLS 1.3), else legacy_version. */
uint16_t cid_tls_negotiated_version(const struct cid_tls_hello *sh);

#define CID_JA3_MAX 8192u
#define CID_JA4_LEN 37u  /* "t13d1516h2_8daaf6152771_e5627efa2ab1" + NUL */

/* JA3 (client) and JA3S (server) strings and MD5 hex (libcrypto). GREASE
 * values removed per the published JA3 definition. Returns false, with
 * md5_hex empty, if str_cap was too small (str is then cut) or libcrypto
 * could not hash (out of memory, MD5 not available). */
bool cid_ja3(const struct cid_tls_hello *ch, char *str, size_t str_cap, char md5_hex[33]);
bool cid_ja3s(const struct cid_tls_hello *sh, char *str, size_t str_cap, char md5_hex[33]);
/* JA4 (client) per FoxIO's published JA4 definition; transport 't' (TCP),
 * 'q' (QUIC) or 'd' (DTLS). out must hold CID_JA4_LEN; it is left empty
 * when libcrypto could not hash (out of memory). */
void cid_ja4(const struct cid_tls_hello *ch, char transport, char out[CID_JA4_LEN]);

/* JA4's other forms (FoxIO's "raw output"): CID_JA4_ORIGINAL keeps the
 * client's order of ciphers and extensions, SNI and ALPN included (ja4_o);
 * CID_JA4_RAW gives the lists instead of their hashes (ja4_r; with both,
 * ja4_ro). form 0 is JA4 itself. out holds CID_JA4_LEN for a hashed form
 * and CID_JA4_RAW_MAX for a raw one; it is left empty when it cannot
 * (libcrypto could not hash, cap too small). */
#define CID_JA4_ORIGINAL 1u
#define CID_JA4_RAW 2u
#define CID_JA4_RAW_MAX (11u + 5u * (CID_TLS_MAX_CIPHERS + CID_TLS_MAX_EXTS + CID_TLS_MAX_GROUPS) + 2u)
void cid_ja4_form(const struct cid_tls_hello *ch, char transport, unsigned form, char *out, size_t cap);
/* The same from JA4_a (the first CID_JA4_A_LEN characters of the JA4) and
 * the hello's lists as sent, GREASE and all (dropped here): how `flows`
 * rebuilds the raw forms from the database's offered_ciphers, extensions
 * and sig_algs. Lists longer than the hello's caps are cut to them. */
#define CID_JA4_A_LEN 10u
void cid_ja4_lists(const char *ja4_a, const uint16_t *ciphers, size_t num_ciphers, const uint16_t *exts,
		   size_t num_exts, const uint16_t *sigs, size_t num_sigs, unsigned form, char *out, size_t cap);
/* Parses the database's "1301,c02b,..." (lowercase hex, 4 digits each) into
 * out; false when the text is not such a list or has more than cap. */
bool cid_ja4_hex_list(const uint8_t *text, size_t len, uint16_t *out, size_t cap, size_t *n);

#endif /* CID_TLS_H */
