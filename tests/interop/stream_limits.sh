#!/usr/bin/env bash
# Stream limits over TCP and TLS: slow readers are disconnected and lose their
# allocation with bounded memory; silent (half-open looking) connections are closed by the idle
# timeout, and allocations on them end with their lifetime. See stream_limits.py.
set -u
B=${NTS_BUILD:-$(pwd)/build}
tmp=$(mktemp -d /tmp/nts-limits.XXXXXX)
. "$(dirname "$0")/turn_lib.bash"
trap turn_cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=nts.test -keyout "$tmp/key.pem" \
	-out "$tmp/cert.pem" >/dev/null 2>&1 || {
	echo "not ok 1 - openssl makes a test certificate"
	exit 1
}
# Under ASan (make test SAN=1) freed memory sits in a quarantine and would count as growth: keep it
# small so the memory checks see what ntsd holds. Ignored by normal builds.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
turn_pick_ports 29000 1000
TLSPORT=$((PORT + 2000))
turn_start_ntsd --listen "127.0.0.1:$PORT" --tls-listen "127.0.0.1:$TLSPORT" \
	--cert "$tmp/cert.pem" --key "$tmp/key.pem" --allow-peer 127.0.0.0/8 --allow-peer 127.0.0.1 \
	--user alice:wonderland --realm nts.interop --tcp-idle-timeout 2 --default-lifetime 20 \
	--max-lifetime 20 --verbose || exit 1
NTSD=${turn_pids[0]}

turn_run_py "$tmp/py.log" timeout 200 /usr/bin/python3 "$(dirname "$0")/stream_limits.py" \
	127.0.0.1 "$PORT" "$TLSPORT" alice wonderland "$NTSD"

grep -q "output queue full" "$tmp/ntsd.log" && pass "ntsd logged the full output queue" ||
	fail "ntsd logged the full output queue"
if kill -0 "$NTSD" 2>/dev/null; then
	pass "ntsd is still running"
else
	fail "ntsd is still running"
	tail -n 20 "$tmp/ntsd.log" | sed 's/^/#   /'
fi
turn_done 16
