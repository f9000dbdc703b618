/*
 * pcapfile.c - pcap and pcapng reader (see pcapfile.h).
 *
 * Formats: pcap per draft-ietf-opsawg-pcap (magic a1b2c3d4 microseconds,
 * a1b23c4d nanoseconds, either byte order); pcapng per
 * draft-ietf-opsawg-pcapng (SHB, IDB with if_name/if_tsresol/if_tsoffset,
 * EPB, SPB, obsolete PB; other blocks skipped). Reads through one growing
 * buffer with large read() calls: a 4 MiB buffer makes a few hundred system
 * calls per GB instead of libpcap's quarter million. A gzip-compressed
 * capture (RFC 1952: tcpdump -z gzip, Wireshark's .gz) is inflated into the
 * same buffer, member after member; offsets in its messages are offsets of
 * the decompressed data, and damage to the compressed data is reported at
 * its compressed offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "callerid/cursor.h"
#include "callerid/decode.h"
#include "callerid/pcapfile.h"

#define BUF_INITIAL (4u * 1024u * 1024u)
#define MAP_WINDOW (16u * 1024u * 1024u)
#define GZ_IN (256u * 1024u)

#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_IDB 1u
#define PCAPNG_PB 2u
#define PCAPNG_SPB 3u
#define PCAPNG_EPB 6u
#define PCAPNG_BOM 0x1A2B3C4Du

struct iface {
	int dlt;
	uint32_t snaplen;
	uint64_t units;      /* timestamp units per second */
	int64_t offset_s;    /* if_tsoffset */
	char *name;
};

/* gzip input: compressed bytes from the descriptor (or memory), inflated
 * into the reader's buffer. */
struct gz {
	z_stream z;
	uint8_t *in;
	uint64_t in_total;  /* compressed bytes taken in so far */
	bool in_eof;        /* no more compressed input */
	bool member_done;   /* the last gzip member ended */
	bool failed;        /* err holds damage found after the bytes last given */
	char err[CID_ERRBUF_SIZE];
};

struct cid_pcapfile {
	int fd;
	struct gz *gz;
	const uint8_t *mem;
	size_t mem_len;
	uint8_t *buf;
	size_t cap, start, end;
	uint64_t base_off;   /* file offset of buf[start] */
	bool eof;
	/* Regular files are read through a sliding read-only mapping: no copy
	 * into a buffer (the read() copy was a third of the reader's time), and
	 * at most MAP_WINDOW bytes mapped (resident) at once. */
	bool mapped;
	uint8_t *map;
	size_t map_len;
	uint64_t file_size;
	bool ng;
	bool swap;           /* file byte order differs from big-endian reading */
	bool nsec;           /* pcap: nanosecond magic */
	uint32_t snaplen;
	int dlt;
	/* pcapng */
	struct iface *ifs;
	uint32_t num_ifs, cap_ifs;
	uint32_t section_base; /* global id of this section's interface 0 */
	uint64_t records;
	uint64_t warnings;
	char warning[512];
	char err[CID_ERRBUF_SIZE];
	char path[256];
};

/* ---- byte-order aware getters on a cursor ------------------------------- */

static inline bool get16(struct cid_pcapfile *f, struct cid_cur *c, uint16_t *v)
{
	return f->swap ? cid_cur_u16_le(c, v) : cid_cur_u16(c, v);
}

static inline bool get32(struct cid_pcapfile *f, struct cid_cur *c, uint32_t *v)
{
	return f->swap ? cid_cur_u32_le(c, v) : cid_cur_u32(c, v);
}

/* ---- buffer ------------------------------------------------------------- */

/* Makes n bytes available at buf+start. false at end of input (fewer). */
/* Maps the window that starts at the page holding base_off and covers at
 * least n bytes (or up to the end of the file). */
static bool remap(struct cid_pcapfile *f, size_t n)
{
	static size_t page;
	uint64_t at, len;
	void *m;
	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);
	at = f->base_off - f->base_off % page;
	if (f->base_off >= f->file_size)
		return false;
	len = f->file_size - at;
	if (len > MAP_WINDOW && len > (f->base_off - at) + n)
		len = MAP_WINDOW > (f->base_off - at) + n ? MAP_WINDOW : (f->base_off - at) + n;
	if (f->map)
		munmap(f->map, f->map_len);
	f->map = NULL;
	m = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, f->fd, (off_t)at);
	if (m == MAP_FAILED) {
		snprintf(f->err, sizeof(f->err), "%s: cannot map offset %llu: %s", f->path,
			 (unsigned long long)at, strerror(errno));
		f->eof = true;
		return false;
	}
	(void)madvise(m, (size_t)len, MADV_SEQUENTIAL);
	f->map = m;
	f->map_len = (size_t)len;
	f->buf = m;
	f->start = (size_t)(f->base_off - at);
	f->end = (size_t)len;
	return f->end - f->start >= n;
}

static void warn(struct cid_pcapfile *f, const char *what);

static uint64_t gz_offset(const struct cid_pcapfile *f)
{
	return f->gz->in_total - f->gz->z.avail_in;
}

/* Inflates into buf+end. >0: bytes added; 0: the end of the compressed
 * input; -1: damaged or unreadable (f->err set). */
static ssize_t inflate_some(struct cid_pcapfile *f)
{
	struct gz *g = f->gz;
	for (;;) {
		size_t room = f->cap - f->end, made;
		uint64_t at;
		int rc;
		if (g->failed) {
			memcpy(f->err, g->err, sizeof(f->err));
			return -1;
		}
		if (g->z.avail_in == 0 && !g->in_eof) {
			ssize_t r = f->fd >= 0 ? read(f->fd, g->in, GZ_IN) : 0;
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				snprintf(f->err, sizeof(f->err), "%s: read error at compressed offset %llu: %s", f->path,
					 (unsigned long long)g->in_total, strerror(errno));
				return -1;
			}
			if (r == 0) {
				g->in_eof = true;
			} else {
				g->z.next_in = g->in;
				g->z.avail_in = (uInt)r;
				g->in_total += (uint64_t)r;
			}
		}
		if (g->member_done) {
			if (g->z.avail_in == 0) {
				if (g->in_eof)
					return 0;
				continue;
			}
			/* another member (cat a.gz b.gz) or trailing bytes */
			if (g->z.next_in[0] != 0x1f || (g->z.avail_in > 1 && g->z.next_in[1] != 0x8b)) {
				char m[96];
				snprintf(m, sizeof(m), "bytes after the gzip data at compressed offset %llu ignored",
					 (unsigned long long)gz_offset(f));
				warn(f, m);
				g->in_eof = true;
				g->z.avail_in = 0;
				return 0;
			}
			if (inflateReset(&g->z) != Z_OK)
				return -1;
			g->member_done = false;
		}
		if (room == 0)
			return 0; /* ensure() grows the buffer first */
		g->z.next_out = f->buf + f->end;
		g->z.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
		rc = inflate(&g->z, Z_NO_FLUSH);
		made = room - g->z.avail_out;
		/* where the damage is, in the decompressed data */
		at = f->base_off + (uint64_t)(f->end - f->start) + made;
		if (rc == Z_STREAM_END) {
			g->member_done = true;
		} else if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR) {
			/* what was inflated before the damage is still given */
			snprintf(g->err, sizeof(g->err), "%s: gzip data damaged (%s) at compressed offset %llu, offset"
				 " %llu of the decompressed data", f->path, rc == Z_MEM_ERROR ? "out of memory"
				 : g->z.msg ? g->z.msg : "corrupt", (unsigned long long)gz_offset(f),
				 (unsigned long long)at);
			g->failed = true;
		} else if (made == 0 && g->z.avail_in == 0 && g->in_eof) {
			snprintf(g->err, sizeof(g->err), "%s: gzip data truncated at compressed offset %llu, offset %llu"
				 " of the decompressed data", f->path, (unsigned long long)gz_offset(f),
				 (unsigned long long)at);
			g->failed = true;
		}
		if (made)
			return (ssize_t)made;
	}
}

/* Appends what the input gives at buf+end, like read(2): >0 bytes, 0 at
 * the end, -1 on an error (f->err set). */
static ssize_t fill(struct cid_pcapfile *f)
{
	ssize_t r;
	if (f->gz)
		return inflate_some(f);
	do
		r = read(f->fd, f->buf + f->end, f->cap - f->end);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		snprintf(f->err, sizeof(f->err), "%s: read error at offset %llu: %s", f->path,
			 (unsigned long long)f->base_off + f->end, strerror(errno));
	return r;
}

static bool ensure(struct cid_pcapfile *f, size_t n)
{
	if (f->end - f->start >= n)
		return true;
	if (f->mem || f->eof)
		return false;
	if (f->mapped) {
		/* the rest of the file is shorter than n: a truncated record */
		if (f->file_size - f->base_off < n) {
			if (f->end - f->start < f->file_size - f->base_off)
				(void)remap(f, (size_t)(f->file_size - f->base_off));
			return false;
		}
		return remap(f, n);
	}
	if (f->start) {
		memmove(f->buf, f->buf + f->start, f->end - f->start);
		f->end -= f->start;
		f->start = 0;
	}
	if (n > f->cap) {
		size_t ncap = f->cap;
		uint8_t *nb;
		while (ncap < n)
			ncap *= 2;
		nb = realloc(f->buf, ncap);
		if (!nb)
			return false;
		f->buf = nb;
		f->cap = ncap;
	}
	while (f->end < n) {
		ssize_t r = fill(f);
		if (r <= 0) {
			f->eof = true;
			return false;
		}
		f->end += (size_t)r;
	}
	return true;
}

static void consume(struct cid_pcapfile *f, size_t n)
{
	f->start += n;
	f->base_off += n;
}

static size_t avail(const struct cid_pcapfile *f)
{
	return f->end - f->start;
}

static int fail(struct cid_pcapfile *f, const char *what)
{
	if (!f->err[0])
		snprintf(f->err, sizeof(f->err), "%s: offset %llu%s (record %llu): %s", f->path,
			 (unsigned long long)f->base_off, f->gz ? " of the decompressed data" : "",
			 (unsigned long long)f->records + 1, what);
	return -1;
}

static void warn(struct cid_pcapfile *f, const char *what)
{
	if (!f->warnings)
		snprintf(f->warning, sizeof(f->warning), "%.200s: offset %llu%s: %s", f->path,
			 (unsigned long long)f->base_off, f->gz ? " of the decompressed data" : "", what);
	f->warnings++;
}

/* ---- headers ------------------------------------------------------------ */

static int add_iface(struct cid_pcapfile *f, int dlt, uint32_t snaplen)
{
	struct iface *ni;
	if (f->num_ifs >= CID_PCAP_MAX_IFACES)
		return -1;
	if (f->num_ifs == f->cap_ifs) {
		uint32_t ncap = f->cap_ifs ? f->cap_ifs * 2 : 4;
		ni = realloc(f->ifs, ncap * sizeof(*ni));
		if (!ni)
			return -1;
		f->ifs = ni;
		f->cap_ifs = ncap;
	}
	ni = &f->ifs[f->num_ifs++];
	memset(ni, 0, sizeof(*ni));
	ni->dlt = dlt;
	ni->snaplen = snaplen;
	ni->units = 1000000;
	return 0;
}

static int read_pcap_header(struct cid_pcapfile *f, uint32_t magic_be)
{
	struct cid_cur c;
	uint32_t magic, snaplen, linktype, zone, sigfigs;
	uint16_t major, minor;
	if (!ensure(f, 24))
		return fail(f, "file header truncated (24 bytes needed)");
	switch (magic_be) {
	case 0xa1b2c3d4: f->swap = false, f->nsec = false; break;
	case 0xd4c3b2a1: f->swap = true, f->nsec = false; break;
	case 0xa1b23c4d: f->swap = false, f->nsec = true; break;
	case 0x4d3cb2a1: f->swap = true, f->nsec = true; break;
	default: return fail(f, "not a pcap or pcapng file (unknown magic number)");
	}
	cid_cur_init(&c, f->buf + f->start, 24);
	if (!get32(f, &c, &magic) || !get16(f, &c, &major) || !get16(f, &c, &minor) || !get32(f, &c, &zone) ||
	    !get32(f, &c, &sigfigs) || !get32(f, &c, &snaplen) || !get32(f, &c, &linktype))
		return fail(f, "file header truncated");
	if (major != 2)
		return fail(f, "unsupported pcap version");
	/* the upper bits of the link type field carry FCS information */
	f->dlt = (int)(linktype & 0x03FFFFFFu);
	f->snaplen = snaplen;
	consume(f, 24);
	if (add_iface(f, f->dlt, snaplen) < 0)
		return fail(f, "out of memory");
	f->ifs[0].units = f->nsec ? 1000000000u : 1000000u;
	return 0;
}

static int next_pcap(struct cid_pcapfile *f, struct cid_pcap_rec *rec)
{
	struct cid_cur c;
	uint32_t sec, frac, caplen, len;
	if (!ensure(f, 16)) {
		if (f->err[0])
			return -1;
		if (avail(f) == 0)
			return 0;
		return fail(f, "record header truncated");
	}
	cid_cur_init(&c, f->buf + f->start, 16);
	get32(f, &c, &sec);
	get32(f, &c, &frac);
	get32(f, &c, &caplen);
	get32(f, &c, &len);
	if (caplen > CID_PCAP_MAX_CAPLEN) {
		char m[96];
		snprintf(m, sizeof(m), "captured length %u is larger than %u: corrupt record header", caplen,
			 CID_PCAP_MAX_CAPLEN);
		return fail(f, m);
	}
	if (!ensure(f, 16 + (size_t)caplen)) {
		if (f->err[0])
			return -1;
		return fail(f, "packet data truncated");
	}
	if (f->nsec ? frac >= 1000000000u : frac >= 1000000u)
		warn(f, "fraction of a second out of range");
	rec->ts_ns = (int64_t)sec * 1000000000LL + (f->nsec ? (int64_t)frac : (int64_t)frac * 1000);
	rec->caplen = caplen;
	rec->wirelen = len < caplen ? caplen : len;
	rec->dlt = f->dlt;
	rec->ifid = 0;
	rec->data = f->buf + f->start + 16;
	consume(f, 16 + (size_t)caplen);
	f->records++;
	return 1;
}

/* ---- pcapng ------------------------------------------------------------- */

/* Largest whole second whose nanoseconds (plus a fraction) fit an int64. */
#define TS_MAX_S (INT64_MAX / 1000000000LL - 1)

static int64_t ts_to_ns(const struct iface *i, uint64_t ts)
{
	uint64_t sec = ts / i->units, rest = ts % i->units, n;
	int64_t off = i->offset_s, s;
	/* rest < units; rest * 1e9 fits 64 bits while units <= 1e10 */
	if (i->units <= 10000000000ULL)
		n = rest * 1000000000u / i->units;
	else
		n = (uint64_t)((double)rest * 1e9 / (double)i->units);
	/* Hostile timestamps and if_tsoffset values are clamped to what an
	 * int64 of nanoseconds can hold instead of overflowing. */
	if (sec > (uint64_t)TS_MAX_S)
		sec = (uint64_t)TS_MAX_S;
	if (off > TS_MAX_S)
		off = TS_MAX_S;
	else if (off < -TS_MAX_S)
		off = -TS_MAX_S;
	s = (int64_t)sec + off;
	if (s > TS_MAX_S)
		s = TS_MAX_S;
	/* Times before 1970 (a negative if_tsoffset) become the epoch, so the
	 * difference of any two record times fits an int64 (the engine
	 * subtracts them). */
	if (s < 0)
		return 0;
	return s * 1000000000LL + (int64_t)n;
}

static int parse_shb(struct cid_pcapfile *f, struct cid_cur *body)
{
	uint32_t bom;
	uint16_t major, minor;
	/* the byte-order magic decides how everything after it is read */
	if (!cid_cur_u32(body, &bom))
		return fail(f, "section header block truncated");
	if (bom == PCAPNG_BOM)
		f->swap = false;
	else if (bom == 0x4D3C2B1Au)
		f->swap = true;
	else
		return fail(f, "section header block: bad byte-order magic");
	if (!get16(f, body, &major) || !get16(f, body, &minor))
		return fail(f, "section header block truncated");
	if (major != 1)
		return fail(f, "unsupported pcapng major version");
	f->section_base = f->num_ifs;
	return 0;
}

static void parse_idb_options(struct cid_pcapfile *f, struct iface *i, struct cid_cur *opts)
{
	while (cid_cur_len(opts) >= 4) {
		uint16_t code, len;
		struct cid_cur v;
		if (!get16(f, opts, &code) || !get16(f, opts, &len) || !cid_cur_sub(opts, &v, len))
			break;
		cid_cur_skip(opts, (4 - (len & 3)) & 3);
		if (code == 0)
			break;
		if (code == 2 && len && !i->name) {          /* if_name */
			i->name = malloc((size_t)len + 1);
			if (i->name) {
				cid_cur_copy(&v, (uint8_t *)i->name, len);
				i->name[len] = '\0';
			} else {
				/* flows show the interface's number instead */
				warn(f, "interface name dropped: out of memory");
			}
		} else if (code == 9 && len >= 1) {          /* if_tsresol */
			uint8_t r;
			uint64_t u = 1;
			if (!cid_cur_u8(&v, &r))
				continue;
			if (r & 0x80) {
				if ((r & 0x7f) > 62) {
					warn(f, "if_tsresol out of range");
					continue;
				}
				u = (uint64_t)1 << (r & 0x7f);
			} else {
				if (r > 18) {
					warn(f, "if_tsresol out of range");
					continue;
				}
				for (unsigned k = 0; k < r; k++)
					u *= 10;
			}
			i->units = u;
		} else if (code == 14 && len == 8) {         /* if_tsoffset */
			uint32_t hi, lo;
			if (f->swap) {
				cid_cur_u32_le(&v, &lo);
				cid_cur_u32_le(&v, &hi);
			} else {
				cid_cur_u32(&v, &hi);
				cid_cur_u32(&v, &lo);
			}
			i->offset_s = (int64_t)((uint64_t)hi << 32 | lo);
		}
	}
}

static int parse_idb(struct cid_pcapfile *f, struct cid_cur *body)
{
	uint16_t lt, reserved;
	uint32_t snaplen;
	if (!get16(f, body, &lt) || !get16(f, body, &reserved) || !get32(f, body, &snaplen)) {
		warn(f, "interface description block truncated");
		return 0;
	}
	if (add_iface(f, lt, snaplen) < 0)
		return fail(f, "too many interfaces");
	parse_idb_options(f, &f->ifs[f->num_ifs - 1], body);
	return 0;
}

static int next_pcapng(struct cid_pcapfile *f, struct cid_pcap_rec *rec)
{
	for (;;) {
		struct cid_cur c, body = {NULL, 0};
		uint32_t type, len, len2 = 0, ifid = 0, hi = 0, lo = 0, caplen, wirelen;
		if (!ensure(f, 12)) {
			if (f->err[0])
				return -1;
			if (avail(f) == 0)
				return 0;
			return fail(f, "block header truncated");
		}
		/* The SHB is read in whatever order its magic says. */
		cid_cur_init(&c, f->buf + f->start, 12);
		cid_cur_u32(&c, &type);
		if (type == PCAPNG_SHB) {
			uint32_t bom;
			cid_cur_skip(&c, 4);
			cid_cur_u32(&c, &bom);
			/* without a known byte order the length is meaningless */
			if (bom != PCAPNG_BOM && bom != 0x4D3C2B1Au)
				return fail(f, "section header block: bad byte-order magic");
			f->swap = bom == 0x4D3C2B1Au;
		}
		cid_cur_init(&c, f->buf + f->start, 12);
		get32(f, &c, &type);
		get32(f, &c, &len);
		if (len < 12 || (len & 3) || len > CID_PCAP_MAX_BLOCK) {
			char m[80];
			snprintf(m, sizeof(m), "bad block length %u", len);
			return fail(f, m);
		}
		if (!ensure(f, len)) {
			if (f->err[0])
				return -1;
			return fail(f, "block truncated");
		}
		cid_cur_init(&c, f->buf + f->start, len);
		cid_cur_skip(&c, 8);
		cid_cur_sub(&c, &body, len - 12);
		get32(f, &c, &len2);
		if (len2 != len)
			return fail(f, "block's trailing length does not match its leading length");
		switch (type) {
		case PCAPNG_SHB:
			if (parse_shb(f, &body) < 0)
				return -1;
			break;
		case PCAPNG_IDB:
			if (parse_idb(f, &body) < 0)
				return -1;
			break;
		case PCAPNG_EPB:
		case PCAPNG_PB: {
			uint16_t id16 = 0, drops = 0; /* read even when get16 failed */
			bool ok;
			if (type == PCAPNG_EPB) {
				ok = get32(f, &body, &ifid);
			} else {
				ok = get16(f, &body, &id16) && get16(f, &body, &drops);
				ifid = id16;
			}
			ok = ok && get32(f, &body, &hi) && get32(f, &body, &lo) && get32(f, &body, &caplen) &&
			     get32(f, &body, &wirelen);
			if (!ok || caplen > cid_cur_len(&body)) {
				warn(f, "packet block shorter than its captured length: skipped");
				break;
			}
			if (ifid >= f->num_ifs - f->section_base || f->num_ifs == 0) {
				warn(f, "packet block names an undefined interface: skipped");
				break;
			}
			ifid += f->section_base;
			rec->ts_ns = ts_to_ns(&f->ifs[ifid], (uint64_t)hi << 32 | lo);
			rec->caplen = caplen;
			rec->wirelen = wirelen < caplen ? caplen : wirelen;
			rec->dlt = f->ifs[ifid].dlt;
			rec->ifid = ifid;
			rec->data = cid_cur_data(&body);
			consume(f, len);
			f->records++;
			return 1;
		}
		case PCAPNG_SPB: {
			uint32_t snap;
			if (!get32(f, &body, &wirelen) || f->num_ifs <= f->section_base) {
				warn(f, "simple packet block without interface: skipped");
				break;
			}
			snap = f->ifs[f->section_base].snaplen;
			caplen = (uint32_t)cid_cur_len(&body);
			if (wirelen < caplen)
				caplen = wirelen;
			if (snap && caplen > snap)
				caplen = snap;
			rec->ts_ns = 0; /* SPBs carry no time */
			rec->caplen = caplen;
			rec->wirelen = wirelen;
			rec->dlt = f->ifs[f->section_base].dlt;
			rec->ifid = f->section_base;
			rec->data = cid_cur_data(&body);
			consume(f, len);
			f->records++;
			return 1;
		}
		default:
			break; /* name resolution, statistics, custom: not needed */
		}
		consume(f, len);
	}
}

/* ---- open / close ------------------------------------------------------- */

static bool gzip_magic(const uint8_t *p, size_t n)
{
	return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Turns a buffered reader whose input starts with gzip's magic into a
 * gzip reader: the bytes already read become the first compressed input
 * (mem: the whole buffer is). -1 when out of memory. */
static int gz_start(struct cid_pcapfile *f, const uint8_t *mem, size_t mem_len)
{
	struct gz *g = calloc(1, sizeof(*g));
	size_t have = f->end - f->start;
	if (!g)
		return -1;
	if (inflateInit2(&g->z, 15 + 16) != Z_OK) { /* gzip wrapper only */
		free(g);
		return -1;
	}
	if (mem) {
		g->z.next_in = (Bytef *)(uintptr_t)mem; /* zlib only reads it */
		g->z.avail_in = mem_len > UINT32_MAX ? UINT32_MAX : (uInt)mem_len;
		g->in_total = g->z.avail_in;
		g->in_eof = true;
	} else {
		g->in = malloc(have > GZ_IN ? have : GZ_IN);
		if (!g->in) {
			inflateEnd(&g->z);
			free(g);
			return -1;
		}
		memcpy(g->in, f->buf + f->start, have);
		g->z.next_in = g->in;
		g->z.avail_in = (uInt)have;
		g->in_total = have;
	}
	f->gz = g;
	f->start = f->end = 0;
	f->eof = false;
	return 0;
}

static struct cid_pcapfile *open_common(struct cid_pcapfile *f, char *err, size_t err_len)
{
	struct cid_cur c;
	uint32_t magic;
	int rc;
	if (!ensure(f, 4)) {
		if (f->err[0]) /* it names the file */
			snprintf(err, err_len, "%s", f->err);
		else
			snprintf(err, err_len, "%s: empty or too short to be a capture", f->path);
		cid_pcapfile_free(f);
		return NULL;
	}
	cid_cur_init(&c, f->buf + f->start, 4);
	cid_cur_u32(&c, &magic);
	if (magic == PCAPNG_SHB) {
		f->ng = true;
		rc = 0;
		if (!ensure(f, 12))
			rc = fail(f, "section header block truncated");
	} else {
		rc = read_pcap_header(f, magic);
	}
	if (rc < 0) {
		snprintf(err, err_len, "%s", f->err);
		cid_pcapfile_free(f);
		return NULL;
	}
	return f;
}

struct cid_pcapfile *cid_pcapfile_open(const char *path, char *err, size_t err_len)
{
	struct cid_pcapfile *f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, err_len, "%s: out of memory", path);
		return NULL;
	}
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	if (f->fd < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		free(f);
		return NULL;
	}
	{
		struct stat st;
		uint8_t magic[2];
		if (f->fd > 0 && fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
		    !getenv("CALLERID_NO_MMAP") &&
		    !(pread(f->fd, magic, 2, 0) == 2 && gzip_magic(magic, 2))) {
			f->mapped = true;
			f->file_size = (uint64_t)st.st_size;
			if (!remap(f, 0) && f->err[0]) {
				snprintf(err, err_len, "%s", f->err);
				cid_pcapfile_free(f);
				return NULL;
			}
			return open_common(f, err, err_len);
		}
	}
	f->cap = BUF_INITIAL;
	f->buf = malloc(f->cap);
	if (!f->buf) {
		snprintf(err, err_len, "%s: out of memory", path);
		cid_pcapfile_free(f);
		return NULL;
	}
#ifdef POSIX_FADV_SEQUENTIAL
	(void)posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
	if (ensure(f, 2) && gzip_magic(f->buf + f->start, 2) && gz_start(f, NULL, 0) < 0) {
		snprintf(err, err_len, "%s: out of memory", path);
		cid_pcapfile_free(f);
		return NULL;
	}
	return open_common(f, err, err_len);
}

struct cid_pcapfile *cid_pcapfile_open_mem(const uint8_t *p, size_t p_len, char *err, size_t err_len)
{
	struct cid_pcapfile *f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	snprintf(f->path, sizeof(f->path), "(memory)");
	f->fd = -1;
	f->mem = p;
	f->mem_len = p_len;
	f->buf = (uint8_t *)(uintptr_t)p; /* read-only use */
	f->end = p_len;
	if (gzip_magic(p, p_len)) {
		f->mem = NULL;
		f->start = f->end = 0;
		f->cap = BUF_INITIAL;
		f->buf = malloc(f->cap);
		if (!f->buf || gz_start(f, p, p_len) < 0) {
			snprintf(err, err_len, "out of memory");
			cid_pcapfile_free(f);
			return NULL;
		}
	}
	return open_common(f, err, err_len);
}

void cid_pcapfile_free(struct cid_pcapfile *f)
{
	if (!f)
		return;
	if (f->mapped) {
		if (f->map)
			munmap(f->map, f->map_len);
		if (f->fd > 0)
			close(f->fd);
	} else if (!f->mem) {
		free(f->buf);
		if (f->fd > 0)
			close(f->fd);
	}
	if (f->gz) {
		inflateEnd(&f->gz->z);
		free(f->gz->in);
		free(f->gz);
	}
	for (uint32_t i = 0; i < f->num_ifs; i++)
		free(f->ifs[i].name);
	free(f->ifs);
	free(f);
}

int cid_pcapfile_next(struct cid_pcapfile *f, struct cid_pcap_rec *rec)
{
	if (f->err[0])
		return -1;
	return f->ng ? next_pcapng(f, rec) : next_pcap(f, rec);
}

const char *cid_pcapfile_error(const struct cid_pcapfile *f) { return f->err; }
uint64_t cid_pcapfile_warnings(const struct cid_pcapfile *f) { return f->warnings; }
const char *cid_pcapfile_warning(const struct cid_pcapfile *f) { return f->warning; }
bool cid_pcapfile_is_pcapng(const struct cid_pcapfile *f) { return f->ng; }
uint32_t cid_pcapfile_num_ifaces(const struct cid_pcapfile *f) { return f->num_ifs; }
uint64_t cid_pcapfile_records(const struct cid_pcapfile *f) { return f->records; }
uint64_t cid_pcapfile_offset(const struct cid_pcapfile *f) { return f->base_off; }

const char *cid_pcapfile_ifname(const struct cid_pcapfile *f, uint32_t ifid)
{
	return ifid < f->num_ifs ? f->ifs[ifid].name : NULL;
}

int cid_pcapfile_dlt(const struct cid_pcapfile *f, uint32_t ifid)
{
	return ifid < f->num_ifs ? f->ifs[ifid].dlt : -1;
}
