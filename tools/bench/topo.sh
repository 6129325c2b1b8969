# Bench topology, sourced by tools/bench/run.sh and tests/bench/smoke.sh: three namespaces
#   client (c0 198.18.0.1) <-> (s0 198.18.0.2) server (s1 198.18.1.1) <-> (p0 198.18.1.2) peer
# joined by veth pairs, static neighbour entries, GRO on every receiver, tx checksum offload off on
# every sender. The client veth also holds TOPO_CLIENTS_N addresses from TOPO_CLIENTS_IP, so that
# many clients come from many addresses (ntsd steers a TCP or TLS client to a worker by its address
# alone). topo_up sets NS_C NS_S NS_P; topo_down removes them (safe to call twice).

TOPO_C_IP=198.18.0.1 TOPO_S_IP=198.18.0.2 TOPO_R_IP=198.18.1.1 TOPO_P_IP=198.18.1.2
TOPO_CLIENTS_IP=198.18.0.16 TOPO_CLIENTS_N=16 # 198.18.0.16 - 198.18.0.31

topo_mac() { # ns dev
	ip -n "$1" -o link show dev "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}

topo_up() { # tag
	local tag=$1
	NS_C=nb-c-$tag NS_S=nb-s-$tag NS_P=nb-p-$tag
	ip netns add "$NS_C" && ip netns add "$NS_S" && ip netns add "$NS_P" || return 1
	ip link add c0 netns "$NS_C" type veth peer name s0 netns "$NS_S" || return 1
	# The peer-side pair gets a queue per core: relay workers on several CPUs then send into
	# separate rings of the XDP sink on p0 instead of overflowing one (veth drops what does not fit).
	local q=$(nproc)
	ip link add s1 netns "$NS_S" numtxqueues "$q" numrxqueues "$q" type veth peer name p0 \
		netns "$NS_P" numtxqueues "$q" numrxqueues "$q" || return 1
	ip -n "$NS_C" addr add $TOPO_C_IP/24 dev c0
	ip -n "$NS_S" addr add $TOPO_S_IP/24 dev s0
	ip -n "$NS_S" addr add $TOPO_R_IP/24 dev s1
	ip -n "$NS_P" addr add $TOPO_P_IP/24 dev p0
	local ns dev
	for ns in "$NS_C" "$NS_S" "$NS_P"; do ip -n "$ns" link set lo up; done
	for pair in "$NS_C c0" "$NS_S s0" "$NS_S s1" "$NS_P p0"; do
		set -- $pair
		ip -n "$1" link set "$2" up
		ip netns exec "$1" ethtool -K "$2" gro on tx off >/dev/null 2>&1
	done
	ip -n "$NS_C" route add 198.18.1.0/24 via $TOPO_S_IP
	ip -n "$NS_P" route add 198.18.0.0/24 via $TOPO_R_IP
	ip netns exec "$NS_S" sysctl -qw net.ipv4.ip_forward=1
	MAC_C0=$(topo_mac "$NS_C" c0) MAC_S0=$(topo_mac "$NS_S" s0)
	MAC_S1=$(topo_mac "$NS_S" s1) MAC_P0=$(topo_mac "$NS_P" p0)
	ip -n "$NS_C" neigh replace $TOPO_S_IP lladdr "$MAC_S0" dev c0 nud permanent
	ip -n "$NS_S" neigh replace $TOPO_C_IP lladdr "$MAC_C0" dev s0 nud permanent
	ip -n "$NS_S" neigh replace $TOPO_P_IP lladdr "$MAC_P0" dev s1 nud permanent
	ip -n "$NS_P" neigh replace $TOPO_R_IP lladdr "$MAC_S1" dev p0 nud permanent
	local i a
	for i in $(seq 0 $((TOPO_CLIENTS_N - 1))); do
		a=198.18.0.$((${TOPO_CLIENTS_IP##*.} + i))
		ip -n "$NS_C" addr add "$a/24" dev c0 || return 1
		ip -n "$NS_S" neigh replace "$a" lladdr "$MAC_C0" dev s0 nud permanent
	done
}

topo_down() {
	local ns
	for ns in ${NS_C:-} ${NS_S:-} ${NS_P:-}; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	return 0
}
