#!/usr/bin/env bash
# Amplification of unauthenticated answers, nts next to coturn (both on loopback, same realm): the
# table the README reports, and the checks of amplification.py. Sizes only, no timing.
set -u
B=${NTS_BUILD:-$(pwd)/build}
tmp=$(mktemp -d /tmp/nts-ampl.XXXXXX)
. "$(dirname "$0")/turn_lib.bash"
trap turn_cleanup EXIT

if ! command -v turnserver >/dev/null; then
	echo "ok 1 - amplification next to coturn # SKIP coturn's turnserver is not installed"
	exit 0
fi
turn_pick_ports 33000 1000
turn_start_ntsd --listen "127.0.0.1:$PORT" --user alice:wonderland --realm nts || exit 1
CPORT=$((PORT + 1))
while ! turn_port_free "$CPORT"; do CPORT=$((CPORT + 2)); done
turnserver -n --listening-ip=127.0.0.1 --listening-port="$CPORT" --relay-ip=127.0.0.1 \
	--min-port="$RMIN" --max-port="$RMAX" --realm=nts --lt-cred-mech --user=alice:wonderland \
	--no-tls --no-dtls --no-cli --simple-log --log-file="$tmp/coturn.log" \
	--pidfile="$tmp/coturn.pid" --userdb="$tmp/coturn.db" >"$tmp/coturn.out" 2>&1 &
turn_pids+=($!)
for _ in $(seq 1 50); do
	ss -Hlun "sport = :$CPORT" | grep -q . && break
	sleep 0.1
done

n=0 failed=0
while read -r line; do
	case "$line" in
	"ok - "*) n=$((n + 1)) && echo "ok $n - ${line#ok - }" ;;
	"not ok - "*) n=$((n + 1)) failed=$((failed + 1)) && echo "not ok $n - ${line#not ok - }" ;;
	*) echo "# $line" ;;
	esac
done < <(timeout 60 /usr/bin/python3 "$(dirname "$0")/amplification.py" 127.0.0.1 "$PORT" \
	"$CPORT" 2>&1)
[ "$n" -ge 12 ] || { n=$((n + 1)) failed=$((failed + 1)) && echo "not ok $n - every check ran"; }
echo "1..$n"
[ "$failed" -eq 0 ]
