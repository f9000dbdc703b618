/*
 * writer.h - writes captured packets as pcap or pcapng, with rotation by
 * size (-C), by time (-G) and a ring of N files (-W), like tcpdump, so the
 * evidence behind a `callerid capture` can be handed to Wireshark.
 *
 * Files are created 0600 (they hold packet payloads). pcap files use the
 * nanosecond magic (0xa1b23c4d); pcapng files carry one Interface
 * Description Block per capture interface with if_name and if_tsresol = 9
 * (draft-ietf-opsawg-pcapng sections 4.1-4.3). Writes are buffered; the
 * caller flushes (the capture loop does every second).
 *
 * When a write fails (the disk is full), the file is cut back to the last
 * whole record that reached it, so every reader takes it to its end; the
 * error names the file, the byte and the packets it keeps, and the writer
 * takes no more packets (every later call fails with that error).
 */
#ifndef CID_WRITER_H
#define CID_WRITER_H

#include <sys/types.h>

#include "callerid/common.h"

#define CID_WRITER_MAX_IFACES 64u
#define CID_WRITER_MAX_RING 100000u

struct cid_writer_opts {
	const char *path;       /* file name; may hold strftime % codes (UTC) with rotate_sec */
	bool pcapng;            /* default: true when path ends in ".pcapng" */
	uint64_t rotate_bytes;  /* -C: start a new file before this size is passed; 0 never */
	int64_t rotate_sec;     /* -G: start a new file every this many seconds; 0 never */
	unsigned ring;          /* -W: keep at most this many files (the oldest is removed); 0 no limit */
	uint32_t snaplen;
	const char *post_rotate; /* -z: run "CMD FILE" on each file closed by a rotation; NULL none */
};

struct cid_writer;

/* Fills o with defaults for path (pcapng from the name, no rotation). */
void cid_writer_opts_default(struct cid_writer_opts *o, const char *path);

/* Makes a writer; no file is opened yet (see cid_writer_start). NULL with
 * the reason in err (bad options, out of memory). */
struct cid_writer *cid_writer_new(const struct cid_writer_opts *o, char *err, size_t err_len);

/* Declares a capture interface before cid_writer_start: its link type and
 * name. Returns the interface number to pass to cid_writer_packet (0, 1,
 * ...), or -CID_EINVAL when a pcap (not pcapng) file would need two link
 * types or there are too many interfaces. */
int cid_writer_add_iface(struct cid_writer *w, int dlt, const char *name);

/* Opens the first file at time now_ns (used for -G names). 0 or -CID_EIO
 * with cid_writer_error() set. */
int cid_writer_start(struct cid_writer *w, int64_t now_ns);

/* Appends one packet of interface iface; rotates first when -C or -G say
 * so. caplen bytes of p; wirelen is the original length. 0 or -CID_EIO
 * (see above: after a failed write, always -CID_EIO). */
int cid_writer_packet(struct cid_writer *w, unsigned iface, int64_t ts_ns, const uint8_t *p,
		      uint32_t caplen, uint32_t wirelen);

/* Pushes buffered packets to the file. 0 or -CID_EIO. */
int cid_writer_flush(struct cid_writer *w);

/* Gives the current file to uid:gid (for -Z: later files are created by
 * that user). 0 or -CID_EIO. */
int cid_writer_chown(struct cid_writer *w, uid_t uid, gid_t gid);

/* The current file's name ("" before start), files opened so far, packets
 * written in all files, and the last error text. */
const char *cid_writer_path(const struct cid_writer *w);
uint64_t cid_writer_files(const struct cid_writer *w);
uint64_t cid_writer_packets(const struct cid_writer *w);
const char *cid_writer_error(const struct cid_writer *w);
/* The failure was a symbolic link where the next file goes (O_NOFOLLOW):
 * someone placed it there, unlike a full disk. */
bool cid_writer_refused(const struct cid_writer *w);

/* The name of file number idx (0-based) for these options at time t_ns,
 * into buf; returns buf. Exposed for tests: tcpdump's scheme, with the
 * number placed before a .pcap/.pcapng extension. */
char *cid_writer_name(const struct cid_writer_opts *o, uint64_t idx, int64_t t_ns, char *buf,
		      size_t buf_len);

/* -z commands: started, and ended with a failure (could not be run, or a
 * non-zero exit or a signal; counted once reaped). cid_writer_reap()
 * collects the ones that ended, without waiting. */
uint64_t cid_writer_post_started(const struct cid_writer *w);
uint64_t cid_writer_post_failed(const struct cid_writer *w);
void cid_writer_reap(struct cid_writer *w);
/* Waits up to timeout_ms for the -z commands still running; returns how
 * many are left running (they are not killed). */
unsigned cid_writer_wait_post(struct cid_writer *w, int timeout_ms);

/* Flushes, closes and frees. NULL-safe. Does not wait for -z commands. */
void cid_writer_free(struct cid_writer *w);

#endif /* CID_WRITER_H */
