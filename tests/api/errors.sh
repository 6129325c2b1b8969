#!/usr/bin/env bash
# curl against ntsd's token API: each error answer the way Twilio gives it (status, JSON
# {code, message, more_info, status}, headers), CORS preflight, /metrics format.
set -u
. "$(dirname "$0")/lib.bash"

start_ntsd || { not_ok "ntsd starts with the token API"; tap_done; }
ok "ntsd starts with the token API"
check "ntsctl account create makes an account" new_account "errors"
good_sid=$sid good_token=$auth_token
new_account "other" || not_ok "second account"
other_sid=$sid
tokens="$api_url/2010-04-01/Accounts/$good_sid/Tokens.json"

# req NAME CURL-ARGS...: runs curl, leaves the status in $status, headers in $tmp/NAME.h and the
# body in $tmp/NAME.b.
req() {
	local name=$1
	shift
	status=$(curl -s -o "$tmp/$name.b" -D "$tmp/$name.h" -w '%{http_code}' "$@")
}

# twilio_error NAME STATUS CODE: the body is exactly Twilio's four error fields with these values.
twilio_error() {
	"$PY" - "$tmp/$1.b" "$2" "$3" <<'PYEOF'
import json, sys
body = json.load(open(sys.argv[1]))
status, code = int(sys.argv[2]), int(sys.argv[3])
assert sorted(body) == ["code", "message", "more_info", "status"], body
assert body["status"] == status and body["code"] == code, body
assert isinstance(body["message"], str) and body["message"], body
assert body["more_info"] == "https://www.twilio.com/docs/errors/%d" % code, body
PYEOF
}

header() { grep -qi "^$2: $3" "$tmp/$1.h"; }

req ok -X POST -u "$good_sid:$good_token" -d Ttl=60 "$tokens"
check "valid request gets 201 Created" [ "$status" = 201 ]
check "201 is application/json; charset=utf-8" header ok Content-Type "application/json; charset=utf-8"

req noauth -X POST "$tokens"
check "no credentials: 401" [ "$status" = 401 ]
check "no credentials: code 20003 body" twilio_error noauth 401 20003
check "no credentials: WWW-Authenticate Basic" header noauth WWW-Authenticate "Basic"

req badtoken -X POST -u "$good_sid:00000000000000000000000000000000" "$tokens"
check "wrong AuthToken: 401 / 20003" twilio_error badtoken 401 20003
req badsid -X POST -u "AC00000000000000000000000000000000:$good_token" "$tokens"
check "unknown AccountSid: 401 / 20003" twilio_error badsid 401 20003

req mismatch -X POST -u "$good_sid:$good_token" \
	"$api_url/2010-04-01/Accounts/$other_sid/Tokens.json"
check "AccountSid in the path not the authenticated one: 404 / 20404" \
	twilio_error mismatch 404 20404

req nopath -X POST -u "$good_sid:$good_token" "$api_url/2010-04-01/Accounts/$good_sid/Calls.json"
check "unknown path: 404 / 20404" twilio_error nopath 404 20404
check "unknown path: message names it" grep -q "Calls.json" "$tmp/nopath.b"

req get -u "$good_sid:$good_token" "$tokens"
check "GET on Tokens.json: 405 / 20004" twilio_error get 405 20004
check "405 lists the allowed methods" header get Allow "POST, OPTIONS"
req delete -X DELETE -u "$good_sid:$good_token" "$tokens"
check "DELETE on Tokens.json: 405 / 20004" twilio_error delete 405 20004

for bad in 0 86401 abc -1 1.5 ""; do
	req "ttl$bad" -X POST -u "$good_sid:$good_token" --data-urlencode "Ttl=$bad" "$tokens"
	check "Ttl=$bad: 400 / 20001" twilio_error "ttl$bad" 400 20001
done
req ttldup -X POST -u "$good_sid:$good_token" -d Ttl=5 -d Ttl=6 "$tokens"
check "Ttl given twice: 400 / 20001" twilio_error ttldup 400 20001

head -c 8192 /dev/zero | tr '\0' 'a' >"$tmp/big"
req big -X POST -u "$good_sid:$good_token" --data-binary "@$tmp/big" "$tokens"
check "8 KiB body (declared length): 413" twilio_error big 413 20413
req bigchunked -X POST -u "$good_sid:$good_token" -H "Transfer-Encoding: chunked" \
	--data-binary "@$tmp/big" "$tokens"
check "8 KiB chunked body: 413" twilio_error bigchunked 413 20413

ntsctl account suspend "$good_sid" >/dev/null
req suspended -X POST -u "$good_sid:$good_token" "$tokens"
check "suspended account: 403 / 20005" twilio_error suspended 403 20005
ntsctl account activate "$good_sid" >/dev/null
req active -X POST -u "$good_sid:$good_token" "$tokens"
check "re-activated account: 201" [ "$status" = 201 ]

req options -X OPTIONS -H "Origin: https://app.example" \
	-H "Access-Control-Request-Method: POST" \
	-H "Access-Control-Request-Headers: authorization, content-type" "$tokens"
check "CORS preflight without credentials: 200" [ "$status" = 200 ]
check "preflight allows any origin" header options Access-Control-Allow-Origin "\*"
check "preflight allows POST" grep -qi "^Access-Control-Allow-Methods: .*POST" "$tmp/options.h"
check "preflight allows the Authorization header" \
	grep -qi "^Access-Control-Allow-Headers: .*Authorization" "$tmp/options.h"
check "error answers carry the CORS headers too" header noauth Access-Control-Allow-Origin "\*"
check "CORS never pairs the wildcard origin with credentials" \
	bash -c '! grep -qi "^Access-Control-Allow-Credentials" "$1"' _ "$tmp/options.h"

# DNS rebinding: a page of another name rebound to 127.0.0.1 sends its own name as Host.
req rebind_metrics -H "Host: rebind.example:$api_port" "$api_url/metrics"
check "/metrics with a foreign Host: 421 / 20421" twilio_error rebind_metrics 421 20421
req rebind_tokens -X POST -u "$good_sid:$good_token" -H "Host: rebind.example" "$tokens"
check "token API with a foreign Host: 421 / 20421" twilio_error rebind_tokens 421 20421
req localhost_metrics -H "Host: localhost:$api_port" "$api_url/metrics"
check "/metrics with Host localhost: 200" [ "$status" = 200 ]

# Two requests on one kept-alive connection, then 20 clients at once: MHD inside ntsd's loop
# serves them all.
codes=$(curl -s -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' -X POST \
	-u "$good_sid:$good_token" "$tokens" "$tokens")
check "two requests on one connection both get 201 ($(tr '\n' ' ' <<<"$codes"))" \
	[ "$(tr '\n' ' ' <<<"$codes")" = "201 1 201 0 " ]
pids=()
for i in $(seq 1 20); do
	curl -s -o /dev/null -w '%{http_code}\n' -X POST -u "$good_sid:$good_token" "$tokens" \
		>"$tmp/par.$i" &
	pids+=($!)
done
wait "${pids[@]}" # not a bare wait: ntsd is a child too
check "20 concurrent clients all get 201" [ "$(cat "$tmp"/par.* | grep -c '^201$')" = 20 ]

req metrics "$api_url/metrics"
check "/metrics: 200 text/plain version 0.0.4" header metrics Content-Type "text/plain; version=0.0.4"
check "/metrics counts tokens issued" grep -q "^nts_tokens_issued_total 24$" "$tmp/metrics.b"
check "/metrics carries no AccountSid" bash -c '! grep -q -e "$1" -e "$2" "$3"' _ "$good_sid" \
	"$other_sid" "$tmp/metrics.b"
check "/metrics has relayed bytes by direction and path" \
	grep -q '^nts_relayed_bytes_total{direction="client_to_peer",path="kernel"} ' "$tmp/metrics.b"
check "/metrics has requests by method" \
	grep -q '^nts_stun_requests_total{method="allocate"} ' "$tmp/metrics.b"
req metricspost -X POST "$api_url/metrics"
check "POST /metrics: 405" twilio_error metricspost 405 20004
tap_done
