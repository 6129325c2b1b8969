#!/usr/bin/env bash
# ntsd.service and nts-fastpath@.service under a real systemd: a container (systemd-nspawn --boot,
# systemd as its PID 1, its own network namespace holding only lo) whose root is an overlay of
# this host's own root with a tmpfs on top, so it needs no image, nothing is downloaded and
# everything it writes goes when it stops. `make install PREFIX=/usr` puts the units unchanged in
# it (the .deb's layout: debian/rules runs the same install), systemd-sysusers creates nts as it
# boots, and systemd itself then applies every setting of the units: User=, capabilities, the
# namespaces behind Protect*= and PrivateTmp=, the seccomp filters, RuntimeDirectory= and
# StateDirectory=, Type=notify, WatchdogSec=, ExecReload=. Through it: READY, a token and a
# relayed TURN session, a reload and an upgrade while a session relays, the watchdog's restart of
# a stopped daemon, the exposure score, and nts-fastpath@ on a veth (README "Install").
set -u
NTS_TOP=${NTS_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
NTS_BUILD=${NTS_BUILD:-$NTS_TOP/build}
PY=/usr/bin/python3
. "$NTS_TOP/tests/netns/lib.bash"
n=0 failed=0
name=nts-sd-$$
tmp=
root=
nspawn_pid= leader=

[ "$(id -u)" -eq 0 ] || skip_all "boots a container: needs root"
command -v systemd-nspawn >/dev/null || skip_all "no systemd-nspawn (tools/deps.sh installs systemd-container)"
[ -x /lib/systemd/systemd ] || skip_all "no systemd on this host"
grep -qw overlay /proc/filesystems || skip_all "the kernel has no overlayfs"
command -v turnutils_uclient >/dev/null || skip_all "no turnutils_uclient (tools/deps.sh installs coturn)"
# An ASan build under seccomp and MemoryDenyWriteExecute= tests the sanitizer, not the unit.
[ "$NTS_BUILD" = "$NTS_TOP/build" ] || skip_all "the units are checked with the release build only"

cleanup() {
	local _ j
	# The nsenter wrappers first: the container's shutdown stops (SIGSTOP) every process in it,
	# and an nsenter outside would stop with its child and never be continued.
	for j in $(jobs -p); do
		[ "$j" = "$nspawn_pid" ] || { kill -KILL "$j" && wait "$j"; } 2>/dev/null
	done
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		kill -TERM "$nspawn_pid" # nspawn asks the container's systemd to power off
		for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$nspawn_pid" 2>/dev/null
		[ -n "$leader" ] && kill -KILL "$leader" 2>/dev/null
	fi
	wait 2>/dev/null
	if [ -n "$tmp" ]; then
		umount -R "$root" 2>/dev/null || umount -Rl "$root" 2>/dev/null
		umount "$tmp/rw" 2>/dev/null || umount -l "$tmp/rw" 2>/dev/null
		rm -rf "$tmp"
	fi
	rmdir "/run/systemd/nspawn/propagate/$name" 2>/dev/null
}
trap cleanup EXIT
tmp=$(mktemp -d /tmp/nts-sd-test.XXXXXX)
root=$tmp/root

# The container's root: this host's / (one file system: nothing mounted below it shows) under a
# tmpfs that takes every write.
overlay() {
	mkdir -p "$tmp/rw" "$root" && mount -t tmpfs -o mode=0755 nts-sd "$tmp/rw" &&
		mkdir "$tmp/rw/up" "$tmp/rw/work" &&
		mount -t overlay nts-sd -o "lowerdir=/,upperdir=$tmp/rw/up,workdir=$tmp/rw/work" "$root" &&
		# Whatever nts the host has (a database, a configuration, its user) is hidden, not
		# touched: the files change in the tmpfs only.
		rm -rf "$root/etc/nts" "$root/var/lib/nts" "$root/usr/lib/nts" &&
		sed -i '/^nts:/d' "$root/etc/passwd" "$root/etc/group" "$root/etc/shadow" \
			"$root/etc/gshadow"
}
if ! check "an overlay of the host's root for the container, writes into a tmpfs" overlay; then
	echo "1..$n"
	exit 1
fi

installed() {
	make -C "$NTS_TOP" -s install DESTDIR="$root" PREFIX=/usr >"$tmp/install.out" 2>&1 ||
		{ sed 's/^/#   /' "$tmp/install.out"; return 1; }
	# A configuration of the test's own (an operator's, from the host's lower layer, is not it).
	cat >"$root/etc/nts/ntsd.conf" <<-CONF
		# tests/pkg/systemd_boot.sh: the container's loopback only
		listen = 127.0.0.1:3478
		api-listen = 127.0.0.1:8080
		relay-ip = 127.0.0.1
		relay-ports = 49152-49251
		allow-peer = 127.0.0.1
	CONF
}
if ! check "make install PREFIX=/usr into it: the units unchanged" installed; then
	echo "1..$n"
	exit 1
fi
check "the installed ntsd.service is dist/systemd/ntsd.service" \
	cmp -s "$NTS_TOP/dist/systemd/ntsd.service" "$root/lib/systemd/system/ntsd.service"

# ---- boot ----
# basic.target: what the host enables for multi-user.target (its own services) stays off.
systemd-nspawn -q -D "$root" -M "$name" --register=no --keep-unit --private-network \
	--capability=CAP_BPF,CAP_PERFMON --system-call-filter=bpf --console=pipe \
	-b -- systemd.unit=basic.target </dev/null >"$tmp/boot.log" 2>&1 &
nspawn_pid=$!
# cin COMMAND...: COMMAND inside the container, in all its namespaces, as its root.
cin() { nsenter -t "$leader" -a "$@"; }
booted() {
	local _ state
	for _ in $(seq 1 100); do
		leader=$(pgrep -P "$nspawn_pid" -x systemd) && break
		kill -0 "$nspawn_pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$leader" ] || { sed 's/^/#   /' "$tmp/boot.log"; return 1; }
	# systemctl needs the manager's socket, there once systemd has set itself up.
	for _ in $(seq 1 100); do
		cin test -S /run/systemd/private && break
		sleep 0.1
	done
	state=$(timeout 60 nsenter -t "$leader" -a systemctl is-system-running --wait)
	echo "# container booted: $state"
	[ "$state" = running ] || { cin systemctl --failed --no-pager | sed 's/^/#   /'; return 1; }
}
if ! check "the container boots with systemd as PID 1, no unit failed" booted; then
	echo "1..$n"
	exit 1
fi
check "systemd-sysusers created nts at boot (nts.conf)" \
	bash -c "nsenter -t $leader -a getent passwd nts | grep -q ':/var/lib/nts:'"

# ---- ntsd.service ----
unit_show() { cin systemctl show -P "$2" "$1"; }
main_pid() { unit_show ntsd "MainPID"; }
started() {
	timeout 60 nsenter -t "$leader" -a systemctl start ntsd ||
		{ cin journalctl -u ntsd --no-pager -n 30 | sed 's/^/#   /'; return 1; }
	[ "$(cin systemctl is-active ntsd)" = active ]
}
if ! check "systemctl start ntsd returns once ntsd sent READY=1 (Type=notify): active" started; then
	echo "1..$n"
	exit 1
fi
pid=$(main_pid)
echo "# ntsd.service MainPID $pid, status: $(unit_show ntsd StatusText)"
status_field() { cin sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '\t ' ' ' | sed 's/ $//'; }
uid=$(cin id -u nts)
check "it runs as nts" test "$(status_field "$pid" Uid)" = "$uid $uid $uid $uid"
want=$(printf '%016x' $((1 << 39))) # CAP_BPF
caps() { local f; for f in CapEff CapPrm CapBnd CapAmb; do status_field "$pid" $f; done | paste -sd' '; }
check "its capabilities are CAP_BPF alone (effective, permitted, bounding, ambient)" \
	test "$(caps)" = "$want $want $want $want"
check "NoNewPrivs is set and a seccomp filter applies" \
	test "$(status_field "$pid" NoNewPrivs) $(status_field "$pid" Seccomp)" = "1 2"
# The namespaces systemd built for it: the root read-only but for its own two folders, no /home.
sandboxed() {
	local mnt
	mnt() { cin nsenter -t "$pid" -m findmnt -no OPTIONS --target "$1" | cut -d, -f1; }
	[ "$(mnt /usr) $(mnt /etc) $(mnt /var/lib/nts) $(mnt /run/nts)" = "ro ro rw rw" ] &&
		[ -z "$(cin nsenter -t "$pid" -m find /home /root -mindepth 1 -maxdepth 1)" ] &&
		[ "$(cin nsenter -t "$pid" -m stat -c %i /tmp)" != "$(cin stat -c %i /tmp)" ]
}
check "its mounts: / read-only, /var/lib/nts and /run/nts writable, /home empty, a private /tmp" sandboxed
dirs() {
	[ "$(cin stat -c '%U %a' /var/lib/nts /var/lib/nts/nts.db /run/nts /run/nts/ntsd.sock | paste -sd' ')" = \
		"nts 700 nts 600 nts 700 nts 600" ]
}
check "StateDirectory and RuntimeDirectory: nts's, 0700; database and control socket 0600" dirs

# ---- a token through the API, a TURN session through ntsd ----
cin turnutils_peer -p 3480 -L 127.0.0.1 >"$tmp/peer.log" 2>&1 &
tuser= tpass=
token() {
	local acct sid auth tok
	acct=$(cin ntsctl account create sdtest --json) || return 1
	sid=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["sid"])' <<<"$acct")
	auth=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["auth_token"])' <<<"$acct")
	tok=$(cin curl -s --max-time 10 -u "$sid:$auth" -X POST \
		"http://127.0.0.1:8080/2010-04-01/Accounts/$sid/Tokens.json") || return 1
	tuser=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["username"])' <<<"$tok") &&
		tpass=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["password"])' <<<"$tok")
}
check "ntsctl account create, then a token from the API" token
# relay COUNT INTERVAL_MS LOG: one uclient session (RTP and RTCP relays) to the echo peer.
relay() {
	cin timeout 60 turnutils_uclient -p 3478 -n "$1" -m 1 -l 100 -z "$2" -u "$tuser" -w "$tpass" \
		-e 127.0.0.1 -r 3480 127.0.0.1 >"$3" 2>&1
}
# lost LOG: the packets uclient lost, "x" when it did not finish or sent nothing.
lost() {
	grep -qE 'tot_send_msgs=[1-9][0-9]*, tot_recv_msgs=[1-9]' "$1" &&
		sed -nE 's/.*Total lost packets ([0-9]+) .*/\1/p' "$1" | tail -n 1 | grep . || echo x
}
relays() { relay 10 20 "$tmp/uclient1.log" && [ "$(lost "$tmp/uclient1.log")" = 0 ]; }
check "the token relays a TURN session through ntsd.service, nothing lost" relays
# relaying: until ntsd counts an allocation with packets from the client (10 s at most).
relaying() {
	local _ c
	for _ in $(seq 1 100); do
		c=$(cin ntsctl allocations --json 2>/dev/null | "$PY" -c '
import json, sys
print(sum(1 for a in json.load(sys.stdin)["allocations"] if a["c2p_packets"]))' 2>/dev/null)
		[ "${c:-0}" -gt 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- systemctl reload: ExecReload= (SIGHUP) during a session ----
relay 300 10 "$tmp/uclient2.log" &
bg=$!
reloaded() {
	relaying || return 1
	timeout 30 nsenter -t "$leader" -a systemctl reload ntsd &&
		[ "$(cin systemctl is-active ntsd)" = active ] && [ "$(main_pid)" = "$pid" ] &&
		cin journalctl -u ntsd --no-pager | grep -q 'Reloaded ntsd.service'
}
check "systemctl reload ntsd mid-session: reloaded, the same process, still active" reloaded
wait "$bg"
l=$(lost "$tmp/uclient2.log")
check "the session across the reload lost nothing (lost: $l)" test "$l" = 0

# ---- systemd-analyze security ----
cin timeout 60 systemd-analyze security --no-pager ntsd.service >"$tmp/security.txt" 2>&1
score=$(sed -nE 's/.*Overall exposure level for ntsd.service: ([0-9.]+).*/\1/p' "$tmp/security.txt")
echo "# systemd-analyze security ntsd.service (running unit): exposure ${score:-unknown}"
readme=$(sed -nE 's/.*`systemd-analyze security ntsd.service`: exposure ([0-9.]+).*/\1/p' \
	"$NTS_TOP/README.md")
check "its exposure is 2.0 or lower and the README's (${score:-unknown}, README ${readme:-none})" \
	"$PY" -c "import sys; sys.exit(0 if float('${score:-99}') <= 2.0 and '$score' == '$readme' \
		else 1)"

# ---- ntsctl upgrade: the unit follows the new process ----
relay 300 10 "$tmp/uclient3.log" &
bg=$!
new=
upgraded() {
	local _ out
	relaying || return 1
	out=$(cin ntsctl upgrade) || { echo "# $out"; return 1; }
	new=$(sed -nE 's/^upgraded: pid ([0-9]+) .*/\1/p' <<<"$out")
	echo "# $out"
	for _ in $(seq 1 100); do
		[ "$(main_pid)" = "$new" ] && ! cin kill -0 "$pid" 2>/dev/null && break
		sleep 0.1
	done
	[ -n "$new" ] && [ "$(main_pid)" = "$new" ] && ! cin kill -0 "$pid" 2>/dev/null
}
if ! check "ntsctl upgrade: MainPID is the new process, the old one is gone" upgraded; then
	cin journalctl -u ntsd --no-pager -n 20 | sed 's/^/#   /'
fi
check "ntsd.service stays active after the upgrade" \
	test "$(cin systemctl is-active ntsd) $(unit_show ntsd NRestarts)" = "active 0"
# The new main process is systemd's own child (its parent exited at once): a main process that is
# not, systemd supervises by guesswork, and a later stop went straight to SIGKILL.
own_child() {
	[ "$(cin awk '/^PPid:/ { print $2 }' "/proc/$new/status")" = 1 ] &&
		! cin journalctl -u ntsd --no-pager | grep -q 'which is not our child'
}
check "the new main process is systemd's child ('not our child' never logged)" own_child
wait "$bg"
l=$(lost "$tmp/uclient3.log")
check "the session across the upgrade lost nothing (lost: $l of 300)" test "$l" = 0
pid=$(main_pid)
none_dropped() { ! cin journalctl -u ntsd --no-pager | grep -q 'reception only permitted'; }
check "systemd took every notification (no 'reception only permitted' in the journal)" \
	none_dropped

# ---- WatchdogSec=: a daemon that stops answering is restarted ----
watchdog() {
	local _ now=
	[ "${pid:-0}" -gt 1 ] && cin kill -STOP "$pid" || return 1
	# WatchdogSec=20s after the last keep-alive (at most 10 s ago), then RestartSec=2s.
	for _ in $(seq 1 200); do
		now=$(main_pid)
		[ "${now:-0}" != 0 ] && [ "$now" != "$pid" ] &&
			[ "$(cin systemctl is-active ntsd)" = active ] && break
		sleep 0.2
	done
	echo "# MainPID $pid -> ${now:-none}, NRestarts=$(unit_show ntsd NRestarts)"
	[ "${now:-0}" != 0 ] && [ "$now" != "$pid" ] && [ "$(unit_show ntsd NRestarts)" = 1 ] &&
		cin journalctl -u ntsd --no-pager | grep -q 'Watchdog timeout'
}
check "kill -STOP: the watchdog fires, systemd restarts ntsd (WatchdogSec=, Restart=on-failure)" watchdog
pid=$(main_pid)
relays_again() { relay 10 20 "$tmp/uclient4.log" && [ "$(lost "$tmp/uclient4.log")" = 0 ]; }
check "the restarted ntsd relays the token's session (same database, same secret)" relays_again

# ---- nts-fastpath@.service ----
veth() {
	cin ip link add fp0 type veth peer name fp1 && cin ip link set fp0 up && cin ip link set fp1 up
}
check "a veth pair in the container for the fast path" veth
# systemd mounts bpffs on /sys/fs/bpf (mode 0700) on a host; nspawn's /sys has none. A new
# instance, the container's own: its pins are nobody else's.
bpffs() {
	cin mount -o remount,rw /sys && cin mkdir -p /sys/fs/bpf &&
		cin mount -t bpf -o mode=0700 bpf /sys/fs/bpf && cin mount -o remount,ro /sys
}
check "a bpffs of the container's own on /sys/fs/bpf, as systemd mounts it on a host" bpffs
fp_unit_start() { # fp_unit_start UNIT: systemctl start, its journal shown when it fails
	timeout 30 nsenter -t "$leader" -a systemctl start "$1" >"$tmp/fp.out" 2>&1 &&
		[ "$(cin systemctl is-active "$1")" = active ] && return 0
	sed 's/^/#   /' "$tmp/fp.out"
	cin journalctl -u "$1" --no-pager -n 15 | sed 's/^/#   /'
	return 1
}
# A read-only /sys (every container's) has systemd support no device units: the unit's
# BindsTo=sys-subsystem-net-devices-%i.device cannot be met here, whatever the interface.
if cin systemctl show -P ActiveState sys-subsystem-net-devices-fp0.device | grep -qx active; then
	check "systemctl start nts-fastpath@fp0: ntsctl attach as nts with the unit's capabilities" \
		fp_unit_start nts-fastpath@fp0
	fp=nts-fastpath@fp0
else
	echo "# no device units under a read-only /sys: nts-fastpath@fp0 as a copy without them"
	sed '/^BindsTo=/d; /^After=sys-subsystem/d' "$root/lib/systemd/system/nts-fastpath@.service" |
		cin tee /run/systemd/system/nts-fastpath-nodev@.service >/dev/null
	cin systemctl daemon-reload
	check "nts-fastpath@'s service settings (as nts, its capabilities, sandbox) attach XDP to fp0" \
		fp_unit_start nts-fastpath-nodev@fp0
	fp=nts-fastpath-nodev@fp0
fi
cin ntsctl status >"$tmp/status.out" 2>&1
sed 's/^/#   /' "$tmp/status.out"
check "ntsd.service (nts, CAP_BPF alone, its sandbox) adopted the maps nts-fastpath pinned" \
	grep -q 'maps adopted, channels mirrored' "$tmp/status.out"
# The session runs over lo, which the program on fp0 does not see: what this shows is ntsd's own
# bpf() calls on the maps, under its system call filter, mirroring the session's channels.
relay 200 10 "$tmp/uclient5.log" &
bg=$!
mirrored() {
	local _ c
	relaying || return 1
	for _ in $(seq 1 50); do
		c=$(cin ntsctl status | sed -nE 's/^ *map client +([0-9]+) .*/\1/p')
		[ "${c:-0}" -gt 0 ] && return 0
		sleep 0.1
	done
	return 1
}
check "ntsd writes a session's channels into the kernel's maps (ntsctl status: client entries)" mirrored
wait "$bg"
l=$(lost "$tmp/uclient5.log")
check "that session lost nothing (lost: $l)" test "$l" = 0
# An upgrade with the maps adopted: the new process inherits CAP_BPF and opens them again.
upgraded_fast() {
	local _ out old=$(main_pid)
	out=$(cin ntsctl upgrade) || { echo "# $out"; return 1; }
	new=$(sed -nE 's/^upgraded: pid ([0-9]+) .*/\1/p' <<<"$out")
	for _ in $(seq 1 100); do
		[ "$(main_pid)" = "$new" ] && ! cin kill -0 "$old" 2>/dev/null && break
		sleep 0.1
	done
	[ -n "$new" ] && [ "$(main_pid)" = "$new" ] && [ "$(cin systemctl is-active ntsd)" = active ] &&
		cin ntsctl status | grep -q 'maps adopted, channels mirrored'
}
check "ntsctl upgrade with the fast path attached: the new main process adopts the maps" upgraded_fast
# SIGUSR2 is the other way in (README): systemctl kill delivers it to the unit's main process.
usr2() {
	local _ old=$(main_pid) now=
	cin systemctl kill -s USR2 --kill-who=main ntsd || return 1
	for _ in $(seq 1 100); do
		now=$(main_pid)
		[ "${now:-0}" != 0 ] && [ "$now" != "$old" ] && ! cin kill -0 "$old" 2>/dev/null && break
		sleep 0.1
	done
	[ "${now:-0}" != 0 ] && [ "$now" != "$old" ] && [ "$(cin systemctl is-active ntsd)" = active ] &&
		[ "$(unit_show ntsd NRestarts)" = 1 ] &&
		cin ntsctl status | grep -q 'maps adopted, channels mirrored'
}
check "systemctl kill -s USR2 ntsd: upgraded the same way, MainPID follows, no restart" usr2
fp_stopped() {
	timeout 30 nsenter -t "$leader" -a systemctl stop "$fp" &&
		! cin ip -d link show fp0 | grep -q 'prog/xdp'
}
check "systemctl stop $fp detaches the program" fp_stopped

# ---- which XDP object ntsctl loads ----
obj=/usr/lib/nts/fastpath.bpf.o
fp_loaded() { cin journalctl -u "$fp" --no-pager | grep -qF "attached nts_fastpath ($obj) to fp0"; }
check "nts-fastpath@ loaded the installed $obj (sbin/../lib/nts)" fp_loaded
# attach_with NTSCTL: attaches to fp1 with NTSCTL (its own pins), prints its output, detaches.
attach_with() {
	local out rc
	out=$(cin "$1" --pin-dir /sys/fs/bpf/nts-obj attach fp1 2>&1)
	rc=$?
	cin "$1" --pin-dir /sys/fs/bpf/nts-obj detach fp1 >/dev/null 2>&1
	cin rm -rf /sys/fs/bpf/nts-obj
	echo "$out"
	return $rc
}
# A build folder's layout: build/ntsctl and build/bpf/fastpath.bpf.o.
mkdir -p "$root/opt/nts-build/bpf" && cp "$NTS_BUILD/ntsctl" "$root/opt/nts-build/" &&
	cp "$NTS_BUILD/bpf/fastpath.bpf.o" "$root/opt/nts-build/bpf/"
from_build() {
	attach_with /opt/nts-build/ntsctl |
		grep -qF 'attached nts_fastpath (/opt/nts-build/bpf/fastpath.bpf.o) to fp1'
}
check "ntsctl run from a build folder loads bpf/fastpath.bpf.o beside it" from_build
cin mv "$obj" "$obj.away"
embedded() {
	attach_with /usr/sbin/ntsctl >"$tmp/embedded.out"
	grep -q '^note: no fastpath.bpf.o in ../lib/nts/ or bpf/ next to ntsctl' "$tmp/embedded.out" &&
		grep -qF 'attached nts_fastpath (built into ntsctl) to fp1' "$tmp/embedded.out" ||
		{ sed 's/^/#   /' "$tmp/embedded.out"; return 1; }
}
check "without it, ntsctl says so and attaches the copy built into it" embedded
cin cp /usr/sbin/ntsd "$obj"
refused() {
	! attach_with /usr/sbin/ntsctl >"$tmp/refused.out" &&
		grep -qF "$obj is not the XDP program this ntsctl was built with" "$tmp/refused.out" ||
		{ sed 's/^/#   /' "$tmp/refused.out"; return 1; }
}
check "an object that is not its XDP program is refused, with the file named" refused
cin mv "$obj.away" "$obj"

# ---- stop ----
stopped() {
	local st
	timeout 40 nsenter -t "$leader" -a systemctl stop ntsd
	st="$(unit_show ntsd ActiveState) $(unit_show ntsd Result)"
	[ "$st" = "inactive success" ] && return 0
	echo "#   after stop: $st"
	nsenter -t "$leader" -a journalctl -u ntsd --no-pager -n 15 2>&1 | sed 's/^/#   /'
	return 1
}
check "systemctl stop ntsd: inactive, result success" stopped

echo "1..$n"
exit "$failed"
