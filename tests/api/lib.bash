# Shared by tests/api/*.sh, sourced (named .bash so tests/run.sh does not run it as a suite):
# TAP helpers and a throwaway ntsd on loopback with its own database, control socket and free
# ports, killed and removed on exit.
# Needs NTS_BUILD (tests/run.sh sets it); NTS_TOP defaults to the repository root.

NTS_TOP=${NTS_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NTS_BUILD=${NTS_BUILD:-$NTS_TOP/build}
PY=/usr/bin/python3
tap_n=0
tap_failed=0

# Every HTTP request is bounded in time.
curl() { command curl --max-time 20 "$@"; }

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=1; echo "not ok $tap_n - $*"; }
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# tap_done: stops ntsd (one more check), prints the plan and exits with the verdict.
tap_done() {
	[ -n "${ntsd_pid:-}" ] && stop_ntsd
	echo "1..$tap_n"
	exit "$tap_failed"
}

# A TCP and UDP port nobody uses on loopback, from a range clear of the relay ports (49152+).
free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768+)
		if [ -z "$(ss -Htuln "sport = :$p" 2>/dev/null)" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

api_cleanup() {
	if [ -n "${ntsd_pid:-}" ]; then
		kill "$ntsd_pid" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$ntsd_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$ntsd_pid" 2>/dev/null
		wait "$ntsd_pid" 2>/dev/null
	fi
	[ -n "${tmp:-}" ] && rm -rf "$tmp"
}

# start_ntsd [EXTRA ARGS...]: runs ntsd in the background (api_scheme=https and api_cacert=FILE
# when the API serves TLS); sets tmp, turn_port, api_port, api_url,
# ctl (socket), db, ntsd_pid, ntsd_out/ntsd_err (its stdout/stderr); waits until the API answers.
start_ntsd() {
	[ -n "${tmp:-}" ] || tmp=$(mktemp -d /tmp/nts-api-test.XXXXXX)
	trap api_cleanup EXIT
	local attempt
	# Another process may take a port between the check and ntsd's bind: pick again, at most 3 times.
	for attempt in 1 2 3; do
		turn_port=$(free_port) && api_port=$(free_port) || { echo "# no free port"; return 1; }
		while [ "$api_port" = "$turn_port" ]; do api_port=$(free_port); done
		api_url="${api_scheme:-http}://127.0.0.1:$api_port"
		ctl="$tmp/ntsd.sock"
		db="$tmp/var/nts.db"
		ntsd_out="$tmp/ntsd.out"
		ntsd_err="$tmp/ntsd.err"
		"$NTS_BUILD/ntsd" --listen "127.0.0.1:$turn_port" --api-listen "127.0.0.1:$api_port" \
			--db "$db" --ctl-socket "$ctl" "$@" >"$ntsd_out" 2>"$ntsd_err" &
		ntsd_pid=$!
		for _ in $(seq 1 100); do
			if curl -s -o /dev/null ${api_cacert:+--cacert "$api_cacert"} "$api_url/metrics"; then
				return 0
			fi
			kill -0 "$ntsd_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$ntsd_pid" 2>/dev/null && break
		wait "$ntsd_pid" 2>/dev/null
		grep -q "Address already in use" "$ntsd_err" || break
		echo "# attempt $attempt: a port was taken meanwhile; picking others"
	done
	echo "# ntsd did not come up:"
	sed 's/^/#   /' "$ntsd_err"
	return 1
}

# stop_ntsd: SIGTERM, then one TAP line: a clean exit (status 0) without sanitizer reports.
stop_ntsd() {
	local rc
	kill "$ntsd_pid" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$ntsd_pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$ntsd_pid" 2>/dev/null
	wait "$ntsd_pid" 2>/dev/null
	rc=$?
	ntsd_pid=
	if [ "$rc" -eq 0 ] && ! grep -qE 'Sanitizer|runtime error' "$ntsd_err"; then
		ok "ntsd stops cleanly on SIGTERM"
	else
		not_ok "ntsd stops cleanly on SIGTERM (status $rc)"
		grep -A20 -E 'Sanitizer|runtime error' "$ntsd_err" | head -40 | sed 's/^/# /'
	fi
}

ntsctl() { "$NTS_BUILD/ntsctl" --ctl-socket "$ctl" --db "$db" "$@"; }

# json_get KEY < JSON: prints a top-level string/number field.
json_get() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# new_account NAME: creates an account through ntsd; sets sid and auth_token.
new_account() {
	local j
	j=$(ntsctl account create "$1" --json) || return 1
	sid=$(json_get sid <<<"$j") && auth_token=$(json_get auth_token <<<"$j")
}
