# Contenders of the bench, sourced by tools/bench/run.sh. Each start_<name> starts the relay in the
# server namespace and sets SRV_PID (empty when nothing runs in userspace) and SRV_CMD (the exact
# command line, for the report), or sets SRV_STATUS to "not built" / "failed: reason" and returns 1.
# stop_server ends whatever start_* started. Needs NS_S, TMP, BUILD, SECRET from the caller.

CORES=$(nproc)
TURN_PORT=3478
TLS_PORT=5349

# A self-signed certificate for the TLS listeners (ECDSA P-256), made once per run into $TMP.
make_bench_cert() {
	[ -s "$TMP/bench.crt" ] && return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=nts.bench -keyout "$TMP/bench.key" -out "$TMP/bench.crt" >/dev/null 2>&1
}

wait_listen() { # t|u ns addr:port — a TCP or UDP socket listening there; bounded: 50 x 0.1 s
	local i
	for i in $(seq 50); do
		ip netns exec "$2" ss -Hl"$1"n 2>/dev/null | grep -q " $3 " && return 0
		sleep 0.1
	done
	return 1
}

start_coturn() {
	SRV_PID="" SRV_STATUS=ok
	if ! command -v turnserver >/dev/null; then
		SRV_STATUS="not built: turnserver not installed"
		return 1
	fi
	rm -f "$TMP/turndb" "$TMP/turnserver.pid"
	if ! make_bench_cert; then
		SRV_STATUS="failed: openssl cannot make the bench certificate"
		return 1
	fi
	# Fastest settings of Debian's coturn 4.6: one relay thread per core, no CLI, no DTLS
	# listener, no RFC 5780, logging off; TURN REST ephemeral credentials. TCP and TLS listeners
	# (the same port, and TLS_PORT with the bench's certificate) for the TCP and TLS clients.
	SRV_CMD="turnserver -n --listening-ip=$TOPO_S_IP --listening-port=$TURN_PORT --relay-ip=$TOPO_R_IP"
	SRV_CMD+=" --tls-listening-port=$TLS_PORT --cert=$TMP/bench.crt --pkey=$TMP/bench.key"
	SRV_CMD+=" --min-port=49152 --max-port=65535 --realm=nts --use-auth-secret"
	SRV_CMD+=" --static-auth-secret=$SECRET --relay-threads=$CORES --no-cli"
	SRV_CMD+=" --no-dtls --no-tcp-relay --no-rfc5780 --no-stun-backward-compatibility"
	SRV_CMD+=" --no-software-attribute --no-multicast-peers --allowed-peer-ip=$TOPO_P_IP"
	SRV_CMD+=" --userdb=$TMP/turndb --pidfile=$TMP/turnserver.pid --log-file=/dev/null --no-stdout-log"
	ip netns exec "$NS_S" $SRV_CMD >"$TMP/coturn.log" 2>&1 &
	SRV_PID=$!
	if ! wait_listen u "$NS_S" "$TOPO_S_IP:$TURN_PORT" ||
		! wait_listen t "$NS_S" "$TOPO_S_IP:$TLS_PORT"; then
		SRV_STATUS="failed: turnserver did not listen: $(tail -c 200 "$TMP/coturn.log" | tr '\n' ' ')"
		stop_server
		return 1
	fi
}

# Bandwidth limits far above anything the bench offers (per allocation and, for an account made
# for the run, per account): ntsd-xdp-limited measures what taking every packet from the shared
# buckets costs (README "Bandwidth limits").
LIMIT_ALLOC=4000000000   # bytes and datagrams per second per allocation (the options' maximum)
LIMIT_ACCOUNT=10000000000 # bytes per second per account (include/nts/bucket.h's largest rate)

# NTSD_WORKERS: --workers of the ntsd contenders (1, or the cores for ntsd-workers).
start_ntsd() { # [xdp [limited]]
	SRV_PID="" SRV_STATUS=ok
	LGA[17]=ACbench
	if [ ! -x "$BUILD/ntsd" ]; then
		SRV_STATUS="not built"
		return 1
	fi
	rm -rf "$TMP/ntsd" && mkdir -p "$TMP/ntsd"
	if ! make_bench_cert; then
		SRV_STATUS="failed: openssl cannot make the bench certificate"
		return 1
	fi
	SRV_CMD="ntsd --listen $TOPO_S_IP:$TURN_PORT --relay-ip $TOPO_R_IP --realm nts --secret $SECRET"
	SRV_CMD+=" --tls-listen $TOPO_S_IP:$TLS_PORT --cert $TMP/bench.crt --key $TMP/bench.key"
	SRV_CMD+=" --allow-peer $TOPO_P_IP/32 --api-listen $TOPO_S_IP:8080 --db $TMP/ntsd/nts.db"
	SRV_CMD+=" --ctl-socket $TMP/ntsd/ctl.sock --pin-dir $PIN_DIR"
	SRV_CMD+=" --max-allocations-per-user 100000 --max-allocations-per-account 10000000"
	SRV_CMD+=" --unauth-rate 1000000 --token-rate 1000000 --token-burst 1000000"
	SRV_CMD+=" --workers ${NTSD_WORKERS:-1}"
	[ "${2:-}" = limited ] &&
		SRV_CMD+=" --max-bps-per-allocation $LIMIT_ALLOC --max-pps-per-allocation $LIMIT_ALLOC"
	ip netns exec "$NS_S" $BUILD/$SRV_CMD >"$TMP/ntsd.log" 2>&1 &
	SRV_PID=$!
	if ! wait_listen u "$NS_S" "$TOPO_S_IP:$TURN_PORT" ||
		! wait_listen t "$NS_S" "$TOPO_S_IP:$TLS_PORT"; then
		SRV_STATUS="failed: ntsd did not listen: $(tail -c 200 "$TMP/ntsd.log" | tr '\n' ' ')"
		stop_server
		return 1
	fi
	[ "${1:-}" = xdp ] || return 0
	if [ ! -x "$BUILD/ntsctl" ] || ! ls "$BUILD"/bpf/*.bpf.o 2>/dev/null | grep -qv '/bench_'; then
		SRV_STATUS="not built"
		stop_server
		return 1
	fi
	# The client-facing veth carries ChannelData in; the peer-facing one must be in the fast path's
	# devmap for the redirect out (and carries peer -> client traffic in).
	local out dev
	for dev in s0 s1; do
		SRV_CMD+="; ntsctl --ctl-socket $TMP/ntsd/ctl.sock --pin-dir $PIN_DIR attach --mode native $dev"
		if ! out=$(ip netns exec "$NS_S" "$BUILD/ntsctl" --ctl-socket "$TMP/ntsd/ctl.sock" \
			--pin-dir "$PIN_DIR" attach --mode native $dev 2>&1); then
			SRV_STATUS="failed: attach $dev: $(echo "$out" | tail -2 | tr '\n' ' ')"
			stop_server
			return 1
		fi
		echo "$out" >>"$TMP/attach.log"
		if echo "$out" | grep -q 'did not adopt'; then
			SRV_STATUS="failed: $(echo "$out" | grep 'did not adopt' | head -1)"
			stop_server
			return 1
		fi
	done
	[ "${2:-}" = limited ] || return 0
	# The load's allocations belong to an account with its own (unreached) limit.
	local ctl=("$BUILD/ntsctl" --ctl-socket "$TMP/ntsd/ctl.sock" --db "$TMP/ntsd/nts.db") sid
	sid=$(ip netns exec "$NS_S" "${ctl[@]}" account create bench-limited 2>&1 |
		sed -n 's/^AccountSid: *//p' | head -1)
	if [ -z "$sid" ] || ! ip netns exec "$NS_S" "${ctl[@]}" account set "$sid" \
		--max-bps $LIMIT_ACCOUNT >/dev/null 2>&1; then
		SRV_STATUS="failed: cannot make an account with a limit"
		stop_server
		return 1
	fi
	SRV_CMD+="; ntsctl account create bench-limited; ntsctl account set SID --max-bps $LIMIT_ACCOUNT"
	LGA[17]=$sid
}

start_ceiling() { # the bench XDP program is attached by nts-loadgen itself (--mode ceiling)
	SRV_PID="" SRV_STATUS=ok
	SRV_CMD="nts-loadgen xdp --mode ceiling (tools/loadgen/bpf/bench_ceiling.bpf.c attached natively to s0)"
	[ -f "$BUILD/bpf/bench_ceiling.bpf.o" ] || { SRV_STATUS="not built"; return 1; }
}

start_routed() {
	SRV_PID="" SRV_STATUS=ok
	SRV_CMD="kernel IPv4 forwarding in the server namespace (no relay)"
}

stop_server() {
	if [ -n "${SRV_PID:-}" ]; then
		kill "$SRV_PID" 2>/dev/null
		local i
		for i in $(seq 30); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$SRV_PID" 2>/dev/null
		wait "$SRV_PID" 2>/dev/null
	fi
	SRV_PID=""
	LGA[17]=ACbench # the account of the load (start_ntsd limited makes its own)
	# The fast path (if attached) goes with the next topology; detach now so runs stay independent.
	ip netns exec "$NS_S" ip link set dev s0 xdp off 2>/dev/null
	ip netns exec "$NS_S" ip link set dev s1 xdp off 2>/dev/null
	rm -rf "${PIN_DIR:?}"/* 2>/dev/null
	return 0
}

# The relay process's PID as seen from the host (ip netns exec execs, so $! is the relay itself).
server_pid() {
	echo "${SRV_PID:-}"
}
