#!/usr/bin/env bash
# With --secret, tokens are signed with it (TURN REST: password = base64(HMAC-SHA1(secret, user)))
# and ntsd's TURN side accepts them; without it, with the database's secret, stable over restarts.
set -u
. "$(dirname "$0")/lib.bash"

# hmac_ok SECRET TOKEN-JSON: the password is the HMAC of the username under SECRET.
hmac_ok() {
	"$PY" - "$1" "$2" <<'PYEOF'
import base64, hashlib, hmac, json, sys
t = json.loads(sys.argv[2])
mac = hmac.new(sys.argv[1].encode(), t["username"].encode(), hashlib.sha1).digest()
assert base64.b64encode(mac).decode() == t["password"], t
PYEOF
}
# other_hmac SECRET TOKEN-JSON: a token whose password is not the HMAC of its username under SECRET
# (a missing or unreadable token is no such token).
other_hmac() {
	"$PY" - "$1" "$2" <<'PYEOF'
import base64, hashlib, hmac, json, sys
t = json.loads(sys.argv[2])
assert t["username"] and t["password"], t
mac = hmac.new(sys.argv[1].encode(), t["username"].encode(), hashlib.sha1).digest()
assert base64.b64encode(mac).decode() != t["password"], t
PYEOF
}
token() {
	curl -sf -X POST -u "$sid:$auth_token" -d "Ttl=${1:-600}" \
		"$api_url/2010-04-01/Accounts/$sid/Tokens.json"
}
alloc() {
	"$PY" "$NTS_TOP/tests/api/turn_alloc.py" 127.0.0.1 "$turn_port" \
		"$(json_get username <<<"$1")" "$(json_get password <<<"$1")"
}

start_ntsd --secret "s3cret-one" --secret "s3cret-two" || { not_ok "ntsd starts"; tap_done; }
ok "ntsd starts with two --secret"
new_account "secret" || not_ok "account create"
tok=$(token)
check "the token is signed with the first --secret" hmac_ok "s3cret-one" "$tok"
res=$(alloc "$tok")
check "its credentials allocate ($res)" [ "${res%% *}" = ok ]
stop_ntsd

start_ntsd || not_ok "ntsd restarts without --secret"
tok=$(token)
check "without --secret the token is not signed with the old one" other_hmac "s3cret-one" "$tok"
res=$(alloc "$tok")
check "tokens signed with the database's secret allocate ($res)" [ "${res%% *}" = ok ]
stop_ntsd
start_ntsd || not_ok "ntsd restarts again"
res=$(alloc "$tok")
check "the database's secret survives a restart: the earlier token still allocates ($res)" \
	[ "${res%% *}" = ok ]
tap_done
