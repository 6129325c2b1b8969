# Shared by tests/interop/turn_*.sh (sourced, not a suite): TAP helpers, unique ports, ntsd started
# in a temp dir and waited for, stopped with SIGTERM and checked for a clean exit, cleanup of
# everything started. Callers set B (build dir) and tmp (temp dir).

turn_pids=() # ntsd first, then helpers (peers)
n=0 failed=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() {
	n=$((n + 1))
	echo "not ok $n - $1"
	failed=$((failed + 1))
}

turn_cleanup() {
	local p
	for p in "${turn_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${turn_pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}

# turn_sanitizer_report LOG: true when LOG holds an AddressSanitizer/LeakSanitizer/UBSan report.
turn_sanitizer_report() { grep -qE 'Sanitizer|runtime error' "$1"; }

# turn_stop_ntsd: SIGTERM to ntsd (waiting at most 10 s, then SIGKILL), then one TAP line: it exits
# with status 0 and its log holds no sanitizer report (make test SAN=1 reads leaks here).
turn_stop_ntsd() {
	local pid=${turn_pids[0]} rc _
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	turn_pids=("${turn_pids[@]:1}")
	if [ "$rc" -eq 0 ] && ! turn_sanitizer_report "$tmp/ntsd.log"; then
		pass "ntsd exits cleanly on SIGTERM, no sanitizer report"
	else
		fail "ntsd exits cleanly on SIGTERM, no sanitizer report (status $rc)"
		grep -A30 -E 'Sanitizer|runtime error' "$tmp/ntsd.log" | head -60 | sed 's/^/#   /'
		tail -n 5 "$tmp/ntsd.log" | sed 's/^/#   /'
	fi
}

# turn_done [MIN]: stops ntsd (one more check), fails when fewer than MIN checks ran, prints the
# plan and exits with the verdict.
turn_done() {
	turn_stop_ntsd
	[ "$n" -ge "${1:-0}" ] || fail "every check ran ($n of $1)"
	echo "1..$n"
	[ "$failed" -eq 0 ]
	exit
}

turn_port_free() { ! ss -Hlun "sport = :$1" | grep -q . && ! ss -Hltn "sport = :$1" | grep -q .; }

# turn_pick_ports BASE SPAN: sets PORT (even, free, PORT+1 free too) in BASE..BASE+2*SPAN and a
# 100-port relay range RMIN-RMAX in 30000-59999, so concurrent runs do not collide.
turn_pick_ports() {
	local _
	for _ in $(seq 1 50); do
		PORT=$(($1 + (RANDOM % $2) * 2))
		turn_port_free "$PORT" && turn_port_free $((PORT + 1)) && break
	done
	RMIN=$((30000 + (RANDOM % 300) * 100))
	RMAX=$((RMIN + 99))
}

# turn_start_ntsd ARGS...: starts ntsd with its state under $tmp; prints a failing TAP line and
# returns 1 when it has not said "started" within 5 s.
turn_start_ntsd() {
	local _
	"$B/ntsd" --relay-ports "$RMIN-$RMAX" --no-api --db "$tmp/nts.db" \
		--ctl-socket "$tmp/ctl.sock" --pin-dir "$tmp/pin" "$@" >"$tmp/ntsd.log" 2>&1 &
	turn_pids+=($!)
	for _ in $(seq 1 50); do
		grep -q "started" "$tmp/ntsd.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "not ok 1 - ntsd starts"
	sed 's/^/# /' "$tmp/ntsd.log"
	return 1
}

# turn_run_py LOG COMMAND...: runs a Python checker printing "ok - ..."/"not ok - ..." lines; each
# becomes a numbered check here, other lines comments; a non-zero exit status (a crash, a timeout)
# without a failing check is one more failure.
turn_run_py() {
	local log=$1 line rc before=$failed
	shift
	"$@" >"$log" 2>&1
	rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) pass "${line#ok - }" ;;
		"not ok - "*) fail "${line#not ok - }" ;;
		*) echo "# $line" ;;
		esac
	done <"$log"
	if [ "$rc" -ne 0 ] && [ "$failed" -eq "$before" ]; then
		fail "$* exited with status $rc without a failing check"
		tail -n 15 "$log" | sed 's/^/#   /'
	fi
}
