#!/usr/bin/env bash
# Usage metering and the Usage Records API on a running ntsd: a TURN client relays a known number
# of bytes each way through a channel under an account's token (and under its subaccount's);
# ntsctl usage --json shows those bytes exactly, each way, with the allocation and its seconds;
# the unmodified python3-twilio client reads them back as Twilio's Usage Records (list, daily,
# today, ... with and without subaccounts). Usage written by the periodic flush (at most 10 s)
# survives SIGKILL and the restarted ntsd adds to it; SIGTERM writes what is pending.
set -u
. "$(dirname "$0")/lib.bash"

SECRET=usage-secret
ARGS=(--secret "$SECRET" --allow-peer 127.0.0.1)

# creds SID: a fresh token's "USERNAME PASSWORD".
creds() {
	ntsctl token create --account "$1" --ttl 600 --json |
		"$PY" -c 'import json,sys; t=json.load(sys.stdin); print(t["username"], t["password"])'
}
# relay SID C2P_COUNT C2P_SIZE P2C_COUNT P2C_SIZE [HOLD]: relays through ntsd under a token of SID
# (holding the allocation HOLD seconds more) and sets c2p and p2c to the bytes the other side
# received (empty on failure).
relay() {
	local user pass out
	read -r user pass < <(creds "$1")
	out=$("$PY" "$NTS_TOP/tests/api/usage.py" relay 127.0.0.1 "$turn_port" "$user" "$pass" \
		"$2" "$3" "$4" "$5" "${6:-0}")
	echo "# relay: $out"
	c2p=$(sed -n 's/^relayed c2p=\([0-9]*\) .*/\1/p' <<<"$out")
	p2c=$(sed -n 's/.* p2c=\([0-9]*\)$/\1/p' <<<"$out")
}
# usage_of SID FIELD [NTSCTL ARGS...]: one field of SID's all-time usage from ntsctl usage --json.
usage_of() {
	local sid=$1 field=$2
	shift 2
	ntsctl "$@" usage --account "$sid" --json | "$PY" -c '
import json, sys
rows = json.load(sys.stdin)["usage"]
print(sum(int(r[sys.argv[1]]) for r in rows) if sys.argv[1] != "rows" else len(rows))' "$field"
}
# offline: ntsctl reading the database file itself (no control socket, so no flush by ntsd).
offline() { "$NTS_BUILD/ntsctl" --ctl-socket "$tmp/none.sock" --db "$db" "$@"; }

start_ntsd "${ARGS[@]}" || { not_ok "ntsd starts"; tap_done; }
ok "ntsd starts"
new_account "master" || not_ok "account create"
m_sid=$sid m_token=$auth_token
new_account "customer" || not_ok "account create"
s_sid=$sid
# The subaccount link as the account API (POST /Accounts.json) writes it.
"$PY" -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=5)
db.execute("UPDATE accounts SET owner_sid = ? WHERE sid = ?", (sys.argv[2], sys.argv[3]))
db.commit()' "$db" "$m_sid" "$s_sid" || not_ok "link the subaccount"

# 1. Exact bytes each way, through ntsctl usage (which has ntsd write what is pending).
t0=$(date +%s)
relay "$m_sid" 400 1000 300 700
check "the client relayed 400000 bytes to the peer and got 210000 back ($c2p/$p2c)" \
	[ "${c2p:-0}" = 400000 -a "${p2c:-0}" = 210000 ]
m_peer=$c2p m_client=$p2c
t1=$(date +%s%3N)
relay "$s_sid" 50 1200 0 0 2
t2=$(date +%s%3N)
check "the subaccount relayed 60000 bytes (${c2p:-none})" [ "${c2p:-0}" = 60000 ]
s_bytes=$c2p
secs=$(usage_of "$s_sid" allocation_seconds)
check "an allocation held 2 s counts 2 s (up to the relay's wall time) ($secs s)" \
	[ "$secs" -ge 2 -a "$secs" -le $(((t2 - t1) / 1000 + 1)) ]
check "ntsctl usage: bytes_to_peer is exactly what the peer received" \
	[ "$(usage_of "$m_sid" bytes_to_peer)" = "$m_peer" ]
check "ntsctl usage: bytes_to_client is exactly what the client received" \
	[ "$(usage_of "$m_sid" bytes_to_client)" = "$m_client" ]
check "ntsctl usage: one allocation" [ "$(usage_of "$m_sid" allocations)" = 1 ]
secs=$(usage_of "$m_sid" allocation_seconds)
check "ntsctl usage: allocation-seconds within the relay's wall time ($secs s)" \
	[ "$secs" -ge 0 -a "$secs" -le $(($(date +%s) - t0 + 1)) ]
check "ntsctl usage --daily: one row, today" [ "$(ntsctl usage --account "$m_sid" --daily --json |
	"$PY" -c 'import json,sys,datetime; r=json.load(sys.stdin)["usage"]
print(len(r) == 1 and r[0]["start_date"] == str(datetime.datetime.now(datetime.timezone.utc).date()))')" = True ]
check "ntsctl usage: megabytes exact (0.61)" [ "$(ntsctl usage --account "$m_sid" --json |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["usage"][0]["megabytes"])')" = 0.61 ]
check "ntsctl usage (table) lists both accounts" \
	eval 'ntsctl usage | grep -q "$m_sid" && ntsctl usage | grep -q "$s_sid"'
check "ntsctl account list shows the same total bytes" [ "$(ntsctl account list --json |
	"$PY" -c 'import json,sys; print([a["bytes"] for a in json.load(sys.stdin) if a["sid"] == sys.argv[1]][0])' "$m_sid")" = $((m_peer + m_client)) ]

# 2. The Usage Records API with the official helper library.
out=$("$PY" "$NTS_TOP/tests/api/usage.py" api "$api_url" "$m_sid" "$m_token" "$s_sid" \
	$((m_peer + m_client)) "$s_bytes" $((tap_n + 1)))
echo "$out" | grep -v '^# next'
tap_n=$(($(sed -n 's/^# next //p' <<<"$out") - 1))
grep -q '^not ok' <<<"$out" && tap_failed=1
[ -n "$tap_n" ] && [ "$tap_n" -gt 0 ] || { tap_n=0; not_ok "python3-twilio checks ran"; }
status=$(curl -s -o /dev/null -w '%{http_code}' -u "$s_sid:$m_token" \
	"$api_url/2010-04-01/Accounts/$m_sid/Usage/Records.json")
check "a wrong AuthToken gets 401 ($status)" [ "$status" = 401 ]

# 3. The periodic flush (no control socket involved) survives SIGKILL; the next ntsd adds to it.
before=$(usage_of "$m_sid" bytes_to_peer)
relay "$m_sid" 100 500 0 0
want=$((before + c2p))
flushed=
for _ in $(seq 1 30); do # the flush comes within 10 s
	[ "$(offline usage --account "$m_sid" --json | "$PY" -c '
import json, sys; print(sum(r["bytes_to_peer"] for r in json.load(sys.stdin)["usage"]))')" = "$want" ] &&
		{ flushed=1; break; }
	sleep 0.5
done
check "ntsd writes usage to the database by itself within 10 s" [ -n "$flushed" ]
{
	kill -9 "$ntsd_pid"
	wait "$ntsd_pid"
} 2>/dev/null
ntsd_pid=
start_ntsd "${ARGS[@]}" || { not_ok "ntsd starts again after SIGKILL"; tap_done; }
check "after SIGKILL and a restart the flushed usage is all there ($want)" \
	[ "$(usage_of "$m_sid" bytes_to_peer)" = "$want" ]
relay "$m_sid" 10 100 10 100
check "the restarted ntsd adds to it" \
	[ "$(usage_of "$m_sid" bytes_to_peer)" = $((want + c2p)) -a "${c2p:-0}" = 1000 ]
want=$((want + c2p))

# 4. SIGTERM writes what is pending at once.
relay "$m_sid" 20 100 0 0
want=$((want + c2p))
stop_ntsd
check "after SIGTERM the database holds every byte ($want)" [ "$(offline usage --account "$m_sid" \
	--json | "$PY" -c 'import json,sys; print(sum(r["bytes_to_peer"] for r in json.load(sys.stdin)["usage"]))')" = "$want" ]
check "allocations counted across the restarts: 4" [ "$(offline usage --account "$m_sid" --json |
	"$PY" -c 'import json,sys; print(sum(r["allocations"] for r in json.load(sys.stdin)["usage"]))')" = 4 ]
tap_done
