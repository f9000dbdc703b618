/*
 * ip.c - IPv4 (RFC 791), IPv6 (RFC 8200) with its extension headers, then
 * TCP (RFC 9293) and UDP (RFC 768).
 *
 * Two lengths travel together through the layers:
 *   - the cursor: the bytes actually captured (snaplen may cut a packet);
 *   - wire: what the headers say the packet holds.
 * A field past the cursor but inside wire is TRUNCATED (capture cut it);
 * a field past wire is MALFORMED (the packet contradicts itself).
 * Link-layer padding (Ethernet minimum frame) is trimmed by the IP length.
 */
#include "callerid/cursor.h"
#include "callerid/decode.h"
#include "decode_int.h"

#include <string.h>

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_AH_ 51
#define IPPROTO_NONE_ 59
#define IPPROTO_DSTOPTS_ 60
#define IPPROTO_MH_ 135   /* Mobility Header, RFC 6275 */
#define IPPROTO_HIP_ 139  /* RFC 7401 */
#define IPPROTO_SHIM6_ 140 /* RFC 5533 */

#define IPV4_MIN_HDR 20u
#define IPV6_HDR 40u
#define TCP_MIN_HDR 20u
#define UDP_HDR 8u

/* Longest IPv6 extension header chain we walk: real traffic has 0-3; a
 * longer chain is an evasion attempt or garbage, reported as broken. */
#define IPV6_MAX_EXT 16u

/* Limits the cursor to its first n bytes (no-op when shorter). */
static void cur_trim(struct cid_cur *c, size_t n)
{
	struct cid_cur body;
	if (cid_cur_len(c) > n && cid_cur_sub(c, &body, n))
		*c = body;
}

static enum cid_status skip_as(enum cid_skip *why, enum cid_skip reason, enum cid_status st)
{
	*why = reason;
	return st;
}

/* RFC 9293 3.1: fixed 20-byte header, data offset in 32-bit words (>= 5),
 * options up to the data offset. */
static enum cid_status decode_tcp(struct cid_pkt *pkt, enum cid_skip *why,
				  struct cid_cur *c, size_t wire)
{
	uint16_t off_flags = 0;
	size_t hlen;

	if (cid_cur_len(c) < TCP_MIN_HDR) {
		if (wire < TCP_MIN_HDR)
			return skip_as(why, CID_SKIP_TCP_BAD, CID_MALFORMED);
		return skip_as(why, CID_SKIP_TCP_TRUNC, CID_TRUNCATED);
	}
	(void)cid_cur_u16(c, &pkt->sport);
	(void)cid_cur_u16(c, &pkt->dport);
	(void)cid_cur_u32(c, &pkt->seq);
	(void)cid_cur_u32(c, &pkt->ack);
	(void)cid_cur_u16(c, &off_flags);
	(void)cid_cur_u16(c, &pkt->window);
	(void)cid_cur_u16(c, &pkt->l4_csum);
	(void)cid_cur_skip(c, 2); /* urgent pointer */
	pkt->tcp_flags = (uint8_t)(off_flags & 0xffu);
	hlen = (size_t)(off_flags >> 12) * 4u;
	/* Data offset below 5 words overlaps the fixed header; past the
	 * segment it claims bytes the packet does not have. */
	if (hlen < TCP_MIN_HDR || hlen > wire)
		return skip_as(why, CID_SKIP_TCP_BAD, CID_MALFORMED);
	if (!cid_cur_skip(c, hlen - TCP_MIN_HDR))
		return skip_as(why, CID_SKIP_TCP_TRUNC, CID_TRUNCATED);
	pkt->payload = cid_cur_data(c);
	pkt->payload_len = cid_cur_len(c);
	pkt->payload_wire_len = (uint32_t)(wire - hlen);
	return CID_OK;
}

/* RFC 768: ports, length (header included), checksum. The length may be
 * shorter than the IP payload (trailing bytes are not UDP data) and is
 * clamped to it when longer: a first IP fragment carries the datagram's
 * full length but only part of its bytes. Below 8 it cannot be right. */
static enum cid_status decode_udp(struct cid_pkt *pkt, enum cid_skip *why,
				  struct cid_cur *c, size_t wire)
{
	uint16_t ulen = 0;
	size_t len;

	if (cid_cur_len(c) < UDP_HDR) {
		if (wire < UDP_HDR)
			return skip_as(why, CID_SKIP_UDP_BAD, CID_MALFORMED);
		return skip_as(why, CID_SKIP_UDP_TRUNC, CID_TRUNCATED);
	}
	(void)cid_cur_u16(c, &pkt->sport);
	(void)cid_cur_u16(c, &pkt->dport);
	(void)cid_cur_u16(c, &ulen);
	(void)cid_cur_u16(c, &pkt->l4_csum);
	if (ulen < UDP_HDR)
		return skip_as(why, CID_SKIP_UDP_BAD, CID_MALFORMED);
	len = ulen < wire ? ulen : wire;
	len -= UDP_HDR;
	pkt->payload = cid_cur_data(c);
	pkt->payload_len = cid_cur_len(c) < len ? cid_cur_len(c) : len;
	pkt->payload_wire_len = (uint32_t)len;
	return CID_OK;
}

static enum cid_status decode_l4(struct cid_pkt *pkt, enum cid_skip *why, uint8_t proto,
				 struct cid_cur *c, size_t wire)
{
	pkt->proto = proto;
	if (proto == IPPROTO_TCP_)
		return decode_tcp(pkt, why, c, wire);
	if (proto == IPPROTO_UDP_)
		return decode_udp(pkt, why, c, wire);
	return skip_as(why, CID_SKIP_L4_OTHER, CID_UNSUPPORTED); /* ICMP, ESP, GRE, SCTP ... */
}

/* RFC 791 3.1. */
static enum cid_status decode_ipv4(struct cid_pkt *pkt, enum cid_skip *why, struct cid_cur *c)
{
	uint8_t vihl = 0, proto = 0;
	uint16_t total = 0, frag = 0;
	size_t hlen, wire;

	if (cid_cur_len(c) < IPV4_MIN_HDR)
		return skip_as(why, CID_SKIP_IP_TRUNC, CID_TRUNCATED);
	(void)cid_cur_u8(c, &vihl);
	(void)cid_cur_skip(c, 1); /* DSCP/ECN */
	(void)cid_cur_u16(c, &total);
	(void)cid_cur_u16(c, &pkt->ip_id);
	(void)cid_cur_u16(c, &frag);
	(void)cid_cur_u8(c, &pkt->ttl);
	(void)cid_cur_u8(c, &proto);
	(void)cid_cur_skip(c, 2); /* header checksum: not verified (offload) */
	(void)cid_cur_copy(c, pkt->src.b, 4);
	(void)cid_cur_copy(c, pkt->dst.b, 4);
	pkt->src.family = 4;
	pkt->dst.family = 4;
	pkt->proto = proto;

	hlen = (size_t)(vihl & 0x0fu) * 4u;
	if ((vihl >> 4) != 4 || hlen < IPV4_MIN_HDR)
		return skip_as(why, CID_SKIP_IP_BAD, CID_MALFORMED);
	wire = total;
	if (total == 0) {
		/* Total length 0: a segmentation-offload super-packet seen on
		 * the sending host before the NIC splits it (Linux BIG TCP
		 * leaves the field 0 above 64 KiB). Trust what was captured:
		 * the cursor plus the 20 bytes already read. */
		wire = cid_cur_len(c) + IPV4_MIN_HDR;
	}
	if (wire < hlen)
		return skip_as(why, CID_SKIP_IP_BAD, CID_MALFORMED);
	/* Options (RFC 791 3.1, IHL > 5) are skipped, not interpreted. */
	if (!cid_cur_skip(c, hlen - IPV4_MIN_HDR))
		return skip_as(why, CID_SKIP_IP_TRUNC, CID_TRUNCATED);
	wire -= hlen;
	/* Trim link padding; when the capture is shorter than the header says
	 * (snaplen), keep what is there. */
	cur_trim(c, wire);

	/* Flags and fragment offset: bit 0x2000 MF, low 13 bits the offset in
	 * 8-byte units. Only the first fragment holds the transport header. */
	if ((frag & 0x1fffu) != 0)
		return skip_as(why, CID_SKIP_IP_FRAGMENT, CID_UNSUPPORTED);
	pkt->first_fragment = (frag & 0x2000u) != 0;
	return decode_l4(pkt, why, proto, c, wire);
}

/* RFC 8200 3 (fixed header) and 4 (extension headers). */
static enum cid_status decode_ipv6(struct cid_pkt *pkt, enum cid_skip *why, struct cid_cur *c)
{
	uint32_t vtcfl = 0;
	uint16_t plen = 0;
	uint8_t nh = 0;
	size_t wire;

	if (cid_cur_len(c) < IPV6_HDR)
		return skip_as(why, CID_SKIP_IP_TRUNC, CID_TRUNCATED);
	(void)cid_cur_u32(c, &vtcfl);
	(void)cid_cur_u16(c, &plen);
	(void)cid_cur_u8(c, &nh);
	(void)cid_cur_u8(c, &pkt->ttl);
	(void)cid_cur_copy(c, pkt->src.b, 16);
	(void)cid_cur_copy(c, pkt->dst.b, 16);
	pkt->src.family = 6;
	pkt->dst.family = 6;
	pkt->proto = nh;
	if ((vtcfl >> 28) != 6)
		return skip_as(why, CID_SKIP_IP_BAD, CID_MALFORMED);
	/* Payload length 0: a jumbogram (RFC 2675) or an offload
	 * super-packet; the captured bytes are all we can go by. */
	wire = plen ? plen : cid_cur_len(c);
	cur_trim(c, wire); /* link padding */

	for (unsigned i = 0;; i++) {
		size_t elen;
		uint8_t next, hl;

		switch (nh) {
		case IPPROTO_HOPOPTS_:
		case IPPROTO_ROUTING_:
		case IPPROTO_DSTOPTS_:
		case IPPROTO_MH_:
		case IPPROTO_HIP_:
		case IPPROTO_SHIM6_:
		case IPPROTO_FRAGMENT_:
		case IPPROTO_AH_:
			break;
		case IPPROTO_NONE_:
			/* 4.7: nothing follows; not a transport packet. */
			return skip_as(why, CID_SKIP_L4_OTHER, CID_UNSUPPORTED);
		default:
			return decode_l4(pkt, why, nh, c, wire);
		}
		if (i >= IPV6_MAX_EXT)
			return skip_as(why, CID_SKIP_IPV6_EXT_BAD, CID_MALFORMED);
		/* Every extension header starts with next header and a length
		 * byte; the fragment header's second byte is reserved. */
		if (wire < 2)
			return skip_as(why, CID_SKIP_IPV6_EXT_BAD, CID_MALFORMED);
		if (!cid_cur_peek_u8(c, 0, &next) || !cid_cur_peek_u8(c, 1, &hl))
			return skip_as(why, CID_SKIP_IP_TRUNC, CID_TRUNCATED);
		if (nh == IPPROTO_FRAGMENT_)
			elen = 8; /* 4.5: fixed 8 bytes */
		else if (nh == IPPROTO_AH_)
			elen = ((size_t)hl + 2u) * 4u; /* RFC 4302 2.2: 32-bit words, minus 2 */
		else
			elen = ((size_t)hl + 1u) * 8u; /* 4.3-4.6: 8-octet units, not counting the first */
		if (elen > wire)
			return skip_as(why, CID_SKIP_IPV6_EXT_BAD, CID_MALFORMED);
		if (nh == IPPROTO_FRAGMENT_) {
			uint16_t offm;
			if (!cid_cur_peek_u16(c, 2, &offm))
				return skip_as(why, CID_SKIP_IP_TRUNC, CID_TRUNCATED);
			/* 4.5: offset in the high 13 bits, M flag in bit 0. */
			if ((offm & 0xfff8u) != 0)
				return skip_as(why, CID_SKIP_IP_FRAGMENT, CID_UNSUPPORTED);
			if (offm & 1u)
				pkt->first_fragment = true;
		}
		if (!cid_cur_skip(c, elen))
			return skip_as(why, CID_SKIP_IP_TRUNC, CID_TRUNCATED);
		wire -= elen;
		nh = next;
		pkt->proto = nh;
	}
}

void cid_decode_clear_ip(struct cid_pkt *pkt)
{
	memset(&pkt->src, 0, sizeof(pkt->src));
	memset(&pkt->dst, 0, sizeof(pkt->dst));
	pkt->ttl = 0;
	pkt->proto = 0;
	pkt->ip_id = 0;
	pkt->first_fragment = false;
	pkt->sport = 0;
	pkt->dport = 0;
	pkt->tcp_flags = 0;
	pkt->seq = 0;
	pkt->ack = 0;
	pkt->window = 0;
	pkt->l4_csum = 0;
	pkt->payload = NULL;
	pkt->payload_len = 0;
	pkt->payload_wire_len = 0;
}

enum cid_status cid_decode_ip(struct cid_pkt *pkt, enum cid_skip *why,
			      const uint8_t *p, size_t p_len)
{
	struct cid_cur c;
	uint8_t b;

	cid_decode_clear_ip(pkt);
	*why = CID_SKIP_NONE;

	cid_cur_init(&c, p, p ? p_len : 0);
	if (!cid_cur_peek_u8(&c, 0, &b))
		return skip_as(why, CID_SKIP_IP_TRUNC, CID_TRUNCATED);
	switch (b >> 4) {
	case 4:
		return decode_ipv4(pkt, why, &c);
	case 6:
		return decode_ipv6(pkt, why, &c);
	default:
		return skip_as(why, CID_SKIP_IP_BAD, CID_MALFORMED);
	}
}
