#!/usr/bin/env bash
# ntsd speaks systemd's readiness protocol (sd_notify(3), user/ntsd/notify.c): with NOTIFY_SOCKET
# set it sends READY=1 only once its listeners answer, WATCHDOG=1 at half of WATCHDOG_USEC with a
# STATUS= line that counts the allocations, RELOADING=1 then READY=1 around a SIGHUP, and
# STOPPING=1 on SIGTERM. A python listener plays
# systemd; it probes the listeners named in READY's STATUS line the moment READY arrives.
set -u
. "$(dirname "$0")/../api/lib.bash"

tmp=$(mktemp -d /tmp/nts-notify-test.XXXXXX)
log="$tmp/notify.log"
"$PY" "$NTS_TOP/tests/pkg/notify_listener.py" "$tmp/notify.sock" "$log" 60 &
listener=$!
cleanup() {
	kill "$listener" 2>/dev/null
	wait "$listener" 2>/dev/null
	api_cleanup
}
trap cleanup EXIT
for _ in $(seq 1 50); do [ -S "$tmp/notify.sock" ] && break; sleep 0.1; done

# wait_for PATTERN [COUNT]: until the log has COUNT lines matching PATTERN (5 s at most).
wait_for() {
	local want=${2:-1}
	for _ in $(seq 1 50); do
		[ "$(grep -cE "$1" "$log")" -ge "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

# 400 ms watchdog: a keep-alive every 200 ms.
export NOTIFY_SOCKET="$tmp/notify.sock" WATCHDOG_USEC=400000
printf 'alice:wonderland\n' >"$tmp/users"
chmod 600 "$tmp/users"
start_ntsd --user-file "$tmp/users" || { not_ok "ntsd starts under NOTIFY_SOCKET"; tap_done; }
trap cleanup EXIT # start_ntsd installs its own
unset NOTIFY_SOCKET WATCHDOG_USEC

check "READY=1 arrives with the listeners in STATUS" wait_for '^READY=1\|STATUS=.*udp 127\.0\.0\.1:'
check "the UDP listener answered a Binding the moment READY arrived" wait_for '^probe udp ok'
check "the TCP listener accepted the moment READY arrived" wait_for '^probe tcp ok'
check "READY=1 is sent once at start" test "$(grep -c '^READY=1' "$log")" -eq 1
check "WATCHDOG=1 keep-alives arrive (3 within 5 s at a 200 ms period)" wait_for '^WATCHDOG=1\|' 3
check "with them, STATUS= counts the live allocations" wait_for '^WATCHDOG=1\|STATUS=serving, allocations: 0$'
# One allocation held (a static user; it outlives the client's socket), then its count.
echo "alice wonderland" | "$PY" "$NTS_TOP/tests/api/turn_hold.py" 127.0.0.1 "$turn_port" >"$tmp/hold.out" 2>&1
check "STATUS= follows the allocation count (1 once a client holds one)" \
	wait_for 'STATUS=serving, allocations: 1$'
grep -q '^allocated=1 ' "$tmp/hold.out" || sed 's/^/# /' "$tmp/hold.out"

kill -HUP "$ntsd_pid"
check "SIGHUP sends RELOADING=1 with MONOTONIC_USEC" wait_for '^RELOADING=1\|.*MONOTONIC_USEC=[0-9]+'
check "READY=1 follows the reload" wait_for '^READY=1' 2
check "no STOPPING=1 before the stop" test "$(grep -c '^STOPPING=1' "$log")" -eq 0

stop_ntsd
check "SIGTERM sends STOPPING=1" wait_for '^STOPPING=1'
last=$(grep -E '^(READY|RELOADING|STOPPING)=1' "$log" | tail -n 1)
check "STOPPING=1 is the last state sent" test "${last%%|*}" = STOPPING=1
if ! grep -q 'WATCHDOG' "$log" || [ "$tap_failed" -ne 0 ]; then sed 's/^/# /' "$log"; fi
tap_done
