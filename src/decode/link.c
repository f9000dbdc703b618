/*
 * link.c - link-layer headers down to the IP header.
 *
 * Handles the link types libpcap gives us on Linux capture (`any` is
 * LINUX_SLL or LINUX_SLL2, a NIC is EN10MB, tun devices are RAW) and the
 * ones met in offline files (NULL / LOOP from BSD and macOS loopback,
 * IPV4 / IPV6). Every header is read through the cursor; on failure the
 * reason is reported in *why and nothing past the frame is touched.
 *
 * References: https://www.tcpdump.org/linktypes.html (LINKTYPE_* layouts),
 * IEEE 802.1Q (C-tag 0x8100, S-tag 0x88A8; 0x9100 is the old pre-standard
 * QinQ tag still used by some switches).
 */
#include "callerid/cursor.h"
#include "callerid/decode.h"
#include "decode_int.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_QINQ1 0x9100

#define ETH_HDR_LEN 14u
#define SLL_HDR_LEN 16u
#define SLL2_HDR_LEN 20u
#define NULL_HDR_LEN 4u

/* ARPHRD_NETLINK: SLL frames of nlmon devices; "protocol" is a netlink
 * family then, not an ethertype, so it must not be read as one. */
#define ARPHRD_NETLINK 824

/* BSD address families as they appear in NULL / LOOP headers. AF_INET is
 * 2 everywhere; AF_INET6 differs per OS: 24 (NetBSD, OpenBSD, BSD/OS),
 * 28 (FreeBSD, DragonFly), 30 (Darwin). */
#define BSD_AF_INET 2
#define BSD_AF_INET6_BSD 24
#define BSD_AF_INET6_FREEBSD 28
#define BSD_AF_INET6_DARWIN 30

static const char *const skip_names[CID_SKIP__COUNT] = {
	[CID_SKIP_NONE] = "none",
	[CID_SKIP_LINKTYPE] = "linktype",
	[CID_SKIP_LINK_TRUNC] = "link_trunc",
	[CID_SKIP_NOT_IP] = "not_ip",
	[CID_SKIP_IP_TRUNC] = "ip_trunc",
	[CID_SKIP_IP_BAD] = "ip_bad",
	[CID_SKIP_IP_FRAGMENT] = "ip_fragment",
	[CID_SKIP_IPV6_EXT_BAD] = "ipv6_ext_bad",
	[CID_SKIP_L4_OTHER] = "l4_other",
	[CID_SKIP_TCP_TRUNC] = "tcp_trunc",
	[CID_SKIP_TCP_BAD] = "tcp_bad",
	[CID_SKIP_UDP_TRUNC] = "udp_trunc",
	[CID_SKIP_UDP_BAD] = "udp_bad",
};

const char *cid_skip_name(enum cid_skip s)
{
	if ((unsigned)s >= (unsigned)CID_SKIP__COUNT || !skip_names[s])
		return "unknown";
	return skip_names[s];
}

/* The failure paths before IP: rare, so clearing here keeps the hot path
 * free of stores cid_decode_ip does anyway. */
static enum cid_status link_trunc(struct cid_pkt *pkt, enum cid_skip *why)
{
	cid_decode_clear_ip(pkt);
	*why = CID_SKIP_LINK_TRUNC;
	return CID_TRUNCATED;
}

static enum cid_status not_ip(struct cid_pkt *pkt, enum cid_skip *why)
{
	cid_decode_clear_ip(pkt);
	*why = CID_SKIP_NOT_IP;
	return CID_UNSUPPORTED;
}

/* The IP version nibble must agree with what the link layer announced. */
static enum cid_status decode_ip_version(struct cid_pkt *pkt, enum cid_skip *why,
					 const struct cid_cur *c, unsigned want)
{
	uint8_t b;
	if (!cid_cur_peek_u8(c, 0, &b)) {
		cid_decode_clear_ip(pkt);
		*why = CID_SKIP_IP_TRUNC;
		return CID_TRUNCATED;
	}
	if (want != 0 && (unsigned)(b >> 4) != want) {
		cid_decode_clear_ip(pkt);
		*why = CID_SKIP_IP_BAD;
		return CID_MALFORMED;
	}
	return cid_decode_ip(pkt, why, cid_cur_data(c), cid_cur_len(c));
}

/*
 * From an ethertype on: peel any number of VLAN tags (each tag is a 2-byte
 * TCI then the next ethertype; the loop ends because each tag consumes 4
 * bytes), then hand IPv4 / IPv6 to the IP decoder. num_vlans saturates at
 * 255; vlan keeps the innermost tag's 12-bit VID.
 */
static enum cid_status decode_ethertype(struct cid_pkt *pkt, enum cid_skip *why,
					struct cid_cur *c, uint16_t etype)
{
	while (etype == ETH_P_8021Q || etype == ETH_P_8021AD || etype == ETH_P_QINQ1) {
		uint16_t tci;
		if (!cid_cur_u16(c, &tci) || !cid_cur_u16(c, &etype))
			return link_trunc(pkt, why);
		pkt->vlan = (uint16_t)(tci & 0x0fffu);
		if (pkt->num_vlans != UINT8_MAX)
			pkt->num_vlans++;
	}
	if (etype == ETH_P_IPV4)
		return decode_ip_version(pkt, why, c, 4);
	if (etype == ETH_P_IPV6)
		return decode_ip_version(pkt, why, c, 6);
	return not_ip(pkt, why); /* ARP, LLDP, 802.3 length field, PPPoE, MPLS ... */
}

static enum cid_status decode_family(struct cid_pkt *pkt, enum cid_skip *why,
				     const struct cid_cur *c, uint32_t family)
{
	switch (family) {
	case BSD_AF_INET:
		return decode_ip_version(pkt, why, c, 4);
	case BSD_AF_INET6_BSD:
	case BSD_AF_INET6_FREEBSD:
	case BSD_AF_INET6_DARWIN:
		return decode_ip_version(pkt, why, c, 6);
	default:
		return not_ip(pkt, why);
	}
}

/* LINKTYPE_NULL: a 4-byte address family in the capturing host's byte
 * order, which need not be ours: a value with a zero low half and a
 * non-zero high half is a small family written the other way round. */
static enum cid_status decode_null(struct cid_pkt *pkt, enum cid_skip *why, struct cid_cur *c)
{
	uint32_t fam;
	if (!cid_cur_u32(c, &fam))
		return link_trunc(pkt, why);
	if ((fam & 0xffffu) == 0)
		fam = ((fam >> 24) & 0xffu) | ((fam >> 8) & 0xff00u);
	return decode_family(pkt, why, c, fam);
}

/* LINKTYPE_LOOP: the same family, always in network byte order. */
static enum cid_status decode_loop(struct cid_pkt *pkt, enum cid_skip *why, struct cid_cur *c)
{
	uint32_t fam;
	if (!cid_cur_u32(c, &fam))
		return link_trunc(pkt, why);
	return decode_family(pkt, why, c, fam);
}

/* LINKTYPE_ETHERNET: destination(6), source(6), ethertype(2). Frames
 * shorter than 60 bytes are padded on the wire; the IP decoder trims the
 * padding using the IP length fields. */
static enum cid_status decode_eth(struct cid_pkt *pkt, enum cid_skip *why, struct cid_cur *c)
{
	uint16_t etype = 0;
	if (!cid_cur_skip(c, 12) || !cid_cur_u16(c, &etype))
		return link_trunc(pkt, why);
	return decode_ethertype(pkt, why, c, etype);
}

/* LINKTYPE_PPP, LINKTYPE_PPP_HDLC: the address and control bytes (ff 03)
 * when not elided, then the protocol field, one byte when compressed (an
 * odd first byte, RFC 1661 6.5): 0x0021 IPv4, 0x0057 IPv6. */
static enum cid_status decode_ppp(struct cid_pkt *pkt, enum cid_skip *why, struct cid_cur *c)
{
	uint8_t b0 = 0, b1 = 0;
	uint16_t proto;
	if (cid_cur_peek_u8(c, 0, &b0) && b0 == 0xff && cid_cur_peek_u8(c, 1, &b1) && b1 == 0x03)
		(void)cid_cur_skip(c, 2);
	if (!cid_cur_u8(c, &b0))
		return link_trunc(pkt, why);
	proto = b0;
	if (!(b0 & 1)) {
		if (!cid_cur_u8(c, &b1))
			return link_trunc(pkt, why);
		proto = (uint16_t)(b0 << 8 | b1);
	}
	if (proto == 0x0021)
		return decode_ip_version(pkt, why, c, 4);
	if (proto == 0x0057)
		return decode_ip_version(pkt, why, c, 6);
	return not_ip(pkt, why); /* LCP, IPCP, CCP ... */
}

static uint8_t clamp_pkttype(uint16_t v)
{
	return v < CID_PKTTYPE_UNKNOWN ? (uint8_t)v : (uint8_t)CID_PKTTYPE_UNKNOWN;
}

/* LINKTYPE_LINUX_SLL: packet type(2), ARPHRD type(2), link-layer address
 * length(2), address(8, zero padded), protocol(2). */
static enum cid_status decode_sll(struct cid_pkt *pkt, enum cid_skip *why, struct cid_cur *c)
{
	uint16_t ptype = 0, hatype = 0, proto = 0;
	if (cid_cur_len(c) < SLL_HDR_LEN)
		return link_trunc(pkt, why);
	(void)cid_cur_u16(c, &ptype);
	(void)cid_cur_u16(c, &hatype);
	(void)cid_cur_skip(c, 10); /* address length + address */
	(void)cid_cur_u16(c, &proto);
	pkt->pkttype = clamp_pkttype(ptype);
	if (hatype == ARPHRD_NETLINK)
		return not_ip(pkt, why);
	return decode_ethertype(pkt, why, c, proto);
}

/* LINKTYPE_LINUX_SLL2: protocol(2), reserved(2), interface index(4),
 * ARPHRD type(2), packet type(1), address length(1), address(8). */
static enum cid_status decode_sll2(struct cid_pkt *pkt, enum cid_skip *why, struct cid_cur *c)
{
	uint16_t proto = 0, hatype = 0;
	uint32_t ifindex = 0;
	uint8_t ptype = 0;
	if (cid_cur_len(c) < SLL2_HDR_LEN)
		return link_trunc(pkt, why);
	(void)cid_cur_u16(c, &proto);
	(void)cid_cur_skip(c, 2);
	(void)cid_cur_u32(c, &ifindex);
	(void)cid_cur_u16(c, &hatype);
	(void)cid_cur_u8(c, &ptype);
	(void)cid_cur_skip(c, 9); /* address length + address */
	pkt->ifindex = ifindex;
	pkt->pkttype = ptype;
	if (hatype == ARPHRD_NETLINK)
		return not_ip(pkt, why);
	return decode_ethertype(pkt, why, c, proto);
}

enum cid_status cid_decode_frame(struct cid_pkt *pkt, enum cid_skip *why, int dlt,
				 const uint8_t *p, size_t p_len)
{
	struct cid_cur c;

	pkt->ifindex = 0;
	pkt->pkttype = CID_PKTTYPE_UNKNOWN;
	pkt->num_vlans = 0;
	pkt->vlan = 0;
	*why = CID_SKIP_NONE;
	cid_cur_init(&c, p, p ? p_len : 0);

	switch (dlt) {
	case CID_DLT_EN10MB:
		return decode_eth(pkt, why, &c);
	case CID_DLT_LINUX_SLL:
		return decode_sll(pkt, why, &c);
	case CID_DLT_LINUX_SLL2:
		return decode_sll2(pkt, why, &c);
	case CID_DLT_RAW:
	case 12: /* DLT_RAW on most platforms (libpcap maps it to LINKTYPE_RAW) */
	case 14: /* DLT_RAW on OpenBSD */
		return decode_ip_version(pkt, why, &c, 0);
	case CID_DLT_IPV4:
		return decode_ip_version(pkt, why, &c, 4);
	case CID_DLT_IPV6:
		return decode_ip_version(pkt, why, &c, 6);
	case CID_DLT_NULL:
		return decode_null(pkt, why, &c);
	case CID_DLT_LOOP:
		return decode_loop(pkt, why, &c);
	case CID_DLT_PPP:
	case CID_DLT_PPP_HDLC:
		return decode_ppp(pkt, why, &c);
	default:
		cid_decode_clear_ip(pkt);
		*why = CID_SKIP_LINKTYPE;
		return CID_UNSUPPORTED;
	}
}
