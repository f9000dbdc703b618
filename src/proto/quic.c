/* quic.c - QUIC version 1 Initial packets (see quic.h). */
#include <openssl/evp.h>
#include <string.h>

#include "callerid/cursor.h"
#include "callerid/digest.h"
#include "callerid/quic.h"

#define AEAD_TAG 16u
#define HP_SAMPLE 16u

/* What differs between the versions decoded: the Initial salt (RFC 9001
 * 5.2; RFC 9369 3.3.1), the labels of the packet protection keys (RFC
 * 9369 3.3.2) and the long header packet types (RFC 9369 3.2). */
struct version {
	uint32_t version;
	uint8_t salt[20];
	const char *key, *iv, *hp;
	enum cid_quic_type types[4];  /* by the two type bits */
};

static const struct version versions[] = {
	{CID_QUIC_V1,
	 {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb,
	  0x7f, 0x0a},
	 "quic key", "quic iv", "quic hp",
	 {CID_QUIC_INITIAL, CID_QUIC_0RTT, CID_QUIC_HANDSHAKE, CID_QUIC_RETRY}},
	{CID_QUIC_V2,
	 {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd,
	  0x2e, 0xd9},
	 "quicv2 key", "quicv2 iv", "quicv2 hp",
	 {CID_QUIC_RETRY, CID_QUIC_INITIAL, CID_QUIC_0RTT, CID_QUIC_HANDSHAKE}},
};

static const struct version *version_of(uint32_t v)
{
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (versions[i].version == v)
			return &versions[i];
	return NULL;
}

static bool cid_of(struct cid_cur *c, uint8_t *out, uint8_t *out_len, size_t max)
{
	struct cid_cur id;
	if (!cid_cur_sub_u8len(c, &id) || cid_cur_len(&id) > max)
		return false;
	*out_len = (uint8_t)cid_cur_len(&id);
	return cid_cur_copy(&id, out, *out_len);
}

enum cid_status cid_quic_parse_long(struct cid_quic_long *h, const uint8_t *p, size_t n)
{
	struct cid_cur c;
	uint8_t b0;
	uint64_t token_len, len;
	const struct version *ver;
	memset(h, 0, sizeof(*h));
	cid_cur_init(&c, p, n);
	if (!cid_cur_u8(&c, &b0))
		return CID_TRUNCATED;
	if (!(b0 & 0x80))
		return CID_UNSUPPORTED; /* a short header */
	if (!cid_cur_u32(&c, &h->version))
		return CID_MALFORMED;
	/* RFC 8999 5.1: connection IDs of up to 255 bytes in other versions */
	ver = version_of(h->version);
	if (!ver) {
		uint8_t skip[255], skip_len;
		if (!cid_of(&c, skip, &skip_len, sizeof(skip)))
			return CID_MALFORMED;
		memcpy(h->dcid, skip, skip_len < CID_QUIC_MAX_CID ? skip_len : CID_QUIC_MAX_CID);
		h->dcid_len = skip_len < CID_QUIC_MAX_CID ? skip_len : CID_QUIC_MAX_CID;
		return CID_UNSUPPORTED;
	}
	if (!(b0 & 0x40) || !cid_of(&c, h->dcid, &h->dcid_len, CID_QUIC_MAX_CID) ||
	    !cid_of(&c, h->scid, &h->scid_len, CID_QUIC_MAX_CID))
		return CID_MALFORMED;
	h->type = ver->types[(b0 >> 4) & 3];
	if (h->type == CID_QUIC_RETRY) {
		h->packet_len = n;
		return CID_OK;
	}
	if (h->type == CID_QUIC_INITIAL &&
	    (!cid_cur_varint(&c, &token_len) || token_len > cid_cur_len(&c) || !cid_cur_skip(&c, (size_t)token_len)))
		return CID_MALFORMED;
	if (!cid_cur_varint(&c, &len) || len > cid_cur_len(&c))
		return CID_MALFORMED;
	h->pn_offset = n - cid_cur_len(&c);
	h->packet_len = h->pn_offset + (size_t)len;
	return CID_OK;
}

/* HKDF-Expand-Label (RFC 8446 7.1) with an empty context, for at most one
 * SHA-256 block of output: T(1) = HMAC(secret, info || 0x01). */
static bool expand_label(const uint8_t secret[32], const char *label, uint8_t *out, size_t out_len)
{
	uint8_t info[2 + 1 + 6 + 32 + 1 + 1], md[32];
	size_t ll = strlen(label), n = 0;
	if (ll > 32 || out_len > 32)
		return false;
	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0; /* context */
	info[n++] = 1; /* T(1) */
	if (!cid_hmac_sha256(secret, 32, info, n, md))
		return false;
	memcpy(out, md, out_len);
	return true;
}

bool cid_quic_initial_keys(struct cid_quic_keys *k, uint32_t version, const uint8_t *dcid, size_t dcid_len,
			   bool server)
{
	const struct version *ver = version_of(version);
	uint8_t initial[32], secret[32];
	bool ok;
	/* HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM) */
	if (!ver || !cid_hmac_sha256(ver->salt, sizeof(ver->salt), dcid, dcid_len, initial))
		return false;
	ok = expand_label(initial, server ? "server in" : "client in", secret, 32) &&
	     expand_label(secret, ver->key, k->key, sizeof(k->key)) &&
	     expand_label(secret, ver->iv, k->iv, sizeof(k->iv)) &&
	     expand_label(secret, ver->hp, k->hp, sizeof(k->hp));
	OPENSSL_cleanse(initial, sizeof(initial));
	OPENSSL_cleanse(secret, sizeof(secret));
	return ok;
}

/* The AEAD nonce: the IV XORed with the packet number, right-aligned
 * (RFC 9001 5.3). */
static void nonce_of(const struct cid_quic_keys *k, uint64_t pn, uint8_t nonce[12])
{
	memcpy(nonce, k->iv, 12);
	for (size_t i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
}

/* AES-128 of one block under the header protection key (RFC 9001 5.4.3). */
static bool hp_mask(const uint8_t hp[16], const uint8_t sample[HP_SAMPLE], uint8_t mask[16])
{
	const EVP_CIPHER *ecb = cid_cipher(CID_AES128_ECB);
	EVP_CIPHER_CTX *ctx = ecb ? EVP_CIPHER_CTX_new() : NULL;
	int len = 0;
	bool ok = ctx && EVP_EncryptInit_ex(ctx, ecb, NULL, hp, NULL) == 1 && EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
		  EVP_EncryptUpdate(ctx, mask, &len, sample, HP_SAMPLE) == 1 && len == 16;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

enum cid_status cid_quic_decrypt(const struct cid_quic_keys *k, const struct cid_quic_long *h, const uint8_t *pkt,
				 uint8_t *out, size_t *out_len, uint64_t *pn)
{
	uint8_t hdr[CID_QUIC_MAX_PACKET], mask[16], nonce[12];
	const EVP_CIPHER *gcm = cid_cipher(CID_AES128_GCM);
	EVP_CIPHER_CTX *ctx;
	size_t pn_len, hl, ct_len;
	int len = 0, fin = 0;
	bool ok;
	uint64_t v = 0;

	*out_len = 0;
	if (h->packet_len > CID_QUIC_MAX_PACKET)
		return CID_UNSUPPORTED;
	/* the sample starts 4 bytes after the packet number's start (5.4.2) */
	if (h->type == CID_QUIC_RETRY || h->packet_len < h->pn_offset + 4 + HP_SAMPLE)
		return CID_MALFORMED;
	if (!hp_mask(k->hp, pkt + h->pn_offset + 4, mask))
		return CID_TRUNCATED;
	memcpy(hdr, pkt, h->pn_offset);
	hdr[0] ^= mask[0] & 0x0f; /* long header: the low 4 bits */
	pn_len = (size_t)(hdr[0] & 3) + 1;
	hl = h->pn_offset + pn_len;
	if (h->packet_len < hl + AEAD_TAG)
		return CID_MALFORMED;
	for (size_t i = 0; i < pn_len; i++) {
		hdr[h->pn_offset + i] = pkt[h->pn_offset + i] ^ mask[1 + i];
		v = v << 8 | hdr[h->pn_offset + i];
	}
	*pn = v;
	nonce_of(k, v, nonce);
	ct_len = h->packet_len - hl - AEAD_TAG;
	ctx = gcm ? EVP_CIPHER_CTX_new() : NULL;
	if (!ctx)
		return CID_TRUNCATED;
	ok = EVP_DecryptInit_ex(ctx, gcm, NULL, k->key, nonce) == 1 &&
	     EVP_DecryptUpdate(ctx, NULL, &len, hdr, (int)hl) == 1 &&
	     EVP_DecryptUpdate(ctx, out, &len, pkt + hl, (int)ct_len) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AEAD_TAG, (void *)(pkt + hl + ct_len)) == 1;
	if (!ok) {
		EVP_CIPHER_CTX_free(ctx);
		return CID_TRUNCATED;
	}
	ok = EVP_DecryptFinal_ex(ctx, out + len, &fin) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		return CID_MALFORMED;
	*out_len = (size_t)len + (size_t)fin;
	return CID_OK;
}

bool cid_quic_protect(const struct cid_quic_keys *k, uint8_t *pkt, size_t pn_offset, size_t packet_len)
{
	const EVP_CIPHER *gcm = cid_cipher(CID_AES128_GCM);
	EVP_CIPHER_CTX *ctx;
	uint8_t mask[16], nonce[12];
	size_t pn_len = (size_t)(pkt[0] & 3) + 1, hl = pn_offset + pn_len, ct_len;
	uint64_t v = 0;
	int len = 0, fin = 0;
	bool ok;
	if (packet_len < hl + AEAD_TAG || packet_len < pn_offset + 4 + HP_SAMPLE)
		return false;
	ct_len = packet_len - hl - AEAD_TAG;
	for (size_t i = 0; i < pn_len; i++)
		v = v << 8 | pkt[pn_offset + i];
	nonce_of(k, v, nonce);
	ctx = gcm ? EVP_CIPHER_CTX_new() : NULL;
	ok = ctx && EVP_EncryptInit_ex(ctx, gcm, NULL, k->key, nonce) == 1 &&
	     EVP_EncryptUpdate(ctx, NULL, &len, pkt, (int)hl) == 1 &&
	     EVP_EncryptUpdate(ctx, pkt + hl, &len, pkt + hl, (int)ct_len) == 1 &&
	     EVP_EncryptFinal_ex(ctx, pkt + hl + len, &fin) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AEAD_TAG, pkt + hl + ct_len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok || !hp_mask(k->hp, pkt + pn_offset + 4, mask))
		return false;
	pkt[0] ^= mask[0] & 0x0f;
	for (size_t i = 0; i < pn_len; i++)
		pkt[pn_offset + i] ^= mask[1 + i];
	return true;
}

/* ACK frame (RFC 9000 19.3) after its type; ecn: type 0x03. */
static bool skip_ack(struct cid_cur *c, bool ecn)
{
	uint64_t largest, delay, ranges, first, gap, len, cnt;
	if (!cid_cur_varint(c, &largest) || !cid_cur_varint(c, &delay) || !cid_cur_varint(c, &ranges) ||
	    !cid_cur_varint(c, &first))
		return false;
	for (uint64_t i = 0; i < ranges; i++)
		if (!cid_cur_varint(c, &gap) || !cid_cur_varint(c, &len))
			return false;
	for (int i = 0; ecn && i < 3; i++)
		if (!cid_cur_varint(c, &cnt))
			return false;
	return true;
}

enum cid_status cid_quic_frames(const uint8_t *p, size_t n, cid_quic_crypto_fn fn, void *ctx)
{
	struct cid_cur c;
	cid_cur_init(&c, p, n);
	while (cid_cur_len(&c)) {
		uint64_t type, off, len, code, ftype;
		const uint8_t *data;
		if (!cid_cur_varint(&c, &type))
			return CID_MALFORMED;
		switch (type) {
		case 0x00: { /* PADDING: usually a run of hundreds, skipped at once */
			size_t zeros = 0;
			const uint8_t *z = cid_cur_data(&c);
			while (zeros < cid_cur_len(&c) && z[zeros] == 0)
				zeros++;
			(void)cid_cur_skip(&c, zeros);
			break;
		}
		case 0x01: /* PING */
			break;
		case 0x02:
		case 0x03:
			if (!skip_ack(&c, type == 0x03))
				return CID_MALFORMED;
			break;
		case 0x06: /* CRYPTO: offset, length, data */
			if (!cid_cur_varint(&c, &off) || !cid_cur_varint(&c, &len) || len > cid_cur_len(&c) ||
			    off + len > ((uint64_t)1 << 62) - 1 || !cid_cur_bytes(&c, &data, (size_t)len))
				return CID_MALFORMED;
			fn(ctx, off, data, (size_t)len);
			break;
		case 0x1c: /* CONNECTION_CLOSE (transport): code, frame type, reason */
			if (!cid_cur_varint(&c, &code) || !cid_cur_varint(&c, &ftype) || !cid_cur_varint(&c, &len) ||
			    len > cid_cur_len(&c) || !cid_cur_skip(&c, (size_t)len))
				return CID_MALFORMED;
			break;
		default:
			return CID_MALFORMED;
		}
	}
	return CID_OK;
}
