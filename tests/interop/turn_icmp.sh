#!/usr/bin/env bash
# ICMP errors from peers (RFC 8656 §11): a TURN client sends to a closed port of a loopback peer
# (allowed with --allow-peer) over IPv4 and over IPv6, and gets the port unreachable back as a Data
# indication with the ICMP attribute (turn_icmp.py), within the per-allocation limit.
set -u
B=${NTS_BUILD:-$(pwd)/build}
tmp=$(mktemp -d /tmp/nts-icmp.XXXXXX)
. "$(dirname "$0")/turn_lib.bash"
trap turn_cleanup EXIT

turn_pick_ports 35000 1000
turn_start_ntsd --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" --allow-peer 127.0.0.1 \
	--allow-peer ::1 --user alice:wonderland || exit 1
turn_run_py "$tmp/v4.log" timeout 30 /usr/bin/python3 "$(dirname "$0")/turn_icmp.py" 127.0.0.1 \
	"$PORT" alice wonderland 127.0.0.1
turn_run_py "$tmp/v6.log" timeout 30 /usr/bin/python3 "$(dirname "$0")/turn_icmp.py" ::1 \
	"$PORT" alice wonderland ::1
out=$(/usr/bin/python3 "$(dirname "$0")/stun_client.py" status "$tmp/ctl.sock" stats.icmp_relayed)
[ "${out:-0}" -ge 12 ] && pass "ntsd counts the ICMP errors it relayed ($out)" ||
	fail "ntsd counts the ICMP errors it relayed ($out)"
out=$(/usr/bin/python3 "$(dirname "$0")/stun_client.py" status "$tmp/ctl.sock" stats.icmp_dropped)
[ "${out:-0}" -ge 40 ] && pass "and those beyond the limit as dropped ($out)" ||
	fail "and those beyond the limit as dropped ($out)"
# The error queue is drained, not left to wake epoll again and again (EPOLLERR is level-
# triggered): one second after the bursts, ntsd uses (almost) no CPU.
cpu() { awk '{print $14 + $15}' "/proc/${turn_pids[0]}/stat"; }
c0=$(cpu)
sleep 1
c1=$(cpu)
[ $((c1 - c0)) -le 10 ] && pass "ntsd idles after the ICMP errors ($((c1 - c0)) ticks in 1 s)" ||
	fail "ntsd idles after the ICMP errors ($((c1 - c0)) ticks in 1 s)"
turn_done 18
