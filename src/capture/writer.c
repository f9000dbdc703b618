/*
 * writer.c - pcap / pcapng output with tcpdump-style rotation (writer.h).
 *
 * Formats: pcap as in draft-ietf-opsawg-pcap section 4 (file header) and 5
 * (packet record), with the nanosecond-resolution magic 0xa1b23c4d; pcapng
 * as in draft-ietf-opsawg-pcapng section 4.1 (Section Header Block), 4.2
 * (Interface Description Block, options if_name = 2 and if_tsresol = 9) and
 * 4.3 (Enhanced Packet Block). Both are written in host byte order, which
 * both formats allow (the magic tells the reader).
 *
 * Records are gathered in a buffer of whole records and written with
 * write(2), so when the disk fills up the writer knows which records
 * reached the file: it cuts the file back to the last whole one (tcpdump
 * leaves half a packet at the end, which readers report as a truncated
 * file) and refuses further packets with an error naming the file.
 *
 * -z CMD (tcpdump's post-rotate command): each file a rotation closes is
 * handed to "CMD FILE", started with posix_spawnp (the process has other
 * threads: no fork) at the lowest priority, so that compressing does not
 * take the capture's CPU; children are reaped as they end. As in tcpdump,
 * the last file, closed by the end of the capture, is not handed over.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "callerid/writer.h"

#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_IDB 0x00000001u
#define PCAPNG_EPB 0x00000006u
#define PCAPNG_BOM 0x1A2B3C4Du
#define WRITER_BUF (1u << 20)
#define MAX_ENDS (WRITER_BUF / 16u + 16u) /* records in the buffer: 16 bytes at least */
#define END_PKT 0x80000000u               /* marks a record that is a packet */
#define MAX_POST 64u                      /* -z commands running at once */

extern char **environ;

struct wif {
	int dlt;
	char name[64];
	bool described;   /* IDB written in the current pcapng file */
};

struct cid_writer {
	struct cid_writer_opts o;
	char *path_copy;
	int fd;               /* the current file; -1 when none is open */
	uint8_t *buf;         /* whole records not written yet */
	size_t buf_len;
	uint32_t *ends;       /* end offset in buf of each record there (| END_PKT) */
	size_t num_ends;
	uint64_t file_off;    /* bytes of the current file written out */
	char cur[4096];
	uint64_t cur_bytes;   /* file_off + buf_len */
	uint64_t file_pkts;   /* packets in the current file (written or buffered) */
	bool failed;          /* a write failed: no more packets */
	bool refused;         /* ... because a symbolic link stood where a file goes */
	int64_t file_start_ns;
	uint64_t num_files;
	uint64_t num_pkts;
	struct wif ifs[CID_WRITER_MAX_IFACES];
	unsigned num_ifs;
	char **ring_names;    /* the last o.ring file names, for removal */
	char *post_copy;      /* o.post_rotate */
	pid_t post[MAX_POST]; /* -z commands not reaped yet */
	unsigned num_post;
	uint64_t post_started, post_failed;
	char err[CID_ERRBUF_SIZE];
};

static void werr(struct cid_writer *w, const char *what)
{
	snprintf(w->err, sizeof(w->err), "%s %.300s: %s", what, w->cur, strerror(errno));
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

void cid_writer_opts_default(struct cid_writer_opts *o, const char *path)
{
	memset(o, 0, sizeof(*o));
	o->path = path;
	o->pcapng = path && ends_with(path, ".pcapng");
	o->snaplen = 262144;
}

static unsigned digits(unsigned long long v)
{
	unsigned d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

char *cid_writer_name(const struct cid_writer_opts *o, uint64_t idx, int64_t t_ns, char *buf, size_t buf_len)
{
	char base[4096];
	const char *ext = "";
	size_t stem;
	bool has_pct = strchr(o->path, '%') != NULL;
	bool numbered = o->rotate_bytes || (o->rotate_sec && !has_pct);
	if (o->rotate_sec && has_pct) {
		time_t t = (time_t)(t_ns / 1000000000LL);
		struct tm tm;
		size_t n = 0;
		/* the user's -w pattern is the format, as with tcpdump -G */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		if (gmtime_r(&t, &tm))
			n = strftime(base, sizeof(base), o->path, &tm);
#pragma GCC diagnostic pop
		if (!n)
			snprintf(base, sizeof(base), "%s", o->path);
	} else {
		snprintf(base, sizeof(base), "%s", o->path);
	}
	if (!numbered || (!o->ring && idx == 0)) {
		snprintf(buf, buf_len, "%s", base);
		return buf;
	}
	stem = strlen(base);
	if (ends_with(base, ".pcapng"))
		ext = ".pcapng";
	else if (ends_with(base, ".pcap"))
		ext = ".pcap";
	stem -= strlen(ext);
	if (o->ring)
		snprintf(buf, buf_len, "%.*s%0*llu%s", (int)stem, base, (int)digits(o->ring - 1),
			 (unsigned long long)(idx % o->ring), ext);
	else
		snprintf(buf, buf_len, "%.*s%llu%s", (int)stem, base, (unsigned long long)idx, ext);
	return buf;
}

struct cid_writer *cid_writer_new(const struct cid_writer_opts *o, char *err, size_t err_len)
{
	struct cid_writer *w;
	if (!o->path || !*o->path) {
		snprintf(err, err_len, "no output file name");
		return NULL;
	}
	if (o->ring > CID_WRITER_MAX_RING) {
		snprintf(err, err_len, "ring of %u files is more than %u", o->ring, CID_WRITER_MAX_RING);
		return NULL;
	}
	if (o->ring && !o->rotate_bytes && !o->rotate_sec) {
		snprintf(err, err_len, "a ring of files (-W) needs -C or -G");
		return NULL;
	}
	if (o->rotate_sec < 0) {
		snprintf(err, err_len, "negative rotation interval");
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		goto oom;
	w->fd = -1;
	w->o = *o;
	w->path_copy = strdup(o->path);
	if (o->post_rotate && !(w->post_copy = strdup(o->post_rotate))) {
		free(w->path_copy);
		w->path_copy = NULL;
	}
	w->buf = malloc(WRITER_BUF);
	w->ends = malloc(MAX_ENDS * sizeof(*w->ends));
	if (o->ring)
		w->ring_names = calloc(o->ring, sizeof(char *));
	if (!w->path_copy || !w->buf || !w->ends || (o->ring && !w->ring_names))
		goto oom;
	w->o.path = w->path_copy;
	w->o.post_rotate = w->post_copy;
	if (!w->o.snaplen)
		w->o.snaplen = 262144;
	return w;
oom:
	cid_writer_free(w);
	snprintf(err, err_len, "out of memory");
	return NULL;
}

int cid_writer_add_iface(struct cid_writer *w, int dlt, const char *name)
{
	if (w->num_ifs >= CID_WRITER_MAX_IFACES) {
		snprintf(w->err, sizeof(w->err), "too many interfaces");
		return -CID_EINVAL;
	}
	/* A pcap file has one link type (pcap file header, LinkType field). */
	if (!w->o.pcapng && w->num_ifs && w->ifs[0].dlt != dlt) {
		snprintf(w->err, sizeof(w->err),
			 "interfaces with different link types need a .pcapng output file");
		return -CID_EINVAL;
	}
	w->ifs[w->num_ifs].dlt = dlt;
	snprintf(w->ifs[w->num_ifs].name, sizeof(w->ifs[w->num_ifs].name), "%s", name ? name : "");
	w->ifs[w->num_ifs].described = false;
	return (int)w->num_ifs++;
}

/* A write stopped after `done` bytes of the buffer: cut the file back to
 * the last whole record among them, so it stays readable to its end. */
static void cut_back(struct cid_writer *w, size_t done, int err)
{
	size_t keep = 0, lost = 0;
	uint64_t at, failed_at = w->file_off + (uint64_t)done;
	for (size_t i = 0; i < w->num_ends; i++) {
		size_t end = w->ends[i] & ~END_PKT;
		if (end <= done)
			keep = end;
		else if (w->ends[i] & END_PKT)
			lost++;
	}
	at = w->file_off + keep;
	w->num_pkts -= lost;
	w->file_pkts -= lost;
	w->failed = true;
	w->buf_len = 0;
	w->num_ends = 0;
	w->cur_bytes = at;
	if (at == 0) {
		/* not even the file header fit: no file rather than an empty one */
		(void)unlink(w->cur);
		snprintf(w->err, sizeof(w->err), "cannot write %.300s: %s (file removed)", w->cur, strerror(err));
		return;
	}
	if (ftruncate(w->fd, (off_t)at) != 0)
		snprintf(w->err, sizeof(w->err), "cannot write %.300s at byte %llu: %s (and cannot cut it back: %s)",
			 w->cur, (unsigned long long)failed_at, strerror(err), strerror(errno));
	else
		snprintf(w->err, sizeof(w->err),
			 "cannot write %.300s at byte %llu: %s; it keeps its first %llu packets (%llu bytes)", w->cur,
			 (unsigned long long)failed_at, strerror(err), (unsigned long long)w->file_pkts,
			 (unsigned long long)at);
}

/* Writes the buffer out. 0, or -CID_EIO with the file cut back. */
static int flush_buf(struct cid_writer *w)
{
	size_t done = 0;
	while (done < w->buf_len) {
		ssize_t r = write(w->fd, w->buf + done, w->buf_len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			cut_back(w, done, r < 0 ? errno : EIO);
			return -CID_EIO;
		}
		done += (size_t)r;
	}
	w->file_off += w->buf_len;
	w->buf_len = 0;
	w->num_ends = 0;
	return 0;
}

/* Makes room for a record of n bytes (records never exceed the buffer:
 * snaplen is at most 262144). */
static int begin_record(struct cid_writer *w, size_t n)
{
	if (w->failed)
		return -CID_EIO;
	if ((w->buf_len + n > WRITER_BUF || w->num_ends == MAX_ENDS) && flush_buf(w) < 0)
		return -CID_EIO;
	return 0;
}

static void end_record(struct cid_writer *w, bool pkt)
{
	w->ends[w->num_ends++] = (uint32_t)w->buf_len | (pkt ? END_PKT : 0);
}

static int put(struct cid_writer *w, const void *p, size_t n)
{
	if (w->buf_len + n > WRITER_BUF) { /* begin_record was not asked for enough */
		snprintf(w->err, sizeof(w->err), "record larger than announced");
		return -CID_EIO;
	}
	if (n)
		memcpy(w->buf + w->buf_len, p, n);
	w->buf_len += n;
	w->cur_bytes += n;
	return 0;
}

static int put32(struct cid_writer *w, uint32_t v)
{
	return put(w, &v, 4);
}

static int put16(struct cid_writer *w, uint16_t v)
{
	return put(w, &v, 2);
}

static int pad4(struct cid_writer *w, size_t n)
{
	static const uint8_t zero[4];
	return put(w, zero, (4 - (n & 3)) & 3);
}

/* pcapng 4.2: Interface Description Block with if_name and if_tsresol. */
static int write_idb(struct cid_writer *w, struct wif *i)
{
	size_t nlen = strlen(i->name);
	uint32_t total = 20 + 8 /* if_tsresol */ + 4 /* opt_endofopt */;
	int r = 0;
	if (nlen)
		total += 4 + (uint32_t)((nlen + 3) & ~(size_t)3);
	if (begin_record(w, total) < 0)
		return -CID_EIO;
	r |= put32(w, PCAPNG_IDB);
	r |= put32(w, total);
	r |= put16(w, (uint16_t)i->dlt);
	r |= put16(w, 0);
	r |= put32(w, w->o.snaplen);
	if (nlen) {
		r |= put16(w, 2);
		r |= put16(w, (uint16_t)nlen);
		r |= put(w, i->name, nlen);
		r |= pad4(w, nlen);
	}
	r |= put16(w, 9);  /* if_tsresol: 10^-9 */
	r |= put16(w, 1);
	r |= put(w, "\x09\0\0\0", 4);
	r |= put32(w, 0);  /* opt_endofopt */
	r |= put32(w, total);
	end_record(w, false);
	i->described = r == 0;
	return r ? -CID_EIO : 0;
}

static int write_header(struct cid_writer *w)
{
	int r = 0;
	if (begin_record(w, w->o.pcapng ? 28 : 24) < 0)
		return -CID_EIO;
	if (w->o.pcapng) {
		/* 4.1: SHB, version 1.0, section length unknown (-1), no options. */
		r |= put32(w, PCAPNG_SHB);
		r |= put32(w, 28);
		r |= put32(w, PCAPNG_BOM);
		r |= put16(w, 1);
		r |= put16(w, 0);
		r |= put32(w, 0xffffffffu);
		r |= put32(w, 0xffffffffu);
		r |= put32(w, 28);
		end_record(w, false);
		for (unsigned i = 0; i < w->num_ifs && !r; i++)
			r |= write_idb(w, &w->ifs[i]);
	} else {
		r |= put32(w, PCAP_MAGIC_NS);
		r |= put16(w, 2);
		r |= put16(w, 4);
		r |= put32(w, 0);  /* reserved (was thiszone) */
		r |= put32(w, 0);  /* reserved (was sigfigs) */
		r |= put32(w, w->o.snaplen);
		r |= put32(w, (uint32_t)(w->num_ifs ? w->ifs[0].dlt : 1));
		end_record(w, false);
	}
	return r ? -CID_EIO : 0;
}

static int close_file(struct cid_writer *w)
{
	int r = 0;
	if (w->fd < 0)
		return 0;
	if (!w->failed && flush_buf(w) < 0)
		r = -CID_EIO;
	if (close(w->fd) != 0 && !r) {
		werr(w, "cannot write");
		r = -CID_EIO;
	}
	w->fd = -1;
	return r;
}

void cid_writer_reap(struct cid_writer *w)
{
	unsigned k = 0;
	for (unsigned i = 0; i < w->num_post; i++) {
		int st;
		pid_t r = waitpid(w->post[i], &st, WNOHANG);
		if (r == 0 || (r < 0 && errno == EINTR)) {
			w->post[k++] = w->post[i]; /* still running */
			continue;
		}
		if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			w->post_failed++;
	}
	w->num_post = k;
}

/* Hands the file just closed to the -z command. */
static void post_rotate(struct cid_writer *w, const char *file)
{
	char *argv[3];
	pid_t pid;
	int rc;
	cid_writer_reap(w);
	w->post_started++;
	if (w->num_post == MAX_POST) {
		/* MAX_POST commands still busy: this file stays as it is */
		w->post_failed++;
		return;
	}
	argv[0] = w->post_copy;
	argv[1] = (char *)(uintptr_t)file;
	argv[2] = NULL;
	rc = posix_spawnp(&pid, w->post_copy, NULL, NULL, argv, environ);
	if (rc != 0) {
		w->post_failed++;
		return;
	}
	(void)setpriority(PRIO_PROCESS, (id_t)pid, 19);
	w->post[w->num_post++] = pid;
}

unsigned cid_writer_wait_post(struct cid_writer *w, int timeout_ms)
{
	struct timespec nap = {0, 10 * 1000 * 1000};
	for (int waited = 0; w->num_post > 0 && waited < timeout_ms; waited += 10) {
		cid_writer_reap(w);
		if (w->num_post > 0)
			nanosleep(&nap, NULL);
	}
	cid_writer_reap(w);
	return w->num_post;
}

uint64_t cid_writer_post_started(const struct cid_writer *w) { return w->post_started; }
uint64_t cid_writer_post_failed(const struct cid_writer *w) { return w->post_failed; }

static int open_file(struct cid_writer *w, int64_t now_ns)
{
	int fd;
	uint64_t idx = w->num_files;
	cid_writer_name(&w->o, idx, now_ns, w->cur, sizeof(w->cur));
	if (w->o.ring) {
		/* The ring: the file written N files ago goes. */
		char **slot = &w->ring_names[idx % w->o.ring];
		if (*slot && strcmp(*slot, w->cur))
			unlink(*slot);
		free(*slot);
		*slot = strdup(w->cur);
	}
	fd = open(w->cur, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		w->refused = errno == ELOOP;
		werr(w, w->refused ? "refusing to write through a symbolic link at" : "cannot create");
		w->failed = true;
		return -CID_EIO;
	}
	w->fd = fd;
	w->buf_len = 0;
	w->num_ends = 0;
	w->file_off = 0;
	w->file_pkts = 0;
	w->cur_bytes = 0;
	w->file_start_ns = now_ns;
	w->num_files++;
	for (unsigned i = 0; i < w->num_ifs; i++)
		w->ifs[i].described = false;
	return write_header(w);
}

int cid_writer_start(struct cid_writer *w, int64_t now_ns)
{
	if (w->fd >= 0)
		return 0;
	return open_file(w, now_ns);
}

static size_t record_size(const struct cid_writer *w, uint32_t caplen)
{
	if (w->o.pcapng)
		return 32 + (((size_t)caplen + 3) & ~(size_t)3);
	return 16 + (size_t)caplen;
}

int cid_writer_packet(struct cid_writer *w, unsigned iface, int64_t ts_ns, const uint8_t *p, uint32_t caplen,
		      uint32_t wirelen)
{
	int r = 0;
	uint64_t ts = ts_ns < 0 ? 0 : (uint64_t)ts_ns;
	size_t rec = record_size(w, caplen);
	if (iface >= w->num_ifs) {
		snprintf(w->err, sizeof(w->err), "packet from undeclared interface %u", iface);
		return -CID_EINVAL;
	}
	if (w->failed)
		return -CID_EIO;
	if (w->fd < 0 && open_file(w, ts_ns) < 0)
		return -CID_EIO;
	/* Rotation (tcpdump -C / -G): never leave a file with only a header. */
	if ((w->o.rotate_bytes && w->cur_bytes + rec > w->o.rotate_bytes && w->cur_bytes > 256) ||
	    (w->o.rotate_sec && ts_ns - w->file_start_ns >= w->o.rotate_sec * 1000000000LL)) {
		char closed[sizeof(w->cur)];
		memcpy(closed, w->cur, sizeof(closed));
		if (close_file(w) < 0)
			return -CID_EIO;
		if (w->post_copy)
			post_rotate(w, closed);
		if (open_file(w, ts_ns) < 0)
			return -CID_EIO;
	}
	if (caplen > w->o.snaplen)
		caplen = w->o.snaplen;
	if (w->o.pcapng && !w->ifs[iface].described && write_idb(w, &w->ifs[iface]) < 0)
		return -CID_EIO;
	if (begin_record(w, record_size(w, caplen)) < 0)
		return -CID_EIO;
	if (w->o.pcapng) {
		uint32_t total = (uint32_t)record_size(w, caplen);
		r |= put32(w, PCAPNG_EPB);
		r |= put32(w, total);
		r |= put32(w, iface);
		r |= put32(w, (uint32_t)(ts >> 32));
		r |= put32(w, (uint32_t)ts);
		r |= put32(w, caplen);
		r |= put32(w, wirelen);
		r |= put(w, p, caplen);
		r |= pad4(w, caplen);
		r |= put32(w, total);
	} else {
		r |= put32(w, (uint32_t)(ts / 1000000000u));
		r |= put32(w, (uint32_t)(ts % 1000000000u));
		r |= put32(w, caplen);
		r |= put32(w, wirelen);
		r |= put(w, p, caplen);
	}
	if (r)
		return -CID_EIO;
	end_record(w, true);
	w->num_pkts++;
	w->file_pkts++;
	return 0;
}

int cid_writer_flush(struct cid_writer *w)
{
	if (w->failed)
		return -CID_EIO;
	if (w->fd >= 0 && flush_buf(w) < 0)
		return -CID_EIO;
	return 0;
}

int cid_writer_chown(struct cid_writer *w, uid_t uid, gid_t gid)
{
	if (w->fd >= 0 && fchown(w->fd, uid, gid) != 0) {
		werr(w, "cannot chown");
		return -CID_EIO;
	}
	return 0;
}

const char *cid_writer_path(const struct cid_writer *w)
{
	return w->cur;
}

uint64_t cid_writer_files(const struct cid_writer *w)
{
	return w->num_files;
}

uint64_t cid_writer_packets(const struct cid_writer *w)
{
	return w->num_pkts;
}

bool cid_writer_refused(const struct cid_writer *w)
{
	return w && w->refused;
}

const char *cid_writer_error(const struct cid_writer *w)
{
	return w->err;
}

void cid_writer_free(struct cid_writer *w)
{
	if (!w)
		return;
	close_file(w);
	if (w->ring_names)
		for (unsigned i = 0; i < w->o.ring; i++)
			free(w->ring_names[i]);
	free(w->ring_names);
	free(w->buf);
	free(w->ends);
	free(w->path_copy);
	free(w->post_copy);
	free(w);
}
