# Shared by the tests/netns/*.sh suites (sourced, not run: the runner runs only *.sh): TAP helpers,
# entering a namespace, and stopping ntsd cleanly. Each suite sets n=0 failed=0 and ntsd_pid, tmp.

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; failed=1; }
check() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
# Namespaces are entered with nsenter --net, not `ip netns exec`, which remounts /sys and hides the
# bpffs where the maps are pinned.
in_ns() { local ns=$1; shift; nsenter --net=/var/run/netns/"$ns" "$@"; }

# ntsd_stop_clean: SIGTERM to $ntsd_pid (at most 10 s, then SIGKILL); true when it exited with status
# 0 and $tmp/ntsd.log holds no sanitizer report (make test SAN=1 reads leaks here).
ntsd_stop_clean() {
	local rc _
	kill -TERM "$ntsd_pid" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$ntsd_pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$ntsd_pid" 2>/dev/null
	wait "$ntsd_pid" 2>/dev/null
	rc=$?
	ntsd_pid=
	echo "# ntsd exit status $rc"
	[ "$rc" -eq 0 ] && ! grep -qE 'Sanitizer|runtime error' "$tmp/ntsd.log"
}
# check_ntsd_stops_clean: the TAP line for ntsd_stop_clean, with any sanitizer report shown.
check_ntsd_stops_clean() {
	check "ntsd exits cleanly on SIGTERM, no sanitizer report" ntsd_stop_clean
	grep -A30 -E 'Sanitizer|runtime error' "$tmp/ntsd.log" | head -60 | sed 's/^/#   /'
}
