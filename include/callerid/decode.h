/*
 * decode.h - one captured frame to addresses, ports and transport payload.
 *
 * Pure: bytes in, struct out, no I/O, no globals. Link types handled:
 * EN10MB (with any number of 802.1Q / 802.1ad tags), LINUX_SLL, LINUX_SLL2,
 * RAW (and IPV4/IPV6 raw), NULL and LOOP; then IPv4 (options; fragments),
 * IPv6 (extension headers), TCP, UDP. Whatever is not decoded is reported
 * with a reason so the caller can count it per reason.
 */
#ifndef CID_DECODE_H
#define CID_DECODE_H

#include "callerid/common.h"

/* DLT values as in pcap/dlt.h, repeated so the pure core needs no libpcap. */
#define CID_DLT_NULL 0
#define CID_DLT_EN10MB 1
#define CID_DLT_PPP 9
#define CID_DLT_PPP_HDLC 50
#define CID_DLT_RAW 101      /* LINKTYPE_RAW; libpcap may also report 12 or 14 */
#define CID_DLT_LOOP 108
#define CID_DLT_LINUX_SLL 113
#define CID_DLT_IPV4 228
#define CID_DLT_IPV6 229
#define CID_DLT_LINUX_SLL2 276

/* Why a frame was not turned into a TCP/UDP packet. Keep in step with
 * cid_skip_name(). */
enum cid_skip {
	CID_SKIP_NONE = 0,
	CID_SKIP_LINKTYPE,       /* link type not supported */
	CID_SKIP_LINK_TRUNC,     /* link header cut short */
	CID_SKIP_NOT_IP,         /* ARP, LLDP, ... */
	CID_SKIP_IP_TRUNC,       /* IP header cut short */
	CID_SKIP_IP_BAD,         /* bad version, header length, total length */
	CID_SKIP_IP_FRAGMENT,    /* non-first fragment: counted, not parsed */
	CID_SKIP_IPV6_EXT_BAD,   /* extension header chain broken */
	CID_SKIP_L4_OTHER,       /* ICMP, ESP, GRE, SCTP, ... */
	CID_SKIP_TCP_TRUNC,
	CID_SKIP_TCP_BAD,        /* data offset < 5 or past the segment */
	CID_SKIP_UDP_TRUNC,
	CID_SKIP_UDP_BAD,
	CID_SKIP__COUNT
};

const char *cid_skip_name(enum cid_skip s);

/* SLL packet types (direction), as in linux/if_packet.h. */
#define CID_PKTTYPE_HOST 0
#define CID_PKTTYPE_OUTGOING 4
#define CID_PKTTYPE_UNKNOWN 0xff

#define CID_TCP_FIN 0x01
#define CID_TCP_SYN 0x02
#define CID_TCP_RST 0x04
#define CID_TCP_PSH 0x08
#define CID_TCP_ACK 0x10

struct cid_pkt {
	/* link */
	uint32_t ifindex;        /* SLL2 interface index; 0 when not known */
	uint8_t pkttype;         /* SLL/SLL2 packet type, else CID_PKTTYPE_UNKNOWN */
	uint8_t num_vlans;
	uint16_t vlan;           /* innermost VLAN id */
	/* network */
	struct cid_addr src, dst;
	uint8_t ttl;             /* TTL / hop limit */
	uint8_t proto;           /* 6 TCP, 17 UDP */
	uint16_t ip_id;          /* IPv4 identification; 0 for IPv6 */
	bool first_fragment;     /* IPv4/IPv6 first fragment of a fragmented datagram (MF set) */
	/* transport */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint16_t window;
	uint16_t l4_csum;        /* checksum as on the wire: dedup signature */
	const uint8_t *payload;  /* borrowed from the frame */
	size_t payload_len;      /* bytes present (may be < wire length if snaplen cut) */
	uint32_t payload_wire_len; /* payload length per the IP header */
};

/*
 * Decodes one frame of link type dlt. On CID_OK *pkt describes a TCP or UDP
 * packet whose payload points into p. Otherwise *why says what stopped it
 * (CID_TRUNCATED: cut short; CID_MALFORMED: contradicts the format;
 * CID_UNSUPPORTED: fine but not TCP/UDP over IP). pkt may be partly filled
 * (link fields) on failure.
 */
enum cid_status cid_decode_frame(struct cid_pkt *pkt, enum cid_skip *why, int dlt,
				 const uint8_t *p, size_t p_len);

/* Decodes from an IP header on (used by RAW and by the link decoders). */
enum cid_status cid_decode_ip(struct cid_pkt *pkt, enum cid_skip *why,
			      const uint8_t *p, size_t p_len);

#endif /* CID_DECODE_H */
