#!/usr/bin/env bash
# TURN over TLS: coturn's turnutils_uclient over TLS (-t -S) against ntsd's --tls-listen
# with a certificate made here, with channels, Send/Data and padded channels, zero loss; TLS below
# 1.2 refused; SIGHUP reload: new handshakes see the new certificate while an allocation made
# before keeps relaying, and a broken certificate leaves the old one in place.
set -u
B=${NTS_BUILD:-$(pwd)/build}
N=${UCLIENT_MSGS:-20}
M=${UCLIENT_CLIENTS:-2}
L=121
tmp=$(mktemp -d /tmp/nts-tls.XXXXXX)
. "$(dirname "$0")/turn_lib.bash"
trap turn_cleanup EXIT

if ! command -v turnutils_uclient >/dev/null || ! command -v openssl >/dev/null; then
	echo "not ok 1 - turnutils_uclient and openssl are installed (tools/deps.sh)"
	exit 1
fi

# make_cert SERIAL: a self-signed certificate and key under $tmp/SERIAL.{crt,key}.
make_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=nts.test -set_serial "$1" \
		-keyout "$tmp/$1.key" -out "$tmp/$1.crt" >/dev/null 2>&1
}
# serial: the serial number (hex) of the certificate a new TLS handshake gets.
serial() {
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$TLSPORT" 2>/dev/null |
		openssl x509 -noout -serial 2>/dev/null | sed 's/serial=//'
}

make_cert 4097 && make_cert 8193 || {
	echo "not ok 1 - openssl makes test certificates"
	exit 1
}
cp "$tmp/4097.crt" "$tmp/server.crt"
cp "$tmp/4097.key" "$tmp/server.key"

turn_pick_ports 25000 2000
PEER=$((PORT + 1))
TLSPORT=$((PORT + 4000))
turn_start_ntsd --listen "127.0.0.1:$PORT" --tls-listen "127.0.0.1:$TLSPORT" \
	--cert "$tmp/server.crt" --key "$tmp/server.key" --allow-peer 127.0.0.0/8 --allow-peer 127.0.0.1 \
	--user alice:wonderland --max-allocations-per-user 1000 --realm nts.interop --verbose || exit 1
NTSD=${turn_pids[0]}
turnutils_peer -p "$PEER" -L 127.0.0.1 >"$tmp/peer.log" 2>&1 &
turn_pids+=($!)

# check_run NAME MSGS LOG RC: the uclient summary in LOG shows MSGS messages both ways, 0 lost.
check_run() {
	local name=$1 want=$2 log=$3 rc=$4 lost sm rm rb
	lost=$(sed -n 's/.*Total lost packets \([0-9]*\) .*/\1/p' "$log" | tail -1)
	sm=$(sed -n 's/.*tot_send_msgs=\([0-9]*\), tot_recv_msgs=.*/\1/p' "$log" | tail -1)
	rm=$(sed -n 's/.*tot_send_msgs=[0-9]*, tot_recv_msgs=\([0-9]*\).*/\1/p' "$log" | tail -1)
	rb=$(sed -n 's/.*tot_send_bytes ~ [0-9]*, tot_recv_bytes ~ \([0-9]*\).*/\1/p' "$log" | tail -1)
	if [ "$rc" -eq 0 ] && [ "${lost:-x}" = 0 ] && [ "${sm:-x}" = "$want" ] &&
		[ "${rm:-x}" = "$want" ] && [ "${rb:-x}" = $((want * L)) ]; then
		pass "uclient $name: $rm/$want messages, $rb bytes back, 0 lost"
	else
		fail "uclient $name: rc=$rc lost=${lost:-?} sent=${sm:-?} recv=${rm:-?} bytes=${rb:-?}" \
			"(want $want messages, $((want * L)) bytes)"
		tail -n 15 "$log" | tr -cd '[:print:]\t\n' | sed 's/^/#   /'
	fi
}

STATIC=(-u alice -w wonderland -e 127.0.0.1 -r "$PEER")
k=0
for v in "channels over TLS:" "Send/Data over TLS:-s" "padded channels over TLS:-D"; do
	k=$((k + 1))
	timeout 60 turnutils_uclient -p "$TLSPORT" -t -S ${v#*:} -n "$N" -m "$M" -l "$L" -z 5 \
		"${STATIC[@]}" 127.0.0.1 >"$tmp/run$k.log" 2>&1
	check_run "${v%%:*} (-t -S ${v#*:})" $((N * M)) "$tmp/run$k.log" $?
done

# RFC 8996: TLS 1.2 and 1.3 only. The refusal must come from ntsd: the client connected
# and sent its TLS 1.1 ClientHello (a refused connection or a client that sent nothing proves
# nothing), no certificate came back, and s_client failed.
echo | timeout 10 openssl s_client -connect "127.0.0.1:$TLSPORT" -tls1_1 \
	-cipher "DEFAULT@SECLEVEL=0" >"$tmp/tls11.log" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q '^CONNECTED' "$tmp/tls11.log" &&
	grep -qE 'handshake has read [0-9]+ bytes and written [1-9]' "$tmp/tls11.log" &&
	! grep -q 'BEGIN CERTIFICATE' "$tmp/tls11.log"; then
	pass "a TLS 1.1 handshake is refused"
else
	fail "a TLS 1.1 handshake is refused (s_client rc=$rc)"
	tail -n 8 "$tmp/tls11.log" | sed 's/^/#   /'
fi
for v in tls1_2 tls1_3; do
	if echo | timeout 10 openssl s_client -connect "127.0.0.1:$TLSPORT" -$v 2>/dev/null |
		grep -q "BEGIN CERTIFICATE"; then
		pass "a ${v/_/.} handshake succeeds"
	else
		fail "a ${v/_/.} handshake succeeds"
	fi
done

s=$(serial)
[ "$s" = 1001 ] && pass "the handshake shows the first certificate (serial $s)" ||
	fail "the handshake shows the first certificate (serial '${s:-none}', want 1001)"

# SIGHUP while an allocation relays: 100 messages 30 ms apart per client, the reload in between.
LONG=100
before=$(grep -c "allocation [0-9]* for tls" "$tmp/ntsd.log")
timeout 60 turnutils_uclient -p "$TLSPORT" -t -S -n "$LONG" -m "$M" -l "$L" -z 30 "${STATIC[@]}" \
	127.0.0.1 >"$tmp/long.log" 2>&1 &
ucl=$!
for _ in $(seq 1 100); do # until its allocations exist
	[ "$(grep -c "allocation [0-9]* for tls" "$tmp/ntsd.log")" -ge $((before + M)) ] && break
	sleep 0.05
done
cp "$tmp/8193.crt" "$tmp/server.crt"
cp "$tmp/8193.key" "$tmp/server.key"
kill -HUP "$NTSD"
for _ in $(seq 1 50); do
	grep -q "reloaded TLS certificate" "$tmp/ntsd.log" && break
	sleep 0.1
done
s=$(serial)
[ "$s" = 2001 ] && pass "after SIGHUP a new handshake shows the new certificate (serial $s)" ||
	fail "after SIGHUP a new handshake shows the new certificate (serial '${s:-none}', want 2001)"
if kill -0 "$ucl" 2>/dev/null; then
	pass "the uclient session is still running across the reload"
else
	fail "the uclient session is still running across the reload (it ended too early)"
fi
wait "$ucl"
check_run "allocations made before SIGHUP keep relaying" $((LONG * M)) "$tmp/long.log" $?

# A reload with a broken key keeps the working certificate.
echo broken >"$tmp/server.key"
kill -HUP "$NTSD"
for _ in $(seq 1 50); do
	grep -q "not reloaded" "$tmp/ntsd.log" && break
	sleep 0.1
done
s=$(serial)
[ "$s" = 2001 ] && pass "SIGHUP with a broken key keeps the working certificate" ||
	fail "SIGHUP with a broken key keeps the working certificate (serial '${s:-none}')"

if kill -0 "$NTSD" 2>/dev/null; then
	pass "ntsd is still running"
else
	fail "ntsd is still running"
	tail -n 20 "$tmp/ntsd.log" | sed 's/^/#   /'
fi
turn_done 13
