# Shared by the tests/netns/*.sh suites (sourced, not run: the runner runs only *.sh): TAP helpers,
# entering a namespace, and stopping ntsd cleanly. Each suite sets n=0 failed=0 and ntsd_pid, tmp.

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; failed=1; }
check() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
# Namespaces are entered with nsenter --net, not `ip netns exec`, which remounts /sys and hides the
# bpffs where the maps are pinned.
in_ns() { local ns=$1; shift; nsenter --net=/var/run/netns/"$ns" "$@"; }

# ntsd_stop_clean: SIGTERM to $ntsd_pid (at most 10 s, then SIGKILL); true when it exited with status
# 0 and $tmp/ntsd.log holds no sanitizer report (make test SAN=1 reads leaks here).
ntsd_stop_clean() {
	local rc _
	kill -TERM "$ntsd_pid" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$ntsd_pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$ntsd_pid" 2>/dev/null
	wait "$ntsd_pid" 2>/dev/null
	rc=$?
	ntsd_pid=
	echo "# ntsd exit status $rc"
	[ "$rc" -eq 0 ] && ! grep -qE 'Sanitizer|runtime error' "$tmp/ntsd.log"
}
# check_ntsd_stops_clean: the TAP line for ntsd_stop_clean, with any sanitizer report shown.
check_ntsd_stops_clean() {
	check "ntsd exits cleanly on SIGTERM, no sanitizer report" ntsd_stop_clean
	grep -A30 -E 'Sanitizer|runtime error' "$tmp/ntsd.log" | head -60 | sed 's/^/#   /'
}

# netns_relay_setup [PEER_IP...]: the client - relay - peer topology of the fast-path suites, in
# the namespaces named by $C, $S and $P (created here; the suite's cleanup removes them): client
# 198.18.0.2 and relay 198.18.0.1 on cs0/sc0, relay 198.19.0.1 and peer 198.19.0.2 (plus each
# PEER_IP/24) on sp0/ps0, routed through the relay. XDP_TX/redirect frames reach the other end
# only with GRO on; checksums without offload.
netns_relay_setup() {
	(
		set -e
		for ns in "$C" "$S" "$P"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
		ip link add cs0 netns "$C" type veth peer name sc0 netns "$S"
		ip link add ps0 netns "$P" type veth peer name sp0 netns "$S"
		ip -n "$C" addr add 198.18.0.2/24 dev cs0
		ip -n "$S" addr add 198.18.0.1/24 dev sc0
		ip -n "$S" addr add 198.19.0.1/24 dev sp0
		ip -n "$P" addr add 198.19.0.2/24 dev ps0
		for ip in "$@"; do ip -n "$P" addr add "$ip/24" dev ps0; done
		for d in "$C cs0" "$S sc0" "$S sp0" "$P ps0"; do
			set -- $d
			ip -n "$1" link set "$2" up
			in_ns "$1" ethtool -K "$2" gro on tx off >/dev/null
		done
		ip -n "$P" route add 198.18.0.0/24 via 198.19.0.1
		ip -n "$C" route add 198.19.0.0/24 via 198.18.0.1
		in_ns "$S" sysctl -qw net.ipv4.conf.all.forwarding=1
		in_ns "$S" ping -c1 -W2 198.18.0.2 >/dev/null
		in_ns "$S" ping -c1 -W2 198.19.0.2 >/dev/null
	)
}
