/*
 * fuzz_pcapfile.c - libFuzzer harness for the pcap/pcapng reader and the
 * flow engine behind it.
 *
 * Input: a whole capture file, read with cid_pcapfile_open_mem; every record
 * goes to an engine with small caps (few flows, small stream buffers, short
 * idle time) so that eviction, expiry and the hello caps are reached. Checks
 * the reader's promises, not just "no crash": a record lies inside the
 * input, caplen <= wirelen and <= the caplen cap, the interface exists, the
 * offset only grows; a failure always comes with a message; the engine's
 * table never exceeds its cap. A gzip-compressed input is inflated by the
 * reader (its records then lie in the reader's buffer, past the input).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/flow.h"
#include "callerid/pcapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FLOWS 8u
#define MAX_RECORDS 200000u

static void on_end(void *ctx, struct cid_flow *f)
{
	uint64_t *n = ctx;
	(*n)++;
	if (f->num_reqs > CID_FLOW_MAX_REQUESTS || f->num_ifaces > CID_MAX_IFACES)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CID_ERRBUF_SIZE];
	struct cid_engine_config cfg;
	struct cid_engine *e;
	struct cid_pcapfile *f;
	struct cid_pcap_rec rec;
	uint64_t ended = 0, created, last_off = 0, n = 0;
	uint8_t *copy;
	int rc = 0;
	/* gzip input is inflated into the reader's own buffer: its records lie
	 * there, and offsets count the decompressed bytes */
	bool inflated = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;

	/* A private copy of exactly the input, so ASan sees any over-read. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	err[0] = '\0';
	f = cid_pcapfile_open_mem(copy, size, err, sizeof(err));
	if (!f) {
		if (!err[0])
			abort();
		free(copy);
		return 0;
	}
	cid_engine_config_default(&cfg);
	cfg.max_flows = MAX_FLOWS;
	cfg.stream_cap = 2048;
	cfg.idle_ns = 30LL * 1000000000LL;
	cfg.burst_gap_ns = 100LL * 1000000LL;
	cfg.hash_seed = 42;
	cfg.on_end = on_end;
	cfg.ctx = &ended;
	e = cid_engine_new(&cfg);
	if (!e)
		abort();
	while (n < MAX_RECORDS && (rc = cid_pcapfile_next(f, &rec)) == 1) {
		uint64_t off = cid_pcapfile_offset(f);
		n++;
		if (rec.caplen > rec.wirelen || rec.caplen > CID_PCAP_MAX_CAPLEN)
			abort();
		if (rec.caplen && !inflated &&
		    (rec.data < copy || rec.data > copy + size || rec.caplen > (size_t)(copy + size - rec.data)))
			abort();
		if (rec.ifid >= cid_pcapfile_num_ifaces(f) || cid_pcapfile_dlt(f, rec.ifid) != rec.dlt)
			abort();
		if (off <= last_off || (!inflated && off > size) || cid_pcapfile_records(f) != n)
			abort();
		last_off = off;
		(void)cid_pcapfile_ifname(f, rec.ifid);
		cid_engine_frame(e, rec.ts_ns, rec.dlt, 0x80000000u | rec.ifid, rec.data, rec.caplen, rec.wirelen);
		if (cid_engine_num_flows(e) > MAX_FLOWS)
			abort();
	}
	if (n < MAX_RECORDS && rc < 0 && !cid_pcapfile_error(f)[0])
		abort();
	if (cid_pcapfile_warnings(f) && !cid_pcapfile_warning(f)[0])
		abort();
	created = cid_engine_stats(e)->flows;
	cid_engine_free(e);
	/* every flow created was ended exactly once */
	if (ended != created)
		abort();
	cid_pcapfile_free(f);
	free(copy);
	return 0;
}
