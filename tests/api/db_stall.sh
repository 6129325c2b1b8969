#!/usr/bin/env bash
# nts-test: exclusive (measures timing or loads both cores; runs alone, after the others)
# A database locked by another process delays the token API and usage, never relaying: ntsd's
# event loop keeps answering while db_stall.py holds SQLite's write lock across a usage flush.
set -u
. "$(dirname "$0")/lib.bash"

start_ntsd --unauth-rate 100000 || { not_ok "ntsd starts with the token API"; tap_done; }
ok "ntsd starts with the token API"
check "ntsctl account create makes an account" new_account "stall"
while read -r line; do
	case "$line" in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) not_ok "${line#not ok - }" ;;
	*) echo "# $line" ;;
	esac
done < <(timeout 120 "$PY" "$(dirname "$0")/db_stall.py" 127.0.0.1 "$turn_port" "$api_url" \
	"$sid" "$auth_token" "$db" 2>&1)
[ "$tap_n" -ge 9 ] || not_ok "every check ran ($tap_n of 9)"
tap_done
