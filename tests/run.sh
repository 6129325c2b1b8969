#!/usr/bin/env bash
# Runs every test suite and prints one summary line. Suites speak TAP ("ok N - name" / "not ok N - name"):
# cmocka binaries (CMOCKA_MESSAGE_OUTPUT=tap), BPF test-run binaries, and shell tests under tests/*/.
# A suite that exits non-zero without a failing TAP line counts as one failure.
# With --threads (make test SAN=thread: a ThreadSanitizer build), only the unit tests and the suites
# that exercise relay workers run (NTS_THREAD_SUITES), and a ThreadSanitizer report fails them.
set -u
BUILD=${1:-build}
threads=false
[ "${2:-}" = --threads ] && threads=true
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1}
thread_suites=${NTS_THREAD_SUITES:-interop/workers interop/turn_uclient interop/turn_tls interop/turn_tcp_relay
	interop/upgrade api/tenancy netns/fastpath fleet/shed fleet/fleet}
export NTS_BUILD=$(cd "$BUILD" && pwd)
export NTS_TOP=$(cd "$(dirname "$0")/.." && pwd)
export CMOCKA_MESSAGE_OUTPUT=tap
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
logdir="$NTS_BUILD/test-logs"
mkdir -p "$logdir"
resdir=$(mktemp -d)
trap 'rm -rf "$resdir"' EXIT
# Script suites run side by side, NTS_TEST_JOBS at a time: they pick free ports, name their network
# namespaces and bpffs pins uniquely and wait on events, so they do not collide. A suite whose
# first lines say "# nts-test: exclusive" (it measures rates or loads the machine) runs alone.
jobs=${NTS_TEST_JOBS:-3}

# run_suite NAME SECONDS COMMAND...: runs one suite with stdout (the TAP stream) and stderr in
# separate logs. Only "ok N"/"not ok N" lines of stdout count. The suite fails when a line says
# "not ok", when it exits non-zero, when it reports nothing, or when its plan ("1..N") is missing
# or differs from the number of results; "1..0 # SKIP why" is one skip for the whole suite.
run_suite() {
	local name=$1 limit=$2
	shift 2
	local log="$logdir/${name//\//_}.log" rc p f s plan results why=
	timeout --kill-after=10 "$limit" "$@" >"$log" 2>"$log.err"
	rc=$?
	# A skip is "ok N ... # SKIP why" (TAP) or "not ok N # SKIP why" (cmocka's TAP); neither fails.
	p=$(grep -E '^ok [0-9]+' "$log" | grep -cvE '# (SKIP|skip)')
	s=$(grep -cE '^(not )?ok [0-9]+.*# (SKIP|skip)' "$log")
	f=$(grep -E '^not ok [0-9]+' "$log" | grep -cvE '# (SKIP|skip)')
	results=$((p + s + f))
	plan=$(grep -cE '^1\.\.[0-9]+' "$log")
	if [ "$plan" -eq 1 ] && grep -qE '^1\.\.0 *# *(SKIP|skip)' "$log" && [ "$results" -eq 0 ]; then
		[ "$rc" -eq 0 ] && s=1 || why="skipped the whole suite but exited with status $rc"
	elif [ "$rc" -ne 0 ]; then
		why="exited with status $rc"
	elif [ "$results" -eq 0 ]; then
		why="reported no test result"
	elif [ "$plan" -ne 1 ]; then
		why="printed $plan plan lines (want one 1..N)"
	elif [ "$(sed -nE 's/^1\.\.([0-9]+).*/\1/p' "$log")" -ne "$results" ]; then
		why="planned $(sed -nE 's/^1\.\.([0-9]+).*/\1/p' "$log") tests but reported $results"
	fi
	if [ -n "$why" ]; then
		# Counted once: the failing lines it printed, or this one when it printed none.
		[ "$f" -gt 0 ] || f=1
		echo "not ok - $name $why" >>"$log"
	fi
	echo "$p $f $s $name" >"$resdir/${name//\//_}"
	if [ "$f" -gt 0 ]; then
		# One write, so that reports of suites running side by side do not interleave.
		printf '%s\n' "$(printf '%-40s FAIL (%d passed, %d failed) — log: %s\n' "$name" "$p" "$f" "$log"
			grep -E '^not ok|^# ' "$log" | head -20 | sed 's/^/    /'
			[ -s "$log.err" ] && tail -n 10 "$log.err" | sed 's/^/    stderr: /')"
	else
		printf '%-40s ok   (%d passed%s)\n' "$name" "$p" "$([ "$s" -gt 0 ] && echo ", $s skipped")"
	fi
}

for t in "$NTS_BUILD"/tests/unit/test_*; do
	[ -x "$t" ] && [ "${t%.d}" = "$t" ] && [ "${t%.o}" = "$t" ] || continue
	run_suite "unit/$(basename "$t")" 120 "$t"
done
if $threads; then
	for s in $thread_suites; do
		while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
		run_suite "$s" 600 bash "$NTS_TOP/tests/$s.sh" &
	done
	wait
	pass=0 fail=0 skip=0
	for r in "$resdir"/*; do
		read -r p f s name <"$r"
		pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	done
	echo
	echo "$pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ]
	exit
fi
for t in "$NTS_BUILD"/tests/bpf/test_*; do
	[ -x "$t" ] && [ "${t%.d}" = "$t" ] && [ "${t%.o}" = "$t" ] || continue
	run_suite "bpf/$(basename "$t")" 120 "$t"
done
# Fuzz smoke: every target replays its seed corpus and runs a few thousand mutations. The targets
# sit in the fuzz/ directory of the build in use (the Makefile builds them into build/fuzz for
# every build: they always carry ASan+UBSan themselves); crash inputs are kept under
# $NTS_BUILD/fuzz-crashes, never in the working directory.
fuzzdir="$NTS_BUILD/fuzz"
[ -d "$fuzzdir" ] || fuzzdir="$NTS_TOP/build/fuzz"
crashes="$NTS_BUILD/fuzz-crashes"
fuzzwork=$(mktemp -d)
for f in "$fuzzdir"/fuzz_*; do
	[ -x "$f" ] && [ "${f%.d}" = "$f" ] && [ "${f%.o}" = "$f" ] || continue
	n=$(basename "$f")
	corpus="$NTS_TOP/tests/fuzz/corpus/$n"
	[ -d "$corpus" ] || corpus=""
	mkdir -p "$fuzzwork/$n" "$crashes"
	# New inputs go to the first (scratch) corpus directory, never into the source tree.
	run_suite "fuzz/$n" 120 bash -c "echo 1..1; '$f' -runs=20000 -seed=1 -artifact_prefix='$crashes/$n-' '$fuzzwork/$n' $corpus >'$logdir/fuzz_$n.out' 2>&1 && echo 'ok 1 - $n survives 20000 runs' || { echo 'not ok 1 - $n found a crash (input under $crashes, output in $logdir/fuzz_$n.out)'; exit 1; }"
done
rm -rf "$fuzzwork"
exclusive=()
# Every directory of script suites (tests/interop, netns, api, browser, pkg, ops, fleet, …), bench
# last.
dirs=$(cd "$NTS_TOP/tests" && for d in */; do d=${d%/}; case $d in unit | bpf | fuzz | bench) ;; *) echo "$d" ;; esac; done)
for dir in $dirs bench; do
	for t in "$NTS_TOP"/tests/$dir/*.sh; do
		[ -f "$t" ] || continue
		if head -n 20 "$t" | grep -q '^# nts-test: exclusive'; then
			exclusive+=("$t")
			continue
		fi
		while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
		run_suite "$dir/$(basename "$t" .sh)" 600 bash "$t" &
	done
done
wait
for t in "${exclusive[@]}"; do
	run_suite "$(basename "$(dirname "$t")")/$(basename "$t" .sh)" 600 bash "$t"
done

pass=0 fail=0 skip=0
failed=()
for r in "$resdir"/*; do
	read -r p f s name <"$r"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	[ "$f" -gt 0 ] && failed+=("$name")
done
echo
if [ "${#failed[@]}" -gt 0 ]; then
	echo "failed suites: ${failed[*]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
