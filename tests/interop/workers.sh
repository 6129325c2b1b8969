#!/usr/bin/env bash
# Relay workers (--workers 2): many UDP clients each served by one worker, in order, with quotas
# exact across workers (tests/interop/workers.py); TCP clients through coturn's uclient; control
# commands and counters covering every worker; a clean stop.
set -u
B=${NTS_BUILD:-$(pwd)/build}
tmp=$(mktemp -d /tmp/nts-workers.XXXXXX)
. "$(dirname "$0")/turn_lib.bash"
trap turn_cleanup EXIT
CLIENTS=60
QUOTA=64

turn_pick_ports 24000 2000
turn_start_ntsd --workers 2 --listen "127.0.0.1:$PORT" --allow-peer 127.0.0.0/8 \
	--allow-peer 127.0.0.1 --user alice:wonderland --max-allocations-per-user "$QUOTA" \
	--realm nts.workers || exit 1
CTL=(--ctl-socket "$tmp/ctl.sock")

if grep -q "2 relay workers" "$tmp/ntsd.log" && ! grep -q "cannot steer" "$tmp/ntsd.log"; then
	pass "ntsd starts 2 relay workers with datagrams steered by client"
else
	fail "ntsd starts 2 relay workers with datagrams steered by client"
	sed 's/^/#   /' "$tmp/ntsd.log" | tail -5
fi
threads=$(ls "/proc/${turn_pids[0]}/task" | wc -l)
names=$(cat /proc/"${turn_pids[0]}"/task/*/comm | grep -c '^ntsd-w')
if [ "$names" -eq 2 ]; then
	pass "two relay threads run beside the daemon's ($threads threads)"
else
	fail "two relay threads run beside the daemon's (ntsd-w* threads: $names)"
fi

turn_run_py "$tmp/workers.log" timeout 120 python3 "$(dirname "$0")/workers.py" 127.0.0.1 "$PORT" \
	alice wonderland "$B/ntsctl" "$tmp/ctl.sock" "$CLIENTS" "$QUOTA"

# TCP clients belong to the worker that accepted them; uclient pairs allocations with EVEN-PORT
# reservations, redeemed by another client (possibly another worker's).
if command -v turnutils_uclient >/dev/null && command -v turnutils_peer >/dev/null; then
	PEER=$((PORT + 1))
	turnutils_peer -p "$PEER" -L 127.0.0.1 >"$tmp/peer.log" 2>&1 &
	turn_pids+=($!)
	for mode in "" -t; do
		log="$tmp/uclient$mode.log"
		timeout 60 turnutils_uclient -p "$PORT" -n 10 -m 8 -l 100 -z 5 -u alice -w wonderland \
			$mode -e 127.0.0.1 -r "$PEER" 127.0.0.1 >"$log" 2>&1
		rc=$?
		lost=$(sed -n 's/.*Total lost packets \([0-9]*\) .*/\1/p' "$log" | tail -1)
		rm=$(sed -n 's/.*tot_send_msgs=[0-9]*, tot_recv_msgs=\([0-9]*\).*/\1/p' "$log" | tail -1)
		if [ "$rc" -eq 0 ] && [ "${lost:-x}" = 0 ] && [ "${rm:-x}" = 80 ]; then
			pass "uclient ${mode:-udp} with 8 clients: 80/80 back, 0 lost"
		else
			fail "uclient ${mode:-udp} with 8 clients: rc=$rc lost=${lost:-?} recv=${rm:-?}"
			tail -n 5 "$log" | tr -cd '[:print:]\t\n' | sed 's/^/#   /'
		fi
	done
else
	fail "coturn's turnutils_uclient/turnutils_peer are installed (tools/deps.sh)"
fi

status=$("$B/ntsctl" "${CTL[@]}" status --json 2>&1)
if python3 -c 'import json,sys; s=json.loads(sys.argv[1])["ntsd"]; assert s["workers"] == 2
assert s["stats"]["allocations_created"] >= '"$QUOTA"', s["stats"]' "$status" 2>/dev/null; then
	pass "ntsctl status counts every worker's allocations"
else
	fail "ntsctl status counts every worker's allocations: $status"
fi
if "$B/ntsctl" "${CTL[@]}" reload >/dev/null 2>&1; then
	pass "a reload reaches the parked workers and they serve on"
else
	fail "a reload reaches the parked workers and they serve on"
fi
out=$("$B/ntsctl" "${CTL[@]}" upgrade 2>&1)
if [ $? -ne 0 ] && grep -q "relay workers" <<<"$out" && kill -0 "${turn_pids[0]}"; then
	pass "ntsctl upgrade is refused with 2 workers and ntsd keeps serving"
else
	fail "ntsctl upgrade is refused with 2 workers and ntsd keeps serving: $out"
fi
turn_done 13
