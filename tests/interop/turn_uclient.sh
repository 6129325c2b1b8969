#!/usr/bin/env bash
# Interop with coturn's turnutils_uclient and turnutils_peer against ntsd on loopback:
# channels, Send/Data, padded channels, IPv6 relay, dual allocation, TCP transport, ephemeral (-W)
# and static (-u/-w) credentials. Each run must lose nothing and move exactly the expected bytes.
set -u
B=${NTS_BUILD:-$(pwd)/build}
N=${UCLIENT_MSGS:-20}   # messages per client
M=${UCLIENT_CLIENTS:-2} # clients per run
L=121                   # message length (not a multiple of 4: streams need padding)
tmp=$(mktemp -d /tmp/nts-uclient.XXXXXX)
. "$(dirname "$0")/turn_lib.bash"
trap turn_cleanup EXIT

if ! command -v turnutils_uclient >/dev/null || ! command -v turnutils_peer >/dev/null; then
	echo "not ok 1 - coturn's turnutils_uclient/turnutils_peer are installed (tools/deps.sh)"
	exit 1
fi

turn_pick_ports 21000 4500
PEER=$((PORT + 1))
turn_start_ntsd --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" --allow-peer 127.0.0.0/8 --allow-peer 127.0.0.1 \
	--allow-peer ::1/128 --user alice:wonderland --secret interop-secret \
	--max-allocations-per-user 1000 --realm nts.interop --verbose || exit 1
turnutils_peer -p "$PEER" -L 127.0.0.1 >"$tmp/peer4.log" 2>&1 &
turn_pids+=($!)
turnutils_peer -p "$PEER" -L ::1 >"$tmp/peer6.log" 2>&1 &
turn_pids+=($!)

# run NAME EXPECTED_MSGS_FACTOR UCLIENT_ARGS...: runs one uclient session, checks its summary.
run() {
	local name=$1 factor=$2 log
	shift 2
	log="$tmp/run$((n + 1)).log"
	timeout 60 turnutils_uclient -p "$PORT" -n "$N" -m "$M" -l "$L" -z 5 "$@" >"$log" 2>&1
	local rc=$? want=$((N * M * factor)) lost sm rm sb rb
	lost=$(sed -n 's/.*Total lost packets \([0-9]*\) .*/\1/p' "$log" | tail -1)
	sm=$(sed -n 's/.*tot_send_msgs=\([0-9]*\), tot_recv_msgs=.*/\1/p' "$log" | tail -1)
	rm=$(sed -n 's/.*tot_send_msgs=[0-9]*, tot_recv_msgs=\([0-9]*\).*/\1/p' "$log" | tail -1)
	sb=$(sed -n 's/.*tot_send_bytes ~ \([0-9]*\), tot_recv_bytes.*/\1/p' "$log" | tail -1)
	rb=$(sed -n 's/.*tot_send_bytes ~ [0-9]*, tot_recv_bytes ~ \([0-9]*\).*/\1/p' "$log" | tail -1)
	if [ "$rc" -eq 0 ] && [ "${lost:-x}" = 0 ] && [ "${sm:-x}" = "$want" ] &&
		[ "${rm:-x}" = "$want" ] && [ "${sb:-x}" = $((want * L)) ] &&
		[ "${rb:-x}" = $((want * L)) ]; then
		pass "uclient $name: $rm/$want messages, $rb bytes back, 0 lost"
	else
		fail "uclient $name: rc=$rc lost=${lost:-?} sent=${sm:-?} recv=${rm:-?} bytes=${sb:-?}/${rb:-?} (want $want messages, $((want * L)) bytes)"
		tail -n 15 "$log" | tr -cd '[:print:]\t\n' | sed 's/^/#   /'
	fi
}

STATIC=(-u alice -w wonderland)
run "channels (static user)" 1 "${STATIC[@]}" -e 127.0.0.1 -r "$PEER" 127.0.0.1
run "Send/Data indications (-s)" 1 "${STATIC[@]}" -s -e 127.0.0.1 -r "$PEER" 127.0.0.1
run "padded channels (-D)" 1 "${STATIC[@]}" -D -e 127.0.0.1 -r "$PEER" 127.0.0.1
run "IPv6 relay (-x)" 1 "${STATIC[@]}" -x -e ::1 -r "$PEER" 127.0.0.1
run "IPv6 relay with Send (-x -s)" 1 "${STATIC[@]}" -x -s -e ::1 -r "$PEER" 127.0.0.1
run "dual allocation (-Z)" 1 "${STATIC[@]}" -Z -e 127.0.0.1 -r "$PEER" 127.0.0.1
run "ephemeral credentials (-W)" 1 -u AC0123456789abcdef -W interop-secret -e 127.0.0.1 -r "$PEER" \
	127.0.0.1
run "channels over TCP (-t)" 1 "${STATIC[@]}" -t -e 127.0.0.1 -r "$PEER" 127.0.0.1
run "padded channels over TCP (-t -D)" 1 "${STATIC[@]}" -t -D -e 127.0.0.1 -r "$PEER" 127.0.0.1

# Wrong credentials must not get through: uclient gets its Allocate refused (it says so and exits
# 255 at once), not a timeout or a crash, and relays nothing.
timeout 30 turnutils_uclient -p "$PORT" -n 2 -m 1 -u alice -w wrong -e 127.0.0.1 -r "$PEER" \
	127.0.0.1 >"$tmp/wrong.log" 2>&1
rc=$?
if [ "$rc" -eq 255 ] && grep -q "Cannot complete Allocation" "$tmp/wrong.log" &&
	! grep -q "tot_recv_msgs=[1-9]" "$tmp/wrong.log"; then
	pass "uclient with a wrong password is refused its allocation and relays nothing"
else
	fail "uclient with a wrong password is refused its allocation and relays nothing (rc=$rc)"
	tail -n 5 "$tmp/wrong.log" | tr -cd '[:print:]\t\n' | sed 's/^/#   /'
fi

if kill -0 "${turn_pids[0]}" 2>/dev/null; then
	pass "ntsd is still running"
else
	fail "ntsd is still running"
	tail -n 20 "$tmp/ntsd.log" | sed 's/^/#   /'
fi
turn_done 12
