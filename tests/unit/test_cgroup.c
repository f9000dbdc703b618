/*
 * test_cgroup.c - container id and pod UID from /proc/PID/cgroup lines of
 * every runtime and driver (the layouts kubelet, containerd, CRI-O and
 * Docker create; cgroup v1, v2 and hybrid files), with an every-prefix
 * truncation sweep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "callerid/attrib.h"

#define ID1 "3f1c9a7b2e4d6f80a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718"
#define ID2 "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899"
#define UID1 "6b4c5a1e-7d2f-4e8a-9c3b-1f2e3d4c5b6a"
#define UID1_ "6b4c5a1e_7d2f_4e8a_9c3b_1f2e3d4c5b6a"

struct vec {
	const char *name;
	const char *text;
	enum cid_status st;
	const char *id;
	const char *uid;
	enum cid_cg_runtime rt;
	enum cid_cg_driver drv;
	enum cid_cg_qos qos;
};

static const struct vec vecs[] = {
	{"v2 systemd containerd besteffort",
	 "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID1_ ".slice/cri-containerd-" ID1
	 ".scope\n",
	 CID_OK, ID1, UID1, CID_CG_RT_CONTAINERD, CID_CG_DRV_SYSTEMD, CID_CG_QOS_BESTEFFORT},
	{"v2 systemd containerd burstable",
	 "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID1_ ".slice/cri-containerd-" ID1
	 ".scope\n",
	 CID_OK, ID1, UID1, CID_CG_RT_CONTAINERD, CID_CG_DRV_SYSTEMD, CID_CG_QOS_BURSTABLE},
	{"v2 systemd guaranteed",
	 "0::/kubepods.slice/kubepods-pod" UID1_ ".slice/cri-containerd-" ID1 ".scope\n", CID_OK, ID1, UID1,
	 CID_CG_RT_CONTAINERD, CID_CG_DRV_SYSTEMD, CID_CG_QOS_GUARANTEED},
	{"v2 systemd cri-o",
	 "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID1_ ".slice/crio-" ID2 ".scope\n",
	 CID_OK, ID2, UID1, CID_CG_RT_CRIO, CID_CG_DRV_SYSTEMD, CID_CG_QOS_BURSTABLE},
	{"cri-o conmon is not the container",
	 "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID1_ ".slice/crio-conmon-" ID2
	 ".scope\n",
	 CID_OK, "", UID1, CID_CG_RT_NONE, CID_CG_DRV_SYSTEMD, CID_CG_QOS_BURSTABLE},
	{"v2 systemd dockershim",
	 "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID1_ ".slice/docker-" ID1 ".scope\n",
	 CID_OK, ID1, UID1, CID_CG_RT_DOCKER, CID_CG_DRV_SYSTEMD, CID_CG_QOS_BESTEFFORT},
	{"v1 cgroupfs burstable", "11:pids:/kubepods/burstable/pod" UID1 "/" ID2 "\n", CID_OK, ID2, UID1,
	 CID_CG_RT_UNKNOWN, CID_CG_DRV_CGROUPFS, CID_CG_QOS_BURSTABLE},
	{"v1 cgroupfs besteffort", "4:memory:/kubepods/besteffort/pod" UID1 "/" ID1 "\n", CID_OK, ID1, UID1,
	 CID_CG_RT_UNKNOWN, CID_CG_DRV_CGROUPFS, CID_CG_QOS_BESTEFFORT},
	{"v1 cgroupfs guaranteed", "3:cpu,cpuacct:/kubepods/pod" UID1 "/" ID1 "\n", CID_OK, ID1, UID1,
	 CID_CG_RT_UNKNOWN, CID_CG_DRV_CGROUPFS, CID_CG_QOS_GUARANTEED},
	{"pod sandbox level only", "0::/kubepods/burstable/pod" UID1 "\n", CID_OK, "", UID1, CID_CG_RT_NONE,
	 CID_CG_DRV_CGROUPFS, CID_CG_QOS_BURSTABLE},
	{"containerd colon form",
	 "0::/system.slice/containerd.service/kubepods-burstable-pod" UID1_ ".slice:cri-containerd:" ID1 "\n", CID_OK,
	 ID1, UID1, CID_CG_RT_CONTAINERD, CID_CG_DRV_SYSTEMD, CID_CG_QOS_BURSTABLE},
	{"docker systemd scope", "0::/system.slice/docker-" ID1 ".scope\n", CID_OK, ID1, "", CID_CG_RT_DOCKER,
	 CID_CG_DRV_NONE, CID_CG_QOS_NONE},
	{"docker cgroupfs", "12:memory:/docker/" ID2 "\n11:pids:/docker/" ID2 "\n", CID_OK, ID2, "",
	 CID_CG_RT_DOCKER, CID_CG_DRV_NONE, CID_CG_QOS_NONE},
	{"upper-case hex is lowered", "0::/system.slice/docker-3F1C9A7B2E4D6F80A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718.scope\n",
	 CID_OK, ID1, "", CID_CG_RT_DOCKER, CID_CG_DRV_NONE, CID_CG_QOS_NONE},
	{"hybrid: v1 lines and the v2 line",
	 "9:name=systemd:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID1_
	 ".slice/cri-containerd-" ID1 ".scope\n8:pids:/kubepods.slice/kubepods-besteffort.slice\n"
	 "4:memory:/process_api/278f739f3b964937626b65529320f550\n0::/\n",
	 CID_OK, ID1, UID1, CID_CG_RT_CONTAINERD, CID_CG_DRV_SYSTEMD, CID_CG_QOS_BESTEFFORT},
	{"host service", "0::/system.slice/sshd.service\n", CID_UNSUPPORTED, "", "", 0, 0, 0},
	{"root and a 32-hex id", "4:memory:/process_api/278f739f3b964937626b65529320f550\n0::/\n", CID_UNSUPPORTED,
	 "", "", 0, 0, 0},
	{"bare id outside kubepods/docker", "0::/lxc/" ID1 "\n", CID_UNSUPPORTED, "", "", 0, 0, 0},
	{"63-hex id", "0::/system.slice/docker-" "3f1c9a7b2e4d6f80a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071" ".scope\n",
	 CID_UNSUPPORTED, "", "", 0, 0, 0},
	{"a non-hex byte late in the id leaves no partial id",
	 "0::/system.slice/docker-" "3f1c9a7b2e4d6f80a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071z" ".scope\n",
	 CID_UNSUPPORTED, "", "", 0, 0, 0},
	{"bad pod uid", "0::/kubepods/burstable/podnot-a-uid/" ID1 "\n", CID_UNSUPPORTED, "", "", 0, 0, 0},
	{"no hierarchy id", "garbage\n", CID_MALFORMED, "", "", 0, 0, 0},
	{"non-numeric hierarchy", "x:pids:/kubepods\n", CID_MALFORMED, "", "", 0, 0, 0},
	{"relative path", "0::kubepods/pod" UID1 "\n", CID_MALFORMED, "", "", 0, 0, 0},
	{"empty", "", CID_TRUNCATED, "", "", 0, 0, 0},
	{"no final newline", "0::/system.slice/docker-" ID1 ".scope", CID_TRUNCATED, "", "", 0, 0, 0},
};

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		struct cid_cgroup_info info;
		enum cid_status st = cid_cgroup_parse(&info, (const uint8_t *)v->text, strlen(v->text));
		if (st != v->st)
			fail_msg("%s: status %s, want %s", v->name, cid_status_name(st), cid_status_name(v->st));
		if (strcmp(info.container_id, v->id) || strcmp(info.pod_uid, v->uid))
			fail_msg("%s: id '%s' uid '%s'", v->name, info.container_id, info.pod_uid);
		if (st == CID_OK && (info.runtime != v->rt || info.driver != v->drv || info.qos != v->qos))
			fail_msg("%s: runtime %s driver %d qos %d", v->name, cid_cg_runtime_name(info.runtime),
				 (int)info.driver, (int)info.qos);
	}
}

/* Every prefix: no crash; OK only for a prefix that ends a line (complete
 * lines), and then never a cut id or uid. */
static void test_truncation_sweep(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const char *t = vecs[i].text;
		size_t n = strlen(t);
		for (size_t k = 0; k < n; k++) {
			struct cid_cgroup_info info;
			uint8_t *copy = malloc(k ? k : 1);
			enum cid_status st;
			assert_non_null(copy);
			memcpy(copy, t, k);
			st = cid_cgroup_parse(&info, copy, k);
			if (st == CID_OK) {
				if (t[k - 1] != '\n')
					fail_msg("%s: prefix %zu is OK", vecs[i].name, k);
				assert_true(!info.container_id[0] || strlen(info.container_id) == 64);
				assert_true(!info.pod_uid[0] || strlen(info.pod_uid) == 36);
			}
			free(copy);
		}
	}
}

static void test_path_direct(void **state)
{
	struct cid_cgroup_info info;
	static const char p[] = "/kubepods/besteffort/pod" UID1 "/" ID1;
	(void)state;
	assert_int_equal(cid_cgroup_parse_path(&info, (const uint8_t *)p, strlen(p)), CID_OK);
	assert_string_equal(info.pod_uid, UID1);
	assert_string_equal(info.container_id, ID1);
	assert_true(info.kubepods);
	assert_int_equal(cid_cgroup_parse_path(&info, (const uint8_t *)"/", 1), CID_UNSUPPORTED);
	assert_int_equal(cid_cgroup_parse_path(&info, (const uint8_t *)"", 0), CID_MALFORMED);
	assert_string_equal(cid_cg_runtime_name(CID_CG_RT_CRIO), "cri-o");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_truncation_sweep),
		cmocka_unit_test(test_path_direct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
