#!/usr/bin/env bash
# Tenancy on a running ntsd: the allocation quota is counted per account over all its tokens,
# token minting is rate-limited per account (429, code 20429), suspending an account ends its live
# allocations within a second (a running turnutils_uclient relay included) and its unexpired
# tokens get 401 from then on; ntsctl allocations delete ends one allocation; with --strict-expiry
# relaying stops when the token expires.
set -u
. "$(dirname "$0")/lib.bash"

SECRET=tenancy-secret
# fails CMD...: the command exits non-zero.
fails() { ! "$@" >/dev/null 2>&1; }
# token_creds SID N: N fresh tokens of SID from ntsd, one "USERNAME PASSWORD" line each.
token_creds() {
	local i
	for i in $(seq 1 "$2"); do
		ntsctl token create --account "$1" --ttl 600 --json |
			"$PY" -c 'import json,sys; t=json.load(sys.stdin); print(t["username"], t["password"])'
	done
}
# account_allocs SID: the number of live allocations of SID on ntsd.
account_allocs() {
	ntsctl allocations --json | "$PY" -c '
import json, sys
print(sum(a["account"] == sys.argv[1] for a in json.load(sys.stdin)["allocations"]))' "$1"
}
# now_ms: wall clock in milliseconds.
now_ms() { date +%s%3N; }

start_ntsd --secret "$SECRET" --allow-peer 127.0.0.0/8 --allow-peer 127.0.0.1 --max-allocations-per-account 20 \
	--token-rate 5 --token-burst 10 || { not_ok "ntsd starts"; tap_done; }
ok "ntsd starts"

# 1. Quotas: 50 tokens (50 usernames) of one account hold at most its quota.
new_account "quota default" || not_ok "account create"
a_sid=$sid
res=$(token_creds "$a_sid" 50 | "$PY" "$NTS_TOP/tests/api/turn_hold.py" 127.0.0.1 "$turn_port")
grep -v -e "^ok " -e "^error 486 " -e "^allocated=" <<<"$res" | sed "s/^/# /"
check "50 tokens of one account get 20 allocations, 486 for the other 30 ($(tail -1 <<<"$res"))" \
	[ "$(tail -1 <<<"$res")" = "allocated=20 refused486=30 other=0" ]
check "ntsd lists exactly 20 allocations of the account" [ "$(account_allocs "$a_sid")" = 20 ]

new_account "quota override" || not_ok "account create"
b_sid=$sid
check "ntsctl account set --max-allocations 5" ntsctl account set "$b_sid" --max-allocations 5
check "account list --json shows the override" [ "$(ntsctl account list --json | "$PY" -c '
import json, sys
print([a["max_allocations"] for a in json.load(sys.stdin) if a["sid"] == sys.argv[1]][0])' \
	"$b_sid")" = 5 ]
res=$(token_creds "$b_sid" 50 | "$PY" "$NTS_TOP/tests/api/turn_hold.py" 127.0.0.1 "$turn_port")
grep -v -e "^ok " -e "^error 486 " -e "^allocated=" <<<"$res" | sed "s/^/# /"
check "50 tokens of an account with quota 5 get 5 allocations ($(tail -1 <<<"$res"))" \
	[ "$(tail -1 <<<"$res")" = "allocated=5 refused486=45 other=0" ]

# 2. Minting rate: --token-burst 10, then --token-rate 5/s; past it 429 with Twilio's body.
new_account "minting" || not_ok "account create"
m_sid=$sid m_token=$auth_token
status= body=
for i in $(seq 1 100); do
	body=$(curl -s -X POST -u "$m_sid:$m_token" -w '\n%{http_code}' \
		"$api_url/2010-04-01/Accounts/$m_sid/Tokens.json")
	status=$(tail -1 <<<"$body")
	[ "$status" = 201 ] || break
done
check "minting past the account's rate gets 429 (after $((i - 1)) tokens)" \
	[ "$status" = 429 -a "$i" -ge 11 ]
check "the 429 carries Twilio's error body with code 20429" "$PY" -c '
import json, sys
e = json.loads(sys.argv[1])
assert e["code"] == 20429 and e["status"] == 429, e
assert e["more_info"] == "https://www.twilio.com/docs/errors/20429", e' "$(sed '$d' <<<"$body")"
new_account "other minter" || not_ok "account create"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -u "$sid:$auth_token" \
	"$api_url/2010-04-01/Accounts/$sid/Tokens.json")
check "another account still mints meanwhile ($status)" [ "$status" = 201 ]

# 3. Suspension: the account's unexpired token gets 401 on Allocate; activation undoes it.
new_account "suspended" || not_ok "account create"
s_sid=$sid
read -r s_user s_pass < <(token_creds "$s_sid" 1)
res=$("$PY" "$NTS_TOP/tests/api/turn_alloc.py" 127.0.0.1 "$turn_port" "$s_user" "$s_pass")
check "an active account's token allocates ($res)" [ "${res%% *}" = ok ]
check "ntsctl account suspend" ntsctl account suspend "$s_sid"
res=$("$PY" "$NTS_TOP/tests/api/turn_alloc.py" 127.0.0.1 "$turn_port" "$s_user" "$s_pass")
check "the suspended account's unexpired token gets 401 on Allocate ($res)" \
	[ "${res%% *}" = error -a "$(cut -d' ' -f2 <<<"$res")" = 401 ]
check "ntsctl account activate" ntsctl account activate "$s_sid"
res=$("$PY" "$NTS_TOP/tests/api/turn_alloc.py" 127.0.0.1 "$turn_port" "$s_user" "$s_pass")
check "after activation the same token allocates again ($res)" [ "${res%% *}" = ok ]
check "ntsctl account close" ntsctl account close "$s_sid"
check "a closed account cannot be activated" fails ntsctl account activate "$s_sid"
res=$("$PY" "$NTS_TOP/tests/api/turn_alloc.py" 127.0.0.1 "$turn_port" "$s_user" "$s_pass")
check "the closed account's token gets 401 ($res)" [ "$(cut -d' ' -f2 <<<"$res")" = 401 ]

# 4. Suspension cuts a running turnutils_uclient relay within a second (userspace path).
if command -v turnutils_uclient >/dev/null && command -v turnutils_peer >/dev/null; then
	new_account "uclient" || not_ok "account create"
	u_sid=$sid
	peer_port=$(free_port)
	turnutils_peer -p "$peer_port" -L 127.0.0.1 >"$tmp/peer.log" 2>&1 &
	peer_pid=$!
	# 1500 messages 20 ms apart: about 30 s of relaying, far longer than the test needs.
	timeout 60 turnutils_uclient -p "$turn_port" -n 1500 -m 1 -l 100 -z 20 -c -u "$u_sid" \
		-W "$SECRET" -e 127.0.0.1 -r "$peer_port" 127.0.0.1 >"$tmp/uclient.log" 2>&1 &
	uclient_pid=$!
	relaying=
	for _ in $(seq 1 100); do
		relaying=$(ntsctl allocations --json | "$PY" -c '
import json, sys
for a in json.load(sys.stdin)["allocations"]:
    if a["account"] == sys.argv[1] and a["p2c_packets"] > 0:
        print(a["id"], a["relay"][0].rsplit(":", 1)[1])' "$u_sid")
		[ -n "$relaying" ] && break
		sleep 0.1
	done
	check "uclient relays through an allocation of the account ($relaying)" [ -n "$relaying" ]
	relay_port=${relaying#* }
	t0=$(now_ms)
	ntsctl account suspend "$u_sid" >/dev/null
	gone=
	while [ $(($(now_ms) - t0)) -le 1000 ]; do
		if [ "$(account_allocs "$u_sid")" = 0 ] && [ -n "$relay_port" ] &&
			[ -z "$(ss -Hun "sport = :$relay_port")" ]; then
			gone=$(($(now_ms) - t0))
			break
		fi
		sleep 0.05
	done
	check "suspension ends the uclient's allocation and closes its relay within 1 s (${gone:-no}ms)" \
		[ -n "$gone" ]
	kill "$uclient_pid" "$peer_pid" 2>/dev/null
	wait "$uclient_pid" "$peer_pid" 2>/dev/null
else
	not_ok "coturn's turnutils_uclient/turnutils_peer are installed (tools/deps.sh)"
fi

# 5. ntsctl allocations delete ID ends one allocation (here one of the quota test's).
id=$(ntsctl allocations --json | "$PY" -c '
import json, sys
print([a["id"] for a in json.load(sys.stdin)["allocations"] if a["account"] == sys.argv[1]][0])' \
	"$a_sid")
check "ntsctl allocations delete $id" ntsctl allocations delete "$id"
check "the account holds one allocation less" [ "$(account_allocs "$a_sid")" = 19 ]
check "deleting it again fails" fails ntsctl allocations delete "$id"

stop_ntsd

# 6. --strict-expiry: a token valid 5 s relays until it expires and not after (userspace path).
start_ntsd --secret "$SECRET" --allow-peer 127.0.0.0/8 --allow-peer 127.0.0.1 --strict-expiry ||
	{ not_ok "ntsd --strict-expiry starts"; tap_done; }
# The same database: ntsd loads the operators' decisions at start.
res=$("$PY" "$NTS_TOP/tests/api/turn_alloc.py" 127.0.0.1 "$turn_port" "$s_user" "$s_pass")
check "after a restart the closed account's token still gets 401 ($res)" \
	[ "$(cut -d' ' -f2 <<<"$res")" = 401 ]
new_account "strict" || not_ok "account create"
x_sid=$sid
read -r x_user x_pass < <(ntsctl token create --account "$x_sid" --ttl 5 --json |
	"$PY" -c 'import json,sys; t=json.load(sys.stdin); print(t["username"], t["password"])')
res=$("$PY" "$NTS_TOP/tests/api/turn_expiry.py" 127.0.0.1 "$turn_port" "$x_user" "$x_pass")
check "a 5-second token relays until its expiry and stops at that second ($res)" "$PY" -c '
import sys
f = dict(kv.split("=") for kv in sys.argv[1].split())
e, last, n = int(f["expiry"]), float(f["last"]), int(f["received"])
assert n > 0 and e - 0.5 <= last < e + 0.25, f' "$res"
check "its allocation is gone" [ "$(account_allocs "$x_sid")" = 0 ]
stop_ntsd
tap_done
