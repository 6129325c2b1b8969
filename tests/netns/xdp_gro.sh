#!/usr/bin/env bash
# nts-test: exclusive (measures timing or loads both cores; runs alone, after the others)
# Generic (skb) XDP and merged peer datagrams: generic XDP runs on the skb after GRO, and a GSO send
# from a local peer (UDP_SEGMENT) reaches it as one skb as well. With UDP_GRO on the relay socket,
# the socket reads such an skb as one buffer; the program sees one datagram where the peer sent
# several. None may ever be relayed as one ChannelData message: an instance attached in skb mode
# leaves peer datagrams on channels to userspace (pass_generic), where the socket layer splits them
# for a socket without UDP_GRO. The burst of separate sends shows whether GRO itself merged (the
# poll thread shares a CPU with the real-time sender; informational, as timing decides).
# Peer and server namespaces joined by a veth pair; prints TAP; cleans up after itself.
set -u
B=${NTS_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
PY=/usr/bin/python3
id=$$
S=ntsgro-s-$id P=ntsgro-p-$id
SD=gs$id PD=gp$id # interface names (the NAPI thread is napi/$SD-N)
tmp=$(mktemp -d /tmp/nts-gro.XXXXXX)
pin=/sys/fs/bpf/nts-gro-$id
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; failed=1; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
in_ns() { local ns=$1; shift; nsenter --net=/var/run/netns/"$ns" "$@"; }
ntsctl() { in_ns "$S" "$B/ntsctl" --pin-dir "$pin" --ctl-socket "$tmp/none.sock" "$@"; }
cleanup() {
	[ -e /var/run/netns/"$S" ] && ntsctl detach "$SD" >/dev/null 2>&1
	for ns in "$S" "$P"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$pin"; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip_all "needs root"
[ -x "$B/ntsctl" ] || skip_all "build ntsctl first"

setup() {
	set -e
	for ns in "$S" "$P"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
	ip link add "$SD" netns "$S" type veth peer name "$PD" netns "$P"
	ip -n "$S" addr add 198.18.0.1/24 dev "$SD"
	ip -n "$P" addr add 198.18.0.2/24 dev "$PD"
	ip -n "$S" addr add 2001:db8::1/64 dev "$SD" nodad
	ip -n "$P" addr add 2001:db8::2/64 dev "$PD" nodad
	ip -n "$S" link set "$SD" up
	ip -n "$P" link set "$PD" up
	# GRO on the receiving veth gives it a NAPI context; threaded, so that a burst queues up
	# while the poll thread wakes and one poll sees (and GRO merges) several datagrams.
	in_ns "$S" ethtool -K "$SD" gro off >/dev/null
	in_ns "$S" ethtool -K "$SD" gro on >/dev/null
	ip netns exec "$S" sh -c "echo 1 > /sys/class/net/$SD/threaded"
	# The poll thread shares CPU 0 with the (real-time) sender, so it polls after the burst.
	napi=$(ps -eo pid,comm | awk -v c="napi/$SD-" 'index($2, c) == 1 {print $1}')
	for p in $napi; do taskset -pc 0 "$p" >/dev/null; done
	[ -n "$napi" ]
	in_ns "$S" sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1
	in_ns "$S" ping -c1 -W2 198.18.0.2 >/dev/null
	in_ns "$S" ping -6 -c1 -W2 2001:db8::2 >/dev/null
	set +e
}

# The peer entry ntsd would write for a channel: relay :50000 <- peer :40000, to the client
# (the peer namespace's :40001) via the server's :3478 on channel 0x4000.
peer_entry() {
	local relay=$1 peer=$2
	$PY - "$relay" "$peer" <<'PYEOF'
import ipaddress, struct, sys, time
def ip16(s):
    a = ipaddress.ip_address(s)
    return (b"\0" * 10 + b"\xff\xff" + a.packed) if a.version == 4 else a.packed
relay, peer = sys.argv[1], sys.argv[2]
key = ip16(relay) + ip16(peer) + struct.pack("<HH", 50000, 40000)
exp = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + 3600 * 10**9
val = ip16(peer) + ip16(relay) + struct.pack("<HHHHQQ", 40001, 3478, 0x4000, 0, exp, 1) + bytes(32)
print("key hex " + " ".join("%02x" % b for b in key) + " value hex " + " ".join("%02x" % b for b in val))
PYEOF
}

# Relay socket with UDP_GRO (the server side) and 128 datagrams of 100 bytes from the peer: a
# burst of 64, then 64 in 8 GSO sends.
# Prints "<datagrams the relay socket read> <largest gso_size seen, 0: none merged> <reads of the
# burst>".
burst() {
	local relay=$1 peer=$2
	in_ns "$S" $PY - "$relay" <<'PYEOF' >"$tmp/recv.out" &
import socket, struct, sys, select
relay = sys.argv[1]
fam = socket.AF_INET6 if ":" in relay else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 104, 1)  # UDP_GRO
s.bind((relay, 50000))
print("ready", flush=True)
reads = merged = burst_reads = total = 0
while select.select([s], [], [], 1.0)[0]:
    data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(4))
    reads += 1
    if total < 6400:
        burst_reads += 1
    total += len(data)
    for lvl, typ, d in anc:
        if lvl == socket.SOL_UDP and typ == 104:
            merged = max(merged, struct.unpack("i", d[:4])[0])
print(reads, merged, burst_reads, flush=True)
PYEOF
	local rpid=$!
	for _ in $(seq 1 50); do grep -q ready "$tmp/recv.out" 2>/dev/null && break; sleep 0.05; done
	in_ns "$P" chrt -f 10 taskset -c 0 $PY - "$relay" "$peer" <<'PYEOF'
import socket, sys
relay, peer = sys.argv[1], sys.argv[2]
fam = socket.AF_INET6 if ":" in relay else socket.AF_INET
c = socket.socket(fam, socket.SOCK_DGRAM)
c.bind((peer, 40001))
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((peer, 40000))
for i in range(64):
    s.sendto(bytes([i]) * 100, (relay, 50000))
# The same as GSO sends (UDP_SEGMENT): 8 datagrams of 100 bytes per call, as a local peer's QUIC
# stack sends them.
s.setsockopt(socket.SOL_UDP, 103, 100)
for i in range(8):
    s.sendto(bytes([i]) * 800, (relay, 50000))
PYEOF
	wait "$rpid"
	tail -1 "$tmp/recv.out"
}

stat_of() { ntsctl stats --json | $PY -c "import json,sys; print(json.load(sys.stdin).get('$1', 0))"; }

setup || { echo "not ok 1 - set up namespaces"; exit 1; }
check "ntsctl attach $SD --mode skb (generic XDP)" ntsctl attach "$SD" --mode skb

for fam in 4 6; do
	if [ $fam = 4 ]; then relay=198.18.0.1 peer=198.18.0.2; else relay=2001:db8::1 peer=2001:db8::2; fi
	# Without an entry the program passes everything: GRO merges the burst for the socket.
	read -r reads merged breads < <(burst $relay $peer)
	echo "# IPv$fam without a channel: the relay socket read 128 datagrams in $reads reads ($breads for the burst of 64 separate sends), gso_size $merged"
	check "IPv$fam: a relay socket with UDP_GRO on reads merged peer datagrams" test "${merged:-0}" -gt 0 -a "${reads:-128}" -lt 128
	bpftool map update pinned "$pin/nts_fp_peer" $(peer_entry $relay $peer)
	p0=$(stat_of p2c_packets) b0=$(stat_of p2c_bytes) g0=$(stat_of pass_generic)
	read -r reads merged < <(burst $relay $peer)
	p1=$(stat_of p2c_packets) b1=$(stat_of p2c_bytes) g1=$(stat_of pass_generic)
	echo "# IPv$fam with a channel: XDP relayed $((p1 - p0)) packets ($((b1 - b0)) bytes), passed $((g1 - g0)) (pass_generic); the socket read $reads"
	check "IPv$fam: no peer datagram relayed by generic XDP, merged or not" test $((p1 - p0)) -eq 0
	check "IPv$fam: generic XDP saw merged datagrams (fewer than sent), all passed up" \
		test $((g1 - g0)) -gt 0 -a $((g1 - g0)) -lt 128
	bpftool map delete pinned "$pin/nts_fp_peer" $(peer_entry $relay $peer | sed 's/ value hex.*//')
done
echo "1..$n"
exit $failed
