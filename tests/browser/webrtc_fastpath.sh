#!/usr/bin/env bash
# A browser call through the XDP fast path: Chromium (headless, playwright-core) in a client
# namespace, relay-only over ntsd's TURN UDP, and an aiortc peer in a peer namespace (host
# candidates only) hold a data channel call through ntsd in the server namespace, with the fast
# path attached natively on both of its veths. Every message comes back intact, the selected pair
# is Chromium's relay and aiortc's host address, and the fast path's counters (ntsctl stats --json)
# show that the call's packets went through the kernel. Prints TAP; cleans up.
set -u
tmp=$(mktemp -d /tmp/nts-webrtc-fp.XXXXXX)
n=0 failed=0 ntsd_pid= peer_pid=
. "$(dirname "$0")/lib.bash"
id=$$
C=ntsbf-c-$id S=ntsbf-s-$id P=ntsbf-p-$id
pin=/sys/fs/bpf/nts-browser-$id
ctl=$tmp/ntsd.sock
MESSAGES=400 SIZE=1000
ntsctl() { in_ns "$S" "$B/ntsctl" --pin-dir "$pin" --ctl-socket "$ctl" --db "$tmp/nts.db" "$@"; }
# field FILE EXPR: EXPR evaluated over the JSON object in FILE (its keys as names).
field() {
	$PY -c 'import json,sys; print(eval(sys.argv[2], {}, json.load(open(sys.argv[1]))))' "$@" \
		2>/dev/null
}

cleanup() {
	[ -n "$ntsd_pid" ] && kill -9 "$ntsd_pid" 2>/dev/null
	[ -n "$peer_pid" ] && kill -9 "$peer_pid" 2>/dev/null
	if [ -e /var/run/netns/"$S" ]; then
		ntsctl detach sc0 >/dev/null 2>&1
		ntsctl detach sp0 >/dev/null 2>&1
	fi
	for ns in "$C" "$S" "$P"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$pin"
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
browser_require
for tool in bpftool ethtool; do
	command -v "$tool" >/dev/null || { echo "not ok 1 - $tool is installed (tools/deps.sh)"; exit 1; }
done

# 198.18.0.0/24 client side, 198.19.0.0/24 peer side, as tests/netns/fastpath.sh.
setup() {
	set -e
	for ns in "$C" "$S" "$P"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
	ip link add cs0 netns "$C" type veth peer name sc0 netns "$S"
	ip link add ps0 netns "$P" type veth peer name sp0 netns "$S"
	ip -n "$C" addr add 198.18.0.2/24 dev cs0
	ip -n "$S" addr add 198.18.0.1/24 dev sc0
	ip -n "$S" addr add 198.19.0.1/24 dev sp0
	ip -n "$P" addr add 198.19.0.2/24 dev ps0
	for d in "$C cs0" "$S sc0" "$S sp0" "$P ps0"; do
		set -- $d
		ip -n "$1" link set "$2" up
		# XDP_TX/redirected frames reach the other end only with GRO on; checksums must be
		# right without the senders' offload.
		in_ns "$1" ethtool -K "$2" gro on tx off >/dev/null
	done
	ip -n "$P" route add 198.18.0.0/24 via 198.19.0.1
	ip -n "$C" route add 198.19.0.0/24 via 198.18.0.1
	in_ns "$S" sysctl -qw net.ipv4.conf.all.forwarding=1
	in_ns "$S" ping -c1 -W2 198.18.0.2 >/dev/null
	in_ns "$S" ping -c1 -W2 198.19.0.2 >/dev/null
	set +e
}
setup || { echo "not ok 1 - set up namespaces"; exit 1; }

nsenter --net=/var/run/netns/"$S" "$B/ntsd" --listen 198.18.0.1:3478 --relay-ports 50000-50999 \
	--allow-peer 198.18.0.0/15 --db "$tmp/nts.db" --ctl-socket "$ctl" --pin-dir "$pin" \
	--verbose >"$tmp/ntsd.log" 2>&1 &
ntsd_pid=$!
running() { ntsctl status 2>/dev/null | grep -q '^ntsd: running'; }
if ! wait_for 10 running; then
	not_ok "ntsd starts in the server namespace"
	tail -n 20 "$tmp/ntsd.log" | sed 's/^/#   /'
	echo "1..$n"
	exit 1
fi
ok "ntsd starts in the server namespace"
attach() {
	ntsctl attach sc0 --mode native >/dev/null && ntsctl attach sp0 --mode native >/dev/null
}
check "ntsctl attach loads the fast path natively on both veths" attach
token() {
	local sid
	ntsctl account create browser --json >"$tmp/account.json" &&
		sid=$(field "$tmp/account.json" sid) &&
		ntsctl token create --ttl 600 --json --account "$sid" >"$tmp/token.json" &&
		grep -q '"turn:198.18.0.1:3478?transport=udp"' "$tmp/token.json"
}
check "an account's token lists the TURN UDP server" token

# Kernel and userspace relayed packets (as tests/netns/fastpath.sh reads them).
kstat() {
	ntsctl stats --json >"$tmp/kstat.json" 2>/dev/null &&
		field "$tmp/kstat.json" "c2p_packets + p2c_packets" || echo 0
}
ustat() {
	ntsctl status --json >"$tmp/ustat.json" 2>/dev/null &&
		field "$tmp/ustat.json" "ntsd['stats']['user_c2p_packets'] + ntsd['stats']['user_p2c_packets']" ||
		echo 0
}
k0=$(kstat) u0=$(ustat)

mkdir -p "$tmp/sig"
nsenter --net=/var/run/netns/"$P" "$PY" "$NTS_TOP/tests/browser/call_aiortc.py" "$tmp/sig" 45 \
	>"$tmp/aiortc.json" 2>"$tmp/aiortc.err" &
peer_pid=$!
in_ns "$C" timeout 60 node "$NTS_TOP/tests/browser/call_chromium.js" "$tmp/sig" "$tmp/token.json" \
	"$MESSAGES" "$SIZE" >"$tmp/chromium.json" 2>"$tmp/chromium.err"
rc=$?
wait "$peer_pid"
peer_pid=
for end in chromium aiortc; do
	echo "# $end: $(cat "$tmp/$end.json" 2>/dev/null) $(tail -n 3 "$tmp/$end.err" | tr '\n' ' ')"
done
check "the call connects and every message comes back intact ($MESSAGES of $SIZE bytes)" \
	test "$rc" -eq 0 -a "$(field "$tmp/chromium.json" 'echoed == intact == sent')" = True
check "aiortc echoed every message and saw the end of the call" \
	test "$(field "$tmp/aiortc.json" "echoed == $MESSAGES and bye")" = True
check "Chromium's selected pair: its relay on ntsd (over UDP) to aiortc's host address" \
	test "$(field "$tmp/chromium.json" "(local['type'], local['relay_protocol'], local['address'],
		remote['address']) == ('relay', 'udp', '198.18.0.1', '198.19.0.2')")" = True

# The kernel's counters are per-CPU map values, read directly: no wait for ntsd's fold.
k1=$(kstat) u1=$(ustat)
kd=$((k1 - k0)) ud=$((u1 - u0))
echo "# during the call: kernel relayed $kd, userspace relayed $ud packets"
check "the fast path relayed the call: >= $MESSAGES packets in the kernel ($kd)" \
	test "$kd" -ge "$MESSAGES"
check ">= 90% of the call's relayed packets went through the kernel ($kd kernel, $ud userspace)" \
	test $((kd * 100)) -ge $((90 * (kd + ud)))

check_ntsd_stops_clean
echo "1..$n"
[ "$failed" -eq 0 ]
