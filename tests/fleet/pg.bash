# A throwaway PostgreSQL server for tests, sourced (named .bash so tests/run.sh does not run it):
# Debian's initdb and pg_ctl run as an unprivileged user (nobody, when started by root) on a
# cluster in a temporary directory of its own, listening on a Unix socket in that directory and on
# 127.0.0.1 at a free port, with trust authentication (local only) and no fsync.
#
#   pg_available     true when the server binaries are installed (else skip the suite)
#   pg_start         creates the cluster and database "nts" at the first call (arguments are
#                    ignored), then starts the server (again, after pg_stop: same data, same
#                    port); exports NTS_TEST_PG_URL; adds pg_cleanup to the EXIT trap
#   pg_url           prints the URL through the Unix socket, which works from any network
#                    namespace: postgresql://nts@/nts?host=DIR/sock&port=PORT
#   pg_tcp_url       prints the URL over TCP: postgresql://nts@127.0.0.1:PORT/nts
#   pg_stop          stops the server (fast shutdown: open connections are cut), keeping its data
#   pg_restart       pg_stop, then pg_start
#   pg_psql SQL      runs SQL on the database and prints the rows unaligned (psql -At)
#   pg_cleanup       stops the server and removes the cluster (run at exit by the EXIT trap that
#                    was set when pg_start ran, after that trap's own commands; a trap set later
#                    must call it)
#
# The cluster's files and server log are in $pg_dir (the log: $pg_dir/server.log).

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
pg_dir=
pg_port=

pg_available() { [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/pg_ctl" ]; }

# Runs a server binary as the cluster's owner.
_pg_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}

_pg_free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		if [ -z "$(ss -Htuln "sport = :$p" 2>/dev/null)" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

pg_url() { echo "postgresql://nts@/nts?host=$pg_dir/sock&port=$pg_port"; }
pg_tcp_url() { echo "postgresql://nts@127.0.0.1:$pg_port/nts"; }

pg_psql() {
	"$pg_bin/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$(pg_url)" -c "$1"
}

# Appends pg_cleanup to the EXIT trap (trap -p prints it quoted for the shell to read back).
_pg_trap_exit() {
	local prev=
	[ -n "$(trap -p EXIT)" ] && eval "set -- $(trap -p EXIT)" && prev=$3
	trap -- "${prev:+$prev; }pg_cleanup" EXIT
}

pg_start() {
	pg_available || { echo "# pg.bash: no PostgreSQL server binaries" >&2; return 1; }
	if [ -z "$pg_dir" ]; then
		pg_dir=$(mktemp -d /tmp/nts-pg.XXXXXX) || return 1
		_pg_trap_exit
		chmod 755 "$pg_dir"
		mkdir "$pg_dir/data" "$pg_dir/sock"
		[ "$(id -u)" -eq 0 ] && chown nobody: "$pg_dir" "$pg_dir/data" "$pg_dir/sock"
		pg_port=$(_pg_free_port) || return 1
		if ! (cd "$pg_dir" && _pg_as_owner "$pg_bin/initdb" -D "$pg_dir/data" -U nts \
			-A trust -E UTF8 --no-sync >"$pg_dir/initdb.log" 2>&1); then
			echo "# pg.bash: initdb failed:" >&2
			sed 's/^/#   /' "$pg_dir/initdb.log" >&2
			return 1
		fi
		cat >>"$pg_dir/data/postgresql.conf" <<-EOF
			listen_addresses = '127.0.0.1'
			port = $pg_port
			unix_socket_directories = '$pg_dir/sock'
			fsync = off
			synchronous_commit = off
			full_page_writes = off
			shared_buffers = 16MB
			max_connections = 40
		EOF
		_pg_server_start || return 1
		"$pg_bin/createdb" -h "$pg_dir/sock" -p "$pg_port" -U nts nts || return 1
	else
		_pg_server_start || return 1
	fi
	NTS_TEST_PG_URL=$(pg_url)
	export NTS_TEST_PG_URL
}

_pg_server_start() {
	if ! (cd "$pg_dir" && _pg_as_owner "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" \
		-w -t 30 start >/dev/null); then
		echo "# pg.bash: the server did not start:" >&2
		tail -n 20 "$pg_dir/server.log" | sed 's/^/#   /' >&2
		return 1
	fi
}

pg_stop() {
	[ -n "$pg_dir" ] || return 0
	(cd "$pg_dir" && _pg_as_owner "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w -t 30 stop \
		>/dev/null)
}

pg_restart() { pg_stop && pg_start; }

pg_cleanup() {
	[ -n "$pg_dir" ] || return 0
	if [ -f "$pg_dir/data/postmaster.pid" ]; then
		(cd "$pg_dir" && _pg_as_owner "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w -t 30 \
			stop >/dev/null 2>&1)
	fi
	rm -rf "$pg_dir"
	pg_dir=
}
