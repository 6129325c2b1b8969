#!/usr/bin/env bash
# The Debian package end to end: `make deb` builds it from the binaries in build/ (lintian without
# errors), dpkg installs it (user nts from sysusers.d, units, man pages, completion, conffile), the
# installed units verify, and the packaged ntsd runs the way ntsd.service would run it: as nts,
# with the unit's capabilities, umask, no_new_privs and directories, read from the installed unit
# file; the test waits for READY=1 as systemd does. nts-fastpath@.service's commands, run the same
# way, attach the XDP program while ntsd runs, and ntsd adopts the maps with CAP_BPF alone. A
# token from the API then relays a TURN session (coturn's turnutils_uclient to a loopback echo
# peer). dpkg purges the package, and nothing of it is left but the system user nts, which Debian
# leaves (README "Install").
# systemd is not PID 1 on every test host, so the sandbox settings that only systemd can apply
# (namespaces, seccomp, Protect*) are checked by systemd-analyze, not exercised here.
set -u
NTS_TOP=${NTS_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
NTS_BUILD=${NTS_BUILD:-$NTS_TOP/build}
PY=/usr/bin/python3
. "$NTS_TOP/tests/netns/lib.bash"
n=0 failed=0
id=$$
tmp=$(mktemp -d /tmp/nts-deb-test.XXXXXX)
pins=/sys/fs/bpf/nts-deb-$id
NS=ntsdeb$id
unit=/lib/systemd/system/ntsd.service
ntsd_pid= peer_pid= listener_pid= user_was_there=
bpffs_mode=$(stat -c %a /sys/fs/bpf) # nts-fastpath@ opens it for search; put back at the end
getent passwd nts >/dev/null && user_was_there=1

# dpkg_retry ARGS...: dpkg, waiting (60 s at most) while another apt or dpkg holds its lock.
dpkg_retry() {
	local _
	for _ in $(seq 1 60); do
		dpkg "$@" >"$tmp/dpkg.out" 2>&1 && return 0
		grep -qiE 'lock' "$tmp/dpkg.out" || break
		sleep 1
	done
	sed 's/^/#   /' "$tmp/dpkg.out"
	return 1
}
cleanup() {
	[ -n "$ntsd_pid" ] && kill -KILL "$ntsd_pid" 2>/dev/null
	for p in $peer_pid $listener_pid; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if dpkg-query -W -f='${Status}' nts 2>/dev/null | grep -q 'ok installed\|config-files'; then
		dpkg_retry --purge nts
	fi
	[ -z "$user_was_there" ] && getent passwd nts >/dev/null && userdel nts 2>/dev/null
	[ -z "$user_was_there" ] && getent group nts >/dev/null && groupdel nts 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$pins" "$tmp"
	[ -n "$bpffs_mode" ] && chmod "$bpffs_mode" /sys/fs/bpf
}

[ "$(id -u)" -eq 0 ] || skip_all "installs a package: needs root"
[ "$NTS_BUILD" = "$NTS_TOP/build" ] || skip_all "the package is built from build/, not $NTS_BUILD"
# An nts installed or configured here (not by this test) is somebody's: leave it alone.
if dpkg-query -W nts >/dev/null 2>&1 || [ -e /etc/nts ] || [ -e /var/lib/nts ] || [ -e /run/nts ]; then
	skip_all "nts is already installed or configured on this host (/etc/nts, /var/lib/nts)"
fi
trap cleanup EXIT

# ---- build ----
version=$(cd "$NTS_TOP" && dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$NTS_TOP/build/nts_${version}_${arch}.deb
rm -f "$deb"
if make -C "$NTS_TOP" -s deb >"$tmp/deb.out" 2>&1 && [ -f "$deb" ]; then
	ok "make deb builds $(basename "$deb"), lintian reports no error"
else
	not_ok "make deb builds nts_${version}_${arch}.deb"
	tail -n 30 "$tmp/deb.out" | sed 's/^/#   /'
	echo "1..$n"
	exit 1
fi
contents() { dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|'; }
has_all() {
	local f
	for f in /usr/sbin/ntsd /usr/sbin/ntsctl /usr/lib/nts/fastpath.bpf.o /etc/nts/ntsd.conf \
		/lib/systemd/system/ntsd.service /lib/systemd/system/nts-fastpath@.service \
		/usr/lib/sysusers.d/nts.conf /usr/share/man/man8/ntsd.8.gz \
		/usr/share/man/man8/ntsctl.8.gz /usr/share/man/man5/ntsd.conf.5.gz \
		/usr/share/bash-completion/completions/ntsctl /usr/share/doc/nts/copyright; do
		contents | grep -qxF "$f" || { echo "# missing $f"; return 1; }
	done
}
check "the package holds the programs, the XDP object, units, sysusers, man pages, completion" has_all

# ---- install ----
check "dpkg -i installs it" dpkg_retry -i "$deb"
check "postinst created the system user nts (sysusers.d), home /var/lib/nts, no login" \
	bash -c '[[ $(getent passwd nts) =~ ^nts:x:[0-9]+:[0-9]+:.*:/var/lib/nts:/usr/sbin/nologin$ ]]'
check "/etc/nts/ntsd.conf is a conffile" bash -c 'dpkg-query -W -f="\${Conffiles}" nts | grep -q /etc/nts/ntsd.conf'
check "the installed units verify (systemd-analyze verify)" \
	systemd-analyze verify --man=no "$unit" /lib/systemd/system/nts-fastpath@lo.service
score=$(systemd-analyze security --offline=yes --man=no "$unit" 2>/dev/null |
	sed -nE 's/.*Overall exposure level for ntsd.service: ([0-9.]+).*/\1/p')
echo "# systemd-analyze security ntsd.service: exposure $score"
check "ntsd.service's exposure score is 2.0 or lower (is ${score:-unknown})" \
	"$PY" -c "import sys; sys.exit(0 if float('${score:-99}') <= 2.0 else 1)"
check "ntsd is not enabled or started by the installation" \
	test ! -e /etc/systemd/system/multi-user.target.wants/ntsd.service

# An interface for the fast path, in a namespace of the test's own (nothing is sent on it).
veth() {
	ip netns add "$NS" && ip -n "$NS" link add fp0 type veth peer name fp1 &&
		ip -n "$NS" link set fp0 up && ip -n "$NS" link set fp1 up
}
check "a veth pair in a namespace for the fast path" veth

# ---- run it as ntsd.service would ----
turn_port_free() { ! ss -Hlun "sport = :$1" | grep -q . && ! ss -Hltn "sport = :$1" | grep -q .; }
for _ in $(seq 1 50); do
	PORT=$((21000 + RANDOM % 8000)) API=$((PORT + 1)) PEER=$((PORT + 2))
	turn_port_free "$PORT" && turn_port_free "$API" && turn_port_free "$PEER" && break
done
RMIN=$((30000 + (RANDOM % 300) * 100))
cat >>/etc/nts/ntsd.conf <<CONF
# tests/pkg/deb.sh: loopback only, a private pin folder, the test's echo peer allowed
listen = 127.0.0.1:$PORT
api-listen = 127.0.0.1:$API
relay-ip = 127.0.0.1
relay-ports = $RMIN-$((RMIN + 99))
allow-peer = 127.0.0.1
pin-dir = $pins
CONF

# unit_get UNIT KEY: the value of KEY= in the installed UNIT (the last one).
unit_get() { sed -nE "s/^$2=(.*)/\1/p" "$1" | tail -n 1; }
unit_get_all() { sed -nE "s/^$2=(.*)/\1/p" "$1"; }
# "CAP_BPF CAP_NET_ADMIN" -> "+bpf,+net_admin" for setpriv.
caps_for_setpriv() { tr ' ' '\n' <<<"$1" | sed -E 's/^CAP_//' | tr 'A-Z' 'a-z' | grep . | sed 's/^/+/' | paste -sd,; }
# as_unit UNIT COMMAND...: execs COMMAND as UNIT's service would: its User= and Group= without
# supplementary groups, its ambient and bounding capabilities, NoNewPrivileges=, UMask=, in /,
# with a clean environment (NOTIFY_SOCKET and WATCHDOG_USEC passed through when set). It replaces
# the shell: run it in a subshell or in the background.
as_unit() {
	local u=$1 amb bnd nnp=
	shift
	amb=$(caps_for_setpriv "$(unit_get "$u" AmbientCapabilities)")
	bnd=$(caps_for_setpriv "$(unit_get "$u" CapabilityBoundingSet)")
	[ "$(unit_get "$u" NoNewPrivileges)" = yes ] && nnp=--no-new-privs
	umask "$(unit_get "$u" UMask)" && cd / && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		${NOTIFY_SOCKET:+NOTIFY_SOCKET=$NOTIFY_SOCKET} ${WATCHDOG_USEC:+WATCHDOG_USEC=$WATCHDOG_USEC} \
		setpriv --reuid="$(unit_get "$u" User)" --regid="$(unit_get "$u" Group)" --clear-groups \
		--inh-caps="-all${amb:+,$amb}" --ambient-caps="-all${amb:+,$amb}" \
		--bounding-set="-all${bnd:+,$bnd}" $nnp -- "$@"
}
user=$(unit_get "$unit" User) group=$(unit_get "$unit" Group)
read -ra exec_start <<<"$(unit_get "$unit" ExecStart)"
echo "# ntsd.service: User=$user Group=$group UMask=$(unit_get "$unit" UMask)" \
	"AmbientCapabilities=$(unit_get "$unit" AmbientCapabilities)" \
	"CapabilityBoundingSet=$(unit_get "$unit" CapabilityBoundingSet)" \
	"NoNewPrivileges=$(unit_get "$unit" NoNewPrivileges)"
echo "# ExecStart=${exec_start[*]}"
dirs_like_systemd() { # RuntimeDirectory= and StateDirectory= with their modes, owned by the user
	install -d -m "$(unit_get "$unit" RuntimeDirectoryMode)" -o "$user" -g "$group" \
		"/run/$(unit_get "$unit" RuntimeDirectory)" &&
		install -d -m "$(unit_get "$unit" StateDirectoryMode)" -o "$user" -g "$group" \
			"/var/lib/$(unit_get "$unit" StateDirectory)"
}
check "RuntimeDirectory and StateDirectory made as systemd would" dirs_like_systemd

"$PY" "$NTS_TOP/tests/pkg/notify_listener.py" "$tmp/notify.sock" "$tmp/notify.log" 60 &
listener_pid=$!
for _ in $(seq 1 50); do [ -S "$tmp/notify.sock" ] && break; sleep 0.1; done
chmod 777 "$tmp" && chmod 666 "$tmp/notify.sock"
NOTIFY_SOCKET="$tmp/notify.sock" WATCHDOG_USEC=20000000 as_unit "$unit" "${exec_start[@]}" \
	>"$tmp/ntsd.log" 2>&1 &
ntsd_pid=$!
ready() {
	local _
	for _ in $(seq 1 100); do
		grep -q '^READY=1' "$tmp/notify.log" 2>/dev/null && return 0
		kill -0 "$ntsd_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
if check "the packaged ntsd starts as the unit would and sends READY=1" ready; then :; else
	sed 's/^/#   /' "$tmp/ntsd.log"
fi
status_field() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$ntsd_pid/status" | tr -s '\t ' ' ' | sed 's/ $//'; }
uid=$(id -u "$user")
check "it runs as $user" test "$(status_field Uid)" = "$uid $uid $uid $uid"
want=$(printf '%016x' $((1 << 39))) # CAP_BPF
check "its capabilities are CAP_BPF alone (effective, permitted, bounding, ambient)" \
	test "$(status_field CapEff) $(status_field CapPrm) $(status_field CapBnd) $(status_field CapAmb)" = "$want $want $want $want"
check "NoNewPrivs is set" test "$(status_field NoNewPrivs)" = 1

# nts-fastpath@fp0.service started now, while ntsd runs (its ExecStart with the test's pin
# folder): the maps it pins belong to nts, so the running ntsd adopts them at once.
fp_unit=/lib/systemd/system/nts-fastpath@.service
fp_exec() { # fp_exec Exec{Start,Stop}: that line of the unit for fp0, with --pin-dir added
	local cmd
	read -ra cmd <<<"$(unit_get "$fp_unit" "$1" | sed 's/%I/fp0/g; s/%i/fp0/g')"
	(as_unit "$fp_unit" nsenter --net=/var/run/netns/"$NS" "${cmd[0]}" --pin-dir "$pins" "${cmd[@]:1}")
}
# Its ExecStartPre= lines marked "+" run with full privileges, as root.
fp_pre() {
	local line
	while read -r line; do
		[ "${line:0:1}" = + ] || { echo "# ExecStartPre=$line is not run as root: unexpected"; return 1; }
		${line:1} || return 1
	done < <(unit_get_all "$fp_unit" ExecStartPre)
}
attach_as_unit() {
	fp_pre && fp_exec ExecStart >"$tmp/attach.out" 2>&1 && grep -q '^ntsd adopted the maps' "$tmp/attach.out" ||
		{ sed 's/^/#   /' "$tmp/attach.out"; return 1; }
}
check "nts-fastpath@fp0 (as nts, the unit's capabilities) attaches; the running ntsd adopts the maps" \
	attach_as_unit
check "the pins belong to nts" bash -c "[ \"\$(stat -c %U '$pins/nts_fp_client')\" = nts ]"
check "ntsd mirrors into the maps with CAP_BPF alone (ntsctl status)" \
	bash -c "ntsctl --pin-dir '$pins' status | grep -q 'maps adopted, channels mirrored'"
db_private() { [ "$(stat -c '%U %a' /var/lib/nts/nts.db)" = "nts 600" ] && [ "$(stat -c '%U %a' /run/nts/ntsd.sock)" = "nts 600" ]; }
check "database and control socket belong to nts, mode 0600, at the default paths" db_private

# A token through the API, then a relayed session with it.
token_and_relay() {
	local acct sid auth tok user pass
	acct=$(ntsctl account create pkgtest --json) || return 1
	sid=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["sid"])' <<<"$acct")
	auth=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["auth_token"])' <<<"$acct")
	tok=$(curl -s --max-time 10 -u "$sid:$auth" -X POST "http://127.0.0.1:$API/2010-04-01/Accounts/$sid/Tokens.json") || return 1
	user=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["username"])' <<<"$tok") || return 1
	pass=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["password"])' <<<"$tok") || return 1
	echo "# token for $user"
	turnutils_peer -p "$PEER" -L 127.0.0.1 >"$tmp/peer.log" 2>&1 &
	peer_pid=$!
	timeout 60 turnutils_uclient -p "$PORT" -n 10 -m 1 -l 100 -z 5 -u "$user" -w "$pass" \
		-e 127.0.0.1 -r "$PEER" 127.0.0.1 >"$tmp/uclient.log" 2>&1 || { tail -5 "$tmp/uclient.log" | sed 's/^/#   /'; return 1; }
	grep -q "Total lost packets 0 (0.000000%)" "$tmp/uclient.log" &&
		grep -qE 'tot_send_msgs=[1-9][0-9]*, tot_recv_msgs=[1-9]' "$tmp/uclient.log"
}
check "a token from the API relays a TURN session through the packaged ntsd, nothing lost" token_and_relay

stopped() {
	local _
	kill -TERM "$ntsd_pid"
	for _ in $(seq 1 100); do kill -0 "$ntsd_pid" 2>/dev/null || break; sleep 0.1; done
	wait "$ntsd_pid"
	local rc=$?
	ntsd_pid=
	[ "$rc" -eq 0 ] && grep -q '^STOPPING=1' "$tmp/notify.log"
}
check "SIGTERM stops it cleanly, STOPPING=1 sent" stopped
detach_as_unit() {
	fp_exec ExecStop >"$tmp/detach.out" 2>&1 || { sed 's/^/#   /' "$tmp/detach.out"; return 1; }
}
check "nts-fastpath@fp0's ExecStop detaches it" detach_as_unit

# ---- purge ----
dpkg-query -L nts | grep -vE '^/\.$' >"$tmp/files"
check "dpkg --purge removes it" dpkg_retry --purge nts
left() {
	local f rc=0
	while read -r f; do
		[ -d "$f" ] && continue # shared folders (/usr/sbin, /lib …) stay
		[ -e "$f" ] && { echo "# left: $f"; rc=1; }
	done <"$tmp/files"
	for f in /etc/nts /var/lib/nts /run/nts /usr/lib/nts; do
		[ -e "$f" ] && { echo "# left: $f"; rc=1; }
	done
	dpkg-query -W nts >/dev/null 2>&1 && { echo "# dpkg still knows nts"; rc=1; }
	return $rc
}
check "nothing of the package is left: files, conffile, /var/lib/nts, /run/nts" left
check "the system user nts stays, as Debian leaves system users" bash -c 'getent passwd nts >/dev/null'

echo "1..$n"
exit "$failed"
