#!/usr/bin/env bash
# Debian's python3-twilio, unmodified, on the Account and Key resources: subaccounts created,
# fetched, listed with filters and pages, suspended (their live allocations end before the
# answer, their tokens get 401) and reactivated, closed for good; API keys minting tokens that
# relay, refused for account and key management, renamed and deleted (then 401); a subaccount
# cannot reach its master or its siblings.
set -u
. "$(dirname "$0")/lib.bash"

if ! "$PY" -c 'import twilio' 2>/dev/null; then
	echo "not ok 1 - python3-twilio is installed (tools/deps.sh)"
	exit 1
fi
start_ntsd || { not_ok "ntsd starts with the token API"; tap_done; }
ok "ntsd starts with the token API"
check "ntsctl account create makes a master account" new_account "python master"
NTSCTL="$NTS_BUILD/ntsctl" NTS_CTL="$ctl" NTS_DB="$db" timeout 120 "$PY" \
	"$NTS_TOP/tests/api/twilio_accounts.py" "$api_url" "$sid" "$auth_token" 127.0.0.1 \
	"$turn_port" $((tap_n + 1)) >"$tmp/client.out" 2>"$tmp/client.err"
rc=$?
cat "$tmp/client.out"
tap_n=$((tap_n + $(grep -cE '^(not )?ok ' "$tmp/client.out")))
if [ "$rc" -ne 0 ]; then
	sed 's/^/# /' "$tmp/client.err"
	grep -q '^not ok' "$tmp/client.out" || not_ok "python client ran to the end (status $rc)"
	tap_failed=1
fi
tap_done
