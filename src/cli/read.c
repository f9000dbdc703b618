/*
 * read.c - `callerid read`: pcap/pcapng files through the engine into the
 * store, one line per TLS flow on stdout, a summary on stderr.
 */
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "callerid/cli.h"
#include "callerid/digest.h"
#include "callerid/flow.h"
#include "callerid/flowq.h"
#include "callerid/natlink.h"
#include "callerid/output.h"
#include "callerid/pcapfile.h"
#include "callerid/store.h"
#include "callerid/tlsline.h"

#define MAX_NETS 256
#define MAX_BPF_DLTS 16

struct bpf_slot {
	int dlt;
	bool ok;
	struct bpf_program prog;
};

struct read_ctx {
	struct cid_store *store;
	struct cid_flowq *q;   /* writer thread; NULL: write synchronously */
	int64_t capture_id;
	struct cid_pcapfile *pf;
	struct tlsline *lines;
	bool quiet;
	int store_failed;
	char store_err[CID_ERRBUF_SIZE];
	uint64_t alloc_failed; /* outside the engine, reported with its count */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: callerid read [-e ENDPOINT]... [-f BPF] [--db FILE] [--format table|json|csv] [-q]\n"
		"                     [--stream-cap BYTES] [--flow-mem BYTES] [--max-flows N] [--idle SEC]\n"
		"                     [--burst-gap SEC] [--no-db] [--no-evidence] FILE...\n"
		"  Reads pcap/pcapng files (\"-\" for standard input), records flows with TLS\n"
		"  metadata and request bursts, and prints one line per TLS flow.\n"
		"  -e ENDPOINT  keep only traffic to/from this IP or CIDR (repeatable)\n"
		"  -f BPF       libpcap filter expression applied to every packet\n"
		"  -q           no per-flow lines (the summary is still printed on stderr)\n"
		"  --no-evidence do not parse plaintext HTTP (IMDS) and DNS\n");
}

/* flow.ifaces: names of the interfaces the flow was seen on. */
static void ifaces_text(struct cid_pcapfile *pf, const struct cid_flow *f, struct cid_buf *b)
{
	for (unsigned i = 0; i < f->num_ifaces; i++) {
		uint32_t v = f->ifaces[i];
		if (i)
			cid_buf_addc(b, ',');
		if (v & 0x80000000u) {
			const char *n = cid_pcapfile_ifname(pf, v & 0x7fffffffu);
			if (n)
				cid_buf_adds(b, n);
			else
				cid_buf_printf(b, "if%u", v & 0x7fffffffu);
		} else {
			cid_buf_printf(b, "ifindex%u", v);
		}
	}
}

static void on_tls(void *ctx, struct cid_flow *f)
{
	struct read_ctx *rc = ctx;
	if (!rc->quiet)
		cid_tlsline_print(rc->lines, f);
}

static void on_end(void *ctx, struct cid_flow *f)
{
	struct read_ctx *rc = ctx;
	struct cid_buf b;
	if (!rc->store || rc->store_failed)
		return;
	cid_buf_init(&b, 4096);
	ifaces_text(rc->pf, f, &b);
	if (b.oom) {
		/* stored with the interface numbers instead of their names */
		rc->alloc_failed++;
		cid_buf_reset(&b);
	}
	if (rc->q) {
		if (!cid_flowq_put(rc->q, rc->capture_id, f, b.len ? cid_buf_str(&b) : NULL)) {
			rc->store_failed = 1;
			snprintf(rc->store_err, sizeof(rc->store_err), "out of memory");
		}
	} else if (cid_store_put_flow(rc->store, rc->capture_id, f, b.len ? cid_buf_str(&b) : NULL) < 0) {
		rc->store_failed = 1;
		snprintf(rc->store_err, sizeof(rc->store_err), "%s", cid_store_errmsg(rc->store));
	}
	cid_buf_cleanup(&b);
}

static struct bpf_slot *bpf_for(struct bpf_slot *slots, int *num, int dlt, const char *expr, char *err,
				size_t err_len)
{
	pcap_t *dead;
	for (int i = 0; i < *num; i++)
		if (slots[i].dlt == dlt)
			return &slots[i];
	if (*num >= MAX_BPF_DLTS)
		return NULL;
	slots[*num].dlt = dlt;
	slots[*num].ok = false;
	dead = pcap_open_dead(dlt, 262144);
	if (dead) {
		if (pcap_compile(dead, &slots[*num].prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0)
			slots[*num].ok = true;
		else
			snprintf(err, err_len, "%s", pcap_geterr(dead));
		pcap_close(dead);
	}
	return &slots[(*num)++];
}

static void progress(const char *path, uint64_t off, uint64_t size, bool done)
{
	int pct = size ? (int)(off * 100 / size) : 100;
	int bars = pct / 4;
	fprintf(stderr, "\r%-32.32s [%-25.*s] %3d%%", path, bars, "#########################", pct);
	if (done)
		fputs("\n", stderr);
	fflush(stderr);
}

static void summary(const char *path, const struct cid_engine_stats *st, const struct cid_pcapfile *pf,
		    uint64_t bpf_dropped, uint64_t hash_failed, uint64_t lines_lost, uint64_t alloc_failed)
{
	fprintf(stderr, "%s: %llu packets, %llu decoded, %llu flows, %llu TLS flows, %llu request bursts\n", path,
		(unsigned long long)st->frames, (unsigned long long)st->decoded, (unsigned long long)st->flows,
		(unsigned long long)st->flows_tls, (unsigned long long)st->reqs);
	for (int i = 1; i < CID_SKIP__COUNT; i++)
		if (st->skipped[i])
			fprintf(stderr, "  not decoded: %llu %s\n", (unsigned long long)st->skipped[i],
				cid_skip_name((enum cid_skip)i));
	if (st->http_reqs || st->dns_msgs)
		fprintf(stderr, "  plaintext evidence: %llu HTTP requests, %llu DNS messages\n",
			(unsigned long long)st->http_reqs, (unsigned long long)st->dns_msgs);
	if (st->ev_dropped)
		fprintf(stderr, "  HTTP/DNS records over the caps: %llu\n", (unsigned long long)st->ev_dropped);
	if (bpf_dropped)
		fprintf(stderr, "  rejected by the -f filter: %llu\n", (unsigned long long)bpf_dropped);
	if (st->filtered)
		fprintf(stderr, "  outside the endpoints: %llu\n", (unsigned long long)st->filtered);
	cid_cli_flow_counts(stderr, st, false);
	if (st->time_backwards)
		fprintf(stderr, "  packets with time going backwards: %llu\n", (unsigned long long)st->time_backwards);
	alloc_failed += st->alloc_failed;
	if (alloc_failed)
		fprintf(stderr, "  allocation failures: %llu\n", (unsigned long long)alloc_failed);
	if (hash_failed)
		fprintf(stderr, "  fingerprints not computed (libcrypto failed, out of memory): %llu\n",
			(unsigned long long)hash_failed);
	if (lines_lost)
		fprintf(stderr, "  TLS lines not printed or incomplete (out of memory): %llu\n",
			(unsigned long long)lines_lost);
	if (cid_pcapfile_warnings(pf))
		fprintf(stderr, "  warnings: %llu (first: %s)\n", (unsigned long long)cid_pcapfile_warnings(pf),
			cid_pcapfile_warning(pf));
}

static uint64_t random_seed(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 32;
}

int cid_cmd_read(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, 'D'},     {"format", required_argument, NULL, 'F'},
		{"stream-cap", required_argument, NULL, 'S'}, {"max-flows", required_argument, NULL, 'M'},
		{"flow-mem", required_argument, NULL, 'T'},
		{"idle", required_argument, NULL, 'I'},   {"burst-gap", required_argument, NULL, 'G'},
		{"no-db", no_argument, NULL, 'N'},        {"help", no_argument, NULL, 'h'},
		/* hidden, for make bench: HTTP/IMDS and DNS parsing off */
		{"no-evidence", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct cid_net nets[MAX_NETS];
	size_t num_nets = 0;
	const char *bpf_expr = NULL, *db_opt = NULL;
	enum cid_fmt fmt = cid_fmt_default();
	struct cid_engine_config cfg;
	struct read_ctx rc;
	struct bpf_slot slots[MAX_BPF_DLTS];
	int num_slots = 0, opt, status = 0;
	bool no_db = false;
	char err[CID_ERRBUF_SIZE];

	memset(&rc, 0, sizeof(rc));
	cid_engine_config_default(&cfg);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "e:f:qh", longopts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 'e':
			if (num_nets >= MAX_NETS || !cid_net_parse(&nets[num_nets], optarg)) {
				cid_cli_err("read", "bad endpoint '%s' (IP or CIDR; hostnames need `capture`)", optarg);
				return 2;
			}
			num_nets++;
			break;
		case 'f': bpf_expr = optarg; break;
		case 'q': rc.quiet = true; break;
		case 'D': db_opt = optarg; break;
		case 'N': no_db = true; break;
		case 'V':
			cfg.num_http_ports = 0;
			cfg.dns = false;
			break;
		case 'F':
			if (!cid_fmt_parse(&fmt, optarg)) {
				cid_cli_err("read", "bad --format '%s'", optarg);
				return 2;
			}
			break;
		case 'S':
			cfg.stream_cap = strtoul(optarg, &end, 10);
			if (*end || cfg.stream_cap < 1024 || cfg.stream_cap > (1u << 24)) {
				cid_cli_err("read", "--stream-cap must be 1024..16777216");
				return 2;
			}
			break;
		case 'T':
			if (!cid_cli_bytes(optarg, &cfg.flow_mem)) {
				cid_cli_err("read", "--flow-mem must be 1M..1T (bytes, or with K, M, G)");
				return 2;
			}
			break;
		case 'M':
			cfg.max_flows = strtoul(optarg, &end, 10);
			if (*end || cfg.max_flows < 16) {
				cid_cli_err("read", "--max-flows must be at least 16");
				return 2;
			}
			break;
		case 'I':
		case 'G': {
			double v = strtod(optarg, &end);
			if (*end || v <= 0 || v > 86400 * 7) {
				cid_cli_err("read", "bad number of seconds '%s'", optarg);
				return 2;
			}
			if (opt == 'I')
				cfg.idle_ns = (int64_t)(v * 1e9);
			else
				cfg.burst_gap_ns = (int64_t)(v * 1e9);
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		cid_cli_err("read", "no capture file given");
		usage(stderr);
		return 2;
	}
	if (bpf_expr) {
		/* a bad expression is a usage error before anything is read */
		struct bpf_slot *s = bpf_for(slots, &num_slots, CID_DLT_EN10MB, bpf_expr, err, sizeof(err));
		if (!s || !s->ok) {
			cid_cli_err("read", "bad filter expression: %s", err);
			return 2;
		}
	}
	if (!cid_md_init()) {
		cid_cli_err("read", "libcrypto: cannot set up its digests and ciphers (out of memory)");
		return 1;
	}
	if (!no_db) {
		rc.store = cid_cli_open_store("read", db_opt, false);
		if (!rc.store)
			return 1;
		rc.q = cid_flowq_new(rc.store, 1024);
	}
	rc.lines = cid_tlsline_new(stdout, fmt);
	if (!rc.lines) {
		cid_cli_err("read", "out of memory");
		cid_flowq_free(rc.q);
		cid_store_free(rc.store);
		return 1;
	}
	cfg.on_tls = on_tls;
	cfg.on_end = on_end;
	cfg.ctx = &rc;
	cfg.nets = nets;
	cfg.num_nets = num_nets;
	cfg.hash_seed = random_seed();

	for (int i = optind; i < argc; i++) {
		const char *path = argv[i];
		struct cid_pcap_rec rec;
		struct cid_engine *eng;
		struct stat stt;
		uint64_t size = 0, bpf_dropped = 0, hash0 = cid_store_hash_failures(rc.store);
		uint64_t lost0 = cid_tlsline_lost(rc.lines), oom0 = rc.alloc_failed;
		int64_t first_ts = 0, last_ts = 0;
		bool show_progress;
		time_t last_prog = 0;
		int r;

		rc.pf = cid_pcapfile_open(path, err, sizeof(err));
		if (!rc.pf) {
			cid_cli_err("read", "%s", err);
			status = 1;
			continue;
		}
		if (stat(path, &stt) == 0 && S_ISREG(stt.st_mode))
			size = (uint64_t)stt.st_size;
		show_progress = isatty(2) && size > 64u * 1024 * 1024;
		eng = cid_engine_new(&cfg);
		if (!eng) {
			cid_cli_err("read", "%s: out of memory", path);
			cid_pcapfile_free(rc.pf);
			status = 1;
			break;
		}
		if (rc.store && cid_store_capture_begin(rc.store, "file", path, NULL, bpf_expr, 0, &rc.capture_id) < 0) {
			cid_cli_err("read", "%s", cid_store_errmsg(rc.store));
			cid_engine_free(eng);
			cid_pcapfile_free(rc.pf);
			status = 1;
			break;
		}
		while ((r = cid_pcapfile_next(rc.pf, &rec)) == 1) {
			uint32_t ifkey = cid_pcapfile_is_pcapng(rc.pf) ? (0x80000000u | rec.ifid) : 0;
			if (bpf_expr) {
				struct bpf_slot *s = bpf_for(slots, &num_slots, rec.dlt, bpf_expr, err, sizeof(err));
				struct pcap_pkthdr h;
				if (!s || !s->ok) {
					bpf_dropped++;
					continue;
				}
				memset(&h, 0, sizeof(h));
				h.caplen = rec.caplen;
				h.len = rec.wirelen;
				if (!pcap_offline_filter(&s->prog, &h, rec.data)) {
					bpf_dropped++;
					continue;
				}
			}
			if (!first_ts)
				first_ts = rec.ts_ns;
			if (rec.ts_ns > last_ts)
				last_ts = rec.ts_ns;
			cid_engine_frame(eng, rec.ts_ns, rec.dlt, ifkey, rec.data, rec.caplen, rec.wirelen);
			if (show_progress && (cid_pcapfile_records(rc.pf) & 0xffff) == 0 && time(NULL) != last_prog) {
				last_prog = time(NULL);
				progress(path, cid_pcapfile_offset(rc.pf), size, false);
			}
		}
		if (show_progress)
			progress(path, size, size, true);
		if (r < 0) {
			/* everything before the damage is kept */
			cid_cli_err("read", "%s", cid_pcapfile_error(rc.pf));
			status = 1;
		}
		cid_engine_flush(eng, CID_END_EOC);
		if (rc.store) {
			/* the writer thread hands the store back once it is drained */
			if (rc.q && cid_flowq_sync(rc.q, rc.store_err, sizeof(rc.store_err)) < 0)
				rc.store_failed = 1;
			cid_store_capture_end(rc.store, rc.capture_id, first_ts / 1000, last_ts / 1000,
					      cid_pcapfile_records(rc.pf), 0, 0);
			if (cid_store_flush(rc.store) < 0) {
				cid_cli_err("read", "%s", cid_store_errmsg(rc.store));
				status = 1;
			} else if (cid_natlink_build(rc.store, rc.capture_id) < 0) {
				cid_cli_err("read", "%s: NAT links: %s", path, sqlite3_errmsg(cid_store_db(rc.store)));
				status = 1;
			}
		}
		if (rc.store_failed) {
			cid_cli_err("read", "%s: storing flows failed: %s", path, rc.store_err);
			status = 1;
			rc.store_failed = 0;
		}
		summary(path, cid_engine_stats(eng), rc.pf, bpf_dropped, cid_store_hash_failures(rc.store) - hash0,
			cid_tlsline_lost(rc.lines) - lost0, rc.alloc_failed - oom0);
		cid_engine_free(eng);
		cid_pcapfile_free(rc.pf);
		rc.pf = NULL;
	}
	for (int i = 0; i < num_slots; i++)
		if (slots[i].ok)
			pcap_freecode(&slots[i].prog);
	cid_tlsline_free(rc.lines);
	cid_flowq_free(rc.q);
	cid_store_free(rc.store);
	return status;
}
