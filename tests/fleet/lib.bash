# Shared by the tests/fleet/*.sh suites (sourced, not run): a fleet of ntsd nodes, each in its own
# network namespace on one bridge (198.18.0.0/24), sharing one database, with a client and an echo
# peer in namespaces of their own. Suites set n=0 failed=0 and call fleet_setup first.
#
# The database comes from one place, fleet_db_start: PostgreSQL (tests/fleet/pg.bash's throwaway
# cluster) when that file exists and ntsd is built with PostgreSQL support, else one SQLite file
# in the suite's temporary folder shared by the nodes (they run on one machine).
. "$(dirname "${BASH_SOURCE[0]}")/../netns/lib.bash"

B=${NTS_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
PY=/usr/bin/python3
FLEET_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fleet_id=$$
BR=ntsfl-r-$fleet_id CL=ntsfl-k-$fleet_id PE=ntsfl-p-$fleet_id
declare -A NODE_IP=([a]=198.18.0.1 [b]=198.18.0.2 [c]=198.18.0.3)
CLIENT_IP=198.18.0.10 PEER_IP=198.18.0.20 PEER_PORT=3480
ICE_HOST=turn.fleet.test
declare -A node_pid=()
fleet_pg= peer_pid=
tmp=$(mktemp -d /tmp/nts-fleet.XXXXXX)

node_ns() { echo "ntsfl-$1-$fleet_id"; }
now_ms() { date +%s%3N; }
json_field() { $PY -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# fleet_db_start: sets FLEET_DB, the --db every node and ntsctl use.
fleet_db_start() {
	if [ -f "$FLEET_DIR/pg.bash" ] && "$B/ntsd" --help 2>/dev/null | grep -qi postgres; then
		. "$FLEET_DIR/pg.bash"
		pg_start "$tmp/pg" || return 1
		fleet_pg=1
		FLEET_DB=$(pg_url)
	else
		FLEET_DB=$tmp/nts.db
	fi
	echo "# database: $FLEET_DB"
}

fleet_cleanup() {
	local p
	for p in "${node_pid[@]}" $peer_pid; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "$fleet_pg" ] && pg_stop
	for ns in "$BR" "$CL" "$PE" "$(node_ns a)" "$(node_ns b)" "$(node_ns c)"; do
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}

# fleet_setup: the namespaces (a bridge in $BR, one veth per namespace onto it), the echo peer
# and the database.
fleet_setup() {
	local ns name ip i=0
	set -e
	ip netns add "$BR"
	ip -n "$BR" link set lo up
	ip -n "$BR" link add br0 type bridge
	ip -n "$BR" link set br0 up
	for name in a b c k p; do
		case $name in
		k) ns=$CL ip=$CLIENT_IP ;;
		p) ns=$PE ip=$PEER_IP ;;
		*) ns=$(node_ns "$name") ip=${NODE_IP[$name]} ;;
		esac
		i=$((i + 1))
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		ip link add "fl$i" netns "$ns" type veth peer name "br$i" netns "$BR"
		ip -n "$BR" link set "br$i" master br0 up
		ip -n "$ns" addr add "$ip/24" dev "fl$i"
		ip -n "$ns" link set "fl$i" up
	done
	in_ns "$CL" ping -c1 -W2 "$PEER_IP" >/dev/null
	set +e
	nsenter --net=/var/run/netns/"$PE" turnutils_peer -L "$PEER_IP" -p "$PEER_PORT" >"$tmp/peer.log" 2>&1 &
	peer_pid=$!
	fleet_db_start
}

# ntsctl_on NODE ARGS...: ntsctl against NODE's control socket (and the shared database).
ntsctl_on() {
	local node=$1
	shift
	in_ns "$(node_ns "$node")" "$B/ntsctl" --ctl-socket "$tmp/$node.sock" --db "$FLEET_DB" \
		--pin-dir "$tmp/pin-$node" "$@"
}

# node_start NODE [EXTRA ARGS...]: ntsd for NODE in its namespace, API on its address :8080;
# waits until its control socket answers.
node_start() {
	local node=$1 ip=${NODE_IP[$1]}
	shift
	# nsenter execs ntsd: $! is ntsd itself (signals reach it, not a subshell).
	nsenter --net=/var/run/netns/"$(node_ns "$node")" "$B/ntsd" --listen "$ip:3478" --api-listen "$ip:8080" \
		--ice-host "$ICE_HOST" --node-name "$node" --region eu \
		--db "$FLEET_DB" --ctl-socket "$tmp/$node.sock" --pin-dir "$tmp/pin-$node" \
		--relay-ports 50000-50999 --allow-peer 198.18.0.0/15 --max-allocations 100 \
		--verbose "$@" >>"$tmp/$node.log" 2>&1 &
	node_pid[$node]=$!
	for _ in $(seq 1 100); do
		ntsctl_on "$node" status 2>/dev/null | grep -q '^ntsd: running' && return 0
		kill -0 "${node_pid[$node]}" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# node_stop_clean NODE: SIGTERM, exit status 0, no sanitizer report in its log.
node_stop_clean() {
	local node=$1 rc
	kill -TERM "${node_pid[$node]}" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "${node_pid[$node]}" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "${node_pid[$node]}" 2>/dev/null
	wait "${node_pid[$node]}" 2>/dev/null
	rc=$?
	unset "node_pid[$node]"
	echo "# ntsd $node exit status $rc"
	grep -A30 -E 'Sanitizer|runtime error' "$tmp/$node.log" | head -40 | sed 's/^/#   /'
	[ "$rc" -eq 0 ] && ! grep -qE 'Sanitizer|runtime error' "$tmp/$node.log"
}

# api NODE METHOD PATH USER:PASS [curl args...]: NODE's token API answer, from the client ns.
api() {
	local node=$1 method=$2 path=$3 user=$4
	shift 4
	in_ns "$CL" curl -s --max-time 10 -X "$method" -u "$user" "$@" \
		"http://${NODE_IP[$node]}:8080/2010-04-01/$path"
}

# fleet_state VIA NODE: NODE's state as `ntsctl fleet --json` on VIA lists it ("" if absent).
fleet_state() {
	ntsctl_on "$1" fleet --json 2>/dev/null | $PY -c '
import json, sys
print(next((n["state"] for n in json.load(sys.stdin)["nodes"] if n["name"] == sys.argv[1]), ""))' "$2"
}

# allocs_of NODE SID: NODE's live allocations of account SID.
allocs_of() {
	ntsctl_on "$1" allocations --json | $PY -c '
import json, sys
print(sum(a["account"] == sys.argv[1] for a in json.load(sys.stdin)["allocations"]))' "$2"
}

# uclient NAME NODE USER PASS [N [GAP_MS]]: a channel session of N messages (default 20) through
# NODE to the echo peer, in the client ns; true when every message came back.
uclient() {
	local name=$1 node=$2 user=$3 pass=$4 msgs=${5:-20} gap=${6:-5} log=$tmp/uclient.$1 rc sm rm
	in_ns "$CL" timeout 90 turnutils_uclient -n "$msgs" -m 1 -l 100 -z "$gap" -u "$user" \
		-w "$pass" -e "$PEER_IP" -r "$PEER_PORT" "${NODE_IP[$node]}" >"$log" 2>&1
	rc=$?
	sm=$(sed -n 's/.*tot_send_msgs=\([0-9]*\), tot_recv_msgs=.*/\1/p' "$log" | tail -1)
	rm=$(sed -n 's/.*tot_send_msgs=[0-9]*, tot_recv_msgs=\([0-9]*\).*/\1/p' "$log" | tail -1)
	[ "$rc" -eq 0 ] && [ "${sm:-0}" -gt 0 ] && [ "${rm:-x}" = "$sm" ] &&
		grep -q "Total lost packets 0 (0.000000%)" "$log" && return 0
	echo "# uclient $name via $node: rc=$rc sent=${sm:-?} received=${rm:-?}"
	return 1
}

# token NODE SID TOKEN: "username password" of a fresh token from NODE's API.
token() {
	api "$1" POST "Accounts/$2/Tokens.json" "$2:$3" | $PY -c '
import json, sys
t = json.load(sys.stdin)
print(t["username"], t["password"])'
}
