/*
 * fuzz_decode.c - libFuzzer harness for cid_decode_frame.
 *
 * Input: one byte choosing the link type (modulo the list below), then the
 * frame. Checks the decoder's promises, not just "no crash": on CID_OK the
 * payload lies inside the frame and is no longer than the wire length says;
 * on failure a reason is given.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int dlts[] = {
	CID_DLT_NULL, CID_DLT_EN10MB, CID_DLT_RAW, 12, 14, CID_DLT_LOOP,
	CID_DLT_LINUX_SLL, CID_DLT_IPV4, CID_DLT_IPV6, CID_DLT_LINUX_SLL2,
	CID_DLT_PPP, CID_DLT_PPP_HDLC,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cid_pkt pkt;
	enum cid_skip why;
	enum cid_status st;
	uint8_t *frame;
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1;
	/* A private copy of exactly the frame, so ASan sees any over-read. */
	frame = malloc(n ? n : 1);
	if (!frame)
		return 0;
	if (n)
		memcpy(frame, data + 1, n);
	st = cid_decode_frame(&pkt, &why, dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))], frame, n);
	if (st == CID_OK) {
		if (why != CID_SKIP_NONE || (pkt.proto != 6 && pkt.proto != 17))
			abort();
		if (pkt.payload < frame || pkt.payload > frame + n ||
		    pkt.payload_len > (size_t)(frame + n - pkt.payload) ||
		    pkt.payload_len > pkt.payload_wire_len)
			abort();
		if (pkt.src.family != pkt.dst.family || (pkt.src.family != 4 && pkt.src.family != 6))
			abort();
	} else if (why == CID_SKIP_NONE || why >= CID_SKIP__COUNT) {
		abort();
	}
	free(frame);
	return 0;
}
