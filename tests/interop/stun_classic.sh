#!/usr/bin/env bash
# Classic STUN and NAT discovery on loopback: Debian's stun-client (RFC 3489: no magic cookie, a
# 128-bit transaction id) and coturn's turnutils_stunclient (RFC 5389, and RFC 5780 with -f)
# against ntsd without and with --alt-ip; stun_classic.py checks the answers byte by byte and the
# socket each one leaves from. The NAT types themselves: tests/netns/nat_discovery.sh.
set -u
B=${NTS_BUILD:-$(pwd)/build}
tmp=$(mktemp -d /tmp/nts-classic.XXXXXX)
. "$(dirname "$0")/turn_lib.bash"
trap turn_cleanup EXIT
PY="/usr/bin/python3 $(dirname "$0")/stun_classic.py"

for cmd in stun turnutils_stunclient; do
	command -v "$cmd" >/dev/null || { echo "not ok 1 - $cmd is installed (tools/deps.sh)"; exit 1; }
done

# expect WHAT PATTERN COMMAND...: the command prints a line matching PATTERN.
expect() {
	local what=$1 pattern=$2 out
	shift 2
	out=$("$@" 2>&1) # stun-client exits with the NAT type it found: read its output
	if echo "$out" | grep -qE -- "$pattern"; then
		pass "$what"
	else
		fail "$what"
		echo "$out" | tail -n 8 | sed 's/^/#   /'
	fi
}

# Without --alt-ip: classic answers, no discovery.
turn_pick_ports 37000 1000
turn_start_ntsd --listen "127.0.0.1:$PORT" --user alice:wonderland || exit 1
cport=$((RMIN - 200))
expect "stun-client test 1 (RFC 3489 Binding) gets its own address and port mapped" \
	"MappedAddress = 127.0.0.1:$cport\$" timeout 20 stun "127.0.0.1:$PORT" 1 -v -p "$cport"
expect "turnutils_stunclient (RFC 5389) still gets XOR-MAPPED-ADDRESS" \
	"UDP reflexive addr: 127.0.0.1:" timeout 10 turnutils_stunclient -p "$PORT" 127.0.0.1
turn_run_py "$tmp/plain.log" timeout 60 $PY plain 127.0.0.1 "$PORT"
turn_stop_ntsd

# With --alt-ip 127.0.0.2: RFC 3489's NAT type test and RFC 5780's answers on loopback (no NAT).
turn_pick_ports 37000 1000
turn_start_ntsd --listen "127.0.0.1:$PORT" --alt-ip 127.0.0.2 --user alice:wonderland || exit 1
expect "ntsd logs the RFC 5780 alternates" "127.0.0.1:$PORT answers changes from 127.0.0.2:$((PORT + 1))" \
	cat "$tmp/ntsd.log"
cport=$((cport + 10))
expect "stun-client's RFC 3489 NAT test (changes of IP and port) finds no NAT on loopback" \
	"^Primary: Open" timeout 30 stun "127.0.0.1:$PORT" -p "$cport"
expect "turnutils_stunclient -f (RFC 5780) sees OTHER-ADDRESS 127.0.0.2:$((PORT + 1))" \
	"Other addr: : 127.0.0.2:$((PORT + 1))\$" timeout 10 turnutils_stunclient -f -p "$PORT" 127.0.0.1
expect "turnutils_stunclient -f sees the changed answer's RESPONSE-ORIGIN" \
	"Response origin: : 127.0.0.2:$((PORT + 1))\$" timeout 10 turnutils_stunclient -f -p "$PORT" 127.0.0.1
turn_run_py "$tmp/alt.log" timeout 60 $PY alt 127.0.0.1 "$PORT" 127.0.0.2
turn_done 37
