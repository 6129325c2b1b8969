#!/usr/bin/env bash
# --run-as: ntsd started as root switches to an unprivileged user once its sockets, database and
# maps are open. /proc/PID/status must show the user, exactly the capabilities still needed (none
# here; CAP_NET_BIND_SERVICE alone when relay ports lie below 1024) and NoNewPrivs; and the daemon
# must still relay (coturn's turnutils_uclient), answer on its control socket and write its
# database. The fast-path half (CAP_BPF, maps kept in step) is tests/netns/fastpath_run_as.sh.
set -u
B=${NTS_BUILD:-$(pwd)/build}
tmp=$(mktemp -d /tmp/nts-runas.XXXXXX)
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

if [ "$(id -u)" -ne 0 ]; then echo "1..0 # SKIP needs root to drop it"; exit 0; fi
if ! command -v turnutils_uclient >/dev/null || ! command -v turnutils_peer >/dev/null; then
	echo "not ok 1 - coturn's turnutils_uclient/turnutils_peer are installed (tools/deps.sh)"
	exit 1
fi
NOBODY_UID=$(id -u nobody) NOBODY_GID=$(id -g nobody)

# status_field PID NAME: the value of one /proc/PID/status line, tabs squeezed to spaces.
status_field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '\t ' ' ' | sed 's/ $//'; }
# caps_are PID MASK: CapEff, CapPrm, CapBnd are exactly MASK (hex); CapInh and CapAmb are empty.
caps_are() {
	local want f
	want=$(printf '%016x' "$2")
	for f in CapEff CapPrm CapBnd; do
		[ "$(status_field "$1" "$f")" = "$want" ] || { echo "# $f $(status_field "$1" "$f"), want $want"; return 1; }
	done
	for f in CapInh CapAmb; do
		[ "$(status_field "$1" "$f")" = 0000000000000000 ] || { echo "# $f not empty"; return 1; }
	done
}
uid_is_nobody() { [ "$(status_field "$1" Uid)" = "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" ]; }
gid_is_nobody() {
	[ "$(status_field "$1" Gid)" = "$NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID" ] &&
		[ "$(status_field "$1" Groups)" = "$NOBODY_GID" ]
}

# uclient NAME ARGS...: one short channel session through ntsd to the echo peer: every message
# sent came back, nothing lost.
uclient() {
	local name=$1 log=$tmp/uclient.$1 rc sm rm
	shift
	timeout 60 turnutils_uclient -p "$LPORT" -n 10 -m 1 -l 100 -z 5 -u alice -w wonderland \
		-e 127.0.0.1 -r "$PEER" "$@" 127.0.0.1 >"$log" 2>&1
	rc=$?
	sm=$(sed -n 's/.*tot_send_msgs=\([0-9]*\), tot_recv_msgs=.*/\1/p' "$log" | tail -1)
	rm=$(sed -n 's/.*tot_send_msgs=[0-9]*, tot_recv_msgs=\([0-9]*\).*/\1/p' "$log" | tail -1)
	[ "$rc" -eq 0 ] && [ "${sm:-0}" -gt 0 ] && [ "${rm:-x}" = "$sm" ] &&
		grep -q "Total lost packets 0 (0.000000%)" "$log" && return 0
	echo "# uclient $name: rc=$rc sent=${sm:-?} received=${rm:-?}"
	return 1
}

# The listen port lies below 1024: listeners are bound before the switch and need no capability.
turn_pick_ports 21000 4500
PEER=$((PORT + 1))
for _ in $(seq 1 50); do
	LPORT=$((700 + RANDOM % 300))
	turn_port_free "$LPORT" && break
done
printf 'alice:wonderland\n' >"$tmp/users"
chmod 600 "$tmp/users"
turnutils_peer -p "$PEER" -L 127.0.0.1 >"$tmp/peer.log" 2>&1 &
turn_pids+=($!)

turn_start_ntsd --listen "127.0.0.1:$LPORT" --allow-peer 127.0.0.0/8 --allow-peer 127.0.0.1 --user-file "$tmp/users" \
	--run-as nobody || exit 1
pid=${turn_pids[-1]}
check "ntsd logs the switch to nobody with no capability kept" \
	grep -q "running as nobody (uid $NOBODY_UID gid $NOBODY_GID); capabilities kept: none" "$tmp/ntsd.log"
check "real, effective, saved and fs uid are nobody's" uid_is_nobody "$pid"
check "gids are nobody's and no supplementary group is left" gid_is_nobody "$pid"
check "no capability is left: CapEff, CapPrm, CapBnd 0; CapInh, CapAmb empty" caps_are "$pid" 0
check "NoNewPrivs is set" [ "$(status_field "$pid" NoNewPrivs)" = 1 ]
check "a TURN client allocates and relays over UDP through ntsd as nobody" uclient udp
check "... and over TCP" uclient tcp -t
check "the control socket still answers (ntsctl status)" \
	"$B/ntsctl" --ctl-socket "$tmp/ctl.sock" --db "$tmp/nts.db" status
sock_owner() { [ "$(stat -c '%U %a' "$tmp/ctl.sock")" = "nobody 600" ]; }
check "the control socket belongs to nobody, mode 0600" sock_owner
account_via_ntsd() {
	"$B/ntsctl" --ctl-socket "$tmp/ctl.sock" --db "$tmp/nts.db" account create after-drop \
		>"$tmp/account.out" 2>&1 &&
		"$B/ntsctl" --ctl-socket "$tmp/ctl.sock" --db "$tmp/nts.db" account list | grep -q after-drop
}
check "the database is still written after the switch (account create through ntsd)" account_via_ntsd
kill "$pid"
wait "$pid" 2>/dev/null
check "ntsd as nobody stops cleanly" grep -q "stopped" "$tmp/ntsd.log"

# Relay ports below 1024 are bound after the switch: CAP_NET_BIND_SERVICE (10), and only it.
for _ in $(seq 1 50); do
	RLO=$((600 + (RANDOM % 40) * 10))
	free=1
	for p in $(seq "$RLO" $((RLO + 9))); do turn_port_free "$p" || free=0; done
	[ "$free" = 1 ] && break
done
mv "$tmp/ntsd.log" "$tmp/ntsd.1.log"
rm -f "$tmp/ctl.sock"
turn_start_ntsd --listen "127.0.0.1:$LPORT" --allow-peer 127.0.0.0/8 --allow-peer 127.0.0.1 --user-file "$tmp/users" \
	--relay-ports "$RLO-$((RLO + 9))" --run-as nobody:nogroup || exit 1
pid=${turn_pids[-1]}
check "relay ports below 1024 keep CAP_NET_BIND_SERVICE alone" caps_are "$pid" $((1 << 10))
check "NoNewPrivs is set with a capability kept" [ "$(status_field "$pid" NoNewPrivs)" = 1 ]
# Every relay port lies in RLO..RLO+9, so a relayed session proves one was bound after the switch.
check "a relay port below 1024 is bound after the switch and relays" uclient low
kill "$pid"
wait "$pid" 2>/dev/null

# Errors: an unknown user is a usage error before anything is opened.
"$B/ntsd" --listen "127.0.0.1:$PORT" --no-api --db "$tmp/x/nts.db" --ctl-socket "$tmp/x.sock" \
	--run-as no-such-user-nts >"$tmp/bad.log" 2>&1
rc=$?
check "--run-as an unknown user exits 2 naming it, before creating anything" \
	test "$rc" -eq 2 -a ! -e "$tmp/x" -a ! -e "$tmp/x.sock"
check "... with the reason" grep -q "no user 'no-such-user-nts'" "$tmp/bad.log"

echo "1..$n"
if [ "$failed" -ne 0 ]; then
	for f in "$tmp"/ntsd*.log; do echo "# $f:"; tail -n 8 "$f" | sed 's/^/#   /'; done
	for f in "$tmp"/uclient.*; do echo "# $f:"; tail -n 5 "$f" | sed 's/^/#   /'; done
fi
exit "$failed"
