# Shared by tests/interop/turn_*.sh (sourced, not a suite): unique ports, ntsd started in a temp
# dir and waited for, cleanup of everything started. Callers set B (build dir) and tmp (temp dir).

turn_pids=()
turn_cleanup() {
	local p
	for p in "${turn_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${turn_pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}

turn_port_free() { ! ss -Hlun "sport = :$1" | grep -q . && ! ss -Hltn "sport = :$1" | grep -q .; }

# turn_pick_ports BASE SPAN: sets PORT (even, free, PORT+1 free too) in BASE..BASE+2*SPAN and a
# 100-port relay range RMIN-RMAX in 30000-59999, so concurrent runs do not collide.
turn_pick_ports() {
	local _
	for _ in $(seq 1 50); do
		PORT=$(($1 + (RANDOM % $2) * 2))
		turn_port_free "$PORT" && turn_port_free $((PORT + 1)) && break
	done
	RMIN=$((30000 + (RANDOM % 300) * 100))
	RMAX=$((RMIN + 99))
}

# turn_start_ntsd ARGS...: starts ntsd with its state under $tmp; prints a failing TAP line and
# returns 1 when it has not said "started" within 5 s.
turn_start_ntsd() {
	local _
	"$B/ntsd" --relay-ports "$RMIN-$RMAX" --no-api --db "$tmp/nts.db" \
		--ctl-socket "$tmp/ctl.sock" --pin-dir "$tmp/pin" "$@" >"$tmp/ntsd.log" 2>&1 &
	turn_pids+=($!)
	for _ in $(seq 1 50); do
		grep -q "started" "$tmp/ntsd.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "not ok 1 - ntsd starts"
	sed 's/^/# /' "$tmp/ntsd.log"
	return 1
}
