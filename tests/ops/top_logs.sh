#!/usr/bin/env bash
# Operations: `ntsctl top --once` against an ntsd relaying uclient traffic shows non-zero rates as
# plain text; --log-format json writes one JSON object per line; repeated warnings are held back
# and counted ("suppressed N similar messages"); under journald (JOURNAL_STREAM names stderr) text
# lines carry "<N>" priorities and no timestamp; a `make run`-like start (control socket and
# database under ./var) is found by a plain `ntsctl status` from that directory, and the commands
# the demo prints work as printed.
set -u
B=${NTS_BUILD:-$(pwd)/build}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/nts-toplogs.XXXXXX)
. "$HERE/../interop/turn_lib.bash"
trap turn_cleanup EXIT

if ! command -v turnutils_uclient >/dev/null || ! command -v turnutils_peer >/dev/null; then
	echo "not ok 1 - coturn's turnutils_uclient/turnutils_peer are installed (tools/deps.sh)"
	exit 1
fi
ctl() { "$B/ntsctl" --ctl-socket "$tmp/ctl.sock" "$@"; }
# wait_for FILE PATTERN: true once FILE holds a line matching PATTERN (at most 10 s).
wait_for() {
	local _
	for _ in $(seq 1 100); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

turn_pick_ports 26000 3000
PEER=$((PORT + 1))
printf 'user = alice:wonderland\n' >"$tmp/ntsd.conf"
chmod 600 "$tmp/ntsd.conf"
turn_start_ntsd --listen "127.0.0.1:$PORT" --config "$tmp/ntsd.conf" --allow-peer 127.0.0.1 \
	--max-allocations-per-user 1000 --log-format json || exit 1
turnutils_peer -p "$PEER" -L 127.0.0.1 >"$tmp/peer.log" 2>&1 &
turn_pids+=($!)

# ntsctl top --once while 2 clients relay 100 messages/s each for ~6 s.
timeout 60 turnutils_uclient -p "$PORT" -n 600 -m 2 -l 200 -z 10 -c -u alice -w wonderland \
	-e 127.0.0.1 -r "$PEER" 127.0.0.1 >"$tmp/uclient.log" 2>&1 &
uclient=$!
turn_pids+=("$uclient")
for _ in $(seq 1 100); do
	nrel=$(ctl allocations --json 2>/dev/null | "$PY" -c '
import json, sys
print(sum(1 for a in json.load(sys.stdin)["allocations"] if a["p2c_packets"]))' 2>/dev/null)
	[ "${nrel:-0}" -ge 2 ] && break
	sleep 0.1
done
ctl top --once >"$tmp/top.out" 2>&1
rc=$?
sed 's/^/#   /' "$tmp/top.out"
if [ "$rc" -eq 0 ] && ! grep -q $'\033' "$tmp/top.out"; then
	pass "ntsctl top --once prints one plain frame when stdout is not a terminal"
else
	fail "ntsctl top --once prints one plain frame when stdout is not a terminal (status $rc)"
fi
for dir in client-\>peer peer-\>client; do
	rate=$(awk -v d="$dir" '$1 == d { print $2 }' "$tmp/top.out")
	if awk -v r="${rate:-0}" 'BEGIN { exit !(r > 0) }'; then
		pass "top shows a non-zero userspace packet rate $dir ($rate/s)"
	else
		fail "top shows a non-zero userspace packet rate $dir (got '${rate:-none}')"
	fi
done
busy=$(awk '/^busiest allocations/ { getline; print $3 }' "$tmp/top.out")
if awk -v r="${busy:-0}" 'BEGIN { exit !(r > 0) }'; then
	pass "top lists the busiest allocation with a non-zero bit rate ($busy)"
else
	fail "top lists the busiest allocation with a non-zero bit rate (got '${busy:-none}')"
fi
# Interactive, on a pseudo-terminal: the alternate screen, frames, and q restores the terminal.
(sleep 2.5; printf q) | timeout 20 script -q -c "stty -a | grep -o -- '-\?icanon' | head -1;
	'$B/ntsctl' --ctl-socket '$tmp/ctl.sock' top; echo top-status=\$?;
	stty -a | grep -o -- '-\?icanon' | head -1" /dev/null >"$tmp/tty.out" 2>&1
if grep -q $'\033\\[?1049h' "$tmp/tty.out" && grep -q $'\033\\[?1049l' "$tmp/tty.out" &&
	grep -q "top-status=0" "$tmp/tty.out" && grep -q "client->peer" "$tmp/tty.out" &&
	[ "$(grep -c '^icanon' "$tmp/tty.out")" = 2 ]; then
	pass "ntsctl top on a terminal draws on the alternate screen and q restores the terminal"
else
	fail "ntsctl top on a terminal draws on the alternate screen and q restores the terminal"
	tr -cd '[:print:]\n' <"$tmp/tty.out" | tail -n 5 | sed 's/^/#   /'
fi
wait "$uclient"

# Repeated warnings: 15 refused reloads log 10 lines, then one that counts the 5 held back.
printf 'user = alice:wonderland\nmax-allocations = many\n' >"$tmp/ntsd.conf"
for _ in $(seq 1 15); do ctl reload >/dev/null; done
nref=$(grep -c "reload refused" "$tmp/ntsd.log")
if [ "$nref" -eq 10 ]; then
	pass "15 identical warnings in a burst: 10 logged"
else
	fail "15 identical warnings in a burst: 10 logged (got $nref)"
fi
if wait_for "$tmp/ntsd.log" "(suppressed 5 similar messages)" &&
	grep "(suppressed 5 similar messages)" "$tmp/ntsd.log" | "$PY" -c '
import json, sys
o = json.loads(sys.stdin.readline())
assert o["suppressed"] == 5 and o["level"] == "warning" and "reload refused" in o["msg"], o'; then
	pass "once the window ends, a line counts the 5 suppressed similar messages"
else
	fail "once the window ends, a line counts the 5 suppressed similar messages"
	tail -n 3 "$tmp/ntsd.log" | sed 's/^/#   /'
fi
if "$PY" -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert set(o) >= {"ts", "level", "msg"}, o
    n += 1
assert n >= 12, n
' "$tmp/ntsd.log"; then
	pass "--log-format json: every line of the log parses as a JSON object with ts, level, msg"
else
	fail "--log-format json: every line of the log parses as a JSON object with ts, level, msg"
fi
turn_stop_ntsd

for p in "${turn_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
turn_pids=()

# journald: stderr is the stream JOURNAL_STREAM names -> "<6>info: ..." and no timestamp; the
# same variable with stderr elsewhere (inherited by a child whose output was redirected) changes
# nothing. turn_start_ntsd truncates ntsd.log in place, so its device and inode stay.
: >"$tmp/ntsd.log"
export JOURNAL_STREAM=$(stat -c '%d:%i' "$tmp/ntsd.log")
turn_start_ntsd --listen "127.0.0.1:$PORT" || exit 1
turn_stop_ntsd
if grep -q "^<6>info: started nts/" "$tmp/ntsd.log" && ! grep -qE "^[0-9]{4}-" "$tmp/ntsd.log"; then
	pass "under journald, lines carry <N> priorities and no timestamp"
else
	fail "under journald, lines carry <N> priorities and no timestamp"
	head -n 3 "$tmp/ntsd.log" | sed 's/^/#   /'
fi
export JOURNAL_STREAM=1:1
turn_start_ntsd --listen "127.0.0.1:$PORT" || exit 1
turn_stop_ntsd
if grep -qE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T.* ntsd info: started" "$tmp/ntsd.log"; then
	pass "with JOURNAL_STREAM naming another stream, lines keep their timestamp"
else
	fail "with JOURNAL_STREAM naming another stream, lines keep their timestamp"
	head -n 3 "$tmp/ntsd.log" | sed 's/^/#   /'
fi
unset JOURNAL_STREAM

# First minutes: ntsd started the way `make run` does (tools/run.sh: state under ./var, --demo),
# then the obvious commands from that directory, and those the demo prints, as printed.
repo="$tmp/repo"
mkdir -p "$repo"
for _ in $(seq 1 50); do
	API=$((20000 + RANDOM % 12000))
	turn_port_free "$API" && break
done
(cd "$repo" && exec "$B/ntsd" --listen "127.0.0.1:$PORT" --api-listen "127.0.0.1:$API" \
	--db var/nts.db --ctl-socket var/ntsd.sock --pin-dir "$tmp/pin" \
	--relay-ports "$RMIN-$RMAX" --demo) >"$tmp/ntsd.log" 2>&1 &
turn_pids+=($!)
wait_for "$tmp/ntsd.log" "started" || fail "the make-run-like ntsd starts"
if (cd / && "$B/ntsctl" status 2>&1 | grep -q "ntsd: running"); then
	echo "ok $((n + 1)) - ntsctl status from the make run directory # SKIP an ntsd answers on the default socket"
	n=$((n + 1))
elif out=$(cd "$repo" && "$B/ntsctl" status 2>&1) && grep -q "^ntsd: running" <<<"$out"; then
	pass "plain ntsctl status from the make run directory finds the daemon (var/ntsd.sock)"
else
	fail "plain ntsctl status from the make run directory finds the daemon: $out"
fi
line=$(sed -n '/^Watch the daemon/{n;p}' "$tmp/ntsd.log")
if [ -n "$line" ] && out=$(cd "$repo" && eval "$line" 2>&1) && grep -q "^ntsd: running" <<<"$out"; then
	pass "the ntsctl line the demo prints works as printed ($line)"
else
	fail "the ntsctl line the demo prints works as printed ('$line'): $out"
fi
line=$(sed -n '/^Fetch a token/{n;p}' "$tmp/ntsd.log")
if [ -n "$line" ] && out=$(cd "$repo" && timeout 20 bash -c "$line") &&
	"$PY" -c 'import json, sys; assert json.loads(sys.argv[1])["ice_servers"]' "$out"; then
	pass "the curl line the demo prints returns a token"
else
	fail "the curl line the demo prints returns a token ('${line:0:60}...'): ${out:0:200}"
fi
if out=$(cd "$repo" && "$B/ntsctl" account list 2>&1) && grep -q "demo" <<<"$out"; then
	pass "ntsctl account list from the make run directory lists the demo account"
else
	fail "ntsctl account list from the make run directory lists the demo account: $out"
fi
turn_done 18
