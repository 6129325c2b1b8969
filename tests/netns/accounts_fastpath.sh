#!/usr/bin/env bash
# The account API with the XDP fast path attached: client ns <-> server ns (ntsd, XDP native on
# both veths) <-> peer ns. A master creates a subaccount with POST /2010-04-01/Accounts.json;
# turnutils_uclient relays ChannelData on the subaccount's ephemeral credential through the
# kernel; the master's POST /Accounts/{Sid}.json Status=suspended must stop the kernel relaying
# within a second and leave no allocation of the subaccount, as `ntsctl account suspend` does.
# Namespaces are entered with nsenter --net (see tests/netns/fastpath.sh). Prints TAP; cleans up
# its namespaces, daemons and pins.
set -u
B=${NTS_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
PY=/usr/bin/python3
id=$$
C=ntsac-c-$id S=ntsac-s-$id P=ntsac-p-$id
tmp=$(mktemp -d /tmp/nts-accounts-fp.XXXXXX)
pin=/sys/fs/bpf/nts-test-ac-$id
ctl=$tmp/ntsd.sock
SECRET=accounts-fp-secret
API=http://198.18.0.1:8080
n=0 failed=0 ntsd_pid= peer_pid= uclient_pid=

. "$(dirname "$0")/lib.bash"
ntsctl() { in_ns "$S" "$B/ntsctl" --pin-dir "$pin" --ctl-socket "$ctl" --db "$tmp/nts.db" "$@"; }
now_ms() { date +%s%3N; }
# api METHOD PATH USER:PASS [curl args...]: the API's answer body, from inside the server ns.
api() {
	local method=$1 path=$2 user=$3
	shift 3
	in_ns "$S" curl -s --max-time 10 -X "$method" -u "$user" "$@" "$API/2010-04-01/$path"
}
json_field() { $PY -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

cleanup() {
	[ -n "$uclient_pid" ] && kill -9 "$uclient_pid" 2>/dev/null
	[ -n "$ntsd_pid" ] && kill -9 "$ntsd_pid" 2>/dev/null
	[ -n "$peer_pid" ] && kill -9 "$peer_pid" 2>/dev/null
	if [ -e /var/run/netns/"$S" ]; then
		ntsctl detach sc0 >/dev/null 2>&1
		ntsctl detach sp0 >/dev/null 2>&1
	fi
	for ns in "$C" "$S" "$P"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$pin"; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
command -v turnutils_uclient >/dev/null || skip_all "turnutils_uclient (coturn) missing"
[ -x "$B/ntsd" ] && [ -x "$B/ntsctl" ] || skip_all "build ntsd and ntsctl first"

# --- topology: 198.18.0.0/24 client side, 198.19.0.0/24 peer side (RFC 2544 benchmarking space)
start_ntsd() {
	nsenter --net=/var/run/netns/"$S" "$B/ntsd" --listen 198.18.0.1:3478 --secret "$SECRET" \
		--realm nts --relay-ports 50000-50999 --fastpath-channels 4096 --max-allocations 1024 \
		--allow-peer 198.18.0.0/15 \
		--ctl-socket "$ctl" --pin-dir "$pin" --db "$tmp/nts.db" --api-listen 198.18.0.1:8080 \
		--verbose \
		>>"$tmp/ntsd.log" 2>&1 &
	ntsd_pid=$!
	for _ in $(seq 1 100); do
		ntsctl status 2>/dev/null | grep -q '^ntsd: running' && return 0
		sleep 0.1
	done
	return 1
}

kstat() { ntsctl stats --json 2>/dev/null | $PY -c "import json,sys; d=json.load(sys.stdin); print(d['c2p_packets']+d['p2c_packets'])" 2>/dev/null || echo 0; }
account_allocs() {
	ntsctl allocations --json | $PY -c '
import json, sys
print(sum(a["account"] == sys.argv[1] for a in json.load(sys.stdin)["allocations"]))' "$1"
}

netns_relay_setup || { echo "not ok 1 - set up namespaces"; exit 1; }
nsenter --net=/var/run/netns/"$P" turnutils_peer -L 198.19.0.2 -p 3480 >"$tmp/peer.log" 2>&1 &
peer_pid=$!
check "ntsd starts" start_ntsd
check "ntsctl attach sc0 and sp0 (native)" \
	eval 'ntsctl attach sc0 --mode native >/dev/null && ntsctl attach sp0 --mode native >/dev/null'
master=$(ntsctl account create "master" --json)
m_sid=$(json_field sid <<<"$master") m_token=$(json_field auth_token <<<"$master")
sid=$(api POST Accounts.json "$m_sid:$m_token" -d FriendlyName=customer | json_field sid)
check "the master creates a subaccount through the API ($sid)" [ "${#sid}" = 34 ]

# About 30 s of ChannelData (1500 messages 20 ms apart) under the account's ephemeral credential.
in_ns "$C" timeout 60 turnutils_uclient -u "$sid" -W "$SECRET" -e 198.19.0.2 -r 3480 -c -m 1 \
	-n 1500 -l 172 -z 20 198.18.0.1 >"$tmp/uclient.log" 2>&1 &
uclient_pid=$!
k0=$(kstat) relaying=
for _ in $(seq 1 100); do
	k=$(kstat)
	[ "$k" -gt $((k0 + 100)) ] && [ "$(account_allocs "$sid")" -gt 0 ] && { relaying=1; break; }
	sleep 0.1
done
check "the kernel relays the account's ChannelData (kernel packets $k0 -> ${k:-?})" [ -n "$relaying" ]

t0=$(now_ms)
status=$(api POST "Accounts/$sid.json" "$m_sid:$m_token" -d Status=suspended | json_field status)
check "the master suspends it through the API ($status)" [ "$status" = suspended ]
gone=
while [ $(($(now_ms) - t0)) -le 1000 ]; do
	[ "$(account_allocs "$sid")" = 0 ] && { gone=$(($(now_ms) - t0)); break; }
	sleep 0.05
done
check "suspension through the API ends the subaccount's allocations within 1 s (${gone:-no}ms)" \
	[ -n "$gone" ]
# From then on the kernel relays nothing more for it, while uclient keeps sending.
sleep_until=$((t0 + 1000))
while [ "$(now_ms)" -lt "$sleep_until" ]; do sleep 0.05; done
k1=$(kstat)
sleep 1
k2=$(kstat)
check "the kernel relays nothing more one second after suspension ($k1 -> $k2)" [ "$k1" = "$k2" ]
check "uclient was still sending meanwhile" kill -0 "$uclient_pid"

# ntsd stops cleanly: SIGTERM, status 0, no sanitizer report in its log (make test SAN=1 reads it).
check_ntsd_stops_clean

echo "1..$n"
exit "$failed"
