#!/usr/bin/env bash
# ntsd on PostgreSQL (--db postgresql://…): two nodes started at the same moment on an empty
# database migrate it once; an account made through node A authenticates on node B, whose token
# relays through A; the usage A flushes is exactly the bytes relayed. With the server stopped,
# B's token API answers 503 with Twilio's error body while A authenticates a new allocation and
# relays from memory and keeps the usage pending; once the server is back, A reconnects and the
# usage is written, nothing lost, and a channel session that ran through the outage and the
# restart lost no packet. A server that stops answering costs node B one wait of at most
# 3 s, not its relaying.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../api/lib.bash"
. "$here/pg.bash"

pg_available || { echo "1..0 # SKIP no PostgreSQL server binaries (tools/deps.sh installs them)"; exit 0; }
tmp=$(mktemp -d /tmp/nts-store-pg.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	pg_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT

# start_node NAME URL: runs ntsd NAME in the background on the database at URL; sets NAME_turn,
# NAME_api, NAME_pid (stdout/stderr in $tmp/NAME.out and .err).
start_node() {
	local name=$1 url=$2 turn api
	turn=$(free_port) && api=$(free_port) || return 1
	while [ "$api" = "$turn" ]; do api=$(free_port); done
	"$NTS_BUILD/ntsd" --listen "127.0.0.1:$turn" --api-listen "127.0.0.1:$api" --db "$url" \
		--ctl-socket "$tmp/$name.sock" --allow-peer 127.0.0.1 \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	pids+=($!)
	printf -v "${name}_pid" %s $!
	printf -v "${name}_turn" %s "$turn"
	printf -v "${name}_api" %s "$api"
}
# wait_api NAME: true once NAME's API answers (at most 10 s).
wait_api() {
	local port pid
	port=$(eval echo "\$${1}_api") pid=$(eval echo "\$${1}_pid")
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/metrics" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	sed 's/^/# '"$1"': /' "$tmp/$1.err" | tail -n 20
	return 1
}
ctl() { "$NTS_BUILD/ntsctl" --ctl-socket "$tmp/$1.sock" --db "$url" "${@:2}"; }
# token NAME: POSTs a token request to NAME's API; sets code and body.
token() {
	body=$(curl -s -w '\n%{http_code}' -u "$sid:$auth_token" -X POST \
		"http://127.0.0.1:$(eval echo "\$${1}_api")/2010-04-01/Accounts/$sid/Tokens.json")
	code=${body##*$'\n'} body=${body%$'\n'*}
}
# relay NAME C2P_COUNT C2P_SIZE P2C_COUNT P2C_SIZE: relays through NAME with the credentials
# user/pass; sets c2p and p2c to the bytes the other side received (empty on failure).
relay() {
	local out
	out=$("$PY" "$NTS_TOP/tests/api/usage.py" relay 127.0.0.1 "$(eval echo "\$${1}_turn")" \
		"$user" "$pass" "$2" "$3" "$4" "$5" 2>&1)
	echo "# relay via $1: $out"
	c2p=$(sed -n 's/^relayed c2p=\([0-9]*\) .*/\1/p' <<<"$out")
	p2c=$(sed -n 's/.* p2c=\([0-9]*\)$/\1/p' <<<"$out")
}
# db_usage: "bytes_to_peer|bytes_to_client" of the account in usage_daily, read by psql.
db_usage() {
	pg_psql "SELECT COALESCE(sum(bytes_to_peer), 0) || '|' || COALESCE(sum(bytes_to_client), 0)
		FROM usage_daily WHERE sid = '$sid'" 2>/dev/null
}

if ! pg_start; then
	not_ok "a throwaway PostgreSQL server starts"
	tap_done
fi
url=$(pg_tcp_url)
ok "a throwaway PostgreSQL server starts"

# 1. Two nodes at the same moment on an empty database, A over TCP, B through the Unix socket.
start_node a "$url"
start_node b "$(pg_url)"
check "node A comes up on PostgreSQL" wait_api a
check "node B comes up on PostgreSQL at the same time" wait_api b
n=$(cat "$tmp/a.err" "$tmp/b.err" | grep -c "store: migrated schema from version 0 to")
check "exactly one node applied the migrations ($n did)" [ "$n" = 1 ]
v=$(cat "$tmp/a.err" "$tmp/b.err" | sed -n 's/.*store: migrated schema from version 0 to \([0-9]*\).*/\1/p')
check "the schema is at one version, the one applied (${v:-none})" \
	[ "$(pg_psql "SELECT count(*) || '|' || max(version) FROM nts_schema")" = "1|${v:-none}" ]
check "both nodes share one signing secret" [ "$(pg_psql "SELECT count(*) FROM secrets")" = 1 ]

# 2. Accounts and tokens across nodes.
j=$(ctl a account create fleet-test --json)
sid=$(json_get sid <<<"$j" 2>/dev/null) auth_token=$(json_get auth_token <<<"$j" 2>/dev/null)
check "ntsctl account create through node A ($sid)" [ -n "$sid" -a -n "$auth_token" ]
got=$(curl -s -u "$sid:$auth_token" "http://127.0.0.1:${b_api}/2010-04-01/Accounts/$sid.json" |
	json_get friendly_name 2>/dev/null)
check "node B authenticates the account and shows it (GET /Accounts/{Sid}.json)" \
	[ "$got" = fleet-test ]
token b
user=$(json_get username <<<"$body" 2>/dev/null) pass=$(json_get password <<<"$body" 2>/dev/null)
check "node B issues a token (HTTP $code)" [ "$code" = 201 -a -n "$user" -a -n "$pass" ]

# 3. Relay through A with B's token; the flushed usage is what was relayed.
relay a 100 1000 60 500
check "node A relays with node B's token (100000 bytes out, 30000 back)" \
	[ "${c2p:-0}" = 100000 -a "${p2c:-0}" = 30000 ]
c2p1=${c2p:-0} p2c1=${p2c:-0}
ctl a usage --account "$sid" --json >/dev/null # has node A flush what is pending
check "the usage in PostgreSQL equals the bytes relayed ($(db_usage))" \
	[ "$(db_usage)" = "$c2p1|$p2c1" ]

# 4. The database stops: tokens get 503, relaying and TURN authentication go on from memory. A
# channel session through A (1000 datagrams, 15 ms apart) runs across the outage and the restart.
peer_port=$(free_port)
turnutils_peer -p "$peer_port" -L 127.0.0.1 >"$tmp/peer.log" 2>&1 &
pids+=($!)
timeout 90 turnutils_uclient -p "$a_turn" -n 1000 -m 1 -l 100 -z 15 -u "$user" -w "$pass" \
	-e 127.0.0.1 -r "$peer_port" 127.0.0.1 >"$tmp/live.log" 2>&1 &
live_pid=$!
for _ in $(seq 1 50); do # the session is relaying before the database goes
	grep -q "tot_send_msgs=[1-9]" "$tmp/live.log" 2>/dev/null && break
	sleep 0.1
done
pg_stop
ok "PostgreSQL stops"
token b
check "node B's token API answers 503 (HTTP $code)" [ "$code" = 503 ]
check "the 503 has Twilio's error body (code 20503, status 503, message, more_info)" \
	"$PY" -c 'import json,sys; b=json.loads(sys.argv[1])
sys.exit(not (b["code"] == 20503 and b["status"] == 503 and b["message"] and b["more_info"]))' \
	"$body"
relay a 80 1000 40 500
check "node A authenticates a new allocation and relays while the database is down" \
	[ "${c2p:-0}" = 80000 -a "${p2c:-0}" = 20000 ]
c2p2=${c2p:-0} p2c2=${p2c:-0}
ctl a usage --account "$sid" --json >/dev/null 2>&1 # has node A flush now, not at its next tick
for _ in $(seq 1 150); do
	grep -q "usage flush failed" "$tmp/a.err" && break
	sleep 0.1
done
check "node A keeps the usage pending when its flush fails" grep -q "usage flush failed" "$tmp/a.err"
check "both nodes keep running" kill -0 "$a_pid" "$b_pid"

# 5. The database comes back: the pending usage is written, nothing lost; tokens again.
check "the channel session through A still runs when PostgreSQL comes back" kill -0 "$live_pid"
pg_start
ok "PostgreSQL starts again"
wait "$live_pid"
live_rc=$?
live_lost=$(sed -n 's/.*Total lost packets \([0-9]*\) .*/\1/p' "$tmp/live.log" | tail -1)
live_sent=$(sed -n 's/.*tot_send_msgs=\([0-9]*\),.*/\1/p' "$tmp/live.log" | tail -1)
check "the session that ran across the outage and restart lost no packet (sent ${live_sent:-?}, lost ${live_lost:-?})" \
	eval '[ "$live_rc" = 0 ] && [ "${live_sent:-0}" -gt 0 ] && [ "${live_lost:-x}" = 0 ]'
live_recv=$(sed -n 's/.*tot_recv_msgs=\([0-9]*\).*/\1/p' "$tmp/live.log" | tail -1)
# The session's datagrams carry 100 bytes each way: they count as well.
want="$((c2p1 + c2p2 + 100 * ${live_sent:-0}))|$((p2c1 + p2c2 + 100 * ${live_recv:-0}))"
for _ in $(seq 1 300); do
	[ "$(db_usage)" = "$want" ] && break
	sleep 0.1
done
check "node A reconnects and writes the pending usage: $want ($(db_usage))" \
	[ "$(db_usage)" = "$want" ]
for _ in $(seq 1 100); do
	token b
	[ "$code" = 201 ] && break
	sleep 0.2
done
check "node B's token API answers again (HTTP $code)" [ "$code" = 201 ]
check "node A logged the reconnection" grep -q "reconnected to PostgreSQL" "$tmp/a.err"

# 6. B's server process freezes (a hung server: TCP still acknowledges, nothing answers): one
# request waits for it at most 3 s, then B drops the connection and answers at once again.
bpid=$(pg_psql "SELECT pid FROM pg_stat_activity WHERE application_name = 'ntsd'
	AND client_addr IS NULL ORDER BY backend_start DESC LIMIT 1")
check "node B's server process is found (${bpid:-none})" [ -n "$bpid" ]
kill -STOP "$bpid"
t0=$(date +%s%3N)
token b
t1=$(date +%s%3N)
check "with its server frozen, node B's token API answers 503 within 5 s (HTTP $code, $((t1 - t0)) ms)" \
	[ "$code" = 503 -a $((t1 - t0)) -lt 5000 ]
relay b 50 1000 0 0
kill -CONT "$bpid"
check "node B relays while its server is frozen" [ "${c2p:-0}" = 50000 ]
for _ in $(seq 1 100); do
	token b
	[ "$code" = 201 ] && break
	sleep 0.2
done
check "node B reconnects and issues tokens again (HTTP $code)" [ "$code" = 201 ]

# 7. Both stop cleanly, without sanitizer reports.
for name in a b; do
	pid=$(eval echo "\$${name}_pid")
	kill "$pid"
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	wait "$pid"
	rc=$?
	grep -qE 'Sanitizer|runtime error' "$tmp/$name.err" && rc="$rc, sanitizer report"
	check "node ${name^^} stops cleanly on SIGTERM (status $rc)" [ "$rc" = 0 ]
done
pids=()

# 8. ntsctl works on the database itself when no ntsd runs.
got=$("$NTS_BUILD/ntsctl" --ctl-socket "$tmp/none.sock" --db "$url" account list --json |
	"$PY" -c 'import json,sys; print(" ".join(a["sid"] for a in json.load(sys.stdin)))')
check "ntsctl --db postgresql://… lists the account without ntsd ($got)" [ "$got" = "$sid" ]
tap_done
