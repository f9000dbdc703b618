/*
 * common.h - status codes, error codes, addresses and the caps that bound
 * every structure that grows on input.
 */
#ifndef CID_COMMON_H
#define CID_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Outcome of a parser. Never mixed with data; recorded, never asserted. */
enum cid_status {
	CID_OK = 0,
	CID_TRUNCATED,   /* need more bytes than we have */
	CID_MALFORMED,   /* the bytes contradict the format */
	CID_UNSUPPORTED, /* valid, but not something we decode */
};

const char *cid_status_name(enum cid_status s);

/* Environment / library failures (returned negated). */
enum cid_err {
	CID_EIO = 1,
	CID_ENOMEM,
	CID_EINVAL,
	CID_EDB,
	CID_EPCAP,
	CID_EVERSION,
};

#define CID_ERRBUF_SIZE 512

/* An IP address. v4 addresses use the first 4 bytes; the rest are zero so
 * that keys compare with memcmp over all 16 bytes. */
struct cid_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t b[16];
};

/* Formats an address as text (inet_ntop). Returns buf. */
char *cid_addr_str(const struct cid_addr *a, char *buf, size_t buf_len);
/* Parses text into an address. Returns true on success. */
bool cid_addr_parse(struct cid_addr *a, const char *s);

#define CID_ADDRSTRLEN 46

/* A network: address and prefix length (32/128 for a single address). */
struct cid_net {
	struct cid_addr addr;
	uint8_t prefix;
};
/* Parses "10.0.0.1", "10.0.0.0/8", "fd00::/64". false on bad input. */
bool cid_net_parse(struct cid_net *n, const char *s);
bool cid_net_match(const struct cid_net *n, const struct cid_addr *a);

/* Caps: every buffer, table and queue that grows on input is bounded here. */
#define CID_STREAM_CAP_DEFAULT (64u * 1024u)   /* bytes reassembled per direction */
#define CID_STREAM_OOO_CAP (64u * 1024u)       /* out-of-order bytes held per direction */
#define CID_STREAM_OOO_SEGS 64u                /* out-of-order segments held per direction */
#define CID_FLOW_MAX_DEFAULT 262144u           /* flows in the table */
#define CID_FLOW_MEM_DEFAULT (128u * 1024u * 1024u) /* TLS state, hello buffers, out-of-order data */
#define CID_FLOW_IDLE_DEFAULT_US (300LL * 1000000LL)
#define CID_BURST_GAP_DEFAULT_US (1000000LL)   /* idle gap that starts a new burst */
#define CID_FLOW_MAX_REQUESTS 4096u            /* bursts kept per flow */
#define CID_TLS_MAX_LIST 128u                  /* ciphers/extensions/groups kept */
#define CID_TLS_MAX_NAME 256u                  /* SNI / ALPN text kept */
#define CID_MAX_IFACES 4u                      /* interfaces remembered per flow */

/* Hashes for in-memory tables and change checks (never stored). */
/* FNV-1a over n bytes, continuing from h (start with CID_FNV1A_INIT). */
#define CID_FNV1A_INIT 14695981039346656037ull
static inline uint64_t cid_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = (const unsigned char *)p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* The splitmix64 finaliser: cheap, good avalanche. */
static inline uint64_t cid_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

#endif /* CID_COMMON_H */
