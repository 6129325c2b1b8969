#!/usr/bin/env bash
# Usage of kernel-relayed traffic is counted exactly once across an ntsd that is SIGKILLed and
# restarted: client ns <-> server ns (ntsd, XDP native on both veths) <-> peer ns (turnutils_peer
# echoes). A TURN client binds a channel under an account's ephemeral credential and sends
# datagrams the kernel relays both ways: some before the kill, some while no ntsd runs (the
# kernel keeps relaying the bound channel), some after the restart. The restarted ntsd adds what
# the kernel counted since the marks the killed one wrote with its last flush
# (docs/architecture.md, "Usage"), so the account's usage equals every echoed byte, each way.
# Then a second client allocates from the restarted ntsd and its traffic flows through the kernel
# during `ntsctl upgrade`: the new ntsd continues from the folds the old one handed over, so those
# bytes are counted exactly once too.
# Namespaces are entered with nsenter --net (see tests/netns/fastpath.sh). Prints TAP; cleans up
# its namespaces, daemons and pins.
set -u
B=${NTS_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
TOP=${NTS_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
id=$$
C=ntsus-c-$id S=ntsus-s-$id P=ntsus-p-$id
tmp=$(mktemp -d /tmp/nts-usage-fp.XXXXXX)
pin=/sys/fs/bpf/nts-test-us-$id
ctl=$tmp/ntsd.sock
SECRET=usage-fp-secret
# Datagrams of each phase: before the kill, meanwhile, after the restart; the second client's
# before and during the upgrade.
SIZE=200 N1=300 N2=200 N3=100 N4=100 N5=300
n=0 failed=0 ntsd_pid= peer_pid= client_pid=

. "$(dirname "$0")/lib.bash"
ntsctl() { in_ns "$S" "$B/ntsctl" --pin-dir "$pin" --ctl-socket "$ctl" --db "$tmp/nts.db" "$@"; }

cleanup() {
	[ -n "$client_pid" ] && kill -9 "$client_pid" 2>/dev/null
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
for tool in turnutils_peer ethtool nsenter; do
	command -v "$tool" >/dev/null || { echo "not ok 1 - $tool is installed (tools/deps.sh)"; echo "1..1"; exit 1; }
done
[ -x "$B/ntsd" ] && [ -x "$B/ntsctl" ] || { echo "not ok 1 - $B/ntsd and ntsctl are built"; echo "1..1"; exit 1; }

# --- topology: 198.18.0.0/24 client side, 198.19.0.0/24 peer side (RFC 2544 benchmarking space)
start_ntsd() {
	nsenter --net=/var/run/netns/"$S" "$B/ntsd" --listen 198.18.0.1:3478 --secret "$SECRET" \
		--realm nts --relay-ports 50000-50999 --fastpath-channels 4096 --max-allocations 1024 \
		--allow-peer 198.18.0.0/15 \
		--ctl-socket "$ctl" --pin-dir "$pin" --db "$tmp/nts.db" --no-api --verbose \
		>>"$tmp/ntsd.log" 2>&1 &
	ntsd_pid=$!
	for _ in $(seq 1 100); do
		ntsctl status 2>/dev/null | grep -q '^ntsd: running' && return 0
		sleep 0.1
	done
	return 1
}

kpkts() { ntsctl stats --json 2>/dev/null | $PY -c "import json,sys; d=json.load(sys.stdin); print(d['c2p_packets']+d['p2c_packets'])" 2>/dev/null || echo 0; }
# usage FIELD: the account's all-time figure from ntsctl usage --json (ntsd writes first).
usage() {
	ntsctl usage --account "$sid" --json | $PY -c '
import json, sys
print(sum(int(r[sys.argv[1]]) for r in json.load(sys.stdin)["usage"]))' "$1"
}
# phase_done N: the client printed phase N's line (at most 60 s).
phase_done() {
	for _ in $(seq 1 600); do
		grep -q "^phase $1 " "$tmp/client.out" && return 0
		kill -0 "$client_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
echoed() { sed -n "s/^phase $1 echoed=\([0-9]*\)$/\1/p" "$tmp/client.out"; }

netns_relay_setup || { echo "not ok 1 - set up namespaces"; echo "1..1"; exit 1; }
nsenter --net=/var/run/netns/"$P" turnutils_peer -L 198.19.0.2 -p 3480 >"$tmp/peer.log" 2>&1 &
peer_pid=$!
check "ntsd starts" start_ntsd
check "ntsctl attach sc0 and sp0 (native)" \
	eval 'ntsctl attach sc0 --mode native >/dev/null && ntsctl attach sp0 --mode native >/dev/null'
sid=$(ntsctl account create "kernel usage" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["sid"])')
check "an account exists ($sid)" [ "${#sid}" = 34 ]
read -r user pass < <(ntsctl token create --account "$sid" --ttl 3600 --json |
	$PY -c 'import json,sys; t=json.load(sys.stdin); print(t["username"], t["password"])')

k0=$(kpkts)
in_ns "$C" "$PY" "$TOP/tests/api/usage.py" echo 198.18.0.1 3478 "$user" "$pass" 198.19.0.2 3480 \
	"$SIZE" "$N1" "$tmp/go2" "$N2" "$tmp/go3" "$N3" >"$tmp/client.out" 2>&1 &
client_pid=$!
check "phase 1: every datagram comes back ($(phase_done 1; echoed 1)/$N1)" [ "$(echoed 1)" = "$N1" ]
k1=$(kpkts)
check "the kernel relayed them ($((k1 - k0)) of $((2 * N1)) packets)" [ $((k1 - k0)) -ge $((2 * N1 - 4)) ]
# Some of phase 1 is flushed (with its kernel marks), then ntsd dies without writing the rest.
sleep 1.2 # one 1 s fold at least, so the flush below carries kernel bytes
flushed=$(usage bytes_to_peer)
check "before the kill ntsd has written some of the kernel's bytes ($flushed)" [ "$flushed" -gt 0 ]
kill -9 "$ntsd_pid"
wait "$ntsd_pid" 2>/dev/null
ntsd_pid=
touch "$tmp/go2"
check "phase 2, no ntsd: the kernel keeps relaying the bound channel ($(phase_done 2; echoed 2)/$N2)" \
	[ "$(echoed 2)" = "$N2" ]
check "ntsd starts again and adopts the pinned maps" start_ntsd
grep -q "kernel counters of an earlier ntsd still count" "$tmp/ntsd.log" &&
	echo "# $(grep "kernel counters of an earlier ntsd" "$tmp/ntsd.log" | tail -1)"
touch "$tmp/go3"
check "phase 3, after the restart: relayed as well ($(phase_done 3; echoed 3)/$N3)" \
	[ "$(echoed 3)" = "$N3" ]
sleep 1.2 # the restarted ntsd folds the earlier ntsd's counters every second
want=$(((N1 + N2 + N3) * SIZE))
got_p=$(usage bytes_to_peer)
got_c=$(usage bytes_to_client)
check "bytes to the peer counted exactly once: $got_p = $want" [ "$got_p" = "$want" ]
check "bytes to the client counted exactly once: $got_c = $want" [ "$got_c" = "$want" ]
sleep 1.2
check "and not again at later folds ($(usage bytes_to_peer))" [ "$(usage bytes_to_peer)" = "$want" ]

kill -9 "$client_pid" 2>/dev/null
wait "$client_pid" 2>/dev/null
mv "$tmp/client.out" "$tmp/client1.out"

# A second client's allocation, the restarted ntsd's own: its second phase flows through the
# kernel while ntsd upgrades (README, "Upgrading without dropping calls"), after the old ntsd's
# last fold and before the new one adopts the maps, where a byte could be lost or counted twice.
# The new binary is started through a wrapper that lets it flow then.
in_ns "$C" "$PY" "$TOP/tests/api/usage.py" echo 198.18.0.1 3478 "$user" "$pass" 198.19.0.2 3480 \
	"$SIZE" "$N4" "$tmp/go5" "$N5" >"$tmp/client.out" 2>&1 &
client_pid=$!
check "a second client: every datagram comes back ($(phase_done 1; echoed 1)/$N4)" [ "$(echoed 1)" = "$N4" ]
sleep 1.2 # folded at least once by the restarted ntsd
printf '#!/bin/sh\ntouch "%s/go5"\nsleep 1\nexec "%s/ntsd" "$@"\n' "$tmp" "$B" >"$tmp/ntsd-slow"
chmod +x "$tmp/ntsd-slow"
old=$ntsd_pid
new=$(ntsctl upgrade --binary "$tmp/ntsd-slow" --json 2>>"$tmp/ntsd.log" |
	$PY -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null)
wait "$old"
rc=$?
if [ -n "$new" ] && [ "$rc" -eq 0 ]; then ntsd_pid=$new; fi
check "ntsctl upgrade hands over to a new ntsd (pid $new)" [ "$ntsd_pid" = "$new" ]
check "meanwhile the kernel relayed the second client's ($(phase_done 2; echoed 2)/$N5)" \
	[ "$(echoed 2)" = "$N5" ]
sleep 1.2 # a fold of the new ntsd
want=$(((N1 + N2 + N3 + N4 + N5) * SIZE))
got_p=$(usage bytes_to_peer)
got_c=$(usage bytes_to_client)
check "across the upgrade, bytes to the peer counted exactly once: $got_p = $want" [ "$got_p" = "$want" ]
check "across the upgrade, bytes to the client counted exactly once: $got_c = $want" [ "$got_c" = "$want" ]
kill -9 "$client_pid" 2>/dev/null
wait "$client_pid" 2>/dev/null
client_pid=
# The upgraded ntsd is not our child: stop it and read its log.
kill -TERM "$ntsd_pid" 2>/dev/null
for _ in $(seq 1 100); do kill -0 "$ntsd_pid" 2>/dev/null || break; sleep 0.1; done
if ! kill -0 "$ntsd_pid" 2>/dev/null && tail -n 1 "$tmp/ntsd.log" | grep -q stopped &&
	! grep -qE 'Sanitizer|runtime error' "$tmp/ntsd.log"; then
	ntsd_pid=
	ok "the upgraded ntsd exits cleanly on SIGTERM, no sanitizer report"
else
	not_ok "the upgraded ntsd exits cleanly on SIGTERM, no sanitizer report"
	grep -A30 -E 'Sanitizer|runtime error' "$tmp/ntsd.log" | head -60 | sed 's/^/#   /'
fi
echo "1..$n"
exit "$failed"
