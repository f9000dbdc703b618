/*
 * schema.c - the database schema as an ordered list of migrations.
 *
 * Entry i takes a database from PRAGMA user_version i to i + 1. A new
 * schema version is one more entry at the end; entries already released
 * never change (databases in the field were built by them). The store runs
 * the entries from the database's version onward in one transaction and
 * then sets user_version (src/store/store.c).
 *
 * Conventions (DESIGN.md, storage contract): times are integer microseconds
 * since the epoch (UTC) in *_us columns; addresses are text as inet_ntop
 * prints them; wire strings (SNI, ALPN, user agents) are stored as the raw
 * bytes, bound with their length, and escaped only on output.
 */
#include "callerid/store.h"

#include "store_int.h"

/* Version 1: every table of the storage contract. */
static const char schema_v1[] =
	/* One row per input file (kind 'file') or live session ('live'). */
	"CREATE TABLE capture("
	" id INTEGER PRIMARY KEY,"
	" kind TEXT NOT NULL,"
	" source TEXT,"
	" host TEXT,"
	" started_us INTEGER,"
	" ended_us INTEGER,"
	" filter TEXT,"
	" pkts_received INTEGER,"
	" pkts_dropped INTEGER,"
	" pkts_if_dropped INTEGER);"

	/* Bidirectional flows. client/server come from the SYN, else from a
	 * port heuristic (direction_guessed = 1). end_reason is cid_end_name(),
	 * NULL while the flow is open. syn_seq is NULL without a SYN. */
	"CREATE TABLE flow("
	" id INTEGER PRIMARY KEY,"
	" capture_id INTEGER,"
	" first_us INTEGER NOT NULL,"
	" last_us INTEGER,"
	" proto INTEGER,"
	" client_ip TEXT,"
	" client_port INTEGER,"
	" server_ip TEXT,"
	" server_port INTEGER,"
	" ifaces TEXT,"
	" direction_guessed INTEGER,"
	" c2s_pkts INTEGER,"
	" c2s_bytes INTEGER,"
	" s2c_pkts INTEGER,"
	" s2c_bytes INTEGER,"
	" syn_seq INTEGER,"
	" end_reason TEXT,"
	" community_id TEXT,"
	" mid_stream INTEGER,"
	" dup_pkts INTEGER,"
	" reqs_dropped INTEGER);"
	"CREATE INDEX flow_server ON flow(server_ip, server_port);"
	"CREATE INDEX flow_client ON flow(client_ip);"
	"CREATE INDEX flow_first ON flow(first_us);"

	/* TLS hellos of a flow. Names are CloudTrail's spelling (version,
	 * cipher) and NULL when unknown; *_code keep the numbers.
	 * offered_versions / offered_groups / key_share_groups: names, "0x%04x"
	 * for unknown values, GREASE dropped. offered_ciphers, extensions and
	 * sig_algs: 4-digit lowercase hex in wire order, GREASE kept (what the
	 * client sent). alpn: offered protocols joined with ','. group /
	 * group_code: the ServerHello's key_share group (TLS 1.3), else the
	 * ServerKeyExchange's named curve (TLS <= 1.2 ECDHE); NULL when
	 * neither was seen. */
	"CREATE TABLE tls("
	" flow_id INTEGER PRIMARY KEY,"
	" sni TEXT,"
	" client_random TEXT,"
	" offered_versions TEXT,"
	" version TEXT,"
	" version_code INTEGER,"
	" cipher_code INTEGER,"
	" cipher TEXT,"
	" \"group\" TEXT,"
	" group_code INTEGER,"
	" alpn TEXT,"
	" alpn_chosen TEXT,"
	" ja3 TEXT,"
	" ja3_hash TEXT,"
	" ja3s TEXT,"
	" ja3s_hash TEXT,"
	" ja4 TEXT,"
	" ech INTEGER,"
	" hrr INTEGER,"
	" num_client_hellos INTEGER,"
	" offered_ciphers TEXT,"
	" offered_groups TEXT,"
	" key_share_groups TEXT,"
	" sig_algs TEXT,"
	" legacy_version INTEGER,"
	" session_id TEXT,"
	" status TEXT,"
	" extensions TEXT,"
	" ch_us INTEGER,"
	" sh_us INTEGER);"
	"CREATE INDEX tls_sni ON tls(sni);"
	"CREATE INDEX tls_client_random ON tls(client_random);"

	/* Request bursts: one API call each on a keep-alive flow. */
	"CREATE TABLE request("
	" id INTEGER PRIMARY KEY,"
	" flow_id INTEGER NOT NULL,"
	" ts_us INTEGER NOT NULL,"
	" answer_us INTEGER,"
	" c2s_bytes INTEGER,"
	" s2c_bytes INTEGER);"
	"CREATE INDEX request_flow ON request(flow_id);"
	"CREATE INDEX request_ts ON request(ts_us);"

	/* method: client_random, tcp_isn, conntrack. */
	"CREATE TABLE nat_link("
	" inner_flow_id INTEGER,"
	" outer_flow_id INTEGER,"
	" method TEXT);"
	"CREATE INDEX nat_link_inner ON nat_link(inner_flow_id);"
	"CREATE INDEX nat_link_outer ON nat_link(outer_flow_id);"

	/* Live attribution: the process that owned the socket. */
	"CREATE TABLE owner("
	" flow_id INTEGER,"
	" method TEXT,"
	" pid INTEGER,"
	" comm TEXT,"
	" exe TEXT,"
	" cmdline TEXT,"
	" uid INTEGER,"
	" container_id TEXT,"
	" pod_uid TEXT,"
	" netns TEXT,"
	" seen_us INTEGER);"
	"CREATE INDEX owner_flow ON owner(flow_id);"

	/* Plaintext HTTP requests (IMDS). imds_token: 1 when the token header
	 * was present. */
	"CREATE TABLE http("
	" flow_id INTEGER,"
	" ts_us INTEGER,"
	" method TEXT,"
	" path TEXT,"
	" host TEXT,"
	" user_agent TEXT,"
	" imds_token INTEGER);"
	"CREATE INDEX http_flow ON http(flow_id);"
	"CREATE INDEX http_ts ON http(ts_us);"

	"CREATE TABLE dns("
	" ts_us INTEGER,"
	" client_ip TEXT,"
	" client_port INTEGER,"
	" qname TEXT,"
	" qtype INTEGER,"
	" rcode INTEGER,"
	" answers TEXT);"
	"CREATE INDEX dns_ts ON dns(ts_us);"
	"CREATE INDEX dns_qname ON dns(qname);"

	/* One row per CloudTrail record. session_tags, request_params: JSON
	 * text; raw: the whole record; origin: "path#index". */
	"CREATE TABLE event("
	" id INTEGER PRIMARY KEY,"
	" event_id TEXT NOT NULL UNIQUE,"
	" time_us INTEGER NOT NULL,"
	" name TEXT,"
	" source TEXT,"
	" region TEXT,"
	" source_ip TEXT,"
	" user_agent TEXT,"
	" arn TEXT,"
	" identity_type TEXT,"
	" principal_id TEXT,"
	" account_id TEXT,"
	" access_key_id TEXT,"
	" session_issuer_arn TEXT,"
	" session_issuer_name TEXT,"
	" ec2_role_delivery TEXT,"
	" session_tags TEXT,"
	" error_code TEXT,"
	" error_message TEXT,"
	" vpce TEXT,"
	" tls_version TEXT,"
	" cipher TEXT,"
	" host_header TEXT,"
	" key_exchange TEXT,"
	" request_params TEXT,"
	" read_only INTEGER,"
	" event_type TEXT,"
	" event_category TEXT,"
	" invoked_by TEXT,"
	" raw TEXT,"
	" origin TEXT);"
	"CREATE INDEX event_time ON event(time_us);"
	"CREATE INDEX event_name ON event(name);"
	"CREATE INDEX event_source_ip ON event(source_ip);"
	"CREATE INDEX event_error_code ON event(error_code);"

	/* kubectl snapshots. */
	"CREATE TABLE pod("
	" snapshot_us INTEGER,"
	" namespace TEXT,"
	" name TEXT,"
	" uid TEXT,"
	" node TEXT,"
	" host_network INTEGER,"
	" pod_ip TEXT,"
	" host_ip TEXT,"
	" owner_kind TEXT,"
	" owner_name TEXT,"
	" service_account TEXT,"
	" container_ids TEXT);"
	"CREATE INDEX pod_ip ON pod(pod_ip);"
	"CREATE INDEX pod_uid ON pod(uid);"
	"CREATE TABLE node("
	" snapshot_us INTEGER,"
	" name TEXT,"
	" internal_ip TEXT);"
	"CREATE INDEX node_ip ON node(internal_ip);";

/* Version 2: what naming the caller needs. Kubernetes details (IRSA and
 * Pod Identity hints, every pod IP, the node's instance id: CloudTrail's
 * node-role sessions are named after it) and the correlator's results. */
static const char schema_v2[] =
	"ALTER TABLE pod ADD COLUMN pod_ips TEXT;"          /* all pod IPs, comma-joined */
	"ALTER TABLE pod ADD COLUMN phase TEXT;"
	"ALTER TABLE pod ADD COLUMN role_arn TEXT;"         /* AWS_ROLE_ARN env (IRSA) */
	"ALTER TABLE pod ADD COLUMN irsa_token INTEGER;"    /* projected aws-iam-token volume */
	"ALTER TABLE pod ADD COLUMN pod_identity INTEGER;"  /* EKS Pod Identity agent credentials */
	"ALTER TABLE pod ADD COLUMN start_us INTEGER;"      /* status.startTime */
	"ALTER TABLE pod ADD COLUMN origin TEXT;"           /* file it came from */
	"ALTER TABLE node ADD COLUMN instance_id TEXT;"     /* from spec.providerID: i-... */
	"ALTER TABLE node ADD COLUMN origin TEXT;"
	"CREATE INDEX node_instance ON node(instance_id);"
	/* One row per correlated CloudTrail event; correlate replaces the rows
	 * of the events it selects. detail is the JSON object it printed. */
	"CREATE TABLE attribution("
	" event_id TEXT PRIMARY KEY,"
	" computed_us INTEGER,"
	" verdict TEXT NOT NULL,"
	" confidence REAL,"
	" owner_kind TEXT,"
	" owner_key TEXT,"
	" pod_namespace TEXT,"
	" pod_name TEXT,"
	" pod_uid TEXT,"
	" pid INTEGER,"
	" comm TEXT,"
	" node_ip TEXT,"
	" flow_id INTEGER,"
	" request_id INTEGER,"
	" request_us INTEGER,"
	" skew_us INTEGER,"
	" reasons TEXT,"
	" detail TEXT);"
	"CREATE INDEX attribution_flow ON attribution(flow_id);"
	"CREATE INDEX attribution_owner ON attribution(owner_key);";

/* Version 3: IMDS and DNS evidence (src/store/evidence.c writes them).
 * http: the response status and time, the IAM role named by a
 * .../security-credentials/<role> path (never the credentials: bodies are
 * not stored), the TTL asked for by PUT /latest/api/token, the IMDS
 * version (2 when a token was sent or requested, else 1), imds_kind
 * (cid_http_imds_name) and parse_error (NULL, or why the stream broke:
 * such a row has no method). dns: where the message went, its id, whether
 * it is a response, the header flags, and parse_error (NULL when parsed).
 * dns.answers is a JSON array, documented in docs/imds-dns.md. */
static const char schema_v3[] =
	"ALTER TABLE http ADD COLUMN answer_us INTEGER;"
	"ALTER TABLE http ADD COLUMN status INTEGER;"
	"ALTER TABLE http ADD COLUMN role_name TEXT;"
	"ALTER TABLE http ADD COLUMN token_ttl INTEGER;"
	"ALTER TABLE http ADD COLUMN imdsv INTEGER;"
	"ALTER TABLE http ADD COLUMN imds_kind TEXT;"
	"ALTER TABLE http ADD COLUMN parse_error TEXT;"
	"ALTER TABLE dns ADD COLUMN flow_id INTEGER;"
	"ALTER TABLE dns ADD COLUMN server_ip TEXT;"
	"ALTER TABLE dns ADD COLUMN server_port INTEGER;"
	"ALTER TABLE dns ADD COLUMN proto INTEGER;"
	"ALTER TABLE dns ADD COLUMN txid INTEGER;"
	"ALTER TABLE dns ADD COLUMN response INTEGER;"
	"ALTER TABLE dns ADD COLUMN flags INTEGER;"
	"ALTER TABLE dns ADD COLUMN parse_error TEXT;"
	"CREATE INDEX http_role ON http(role_name);";

static const char *const migrations[] = {
	schema_v1, /* 0 -> 1 */
	schema_v2, /* 1 -> 2 */
	schema_v3, /* 2 -> 3 */
};

#define NUM_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int cid_store_schema_version(void)
{
	return NUM_MIGRATIONS;
}

const char *cid_store_migration_sql(int from)
{
	if (from < 0 || from >= NUM_MIGRATIONS)
		return NULL;
	return migrations[from];
}
