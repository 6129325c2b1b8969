#!/usr/bin/env bash
# The npm `twilio` package, unmodified, on the Account and Key resources: subaccounts created,
# fetched and listed (filters, pages), suspended and reactivated (tokens minted before get 401
# meanwhile); API keys minting relaying tokens, refused for management, renamed and removed; a
# master suspended by the operator suspends its subaccounts; a master closing itself closes them.
set -u
. "$(dirname "$0")/lib.bash"

export NODE_PATH="$NTS_TOP/build/npm/node_modules"
if ! command -v node >/dev/null || [ ! -d "$NODE_PATH/twilio" ]; then
	# A required client: its absence fails (tools/deps.sh installs it and fails when it cannot).
	echo "not ok 1 - node and build/npm/node_modules/twilio are installed (tools/deps.sh)"
	exit 1
fi
start_ntsd || { not_ok "ntsd starts with the token API"; tap_done; }
ok "ntsd starts with the token API"
check "ntsctl account create makes a master account" new_account "node master"
PY="$PY" TURN_ALLOC="$NTS_TOP/tests/api/turn_alloc.py" \
	NTSCTL_ARGS="[\"$NTS_BUILD/ntsctl\", \"--ctl-socket\", \"$ctl\", \"--db\", \"$db\"]" \
	timeout 120 node "$NTS_TOP/tests/api/twilio_accounts.js" "$api_url" "$sid" "$auth_token" \
	127.0.0.1 "$turn_port" $((tap_n + 1)) >"$tmp/client.out" 2>"$tmp/client.err"
rc=$?
cat "$tmp/client.out"
tap_n=$((tap_n + $(grep -cE '^(not )?ok ' "$tmp/client.out")))
if [ "$rc" -ne 0 ]; then
	sed 's/^/# /' "$tmp/client.err"
	grep -q '^not ok' "$tmp/client.out" || not_ok "node client ran to the end (status $rc)"
	tap_failed=1
fi
tap_done
