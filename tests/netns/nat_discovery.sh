#!/usr/bin/env bash
# NAT behaviour discovery against ntsd --alt-ip (RFC 5780, and RFC 3489's NAT type): a client
# namespace (C) behind a router namespace (R) that masquerades with nftables towards the server
# namespace (S), where ntsd listens on 198.18.0.2:3478 with 198.18.0.3 as its alternate address.
# Two NATs, each classified by Debian's stun-client (RFC 3489) and coturn's turnutils_natdiscovery
# (RFC 5780):
#   masquerade         endpoint-independent mapping (Linux keeps the source port for every
#                      destination), address- and port-dependent filtering (conntrack);
#   masquerade random  a new random port for every destination: address- and port-dependent mapping.
# Without a NAT (C talking to S straight through R's routing) both see none. Prints TAP; removes
# its namespaces and ntsd on exit.
set -u
B=${NTS_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
id=$$
C=ntsnat-c-$id R=ntsnat-r-$id S=ntsnat-s-$id
tmp=$(mktemp -d /tmp/nts-natdisc.XXXXXX)
n=0 failed=0 ntsd_pid=
. "$(dirname "$0")/lib.bash"

cleanup() {
	if [ -n "$ntsd_pid" ]; then
		kill "$ntsd_pid" 2>/dev/null
		wait "$ntsd_pid" 2>/dev/null
	fi
	for ns in "$C" "$R" "$S"; do ip netns del "$ns" 2>/dev/null; done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
[ -x "$B/ntsd" ] || skip_all "build ntsd first"
for cmd in nft stun turnutils_natdiscovery; do
	command -v "$cmd" >/dev/null || { echo "not ok 1 - $cmd is installed (tools/deps.sh)"; exit 1; }
done

setup() {
	set -e
	for ns in "$C" "$R" "$S"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
	ip link add c0 netns "$C" type veth peer name rc0 netns "$R"
	ip link add s0 netns "$S" type veth peer name rs0 netns "$R"
	ip -n "$C" addr add 198.18.1.2/24 dev c0
	ip -n "$R" addr add 198.18.1.1/24 dev rc0
	ip -n "$R" addr add 198.18.0.1/24 dev rs0
	ip -n "$S" addr add 198.18.0.2/24 dev s0
	ip -n "$S" addr add 198.18.0.3/24 dev s0
	for l in "$C c0" "$R rc0" "$R rs0" "$S s0"; do
		set -- $l
		ip -n "$1" link set "$2" up
	done
	ip -n "$C" route add default via 198.18.1.1
	ip -n "$S" route add 198.18.1.0/24 via 198.18.0.1
	in_ns "$R" sysctl -qw net.ipv4.ip_forward=1
	set +e
}
setup || { echo "not ok 1 - set up namespaces"; exit 1; }

nsenter --net=/var/run/netns/"$S" "$B/ntsd" --listen 198.18.0.2:3478 --alt-ip 198.18.0.3 \
	--user alice:wonderland --no-api --db "$tmp/nts.db" --ctl-socket "$tmp/ctl.sock" \
	--pin-dir "$tmp/pin" >"$tmp/ntsd.log" 2>&1 &
ntsd_pid=$!
started() { grep -q "started" "$tmp/ntsd.log"; }
for _ in $(seq 1 50); do started && break; sleep 0.1; done
check "ntsd starts with --alt-ip in its namespace" started
check "ntsd opens the RFC 5780 alternates" grep -q "RFC 5780: 198.18.0.2:3478 answers changes from 198.18.0.3:3479" "$tmp/ntsd.log"

# nat RULE: R's nftables masquerade towards S ("" for no NAT).
nat() {
	in_ns "$R" nft flush ruleset
	[ -z "$1" ] && return 0
	in_ns "$R" nft -f - <<EOF
table ip nts_nat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "rs0" $1
	}
}
EOF
}

# Every run starts from its own client ports, so no conntrack entry of an earlier run is reused.
cport=40000
# classify NAME EXPECT_STUN EXPECT_MAPPING EXPECT_FILTERING: one line of each client's verdict.
classify() {
	local name=$1 want_stun=$2 want_map=$3 want_filter=$4 out
	cport=$((cport + 100))
	out=$(in_ns "$C" timeout 30 stun 198.18.0.2 -p "$cport" 2>&1)
	if echo "$out" | grep -q "^Primary: $want_stun"; then
		ok "$name: stun-client (RFC 3489) says \"$want_stun\""
	else
		not_ok "$name: stun-client (RFC 3489) says \"$want_stun\""
		echo "$out" | tail -n 5 | sed 's/^/#   /'
	fi
	cport=$((cport + 100))
	out=$(in_ns "$C" timeout 30 turnutils_natdiscovery -m -L 198.18.1.2 -l "$cport" 198.18.0.2 2>&1)
	if echo "$out" | grep -qx "$want_map"; then
		ok "$name: turnutils_natdiscovery -m says \"$want_map\""
	else
		not_ok "$name: turnutils_natdiscovery -m says \"$want_map\""
		echo "$out" | grep -E "NAT|error|rror" | sed 's/^/#   /'
	fi
	cport=$((cport + 100))
	out=$(in_ns "$C" timeout 30 turnutils_natdiscovery -f -L 198.18.1.2 -l "$cport" 198.18.0.2 2>&1)
	if echo "$out" | grep -qx "$want_filter"; then
		ok "$name: turnutils_natdiscovery -f says \"$want_filter\""
	else
		not_ok "$name: turnutils_natdiscovery -f says \"$want_filter\""
		echo "$out" | grep -E "NAT|error|rror" | sed 's/^/#   /'
	fi
}

nat "" && classify "no NAT" "Open" "No NAT! (Endpoint Independent Mapping)" \
	"NAT with Endpoint Independent Filtering!"
if nat masquerade; then
	classify "masquerade" "Independent Mapping, Port Dependent Filter" \
		"NAT with Endpoint Independent Mapping!" \
		"NAT with Address and Port Dependent Filtering!"
else
	not_ok "R masquerades with nftables"
fi
if nat "masquerade random"; then
	classify "masquerade random" "Dependent Mapping" \
		"NAT with Address and Port Dependent Mapping!" \
		"NAT with Address and Port Dependent Filtering!"
else
	not_ok "R masquerades with random ports"
fi

check_ntsd_stops_clean
[ "$n" -ge 12 ] || not_ok "every check ran ($n of 12)"
[ "$failed" -eq 0 ] || { echo "# ntsd log:"; tail -n 30 "$tmp/ntsd.log" | sed 's/^/#   /'; }
echo "1..$n"
[ "$failed" -eq 0 ]
