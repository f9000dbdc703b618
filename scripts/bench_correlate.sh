#!/bin/sh
# Correlate benchmark (called by scripts/bench.sh, or alone):
#   sh scripts/bench_correlate.sh [N...]     (default: 100000 1000000)
# For each N, builds a database with N flows (one request burst each, from
# 200 client addresses, one call every ~50 ms) and N CloudTrail events
# (95% made by those bursts, 5% by another host), deterministically with
# SQL, then times `callerid correlate` (median of 3) and prints the time
# per event and the growth against n log n. Measures; never fails.
set -eu
CALLERID=${CALLERID:-build/rel/callerid}
BUILD=${BUILD:-build/rel}
DIR=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/callerid-bench-cor.XXXXXX")}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$DIR"' EXIT INT TERM
SIZES=${*:-100000 1000000}

build_db() { # N DB
	n=$1 db=$2
	rm -f "$db" "$db-wal" "$db-shm"
	"$CALLERID" correlate --db "$db" --no-store >/dev/null
	sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < $n)
INSERT INTO flow(id, capture_id, first_us, last_us, proto, client_ip, client_port, server_ip, server_port,
                 direction_guessed, end_reason)
SELECT k, 1, 1700000000000000 + k * 50000, 1700000000000000 + k * 50000 + 300000, 6,
       '10.0.' || (k % 200 / 250) || '.' || (k % 200 + 1), 30000 + k % 30000, '10.9.0.' || (k % 3 + 10), 443,
       0, 'fin' FROM i;
WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < $n)
INSERT INTO tls(flow_id, sni, version, cipher, status)
SELECT k, 'ec2.us-east-1.amazonaws.com', CASE WHEN k % 2 THEN 'TLSv1.2' ELSE 'TLSv1.3' END,
       CASE WHEN k % 2 THEN 'ECDHE-RSA-AES128-GCM-SHA256' ELSE 'TLS_AES_128_GCM_SHA256' END, 'ok' FROM i;
WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < $n)
INSERT INTO request(flow_id, ts_us, answer_us, c2s_bytes, s2c_bytes)
SELECT k, 1700000000000000 + k * 50000 + 100000, 1700000000000000 + k * 50000 + 180000, 900, 700 FROM i;
WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < $n)
INSERT INTO event(event_id, time_us, name, source, region, source_ip, tls_version, cipher, host_header)
SELECT 'ev-' || k, (1700000000000000 + k * 50000 + 100000) / 1000000 * 1000000, 'DescribeTags',
       'ec2.amazonaws.com', 'us-east-1',
       CASE WHEN k % 20 = 0 THEN '10.1.0.9' ELSE '10.0.' || (k % 200 / 250) || '.' || (k % 200 + 1) END,
       CASE WHEN k % 2 THEN 'TLSv1.2' ELSE 'TLSv1.3' END,
       CASE WHEN k % 2 THEN 'ECDHE-RSA-AES128-GCM-SHA256' ELSE 'TLS_AES_128_GCM_SHA256' END,
       'ec2.us-east-1.amazonaws.com' FROM i;
COMMIT;
SQL
}

median3() { sort -n | sed -n 2p; }

prev_n="" prev_t=""
printf '%-10s %10s %12s %10s %s\n' events seconds us/event rss_MB "growth vs n log n"
for n in $SIZES; do
	db="$DIR/cor-$n.db"
	build_db "$n" "$db"
	ts=""
	for r in 1 2 3; do
		"$BUILD/bench/runmeasure" "$DIR/m.$r" -- "$CALLERID" correlate --db "$db" --no-store --format json \
			>/dev/null
		ts="$ts $(sed -n 's/^wall=//p' "$DIR/m.$r")"
	done
	t=$(for x in $ts; do echo "$x"; done | median3)
	rss=$(sed -n 's/^maxrss_kb=//p' "$DIR/m.2")
	growth="-"
	if [ -n "$prev_n" ]; then
		growth=$(awk -v a="$prev_n" -v ta="$prev_t" -v b="$n" -v tb="$t" \
			'BEGIN { r = (tb / ta) / ((b * log(b)) / (a * log(a))); printf "%.2f (1.00 = n log n)", r }')
	fi
	printf '%-10s %10s %12.2f %10.1f %s\n' "$n" "$t" "$(awk -v t="$t" -v n="$n" 'BEGIN{print t*1e6/n}')" \
		"$(awk -v k="${rss:-0}" 'BEGIN{print k/1024}')" "$growth"
	prev_n=$n prev_t=$t
	rm -f "$db" "$db-wal" "$db-shm"
done
