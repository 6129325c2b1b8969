# Shared by tests/browser/*.sh (sourced, not a suite): what the browser tests need, and checks
# printed by the Node and Python drivers turned into numbered TAP lines. Sources
# tests/netns/lib.bash (ok/not_ok/check, in_ns, ntsd_stop_clean); callers set n=0 failed=0, tmp.

NTS_TOP=${NTS_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
B=${NTS_BUILD:-$NTS_TOP/build}
PY=/usr/bin/python3
export NODE_PATH="$NTS_TOP/build/npm/node_modules"
. "$NTS_TOP/tests/netns/lib.bash"

# browser_require: root, the binaries, chromium and playwright-core (tools/deps.sh installs them;
# a missing one is a failure, not a skip).
browser_require() {
	local tool
	[ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespaces)"
	for tool in chromium node nsenter nft curl; do
		command -v "$tool" >/dev/null || { echo "not ok 1 - $tool is installed (tools/deps.sh)"; exit 1; }
	done
	[ -d "$NODE_PATH/playwright-core" ] ||
		{ echo "not ok 1 - $NODE_PATH/playwright-core is installed (tools/deps.sh)"; exit 1; }
	[ -x "$B/ntsd" ] && [ -x "$B/ntsctl" ] || { echo "not ok 1 - $B/ntsd and ntsctl are built"; exit 1; }
}

# run_checks LOG COMMAND...: runs a driver printing "ok - ..."/"not ok - ..." lines; each becomes a
# numbered check, other lines comments. A non-zero exit without a failing check is one more failure.
run_checks() {
	local log=$1 line rc before=$failed
	shift
	"$@" >"$log" 2>&1
	rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) not_ok "${line#not ok - }" ;;
		*) echo "# $line" ;;
		esac
	done <"$log"
	if [ "$rc" -ne 0 ] && [ "$failed" -eq "$before" ]; then
		not_ok "$(basename "$2") exited with status $rc without a failing check"
	fi
}

# wait_for SECONDS COMMAND...: true as soon as COMMAND succeeds (polled every 0.1 s).
wait_for() {
	local i limit=$(($1 * 10))
	shift
	for ((i = 0; i < limit; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
