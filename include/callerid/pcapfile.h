/*
 * pcapfile.h - a streaming reader for pcap and pcapng files.
 *
 * Written for callerid rather than using pcap_open_offline because the
 * pipeline needs what libpcap's offline API does not give: the interface
 * of each pcapng packet (name and link type: a pcapng file may mix link
 * types), nanosecond timestamps from any if_tsresol, and on a damaged file a
 * message naming the byte offset and record number while everything before
 * it has been delivered. All parsing goes through the cursor. BPF filtering
 * stays with libpcap (pcap_compile on a dead handle per link type). Input
 * that starts with gzip's magic is inflated (zlib) on the way in, from a
 * file, standard input or memory alike; offsets are then those of the
 * decompressed data.
 */
#ifndef CID_PCAPFILE_H
#define CID_PCAPFILE_H

#include "callerid/common.h"

#define CID_PCAP_MAX_CAPLEN (256u * 1024u)     /* larger records are corrupt (libpcap's limit) */
#define CID_PCAP_MAX_BLOCK (16u * 1024u * 1024u)
#define CID_PCAP_MAX_IFACES 4096u

struct cid_pcap_rec {
	int64_t ts_ns;
	uint32_t caplen, wirelen;
	int dlt;               /* link type of this packet's interface */
	uint32_t ifid;         /* pcapng interface id (0 for pcap) */
	const uint8_t *data;   /* valid until the next call */
};

struct cid_pcapfile;

/* Opens path ("-" = standard input). NULL with the reason in err. */
struct cid_pcapfile *cid_pcapfile_open(const char *path, char *err, size_t err_len);
/* Reads from memory (fuzzing, tests). The buffer must outlive the reader. */
struct cid_pcapfile *cid_pcapfile_open_mem(const uint8_t *p, size_t p_len, char *err, size_t err_len);
void cid_pcapfile_free(struct cid_pcapfile *f);

/* 1: *rec filled; 0: clean end of file; -1: damaged or unreadable input —
 * cid_pcapfile_error() says what and where; reading cannot go on. Blocks
 * that are damaged but skippable (pcapng) are counted in
 * cid_pcapfile_warnings() and reported through cid_pcapfile_warning(). */
int cid_pcapfile_next(struct cid_pcapfile *f, struct cid_pcap_rec *rec);
const char *cid_pcapfile_error(const struct cid_pcapfile *f);
uint64_t cid_pcapfile_warnings(const struct cid_pcapfile *f);
/* The first warning's text ("" when none). */
const char *cid_pcapfile_warning(const struct cid_pcapfile *f);

bool cid_pcapfile_is_pcapng(const struct cid_pcapfile *f);
/* Number of interfaces seen so far (1 for pcap). */
uint32_t cid_pcapfile_num_ifaces(const struct cid_pcapfile *f);
/* Interface name (pcapng if_name) or NULL; link type. */
const char *cid_pcapfile_ifname(const struct cid_pcapfile *f, uint32_t ifid);
int cid_pcapfile_dlt(const struct cid_pcapfile *f, uint32_t ifid);
/* Records delivered so far and the byte offset of the next record. */
uint64_t cid_pcapfile_records(const struct cid_pcapfile *f);
uint64_t cid_pcapfile_offset(const struct cid_pcapfile *f);

#endif /* CID_PCAPFILE_H */
