#!/usr/bin/env bash
# Secrets at rest and in argv: ntsd's umask is 077 whatever it inherits, so its database (with
# -wal/-shm), its control socket and their directory are private; --secret on the command line is
# warned about without being printed; --secret-file and --user-file feed credentials that work
# (coturn's turnutils_uclient with -W and -u/-w); a --config holding secrets, or a secret file,
# that others may read is refused naming the file and the fix; ntsd and ntsctl default to the same
# absolute database path.
set -u
B=${NTS_BUILD:-$(pwd)/build}
tmp=$(mktemp -d /tmp/nts-secrets.XXXXXX)
. "$(dirname "$0")/turn_lib.bash"
trap turn_cleanup EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; failed=1; }
check() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
if ! command -v turnutils_uclient >/dev/null || ! command -v turnutils_peer >/dev/null; then
	echo "not ok 1 - coturn's turnutils_uclient/turnutils_peer are installed (tools/deps.sh)"
	exit 1
fi
mode_of() { stat -c '%a' "$1"; }

turn_pick_ports 25000 2000
PEER=$((PORT + 1))
turnutils_peer -p "$PEER" -L 127.0.0.1 >"$tmp/peer.log" 2>&1 &
turn_pids+=($!)

# 1. Started with umask 000 and a secret in argv.
ARGV_SECRET=argv-secret-$RANDOM$RANDOM
(
	umask 000
	exec "$B/ntsd" --listen "127.0.0.1:$PORT" --relay-ports "$RMIN-$RMAX" --no-api \
		--db "$tmp/state/nts.db" --ctl-socket "$tmp/run/ntsd.sock" --pin-dir "$tmp/pin" \
		--secret "$ARGV_SECRET" >"$tmp/ntsd.log" 2>&1
) &
pid=$!
turn_pids+=("$pid")
for _ in $(seq 1 50); do grep -q started "$tmp/ntsd.log" && break; sleep 0.1; done
check "ntsd starts with umask 000 inherited" grep -q started "$tmp/ntsd.log"
check "ntsd's umask is 077" grep -qx $'Umask:\t0077' "/proc/$pid/status"
files_private() {
	local f rc=0
	for f in "$tmp/state/nts.db" "$tmp/state/nts.db-wal" "$tmp/state/nts.db-shm" \
		"$tmp/run/ntsd.sock"; do
		[ "$(mode_of "$f")" = 600 ] || { echo "# $f: mode $(mode_of "$f")"; rc=1; }
	done
	for f in "$tmp/state" "$tmp/run"; do
		[ "$(mode_of "$f")" = 700 ] || { echo "# $f: mode $(mode_of "$f")"; rc=1; }
	done
	return $rc
}
check "database, -wal, -shm and control socket are 0600, their directories 0700" files_private
check "--secret on the command line is warned about" \
	grep -q "warning: --secret/--user on the command line.*/proc/PID/cmdline" "$tmp/ntsd.log"
check "the warning never prints the secret" bash -c "! grep -q '$ARGV_SECRET' '$tmp/ntsd.log'"
kill "$pid"
wait "$pid" 2>/dev/null

# 2. The same credentials from files: no warning, and clients authenticate with them.
printf '# signing secret first\nfile-secret-1\n\n  file-secret-2  \n' >"$tmp/secrets"
printf 'alice:wonderland\n' >"$tmp/users"
chmod 600 "$tmp/secrets" "$tmp/users"
mv "$tmp/ntsd.log" "$tmp/ntsd.1.log"
turn_start_ntsd --listen "127.0.0.1:$PORT" --allow-peer 127.0.0.0/8 --allow-peer 127.0.0.1 --secret-file "$tmp/secrets" \
	--user-file "$tmp/users" || exit 1
check "no argv warning with --secret-file and --user-file" \
	bash -c "! grep -q 'on the command line' '$tmp/ntsd.log'"
uclient() { # name, credentials...: a short channel session; every message sent came back
	local name=$1 log=$tmp/uclient.$1 rc sm rm
	shift
	timeout 60 turnutils_uclient -p "$PORT" -n 10 -m 1 -l 100 -z 5 "$@" -e 127.0.0.1 -r "$PEER" \
		127.0.0.1 >"$log" 2>&1
	rc=$?
	sm=$(sed -n 's/.*tot_send_msgs=\([0-9]*\), tot_recv_msgs=.*/\1/p' "$log" | tail -1)
	rm=$(sed -n 's/.*tot_send_msgs=[0-9]*, tot_recv_msgs=\([0-9]*\).*/\1/p' "$log" | tail -1)
	[ "$rc" -eq 0 ] && [ "${sm:-0}" -gt 0 ] && [ "${rm:-x}" = "$sm" ] && return 0
	echo "# uclient $name: rc=$rc sent=${sm:-?} received=${rm:-?}"
	return 1
}
check "ephemeral credentials signed with the secret file's first line authenticate" \
	uclient eph -u AC0123456789abcdef0123456789abcdef -W file-secret-1
check "... and with its second line (every secret verifies)" \
	uclient eph2 -u AC0123456789abcdef0123456789abcdef -W file-secret-2
check "a static user from --user-file authenticates" uclient static -u alice -w wonderland
kill "${turn_pids[-1]}"
wait "${turn_pids[-1]}" 2>/dev/null

# 3. Files others may read are refused, naming the file and the fix, before anything starts.
refused() { # description, file, mode, ntsd args...
	local what=$1 file=$2 mode=$3 rc
	shift 3
	chmod "$mode" "$file"
	"$B/ntsd" --listen "127.0.0.1:$PORT" --no-api --db "$tmp/refused/nts.db" \
		--ctl-socket "$tmp/refused.sock" "$@" >"$tmp/refused.out" 2>&1
	rc=$?
	chmod 600 "$file"
	if [ "$rc" -eq 2 ] && grep -q "$file" "$tmp/refused.out" &&
		grep -q "chmod 600 $file" "$tmp/refused.out" && [ ! -e "$tmp/refused" ]; then
		ok "$what"
	else
		not_ok "$what (exit $rc)"
		sed 's/^/#   /' "$tmp/refused.out"
	fi
}
printf 'realm = r\nsecret = in-config\n' >"$tmp/nts.conf"
refused "a --config with a secret line readable by its group is refused" "$tmp/nts.conf" 640 \
	--config "$tmp/nts.conf"
printf 'realm = r\nuser = bob:builder\n' >"$tmp/nts.conf"
refused "a --config with a user line readable by others is refused" "$tmp/nts.conf" 604 \
	--config "$tmp/nts.conf"
refused "a --secret-file readable by others is refused" "$tmp/secrets" 644 \
	--secret-file "$tmp/secrets"
refused "a --user-file readable by its group is refused" "$tmp/users" 640 --user-file "$tmp/users"
printf 'realm = shared\n' >"$tmp/shared.conf"
chmod 644 "$tmp/shared.conf"
check "a --config without secrets may be world-readable" \
	"$B/ntsd" --config "$tmp/shared.conf" --help

# 4. One absolute default database for ntsd and ntsctl, whatever the working directory.
check "ntsd's default --db is /var/lib/nts/nts.db" \
	bash -c "'$B/ntsd' --help | grep -- '--db PATH' | grep -q '(default /var/lib/nts/nts.db)'"
check "ntsctl's default --db is ntsd's" \
	bash -c "'$B/ntsctl' --help | grep -q -- '--db /var/lib/nts/nts.db'"

echo "1..$n"
if [ "$failed" -ne 0 ]; then
	for f in "$tmp"/ntsd*.log; do echo "# $f:"; tail -n 8 "$f" | sed 's/^/#   /'; done
fi
exit "$failed"
