/* test_writer.c - the pcap/pcapng writer: files read back by callerid's own
 * reader (timestamps to the nanosecond, link types, interface names),
 * tcpdump-style names, rotation by size and a ring of files, and a write
 * that fails part-way (a file size limit standing in for a full disk). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "callerid/decode.h"
#include "callerid/pcapfile.h"
#include "callerid/writer.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/cid-writer-XXXXXX", getenv("TMPROOT") ? getenv("TMPROOT") : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	(void)state;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	return rmdir(dir);
}

static unsigned count_files(const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)))
			n++;
	if (d)
		closedir(d);
	return n;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31u + i);
}

/* Writes n packets, reads them back, checks every field. */
static void roundtrip(const char *name, bool two_ifaces)
{
	struct cid_writer_opts o;
	struct cid_writer *w;
	struct cid_pcapfile *f;
	struct cid_pcap_rec rec;
	char path[512], err[256];
	uint8_t pkt[301];
	const int64_t t0 = 1700000000123456789LL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cid_writer_opts_default(&o, path);
	o.snaplen = 300;
	w = cid_writer_new(&o, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(cid_writer_add_iface(w, CID_DLT_LINUX_SLL2, "any"), 0);
	if (two_ifaces)
		assert_int_equal(cid_writer_add_iface(w, CID_DLT_EN10MB, "eth0"), 1);
	assert_int_equal(cid_writer_start(w, t0), 0);
	for (unsigned i = 0; i < 20; i++) {
		uint32_t len = (uint32_t)(i * 15 + 1);  /* 1..286: every padding */
		fill(pkt, len, i);
		assert_int_equal(cid_writer_packet(w, two_ifaces ? i % 2 : 0, t0 + i * 1001, pkt, len, len + 7), 0);
	}
	/* larger than the snaplen: cut to 300 */
	fill(pkt, 301, 99);
	assert_int_equal(cid_writer_packet(w, 0, t0 + 50000, pkt, 301, 301), 0);
	assert_int_equal(cid_writer_packet(w, 5, t0, pkt, 1, 1), -CID_EINVAL);
	assert_int_equal(cid_writer_packets(w), 21);
	assert_int_equal(cid_writer_files(w), 1);
	cid_writer_free(w);

	f = cid_pcapfile_open(path, err, sizeof(err));
	assert_non_null(f);
	for (unsigned i = 0; i < 20; i++) {
		uint32_t len = (uint32_t)(i * 15 + 1);
		unsigned ifc = two_ifaces ? i % 2 : 0;
		assert_int_equal(cid_pcapfile_next(f, &rec), 1);
		assert_int_equal(rec.ts_ns, t0 + i * 1001);
		assert_int_equal(rec.caplen, len);
		assert_int_equal(rec.wirelen, len + 7);
		assert_int_equal(rec.dlt, ifc ? CID_DLT_EN10MB : CID_DLT_LINUX_SLL2);
		fill(pkt, len, i);
		assert_memory_equal(rec.data, pkt, len);
		if (cid_pcapfile_is_pcapng(f))
			assert_string_equal(cid_pcapfile_ifname(f, rec.ifid), ifc ? "eth0" : "any");
	}
	assert_int_equal(cid_pcapfile_next(f, &rec), 1);
	assert_int_equal(rec.caplen, 300);
	assert_int_equal(rec.wirelen, 301);
	assert_int_equal(cid_pcapfile_next(f, &rec), 0);
	assert_int_equal(cid_pcapfile_warnings(f), 0);
	cid_pcapfile_free(f);
}

/* The disk fills up part-way: RLIMIT_FSIZE makes write() stop at `limit`
 * bytes (a partial write, then EFBIG), as ENOSPC would. The file must end
 * on a whole record holding exactly the packets the error says, read back
 * without a warning, and the writer must refuse what comes after. */
static void full_disk(const char *name, rlim_t limit)
{
	struct cid_writer_opts o;
	struct cid_writer *w;
	struct cid_pcapfile *f;
	struct cid_pcap_rec rec;
	struct rlimit old, lim;
	struct sigaction ign, prev;
	char path[512], err[256], want[64];
	uint8_t pkt[1000];
	unsigned sent = 0, back = 0;
	int r = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cid_writer_opts_default(&o, path);
	w = cid_writer_new(&o, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(cid_writer_add_iface(w, CID_DLT_EN10MB, "eth0"), 0);
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGXFSZ, &ign, &prev), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = limit;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(cid_writer_start(w, 1), 0);
	/* 3 MB of packets of odd sizes: several buffer flushes, the last one cut */
	while (r == 0 && sent < 5000) {
		uint32_t len = 200 + (sent * 37) % 777;
		fill(pkt, len, sent);
		r = cid_writer_packet(w, 0, 1000 + sent, pkt, len, len);
		if (r == 0)
			sent++;
		if (r == 0 && sent % 500 == 0)
			r = cid_writer_flush(w);
	}
	if (r == 0)
		r = cid_writer_flush(w);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	sigaction(SIGXFSZ, &prev, NULL);
	assert_int_equal(r, -CID_EIO);
	assert_non_null(strstr(cid_writer_error(w), path));
	snprintf(want, sizeof(want), "keeps its first %llu packets", (unsigned long long)cid_writer_packets(w));
	assert_non_null(strstr(cid_writer_error(w), want));
	assert_true(cid_writer_packets(w) > 100 && cid_writer_packets(w) < sent);
	/* nothing more is taken once the file is cut */
	assert_int_equal(cid_writer_packet(w, 0, 9999, pkt, 100, 100), -CID_EIO);
	assert_int_equal(cid_writer_flush(w), -CID_EIO);
	f = cid_pcapfile_open(path, err, sizeof(err));
	assert_non_null(f);
	while ((r = cid_pcapfile_next(f, &rec)) == 1) {
		uint32_t len = 200 + (back * 37) % 777;
		assert_int_equal(rec.caplen, len);
		fill(pkt, len, back);
		assert_memory_equal(rec.data, pkt, len);
		back++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(cid_pcapfile_warnings(f), 0);
	assert_int_equal(back, cid_writer_packets(w));
	cid_pcapfile_free(f);
	cid_writer_free(w);
}

static void test_full_disk(void **state)
{
	(void)state;
	full_disk("full.pcap", 1500000);
	full_disk("full.pcapng", 1234567);
}

static void test_pcap_roundtrip(void **state)
{
	struct stat st;
	char path[512];
	(void)state;
	roundtrip("a.pcap", false);
	snprintf(path, sizeof(path), "%s/a.pcap", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_pcapng_roundtrip(void **state)
{
	(void)state;
	roundtrip("b.pcapng", true);
}

static void test_pcap_two_linktypes_refused(void **state)
{
	struct cid_writer_opts o;
	struct cid_writer *w;
	char err[256], path[512];
	(void)state;
	snprintf(path, sizeof(path), "%s/c.pcap", dir);
	cid_writer_opts_default(&o, path);
	w = cid_writer_new(&o, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(cid_writer_add_iface(w, CID_DLT_LINUX_SLL2, "any"), 0);
	assert_int_equal(cid_writer_add_iface(w, CID_DLT_LINUX_SLL2, "any"), 1);
	assert_int_equal(cid_writer_add_iface(w, CID_DLT_EN10MB, "eth0"), -CID_EINVAL);
	assert_non_null(strstr(cid_writer_error(w), "pcapng"));
	cid_writer_free(w);
}

static void test_names(void **state)
{
	static const struct {
		const char *path;
		uint64_t bytes;
		int64_t sec;
		unsigned ring;
		uint64_t idx;
		const char *want;
	} cases[] = {
		{"x.pcap", 0, 0, 0, 0, "x.pcap"},
		{"x.pcap", 1000000, 0, 0, 0, "x.pcap"},
		{"x.pcap", 1000000, 0, 0, 3, "x3.pcap"},
		{"x.pcapng", 1000000, 0, 0, 12, "x12.pcapng"},
		{"dump", 1000000, 0, 0, 2, "dump2"},
		{"x.pcap", 1000000, 0, 3, 0, "x0.pcap"},
		{"x.pcap", 1000000, 0, 3, 4, "x1.pcap"},
		{"x.pcap", 1000000, 0, 12, 5, "x05.pcap"},
		{"x.pcap", 0, 60, 0, 1, "x1.pcap"},
		{"x-%Y%m%d-%H%M%S.pcap", 0, 60, 0, 7, "x-20231114-221320.pcap"},
		{"x-%H%M.pcap", 1000000, 60, 0, 2, "x-22132.pcap"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cid_writer_opts o;
		char buf[256];
		cid_writer_opts_default(&o, cases[i].path);
		o.rotate_bytes = cases[i].bytes;
		o.rotate_sec = cases[i].sec;
		o.ring = cases[i].ring;
		assert_string_equal(cid_writer_name(&o, cases[i].idx, 1700000000LL * 1000000000LL, buf, sizeof(buf)),
				    cases[i].want);
	}
}

static void test_rotate_ring(void **state)
{
	struct cid_writer_opts o;
	struct cid_writer *w;
	char err[256], path[512];
	uint8_t pkt[100];
	uint64_t total = 0;
	(void)state;
	snprintf(path, sizeof(path), "%s/ring.pcap", dir);
	cid_writer_opts_default(&o, path);
	o.rotate_bytes = 1000;
	o.ring = 3;
	w = cid_writer_new(&o, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(cid_writer_add_iface(w, CID_DLT_EN10MB, "eth0"), 0);
	assert_int_equal(cid_writer_start(w, 0), 0);
	fill(pkt, sizeof(pkt), 1);
	for (unsigned i = 0; i < 60; i++)
		assert_int_equal(cid_writer_packet(w, 0, (int64_t)i * 1000, pkt, sizeof(pkt), sizeof(pkt)), 0);
	assert_true(cid_writer_files(w) > 3);
	cid_writer_free(w);
	assert_int_equal(count_files("ring"), 3);
	for (unsigned k = 0; k < 3; k++) {
		struct cid_pcapfile *f;
		struct cid_pcap_rec rec;
		struct stat st;
		snprintf(path, sizeof(path), "%s/ring%u.pcap", dir, k);
		assert_int_equal(stat(path, &st), 0);
		assert_true(st.st_size <= 1000);
		f = cid_pcapfile_open(path, err, sizeof(err));
		assert_non_null(f);
		while (cid_pcapfile_next(f, &rec) == 1)
			total++;
		cid_pcapfile_free(f);
	}
	/* 24-byte header + 116-byte records: 8 per 1000-byte file */
	assert_true(total >= 17 && total <= 24);
}

static void test_rotate_time(void **state)
{
	struct cid_writer_opts o;
	struct cid_writer *w;
	char err[256], path[512];
	uint8_t pkt[10] = {0};
	(void)state;
	snprintf(path, sizeof(path), "%s/tm.pcapng", dir);
	cid_writer_opts_default(&o, path);
	o.rotate_sec = 2;
	w = cid_writer_new(&o, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(cid_writer_add_iface(w, CID_DLT_EN10MB, "eth0"), 0);
	for (int64_t s = 0; s < 7; s++)
		assert_int_equal(cid_writer_packet(w, 0, s * 1000000000LL, pkt, sizeof(pkt), sizeof(pkt)), 0);
	/* files start at 0, 2, 4, 6 s */
	assert_int_equal(cid_writer_files(w), 4);
	assert_string_equal(cid_writer_path(w) + strlen(dir), "/tm3.pcapng");
	cid_writer_free(w);
	assert_int_equal(count_files("tm"), 4);
}

/* -z: each file a rotation closes goes to "CMD FILE"; the last does not. */
static void post_rotate_run(const char *cmd, const char *name, uint64_t want_failed)
{
	struct cid_writer_opts o;
	struct cid_writer *w;
	char err[256], path[512];
	uint8_t pkt[10] = {0};
	snprintf(path, sizeof(path), "%s/%s.pcap", dir, name);
	cid_writer_opts_default(&o, path);
	o.rotate_sec = 1;
	o.post_rotate = cmd;
	w = cid_writer_new(&o, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(cid_writer_add_iface(w, CID_DLT_EN10MB, "eth0"), 0);
	for (int64_t s = 0; s < 4; s++)
		assert_int_equal(cid_writer_packet(w, 0, s * 1000000000LL, pkt, sizeof(pkt), sizeof(pkt)), 0);
	assert_int_equal(cid_writer_files(w), 4);
	assert_int_equal(cid_writer_wait_post(w, 20000), 0);
	assert_int_equal(cid_writer_post_started(w), 3);
	assert_int_equal(cid_writer_post_failed(w), want_failed);
	cid_writer_free(w);
}

static void test_post_rotate(void **state)
{
	char path[512], err[256];
	(void)state;
	post_rotate_run("gzip", "pz", 0);
	assert_int_equal(count_files("pz"), 4);
	for (unsigned k = 0; k < 4; k++) {
		struct cid_pcapfile *f;
		struct cid_pcap_rec rec;
		if (k < 3)
			snprintf(path, sizeof(path), k ? "%s/pz%u.pcap.gz" : "%s/pz.pcap.gz", dir, k);
		else
			snprintf(path, sizeof(path), "%s/pz3.pcap", dir); /* the last file stays */
		f = cid_pcapfile_open(path, err, sizeof(err));
		if (!f)
			fail_msg("%s", err);
		assert_int_equal(cid_pcapfile_next(f, &rec), 1);
		assert_int_equal(cid_pcapfile_next(f, &rec), 0);
		cid_pcapfile_free(f);
	}
	/* a command that cannot be run, one that fails: counted, files kept */
	post_rotate_run("/nonexistent/callerid-z", "pn", 3);
	assert_int_equal(count_files("pn"), 4);
	post_rotate_run("false", "pf", 3);
	assert_int_equal(count_files("pf"), 4);
}

static void test_bad_options(void **state)
{
	struct cid_writer_opts o;
	char err[256];
	(void)state;
	cid_writer_opts_default(&o, "");
	assert_null(cid_writer_new(&o, err, sizeof(err)));
	cid_writer_opts_default(&o, "x.pcap");
	o.ring = 3;
	assert_null(cid_writer_new(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "-W"));
}

static void test_unwritable(void **state)
{
	struct cid_writer_opts o;
	struct cid_writer *w;
	char err[256];
	(void)state;
	cid_writer_opts_default(&o, "/nonexistent-dir/x.pcap");
	w = cid_writer_new(&o, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(cid_writer_add_iface(w, CID_DLT_EN10MB, "eth0"), 0);
	assert_int_equal(cid_writer_start(w, 0), -CID_EIO);
	assert_non_null(strstr(cid_writer_error(w), "cannot create"));
	cid_writer_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pcap_roundtrip),
		cmocka_unit_test(test_pcapng_roundtrip),
		cmocka_unit_test(test_pcap_two_linktypes_refused),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_rotate_ring),
		cmocka_unit_test(test_rotate_time),
		cmocka_unit_test(test_post_rotate),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_unwritable),
		cmocka_unit_test(test_full_disk),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
