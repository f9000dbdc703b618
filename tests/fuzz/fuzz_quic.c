/*
 * fuzz_quic.c - libFuzzer harness for QUIC Initial packets and the engine's
 * QUIC path. The first byte picks the mode:
 *   0: the input is a datagram: every long header in it is parsed and,
 *      with keys from its own DCID, decrypted (header protection and AEAD
 *      on hostile lengths); the input is also walked as decrypted frames;
 *   1: the input is the frames of a client Initial packet, protected here
 *      (cid_quic_protect) so that it opens, and fed to an engine as a UDP
 *      datagram: the CRYPTO reassembly and the hello parser behind it;
 *   2: as 1, then the input's second half again as the frames of the
 *      server's Initial.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/decode.h"
#include "callerid/digest.h"
#include "callerid/flow.h"
#include "callerid/quic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t DCID[8] = {1, 2, 3, 4, 5, 6, 7, 8};

static void on_crypto(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	size_t *sum = ctx;
	if (n)
		*sum += (size_t)(off & 1) + p[n - 1];
}

static void datagram(const uint8_t *p, size_t n)
{
	static uint8_t plain[CID_QUIC_MAX_PACKET];
	size_t off = 0, sum = 0;
	while (off < n) {
		struct cid_quic_long h;
		struct cid_quic_keys k;
		size_t len;
		uint64_t pn;
		if (cid_quic_parse_long(&h, p + off, n - off) != CID_OK || !h.packet_len)
			break;
		if (h.packet_len > n - off)
			abort(); /* the parser promised a packet inside the datagram */
		if (h.type == CID_QUIC_INITIAL && cid_quic_initial_keys(&k, h.version, h.dcid, h.dcid_len, false) &&
		    cid_quic_decrypt(&k, &h, p + off, plain, &len, &pn) == CID_OK)
			(void)cid_quic_frames(plain, len, on_crypto, &sum);
		off += h.packet_len;
	}
	(void)cid_quic_frames(p, n, on_crypto, &sum);
}

/* An Initial packet around frames, in an EN10MB + IPv4 + UDP frame. */
static size_t initial_frame(uint8_t *out, bool server, const uint8_t *frames, size_t n)
{
	struct cid_quic_keys k;
	size_t o = 0, q, pn_off, pkt_len, pad = server || n >= 1200 ? 0 : 1200 - n;
	static const uint8_t cli[4] = {10, 0, 0, 1}, srv[4] = {10, 0, 0, 2};
	if (!cid_quic_initial_keys(&k, CID_QUIC_V1, DCID, sizeof(DCID), server))
		return 0;
	memset(out, 0, 14);
	out[12] = 0x08;
	o = 14;
	out[o] = 0x45;
	o += 20;
	memcpy(out + 26, server ? srv : cli, 4);
	memcpy(out + 30, server ? cli : srv, 4);
	out[23] = 17;
	out[22] = 64;
	out[o] = server ? 0x01 : 0xc3, out[o + 1] = server ? 0xbb : 0x50;
	out[o + 2] = server ? 0xc3 : 0x01, out[o + 3] = server ? 0x50 : 0xbb;
	o += 8;
	q = o;
	out[o++] = 0xc1; /* Initial, 2-byte packet number */
	out[o++] = 0, out[o++] = 0, out[o++] = 0, out[o++] = 1;
	out[o++] = server ? 0 : sizeof(DCID);
	if (!server)
		memcpy(out + o, DCID, sizeof(DCID)), o += sizeof(DCID);
	out[o++] = server ? sizeof(DCID) : 0;
	if (server)
		memcpy(out + o, DCID, sizeof(DCID)), o += sizeof(DCID);
	out[o++] = 0; /* token */
	pkt_len = 2 + n + pad + 16;
	out[o++] = (uint8_t)(0x40 | pkt_len >> 8), out[o++] = (uint8_t)pkt_len;
	pn_off = o - q;
	out[o++] = 0, out[o++] = server ? 0 : 1;
	memcpy(out + o, frames, n), o += n;
	memset(out + o, 0, pad + 16), o += pad + 16;
	if (!cid_quic_protect(&k, out + q, pn_off, o - q))
		return 0;
	out[16] = (uint8_t)((o - 14) >> 8), out[17] = (uint8_t)(o - 14);
	out[38] = (uint8_t)((o - 34) >> 8), out[39] = (uint8_t)(o - 34);
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t fr[CID_QUIC_MAX_PACKET + 128];
	struct cid_engine_config cfg;
	struct cid_engine *e;
	size_t n;
	uint8_t mode;
	if (size < 1 || !cid_md_init())
		return 0;
	mode = data[0] % 3;
	data++, size--;
	if (mode == 0) {
		datagram(data, size);
		return 0;
	}
	if (size > CID_QUIC_MAX_PACKET - 64)
		size = CID_QUIC_MAX_PACKET - 64;
	cid_engine_config_default(&cfg);
	cfg.stream_cap = 4096;
	e = cid_engine_new(&cfg);
	if (!e)
		return 0;
	n = initial_frame(fr, false, data, size);
	if (n)
		cid_engine_frame(e, 1000, CID_DLT_EN10MB, 0, fr, n, n);
	if (mode == 2 && (n = initial_frame(fr, true, data + size / 2, size - size / 2)) != 0)
		cid_engine_frame(e, 2000, CID_DLT_EN10MB, 0, fr, n, n);
	cid_engine_free(e);
	return 0;
}
