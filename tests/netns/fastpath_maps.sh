#!/usr/bin/env bash
# The fast path's maps with a real ntsd: entries an earlier ntsd left are checked against the
# peer policy of the ntsd that adopts them (refused peers' entries go, allowed ones stay), and
# `ntsctl fastpath flush` removes every entry. IPv4 and IPv6. One namespace with a veth pair (skb
# mode); prints TAP; cleans up its namespace, ntsd and pins.
set -u
B=${NTS_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
PY=/usr/bin/python3
id=$$
S=ntsmaps-s-$id
tmp=$(mktemp -d /tmp/nts-maps.XXXXXX)
pin=/sys/fs/bpf/nts-maps-$id
ctl=$tmp/ntsd.sock
n=0 failed=0 ntsd_pid=

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; failed=1; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
in_ns() { nsenter --net=/var/run/netns/"$S" "$@"; }
ntsctl() { in_ns "$B/ntsctl" --pin-dir "$pin" --ctl-socket "$ctl" "$@"; }
cleanup() {
	[ -n "$ntsd_pid" ] && kill -9 "$ntsd_pid" 2>/dev/null
	[ -e /var/run/netns/"$S" ] && ntsctl detach m0 >/dev/null 2>&1
	ip netns del "$S" 2>/dev/null
	rm -rf "$pin"; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip_all "needs root"
[ -x "$B/ntsd" ] && [ -x "$B/ntsctl" ] || skip_all "build ntsd and ntsctl first"

setup() {
	set -e
	ip netns add "$S"
	ip -n "$S" link set lo up
	ip -n "$S" link add m0 type veth peer name m1
	ip -n "$S" addr add 198.18.0.1/24 dev m0
	ip -n "$S" addr add 2001:db8::1/64 dev m0 nodad
	ip -n "$S" link set m0 up
	ip -n "$S" link set m1 up
	set +e
}

# An earlier ntsd's (generation 1) channel and permission for peer on relay :50000.
# Prints the bpftool arguments for one map: peer|perm, then key only with "key".
entry() {
	$PY - "$@" <<'PYEOF'
import ipaddress, struct, sys, time
def ip16(s):
    a = ipaddress.ip_address(s)
    return (b"\0" * 10 + b"\xff\xff" + a.packed) if a.version == 4 else a.packed
kind, relay, peer = sys.argv[1:4]
exp = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + 3600 * 10**9
kid = 1 << 40 | 1
if kind == "peer":
    key = ip16(relay) + ip16(peer) + struct.pack("<HH", 50000, 40000)
    val = ip16(peer) + ip16(relay) + struct.pack("<HHHHQQ", 40001, 3478, 0x4000, 0, exp, kid) + bytes(32)
else:
    key = ip16(relay) + ip16(peer) + struct.pack("<HH", 50000, 0)
    val = struct.pack("<QQ", exp, kid)
hx = lambda b: " ".join("%02x" % x for x in b)
print("key hex " + hx(key) + ("" if len(sys.argv) > 4 else " value hex " + hx(val)))
PYEOF
}
put() { bpftool map update pinned "$pin/nts_fp_$1" $(entry "$@"); }
has() { bpftool map lookup pinned "$pin/nts_fp_$1" $(entry "$@" key) >/dev/null 2>&1; }
count() { bpftool -j map dump pinned "$pin/nts_fp_$1" | $PY -c "import json,sys; print(len(json.load(sys.stdin)))"; }

start_ntsd() {
	nsenter --net=/var/run/netns/"$S" "$B/ntsd" --listen 198.18.0.1:3478 --listen '[2001:db8::1]:3478' \
		--user fp:fp-secret --realm nts --relay-ports 51000-51999 --ctl-socket "$ctl" --pin-dir "$pin" \
		--db "$tmp/nts.db" --no-api --verbose \
		--allow-peer 198.18.1.0/24 --allow-peer 2001:db8:1::/48 \
		--deny-peer 198.18.2.0/24 --deny-peer 2001:db8:2::/48 >>"$tmp/ntsd.log" 2>&1 &
	ntsd_pid=$!
	for _ in $(seq 1 100); do
		ntsctl status 2>/dev/null | grep -q '^ntsd: running' && return 0
		sleep 0.1
	done
	return 1
}

setup || { echo "not ok 1 - set up the namespace"; exit 1; }
check "ntsctl attach m0 --mode skb pins the maps" ntsctl attach m0 --mode skb
for p in "198.18.0.1 198.18.1.2" "198.18.0.1 198.18.2.2" "2001:db8::1 2001:db8:1::2" "2001:db8::1 2001:db8:2::2"; do
	put peer $p && put perm $p || not_ok "write an earlier ntsd's entries for $p"
done
check "ntsd starts and adopts the maps" start_ntsd
check "IPv4: the refused peer's channel and permission are gone" \
	eval '! has peer 198.18.0.1 198.18.2.2 && ! has perm 198.18.0.1 198.18.2.2'
check "IPv4: the allowed peer's channel and permission stay" \
	eval 'has peer 198.18.0.1 198.18.1.2 && has perm 198.18.0.1 198.18.1.2'
check "IPv6: the refused peer's channel and permission are gone" \
	eval '! has peer 2001:db8::1 2001:db8:2::2 && ! has perm 2001:db8::1 2001:db8:2::2'
check "IPv6: the allowed peer's channel and permission stay" \
	eval 'has peer 2001:db8::1 2001:db8:1::2 && has perm 2001:db8::1 2001:db8:1::2'
grep -o 'removed [0-9]* entries of an earlier ntsd[^;]*' "$tmp/ntsd.log" | sed 's/^/# ntsd: /'

check "ntsctl fastpath --help describes flush" eval 'ntsctl fastpath --help | grep -q "ntsctl fastpath flush"'
check "ntsctl fastpath flush reports the entries it removed" \
	eval 'ntsctl fastpath flush | grep -q "^removed 4 entries"'
for m in client peer perm relay; do
	check "after the flush the $m map is empty" test "$(count $m)" -eq 0
done
echo "1..$n"
exit $failed
