/*
 * quic.h - QUIC Initial packets, versions 1 (RFC 9000, RFC 9001) and 2
 * (RFC 9369): the long header, the Initial keys, header protection, AEAD
 * and the frames that carry the TLS handshake (CRYPTO).
 *
 * Initial packets are encrypted, but with keys anyone can derive from the
 * client's first Destination Connection ID (RFC 9001 5.2): the
 * ClientHello and ServerHello they carry are as readable to a passive
 * observer as TLS over TCP. Versions 1 and 2 are decoded; others (the
 * drafts, vendor versions) are CID_UNSUPPORTED. Pure: bytes in, bytes out;
 * libcrypto (through digest.h) does HMAC-SHA256 and AES.
 */
#ifndef CID_QUIC_H
#define CID_QUIC_H

#include "callerid/common.h"

#define CID_QUIC_V1 0x00000001u
#define CID_QUIC_V2 0x6b3343cfu
#define CID_QUIC_MAX_CID 20u
/* RFC 9000 14.1: a client's datagrams carrying Initial packets are at least this big */
#define CID_QUIC_MIN_INITIAL 1200u
/* Initial packets decrypted here: larger ones are CID_UNSUPPORTED */
#define CID_QUIC_MAX_PACKET 4096u

enum cid_quic_type { CID_QUIC_INITIAL, CID_QUIC_0RTT, CID_QUIC_HANDSHAKE, CID_QUIC_RETRY };

/* One long-header packet of a datagram (RFC 9000 17.2). */
struct cid_quic_long {
	uint32_t version;
	enum cid_quic_type type;      /* from the type bits, as the version maps them */
	uint8_t dcid[CID_QUIC_MAX_CID], scid[CID_QUIC_MAX_CID];
	uint8_t dcid_len, scid_len;
	size_t pn_offset;             /* Initial, 0-RTT, Handshake: where the packet number starts */
	size_t packet_len;            /* bytes of the datagram this packet takes (Retry: all) */
};

/*
 * Parses the long header at the start of p (a datagram, or what follows a
 * coalesced packet). CID_OK: *h filled. CID_UNSUPPORTED: a short header,
 * a Version Negotiation packet or a version not decoded (only version and
 * dcid are set). CID_MALFORMED: the fixed bit is clear, a
 * connection ID is longer than 20 bytes or a length runs past the datagram.
 */
enum cid_status cid_quic_parse_long(struct cid_quic_long *h, const uint8_t *p, size_t n);

struct cid_quic_keys {
	uint8_t key[16], iv[12], hp[16];
};

/* The Initial keys of one side (RFC 9001 5.2): the client's (server
 * false) or the server's, from the Destination Connection ID of the
 * client's first Initial packet. false for a version not decoded or when
 * libcrypto fails. */
bool cid_quic_initial_keys(struct cid_quic_keys *k, uint32_t version, const uint8_t *dcid, size_t dcid_len,
			   bool server);

/*
 * Removes header protection (RFC 9001 5.4) and decrypts (5.3) the Initial
 * packet h describes, pkt being its first byte (h->packet_len bytes).
 * Writes the frames to out (at least CID_QUIC_MAX_PACKET bytes) and their
 * length to *out_len, the packet number to *pn. CID_OK; CID_MALFORMED when
 * the packet is too short for its sample or the AEAD tag does not verify
 * (wrong keys, or not QUIC); CID_UNSUPPORTED when it is larger than
 * CID_QUIC_MAX_PACKET; CID_TRUNCATED when libcrypto fails.
 */
enum cid_status cid_quic_decrypt(const struct cid_quic_keys *k, const struct cid_quic_long *h, const uint8_t *pkt,
				 uint8_t *out, size_t *out_len, uint64_t *pn);

/*
 * The other way, for tests and generated captures: protects in place the
 * Initial packet at pkt, whose header (packet number included, its length
 * in the low bits of the first byte) ends where its frames start and
 * whose last 16 of packet_len bytes are room for the tag. false when the
 * packet is too short or libcrypto fails.
 */
bool cid_quic_protect(const struct cid_quic_keys *k, uint8_t *pkt, size_t pn_offset, size_t packet_len);

/* Called for each CRYPTO frame: its stream offset and data. */
typedef void (*cid_quic_crypto_fn)(void *ctx, uint64_t offset, const uint8_t *p, size_t n);

/*
 * Walks the frames of a decrypted Initial packet (RFC 9000 12.4, 19):
 * PADDING, PING, ACK, CRYPTO and CONNECTION_CLOSE are the ones allowed
 * there. Calls fn for each CRYPTO frame. CID_OK when every frame was read;
 * CID_MALFORMED at a frame not allowed in an Initial packet or one that
 * overruns (the CRYPTO frames before it have been passed on).
 */
enum cid_status cid_quic_frames(const uint8_t *p, size_t n, cid_quic_crypto_fn fn, void *ctx);

#endif /* CID_QUIC_H */
