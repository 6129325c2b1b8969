#!/usr/bin/env bash
# Bandwidth limits on both relay paths: client ns <-> server ns (ntsd) <-> peer ns. One allocation
# per family (IPv4 and IPv6) under an account's ephemeral credential, each offered 5x the limit each
# way (ChannelData client -> peer, UDP peer -> client) for 5 s by tests/netns/ratelimit.py, in three
# phases on the same allocations:
#   1. userspace relay: --max-bps-per-allocation holds each flow at the limit +-10 %;
#   2. after ntsctl attach (XDP native on both veths, adopted by the running ntsd): the same, with
#      the kernel relaying and counting drop_rate_limited;
#   3. after ntsctl account set SID --max-bps (below the allocation limit) on the live allocations:
#      the account's two allocations share it, each direction at the account's limit +-10 %.
# Namespaces are entered with nsenter --net (see tests/netns/lib.bash). Prints TAP; cleans up.
set -u
B=${NTS_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
id=$$
C=ntsrl-c-$id S=ntsrl-s-$id P=ntsrl-p-$id
tmp=$(mktemp -d /tmp/nts-ratelimit.XXXXXX)
pin=/sys/fs/bpf/nts-test-rl-$id
ctl=$tmp/ntsd.sock
SECRET=ratelimit-secret
LIMIT=50000   # --max-bps-per-allocation: application bytes/s each way
ACCOUNT=20000 # ntsctl account set --max-bps in phase 3, shared by both allocations
SECS=5
n=0 failed=0 ntsd_pid=

. "$(dirname "$0")/lib.bash"
ntsctl() { in_ns "$S" "$B/ntsctl" --pin-dir "$pin" --ctl-socket "$ctl" --db "$tmp/nts.db" "$@"; }

cleanup() {
	[ -n "$ntsd_pid" ] && kill -9 "$ntsd_pid" 2>/dev/null
	if [ -e /var/run/netns/"$S" ]; then
		ntsctl detach sc0 >/dev/null 2>&1
		ntsctl detach sp0 >/dev/null 2>&1
	fi
	for ns in "$C" "$S" "$P"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$pin"; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for tool in ethtool nsenter; do
	command -v "$tool" >/dev/null || { echo "not ok 1 - $tool is installed (tools/deps.sh)"; exit 1; }
done
[ -x "$B/ntsd" ] && [ -x "$B/ntsctl" ] || { echo "not ok 1 - $B/ntsd and ntsctl are built"; exit 1; }

# --- topology: 198.18.0.0/24 client side, 198.19.0.0/24 peer side (RFC 2544 benchmarking space),
# 2001:2::/64 and 2001:2:0:1::/64 for IPv6 (RFC 5180)
setup() {
	set -e
	for ns in "$C" "$S" "$P"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
	ip link add cs0 netns "$C" type veth peer name sc0 netns "$S"
	ip link add ps0 netns "$P" type veth peer name sp0 netns "$S"
	ip -n "$C" addr add 198.18.0.2/24 dev cs0
	ip -n "$S" addr add 198.18.0.1/24 dev sc0
	ip -n "$S" addr add 198.19.0.1/24 dev sp0
	ip -n "$P" addr add 198.19.0.2/24 dev ps0
	ip -n "$C" addr add 2001:2::2/64 dev cs0 nodad
	ip -n "$S" addr add 2001:2::1/64 dev sc0 nodad
	ip -n "$S" addr add 2001:2:0:1::1/64 dev sp0 nodad
	ip -n "$P" addr add 2001:2:0:1::2/64 dev ps0 nodad
	for d in "$C cs0" "$S sc0" "$S sp0" "$P ps0"; do
		set -- $d
		ip -n "$1" link set "$2" up
		# XDP_TX/redirected frames reach the other end only with GRO on (or XDP there).
		in_ns "$1" ethtool -K "$2" gro on tx off >/dev/null
	done
	ip -n "$P" route add 198.18.0.0/24 via 198.19.0.1
	ip -n "$C" route add 198.19.0.0/24 via 198.18.0.1
	ip -n "$P" -6 route add 2001:2::/64 via 2001:2:0:1::1
	ip -n "$C" -6 route add 2001:2:0:1::/64 via 2001:2::1
	in_ns "$S" sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1
	in_ns "$S" ping -c1 -W2 198.18.0.2 >/dev/null
	in_ns "$S" ping -c1 -W2 198.19.0.2 >/dev/null
	in_ns "$S" ping -6 -c1 -W2 2001:2::2 >/dev/null
	in_ns "$S" ping -6 -c1 -W2 2001:2:0:1::2 >/dev/null
	set +e
}

start_ntsd() {
	nsenter --net=/var/run/netns/"$S" "$B/ntsd" --listen 198.18.0.1:3478 \
		--listen '[2001:2::1]:3478' --secret "$SECRET" --realm nts --relay-ports 50000-50999 \
		--fastpath-channels 4096 --max-allocations 1024 --max-bps-per-allocation "$LIMIT" \
		--allow-peer 198.18.0.0/15 --allow-peer 2001:2::/48 --ctl-socket "$ctl" \
		--pin-dir "$pin" --db "$tmp/nts.db" --no-api --verbose >>"$tmp/ntsd.log" 2>&1 &
	ntsd_pid=$!
	for _ in $(seq 1 100); do
		ntsctl status 2>/dev/null | grep -q '^ntsd: running' && return 0
		sleep 0.1
	done
	return 1
}

# A counter of the kernel (ntsctl stats --json), or of ntsd (status --json, "stats").
kstat() {
	ntsctl stats --json 2>/dev/null | $PY -c "import json,sys; print(json.load(sys.stdin)['$1'])" \
		2>/dev/null || echo 0
}
ustat() {
	ntsctl status --json 2>/dev/null |
		$PY -c "import json,sys; print(json.load(sys.stdin)['ntsd']['stats']['$1'])" 2>/dev/null ||
		echo 0
}
# within RATE LIMIT: RATE (bytes/s) is LIMIT +-10 %.
within() { [ "$1" -ge $(($2 * 9 / 10)) ] && [ "$1" -le $(($2 * 11 / 10)) ]; }
# phase N FIELD: bytes/s the flow received in phase N (FIELD: v4.c2p, v6.p2c...).
phase() {
	$PY - "$tmp/phases.jsonl" "$1" "$2" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["phase"] == int(sys.argv[2]):
        fam, way = sys.argv[3].split(".")
        print(int(d[fam][way] / d["secs"]))
        break
else:
    print(0)
EOF
}

setup || { echo "not ok 1 - set up namespaces"; exit 1; }
check "ntsd starts (no fast path yet)" start_ntsd
sid=$(ntsctl account create "limits" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["sid"])')
check "an account exists ($sid)" [ "${#sid}" = 34 ]

# Everything after phase 1 runs between the phases, on the same live allocations.
attach="$B/ntsctl --pin-dir $pin --ctl-socket $ctl --db $tmp/nts.db"
attach="nsenter --net=/var/run/netns/$S sh -c '$attach attach sc0 --mode native && $attach attach sp0 --mode native && $attach stats --json >$tmp/kernel.before'"
acct="nsenter --net=/var/run/netns/$S $B/ntsctl --ctl-socket $ctl --db $tmp/nts.db account set $sid --max-bps $ACCOUNT >/dev/null; nsenter --net=/var/run/netns/$S $B/ntsctl --pin-dir $pin stats --json >$tmp/kernel.mid"
u0=$(ustat user_c2p_rate_limited)
$PY "$HERE/ratelimit.py" --client-ns /var/run/netns/"$C" --peer-ns /var/run/netns/"$P" \
	--secret "$SECRET" --account "$sid" --rate $((LIMIT * 5)) --size 500 --secs "$SECS" \
	--phases 3 --between "$attach" --between "$acct" \
	198.18.0.1 198.19.0.2 2001:2::1 2001:2:0:1::2 >"$tmp/phases.jsonl" 2>"$tmp/traffic.err"
rc=$?
check "the traffic driver allocated and ran three phases (exit $rc)" [ "$rc" = 0 ]
sed 's/^/# /' "$tmp/phases.jsonl" "$tmp/traffic.err"

for f in v4.c2p v4.p2c v6.c2p v6.p2c; do
	r=$(phase 1 $f)
	check "userspace: $f at 5x the limit receives $LIMIT B/s +-10% ($r)" within "$r" "$LIMIT"
done
u1=$(ustat user_c2p_rate_limited)
check "userspace counts what it dropped (client->peer $u0 -> $u1)" [ "$u1" -gt "$u0" ]
up=$(kstat user_p2c_rate_limited)
check "ntsctl stats shows userspace's drops next to the kernel's (peer->client $up)" [ "$up" -gt 0 ]

for f in v4.c2p v4.p2c v6.c2p v6.p2c; do
	r=$(phase 2 $f)
	check "XDP: $f at 5x the limit receives $LIMIT B/s +-10% ($r)" within "$r" "$LIMIT"
done
kfield() { $PY -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@" 2>/dev/null || echo 0; }
k0=$(kfield "$tmp/kernel.before" c2p_packets) k1=$(kfield "$tmp/kernel.mid" c2p_packets)
p0=$(kfield "$tmp/kernel.before" p2c_packets) p1=$(kfield "$tmp/kernel.mid" p2c_packets)
# Phase 2 relayed about 2 x LIMIT x SECS / 500 datagrams each way (two families).
want=$((2 * LIMIT * SECS / 500 * 9 / 10))
both_at_least() { [ "$1" -ge "$3" ] && [ "$2" -ge "$3" ]; }
check "XDP relayed phase 2 in the kernel (c2p $((k1 - k0)), p2c $((p1 - p0)) >= $want)" \
	both_at_least $((k1 - k0)) $((p1 - p0)) "$want"
d0=$(kfield "$tmp/kernel.before" drop_rate_limited) d1=$(kfield "$tmp/kernel.mid" drop_rate_limited)
check "XDP counts drop_rate_limited ($d0 -> $d1)" [ $((d1 - d0)) -gt "$want" ]

for way in c2p p2c; do
	r=$(($(phase 3 v4.$way) + $(phase 3 v6.$way)))
	check "XDP, account --max-bps $ACCOUNT set on live allocations: $way of both families together receives it +-10% ($r)" \
		within "$r" "$ACCOUNT"
done
# /metrics and ntsctl status carry the kernel's count within a tick.
kd=$(kstat drop_rate_limited)
folded() { [ "$(ustat kernel_rate_limited)" -ge "$kd" ]; }
wait_folded() { for _ in $(seq 1 30); do folded && return 0; sleep 0.1; done; return 1; }
check "ntsd reports the kernel's drop_rate_limited ($kd)" wait_folded

check_ntsd_stops_clean

echo "1..$n"
exit "$failed"
