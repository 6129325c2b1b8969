#!/usr/bin/env bash
# nts-test: exclusive
# Upgrading without dropping calls (README): a ChannelData flow at 1000 packets per second through
# userspace runs across `ntsctl upgrade`: at most 0.1 % lost, the same relayed address, Refresh
# (no new nonce) and a new ChannelBind answered by the new process, the allocation listed with
# its counters. Then the failures: a --binary that does not exist, exits at once, is killed
# mid-handover, or gets a corrupt stream leaves the serving ntsd serving (Binding and ChannelData
# answered); SIGUSR2 upgrades again with the allocation kept, and the --alt-ip sockets (RFC 5780)
# still answer. Runs alone (it measures loss).
set -u
B=${NTS_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
TOP=${NTS_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
FLOW="/usr/bin/python3 $TOP/tests/interop/turn_flow.py"
tmp=$(mktemp -d /tmp/nts-upgrade.XXXXXX)
. "$TOP/tests/interop/turn_lib.bash"
cur= # the ntsd serving now (after an upgrade: not our child)

cleanup() {
	[ -n "$cur" ] && kill -KILL "$cur" 2>/dev/null
	turn_cleanup
}
trap cleanup EXIT

ctl() { "$B/ntsctl" --ctl-socket "$tmp/ctl.sock" "$@"; }
alive() { kill -0 "$1" 2>/dev/null; }
health() { $FLOW health 127.0.0.1 "$PORT" u p 127.0.0.1; }
# wait_gone PID: true once PID has exited (at most 10 s).
wait_gone() {
	local _
	for _ in $(seq 1 100); do alive "$1" || return 0; sleep 0.1; done
	return 1
}

turn_pick_ports 24000 2000
# systemd's side of NOTIFY_SOCKET: every datagram, one per line.
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
' "$tmp/notify.sock" >"$tmp/notify.out" 2>&1 &
turn_pids+=($!)
for _ in $(seq 1 50); do grep -q ready "$tmp/notify.out" && break; sleep 0.1; done
export NOTIFY_SOCKET=$tmp/notify.sock
turn_start_ntsd --listen "127.0.0.1:$PORT" --alt-ip 127.0.0.2 --user u:p \
	--allow-peer 127.0.0.1/32 || exit 1
unset NOTIFY_SOCKET
# turn_lib stops turn_pids[0] as ntsd: keep ntsd first.
turn_pids=("${turn_pids[-1]}" "${turn_pids[@]:0:${#turn_pids[@]}-1}")
cur=${turn_pids[0]}
pass "ntsd starts"

# 1. A flow across an upgrade.
$FLOW session 127.0.0.1 "$PORT" u p 127.0.0.1 "$tmp/stop" 1000 >"$tmp/flow.out" 2>&1 &
flow=$!
for _ in $(seq 1 100); do grep -q flowing "$tmp/flow.out" && break; sleep 0.1; done
if grep -q flowing "$tmp/flow.out"; then pass "ChannelData flows at 1000/s"; else
	fail "ChannelData flows at 1000/s"
	sed 's/^/#   /' "$tmp/flow.out"
fi
old=$cur
if out=$(ctl upgrade --json 2>&1) &&
	new=$(echo "$out" | jq -er .pid) && [ "$new" != "$old" ] && alive "$new"; then
	cur=$new
	pass "ntsctl upgrade hands over to a new process (pid $new)"
else
	fail "ntsctl upgrade hands over to a new process"
	echo "# $out"
fi
touch "$tmp/stop"
notified() {
	local _
	for _ in $(seq 1 50); do
		grep -q "MAINPID=$cur READY=1" "$tmp/notify.out" && return 0
		sleep 0.1
	done
	return 1
}
if [ "$cur" != "$old" ] && notified; then
	pass "the new ntsd tells NOTIFY_SOCKET MAINPID=$cur and READY=1"
else
	fail "the new ntsd tells NOTIFY_SOCKET MAINPID= and READY=1"
	sed 's/^/#   /' "$tmp/notify.out"
fi
wait "$old"
rc=$?
turn_pids=("${turn_pids[@]:1}") # the notify listener stays for cleanup
if [ "$rc" -eq 0 ] && ! turn_sanitizer_report "$tmp/ntsd.log"; then
	pass "the old ntsd exits with status 0"
else
	fail "the old ntsd exits with status 0 (status $rc)"
fi
wait "$flow"
res=$(tail -n 1 "$tmp/flow.out")
relay=$(sed -n 's/^relay //p' "$tmp/flow.out")
if echo "$res" | jq -e '.sent > 1000 and .received >= .sent * 0.999' >/dev/null 2>&1; then
	pass "at most 0.1 % of the flow lost across the upgrade ($(echo "$res" | jq -r '"\(.received) of \(.sent)"'))"
else
	fail "at most 0.1 % of the flow lost across the upgrade"
	sed 's/^/#   /' "$tmp/flow.out"
fi
echo "# longest gap a client saw: $(echo "$res" | jq -r .max_gap_ms 2>/dev/null) ms"
if echo "$res" | jq -e '.refresh' >/dev/null 2>&1; then
	pass "Refresh on the upgraded process succeeds with the old nonce"
else
	fail "Refresh on the upgraded process succeeds with the old nonce ($res)"
fi
if echo "$res" | jq -e '.bind and .received2 >= .sent2 - 1 and .sent2 > 0' >/dev/null 2>&1; then
	pass "a new ChannelBind on the upgraded process relays"
else
	fail "a new ChannelBind on the upgraded process relays ($res)"
fi

if ctl allocations --json >"$tmp/allocs.json" 2>&1 &&
	jq -e --arg r "$relay" --argjson f "$res" \
		'[.allocations[] | select(.relay | index($r))] | length == 1 and
		 .[0].c2p_packets <= $f.sent + $f.sent2 and .[0].p2c_packets <= .[0].c2p_packets and
		 .[0].p2c_packets >= $f.received + $f.received2 and (.[0].channels | length) == 2' \
		"$tmp/allocs.json" >/dev/null; then
	pass "ntsctl allocations lists it: same relay $relay, counters carried over"
else
	fail "ntsctl allocations lists it: same relay $relay, counters carried over"
	sed 's/^/#   /' "$tmp/allocs.json"
fi

# 2. Failed upgrades leave the serving ntsd serving.
failed_upgrade() { # description, ntsctl upgrade arguments
	local what=$1 out
	shift
	if out=$(ctl upgrade "$@" 2>&1); then
		fail "$what: refused"
		echo "# $out"
		return
	fi
	echo "# $out"
	if alive "$cur" && ctl status >/dev/null && health >"$tmp/health.out" 2>&1; then
		pass "$what: refused, the old ntsd answers Binding and ChannelData"
	else
		fail "$what: refused, the old ntsd answers Binding and ChannelData"
		sed 's/^/#   /' "$tmp/health.out"
	fi
}
failed_upgrade "a --binary that does not exist" --binary "$tmp/missing"
failed_upgrade "a --binary that exits at once" --binary /bin/false

printf '#!/bin/sh\necho $$ >"%s/stall.pid"\nexec sleep 30\n' "$tmp" >"$tmp/stall"
chmod +x "$tmp/stall"
ctl upgrade --binary "$tmp/stall" >"$tmp/stall.out" 2>&1 &
up=$!
for _ in $(seq 1 50); do [ -s "$tmp/stall.pid" ] && break; sleep 0.1; done
kill -KILL "$(cat "$tmp/stall.pid" 2>/dev/null)" 2>/dev/null
if ! wait "$up" && alive "$cur" && health >"$tmp/health.out" 2>&1; then
	pass "a new binary killed mid-handover: the old ntsd keeps serving"
else
	fail "a new binary killed mid-handover: the old ntsd keeps serving"
	sed 's/^/#   /' "$tmp/stall.out" "$tmp/health.out"
fi

printf '#!/bin/sh\nNTS_UPGRADE_TEST_FLIP=100 exec "%s/ntsd" "$@"\n' "$B" >"$tmp/corrupt"
chmod +x "$tmp/corrupt"
failed_upgrade "a corrupt stream" --binary "$tmp/corrupt"
if grep -q "refusing the handover: corrupt stream" "$tmp/ntsd.log"; then
	pass "the new ntsd names the corrupt stream"
else
	fail "the new ntsd names the corrupt stream"
fi

# 3. SIGUSR2 upgrades again; the allocation of the flow is still there with its relay.
kill -USR2 "$cur"
if wait_gone "$cur"; then
	new=$(sed -n 's/.*upgrade: serving (pid \([0-9]*\)).*/\1/p' "$tmp/ntsd.log" | tail -n 1)
	cur=$new
fi
if [ -n "$cur" ] && alive "$cur" && ctl allocations --json >"$tmp/allocs.json" 2>&1 &&
	jq -e --arg r "$relay" '[.allocations[] | select(.relay | index($r))] | length == 1' \
		"$tmp/allocs.json" >/dev/null && health >/dev/null 2>&1; then
	pass "SIGUSR2 upgrades again (pid $cur) and the allocation stays"
else
	fail "SIGUSR2 upgrades again and the allocation stays"
	tail -n 5 "$tmp/ntsd.log" | sed 's/^/#   /'
fi

# The RFC 5780 alternates came along both upgrades: a changed answer comes from 127.0.0.2:PORT+1.
if timeout 10 turnutils_stunclient -f -p "$PORT" 127.0.0.1 >"$tmp/alt.out" 2>&1 &&
	grep -q "Response origin: : 127.0.0.2:$((PORT + 1))\$" "$tmp/alt.out"; then
	pass "the --alt-ip sockets answer after the upgrades"
else
	fail "the --alt-ip sockets answer after the upgrades"
	sed 's/^/#   /' "$tmp/alt.out"
fi

# The last ntsd is not our child: stop it and read its log.
kill -TERM "$cur" 2>/dev/null
if wait_gone "$cur" && tail -n 1 "$tmp/ntsd.log" | grep -q "stopped" &&
	! turn_sanitizer_report "$tmp/ntsd.log"; then
	pass "the upgraded ntsd stops cleanly on SIGTERM, no sanitizer report"
else
	fail "the upgraded ntsd stops cleanly on SIGTERM, no sanitizer report"
	grep -A30 -E 'Sanitizer|runtime error' "$tmp/ntsd.log" | head -60 | sed 's/^/#   /'
fi
cur=
echo "1..$n"
[ "$failed" -eq 0 ]
