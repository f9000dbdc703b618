/*
 * cgroup.c - container id and pod UID from /proc/PID/cgroup (pure).
 *
 * The kubelet lays pods out under a "kubepods" tree (Kubernetes "Pod
 * cgroups" / cgroup drivers documentation):
 *   systemd driver : /kubepods.slice/kubepods-<qos>.slice/
 *                    kubepods-<qos>-pod<uid, '-' written '_'>.slice/<scope>
 *                    (Guaranteed pods: /kubepods.slice/kubepods-pod<uid>.slice)
 *   cgroupfs driver: /kubepods/<qos>/pod<uid>/<container id>
 *                    (Guaranteed pods: /kubepods/pod<uid>/<id>)
 * and the runtime names the container's own cgroup (systemd scopes):
 *   containerd "cri-containerd-<id>.scope", CRI-O "crio-<id>.scope" (its
 *   monitor "crio-conmon-<id>.scope" is not the container), Docker
 *   "docker-<id>.scope" or, with cgroupfs, "/docker/<id>"; containerd run
 *   with a systemd parent but its cgroupfs naming writes one component
 *   "<slice>:cri-containerd:<id>".
 * Container ids are 64 lower-case hex digits. Everything is read through
 * the cursor; a path that names nothing known is UNSUPPORTED, never guessed.
 */
#include <string.h>

#include "callerid/attrib.h"
#include "callerid/cursor.h"

const char *cid_cg_runtime_name(enum cid_cg_runtime r)
{
	switch (r) {
	case CID_CG_RT_CONTAINERD: return "containerd";
	case CID_CG_RT_CRIO: return "cri-o";
	case CID_CG_RT_DOCKER: return "docker";
	case CID_CG_RT_UNKNOWN: return "unknown";
	case CID_CG_RT_NONE: break;
	}
	return "none";
}

/* Consumes lit when the cursor starts with it. */
static bool eat(struct cid_cur *c, const char *lit)
{
	size_t n = strlen(lit);
	if (cid_cur_len(c) < n || memcmp(cid_cur_data(c), lit, n) != 0)
		return false;
	return cid_cur_skip(c, n);
}

/* True when the cursor is exactly lit. */
static bool equals(const struct cid_cur *c, const char *lit)
{
	size_t n = strlen(lit);
	return cid_cur_len(c) == n && memcmp(cid_cur_data(c), lit, n) == 0;
}

/* Removes suffix lit from the end of the cursor when it ends with it. */
static bool strip_suffix(struct cid_cur *c, const char *lit)
{
	size_t n = strlen(lit);
	if (cid_cur_len(c) < n || memcmp(cid_cur_data(c) + cid_cur_len(c) - n, lit, n) != 0)
		return false;
	cid_cur_init(c, cid_cur_data(c), cid_cur_len(c) - n);
	return true;
}

/* Splits off the bytes before the next sep (sep consumed); the whole rest
 * when there is none (then *found = false). */
static void split(struct cid_cur *c, struct cid_cur *part, uint8_t sep, bool *found)
{
	const uint8_t *at = cid_cur_len(c) ? memchr(cid_cur_data(c), sep, cid_cur_len(c)) : NULL;
	size_t n = at ? (size_t)(at - cid_cur_data(c)) : cid_cur_len(c);
	(void)cid_cur_sub(c, part, n);
	if (at)
		(void)cid_cur_skip(c, 1);
	if (found)
		*found = at != NULL;
}

static int hexval(uint8_t b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	if (b >= 'a' && b <= 'f')
		return b - 'a' + 10;
	if (b >= 'A' && b <= 'F')
		return b - 'A' + 10;
	return -1;
}

/* A container id: exactly 64 hex digits, the whole cursor. */
static bool take_id(const struct cid_cur *c, char out[CID_ATTRIB_ID_LEN])
{
	struct cid_cur t = *c;
	char tmp[CID_ATTRIB_ID_LEN];
	size_t i = 0;
	uint8_t b;
	if (cid_cur_len(&t) != 64)
		return false;
	while (cid_cur_u8(&t, &b)) {
		if (hexval(b) < 0)
			return false; /* out untouched: no partial id is ever kept */
		tmp[i++] = (char)(b >= 'A' && b <= 'F' ? b - 'A' + 'a' : b);
	}
	tmp[i] = '\0';
	memcpy(out, tmp, sizeof(tmp));
	return true;
}

/* A pod UID (an RFC 4122 UUID, 8-4-4-4-12 hex), separators '-' or, under
 * the systemd driver, '_' (systemd reserves '-' in unit names); the whole
 * cursor. Written canonical, with '-'. */
static bool take_uid(const struct cid_cur *c, char out[CID_ATTRIB_POD_UID_LEN])
{
	struct cid_cur t = *c;
	char tmp[CID_ATTRIB_POD_UID_LEN];
	size_t i = 0;
	uint8_t b;
	if (cid_cur_len(&t) != 36)
		return false;
	while (cid_cur_u8(&t, &b)) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (b != '-' && b != '_')
				return false;
			tmp[i++] = '-';
			continue;
		}
		if (hexval(b) < 0)
			return false;
		tmp[i++] = (char)(b >= 'A' && b <= 'F' ? b - 'A' + 'a' : b);
	}
	tmp[i] = '\0';
	memcpy(out, tmp, sizeof(tmp));
	return true;
}

static enum cid_cg_qos qos_word(const struct cid_cur *c)
{
	if (equals(c, "burstable"))
		return CID_CG_QOS_BURSTABLE;
	if (equals(c, "besteffort"))
		return CID_CG_QOS_BESTEFFORT;
	return CID_CG_QOS_NONE;
}

/* "kubepods-..." systemd slices: kubepods-<qos>.slice,
 * kubepods[-<qos>]-pod<uid>.slice. */
static void systemd_slice(struct cid_cgroup_info *o, struct cid_cur comp)
{
	struct cid_cur word;
	bool more;
	if (!strip_suffix(&comp, ".slice"))
		return;
	if (equals(&comp, "kubepods")) {
		o->kubepods = true;
		o->driver = CID_CG_DRV_SYSTEMD;
		return;
	}
	if (!eat(&comp, "kubepods-"))
		return;
	o->kubepods = true;
	o->driver = CID_CG_DRV_SYSTEMD;
	if (eat(&comp, "pod")) {
		if (take_uid(&comp, o->pod_uid) && o->qos == CID_CG_QOS_NONE)
			o->qos = CID_CG_QOS_GUARANTEED;
		return;
	}
	split(&comp, &word, '-', &more);
	if (qos_word(&word) != CID_CG_QOS_NONE)
		o->qos = qos_word(&word);
	if (more && eat(&comp, "pod"))
		(void)take_uid(&comp, o->pod_uid);
}

/* Runtime scopes: cri-containerd-<id>.scope, crio-<id>.scope,
 * docker-<id>.scope. */
static bool runtime_scope(struct cid_cgroup_info *o, struct cid_cur comp)
{
	static const struct {
		const char *prefix;
		enum cid_cg_runtime rt;
	} scopes[] = {
		{"cri-containerd-", CID_CG_RT_CONTAINERD},
		{"crio-", CID_CG_RT_CRIO},
		{"docker-", CID_CG_RT_DOCKER},
	};
	if (!strip_suffix(&comp, ".scope"))
		return false;
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		struct cid_cur t = comp;
		if (eat(&t, scopes[i].prefix) && take_id(&t, o->container_id)) {
			o->runtime = scopes[i].rt;
			return true;
		}
	}
	return false;
}

/* containerd's "<parent slice>:<runtime>:<id>" component. */
static bool colon_form(struct cid_cgroup_info *o, struct cid_cur comp)
{
	struct cid_cur parent, rt;
	bool more;
	split(&comp, &parent, ':', &more);
	if (!more)
		return false;
	split(&comp, &rt, ':', &more);
	if (!more || !take_id(&comp, o->container_id))
		return false;
	if (equals(&rt, "cri-containerd"))
		o->runtime = CID_CG_RT_CONTAINERD;
	else if (equals(&rt, "crio"))
		o->runtime = CID_CG_RT_CRIO;
	else if (equals(&rt, "docker"))
		o->runtime = CID_CG_RT_DOCKER;
	else
		o->runtime = CID_CG_RT_UNKNOWN;
	systemd_slice(o, parent);
	return true;
}

enum cid_status cid_cgroup_parse_path(struct cid_cgroup_info *out, const uint8_t *p, size_t p_len)
{
	struct cid_cur c, comp;
	bool prev_docker = false, prev_kubepods = false;
	bool more = true;
	memset(out, 0, sizeof(*out));
	cid_cur_init(&c, p, p_len);
	if (!eat(&c, "/"))
		return CID_MALFORMED; /* cgroup paths are absolute */
	while (more && cid_cur_len(&c)) {
		split(&c, &comp, '/', &more);
		if (!cid_cur_len(&comp))
			continue;
		if (equals(&comp, "kubepods")) {
			out->kubepods = true;
			out->driver = CID_CG_DRV_CGROUPFS;
			prev_kubepods = true;
			prev_docker = false;
			continue;
		}
		if (out->driver == CID_CG_DRV_CGROUPFS && prev_kubepods && qos_word(&comp) != CID_CG_QOS_NONE) {
			out->qos = qos_word(&comp);
			continue;
		}
		prev_kubepods = false;
		if (out->driver == CID_CG_DRV_CGROUPFS && out->kubepods) {
			struct cid_cur t = comp;
			if (eat(&t, "pod") && take_uid(&t, out->pod_uid)) {
				if (out->qos == CID_CG_QOS_NONE)
					out->qos = CID_CG_QOS_GUARANTEED;
				continue;
			}
		}
		if (cid_cur_len(&comp) == 64 && take_id(&comp, out->container_id)) {
			/* a bare id: Docker's cgroupfs parent, or a kubelet pod
			 * directory under cgroupfs; elsewhere unknown naming */
			if (prev_docker)
				out->runtime = CID_CG_RT_DOCKER;
			else if (out->pod_uid[0])
				out->runtime = CID_CG_RT_UNKNOWN;
			else
				out->container_id[0] = '\0';
			prev_docker = false;
			continue;
		}
		prev_docker = equals(&comp, "docker");
		if (memchr(cid_cur_data(&comp), ':', cid_cur_len(&comp)) && colon_form(out, comp))
			continue;
		if (runtime_scope(out, comp))
			continue;
		systemd_slice(out, comp);
	}
	if (!out->container_id[0] && !out->pod_uid[0]) {
		memset(out, 0, sizeof(*out));
		return CID_UNSUPPORTED;
	}
	return CID_OK;
}

static bool all_digits(const struct cid_cur *c)
{
	struct cid_cur t = *c;
	uint8_t b;
	if (!cid_cur_len(&t) || cid_cur_len(&t) > 10)
		return false;
	while (cid_cur_u8(&t, &b))
		if (b < '0' || b > '9')
			return false;
	return true;
}

static int score(const struct cid_cgroup_info *i)
{
	return (i->container_id[0] ? 2 : 0) + (i->pod_uid[0] ? 2 : 0) + (i->runtime != CID_CG_RT_NONE);
}

enum cid_status cid_cgroup_parse(struct cid_cgroup_info *out, const uint8_t *p, size_t p_len)
{
	struct cid_cur c, line, id, ctl;
	struct cid_cgroup_info cur;
	int best = 0;
	bool nl, more;
	memset(out, 0, sizeof(*out));
	cid_cur_init(&c, p, p_len);
	if (!cid_cur_len(&c))
		return CID_TRUNCATED;
	while (cid_cur_len(&c)) {
		split(&c, &line, '\n', &nl);
		if (!nl) {
			/* the last line has no newline: a cut read */
			memset(out, 0, sizeof(*out));
			return CID_TRUNCATED;
		}
		split(&line, &id, ':', &more);
		if (!more || !all_digits(&id))
			return memset(out, 0, sizeof(*out)), CID_MALFORMED;
		split(&line, &ctl, ':', &more);
		if (!more)
			return memset(out, 0, sizeof(*out)), CID_MALFORMED;
		/* the path is the rest of the line (it may hold ':') */
		switch (cid_cgroup_parse_path(&cur, cid_cur_data(&line), cid_cur_len(&line))) {
		case CID_OK:
			if (score(&cur) > best) {
				best = score(&cur);
				*out = cur;
			}
			break;
		case CID_UNSUPPORTED:
			break;
		default:
			memset(out, 0, sizeof(*out));
			return CID_MALFORMED;
		}
	}
	return best ? CID_OK : CID_UNSUPPORTED;
}
