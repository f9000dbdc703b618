/*
 * fuzz_cgroup.c - libFuzzer harness for the pure /proc parsers of live
 * attribution: the first byte picks the parser (cgroup file, cgroup path,
 * stat, status, cmdline, socket/net link target), the rest is its input,
 * handed over as an exact-size heap copy so ASan sees any overread.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/attrib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *p;
	size_t n;
	if (size < 1)
		return 0;
	n = size - 1;
	p = malloc(n ? n : 1);
	if (!p)
		return 0;
	if (n)
		memcpy(p, data + 1, n);
	switch (data[0] % 7) {
	case 0: {
		struct cid_cgroup_info i;
		if (cid_cgroup_parse(&i, p, n) == CID_OK &&
		    (strlen(i.container_id) % 64 != 0 || (i.pod_uid[0] && strlen(i.pod_uid) != 36)))
			abort();
		break;
	}
	case 1: {
		struct cid_cgroup_info i;
		(void)cid_cgroup_parse_path(&i, p, n);
		break;
	}
	case 2: {
		struct cid_proc_stat st;
		if (cid_proc_parse_stat(&st, p, n) == CID_OK && strlen(st.comm) >= sizeof(st.comm))
			abort();
		break;
	}
	case 3: {
		struct cid_proc_status st;
		(void)cid_proc_parse_status(&st, p, n);
		break;
	}
	case 4: {
		char out[64];
		bool cut;
		(void)cid_proc_parse_cmdline(out, sizeof(out), &cut, p, n);
		if (strlen(out) >= sizeof(out))
			abort();
		break;
	}
	case 5: {
		uint64_t ino;
		if (cid_proc_parse_inode_link(&ino, "socket", p, n) == CID_OK && !ino)
			abort();
		break;
	}
	default: {
		uint64_t ino;
		(void)cid_proc_parse_inode_link(&ino, "net", p, n);
		break;
	}
	}
	free(p);
	return 0;
}
