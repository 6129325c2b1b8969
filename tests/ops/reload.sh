#!/usr/bin/env bash
# Full reload (ntsctl reload and SIGHUP) while coturn's turnutils_uclient relays through ntsd:
# every reloadable kind of setting is changed and seen in effect (static users, secrets, peer
# policy, a limit, the ICE host in minted tokens, log level and format), a configuration that does
# not parse is refused with its reason while the running one keeps serving, a setting that cannot
# change live is reported as needing a restart, and the relay loses nothing throughout.
set -u
B=${NTS_BUILD:-$(pwd)/build}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/nts-reload.XXXXXX)
. "$HERE/../interop/turn_lib.bash"
trap turn_cleanup EXIT

if ! command -v turnutils_uclient >/dev/null || ! command -v turnutils_peer >/dev/null; then
	echo "not ok 1 - coturn's turnutils_uclient/turnutils_peer are installed (tools/deps.sh)"
	exit 1
fi
ctl() { "$B/ntsctl" --ctl-socket "$tmp/ctl.sock" "$@"; }
# perm USER PASSWORD PEER|second: the outcome line of tests/ops/turn_perm.py.
perm() { timeout 20 "$PY" "$HERE/turn_perm.py" 127.0.0.1 "$PORT" "$@" 2>&1 | tail -1; }
# expect WHAT WANT GOT: one check comparing an outcome.
expect() {
	if [ "$3" = "$2" ]; then pass "$1"; else fail "$1 (want '$2', got '$3')"; return 1; fi
}
# config LINES...: rewrites the configuration file (mode 0600: it holds secrets).
config() {
	printf '%s\n' "$@" >"$tmp/ntsd.conf.new"
	chmod 600 "$tmp/ntsd.conf.new"
	mv "$tmp/ntsd.conf.new" "$tmp/ntsd.conf"
}
# Loopback peers need an --allow-peer naming each address (the host's own addresses): 127.0.0.1
# for the relays and 127.0.0.5 for the --deny-peer checks (a deny wins over an allow).
BASE=("allow-peer = 127.0.0.0/8" "allow-peer = 127.0.0.1" "allow-peer = 127.0.0.5"
	"max-allocations-per-user = 1000")

turn_pick_ports 22000 4000
PEER=$((PORT + 1))
config "${BASE[@]}" "user = alice:wonderland" "secret = first-secret" "ice-host = old.example"
turn_start_ntsd --listen "127.0.0.1:$PORT" --realm nts.reload --config "$tmp/ntsd.conf" || exit 1
turnutils_peer -p "$PEER" -L 127.0.0.1 >"$tmp/peer.log" 2>&1 &
turn_pids+=($!)
sid=$(ctl account create reload --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["sid"])')

# The relay that must survive every reload: 2 clients, 600 messages each, 20 ms apart (~12 s).
L=121 N=600 M=2
timeout 60 turnutils_uclient -p "$PORT" -n "$N" -m "$M" -l "$L" -z 20 -c -u alice -w wonderland \
	-e 127.0.0.1 -r "$PEER" 127.0.0.1 >"$tmp/long.log" 2>&1 &
long=$!
turn_pids+=("$long")
relaying=0
for _ in $(seq 1 100); do
	relaying=$(ctl allocations --json 2>/dev/null | "$PY" -c '
import json, sys
print(sum(1 for a in json.load(sys.stdin)["allocations"] if a["channels"] and a["c2p_packets"]))' 2>/dev/null)
	[ "${relaying:-0}" -ge "$M" ] && break
	sleep 0.1
done
expect "uclient relays through channels before the reloads" "$M" "${relaying:-0}"

# 1. Everything reloadable at once.
config "${BASE[@]/max-allocations-per-user = 1000/max-allocations-per-user = 1}" \
	"user = bob:builder" "secret = second-secret" "deny-peer = 127.0.0.5/32" \
	"ice-host = new.example" "verbose = true" "log-format = json"
before=$(wc -l <"$tmp/ntsd.log")
out=$(ctl reload)
rc=$?
expect "ntsctl reload applies the new configuration (exit 0)" 0 "$rc"
for name in user secret deny-peer ice-host max-allocations-per-user verbose log-format; do
	if grep -qE "[(, ]$name[,)]" <<<"$out"; then pass "reload reports $name changed"; else
		fail "reload reports $name changed: $out"; fi
done
expect "a user added by the reload can allocate" "ok" "$(perm bob builder 127.0.0.1)"
expect "a user removed by the reload gets 401" "401" \
	"$(perm alice wonderland 127.0.0.1 | awk '{print $2}')"
expect "a new --deny-peer refuses a new permission (403)" "403" \
	"$(perm bob builder 127.0.0.5 | awk '{print $2}')"
expect "a lowered per-user limit refuses a second allocation (486)" "486" \
	"$(perm bob builder second | awk '{print $2}')"
urls=$(ctl token create --account "$sid" --json | "$PY" -c '
import json, sys
print(" ".join(s.get("url", "") for s in json.load(sys.stdin)["ice_servers"]))')
if grep -q "new.example" <<<"$urls" && ! grep -q "old.example" <<<"$urls"; then
	pass "tokens minted after the reload carry the new ICE host"
else
	fail "tokens minted after the reload carry the new ICE host: $urls"
fi
if tail -n +$((before + 1)) "$tmp/ntsd.log" | "$PY" -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin if l.strip()]
assert any(l["level"] == "debug" and "allocation" in l["msg"] for l in lines), lines
'; then
	pass "log lines after the reload are JSON, debug level included"
else
	fail "log lines after the reload are JSON, debug level included"
	tail -n 5 "$tmp/ntsd.log" | sed 's/^/#   /'
fi

# 2. A configuration that does not parse is refused with its reason; the running one stays.
config "${BASE[@]}" "user = bob:builder" "secret = second-secret" "max-allocations = many"
out=$(ctl reload)
rc=$?
expect "a bad configuration is refused (exit 1)" 1 "$rc"
if grep -q "^refused: .*ntsd.conf:7: max-allocations: 'many' is not a number" <<<"$out"; then
	pass "the refusal names the file, line and reason"
else
	fail "the refusal names the file, line and reason: $out"
fi
expect "after a refused reload the per-user limit of 1 still holds" "486" \
	"$(perm bob builder second | awk '{print $2}')"
expect "after a refused reload the running users still serve" "ok" "$(perm bob builder 127.0.0.1)"

# 3. A setting that cannot change live: reported, running value kept, the rest applied. The
# command line wins over the file, so the file's realm changes nothing.
config "${BASE[@]}" "user = bob:builder" "secret = second-secret" "realm = other.realm" \
	"unauth-rate = 20"
out=$(ctl reload)
rc=$?
expect "a reload that needs a restart exits 3" 3 "$rc"
if grep -q "needs restart (running value kept): unauth-rate$" <<<"$out" &&
	grep -q "max-allocations-per-user" <<<"$out"; then
	pass "unauth-rate is reported as needing a restart, the rest applied"
else
	fail "unauth-rate is reported as needing a restart, the rest applied: $out"
fi
if ! grep -q "realm" <<<"$out"; then
	pass "a realm in the file does not override --realm on the command line"
else
	fail "a realm in the file does not override --realm on the command line: $out"
fi
expect "the restored per-user limit applies" "ok" "$(perm bob builder second)"
# The secret changed in 1. (checked here: uclient allocates more than the limit of 1 there).
timeout 30 turnutils_uclient -p "$PORT" -n 3 -m 1 -l "$L" -c -u "$sid" \
	-W second-secret -e 127.0.0.1 -r "$PEER" 127.0.0.1 >"$tmp/eph2.log" 2>&1
expect "ephemeral credentials of the new secret relay" "0" \
	"$(sed -n 's/.*Total lost packets \([0-9]*\) .*/\1/p' "$tmp/eph2.log" | tail -1)" ||
	tail -n 5 "$tmp/eph2.log" | tr -cd '[:print:]\t\n' | sed 's/^/#   /'
timeout 30 turnutils_uclient -p "$PORT" -n 3 -m 1 -l "$L" -c -u "$sid" \
	-W first-secret -e 127.0.0.1 -r "$PEER" 127.0.0.1 >"$tmp/eph1.log" 2>&1
if grep -q "Cannot complete Allocation" "$tmp/eph1.log"; then
	pass "ephemeral credentials of the removed secret are refused"
else
	fail "ephemeral credentials of the removed secret are refused"
fi

# 4. SIGHUP does the same as ntsctl reload: dropping the --deny-peer allows the peer again.
config "${BASE[@]}" "user = bob:builder" "secret = second-secret" "deny-peer = 127.0.0.5/32"
ctl reload >/dev/null
expect "the deny rule is back" "403" "$(perm bob builder 127.0.0.5 | awk '{print $2}')"
config "${BASE[@]}" "user = bob:builder" "secret = second-secret"
kill -HUP "${turn_pids[0]}"
for _ in $(seq 1 50); do
	grep -q "reload: 1 settings changed (deny-peer)" "$tmp/ntsd.log" && break
	sleep 0.1
done
expect "SIGHUP reloads: the removed --deny-peer allows the peer again" "ok" \
	"$(perm bob builder 127.0.0.5)"

# The relay that ran through all of it lost nothing.
wait "$long"
rc=$?
want=$((N * M))
lost=$(sed -n 's/.*Total lost packets \([0-9]*\) .*/\1/p' "$tmp/long.log" | tail -1)
rm=$(sed -n 's/.*tot_send_msgs=[0-9]*, tot_recv_msgs=\([0-9]*\).*/\1/p' "$tmp/long.log" | tail -1)
if [ "$rc" -eq 0 ] && [ "${lost:-x}" = 0 ] && [ "${rm:-x}" = "$want" ]; then
	pass "the uclient relay running across the reloads got $rm/$want messages back, 0 lost"
else
	fail "the uclient relay running across the reloads: rc=$rc lost=${lost:-?} recv=${rm:-?}/$want"
	tail -n 8 "$tmp/long.log" | tr -cd '[:print:]\t\n' | sed 's/^/#   /'
fi
turn_done 29
