/*
 * procfs.c - the /proc adapter of live attribution: bounded reads of
 * /proc/PID files, the socket inode -> pid cache, and namespace listing.
 * Everything read is handed to the pure parsers (procparse.c, cgroup.c).
 *
 * The root is "/proc" or a fixture tree (CALLERID_PROC_ROOT) laid out the
 * same way: PID/stat, PID/status, PID/cmdline, PID/cgroup, PID/exe and
 * PID/fd/N and PID/ns/net as symlinks.
 *
 * Socket inode -> pid: iproute2's ss walks every /proc/PID/fd for every
 * query; here a hash of inode -> (pid, fd) answers repeated questions (a
 * hit is checked by one readlink), the fds of the last owners found are
 * rescanned first (an agent that opens a new connection every few seconds
 * is found without a walk), and only then is /proc walked, newest pid
 * first, until the inode turns up; every socket passed on the way is
 * cached.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "callerid/attrib_int.h"

struct ientry {
	uint64_t inode; /* 0: empty */
	int32_t pid;
	int32_t fd;
};

struct hot {
	int32_t pid;
	uint64_t start;
};

struct cid_procfs {
	char root[512];
	struct ientry *tab;          /* CID_ATTRIB_INODE_CACHE slots, open addressing */
	size_t used;
	struct hot hot[CID_ATTRIB_HOT_PIDS];
	unsigned hot_pos;
	uint8_t *buf;                /* CID_PROC_FILE_CAP */
};

struct cid_procfs *cid_procfs_new(const char *root)
{
	struct cid_procfs *pf = calloc(1, sizeof(*pf));
	if (!pf)
		return NULL;
	snprintf(pf->root, sizeof(pf->root), "%s", root && *root ? root : "/proc");
	pf->tab = calloc(CID_ATTRIB_INODE_CACHE, sizeof(*pf->tab));
	pf->buf = malloc(CID_PROC_FILE_CAP);
	if (!pf->tab || !pf->buf) {
		cid_procfs_free(pf);
		return NULL;
	}
	return pf;
}

void cid_procfs_free(struct cid_procfs *pf)
{
	if (!pf)
		return;
	free(pf->tab);
	free(pf->buf);
	free(pf);
}

const char *cid_procfs_root(const struct cid_procfs *pf)
{
	return pf->root;
}

long cid_procfs_read(struct cid_procfs *pf, const char *rel, uint8_t *buf, size_t cap)
{
	char path[1024];
	size_t have = 0;
	int fd;
	snprintf(path, sizeof(path), "%s/%s", pf->root, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	while (have < cap) {
		ssize_t r = read(fd, buf + have, cap - have);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	close(fd);
	return (long)have;
}

/* readlink of root/rel; the length or -1. */
static long link_of(const struct cid_procfs *pf, const char *rel, char *out, size_t cap)
{
	char path[1024];
	ssize_t n;
	snprintf(path, sizeof(path), "%s/%s", pf->root, rel);
	n = readlink(path, out, cap - 1);
	if (n < 0)
		return -1;
	out[n] = '\0';
	return (long)n;
}

static size_t slot(uint64_t inode)
{
	uint64_t h = inode * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 40) & (CID_ATTRIB_INODE_CACHE - 1);
}

static void cache_put(struct cid_procfs *pf, uint64_t inode, int32_t pid, int32_t fd)
{
	size_t i = slot(inode);
	/* keep the table at most 3/4 full: a full one is simply not extended
	 * (the next walk clears it) */
	if (pf->used >= CID_ATTRIB_INODE_CACHE / 4 * 3)
		return;
	while (pf->tab[i].inode && pf->tab[i].inode != inode)
		i = (i + 1) & (CID_ATTRIB_INODE_CACHE - 1);
	if (!pf->tab[i].inode)
		pf->used++;
	pf->tab[i].inode = inode;
	pf->tab[i].pid = pid;
	pf->tab[i].fd = fd;
}

static struct ientry *cache_get(struct cid_procfs *pf, uint64_t inode)
{
	size_t i = slot(inode);
	while (pf->tab[i].inode) {
		if (pf->tab[i].inode == inode)
			return &pf->tab[i];
		i = (i + 1) & (CID_ATTRIB_INODE_CACHE - 1);
	}
	return NULL;
}

static bool parse_pid(const char *name, int32_t *pid)
{
	long v = 0;
	if (!*name)
		return false;
	for (const char *q = name; *q; q++) {
		if (*q < '0' || *q > '9' || v > 100000000L)
			return false;
		v = v * 10 + (*q - '0');
	}
	if (v <= 0)
		return false;
	*pid = (int32_t)v;
	return true;
}

/* Scans PID/fd, caching every socket; true when want was among them. */
static bool scan_fds(struct cid_procfs *pf, int32_t pid, uint64_t want)
{
	char dir[1024], rel[64], tgt[64];
	DIR *d;
	struct dirent *de;
	bool found = false;
	snprintf(dir, sizeof(dir), "%s/%d/fd", pf->root, (int)pid);
	d = opendir(dir);
	if (!d)
		return false;
	while ((de = readdir(d)) != NULL) {
		int32_t fd;
		uint64_t inode;
		long n;
		if (!parse_pid(de->d_name, &fd) && strcmp(de->d_name, "0") != 0)
			continue;
		if (!strcmp(de->d_name, "0"))
			fd = 0;
		snprintf(rel, sizeof(rel), "%d/fd/%d", (int)pid, (int)fd);
		n = link_of(pf, rel, tgt, sizeof(tgt));
		if (n <= 0 || cid_proc_parse_inode_link(&inode, "socket", (const uint8_t *)tgt, (size_t)n) != CID_OK)
			continue;
		cache_put(pf, inode, pid, fd);
		if (inode == want)
			found = true;
	}
	closedir(d);
	return found;
}

static bool start_of(struct cid_procfs *pf, int32_t pid, uint64_t *start)
{
	char rel[32];
	struct cid_proc_stat st;
	long n;
	snprintf(rel, sizeof(rel), "%d/stat", (int)pid);
	n = cid_procfs_read(pf, rel, pf->buf, CID_PROC_FILE_CAP);
	if (n <= 0 || cid_proc_parse_stat(&st, pf->buf, (size_t)n) != CID_OK)
		return false;
	*start = st.start_ticks;
	return true;
}

static void hot_note(struct cid_procfs *pf, int32_t pid)
{
	uint64_t start;
	for (unsigned i = 0; i < CID_ATTRIB_HOT_PIDS; i++)
		if (pf->hot[i].pid == pid)
			return;
	if (!start_of(pf, pid, &start))
		return;
	pf->hot[pf->hot_pos].pid = pid;
	pf->hot[pf->hot_pos].start = start;
	pf->hot_pos = (pf->hot_pos + 1) % CID_ATTRIB_HOT_PIDS;
}

/* Does PID/fd/FD still point at the inode? */
static bool still_holds(struct cid_procfs *pf, const struct ientry *e)
{
	char rel[64], tgt[64];
	uint64_t inode;
	long n;
	snprintf(rel, sizeof(rel), "%d/fd/%d", (int)e->pid, (int)e->fd);
	n = link_of(pf, rel, tgt, sizeof(tgt));
	return n > 0 && cid_proc_parse_inode_link(&inode, "socket", (const uint8_t *)tgt, (size_t)n) == CID_OK &&
	       inode == e->inode;
}

static int cmp_pid(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* The numeric entries of the root, sorted ascending (heap, *out). */
static size_t list_pids(struct cid_procfs *pf, int32_t **out)
{
	DIR *d = opendir(pf->root);
	struct dirent *de;
	size_t num = 0, cap = 0;
	int32_t *v = NULL;
	*out = NULL;
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		int32_t p;
		if (!parse_pid(de->d_name, &p))
			continue;
		if (num == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			int32_t *nv = ncap <= (1u << 22) ? realloc(v, ncap * sizeof(*v)) : NULL;
			if (!nv)
				break;
			v = nv;
			cap = ncap;
		}
		v[num++] = p;
	}
	closedir(d);
	if (num)
		qsort(v, num, sizeof(*v), cmp_pid);
	*out = v;
	return num;
}

int cid_procfs_socket_pid(struct cid_procfs *pf, uint64_t inode, int32_t *pid, uint64_t *walks, uint64_t *hot_hits)
{
	struct ientry *e;
	int32_t *pids = NULL;
	size_t num;
	bool found = false;
	if (!inode)
		return 0;
	e = cache_get(pf, inode);
	if (e && still_holds(pf, e)) {
		*pid = e->pid;
		return 1;
	}
	/* 1. the recent owners (pid reuse: the start time must match) */
	for (unsigned i = 0; i < CID_ATTRIB_HOT_PIDS; i++) {
		uint64_t start;
		struct hot *h = &pf->hot[i];
		if (!h->pid)
			continue;
		if (!start_of(pf, h->pid, &start) || start != h->start) {
			h->pid = 0;
			continue;
		}
		if (scan_fds(pf, h->pid, inode)) {
			*pid = h->pid;
			if (hot_hits)
				(*hot_hits)++;
			return 1;
		}
	}
	/* 2. one walk of /proc, newest pids first (a new connection usually
	 * comes from a new or busy process), caching every socket seen, until
	 * the inode is found */
	if (walks)
		(*walks)++;
	if (pf->used >= CID_ATTRIB_INODE_CACHE / 4 * 3) {
		memset(pf->tab, 0, CID_ATTRIB_INODE_CACHE * sizeof(*pf->tab));
		pf->used = 0;
	}
	num = list_pids(pf, &pids);
	for (size_t i = num; i-- > 0 && !found;) {
		if (scan_fds(pf, pids[i], inode)) {
			found = true;
			*pid = pids[i];
		}
	}
	free(pids);
	if (found)
		hot_note(pf, *pid);
	return found ? 1 : 0;
}

enum cid_attrib_fail cid_procfs_owner(struct cid_procfs *pf, int32_t pid, struct cid_owner *o)
{
	char rel[64];
	long n;
	struct cid_proc_stat st;
	struct cid_cgroup_info cg;
	uint64_t start_again, ino;
	bool cut;

	snprintf(rel, sizeof(rel), "%d/stat", (int)pid);
	n = cid_procfs_read(pf, rel, pf->buf, CID_PROC_FILE_CAP);
	if (n <= 0 || cid_proc_parse_stat(&st, pf->buf, (size_t)n) != CID_OK)
		return CID_AF_PROC_GONE;
	o->pid = pid;
	o->start_ticks = st.start_ticks;
	snprintf(o->comm, sizeof(o->comm), "%s", st.comm);

	snprintf(rel, sizeof(rel), "%d/cmdline", (int)pid);
	n = cid_procfs_read(pf, rel, pf->buf, CID_PROC_FILE_CAP);
	o->cmdline[0] = '\0';
	if (n > 0)
		(void)cid_proc_parse_cmdline(o->cmdline, sizeof(o->cmdline), &cut, pf->buf, (size_t)n);

	snprintf(rel, sizeof(rel), "%d/exe", (int)pid);
	if (link_of(pf, rel, o->exe, sizeof(o->exe)) < 0)
		o->exe[0] = '\0';

	snprintf(rel, sizeof(rel), "%d/cgroup", (int)pid);
	n = cid_procfs_read(pf, rel, pf->buf, CID_PROC_FILE_CAP);
	o->container_id[0] = o->pod_uid[0] = '\0';
	if (n > 0 && cid_cgroup_parse(&cg, pf->buf, (size_t)n) == CID_OK) {
		snprintf(o->container_id, sizeof(o->container_id), "%s", cg.container_id);
		snprintf(o->pod_uid, sizeof(o->pod_uid), "%s", cg.pod_uid);
	}

	if (!o->netns) {
		char tgt[64];
		snprintf(rel, sizeof(rel), "%d/ns/net", (int)pid);
		n = link_of(pf, rel, tgt, sizeof(tgt));
		if (n > 0 && cid_proc_parse_inode_link(&ino, "net", (const uint8_t *)tgt, (size_t)n) == CID_OK)
			o->netns = ino;
	}
	/* the same process still? (it may have ended and its pid been reused
	 * between the reads) */
	if (!start_of(pf, pid, &start_again) || start_again != o->start_ticks)
		return CID_AF_PROC_GONE;
	hot_note(pf, pid);
	return CID_AF_NONE;
}

size_t cid_procfs_each_netns(struct cid_procfs *pf, bool (*cb)(void *ctx, int32_t pid, uint64_t inode), void *ctx)
{
	DIR *d = opendir(pf->root);
	struct dirent *de;
	size_t num = 0;
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		int32_t pid;
		char rel[64], tgt[64];
		uint64_t ino;
		long n;
		if (!parse_pid(de->d_name, &pid))
			continue;
		num++;
		snprintf(rel, sizeof(rel), "%d/ns/net", (int)pid);
		n = link_of(pf, rel, tgt, sizeof(tgt));
		if (n <= 0 || cid_proc_parse_inode_link(&ino, "net", (const uint8_t *)tgt, (size_t)n) != CID_OK)
			continue;
		if (!cb(ctx, pid, ino))
			break;
	}
	closedir(d);
	return num;
}
