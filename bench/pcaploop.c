/*
 * pcaploop.c - the "plain libpcap loop" baseline of /work/shared/PERF.md.
 *
 *   pcaploop [--big-buffer] [--dispatch] FILE
 *
 * Default: pcap_open_offline + pcap_next_ex with libpcap's own (4 KiB stdio)
 * buffering. --big-buffer: the caller opens FILE with a 1 MiB stdio buffer
 * (setvbuf with a caller-allocated buffer: glibc ignores the size when the
 * pointer is NULL) and hands it to pcap_fopen_offline. --dispatch reads with
 * pcap_dispatch instead of pcap_next_ex. Every packet is touched (its first
 * byte is summed, through the cursor) so the loop cannot be optimised away.
 *
 * Prints "packets=N bytes=N wire_bytes=N sum=N" on stdout. Exit 0 on
 * success, 1 when the file cannot be read, 2 on usage error.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/cursor.h"

#define BIG_BUFFER (1u << 20)

struct totals {
	uint64_t packets, bytes, wire_bytes, sum;
};

static void touch(struct totals *t, const struct pcap_pkthdr *h, const uint8_t *data)
{
	struct cid_cur c;
	uint8_t b = 0;
	cid_cur_init(&c, data, h->caplen);
	(void)cid_cur_u8(&c, &b);
	t->packets++;
	t->bytes += h->caplen;
	t->wire_bytes += h->len;
	t->sum += b;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	touch((struct totals *)(void *)user, h, data);
}

int main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	int big = 0, dispatch = 0, a = 1, rc = 1;
	for (; a < argc && strncmp(argv[a], "--", 2) == 0; a++) {
		if (strcmp(argv[a], "--big-buffer") == 0)
			big = 1;
		else if (strcmp(argv[a], "--dispatch") == 0)
			dispatch = 1;
		else
			break;
	}
	if (argc - a != 1) {
		fprintf(stderr, "usage: pcaploop [--big-buffer] [--dispatch] FILE\n");
		return 2;
	}
	const char *path = argv[a];
	FILE *fp = NULL;
	char *vbuf = NULL;
	pcap_t *p = NULL;
	struct totals t = {0, 0, 0, 0};

	if (big) {
		fp = fopen(path, "rb");
		vbuf = malloc(BIG_BUFFER);
		if (!fp || !vbuf) {
			perror(path);
			goto out;
		}
		setvbuf(fp, vbuf, _IOFBF, BIG_BUFFER);
		p = pcap_fopen_offline(fp, errbuf);
		if (p)
			fp = NULL; /* pcap_close() closes it now */
	} else {
		p = pcap_open_offline(path, errbuf);
	}
	if (!p) {
		fprintf(stderr, "pcaploop: %s: %s\n", path, errbuf);
		goto out;
	}

	int r;
	if (dispatch) {
		while ((r = pcap_dispatch(p, 4096, on_packet, (u_char *)(void *)&t)) > 0)
			;
		r = r == 0 ? PCAP_ERROR_BREAK : r;
	} else {
		struct pcap_pkthdr *h;
		const u_char *data;
		while ((r = pcap_next_ex(p, &h, &data)) == 1)
			touch(&t, h, data);
	}
	if (r != PCAP_ERROR_BREAK) {
		fprintf(stderr, "pcaploop: %s: %s\n", path, pcap_geterr(p));
		goto out;
	}
	printf("packets=%llu bytes=%llu wire_bytes=%llu sum=%llu\n",
	       (unsigned long long)t.packets, (unsigned long long)t.bytes,
	       (unsigned long long)t.wire_bytes, (unsigned long long)t.sum);
	rc = 0;
out:
	if (p)
		pcap_close(p);
	if (fp)
		fclose(fp);
	free(vbuf);
	return rc;
}
