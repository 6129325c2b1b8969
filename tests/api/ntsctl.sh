#!/usr/bin/env bash
# ntsctl account/token against a running ntsd (control socket) and on --db with ntsd stopped;
# usage attribution to accounts; the --demo account that `make run` prints.
set -u
. "$(dirname "$0")/lib.bash"

# fails CMD...: the command exits non-zero.
fails() { ! "$@" >/dev/null 2>&1; }
# quietly CMD...: the command succeeds (its output dropped).
quietly() { "$@" >/dev/null 2>&1; }

start_ntsd || { not_ok "ntsd starts"; tap_done; }
ok "ntsd starts"

out=$(ntsctl account create "Acme Corp")
check "account create prints the AccountSid" grep -Eq '^AccountSid: AC[0-9a-f]{32}$' <<<"$out"
check "account create prints the AuthToken once" grep -Eq '^AuthToken:  [0-9a-f]{32}$' <<<"$out"
new_account "json one" || not_ok "account create --json"
check "account create --json has sid and auth_token" [ "${#sid}" = 34 -a "${#auth_token}" = 32 ]
list=$(ntsctl account list)
check "account list shows both accounts" grep -q "$sid.*json one" <<<"$list"
check "account list shows the first one" grep -q "Acme Corp" <<<"$list"
check "account list never shows AuthTokens" fails grep -q "$auth_token" <<<"$list"
n=$(ntsctl account list --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
check "account list --json is an array of 2" [ "$n" = 2 ]

tok=$(ntsctl token create --account "$sid" --ttl 300 --json)
check "token create --json has Twilio's fields" "$PY" -c '
import json, sys
t = json.loads(sys.argv[1])
assert sorted(t) == ["account_sid", "date_created", "date_updated", "ice_servers", "password",
                     "ttl", "username"], t
assert t["ttl"] == "300" and t["account_sid"] == sys.argv[2]' "$tok" "$sid"
user=$(json_get username <<<"$tok") pass=$(json_get password <<<"$tok")
res=$("$PY" "$NTS_TOP/tests/api/turn_alloc.py" 127.0.0.1 "$turn_port" "$user" "$pass")
check "a token from ntsctl allocates on ntsd ($res)" [ "${res%% *}" = ok ]
ntsctl token create >/dev/null 2>&1
check "token create without --account is a usage error (status 2)" [ $? = 2 ]
check "token create --ttl 0 is refused" fails ntsctl token create --account "$sid" --ttl 0

# Usage: the allocation above is attributed to the account (flushed when listing).
allocs=$(ntsctl account list --json | "$PY" -c '
import json, sys
print([a for a in json.load(sys.stdin) if a["sid"] == sys.argv[1]][0]["allocations"])' "$sid")
check "the allocation is counted for its account (allocations=$allocs)" [ "${allocs:-0}" -ge 1 ]

ntsctl account suspend "$sid" >/dev/null
check "a suspended account gets no token from ntsctl" fails ntsctl token create --account "$sid"
check "account list shows it suspended" grep -q "$sid  suspended" <<<"$(ntsctl account list)"
ntsctl account activate "$sid" >/dev/null
check "activate lets it issue tokens again" quietly ntsctl token create --account "$sid"
metric=$(curl -s "$api_url/metrics" | sed -n 's/^nts_tokens_issued_total //p')
check "/metrics counts tokens issued over the control socket (got ${metric:-none})" \
	[ "${metric:-0}" -ge 2 ]

# With ntsd stopped, ntsctl works on the database directly.
stop_ntsd
offline=$(ntsctl account create "offline" --json 2>/dev/null)
off_sid=$(json_get sid <<<"$offline" 2>/dev/null)
check "account create works on --db when ntsd is down" [ "${#off_sid}" = 34 ]
otok=$(ntsctl token create --account "$off_sid" --ttl 600 --json 2>/dev/null)
check "token create on --db lists the ICE servers ntsd published" "$PY" -c '
import json, sys
t = json.loads(sys.argv[1])
assert [s["urls"] for s in t["ice_servers"]][0] == "stun:127.0.0.1:" + sys.argv[2], t' \
	"$otok" "$turn_port"
start_ntsd || not_ok "ntsd restarts on the same database"
user=$(json_get username <<<"$otok") pass=$(json_get password <<<"$otok")
res=$("$PY" "$NTS_TOP/tests/api/turn_alloc.py" 127.0.0.1 "$turn_port" "$user" "$pass")
check "a token made offline allocates once ntsd runs again (same secret) ($res)" \
	[ "${res%% *}" = ok ]
check "accounts survive the restart" grep -q offline <<<"$(ntsctl account list)"
stop_ntsd

for sub in "account --help" "token --help" "account create --help" "token create --help"; do
	# shellcheck disable=SC2086
	check "ntsctl $sub exits 0 with usage" bash -c 'out=$("$@") && grep -q usage <<<"$out"' _ \
		"$NTS_BUILD/ntsctl" $sub
done

# --demo (make run): creates the database and a demo account and prints a working curl command.
rm -rf "$tmp/var"
start_ntsd --demo || not_ok "ntsd --demo starts"
demo_sid=$(sed -n 's/^  AccountSid: //p' "$ntsd_out")
check "--demo prints an AccountSid" [ "${#demo_sid}" = 34 ]
check "--demo prints the AuthToken" grep -Eq '^  AuthToken:  [0-9a-f]{32}$' "$ntsd_out"
cmd=$(grep -m1 '^  curl ' "$ntsd_out")
check "--demo's curl command fetches a token" bash -c "$cmd --max-time 20 -o /dev/null -w '%{http_code}' | grep -q 201"
check "the demo credentials are kept 0600 next to the database" \
	[ "$(stat -c %a "$tmp/var/demo-account" 2>/dev/null)" = 600 ]
stop_ntsd
start_ntsd --demo || not_ok "ntsd --demo restarts"
check "a later --demo start prints the same account" \
	[ "$(sed -n 's/^  AccountSid: //p' "$ntsd_out")" = "$demo_sid" ]
cmd=$(grep -m1 '^  curl ' "$ntsd_out")
check "and its curl command still works" bash -c "$cmd --max-time 20 -o /dev/null -w '%{http_code}' | grep -q 201"
tap_done
