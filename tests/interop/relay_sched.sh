#!/usr/bin/env bash
# Relay loops run as SCHED_BATCH (README "Performance", docs/architecture.md "Threading model"):
# the worker threads with --workers 2 (the daemon's thread stays SCHED_OTHER), the daemon's thread
# with --workers 1, where it relays; --relay-preempt keeps SCHED_OTHER everywhere.
set -u
B=${NTS_BUILD:-$(pwd)/build}
tmp=$(mktemp -d /tmp/nts-relay-sched.XXXXXX)
. "$(dirname "$0")/turn_lib.bash"
trap turn_cleanup EXIT

# Scheduling policies of PID's threads as "comm:policy " (0 SCHED_OTHER, 3 SCHED_BATCH), sorted.
policies() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "$(cat "$t/comm"):$(sed 's/^.*) //' "$t/stat" | awk '{print $39}')"
	done | LC_ALL=C sort -u | tr '\n' ' '
}

turn_pick_ports 26000 1000
# ARGS:WANT
for run in "--workers 2:ntsd-w0:3 ntsd-w1:3 ntsd:0 " "--workers 1:ntsd:3 " \
	"--workers 2 --relay-preempt:ntsd-w0:0 ntsd-w1:0 ntsd:0 "; do
	args=${run%%:*} want=${run#*:}
	turn_start_ntsd $args --listen "127.0.0.1:$PORT" --user alice:wonderland || exit 1
	pol=$(policies "${turn_pids[0]}")
	if [ "$pol" = "$want" ]; then
		pass "ntsd $args: threads $want"
	else
		fail "ntsd $args: threads $want (found $pol)"
	fi
	turn_stop_ntsd
done
[ "$n" -ge 6 ] || fail "every check ran ($n of 6)"
echo "1..$n"
[ "$failed" -eq 0 ]
