#!/usr/bin/env bash
# The token API over HTTPS (--api-cert/--api-key), and turns: URLs exactly when ntsd listens on TLS.
set -u
. "$(dirname "$0")/lib.bash"

tmp=$(mktemp -d /tmp/nts-api-test.XXXXXX)
trap api_cleanup EXIT
if ! openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-days 2 -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1; then
	not_ok "openssl makes a test certificate"
	tap_done
fi
tls_port=$(free_port)
api_scheme=https api_cacert="$tmp/cert.pem"
start_ntsd --api-cert "$tmp/cert.pem" --api-key "$tmp/key.pem" --tls-listen "127.0.0.1:$tls_port" \
	--cert "$tmp/cert.pem" --key "$tmp/key.pem" || { not_ok "ntsd starts with an HTTPS API"; tap_done; }
ok "ntsd serves the API over HTTPS (verified against the test certificate)"
# curl must reach the port and be refused by the TLS server (an empty reply or a reset: 52, 56,
# or an HTTP error status), not fail to connect (7) or time out (28).
plain=$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$api_port/metrics")
prc=$?
plain_refused() { case $prc in 52 | 56) true ;; 0) [ "$plain" != 200 ] ;; *) false ;; esac; }
check "plain HTTP is not answered on the HTTPS port (curl status $prc, HTTP $plain)" plain_refused
new_account "tls" || not_ok "account create"
body=$(curl -sf --cacert "$tmp/cert.pem" -X POST -u "$sid:$auth_token" \
	"$api_url/2010-04-01/Accounts/$sid/Tokens.json")
got=$(json_get account_sid <<<"$body" 2>/dev/null)
check "POST Tokens.json over HTTPS gets a token for the account" [ -n "$sid" -a "$got" = "$sid" ]

# The negative half (no turns: without a TLS listener) is tests/unit/test_api_route.c's.
listening_on_tls() { [ -n "$(ss -Htln "sport = :$tls_port" 2>/dev/null)" ]; }
check "ntsd listens on its TLS port $tls_port" listening_on_tls
check "the token lists turns:127.0.0.1:$tls_port?transport=tcp" \
	grep -qF "turns:127.0.0.1:$tls_port?transport=tcp" <<<"$body"
tap_done
