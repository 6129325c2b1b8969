#!/usr/bin/env bash
# The connectivity test page (README.md, "Connectivity test page") in Debian's chromium, headless
# through playwright-core, in a client namespace; ntsd in a server namespace on 198.18.0.1 with UDP
# and TCP on 3478 and TLS on 443 (a certificate made here). The page, opened by the link
# `ntsctl diag-link` prints, reports that every transport works; with UDP to the TURN port dropped
# in the client namespace (nftables) it says clearly that UDP fails and the others work; a tampered
# link gets 401 and an expired one 403, and the page says which. Prints TAP; cleans up.
set -u
tmp=$(mktemp -d /tmp/nts-diag.XXXXXX)
n=0 failed=0 ntsd_pid=
. "$(dirname "$0")/lib.bash"
id=$$
C=ntsbr-c-$id S=ntsbr-s-$id
ctl=$tmp/ntsd.sock
SRV=198.18.0.1
API=http://$SRV:8080
ntsctl() { in_ns "$S" "$B/ntsctl" --ctl-socket "$ctl" --db "$tmp/nts.db" "$@"; }
page() { in_ns "$C" timeout 90 node "$NTS_TOP/tests/browser/diag_page.js" "$@"; }

cleanup() {
	[ -n "$ntsd_pid" ] && kill -9 "$ntsd_pid" 2>/dev/null
	for ns in "$C" "$S"; do ip netns del "$ns" 2>/dev/null; done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
browser_require

setup() {
	set -e
	for ns in "$C" "$S"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
	ip link add cs0 netns "$C" type veth peer name sc0 netns "$S"
	ip -n "$C" addr add 198.18.0.2/24 dev cs0
	ip -n "$S" addr add $SRV/24 dev sc0
	ip -n "$C" link set cs0 up
	ip -n "$S" link set sc0 up
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=nts.test \
		-keyout "$tmp/server.key" -out "$tmp/server.crt" >/dev/null 2>&1
	set +e
}
setup || { echo "not ok 1 - set up namespaces and a certificate"; exit 1; }

# The two ends of each test meet at the relay: ntsd must accept its own relay address as a peer
# (an exact --allow-peer), as README.md says for the page.
nsenter --net=/var/run/netns/"$S" "$B/ntsd" --listen $SRV:3478 --tls-listen $SRV:443 \
	--cert "$tmp/server.crt" --key "$tmp/server.key" --api-listen $SRV:8080 \
	--relay-ports 50000-50999 --allow-peer 198.18.0.0/15 --allow-peer $SRV --db "$tmp/nts.db" \
	--ctl-socket "$ctl" --pin-dir "$tmp/pin" --verbose >"$tmp/ntsd.log" 2>&1 &
ntsd_pid=$!
api_up() { in_ns "$C" curl -s -o /dev/null --max-time 2 "$API/metrics"; }
if ! wait_for 10 api_up; then
	not_ok "ntsd starts and its API answers from the client namespace"
	sed 's/^/#   /' "$tmp/ntsd.log" | tail -20
	echo "1..$n"
	exit 1
fi
ok "ntsd starts and its API answers from the client namespace"
new_account() { ntsctl account create diag-page --json >"$tmp/account.json"; }
check "ntsctl account create makes the one account" new_account

url=$(ntsctl diag-link --ttl 5m)
check "ntsctl diag-link (the only account, 5 minutes) prints a link to ${url%%#*}" \
	test "${url%%#*}" = "$API/diag"

page "$url" >"$tmp/works.json" 2>"$tmp/works.err"
run_checks "$tmp/works.out" "$PY" "$NTS_TOP/tests/browser/diag_check.py" works "$tmp/works.json" \
	UDP,TCP,TLS
[ "$failed" -eq 0 ] || tail -n 20 "$tmp/works.err" | sed 's/^/#   /'

# A real block: the client's network drops UDP to the TURN port.
block() {
	in_ns "$C" nft -f - <<-NFT
	table inet ntsbr { chain out { type filter hook output priority 0; udp dport 3478 drop; }; }
	NFT
}
if check "nftables drops UDP to port 3478 in the client namespace" block; then
	page "$url" >"$tmp/blocked.json" 2>"$tmp/blocked.err"
	run_checks "$tmp/blocked.out" "$PY" "$NTS_TOP/tests/browser/diag_check.py" blocked \
		"$tmp/blocked.json" UDP
	in_ns "$C" nft delete table inet ntsbr
fi

# A tampered link (the last digit of its MAC changed) and an expired one.
last=${url: -1}
tampered="${url%?}$([ "$last" = 0 ] && echo 1 || echo 0)"
short=$(ntsctl diag-link --ttl 1s --json)
expires=$($PY -c 'import json,sys; print(json.load(sys.stdin)["expires"])' <<<"$short")
expired=$($PY -c 'import json,sys; print(json.load(sys.stdin)["url"])' <<<"$short")
past_expiry() { [ "$(date +%s)" -gt "$expires" ]; }
wait_for 5 past_expiry
page "$tampered" "$expired" >"$tmp/refused.json" 2>"$tmp/refused.err"
run_checks "$tmp/refused.out" "$PY" "$NTS_TOP/tests/browser/diag_check.py" refused \
	"$tmp/refused.json"

check_ntsd_stops_clean
echo "1..$n"
[ "$failed" -eq 0 ]
