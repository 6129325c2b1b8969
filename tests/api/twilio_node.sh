#!/usr/bin/env bash
# The npm `twilio` package, unmodified, against ntsd: tokens.create with and without a ttl, every
# field read back; then its TURN credentials allocate a relay and an expired token's get 401.
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
check "ntsctl account create makes an account" new_account "node client"
timeout 60 node "$NTS_TOP/tests/api/twilio_client.js" "$api_url" "$sid" "$auth_token" 127.0.0.1 \
	"$turn_port" $((tap_n + 1)) >"$tmp/client.out" 2>"$tmp/client.err"
rc=$?
grep -v '^# \(creds\|short\)' "$tmp/client.out"
next=$(sed -n 's/^# next //p' "$tmp/client.out")
tap_n=$((${next:-$((tap_n + 1))} - 1))
if [ "$rc" -ne 0 ]; then
	sed 's/^/# /' "$tmp/client.err"
	grep -q '^not ok' "$tmp/client.out" || not_ok "node client ran to the end (status $rc)"
	tap_failed=1
fi

read -r _ _ user pass < <(grep '^# creds ' "$tmp/client.out")
res=$("$PY" "$NTS_TOP/tests/api/turn_alloc.py" 127.0.0.1 "$turn_port" "${user:-none}" "${pass:-none}")
check "the token's TURN credentials allocate a relay ($res)" [ "${res%% *}" = ok ]
res=$("$PY" "$NTS_TOP/tests/api/turn_alloc.py" 127.0.0.1 "$turn_port" "${user:-none}" "x${pass:-}")
check "a wrong credential gets 401 ($res)" [ "${res:0:9}" = "error 401" ]

read -r _ _ user pass < <(grep '^# short ' "$tmp/client.out")
expiry=${user%%:*}
for _ in $(seq 1 50); do # bounded wait until the ttl=1 credentials are past their expiry
	[ "$(date +%s)" -gt "$((${expiry:-0} + 1))" ] && break
	sleep 0.1
done
res=$("$PY" "$NTS_TOP/tests/api/turn_alloc.py" 127.0.0.1 "$turn_port" "${user:-none}" "${pass:-none}")
check "credentials of a token whose ttl passed get 401 ($res)" [ "${res:0:9}" = "error 401" ]
tap_done
