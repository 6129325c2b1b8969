#!/usr/bin/env bash
# A fleet of three ntsd nodes (a, b, c: one network namespace each, region eu) sharing one
# database (docs/fleet.md): an account made on a fetches a token from b and relays through c;
# tokens name the fleet's --ice-host; an API key made on a works on b until deleted there;
# usage agrees across nodes; a suspension on a ends the
# account's allocations on c within 5 s; a drained c answers a new Allocate with 300 Try Alternate
# naming a or b while its relay keeps going (turnutils_uclient follows it), and `ntsctl drain --wait` returns once it is empty; a
# secret rotation during a live relay loses nothing, and tokens signed before and after it work on
# every node; SIGKILL of b shows b dead in `ntsctl fleet` within 12 s while a and c go on.
# Prints TAP; cleans up its namespaces, daemons and database.
set -u
n=0 failed=0
. "$(dirname "$0")/lib.bash"
trap fleet_cleanup EXIT

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
command -v turnutils_uclient >/dev/null || skip_all "turnutils_uclient (coturn) missing"
[ -x "$B/ntsd" ] && [ -x "$B/ntsctl" ] || skip_all "build ntsd and ntsctl first"

fleet_setup || { echo "not ok 1 - set up namespaces and the database"; echo "1..1"; exit 1; }
# Started one after the other: the first creates the database (and its signing secret).
for node in a b c; do check "node $node starts on the shared database" node_start "$node"; done

# Every node's heartbeat (2 s) lists all three as active.
all_active() {
	local node
	for node in a b c; do [ "$(fleet_state c "$node")" = active ] || return 1; done
}
listed=
for _ in $(seq 1 50); do all_active && { listed=1; break; }; sleep 0.1; done
check "ntsctl fleet on c lists a, b and c as active" [ -n "$listed" ]
check "... with region, capacity, addresses, version and uptime" eval 'ntsctl_on a fleet --json |
	$PY -c "
import json, sys
n = {x[\"name\"]: x for x in json.load(sys.stdin)[\"nodes\"]}[\"b\"]
assert n[\"region\"] == \"eu\" and n[\"capacity\"] == 100, n
assert \"udp 198.18.0.2:3478\" in n[\"addresses\"] and n[\"version\"] and n[\"uptime\"] >= 0, n"'

# --- one account, three nodes
acct=$(ntsctl_on a account create fleet-customer --json)
sid=$(json_field sid <<<"$acct") secret=$(json_field auth_token <<<"$acct")
check "an account is made on a ($sid)" [ "${#sid}" = 34 ]
tok=$(api b POST "Accounts/$sid/Tokens.json" "$sid:$secret")
read -r user pass < <($PY -c 'import json,sys; t=json.load(sys.stdin); print(t["username"], t["password"])' <<<"$tok")
check "b issues a token for it" [ -n "${pass:-}" ]
check "the token names the fleet's --ice-host, not b" eval '$PY -c "
import json, sys
urls = [s[\"urls\"] for s in json.load(sys.stdin)[\"ice_servers\"]]
assert urls and all(\"$ICE_HOST:\" in u for u in urls), urls" <<<"$tok"'
check "the token from b relays through c" uclient abc c "$user" "$pass"

# --- API keys are read from the database at each request: made on a, used on b, deleted on b
key=$(api a POST "Accounts/$sid/Keys.json" "$sid:$secret" -d FriendlyName=fleet-key)
ksid=$($PY -c 'import json,sys; print(json.load(sys.stdin)["sid"])' <<<"$key" 2>/dev/null)
ksecret=$($PY -c 'import json,sys; print(json.load(sys.stdin)["secret"])' <<<"$key" 2>/dev/null)
http_code() { # NODE METHOD PATH USER:PASS: the HTTP status
	in_ns "$CL" curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X "$2" -u "$4" \
		"http://${NODE_IP[$1]}:8080/2010-04-01/$3"
}
check "an API key made on a issues tokens on b" \
	[ "$(http_code b POST "Accounts/$sid/Tokens.json" "${ksid:-x}:${ksecret:-x}")" = 201 ]
check "deleted on b, it is refused on a at once" eval '[ "$(http_code b DELETE \
	"Accounts/$sid/Keys/$ksid.json" "$sid:$secret")" = 204 ] &&
	[ "$(http_code a POST "Accounts/$sid/Tokens.json" "$ksid:$ksecret")" = 401 ]'

# --- usage: c wrote it (ntsctl usage flushes first); a and b answer the same from the database
ntsctl_on c usage --account "$sid" >/dev/null
usage_of() {
	api "$1" GET "Accounts/$sid/Usage/Records.json?Category=turnmegabytes" "$sid:$secret" |
		$PY -c 'import json,sys; r=json.load(sys.stdin)["usage_records"][0]; print(r["count"], r["usage"])'
}
ua=$(usage_of a) ub=$(usage_of b)
check "usage records agree on a and b ($ua | $ub)" [ -n "$ua" ] && [ "$ua" = "$ub" ] && [ "${ua%% *}" -ge 1 ]
check "... under the region: turnmegabytes-eu" eval 'api a GET \
	"Accounts/$sid/Usage/Records.json?Category=turnmegabytes-eu" "$sid:$secret" |
	$PY -c "import json,sys; r=json.load(sys.stdin)[\"usage_records\"]; assert r and int(r[0][\"count\"]) >= 1, r"'

# --- a suspension made on a ends the account's allocations on c within 5 s
acct2=$(ntsctl_on a account create fleet-suspended --json)
sid2=$(json_field sid <<<"$acct2") secret2=$(json_field auth_token <<<"$acct2")
read -r user2 pass2 < <(token a "$sid2" "$secret2")
uclient hold c "$user2" "$pass2" 1000 20 >/dev/null &
hold_pid=$!
for _ in $(seq 1 100); do [ "$(allocs_of c "$sid2")" -gt 0 ] && break; sleep 0.1; done
check "a second account holds an allocation on c" [ "$(allocs_of c "$sid2")" -gt 0 ]
t0=$(now_ms)
ntsctl_on a account suspend "$sid2" >/dev/null
gone=
while [ $(($(now_ms) - t0)) -le 5000 ]; do
	[ "$(allocs_of c "$sid2")" = 0 ] && { gone=$(($(now_ms) - t0)); break; }
	sleep 0.1
done
check "suspended on a, its allocation on c ends within 5 s (${gone:-no} ms)" [ -n "$gone" ]
kill "$hold_pid" 2>/dev/null
wait "$hold_pid" 2>/dev/null

# --- drain c: its relay goes on, a new Allocate gets 300 naming a or b
read -r user pass < <(token a "$sid" "$secret")
uclient drained c "$user" "$pass" 250 20 &
live_pid=$!
for _ in $(seq 1 100); do [ "$(allocs_of c "$sid")" -gt 0 ] && break; sleep 0.1; done
check "c relays a live session" [ "$(allocs_of c "$sid")" -gt 0 ]
check "ntsctl drain on c" eval 'ntsctl_on c drain | grep -q "c: draining"'
check "c is listed draining" [ "$(fleet_state a c)" = draining ]
redir=$(in_ns "$CL" $PY "$FLEET_DIR/turn_redirect.py" "${NODE_IP[c]}" 3478 "$user" "$pass")
echo "# Allocate to drained c: $redir"
check "a new Allocate to c gets 300 with ALTERNATE-SERVER a or b, signed" \
	eval '[[ "$redir" =~ ^redirect\ 198\.18\.0\.[12]:3478\ signed$ ]]'
alt=${redir#redirect } alt=${alt%%:*}
check "... where the same credentials allocate" eval 'in_ns "$CL" $PY "$FLEET_DIR/turn_redirect.py" \
	"$alt" 3478 "$user" "$pass" | grep -q "^ok "'
check "turnutils_uclient follows the 300: its session to drained c relays through a or b" \
	uclient redirected c "$user" "$pass"
check "c's live session goes on undisturbed through the drain" wait "$live_pid"
# uclient leaves its allocations to expire: drain --wait waits for them, until they are deleted.
in_ns "$(node_ns c)" timeout 30 "$B/ntsctl" --ctl-socket "$tmp/c.sock" drain --wait \
	>"$tmp/drain-wait.log" 2>&1 &
wait_pid=$!
sleep 1
check "ntsctl drain --wait waits while c holds allocations" kill -0 "$wait_pid"
for id in $(ntsctl_on c allocations --json |
	$PY -c 'import json,sys; print(*[a["id"] for a in json.load(sys.stdin)["allocations"]])'); do
	ntsctl_on c allocations delete "$id" >/dev/null
done
check "... and returns once it holds none" eval 'wait "$wait_pid" &&
	tail -1 "$tmp/drain-wait.log" | grep -q "no allocation left"'
check "ntsctl undrain: c serves Allocate again" eval 'ntsctl_on c undrain >/dev/null &&
	in_ns "$CL" $PY "$FLEET_DIR/turn_redirect.py" "${NODE_IP[c]}" 3478 "$user" "$pass" | grep -q "^ok "'

# --- secret rotation during a live relay (12 s: past the activation)
# allocates NODE USER PASS: an Allocate with these credentials succeeds on NODE (and is released).
allocates() {
	in_ns "$CL" $PY "$FLEET_DIR/turn_redirect.py" "${NODE_IP[$1]}" 3478 "$2" "$3" | grep -q '^ok '
}
read -r old_user old_pass < <(token b "$sid" "$secret")
uclient rotating a "$old_user" "$old_pass" 600 20 &
live_pid=$!
rot=$(ntsctl_on b secret rotate --overlap 10 --json)
act=$(json_field activates_at <<<"$rot")
check "ntsctl secret rotate on b: the new secret signs from 10 s on" \
	[ "${act:-0}" -ge $(($(date +%s) + 8)) ]
read -r user pass < <(token a "$sid" "$secret")
check "before activation, a new token from a works on c" allocates c "$user" "$pass"
while [ "$(date +%s)" -le "$act" ]; do sleep 0.2; done
read -r new_user new_pass < <(token c "$sid" "$secret")
for node in a b c; do
	check "after activation, a token from c works on $node" allocates "$node" "$new_user" "$new_pass"
	check "... and one signed before the rotation still does" allocates "$node" "$old_user" "$old_pass"
done
check "the relay that ran through the rotation lost nothing" wait "$live_pid"

# --- SIGKILL of b: dead within 12 s (10 s of silence, heartbeats every 2 s); a and c go on
kill -KILL "${node_pid[b]}"
wait "${node_pid[b]}" 2>/dev/null
unset "node_pid[b]"
t0=$(now_ms)
dead=
while [ $(($(now_ms) - t0)) -le 13000 ]; do
	[ "$(fleet_state a b)" = dead ] && { dead=$(($(now_ms) - t0)); break; }
	sleep 0.2
done
check "b is dead in ntsctl fleet within 13 s of SIGKILL (${dead:-no} ms)" [ -n "$dead" ]
check "a and c stay active" eval '[ "$(fleet_state c a)" = active ] && [ "$(fleet_state a c)" = active ]'
read -r user pass < <(token a "$sid" "$secret")
check "a token from a still relays through c" uclient after-b c "$user" "$pass"

check "node a exits cleanly on SIGTERM, no sanitizer report" node_stop_clean a
check "node c exits cleanly on SIGTERM, no sanitizer report" node_stop_clean c
# No ntsd answers on a's socket now: ntsctl reads the database.
check "stopped nodes are listed stopped, not dead" \
	eval '[ "$(fleet_state a a)" = stopped ] && [ "$(fleet_state a c)" = stopped ]'

echo "1..$n"
exit "$failed"
