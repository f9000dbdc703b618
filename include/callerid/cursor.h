/*
 * cursor.h - the only way callerid reads untrusted bytes.
 *
 * A cursor is a borrowed window {data, len} over bytes that someone else
 * owns. Every getter either succeeds, consuming what it read, or fails and
 * leaves the cursor exactly as it was. Length-prefixed fields become child
 * cursors, so a parser can never read past the structure it is in. Modelled
 * on BoringSSL's CBS; written for callerid.
 *
 * All multi-byte getters are big-endian (network order) unless named _le.
 */
#ifndef CID_CURSOR_H
#define CID_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct cid_cur {
	const uint8_t *data;
	size_t len;
};

static inline void cid_cur_init(struct cid_cur *c, const uint8_t *p, size_t p_len)
{
	c->data = p;
	c->len = p_len;
}

static inline size_t cid_cur_len(const struct cid_cur *c) { return c->len; }
static inline const uint8_t *cid_cur_data(const struct cid_cur *c) { return c->data; }

/* Skips n bytes. Fails (cursor unchanged) when fewer than n remain. */
static inline bool cid_cur_skip(struct cid_cur *c, size_t n)
{
	if (c->len < n)
		return false;
	c->data += n;
	c->len -= n;
	return true;
}

/* Borrows n bytes: *out points into the cursor's buffer. */
static inline bool cid_cur_bytes(struct cid_cur *c, const uint8_t **out, size_t n)
{
	if (c->len < n)
		return false;
	*out = c->data;
	c->data += n;
	c->len -= n;
	return true;
}

/* Copies n bytes into out (which must hold n). */
static inline bool cid_cur_copy(struct cid_cur *c, uint8_t *out, size_t n)
{
	if (c->len < n)
		return false;
	if (n)
		memcpy(out, c->data, n);
	c->data += n;
	c->len -= n;
	return true;
}

/* Splits off the next n bytes as a child cursor. On failure c is unchanged
 * and child is empty, never left unset. */
static inline bool cid_cur_sub(struct cid_cur *c, struct cid_cur *child, size_t n)
{
	if (c->len < n) {
		child->data = c->data;
		child->len = 0;
		return false;
	}
	child->data = c->data;
	child->len = n;
	c->data += n;
	c->len -= n;
	return true;
}

static inline bool cid_cur_get_uN(struct cid_cur *c, uint64_t *out, size_t n)
{
	uint64_t v = 0;
	if (c->len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | c->data[i];
	*out = v;
	c->data += n;
	c->len -= n;
	return true;
}

static inline bool cid_cur_u8(struct cid_cur *c, uint8_t *out)
{
	if (c->len < 1)
		return false;
	*out = c->data[0];
	c->data++;
	c->len--;
	return true;
}

static inline bool cid_cur_u16(struct cid_cur *c, uint16_t *out)
{
	if (c->len < 2)
		return false;
	*out = (uint16_t)((c->data[0] << 8) | c->data[1]);
	c->data += 2;
	c->len -= 2;
	return true;
}

static inline bool cid_cur_u24(struct cid_cur *c, uint32_t *out)
{
	uint64_t v;
	if (!cid_cur_get_uN(c, &v, 3))
		return false;
	*out = (uint32_t)v;
	return true;
}

static inline bool cid_cur_u32(struct cid_cur *c, uint32_t *out)
{
	if (c->len < 4)
		return false;
	*out = (uint32_t)c->data[0] << 24 | (uint32_t)c->data[1] << 16 | (uint32_t)c->data[2] << 8 |
	       (uint32_t)c->data[3];
	c->data += 4;
	c->len -= 4;
	return true;
}

static inline bool cid_cur_u64(struct cid_cur *c, uint64_t *out)
{
	return cid_cur_get_uN(c, out, 8);
}

static inline bool cid_cur_u16_le(struct cid_cur *c, uint16_t *out)
{
	if (c->len < 2)
		return false;
	*out = (uint16_t)(c->data[0] | (c->data[1] << 8));
	c->data += 2;
	c->len -= 2;
	return true;
}

static inline bool cid_cur_u32_le(struct cid_cur *c, uint32_t *out)
{
	if (c->len < 4)
		return false;
	*out = (uint32_t)c->data[0] | ((uint32_t)c->data[1] << 8) |
	       ((uint32_t)c->data[2] << 16) | ((uint32_t)c->data[3] << 24);
	c->data += 4;
	c->len -= 4;
	return true;
}

/* Peeks without consuming. */
/* A QUIC variable-length integer (RFC 9000 16): the two high bits of the
 * first byte give its length (1, 2, 4 or 8 bytes). */
static inline bool cid_cur_varint(struct cid_cur *c, uint64_t *out)
{
	static const uint64_t mask[4] = {0x3f, 0x3fff, 0x3fffffff, 0x3fffffffffffffff};
	unsigned sel;
	uint64_t v;
	if (c->len < 1)
		return false;
	sel = (unsigned)(c->data[0] >> 6);
	if (!cid_cur_get_uN(c, &v, (size_t)1 << sel))
		return false;
	*out = v & mask[sel];
	return true;
}

static inline bool cid_cur_peek_u8(const struct cid_cur *c, size_t off, uint8_t *out)
{
	if (c->len <= off)
		return false;
	*out = c->data[off];
	return true;
}

static inline bool cid_cur_peek_u16(const struct cid_cur *c, size_t off, uint16_t *out)
{
	if (c->len < 2 || c->len - 2 < off)
		return false;
	*out = (uint16_t)((c->data[off] << 8) | c->data[off + 1]);
	return true;
}

/* Length-prefixed children: a 1-, 2- or 3-byte big-endian length, then
 * that many bytes. On failure neither the length nor the body is consumed. */
static inline bool cid_cur_sub_u8len(struct cid_cur *c, struct cid_cur *child)
{
	struct cid_cur save = *c;
	uint8_t n;
	if (!cid_cur_u8(c, &n) || !cid_cur_sub(c, child, n)) {
		*c = save;
		return false;
	}
	return true;
}

static inline bool cid_cur_sub_u16len(struct cid_cur *c, struct cid_cur *child)
{
	struct cid_cur save = *c;
	uint16_t n;
	if (!cid_cur_u16(c, &n) || !cid_cur_sub(c, child, n)) {
		*c = save;
		return false;
	}
	return true;
}

static inline bool cid_cur_sub_u24len(struct cid_cur *c, struct cid_cur *child)
{
	struct cid_cur save = *c;
	uint32_t n;
	if (!cid_cur_u24(c, &n) || !cid_cur_sub(c, child, n)) {
		*c = save;
		return false;
	}
	return true;
}

#endif /* CID_CURSOR_H */
