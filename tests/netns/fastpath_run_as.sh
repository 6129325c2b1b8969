#!/usr/bin/env bash
# The XDP fast path with ntsd running as nobody (--run-as): the maps are pinned (ntsctl attach)
# before ntsd starts, so ntsd adopts them and keeps CAP_BPF alone; channels bound after the switch
# must reach the pinned maps and be relayed by XDP. Topology as in tests/netns/fastpath.sh (client
# ns <-> server ns <-> peer ns, RFC 2544 addresses), IPv4 only. Prints TAP; cleans up.
set -u
B=${NTS_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
PY=/usr/bin/python3
id=$$
C=ntsra-c-$id S=ntsra-s-$id P=ntsra-p-$id
tmp=$(mktemp -d /tmp/nts-fp-runas.XXXXXX)
pin=/sys/fs/bpf/nts-runas-$id
ctl=$tmp/ntsd.sock
n=0 failed=0 ntsd_pid= peer_pid=

. "$(dirname "$0")/lib.bash"
ntsctl() { in_ns "$S" "$B/ntsctl" --pin-dir "$pin" --ctl-socket "$ctl" "$@"; }

cleanup() {
	[ -n "$ntsd_pid" ] && kill -9 "$ntsd_pid" 2>/dev/null
	[ -n "$peer_pid" ] && kill -9 "$peer_pid" 2>/dev/null
	if [ -e /var/run/netns/"$S" ]; then
		ntsctl detach sc0 >/dev/null 2>&1
		ntsctl detach sp0 >/dev/null 2>&1
	fi
	for ns in "$C" "$S" "$P"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$pin"; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
command -v turnutils_uclient >/dev/null || skip_all "turnutils_uclient (coturn) missing"
[ -x "$B/ntsd" ] && [ -x "$B/ntsctl" ] || skip_all "build ntsd and ntsctl first"

kstat() { ntsctl stats --json 2>/dev/null | $PY -c "import json,sys; d=json.load(sys.stdin); print(d['c2p_packets']+d['p2c_packets'])" 2>/dev/null || echo 0; }
ustat() { ntsctl status --json 2>/dev/null | $PY -c "import json,sys; s=json.load(sys.stdin)['ntsd']['stats']; print(s['user_c2p_packets']+s['user_p2c_packets'])" 2>/dev/null || echo 0; }
status_field() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$ntsd_pid/status"; }

netns_relay_setup || { echo "not ok 1 - set up namespaces"; exit 1; }
nsenter --net=/var/run/netns/"$P" turnutils_peer -L 198.19.0.2 -p 3480 >"$tmp/peer.log" 2>&1 &
peer_pid=$!

# Pin the maps first: an ntsd running as nobody cannot open root's pins later.
attach() {
	ntsctl attach sc0 --mode native --channels 4096 --allocations 1024 >"$tmp/attach.out" 2>&1 &&
		ntsctl attach sp0 --mode native >>"$tmp/attach.out" 2>&1
}
check "ntsctl attach sc0 and sp0 pin the maps before ntsd starts" attach

nsenter --net=/var/run/netns/"$S" "$B/ntsd" --listen 198.18.0.1:3478 --user fp:fp-secret \
	--relay-ports 50000-50999 --max-allocations-per-user 1000 --fastpath-channels 4096 \
	--max-allocations 1024 --ctl-socket "$ctl" --pin-dir "$pin" --db "$tmp/nts.db" --no-api \
	--allow-peer 198.19.0.0/24 --run-as nobody --verbose >"$tmp/ntsd.log" 2>&1 &
ntsd_pid=$!
up() {
	for _ in $(seq 1 100); do
		ntsctl status 2>/dev/null | grep -q '^ntsd: running' && return 0
		sleep 0.1
	done
	return 1
}
check "ntsd --run-as nobody starts and adopts the pinned maps" up
check "the log says so, with CAP_BPF kept" \
	grep -q "running as nobody .*capabilities kept: cap_bpf;" "$tmp/ntsd.log"
check "ntsd adopted the maps (ntsctl status)" bash -c "'$B/ntsctl' --pin-dir '$pin' --ctl-socket '$ctl' status | grep -q 'maps adopted, channels mirrored'"
cap_bpf_only() {
	local want f
	want=$(printf '%016x' $((1 << 39)))
	for f in CapEff CapPrm CapBnd; do
		[ "$(status_field $f)" = "$want" ] || { echo "# $f $(status_field $f), want $want"; return 1; }
	done
	[ "$(status_field Uid | awk '{print $2}')" = "$(id -u nobody)" ] && [ "$(status_field NoNewPrivs)" = 1 ]
}
check "uid nobody, CapEff = CapPrm = CapBnd = CAP_BPF alone, NoNewPrivs" cap_bpf_only

# Channels bound now (after the switch) must be written to the maps and relayed by XDP.
ntsd_gen() { ntsctl status --json 2>/dev/null | $PY -c "import json,sys; print(json.load(sys.stdin)['ntsd']['fastpath']['generation'])" 2>/dev/null; }
channels_of_ntsd() { # entries of the channel map written under this ntsd's generation
	bpftool -j map dump pinned "$pin/nts_fp_client" 2>/dev/null | $PY -c "
import json,sys
g=int(sys.argv[1]); print(sum(1 for e in json.load(sys.stdin) if e.get('formatted', e)['value']['alloc_id'] >> 40 == g))" "$(ntsd_gen)" 2>/dev/null || echo 0
}
gen=$(ntsd_gen)
k0=$(kstat) u0=$(ustat)
in_ns "$C" timeout 60 turnutils_uclient -u fp -w fp-secret -e 198.19.0.2 -r 3480 -c -m 2 -n 300 \
	-l 172 -z 5 198.18.0.1 >"$tmp/uclient.log" 2>&1 &
uc_pid=$!
# While the clients run: their channels (one per client) appear in the pinned map (bounded wait).
seen=0
for _ in $(seq 1 100); do
	seen=$(channels_of_ntsd)
	[ "$seen" -ge 2 ] && break
	sleep 0.05
done
check "channels bound after the switch are in the pinned channel map ($seen, generation $gen)" \
	test "$seen" -ge 2
wait "$uc_pid"
check "uclient over channels: zero loss" grep -q "Total lost packets 0 (0.000000%)" "$tmp/uclient.log"
k1=$(kstat) u1=$(ustat)
kd=$((k1 - k0)) ud=$((u1 - u0))
echo "# kernel relayed $kd, userspace relayed $ud packets"
check ">= 99% of ChannelData relayed by XDP ($kd kernel, $ud userspace)" \
	test "$kd" -gt 0 -a $((kd * 100)) -ge $((99 * (kd + ud)))
check_ntsd_stops_clean

echo "1..$n"
if [ "$failed" -ne 0 ]; then
	echo "# ntsd log:"; grep -v 'allocation [0-9]* for' "$tmp/ntsd.log" | tail -20 | sed 's/^/#   /'
	echo "# attach:"; sed 's/^/#   /' "$tmp/attach.out"
	tail -5 "$tmp/uclient.log" | sed 's/^/#   /'
fi
exit "$failed"
