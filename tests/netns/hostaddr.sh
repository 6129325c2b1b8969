#!/usr/bin/env bash
# The host's own addresses are never peers: ntsd in a namespace of its own (S), joined by a veth to a
# peer namespace (P), with --allow-peer covering both sides' prefixes (198.18.0.0/15, 2001:db8::/32).
# hostaddr.py checks the 403s, an address added at run time (refused within a second) and removed
# again; this script checks that the kernel's address notifications drive it: ntsd holds a
# NETLINK_ROUTE socket subscribed to RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR and logs each
# change as it hears it. Prints TAP; removes its namespaces and ntsd on exit.
set -u
B=${NTS_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
id=$$
S=ntsha-s-$id P=ntsha-p-$id
tmp=$(mktemp -d /tmp/nts-hostaddr.XXXXXX)
n=0 failed=0 ntsd_pid=

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; failed=1; }
check() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
in_ns() { local ns=$1; shift; nsenter --net=/var/run/netns/"$ns" "$@"; }

cleanup() {
	if [ -n "$ntsd_pid" ]; then
		kill "$ntsd_pid" 2>/dev/null
		wait "$ntsd_pid" 2>/dev/null
	fi
	for ns in "$S" "$P"; do ip netns del "$ns" 2>/dev/null; done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

skip_all() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip_all "needs root"
[ -x "$B/ntsd" ] || skip_all "build ntsd first"

setup() {
	set -e
	for ns in "$S" "$P"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
	ip link add hs0 netns "$S" type veth peer name hp0 netns "$P"
	ip -n "$S" addr add 198.18.0.1/24 dev hs0
	ip -n "$P" addr add 198.18.0.2/24 dev hp0
	ip -n "$S" addr add 2001:db8::1/64 dev hs0 nodad
	ip -n "$P" addr add 2001:db8::2/64 dev hp0 nodad
	ip -n "$S" link set hs0 up
	ip -n "$P" link set hp0 up
	set +e
}
setup || { echo "not ok 1 - set up namespaces"; exit 1; }

# nsenter execs (no fork for --net), so $! is ntsd itself (through in_ns it would be a subshell).
nsenter --net=/var/run/netns/"$S" "$B/ntsd" --listen 198.18.0.1:3478 --listen '[2001:db8::1]:3478' \
	--allow-peer 198.18.0.0/15 --allow-peer 2001:db8::/32 --user alice:wonderland --realm nts.test \
	--relay-ports 50000-50999 --no-api --db "$tmp/nts.db" --ctl-socket "$tmp/ctl.sock" \
	--pin-dir "$tmp/pin" --verbose >"$tmp/ntsd.log" 2>&1 &
ntsd_pid=$!
started() { grep -q "started" "$tmp/ntsd.log"; }
for _ in $(seq 1 50); do started && break; sleep 0.1; done
check "ntsd starts in its namespace" started

# The socket inodes of ntsd's NETLINK_ROUTE (protocol 0) sockets and their groups bitmask (group N
# is bit N-1): RTNLGRP_IPV4_IFADDR is 5, RTNLGRP_IPV6_IFADDR 9.
subscribed() {
	local inodes sk eth pid groups rest inode
	inodes=" $(for f in /proc/"$ntsd_pid"/fd/*; do readlink "$f"; done |
		sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')"
	while read -r sk eth pid groups _ _ _ _ _ inode rest; do
		[ "$eth" = 0 ] && [[ $inodes == *" $inode "* ]] &&
			[ $((16#$groups & 0x110)) -eq $((0x110)) ] && return 0
	done < <(tail -n +2 /proc/"$ntsd_pid"/net/netlink)
	return 1
}
check "ntsd holds a NETLINK_ROUTE socket subscribed to IPv4 and IPv6 address notifications" subscribed

while read -r line; do
	case "$line" in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) not_ok "${line#not ok - }" ;;
	*) echo "# $line" ;;
	esac
done < <(in_ns "$S" timeout 120 /usr/bin/python3 "$(dirname "$0")/hostaddr.py" "$P" hs0 \
	198.18.0.1 2001:db8::1 3478 alice wonderland 2>&1)

# Each change reached ntsd as a notification (logged by the handler that refreshes the policy).
heard() { grep -q "host address $1 $2 on interface" "$tmp/ntsd.log"; }
check "ntsd heard 198.18.0.77 added through a notification" heard 198.18.0.77/24 added
check "ntsd heard 198.18.0.77 removed through a notification" heard 198.18.0.77/24 removed
check "ntsd heard 2001:db8::77 added through a notification" heard 2001:db8::77/64 added
check "ntsd heard 2001:db8::77 removed through a notification" heard 2001:db8::77/64 removed
if kill -0 "$ntsd_pid" 2>/dev/null; then
	ok "ntsd is still running"
else
	not_ok "ntsd is still running"
fi
[ "$n" -ge 40 ] || not_ok "every check ran ($n of 40)"
[ "$failed" -eq 0 ] || { echo "# ntsd log:"; tail -n 30 "$tmp/ntsd.log" | sed 's/^/#   /'; }
echo "1..$n"
[ "$failed" -eq 0 ]
