#!/usr/bin/env bash
# `make bench`: relay throughput, CPU per relayed packet, latency, allocation rate, memory and token API
# rate of coturn, ntsd (userspace), ntsd + XDP and the wire ceiling, interleaved over repetitions in a
# client/server/peer namespace topology. Writes results.json, report.md and throughput.svg.
# usage: run.sh BUILD [--quick] [--profile] [--out DIR] [--contenders LIST] (the routed baseline always runs)
set -u
BUILD=$(cd "${1:-build}" && pwd) || exit 2
shift
QUICK=0 PROFILE=0 OUT="$BUILD/bench" ONLY=""
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--profile) PROFILE=1 ;;
	--out) OUT=$2; shift ;;
	--contenders) ONLY=$2; shift ;;
	*) echo "usage: run.sh BUILD [--quick] [--profile] [--out DIR] [--contenders 'coturn ntsd ...']" >&2
	   exit 2 ;;
	esac
	shift
done
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tools/bench/topo.sh"
. "$TOP/tools/bench/contenders.sh"

[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (namespaces, XDP)" >&2; exit 1; }
LG="$BUILD/nts-loadgen"
[ -x "$LG" ] || { echo "bench: $LG not built" >&2; exit 1; }

if [ "$QUICK" = 1 ]; then
	REPS=1 STEP=0.2 FIXED_SECS=0.5 RELAY_SECS=0.5 ALLOCS=1000 API_SECS=1
	CLIENTS_QUICK=1
else
	REPS=5 STEP=0.4 FIXED_SECS=2 RELAY_SECS=1 ALLOCS=10000 API_SECS=2
fi
SIZES="100 1000"
FLOWS=8                 # allocations carrying the load
FIXED_RATE=50000        # packets/s every contender sustains: CPU and latency are measured here
RELAY_RATE=20000        # packets/s each way for the two-way userspace run (full payload checks)
# Many clients from userspace (nts-loadgen clients) over each transport: CLIENTS allocations, each
# on its own socket or TCP / TLS connection, from the TOPO_CLIENTS_N client addresses, written
# CLIENT_BATCH frames at a time. For the contenders in CLIENTS_FOR (worker scaling).
TRANSPORTS="udp tcp tls"
CLIENTS=32
CLIENT_BATCH=32
CLIENTS_FOR="coturn ntsd ntsd-workers"
# ntsd-workers (--workers = cores) runs last: the quick bench's time budget never skips the others.
CONTENDERS=${ONLY:-coturn ntsd ntsd-xdp ceiling ntsd-xdp-limited ntsd-workers}
SECRET=bench-secret-$RANDOM$RANDOM
TAG=$$
BUDGET_END=$(( $(date +%s) + (QUICK ? 150 : 1800) ))
[ "${CLIENTS_QUICK:-0}" = 1 ] && CLIENTS_FOR="ntsd ntsd-workers" # the quick bench's time budget

mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/nts-bench.XXXXXX)
RAW="$OUT/raw.jsonl"
: >"$RAW"
: >"$OUT/status.tsv"
: >"$OUT/loadgen.err"
rm -f "$OUT/profile.txt" "$OUT/perf.data"
PIN_DIR="$TMP/bpffs/nts"
SRV_PID=""
PERF_PID=""

cleanup() {
	[ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null
	stop_server
	topo_down
	umount "$TMP/bpffs" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

over_budget() { [ "$(date +%s)" -ge "$BUDGET_END" ]; }

# Appends loadgen's JSON line tagged with contender/size/rep to the raw file.
record() { # contender size rep json
	[ -n "$4" ] || return 1
	printf '{"contender": "%s", "size": %s, "rep": %s, "data": %s}\n' "$1" "$2" "$3" "$4" >>"$RAW"
}

set_status() { # contender status command
	grep -q "^$1	" "$OUT/status.tsv" 2>/dev/null && return 0
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$OUT/status.tsv"
}

LGA=(--client-ns "" --server-ns "" --peer-ns "" --server "$TOPO_S_IP:$TURN_PORT"
	--client-ip "$TOPO_C_IP" --peer "$TOPO_P_IP:9000" --secret "" --realm nts --account ACbench)

lg_args() {
	LGA[1]=$NS_C LGA[3]=$NS_S LGA[5]=$NS_P LGA[13]=$SECRET
}

# CPU seconds (user + system) of each thread of the relay, as "name:tid seconds" lines.
thread_cpu() { # pid
	local t
	for t in /proc/"$1"/task/*; do
		awk -v n="$(cat "$t/comm" 2>/dev/null)" -v id="${t##*/}" -v hz="$(getconf CLK_TCK)" \
			'{ sub(/^.*\) /, ""); print n ":" id, ($12 + $13) / hz }' "$t/stat" 2>/dev/null
	done
}

# Each relay thread's share of the relay's CPU over one run (ntsd-workers: is the work divided?);
# transport: of the clients' run (none: the in-kernel generator's UDP run).
record_threads() { # contender size rep before-file [transport]
	local after
	after=$(thread_cpu "$SRV_PID")
	record "$1" "$2" "$3" "$(python3 -c '
import json, sys
b = dict(l.rsplit(" ", 1) for l in open(sys.argv[1]).read().split("\n") if l.strip())
a = dict(l.rsplit(" ", 1) for l in sys.argv[2].split("\n") if l.strip())
d = {k: round(float(v) - float(b.get(k, 0)), 3) for k, v in a.items()}
r = {"test": "threads", "cpu_s": d}
if sys.argv[3]:
    r["transport"] = sys.argv[3]
print(json.dumps(r))' "$4" "$after" "${5:-}")"
}

# Throughput search, then CPU and latency at FIXED_RATE, through the path of mode.
run_xdp() { # contender mode size rep
	local pids="" out
	[ -n "$SRV_PID" ] && pids=$SRV_PID
	out=$(timeout 60 taskset -c 0 "$LG" xdp "${LGA[@]}" --mode "$2" --size "$3" --allocs $FLOWS \
		--client-dev c0 --server-dev s0 --server-out-dev s1 --peer-dev p0 \
		--bpf-dir "$BUILD/bpf" --search-step $STEP --rate $FIXED_RATE --duration $FIXED_SECS \
		${pids:+--cpu-pids $pids} 2>>"$OUT/loadgen.err")
	record "$1" "$3" "$4" "$out" || log "$1 $3 B: xdp run failed: $(tail -2 "$OUT/loadgen.err" | tr '\n' ' ')"
}

# The server address of the clients of a transport (TLS on its own port).
server_for() { # transport
	[ "$1" = tls ] && echo "$TOPO_S_IP:$TLS_PORT" || echo "$TOPO_S_IP:$TURN_PORT"
}

# Two-way userspace load with byte-exact payload checks and latency both ways; clients over
# transport (default udp).
run_relay() { # contender size rep [transport]
	local out t=${4:-udp}
	out=$(timeout 30 "$LG" relay "${LGA[@]}" --size "$2" --allocs $FLOWS --rate $RELAY_RATE \
		--duration $RELAY_SECS --transport "$t" --server "$(server_for "$t")" \
		2>>"$OUT/loadgen.err")
	record "$1" "$2" "$3" "$out" || log "$1 $2 B: $t relay run failed: $(tail -2 "$OUT/loadgen.err" | tr '\n' ' ')"
}

# Many clients over transport (nts-loadgen clients): lossless rate, CPU per packet at that rate
# and at FIXED_RATE, the relay's wake-ups; each relay thread's CPU over the run. The generator is
# pinned to CPU 0, as for the in-kernel generator.
run_clients() { # contender transport size rep
	local out
	thread_cpu "$SRV_PID" >"$TMP/threads.before"
	out=$(timeout 90 taskset -c 0 "$LG" clients "${LGA[@]}" --transport "$2" \
		--server "$(server_for "$2")" --client-ip "$TOPO_CLIENTS_IP" \
		--client-ips "$TOPO_CLIENTS_N" --allocs $CLIENTS --batch $CLIENT_BATCH --size "$3" \
		--peer-dev p0 --bpf-dir "$BUILD/bpf" --search-step $STEP --rate $FIXED_RATE \
		--duration $FIXED_SECS --cpu-pids "$SRV_PID" 2>>"$OUT/loadgen.err")
	record "$1" "$3" "$4" "$out" ||
		log "$1 $3 B: $2 clients run failed: $(tail -2 "$OUT/loadgen.err" | tr '\n' ' ')"
	record_threads "$1" "$3" "$4" "$TMP/threads.before" "$2"
}

run_alloc() { # contender rep
	local out
	out=$(timeout 60 "$LG" alloc "${LGA[@]}" --allocs $ALLOCS --window 256 --duration 30 \
		--rss-pid "$SRV_PID" 2>>"$OUT/loadgen.err")
	record "$1" 0 "$2" "$out" || log "$1: alloc run failed: $(tail -2 "$OUT/loadgen.err" | tr '\n' ' ')"
}

# Token API: an account made through the control socket, then keep-alive POSTs.
run_api() { # rep
	local acct sid tok out
	acct=$(ip netns exec "$NS_S" "$BUILD/ntsctl" --ctl-socket "$TMP/ntsd/ctl.sock" \
		--db "$TMP/ntsd/nts.db" account create bench 2>&1)
	sid=$(echo "$acct" | sed -n 's/^AccountSid: *//p' | head -1)
	tok=$(echo "$acct" | sed -n 's/^AuthToken: *//p' | head -1)
	if [ -z "$sid" ] || [ -z "$tok" ]; then
		log "api: cannot create an account: $acct"
		return 1
	fi
	out=$(timeout 30 "$LG" api --client-ns "$NS_C" --server "$TOPO_S_IP:8080" --conns 8 \
		--path "/2010-04-01/Accounts/$sid/Tokens.json" --auth "$sid:$tok" --body "Ttl=3600" \
		--duration $API_SECS 2>>"$OUT/loadgen.err")
	record ntsd 0 "$1" "$out" || log "api run failed: $(tail -2 "$OUT/loadgen.err" | tr '\n' ' ')"
}

# The longest gap a client sees across `ntsctl upgrade` (reported, never asserted): a 1000/s
# ChannelData flow (tests/interop/turn_flow.py) to two echo peers, upgraded to the same binary.
run_upgrade() { # contender rep
	local user pass p1 p2 flow new out
	[ "$2" = 1 ] && command -v turnutils_peer >/dev/null || return 0
	user="$(($(date +%s) + 3600)):ACbench"
	pass=$(printf '%s' "$user" | openssl dgst -sha1 -hmac "$SECRET" -binary | base64)
	ip netns exec "$NS_P" turnutils_peer -L "$TOPO_P_IP" -p 9100 >/dev/null 2>&1 &
	p1=$!
	ip netns exec "$NS_P" turnutils_peer -L "$TOPO_P_IP" -p 9101 >/dev/null 2>&1 &
	p2=$!
	rm -f "$TMP/upgrade.stop"
	ip netns exec "$NS_C" /usr/bin/python3 "$TOP/tests/interop/turn_flow.py" session "$TOPO_S_IP" \
		"$TURN_PORT" "$user" "$pass" "$TOPO_P_IP:9100,$TOPO_P_IP:9101" "$TMP/upgrade.stop" 1000 \
		>"$TMP/upgrade.out" 2>&1 &
	flow=$!
	for _ in $(seq 1 100); do grep -q flowing "$TMP/upgrade.out" && break; sleep 0.1; done
	new=$(ip netns exec "$NS_S" "$BUILD/ntsctl" --ctl-socket "$TMP/ntsd/ctl.sock" upgrade --json \
		2>>"$OUT/loadgen.err" | jq -r .pid 2>/dev/null)
	touch "$TMP/upgrade.stop"
	wait "$flow"
	kill "$p1" "$p2" 2>/dev/null
	wait "$p1" "$p2" 2>/dev/null
	if [ -n "$new" ] && [ "$new" != null ]; then
		wait "$SRV_PID" 2>/dev/null # the old ntsd exits
		SRV_PID=$new
	fi
	out=$(tail -n 1 "$TMP/upgrade.out")
	if [ -n "$new" ] && [ "$new" != null ] && echo "$out" | jq -e .max_gap_ms >/dev/null 2>&1; then
		record "$1" 0 "$2" "{\"test\": \"upgrade\", \"flow\": $out}"
	else
		log "$1: upgrade run failed: $(tail -n 2 "$TMP/upgrade.out" | tr '\n' ' ')"
	fi
}

profile_start() {
	[ "$PROFILE" = 1 ] && [ -n "$SRV_PID" ] && command -v perf >/dev/null || return 0
	perf record -F 999 -g -p "$SRV_PID" -o "$OUT/perf.data" -- sleep 30 >/dev/null 2>&1 &
	PERF_PID=$!
}

profile_stop() {
	[ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID" 2>/dev/null
	wait "$PERF_PID" 2>/dev/null
	PERF_PID=""
	{
		echo "by object:"
		perf report -i "$OUT/perf.data" --stdio --no-children --sort dso 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -6
		echo "top symbols:"
		perf report -i "$OUT/perf.data" --stdio --no-children --sort dso,symbol 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -25 | sed 's/ *- *- *$//'
	} >"$OUT/profile.txt"
}

# The XDP program alone, on a frame it relays both ways (tools/bench/xdp_micro.c): its time per
# packet without generator, veths and sink, steadier than the path's rates.
run_micro() { # size rep
	local out
	[ -x "$BUILD/nts-xdp-micro" ] || return 0
	out=$(timeout 60 "$BUILD/nts-xdp-micro" --size "$1" 2>>"$OUT/loadgen.err" | grep '^{') &&
		record ntsd-xdp "$1" "$2" "$(printf '%s' "$out" | sed 's/^{/{"test": "micro", /')"
}

run_contender() { # name rep
	local c=$1 rep=$2 size mode=turn
	case $c in
	coturn) start_coturn ;;
	ntsd) start_ntsd ;;
	ntsd-xdp) start_ntsd xdp ;;
	ntsd-xdp-limited) start_ntsd xdp limited ;;
	ntsd-workers) NTSD_WORKERS=$CORES start_ntsd ;;
	ceiling) start_ceiling; mode=ceiling ;;
	routed) start_routed; mode=routed ;;
	esac
	local rc=$?
	set_status "$c" "$SRV_STATUS" "${SRV_CMD:-}"
	if [ $rc -ne 0 ]; then
		log "$c: $SRV_STATUS"
		return 0
	fi
	log "$c (rep $rep)"
	for size in $SIZES; do
		[ "$c" = ntsd ] && [ "$rep" = 1 ] && [ "$size" = 100 ] && profile_start
		case $c in ntsd | ntsd-workers) thread_cpu "$SRV_PID" >"$TMP/threads.before" ;; esac
		run_xdp "$c" "$mode" "$size" "$rep"
		[ "$c" = ntsd-xdp ] && run_micro "$size" "$rep"
		case $c in ntsd | ntsd-workers) record_threads "$c" "$size" "$rep" "$TMP/threads.before" ;; esac
		profile_stop
		[ "$mode" = turn ] && run_relay "$c" "$size" "$rep"
		case " $CLIENTS_FOR " in
		*" $c "*)
			for t in $TRANSPORTS; do
				run_clients "$c" "$t" "$size" "$rep"
				[ "$t" = udp ] || run_relay "$c" "$size" "$rep" "$t"
			done ;;
		esac
	done
	# Allocation rate and memory on a freshly started server: a clean RSS baseline and no
	# allocation left over from the throughput runs.
	case $c in
	coturn) stop_server; start_coturn && run_alloc coturn "$rep" ;;
	ntsd) run_api "$rep"; stop_server; start_ntsd && run_alloc ntsd "$rep" ;;
	esac
	case $c in ntsd | ntsd-xdp) run_upgrade "$c" "$rep" ;; esac
	if [ "$c" = ntsd-xdp ] || [ "$c" = ntsd-xdp-limited ]; then
		ip netns exec "$NS_S" "$BUILD/ntsctl" --ctl-socket "$TMP/ntsd/ctl.sock" --pin-dir "$PIN_DIR" \
			stats --json >"$TMP/fpstats.json" 2>/dev/null &&
			record "$c" 0 "$rep" "{\"test\": \"fpstats\", \"stats\": $(tr -d '\n' <"$TMP/fpstats.json")}"
	fi
	stop_server
}

log "topology up (namespaces nb-{c,s,p}-$TAG)"
topo_up "$TAG" || { log "cannot build the topology"; exit 1; }
mkdir -p "$TMP/bpffs" && mount -t bpf bpf "$TMP/bpffs" && mkdir -p "$PIN_DIR"
lg_args
START=$(date +%s)
for rep in $(seq "$REPS"); do
	for c in routed $CONTENDERS; do
		if over_budget; then
			log "time budget reached: skipping the rest"
			break 2
		fi
		run_contender "$c" "$rep"
	done
done
ELAPSED=$(( $(date +%s) - START ))

# Machine and versions for the report.
{
	printf '{"quick": %s, "reps": %s, "elapsed_s": %s, "fixed_rate": %s, "relay_rate": %s,' \
		"$QUICK" "$REPS" "$ELAPSED" "$FIXED_RATE" "$RELAY_RATE"
	printf ' "flows": %s, "allocs": %s, "step_s": %s, "fixed_s": %s,' "$FLOWS" "$ALLOCS" "$STEP" "$FIXED_SECS"
	printf ' "cpu": "%s", "cores": %s, "mem": "%s", "kernel": "%s", "os": "%s",' \
		"$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" "$(nproc)" \
		"$(free -g | awk '/^Mem/ {print $2" GiB"}')" "$(uname -r)" \
		"$(. /etc/os-release && echo "$PRETTY_NAME")"
	printf ' "clients": %s, "client_ips": %s, "client_batch": %s, "transports": "%s", "clients_for": "%s",' \
		"$CLIENTS" "$TOPO_CLIENTS_N" "$CLIENT_BATCH" "$TRANSPORTS" "$CLIENTS_FOR"
	printf ' "loadgen": ["%s", "%s", "%s", "%s", "%s"],' \
		"nts-loadgen xdp --mode turn|routed|ceiling --size B --allocs $FLOWS --search-step $STEP --rate $FIXED_RATE --duration $FIXED_SECS --cpu-pids RELAY (taskset -c 0)" \
		"nts-loadgen clients --transport udp|tcp|tls --allocs $CLIENTS --client-ip $TOPO_CLIENTS_IP --client-ips $TOPO_CLIENTS_N --batch $CLIENT_BATCH --size B --peer-dev p0 --search-step $STEP --rate $FIXED_RATE --duration $FIXED_SECS --cpu-pids RELAY (taskset -c 0)" \
		"nts-loadgen relay --transport udp|tcp|tls --size B --allocs $FLOWS --rate $RELAY_RATE --duration $RELAY_SECS" \
		"nts-loadgen alloc --allocs $ALLOCS --window 256 --rss-pid RELAY" \
		"nts-loadgen api --conns 8 --path /2010-04-01/Accounts/SID/Tokens.json --auth SID:TOKEN --body Ttl=3600 --duration $API_SECS"
	printf ' "coturn": "%s", "ntsd": "%s", "commit": "%s", "date": "%s"}\n' \
		"$(dpkg-query -W -f='${Version}' coturn 2>/dev/null)" \
		"$("$BUILD/ntsd" --version 2>/dev/null | head -1)" \
		"$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)" "$(date -u +%FT%TZ)"
} >"$OUT/meta.json"
python3_bin=/usr/bin/python3
"$python3_bin" "$TOP/tools/bench/report.py" "$OUT" || { log "report failed"; exit 1; }
log "done in ${ELAPSED}s: $OUT/report.md"
