#!/usr/bin/env bash
# Relay workers (--workers 2): many UDP clients each served by one worker, in order, with quotas
# exact across workers (tests/interop/workers.py); TCP clients through coturn's uclient; control
# commands and counters covering every worker; an upgrade handing each worker over; a clean stop.
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
# An upgrade hands each worker's sockets and allocations to the same worker of the new ntsd.
python3 "$(dirname "$0")/turn_flow.py" session 127.0.0.1 "$PORT" alice wonderland 127.0.0.1 \
	"$tmp/stop" 1000 >"$tmp/flow.out" 2>&1 &
flow=$!
for _ in $(seq 1 100); do grep -q flowing "$tmp/flow.out" && break; sleep 0.1; done
old=${turn_pids[0]}
out=$("$B/ntsctl" "${CTL[@]}" upgrade --json 2>&1)
new=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$out" 2>/dev/null)
touch "$tmp/stop"
# The old ntsd (our child) exits once the new one serves: at most 10 s.
for _ in $(seq 1 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
old_rc=1
kill -0 "$old" 2>/dev/null || { wait "$old"; old_rc=$?; }
wait "$flow"
res=$(tail -n 1 "$tmp/flow.out")
relay=$(sed -n 's/^relay //p' "$tmp/flow.out")
if [ -n "$new" ] && kill -0 "$new" 2>/dev/null && [ "$old_rc" -eq 0 ] &&
	[ "$(cat /proc/"$new"/task/*/comm | grep -c '^ntsd-w')" -eq 2 ]; then
	turn_pids[0]=$new
	pass "ntsctl upgrade hands 2 workers over to a new ntsd with 2 workers (pid $new)"
else
	fail "ntsctl upgrade hands 2 workers over to a new ntsd with 2 workers: $out"
fi
if python3 -c 'import json,sys; r=json.loads(sys.argv[1])
assert r["sent"] > 500 and r["received"] >= r["sent"] * 0.999 and r["refresh"] and r["bind"]' \
	"$res" 2>/dev/null; then
	pass "a client flowing across the upgrade loses at most 0.1 % and refreshes and binds after"
else
	fail "a client flowing across the upgrade loses at most 0.1 %: $res"
	sed 's/^/#   /' "$tmp/flow.out" | tail -5
fi
if "$B/ntsctl" "${CTL[@]}" allocations --json 2>/dev/null | python3 -c 'import json,sys
a=[x for x in json.load(sys.stdin)["allocations"] if sys.argv[1] in x["relay"]]
assert len(a) == 1 and a[0]["id"] % 2 == a[0]["worker"]' "$relay"; then
	pass "the allocation kept its relay $relay and its worker"
else
	fail "the allocation kept its relay $relay and its worker"
fi
# The upgraded ntsd is not our child: stop it and read its log.
kill -TERM "${turn_pids[0]}" 2>/dev/null
for _ in $(seq 1 100); do kill -0 "${turn_pids[0]}" 2>/dev/null || break; sleep 0.1; done
if ! kill -0 "${turn_pids[0]}" 2>/dev/null && tail -n 1 "$tmp/ntsd.log" | grep -q "stopped" &&
	! turn_sanitizer_report "$tmp/ntsd.log"; then
	pass "the upgraded ntsd stops cleanly on SIGTERM, no sanitizer report"
else
	fail "the upgraded ntsd stops cleanly on SIGTERM, no sanitizer report"
	grep -A30 -E 'Sanitizer|runtime error' "$tmp/ntsd.log" | head -60 | sed 's/^/#   /'
fi
[ "$n" -ge 18 ] || fail "every check ran ($n of 18)"
echo "1..$n"
[ "$failed" -eq 0 ]
