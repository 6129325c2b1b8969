#!/usr/bin/env bash
# Unauthenticated streams cannot hold the TCP/TLS service: in a namespace of its own, one IPv4
# address and one IPv6 /64 (four of its addresses) each try 1000 idle TCP and TLS connections to
# ntsd (--auth-timeout 2, 64 per source, 200 in all); clients from other sources still allocate.
# See stream_deadline.py.
set -u
B=${NTS_BUILD:-$(pwd)/build}
ns=ntsdl-$$
tmp=$(mktemp -d /tmp/nts-deadline.XXXXXX)
. "$(dirname "$0")/turn_lib.bash"
cleanup() {
	turn_cleanup
	ip netns del "$ns" 2>/dev/null
}
trap cleanup EXIT

n=0 failed=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() {
	n=$((n + 1))
	echo "not ok $n - $1"
	failed=$((failed + 1))
}

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=nts.test -keyout "$tmp/key.pem" \
	-out "$tmp/cert.pem" >/dev/null 2>&1 || {
	echo "not ok 1 - openssl makes a test certificate"
	exit 1
}
ip netns add "$ns" && ip -n "$ns" link set lo up || {
	echo "not ok 1 - a network namespace for the test"
	exit 1
}
for a in 198.18.0.1 198.18.0.2 198.18.0.3; do
	ip -n "$ns" addr add "$a/24" dev lo
done
for a in 2001:db8::1 2001:db8::10 2001:db8::11 2001:db8::12 2001:db8::13 2001:db8:1::1; do
	ip -n "$ns" addr add "$a/64" dev lo nodad
done
ulimit -n 8192
PORT=3478 TLSPORT=5349 RMIN=49152 RMAX=49251 # the namespace is ours: fixed ports are free
turn_start_ntsd_in() {
	ip netns exec "$ns" "$B/ntsd" --relay-ports "$RMIN-$RMAX" --no-api --db "$tmp/nts.db" \
		--ctl-socket "$tmp/ctl.sock" --pin-dir "$tmp/pin" "$@" >"$tmp/ntsd.log" 2>&1 &
	turn_pids+=($!)
	for _ in $(seq 1 50); do
		grep -q "started" "$tmp/ntsd.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "not ok 1 - ntsd starts"
	sed 's/^/# /' "$tmp/ntsd.log"
	return 1
}
turn_start_ntsd_in --listen "198.18.0.1:$PORT" --listen "[2001:db8::1]:$PORT" \
	--tls-listen "198.18.0.1:$TLSPORT" --tls-listen "[2001:db8::1]:$TLSPORT" \
	--cert "$tmp/cert.pem" --key "$tmp/key.pem" --user alice:wonderland --realm nts.interop \
	--auth-timeout 2 --max-tcp-per-source 64 --max-tcp-connections 200 || exit 1
NTSD=${turn_pids[0]}

while read -r line; do
	case "$line" in
	"ok - "*) pass "${line#ok - }" ;;
	"not ok - "*) fail "${line#not ok - }" ;;
	*) echo "# $line" ;;
	esac
done < <(timeout 200 ip netns exec "$ns" /usr/bin/python3 "$(dirname "$0")/stream_deadline.py" \
	198.18.0.1 2001:db8::1 "$PORT" "$TLSPORT" alice wonderland 198.18.0.2 198.18.0.3 \
	2001:db8::10,2001:db8::11,2001:db8::12,2001:db8::13 2001:db8:1::1 2>&1)

if kill -0 "$NTSD" 2>/dev/null; then
	pass "ntsd is still running"
else
	fail "ntsd is still running"
	tail -n 20 "$tmp/ntsd.log" | sed 's/^/#   /'
fi
[ "$n" -ge 17 ] || fail "every check ran ($n of 17)"
echo "1..$n"
[ "$failed" -eq 0 ]
