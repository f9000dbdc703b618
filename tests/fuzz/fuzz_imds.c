/*
 * fuzz_imds.c - libFuzzer harness for the IMDS request-head reader
 * (cid_imds_parse): every input is parsed whole and at every length the
 * reader could be handed by a TCP segment boundary near the end.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/live.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *p, size_t n)
{
	struct cid_imds_req r;
	volatile size_t sink = 0;
	/* a heap copy of exactly n bytes, so ASan sees any overread */
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy)
		return;
	if (n)
		memcpy(copy, p, n);
	if (cid_imds_parse(&r, copy, n) == CID_OK) {
		/* the borrowed strings lie inside the input */
		if (r.method_len)
			sink += (size_t)r.method[r.method_len - 1];
		if (r.path_len)
			sink += (size_t)r.path[r.path_len - 1];
		if (r.host && r.host_len)
			sink += (size_t)r.host[r.host_len - 1];
		if (r.ua && r.ua_len)
			sink += (size_t)r.ua[r.ua_len - 1];
	}
	(void)sink;
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size);
	for (size_t cut = 1; cut <= 8 && cut <= size; cut++)
		check(data, size - cut);
	return 0;
}
