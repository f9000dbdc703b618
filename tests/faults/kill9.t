#!/bin/sh
# kill -9 at random moments during `callerid read` and `callerid ingest` of
# a large generated input, 10 times each into the same database. After
# every kill: PRAGMA integrity_check is ok, the row counts never go down
# (nothing committed is lost; at most the open batch is), and no batch is
# half there (flows without their capture, TLS/request rows without their
# flow). KILL9_ROUNDS changes the 10; KILL9_PCAP_MB the capture size.
. tests/faults/lib.sh

ROUNDS=${KILL9_ROUNDS:-10}
PCAP_MB=${KILL9_PCAP_MB:-100}
why=$(need_tools)
if [ -n "$why" ]; then
	skip "kill -9 during read" "$why"
	skip "kill -9 during ingest" "$why"
	finish
fi

pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM

# counts DB TABLES...: "n1 n2 ..." (-1 for a table not created yet)
counts() { _d=$1; shift; for _t in "$@"; do printf '%s ' "$(rows "$_d" "$_t")"; done; }
# monotonic "OLD" "NEW": every NEW count >= its OLD count
monotonic() {
	set -- "$1" "$2"
	_old=$1 _new=$2
	for _o in $_old; do
		_v=${_new%% *}; _new=${_new#* }
		[ "$_v" -ge "$_o" ] || return 1
	done
	return 0
}

# run_killed ROUND NAME DB MAX_MS TABLES CMD...: runs CMD in the background,
# kills it with SIGKILL after a random delay in [0, MAX_MS], checks the
# database, and prints TAP lines.
prev=
run_killed() {
	_round=$1 _name=$2 _db=$3 _max=$4 _tables=$5; shift 5
	_delay=$(random_ms "$_max")
	"$@" >/dev/null 2>"$T/err" &
	pid=$!
	sleep "$(ms_to_s "$_delay")"
	_killed=0
	kill -9 "$pid" 2>/dev/null && _killed=1
	wait "$pid" 2>/dev/null
	_rc=$?
	pid=
	# a run that ended by itself must have succeeded
	if [ "$_rc" -eq 137 ] && [ "$_killed" = 1 ]; then
		_how="killed after ${_delay} ms"
	elif [ "$_rc" -eq 0 ]; then
		_how="finished before ${_delay} ms"
	else
		_how="exit $_rc before ${_delay} ms"
		not_ok "$_name round $_round: $_how" "$(head -5 "$T/err")"
	fi
	# shellcheck disable=SC2086
	_now=$(counts "$_db" $_tables)
	if ! integrity_ok "$_db"; then
		not_ok "$_name round $_round ($_how): integrity_check" "$(q "$_db" 'PRAGMA integrity_check' | head -5)"
	elif [ -n "$prev" ] && ! monotonic "$prev" "$_now"; then
		not_ok "$_name round $_round ($_how): row counts went down" "before: $prev" "after:  $_now"
	elif [ "$_name" = read ] && [ "$(rows "$_db" flow)" -ge 0 ] && [ "$(orphans "$_db")" != 0 ]; then
		not_ok "$_name round $_round ($_how): orphan rows" "$(orphans "$_db")"
	else
		ok "$_name round $_round ($_how): integrity ok, counts $_now"
	fi
	prev=$_now
}

# ---- read -------------------------------------------------------------------
"$GEN_PCAP" "$T/big.pcap" "$PCAP_MB" 11 2>/dev/null
# How long an undisturbed run takes bounds the random delays; the file is
# given three times (three captures) to widen the window.
t0=$(now_ms)
"$CALLERID" read -q --db "$T/ref.db" "$T/big.pcap" "$T/big.pcap" "$T/big.pcap" >/dev/null 2>"$T/err"
rc=$? span=$(( $(now_ms) - t0 ))
check "read: an undisturbed run succeeds (${span} ms)" [ "$rc" -eq 0 ]
rm -f "$T"/ref.db*
prev=
i=1
while [ "$i" -le "$ROUNDS" ]; do
	run_killed "$i" read "$T/r.db" "$span" "capture flow tls request" \
		"$CALLERID" read -q --db "$T/r.db" "$T/big.pcap" "$T/big.pcap" "$T/big.pcap"
	i=$((i + 1))
done
"$CALLERID" read -q --db "$T/r.db" "$T/big.pcap" >/dev/null 2>"$T/err"
check "read: the database takes a full run after the kills" [ $? -eq 0 ]
check "read: and passes integrity_check" integrity_ok "$T/r.db"
rm -f "$T"/big.pcap "$T"/r.db*

# ---- ingest -----------------------------------------------------------------
"$GEN_CT" "$T/ct" 40000 2000 >/dev/null 2>&1
t0=$(now_ms)
"$CALLERID" ingest --db "$T/ref.db" "$T/ct" >/dev/null 2>"$T/err"
rc=$? span=$(( $(now_ms) - t0 ))
check "ingest: an undisturbed run succeeds (${span} ms)" [ "$rc" -eq 0 ]
full=$(rows "$T/ref.db" event)
rm -f "$T"/ref.db*
prev=
i=1
while [ "$i" -le "$ROUNDS" ]; do
	# once the trail is in, a run only finds duplicates and ends sooner
	run_killed "$i" ingest "$T/i.db" $((span * 4 / 5)) "event" \
		"$CALLERID" ingest --db "$T/i.db" "$T/ct"
	i=$((i + 1))
done
"$CALLERID" ingest --db "$T/i.db" "$T/ct" >/dev/null 2>"$T/err"
check "ingest: the database takes a full run after the kills" [ $? -eq 0 ]
check "ingest: and ends with every event once ($full)" [ "$(rows "$T/i.db" event)" = "$full" ]
check "ingest: and passes integrity_check" integrity_ok "$T/i.db"
finish
