#!/usr/bin/env bash
# nts-test: exclusive
# Upgrading without dropping calls with the XDP fast path attached (README): a ChannelData flow at
# 1000 packets per second, relayed by the kernel, runs across `ntsctl upgrade`. The new ntsd adopts
# the pinned maps under the same generation (no entry flushed, none left foreign), the kernel keeps
# relaying throughout: at most 0.1 % lost, the same relayed address, Refresh and a new ChannelBind
# answered, the allocation listed with the kernel's counters folded in. Prints TAP; cleans up its
# namespaces, daemons and pins. Client ns (198.18.0.2) <-> ntsd ns (XDP on both veths) <-> peer ns
# (coturn's turnutils_peer echoing on 198.19.0.2 and .3), as in tests/netns/fastpath.sh.
set -u
B=${NTS_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
TOP=${NTS_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
id=$$
C=ntsup-c-$id S=ntsup-s-$id P=ntsup-p-$id
tmp=$(mktemp -d /tmp/nts-upgrade-fp.XXXXXX)
pin=/sys/fs/bpf/nts-test-up-$id
ctl=$tmp/ntsd.sock
n=0 failed=0 ntsd_pid= flow_pid= peer_pid=

. "$(dirname "$0")/lib.bash"
ntsctl() { in_ns "$S" "$B/ntsctl" --pin-dir "$pin" --ctl-socket "$ctl" "$@"; }

cleanup() {
	[ -n "$ntsd_pid" ] && kill -9 "$ntsd_pid" 2>/dev/null
	[ -n "$flow_pid" ] && kill -9 "$flow_pid" 2>/dev/null
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
for tool in turnutils_peer bpftool ethtool nsenter jq; do
	command -v "$tool" >/dev/null || { echo "not ok 1 - $tool is installed (tools/deps.sh)"; exit 1; }
done
[ -x "$B/ntsd" ] && [ -x "$B/ntsctl" ] || { echo "not ok 1 - $B/ntsd and ntsctl are built"; exit 1; }

netns_relay_setup 198.19.0.3 || { echo "not ok 1 - set up namespaces"; exit 1; }
nsenter --net=/var/run/netns/"$P" turnutils_peer -L 198.19.0.2 -L 198.19.0.3 -p 3480 \
	>"$tmp/peer.log" 2>&1 &
peer_pid=$!
# nsenter execs (no fork for --net), so $! is ntsd itself.
nsenter --net=/var/run/netns/"$S" "$B/ntsd" --listen 198.18.0.1:3478 --user fp:fp-secret \
	--relay-ports 50000-50999 --ctl-socket "$ctl" --pin-dir "$pin" --db "$tmp/nts.db" --no-api \
	--allow-peer 198.18.0.0/15 >"$tmp/ntsd.log" 2>&1 &
ntsd_pid=$!
started() {
	for _ in $(seq 1 100); do
		ntsctl status 2>/dev/null | grep -q '^ntsd: running' && return 0
		sleep 0.1
	done
	return 1
}
check "ntsd starts" started
attach_adopted() {
	ntsctl attach sc0 --mode native | grep -q 'ntsd adopted' &&
		ntsctl attach sp0 --mode native >/dev/null
}
check "ntsctl attach sc0 sp0 (native): the running ntsd adopts the maps" attach_adopted

kstat() { ntsctl stats --json 2>/dev/null | jq -r '.c2p_packets + .p2c_packets' 2>/dev/null || echo 0; }
ustat() { ntsctl status --json 2>/dev/null | jq -r '.ntsd.stats.user_c2p_packets + .ntsd.stats.user_p2c_packets' 2>/dev/null || echo 0; }
fpstat() { ntsctl status --json 2>/dev/null | jq -r ".ntsd.fastpath.$1" 2>/dev/null; }

k0=$(kstat) u0=$(ustat)
in_ns "$C" $PY "$TOP/tests/interop/turn_flow.py" session 198.18.0.1 3478 fp fp-secret \
	198.19.0.2:3480,198.19.0.3:3480 "$tmp/stop" 1000 >"$tmp/flow.out" 2>&1 &
flow_pid=$!
flowing() {
	for _ in $(seq 1 100); do grep -q flowing "$tmp/flow.out" && return 0; sleep 0.1; done
	return 1
}
check "ChannelData flows at 1000/s" flowing
gen=$(fpstat generation)
old=$ntsd_pid
if out=$(ntsctl upgrade --json 2>&1) && new=$(echo "$out" | jq -er .pid) && [ "$new" != "$old" ]; then
	ok "ntsctl upgrade hands over to a new process (pid $new)"
else
	not_ok "ntsctl upgrade hands over to a new process"
	echo "# $out"
	new=
fi
touch "$tmp/stop"
wait "$old"
rc=$?
ntsd_pid=$new
check "the old ntsd exits with status 0 (status $rc)" test "$rc" -eq 0
wait "$flow_pid"
flow_pid=
res=$(tail -n 1 "$tmp/flow.out")
relay=$(sed -n 's/^relay //p' "$tmp/flow.out")
k1=$(kstat) u1=$(ustat)
kd=$((k1 - k0)) ud=$((u1 - u0))
echo "# kernel relayed $kd, userspace $ud packets (userspace counts restart with the new ntsd)"
echo "# longest gap a client saw: $(echo "$res" | jq -r .max_gap_ms 2>/dev/null) ms"
lossless() { echo "$res" | jq -e '.sent > 1000 and .received >= .sent * 0.999' >/dev/null 2>&1; }
check "at most 0.1 % lost across the upgrade ($(echo "$res" | jq -r '"\(.received) of \(.sent)"' 2>/dev/null))" lossless
sent=$(echo "$res" | jq -r .sent 2>/dev/null)
check "the kernel relayed the flow (>= 99 % of $((sent * 2)) packets: $kd)" \
	test "$kd" -ge $((sent * 2 * 99 / 100))
check "the new ntsd continues the generation ($gen)" test "$(fpstat generation)" = "$gen"
check "no entry of the old ntsd is left foreign (adopted, not flushed)" \
	test "$(fpstat foreign_entries)" = 0
answered() { echo "$res" | jq -e '.refresh and .bind and .received2 >= .sent2 - 1 and .sent2 > 0' >/dev/null 2>&1; }
check "Refresh and a new ChannelBind on the upgraded process succeed" answered
listed() {
	for _ in $(seq 1 30); do # the kernel's counters are folded every second
		ntsctl allocations --json >"$tmp/allocs.json" 2>/dev/null &&
			jq -e --arg r "$relay" --argjson f "$res" \
				'[.allocations[] | select(.relay | index($r))] | length == 1 and
				 .[0].c2p_packets <= $f.sent + $f.sent2 and
				 .[0].p2c_packets <= .[0].c2p_packets and
				 .[0].p2c_packets >= $f.received + $f.received2' \
				"$tmp/allocs.json" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}
check "ntsctl allocations lists it: relay $relay, kernel counters folded and carried" listed
jq -c '.allocations[] | {relay, c2p_packets, p2c_packets}' "$tmp/allocs.json" | sed 's/^/# listed: /'
echo "# flow: $res"

# The new ntsd is not our child: stop it and read its log.
stopped() {
	kill -TERM "$ntsd_pid" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$ntsd_pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$ntsd_pid" 2>/dev/null && tail -n 1 "$tmp/ntsd.log" | grep -q stopped &&
		! grep -qE 'Sanitizer|runtime error' "$tmp/ntsd.log"
}
check "the upgraded ntsd stops cleanly on SIGTERM, no sanitizer report" stopped
ntsd_pid=
echo "1..$n"
[ "$failed" -eq 0 ]
