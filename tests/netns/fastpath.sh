#!/usr/bin/env bash
# The XDP fast path end to end: client ns <-> server ns (ntsd, XDP native on both veths) <-> peer ns.
# A real TURN client (coturn's turnutils_uclient, ChannelData) relays through ntsd to an echo peer
# (turnutils_peer): zero loss, >= 99% of ChannelData relayed by XDP; the same with XDP detached
# through userspace; and after SIGKILL of ntsd the bound channels keep flowing in the kernel.
# Namespaces are entered with nsenter --net (not `ip netns exec`, which remounts /sys and would hide
# the bpffs the pins live on). Prints TAP; cleans up its namespaces, daemons and pins.
set -u
B=${NTS_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
PY=/usr/bin/python3
id=$$
C=ntsfp-c-$id S=ntsfp-s-$id P=ntsfp-p-$id
tmp=$(mktemp -d /tmp/nts-fastpath.XXXXXX)
pin=/sys/fs/bpf/nts-test-$id
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
# Missing tools or binaries are failures (tools/deps.sh installs them; make test builds first).
for tool in turnutils_uclient turnutils_peer bpftool ethtool nsenter; do
	command -v "$tool" >/dev/null || { echo "not ok 1 - $tool is installed (tools/deps.sh)"; exit 1; }
done
[ -x "$B/ntsd" ] && [ -x "$B/ntsctl" ] || { echo "not ok 1 - $B/ntsd and ntsctl are built"; exit 1; }

# --- topology: 198.18.0.0/24 client side, 198.19.0.0/24 peer side (RFC 2544 benchmarking space)
setup() {
	set -e
	for ns in "$C" "$S" "$P"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
	ip link add cs0 netns "$C" type veth peer name sc0 netns "$S"
	ip link add ps0 netns "$P" type veth peer name sp0 netns "$S"
	ip -n "$C" addr add 198.18.0.2/24 dev cs0
	ip -n "$S" addr add 198.18.0.1/24 dev sc0
	ip -n "$S" addr add 198.19.0.1/24 dev sp0
	ip -n "$P" addr add 198.19.0.2/24 dev ps0
	# IPv6 from the benchmarking prefix 2001:2::/48 (RFC 5180), without duplicate detection delays.
	ip -n "$C" addr add 2001:2::2/64 dev cs0 nodad
	ip -n "$S" addr add 2001:2::1/64 dev sc0 nodad
	ip -n "$S" addr add 2001:2:0:1::1/64 dev sp0 nodad
	ip -n "$P" addr add 2001:2:0:1::2/64 dev ps0 nodad
	for d in "$C cs0" "$S sc0" "$S sp0" "$P ps0"; do
		set -- $d
		ip -n "$1" link set "$2" up
		# Frames sent by XDP_TX/redirect reach the other end only with GRO on (or XDP there);
		# checksums must be right without the senders' offload filling them in.
		in_ns "$1" ethtool -K "$2" gro on tx off >/dev/null
	done
	ip -n "$P" route add 198.18.0.0/24 via 198.19.0.1
	ip -n "$C" route add 198.19.0.0/24 via 198.18.0.1
	ip -n "$P" -6 route add 2001:2::/64 via 2001:2:0:1::1
	ip -n "$C" -6 route add 2001:2:0:1::/64 via 2001:2::1
	# bpf_fib_lookup answers only where forwarding is on
	in_ns "$S" sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1
	# Resolve both neighbours now: without them the first packets go to userspace (pass_fib).
	in_ns "$S" ping -c1 -W2 198.18.0.2 >/dev/null
	in_ns "$S" ping -c1 -W2 198.19.0.2 >/dev/null
	in_ns "$S" ping -6 -c1 -W2 2001:2::2 >/dev/null
	in_ns "$S" ping -6 -c1 -W2 2001:2:0:1::2 >/dev/null
	set +e
}

start_ntsd() {
	# nsenter execs (no fork for --net), so $! is ntsd itself and SIGKILL reaches it.
	nsenter --net=/var/run/netns/"$S" "$B/ntsd" --listen 198.18.0.1:3478 --listen '[2001:2::1]:3478' --user fp:fp-secret --realm nts \
		--relay-ports 50000-50999 --max-allocations-per-user 1000 --fastpath-channels 4096 --max-allocations 1024 --ctl-socket "$ctl" --pin-dir "$pin" --db "$tmp/nts.db" \
		--no-api --verbose --allow-peer 198.18.0.0/15 --allow-peer 2001:2::/48 >>"$tmp/ntsd.log" 2>&1 &
	ntsd_pid=$!
	for _ in $(seq 1 100); do
		ntsctl status 2>/dev/null | grep -q '^ntsd: running' && return 0
		sleep 0.1
	done
	return 1
}

# Kernel counters (ntsctl stats --json) and userspace relay counters (ntsd "status").
kstat() { ntsctl stats --json 2>/dev/null | $PY -c "import json,sys; d=json.load(sys.stdin); print(d['c2p_packets']+d['p2c_packets'])" 2>/dev/null || echo 0; }
ustat() { ntsctl status --json 2>/dev/null | $PY -c "import json,sys; s=json.load(sys.stdin)['ntsd']['stats']; print(s['user_c2p_packets']+s['user_p2c_packets'])" 2>/dev/null || echo 0; }

# Runs uclient: clients, messages each, interval ms. Saves its output as $tmp/uclient.$1.
uclient() {
	local tag=$1 clients=$2 msgs=$3 interval=$4 peer=198.19.0.2 server=198.18.0.1
	if [ "${5:-}" = 6 ]; then peer=2001:2:0:1::2 server=2001:2::1; fi
	in_ns "$C" timeout 60 turnutils_uclient -u fp -w fp-secret -e "$peer" -r 3480 -c \
		-m "$clients" -n "$msgs" -l 172 -z "$interval" "$server" >"$tmp/uclient.$tag" 2>&1
}
# uclient's own verdict: packets it sent came back (through the relay and the echo peer) intact.
uclient_lossless() {
	local f=$tmp/uclient.$1
	grep -q "Total lost packets 0 (0.000000%)" "$f" && ! grep -qiE "wrong|mismatch|error" "$f"
}
uclient_sent() { sed -n 's/.*Total send messages[^0-9]*\([0-9]*\).*/\1/p' "$tmp/uclient.$1" | tail -1; }

setup || { echo "not ok 1 - set up namespaces"; exit 1; }
nsenter --net=/var/run/netns/"$P" turnutils_peer -L 198.19.0.2 -L 2001:2:0:1::2 -p 3480 \
	>"$tmp/peer.log" 2>&1 &
peer_pid=$!
check "ntsd starts without pinned maps (userspace only)" start_ntsd
attach_adopted() { ntsctl attach sc0 --mode native | tee "$tmp/attach.out" | grep -q 'ntsd adopted'; }
check "ntsctl attach sc0 (native) loads the fast path and a running ntsd adopts it" attach_adopted
check "ntsctl attach sp0 (native) reuses the pinned maps" ntsctl attach sp0 --mode native
grep -o 'legacy single-program[^;]*\|libxdp multiprog dispatcher' "$tmp/attach.out" | sed 's/^/# attach mode: /'
sized_by_ntsd() { ntsctl status | grep -qE '^  map client +[0-9]+ / 4096 entries'; }
check "the maps are sized from ntsd's --fastpath-channels" sized_by_ntsd
bpftool_named() { bpftool map dump pinned "$pin/nts_fp_stats" | grep -q '"drop_no_permission"'; }
check "bpftool prints the counters with their field names (BTF)" bpftool_named
both_attached() { [ "$(ntsctl status | grep -cE '^  s[cp]0: native mode')" -eq 2 ]; }
check "ntsctl status shows both interfaces attached" both_attached

# --- 1. XDP relays the channels
k0=$(kstat) u0=$(ustat)
run_lossless() { uclient "$@" && uclient_lossless "$1"; }
check "uclient over channels with XDP: zero loss" run_lossless xdp 4 300 5
k1=$(kstat) u1=$(ustat)
kd=$((k1 - k0)) ud=$((u1 - u0))
echo "# XDP phase: kernel relayed $kd, userspace relayed $ud packets"
# ntsd's own counters (status, /metrics) pick the kernel's up within a tick (bounded wait).
kernel_in_ntsd_stats() {
	for _ in $(seq 1 40); do
		ntsctl status --json 2>/dev/null | $PY -c "import json,sys; s=json.load(sys.stdin)['ntsd']['stats']; sys.exit(0 if s['kernel_c2p_packets']+s['kernel_p2c_packets'] >= $k1 else 1)" && return 0
		sleep 0.1
	done
	return 1
}
check "ntsd's stats include the kernel's relayed packets" kernel_in_ntsd_stats
check ">= 99% of ChannelData relayed by XDP ($kd kernel, $ud userspace)" \
	test "$kd" -gt 0 -a $((kd * 100)) -ge $((99 * (kd + ud)))

# --- 1b. the same over IPv6 (client, relay and peer all IPv6)
k0=$(kstat) u0=$(ustat)
check "uclient over IPv6 channels with XDP: zero loss" run_lossless xdp6 2 300 5 6
k1=$(kstat) u1=$(ustat)
kd=$((k1 - k0)) ud=$((u1 - u0))
echo "# IPv6 XDP phase: kernel relayed $kd, userspace relayed $ud packets"
check ">= 99% of IPv6 ChannelData relayed by XDP ($kd kernel, $ud userspace)" \
	test "$kd" -gt 0 -a $((kd * 100)) -ge $((99 * (kd + ud)))

# --- 2. detached: userspace relays everything
ntsctl detach sc0 >/dev/null && ntsctl detach sp0 >/dev/null
none_attached() { ! ntsctl status | grep -q 'mode, program id'; }
check "ntsctl detach sc0 sp0" none_attached
k0=$(kstat) u0=$(ustat)
check "uclient over channels without XDP: zero loss" run_lossless user 4 300 5
k1=$(kstat) u1=$(ustat)
echo "# detached phase: kernel relayed $((k1 - k0)), userspace relayed $((u1 - u0)) packets"
check "without XDP the kernel relays nothing and userspace everything" \
	test $((k1 - k0)) -eq 0 -a $((u1 - u0)) -gt 0

# --- 3. SIGKILL of ntsd mid-run: bound channels keep flowing in the kernel
reattach() { ntsctl attach sc0 >/dev/null && ntsctl attach sp0 >/dev/null; }
check "re-attach sc0 and sp0" reattach
k0=$(kstat)
uclient kill 2 600 10 &
uc_pid=$!
# While it runs, ntsd folds the kernel's per-allocation counters (every second) into its
# allocations; then SIGKILL it (bounded waits).
alloc_kernel_pkts() {
	"$B/ntsctl" --ctl-socket "$ctl" allocations --json 2>/dev/null | $PY -c \
		"import json,sys; print(sum(a.get('c2p_packets',0)+a.get('p2c_packets',0) for a in json.load(sys.stdin)['allocations']))" 2>/dev/null || echo 0
}
folded=0
for _ in $(seq 1 100); do
	[ "$(kstat)" -gt $((k0 + 50)) ] && [ "$(alloc_kernel_pkts)" -gt 0 ] && folded=1 && break
	sleep 0.05
done
echo "# allocations counted $(alloc_kernel_pkts) packets; $(($(kstat) - k0)) in the kernel"
check "ntsd folds kernel-relayed packets into its allocations' counters" test "$folded" -eq 1
kill -9 "$ntsd_pid"
wait "$ntsd_pid" 2>/dev/null
ntsd_pid=
k_kill=$(kstat)
wait "$uc_pid"
k_end=$(kstat)
echo "# kill phase: kernel relayed $((k_kill - k0)) before SIGKILL, $((k_end - k_kill)) after"
check "after SIGKILL of ntsd the kernel kept relaying the bound channels" test $((k_end - k_kill)) -gt 100
check "uclient saw zero loss across the SIGKILL" uclient_lossless kill

# --- 4. a restarted ntsd adopts the pinned maps at start
check "ntsd restarts after the SIGKILL" start_ntsd
adopted_at_start() { ntsctl status | grep -q 'maps adopted'; }
check "restarted ntsd adopts the pinned maps" adopted_at_start
# The killed ntsd's entries carry its generation (alloc_id >> 40); the new one writes a higher one.
gens() { bpftool -j map dump pinned "$pin/nts_fp_$1" 2>/dev/null | $PY -c \
	"import json,sys; print(' '.join(sorted({str(e.get('formatted', e)['value']['alloc_id'] >> 40) for e in json.load(sys.stdin)})))"; }
old_gens=$(gens relay)
ntsd_gen() { ntsctl status --json 2>/dev/null | $PY -c "import json,sys; print(json.load(sys.stdin)['ntsd']['fastpath']['generation'])" 2>/dev/null; }
gen=$(ntsd_gen)
# The run's allocations are live only while uclient runs (it releases them at the end): look for
# their entries meanwhile (bounded), in the relay and the client map.
k0=$(kstat) u0=$(ustat)
uclient after 2 300 5 &
uc_pid=$!
new_gen_seen=0
for _ in $(seq 1 100); do
	grep -qw "${gen:-x}" <<<"$(gens relay)" && grep -qw "${gen:-x}" <<<"$(gens client)" &&
		new_gen_seen=1 && break
	kill -0 "$uc_pid" 2>/dev/null || break
	sleep 0.05
done
wait "$uc_pid"
uc_rc=$?
check "uclient over channels through the restarted ntsd: zero loss" \
	eval '[ "$uc_rc" -eq 0 ] && uclient_lossless after'
k1=$(kstat) u1=$(ustat)
kd=$((k1 - k0)) ud=$((u1 - u0))
echo "# after restart: kernel relayed $kd, userspace relayed $ud; generations before: $old_gens, ntsd's now: $gen"
check ">= 99% relayed by XDP after the restart ($kd kernel, $ud userspace)" \
	test "$kd" -gt 0 -a $((kd * 100)) -ge $((99 * (kd + ud)))
# Its generation is above every one the killed ntsd left, and the relay and client maps held
# entries written under it while the run above relayed.
new_gen() {
	[ -n "$old_gens" ] && [ -n "$gen" ] &&
		[ "$gen" -gt "$(echo $old_gens | tr ' ' '\n' | sort -n | tail -1)" ] &&
		[ "$new_gen_seen" -eq 1 ]
}
check "the restarted ntsd writes its entries under a new generation ($gen, seen in the maps: $new_gen_seen)" new_gen

# --- 5. floods from a peer without permission die in the kernel; other traffic is never dropped
relay_port=$(bpftool -j map dump pinned "$pin/nts_fp_relay" 2>/dev/null | $PY -c \
	"import json,sys; e=json.load(sys.stdin)[0]; print(e.get('formatted', e)['key']['relay_port'])" 2>/dev/null)
ip -n "$P" addr add 198.19.0.3/24 dev ps0
send_udp() { # from, to, port, count
	in_ns "$P" $PY -c "import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('$1',0))
for i in range($4): s.sendto(b'x'*64, ('$2',$3))"
}
stat_of() { ntsctl stats --json | $PY -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
if [ -n "$relay_port" ]; then
	d0=$(stat_of drop_no_permission) m0=$(stat_of pass_no_match)
	send_udp 198.19.0.3 198.18.0.1 "$relay_port" 200
	send_udp 198.19.0.3 198.18.0.1 40000 50
	# Wait (bounded) until the counters show every datagram, then compare exactly.
	for _ in $(seq 1 50); do
		d1=$(stat_of drop_no_permission) m1=$(stat_of pass_no_match)
		[ $((d1 - d0)) -ge 200 ] && [ $((m1 - m0)) -ge 50 ] && break
		sleep 0.05
	done
	echo "# flood: dropped $((d1 - d0)) at relay port $relay_port, passed $((m1 - m0)) elsewhere"
	check "a peer without permission is dropped in the kernel at a relay port" test $((d1 - d0)) -eq 200
	check "UDP to a port that is no relay is passed, not dropped" test $((m1 - m0)) -ge 50
else
	not_ok "a relay address is in the relay map"
fi

# --- 6. the restarted ntsd stops cleanly: SIGTERM, status 0, no sanitizer report in either run's log
check_ntsd_stops_clean

echo "1..$n"
if [ "$failed" -ne 0 ]; then
	echo "# fast-path counters:"; ntsctl stats 2>/dev/null | grep -v ' 0$' | sed 's/^/#   /'
	echo "# ntsd log:"; grep -v 'allocation [0-9]* for' "$tmp/ntsd.log" | tail -20 | sed 's/^/#   /'
	for f in "$tmp"/uclient.*; do echo "# $f:"; grep -E 'error|lost' "$f" | tail -5 | sed 's/^/#   /'; done
fi
exit "$failed"
