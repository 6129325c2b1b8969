#!/usr/bin/env bash
# Debian's python3-twilio, unmodified, against ntsd: tokens.create with and without a ttl, every
# field read back, the TURN credentials allocate a relay, an expired token's credentials get 401.
set -u
. "$(dirname "$0")/lib.bash"

if ! "$PY" -c 'import twilio' 2>/dev/null; then
	echo "not ok 1 - python3-twilio is installed (tools/deps.sh)"
	exit 1
fi
start_ntsd || { not_ok "ntsd starts with the token API"; tap_done; }
ok "ntsd starts with the token API"
check "ntsctl account create makes an account" new_account "python client"
timeout 120 "$PY" "$NTS_TOP/tests/api/twilio_client.py" "$api_url" "$sid" "$auth_token" 127.0.0.1 \
	"$turn_port" $((tap_n + 1)) >"$tmp/client.out" 2>"$tmp/client.err"
rc=$?
cat "$tmp/client.out"
tap_n=$(sed -n 's/^# next //p' "$tmp/client.out")
tap_n=$((${tap_n:-$((tap_n + 1))} - 1))
if [ "$rc" -ne 0 ]; then
	sed 's/^/# /' "$tmp/client.err"
	grep -q '^not ok' "$tmp/client.out" || not_ok "python client ran to the end (status $rc)"
	tap_failed=1
fi
metric=$(curl -s "$api_url/metrics" | sed -n 's/^nts_tokens_issued_total //p')
check "/metrics counts the tokens issued (4, got ${metric:-none})" [ "${metric:-0}" -eq 4 ]
tap_done
