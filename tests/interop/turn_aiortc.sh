#!/usr/bin/env bash
# A real WebRTC stack through ntsd: two aiortc peers in one process, relay-only ICE with ntsd
# as the only ICE server, a data channel carrying 120 messages and their echoes, the selected pair
# relay <-> relay on both sides; once with ephemeral credentials, once with a static user, then
# with only a turn:...?transport=tcp and then only a turns: ICE server (TLS, with a test
# certificate the client is told to trust). ntsd's own counters must show the traffic relayed in
# userspace.
set -u
B=${NTS_BUILD:-$(pwd)/build}
TOP=${NTS_TOP:-$(pwd)}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/nts-aiortc.XXXXXX)
. "$(dirname "$0")/turn_lib.bash"
trap turn_cleanup EXIT

if ! "$PY" -c 'import aiortc' 2>/dev/null; then
	echo "not ok 1 - python3-aiortc is installed (tools/deps.sh)"
	exit 1
fi
# aioice checks the TURN server's certificate and name: a certificate for 127.0.0.1, trusted
# through SSL_CERT_FILE for the turns: run only.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	>/dev/null 2>&1 || {
	echo "not ok 1 - openssl makes a test certificate"
	exit 1
}
turn_pick_ports 31001 4000
TLSPORT=$((PORT + 1))
turn_start_ntsd --listen "127.0.0.1:$PORT" --tls-listen "127.0.0.1:$TLSPORT" \
	--cert "$tmp/cert.pem" --key "$tmp/key.pem" --allow-peer 127.0.0.0/8 --allow-peer 127.0.0.1 \
	--user webrtc:rtc-pass --secret aiortc-secret --realm nts.aiortc --verbose || exit 1

# Renumbers the Python script's TAP lines into this script's sequence.
run_py() {
	local label=$1 line
	shift
	timeout 90 env ${CERT_ENV:-} "$PY" "$TOP/tests/interop/turn_aiortc.py" 127.0.0.1 "$PORT" "$@" \
		>"$tmp/py.log" 2>&1
	local rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "*) pass "$label: ${line#* - }" ;;
		"not ok "*) fail "$label: ${line#* - }" ;;
		esac
	done <"$tmp/py.log"
	if [ "$rc" -ne 0 ]; then
		fail "$label: the aiortc run exited with $rc"
		grep -v '^ok\|^not ok' "$tmp/py.log" | tail -n 15 | sed 's/^/#   /'
	fi
}
run_py "ephemeral" --secret aiortc-secret --messages 120
run_py "static user" --user webrtc:rtc-pass --messages 120
run_py "turn: over TCP only" --secret aiortc-secret --messages 120 \
	--url "turn:127.0.0.1:$PORT?transport=tcp"
CERT_ENV="SSL_CERT_FILE=$tmp/cert.pem" run_py "turns: (TLS) only" --secret aiortc-secret \
	--messages 120 --url "turns:127.0.0.1:$TLSPORT?transport=tcp"

# The four sessions crossed ntsd: 4 x (120 messages + 120 echoes) at least, each way, in
# userspace; the last two over client streams (counted in the stream stats).
c2p=$("$B/ntsctl" --ctl-socket "$tmp/ctl.sock" status --json 2>/dev/null |
	"$PY" -c 'import json,sys; s=json.load(sys.stdin)["ntsd"]["stats"]; print(s["user_c2p_packets"], s["user_p2c_packets"], s["allocations_created"])')
read -r c p a <<<"${c2p:-0 0 0}"
if [ "$c" -ge 960 ] && [ "$p" -ge 960 ] && [ "$a" -ge 8 ]; then
	pass "ntsd relayed the sessions: $c packets client->peer, $p peer->client, $a allocations"
else
	fail "ntsd relayed the sessions: c2p=$c p2c=$p allocations=$a"
fi
# The stream runs really allocated over TCP and over TLS (two peers each).
for tr in tcp tls; do
	k=$(grep -c "allocation [0-9]* for $tr " "$tmp/ntsd.log")
	if [ "$k" -ge 2 ]; then
		pass "$k allocations were made over $tr"
	else
		fail "$k allocations were made over $tr (want 2)"
	fi
done
turn_done
