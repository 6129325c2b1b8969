#!/usr/bin/env bash
# ntsd answers STUN Binding (RFC 8489) on 127.0.0.1 and [::1]: coturn's turnutils_stunclient over UDP,
# a hand-built client over TCP (framing: two requests in one write, one request over three writes),
# garbage on TCP closes only that connection, garbage UDP is counted, option errors exit 2, --config works.
set -u
NTSD="$NTS_BUILD/ntsd"
CLIENT="/usr/bin/python3 $NTS_TOP/tests/interop/stun_client.py"
tmp=$(mktemp -d /tmp/nts-stun-binding.XXXXXX)
pids=()
n=0 failed=0

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "# $2"; }
check() { # description, command...
	local d=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$d"; else fail "$d" "$out"; fi
}

# Starts ntsd with the given arguments; waits (bounded) until its control socket answers.
# Sets $pid; returns 1 if it exited or never answered.
start_ntsd() { # ctl-socket log args...
	local sock=$1 log=$2
	shift 2
	"$NTSD" "$@" >"$log" 2>&1 &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 1
		$CLIENT status "$sock" version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# Stops ntsd with SIGTERM and returns its exit status (bounded wait).
stop_ntsd() { # pid
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	wait "$1"
}

# A free-looking port pair: retry on a few random ports if the start fails (port taken).
sock="$tmp/ctl.sock"
started=0
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 30000))
	if start_ntsd "$sock" "$tmp/ntsd.log" --listen "127.0.0.1:$port" --listen "[::1]:$port" \
		--ctl-socket "$sock" --db "$tmp/nts.db" --pin-dir "$tmp/bpf" --no-api --software nts-test \
		--user alice:wonderland --allow-peer 127.0.0.0/8 --allow-peer 127.0.0.1; then
		started=1
		break
	fi
	kill "$pid" 2>/dev/null
done
if [ "$started" -ne 1 ]; then
	fail "ntsd starts on 127.0.0.1 and [::1]" "$(cat "$tmp/ntsd.log")"
	echo "1..$n"
	exit 1
fi
main_pid=$pid
pass "ntsd starts on 127.0.0.1 and [::1] (port $port)"
grep -q "started .*udp 127.0.0.1:$port.*tcp \[::1\]:$port" "$tmp/ntsd.log" &&
	pass "the start log line lists the listeners" || fail "the start log line lists the listeners" "$(cat "$tmp/ntsd.log")"

# coturn's client over UDP; strace tells us the port it really used, to check the mapped port against.
stunclient_check() { # server local-address
	local server=$1 localaddr=$2 out mapped real
	out=$(timeout 10 strace -f -e trace=getsockname -o "$tmp/strace" \
		turnutils_stunclient -L "$localaddr" -p "$port" "$server" 2>&1) || { echo "$out"; return 1; }
	mapped=$(echo "$out" | sed -n 's/.*UDP reflexive addr: \(.*\)$/\1/p' | head -1)
	real=$(sed -n 's/.*sin6\?_port=htons(\([0-9]*\)).*/\1/p' "$tmp/strace" | tail -1)
	[ "$mapped" = "$localaddr:$real" ] || { echo "mapped '$mapped', expected '$localaddr:$real'"; echo "$out"; return 1; }
}
check "turnutils_stunclient over UDP/IPv4 gets its own address and port mapped" stunclient_check 127.0.0.1 127.0.0.2
check "turnutils_stunclient over UDP/IPv6 gets its own address and port mapped" stunclient_check ::1 ::1
check "a hand-built UDP Binding over IPv4 is answered with XOR-MAPPED-ADDRESS and FINGERPRINT" \
	$CLIENT udp 127.0.0.1 "$port"

check "TCP/IPv4 Binding gets XOR-MAPPED-ADDRESS and FINGERPRINT" $CLIENT tcp 127.0.0.1 "$port"
check "TCP/IPv6 Binding gets XOR-MAPPED-ADDRESS and FINGERPRINT" $CLIENT tcp ::1 "$port"
check "two requests in one TCP write get two answers" $CLIENT tcp-two-in-one-write 127.0.0.1 "$port"
check "a request split over three TCP writes is answered once complete" $CLIENT tcp-split ::1 "$port"
check "garbage on TCP closes only that connection" $CLIENT tcp-garbage 127.0.0.1 "$port"
bad=$($CLIENT status "$sock" stats.tcp_closed_bad_framing)
[ "$bad" = 1 ] && pass "the closed connection is counted as bad framing" ||
	fail "the closed connection is counted as bad framing" "tcp_closed_bad_framing=$bad"

before=$($CLIENT status "$sock" stats.udp_dropped_malformed)
check "garbage UDP is dropped without an answer" $CLIENT udp-garbage 127.0.0.1 "$port" 5
after=$($CLIENT status "$sock" stats.udp_dropped_malformed)
[ "$((after - before))" = 5 ] && pass "each garbage datagram is counted as dropped" ||
	fail "each garbage datagram is counted as dropped" "before=$before after=$after"
reqs=$($CLIENT status "$sock" stats.requests.binding)
[ "$reqs" -ge 10 ] && pass "Binding requests are counted ($reqs)" ||
	fail "Binding requests are counted" "requests.binding=$reqs"

# ntsctl allocations: a UDP allocation with a permission and a channel, made by hand, is listed.
NTSCTL="$NTS_BUILD/ntsctl --ctl-socket $sock"
if client=$($CLIENT allocate 127.0.0.1 "$port" alice wonderland 127.0.0.1 9 2>&1); then
	pass "a hand-built client allocates, permits and binds a channel (from $client)"
else
	fail "a hand-built client allocates, permits and binds a channel" "$client"
fi
check_alloc_json() {
	$NTSCTL allocations --json | /usr/bin/python3 -c '
import json, sys
doc = json.load(sys.stdin)
a = [x for x in doc["allocations"] if x["client"] == sys.argv[1]]
assert len(a) == 1, doc
a = a[0]
assert a["transport"] == "udp" and a["username"] == "alice", a
assert a["server"] == "127.0.0.1:" + sys.argv[2], a
assert len(a["relay"]) == 1 and a["relay"][0].startswith("127.0.0.1:"), a
assert a["relay_transport"] == "udp", a
assert a["expires"] > doc["now"], a
assert [p["peer"] for p in a["permissions"]] == ["127.0.0.1"], a
assert [(c["channel"], c["peer"]) for c in a["channels"]] == [(0x4000, "127.0.0.1:9")], a
assert a["c2p_packets"] >= 1 and a["c2p_bytes"] >= 5, a
' "$client" "$port"
}
check "ntsctl allocations --json lists its 5-tuple, user, relay, permission, channel and traffic" check_alloc_json
out=$($NTSCTL allocations 2>&1)
echo "$out" | grep -q "$client -> 127.0.0.1:$port" && echo "$out" | grep -q alice &&
	echo "$out" | grep -q "udp 127.0.0.1:" &&
	echo "$out" | grep -q "channel 0x4000 -> 127.0.0.1:9" &&
	pass "ntsctl allocations prints a table for people" || fail "ntsctl allocations prints a table for people" "$out"
allocs=$($CLIENT status "$sock" allocations)
[ "$allocs" = 1 ] && pass "status counts the allocation" || fail "status counts the allocation" "allocations=$allocs"

# Usage errors: exit status 2 and a message naming the problem.
out=$("$NTSD" --no-such-option 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q -- "--no-such-option" &&
	pass "an unknown option exits 2 naming it" || fail "an unknown option exits 2 naming it" "rc=$rc $out"
out=$("$NTSD" --listen nowhere 2>&1); rc=$?
[ "$rc" = 2 ] && pass "a bad option value exits 2" || fail "a bad option value exits 2" "rc=$rc $out"
printf 'realm = x\nfrobnicate = 1\n' >"$tmp/bad.conf"
out=$("$NTSD" --config "$tmp/bad.conf" 2>&1); rc=$?
[ "$rc" = 2 ] && echo "$out" | grep -q "bad.conf:2" &&
	pass "an unknown config-file option exits 2 naming file and line" ||
	fail "an unknown config-file option exits 2 naming file and line" "rc=$rc $out"

# TLS is served: a certificate that does not load fails the start clearly.
out=$(timeout 10 "$NTSD" --listen "127.0.0.1:$((port + 2))" --tls-listen "127.0.0.1:$((port + 3))" \
	--cert /dev/null --key /dev/null --ctl-socket "$tmp/tls.sock" --db "$tmp/tls.db" \
	--pin-dir "$tmp/bpf" --no-api 2>&1); rc=$?
[ "$rc" = 1 ] && echo "$out" | grep -q "tls-listen: cannot load --cert /dev/null" &&
	pass "--tls-listen with a certificate that does not load fails the start with status 1" ||
	fail "--tls-listen with a certificate that does not load fails the start with status 1" \
		"rc=$rc $out"

touch "$tmp/notadir"
out=$("$NTSD" --listen "127.0.0.1:$((port + 2))" --ctl-socket "$tmp/notadir/ntsd.sock" --db "$tmp/x.db" \
	--pin-dir "$tmp/bpf" --no-api 2>&1); rc=$?
[ "$rc" = 1 ] && echo "$out" | grep -q "control socket $tmp/notadir/ntsd.sock: cannot create its directory" &&
	pass "a control socket directory that cannot be created fails the start with status 1" ||
	fail "a control socket directory that cannot be created fails the start with status 1" "rc=$rc $out"

# --config: the file alone sets listen (wildcard this time), ctl socket and db.
sock2="$tmp/cfg/ctl.sock"
started=0
for _ in 1 2 3 4 5; do
	port2=$((20000 + RANDOM % 30000))
	cat >"$tmp/ntsd.conf" <<EOF
# ntsd test configuration
listen = 0.0.0.0:$port2
listen = [::]:$port2
ctl-socket = $sock2
db = $tmp/cfg.db
pin-dir = $tmp/bpf
no-api = true
EOF
	if start_ntsd "$sock2" "$tmp/ntsd2.log" --config "$tmp/ntsd.conf"; then
		started=1
		break
	fi
	kill "$pid" 2>/dev/null
done
if [ "$started" = 1 ]; then
	pass "ntsd starts from --config alone (control socket directory created)"
	port_saved=$port
	port=$port2
	check "the --config listener answers turnutils_stunclient" stunclient_check 127.0.0.1 127.0.0.1
	# A connected UDP socket only accepts the answer if it leaves from the address it was sent to.
	check "a wildcard UDP/IPv4 listener answers from the address the client reached" \
		$CLIENT udp 127.0.0.3 "$port2"
	check "a wildcard UDP/IPv6 listener answers from the address the client reached" \
		$CLIENT udp ::1 "$port2"
	port=$port_saved
	stop_ntsd "$pid"; rc=$?
	[ "$rc" = 0 ] && pass "the --config ntsd stops with status 0" || fail "the --config ntsd stops with status 0" "rc=$rc"
else
	fail "ntsd starts from --config alone" "$(cat "$tmp/ntsd2.log")"
fi

# A second ntsd on the same control socket refuses to start (exit 1) and leaves the first alone.
"$NTSD" --listen "127.0.0.1:$((port + 1))" --ctl-socket "$sock" --db "$tmp/nts.db" --pin-dir "$tmp/bpf" \
	--no-api >"$tmp/ntsd3.log" 2>&1 &
p3=$!
pids+=("$p3")
wait "$p3"; rc=$?
[ "$rc" = 1 ] && grep -q "another ntsd" "$tmp/ntsd3.log" &&
	pass "a second ntsd on a live control socket exits 1" ||
	fail "a second ntsd on a live control socket exits 1" "rc=$rc $(cat "$tmp/ntsd3.log")"
check "the first ntsd still answers after that" $CLIENT tcp 127.0.0.1 "$port"

stop_ntsd "$main_pid"; rc=$?
[ "$rc" = 0 ] && pass "ntsd stops on SIGTERM with status 0" || fail "ntsd stops on SIGTERM with status 0" "rc=$rc"
grep -q "stopped" "$tmp/ntsd.log" && pass "the stop is logged" || fail "the stop is logged" "$(tail -5 "$tmp/ntsd.log")"
[ ! -e "$sock" ] && pass "the control socket is removed on stop" || fail "the control socket is removed on stop"
out=$($NTSCTL allocations 2>&1); rc=$?
[ "$rc" = 1 ] && echo "$out" | grep -q "not running" &&
	pass "ntsctl allocations says so when ntsd is not running" ||
	fail "ntsctl allocations says so when ntsd is not running" "rc=$rc $out"

# make test SAN=1: every ntsd run above must have left no sanitizer report (leaks show at exit).
if grep -lE 'Sanitizer|runtime error' "$tmp"/ntsd*.log >/dev/null 2>&1; then
	fail "no ntsd run logged a sanitizer report" "$(grep -hA20 -E 'Sanitizer|runtime error' "$tmp"/ntsd*.log | head -40)"
else
	pass "no ntsd run logged a sanitizer report"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
