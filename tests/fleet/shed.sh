#!/usr/bin/env bash
# Load shedding by --shed-at and load reporting in the fleet's registry (docs/fleet.md): node c
# (capacity 10, --shed-at 30%) holding 3 allocations answers the next Allocate with 300 Try
# Alternate naming a, the other active node of its region, and keeps serving once a has stopped
# (nowhere to send it); `ntsctl fleet` reports each node's allocations and its packets per second
# while it relays. Prints TAP; cleans up its namespaces, daemons and database.
set -u
n=0 failed=0
. "$(dirname "$0")/lib.bash"
trap fleet_cleanup EXIT

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
command -v turnutils_uclient >/dev/null || skip_all "turnutils_uclient (coturn) missing"
[ -x "$B/ntsd" ] && [ -x "$B/ntsctl" ] || skip_all "build ntsd and ntsctl first"

fleet_setup || { echo "not ok 1 - set up namespaces and the database"; echo "1..1"; exit 1; }
check "node a starts" node_start a
check "node c starts with capacity 10, shedding at 30%" node_start c --max-allocations 10 \
	--shed-at 30%
acct=$(ntsctl_on a account create shed-customer --json)
sid=$(json_field sid <<<"$acct") secret=$(json_field auth_token <<<"$acct")
for _ in 1 2 3; do token a "$sid" "$secret"; done >"$tmp/creds"
held=$(in_ns "$CL" timeout 30 $PY "$FLEET_DIR/../api/turn_hold.py" "${NODE_IP[c]}" 3478 <"$tmp/creds" |
	tail -1)
check "c takes 3 allocations ($held)" [ "$held" = "allocated=3 refused486=0 other=0" ]

# fleet_field VIA NODE FIELD: NODE's FIELD in `ntsctl fleet --json` on VIA.
fleet_field() {
	ntsctl_on "$1" fleet --json 2>/dev/null | $PY -c '
import json, sys
print(next((n[sys.argv[2]] for n in json.load(sys.stdin)["nodes"] if n["name"] == sys.argv[1]), ""))' "$2" "$3"
}
seen=
for _ in $(seq 1 50); do
	[ "$(fleet_field a c allocations)" = 3 ] && [ "$(fleet_state c a)" = active ] && { seen=1; break; }
	sleep 0.1
done
check "ntsctl fleet reports c's 3 allocations of 10, and a active" [ -n "$seen" ]

read -r user pass < <(token a "$sid" "$secret")
redir=$(in_ns "$CL" $PY "$FLEET_DIR/turn_redirect.py" "${NODE_IP[c]}" 3478 "$user" "$pass")
echo "# Allocate to c at 3 of 10: $redir"
check "at 30% of its capacity c answers 300 naming a" \
	eval '[[ "$redir" =~ ^redirect\ 198\.18\.0\.1:3478\ signed$ ]]'

# A relay through a: its packets per second show in the registry.
uclient load a "$user" "$pass" 400 10 >/dev/null &
load_pid=$!
pps=
for _ in $(seq 1 60); do
	p=$(fleet_field c a pps_user)
	[ "${p:-0}" -gt 10 ] && { pps=$p; break; }
	sleep 0.1
done
check "ntsctl fleet reports a's userspace packets per second while it relays (${pps:-none})" \
	[ -n "$pps" ]
wait "$load_pid"

check "node a exits cleanly on SIGTERM, no sanitizer report" node_stop_clean a
# c decides on the registry its last heartbeat read: within one heartbeat (2 s) it knows.
t0=$(now_ms)
while [ $(($(now_ms) - t0)) -le 4000 ]; do
	redir=$(in_ns "$CL" $PY "$FLEET_DIR/turn_redirect.py" "${NODE_IP[c]}" 3478 "$user" "$pass")
	[[ "$redir" == ok\ * ]] && break
	sleep 0.2
done
echo "# Allocate to c $(($(now_ms) - t0)) ms after a stopped: $redir"
check "with no other active node in the region, c serves past its shed mark (within 4 s)" \
	eval '[[ "$redir" == ok\ * ]]'
check "node c exits cleanly on SIGTERM, no sanitizer report" node_stop_clean c

echo "1..$n"
exit "$failed"
