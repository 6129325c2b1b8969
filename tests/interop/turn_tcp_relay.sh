#!/usr/bin/env bash
# RFC 6062 TCP relay allocations: coturn's turnutils_uclient with TCP relays (-T: each
# client Connects to the other's relayed address; also over TLS with -S) and with an active peer
# (-P: the peer connects in, ConnectionAttempt, ConnectionBind), then the RFC checks of
# turn_tcp_relay.py (error codes, permissions, byte-exact relaying, backpressure, teardown, the
# ConnectionBind deadline, set to 3 s with --tcp-connect-timeout so the test does not wait 30 s).
set -u
B=${NTS_BUILD:-$(pwd)/build}
N=${UCLIENT_MSGS:-20}
M=${UCLIENT_CLIENTS:-2}
L=121
tmp=$(mktemp -d /tmp/nts-tcprelay.XXXXXX)
. "$(dirname "$0")/turn_lib.bash"
trap turn_cleanup EXIT

if ! command -v turnutils_uclient >/dev/null || ! command -v openssl >/dev/null; then
	echo "not ok 1 - turnutils_uclient and openssl are installed (tools/deps.sh)"
	exit 1
fi
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=nts.test -keyout "$tmp/key.pem" \
	-out "$tmp/cert.pem" >/dev/null 2>&1
# Under ASan freed memory sits in a quarantine and would count as growth in the memory check.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
turn_pick_ports 27000 1000
TLSPORT=$((PORT + 2000))
turn_start_ntsd --listen "127.0.0.1:$PORT" --tls-listen "127.0.0.1:$TLSPORT" \
	--cert "$tmp/cert.pem" --key "$tmp/key.pem" --allow-peer 127.0.0.0/8 --allow-peer 127.0.0.1 \
	--user alice:wonderland --max-allocations-per-user 1000 --realm nts.interop \
	--tcp-connect-timeout 3 --verbose || exit 1
NTSD=${turn_pids[0]}

# run NAME PORT SENT RECV ARGS...: one uclient run whose summary must show SENT messages sent,
# RECV received, RECV*L bytes back and nothing dropped.
run() {
	local name=$1 port=$2 want_s=$3 want_r=$4 log="$tmp/run$((n + 1)).log" rc sm rm rb dropped
	shift 4
	timeout 60 turnutils_uclient -p "$port" -n "$N" -m "$M" -l "$L" -z 5 -u alice -w wonderland \
		"$@" 127.0.0.1 >"$log" 2>&1
	rc=$?
	sm=$(sed -n 's/.*tot_send_msgs=\([0-9]*\), tot_recv_msgs=.*/\1/p' "$log" | tail -1)
	rm=$(sed -n 's/.*tot_send_msgs=[0-9]*, tot_recv_msgs=\([0-9]*\).*/\1/p' "$log" | tail -1)
	rb=$(sed -n 's/.*tot_send_bytes ~ [0-9]*, tot_recv_bytes ~ \([0-9]*\).*/\1/p' "$log" | tail -1)
	dropped=$(sed -n 's/.*total send dropped \([0-9]*\) .*/\1/p' "$log" | tail -1)
	if [ "$rc" -eq 0 ] && [ "${sm:-x}" = "$want_s" ] && [ "${rm:-x}" = "$want_r" ] &&
		[ "${rb:-x}" = $((want_r * L)) ] && [ "${dropped:-x}" = 0 ]; then
		pass "uclient $name: sent $sm, received $rm messages ($rb bytes)"
	else
		fail "uclient $name: rc=$rc sent=${sm:-?} recv=${rm:-?} bytes=${rb:-?}" \
			"dropped=${dropped:-?} (want $want_s sent, $want_r received)"
		tail -n 15 "$log" | tr -cd '[:print:]\t\n' | sed 's/^/#   /'
	fi
}

run "TCP relay (-T), zero loss" "$PORT" $((N * M)) $((N * M)) -T
run "TCP relay over TLS (-T -S), zero loss" "$TLSPORT" $((N * M)) $((N * M)) -T -S
# -P: one TURN client and one active peer that connects to its relayed address (uclient pairs them
# the same way for -m 1 and -m 2). uclient counts what both ends send but only what the TURN client
# receives (coturn's own turnserver shows the same 50% "lost"), so the TURN client must get every
# message the peer sent.
RUN_M=2 run "TCP relay with an active peer (-P), every peer message received" "$PORT" $((2 * N)) \
	"$N" -P
c=$(grep -c "bound to a client data connection" "$tmp/ntsd.log")
[ "$c" -ge $((2 * M + 1)) ] && pass "ntsd bound $c data connections for those runs" ||
	fail "ntsd bound $c data connections for those runs (want at least $((2 * M + 1)))"

turn_run_py "$tmp/py.log" timeout 120 /usr/bin/python3 "$(dirname "$0")/turn_tcp_relay.py" \
	127.0.0.1 "$PORT" alice wonderland "$NTSD" "$TLSPORT" 3

if kill -0 "$NTSD" 2>/dev/null; then
	pass "ntsd is still running"
else
	fail "ntsd is still running"
	tail -n 20 "$tmp/ntsd.log" | sed 's/^/#   /'
fi
turn_done 34
