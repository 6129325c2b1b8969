#!/usr/bin/env bash
# ntsctl account create --parent, account close and key create|list|delete, against a running ntsd
# (control socket) and on --db with ntsd stopped: a key made by ntsctl mints tokens through the
# token API and stops at once when deleted; closing a master through ntsctl closes its
# subaccounts and ends their tokens.
set -u
. "$(dirname "$0")/lib.bash"

# fails CMD...: the command exits non-zero.
fails() { ! "$@" >/dev/null 2>&1; }
# quietly CMD...: the command succeeds (its output dropped).
quietly() { "$@" >/dev/null 2>&1; }
# mint USER PASS SID: the HTTP status of POST .../Accounts/SID/Tokens.json with Basic USER:PASS.
mint() {
	curl -s -o "$tmp/mint.json" -w '%{http_code}' -X POST -u "$1:$2" \
		"$api_url/2010-04-01/Accounts/$3/Tokens.json"
}
# fresh_token SID: a token of SID from ntsctl (JSON).
fresh_token() { ntsctl token create --account "$1" --ttl 600 --json; }
# alloc_with TOKEN_JSON: "ok RELAY" or "error CODE" of a TURN Allocate with the token.
alloc_with() {
	local u p
	u=$(json_get username <<<"$1") p=$(json_get password <<<"$1")
	"$PY" "$NTS_TOP/tests/api/turn_alloc.py" 127.0.0.1 "$turn_port" "$u" "$p" | cut -d' ' -f1-2
}

start_ntsd || { not_ok "ntsd starts"; tap_done; }
ok "ntsd starts"
new_account "keys master" || not_ok "account create"
m_sid=$sid

sub=$(ntsctl account create "child" --parent "$m_sid" --json)
s_sid=$(json_get sid <<<"$sub")
check "account create --parent makes a subaccount" \
	[ "$(json_get owner_account_sid <<<"$sub")" = "$m_sid" -a "${#s_sid}" = 34 ]
check "account create --parent of a subaccount is refused" \
	fails ntsctl account create "grandchild" --parent "$s_sid"
check "account create --parent of an unknown account is refused" \
	fails ntsctl account create "orphan" --parent AC00000000000000000000000000000000

out=$(ntsctl key create --account "$m_sid" "web server" 2>/dev/null)
k_sid=$(sed -n 's/^KeySid: //p' <<<"$out") k_secret=$(sed -n 's/^Secret: //p' <<<"$out")
check "key create prints the key sid and its secret" \
	[ "${#k_sid}" = 34 -a "${k_sid:0:2}" = SK -a "${#k_secret}" = 32 ]
list=$(ntsctl key list --account "$m_sid")
check "key list shows the key and its name" grep -q "$k_sid.*web server" <<<"$list"
check "key list never shows secrets" fails grep -q "$k_secret" <<<"$list"
check "key list --json is an array of 1" [ "$(ntsctl key list --account "$m_sid" --json |
	"$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ]
check "the key mints the account's tokens (201)" [ "$(mint "$k_sid" "$k_secret" "$m_sid")" = 201 ]
check "key create without --account is a usage error" fails ntsctl key create
check "key create for an unknown account is refused" \
	fails ntsctl key create --account AC00000000000000000000000000000000
check "key delete" quietly ntsctl key delete "$k_sid"
check "the deleted key gets 401 at once" [ "$(mint "$k_sid" "$k_secret" "$m_sid")" = 401 ]
check "deleting it again is refused" fails ntsctl key delete "$k_sid"

tok=$(fresh_token "$s_sid")
res=$(alloc_with "$tok")
check "the subaccount's token allocates ($res)" [ "${res%% *}" = ok ]
check "account close MASTER" quietly ntsctl account close "$m_sid"
res=$(alloc_with "$tok")
check "the subaccount's token then gets 401 ($res)" [ "$res" = "error 401" ]
check "the subaccount is closed with its master" [ "$(ntsctl account list --json | "$PY" -c '
import json, sys
print([a["status"] for a in json.load(sys.stdin) if a["sid"] == sys.argv[1]][0])' "$s_sid")" = closed ]

stop_ntsd
new_account "offline master" || not_ok "account create on --db"
o_sid=$sid
off=$(ntsctl account create "offline child" --parent "$o_sid" --json 2>/dev/null)
check "account create --parent works on --db when ntsd is down" \
	[ "$(json_get owner_account_sid <<<"$off" 2>/dev/null)" = "$o_sid" ]
out=$(ntsctl key create --account "$o_sid" 2>/dev/null)
ok_sid=$(sed -n 's/^KeySid: //p' <<<"$out") ok_secret=$(sed -n 's/^Secret: //p' <<<"$out")
check "key create works on --db" [ "${#ok_sid}" = 34 ]
check "key list works on --db" grep -q "$ok_sid" <<<"$(ntsctl key list --account "$o_sid")"
start_ntsd || { not_ok "ntsd starts again"; tap_done; }
check "a key made offline mints once ntsd runs" [ "$(mint "$ok_sid" "$ok_secret" "$o_sid")" = 201 ]
stop_ntsd
check "key delete works on --db" quietly ntsctl key delete "$ok_sid"
check "key list on --db is then empty" [ "$(ntsctl key list --account "$o_sid" --json |
	"$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ]
tap_done
