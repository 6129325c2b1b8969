#!/usr/bin/env bash
# Runs every test suite and prints one summary line. Suites speak TAP ("ok N - name" / "not ok N - name"):
# cmocka binaries (CMOCKA_MESSAGE_OUTPUT=tap), BPF test-run binaries, and shell tests under tests/*/.
# A suite that exits non-zero without a failing TAP line counts as one failure.
set -u
BUILD=${1:-build}
export NTS_BUILD=$(cd "$BUILD" && pwd)
export NTS_TOP=$(cd "$(dirname "$0")/.." && pwd)
export CMOCKA_MESSAGE_OUTPUT=tap
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
logdir="$NTS_BUILD/test-logs"
mkdir -p "$logdir"
pass=0 fail=0 skip=0
failed=()

run_suite() { # name, timeout seconds, command...
	local name=$1 limit=$2
	shift 2
	local log="$logdir/${name//\//_}.log" rc p f s
	timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
	rc=$?
	# A skip is "ok N ... # SKIP why" (TAP) or "not ok N # SKIP why" (cmocka's TAP); neither fails.
	p=$(grep -E '^ok [0-9]+' "$log" | grep -cvE '# (SKIP|skip)')
	s=$(grep -cE '^(not )?ok [0-9]+.*# (SKIP|skip)' "$log")
	f=$(grep -E '^not ok [0-9]+' "$log" | grep -cvE '# (SKIP|skip)')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	elif [ $((p + s + f)) -eq 0 ]; then
		f=1
		echo "not ok - $name reported no test result" >>"$log"
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	if [ "$f" -gt 0 ]; then
		failed+=("$name")
		printf '%-40s FAIL (%d passed, %d failed) — log: %s\n' "$name" "$p" "$f" "$log"
		grep -E '^not ok|^# ' "$log" | head -20 | sed 's/^/    /'
	else
		printf '%-40s ok   (%d passed%s)\n' "$name" "$p" "$([ "$s" -gt 0 ] && echo ", $s skipped")"
	fi
}

for t in "$NTS_BUILD"/tests/unit/test_*; do
	[ -x "$t" ] && [ "${t%.d}" = "$t" ] && [ "${t%.o}" = "$t" ] || continue
	run_suite "unit/$(basename "$t")" 120 "$t"
done
for t in "$NTS_BUILD"/tests/bpf/test_*; do
	[ -x "$t" ] && [ "${t%.d}" = "$t" ] && [ "${t%.o}" = "$t" ] || continue
	run_suite "bpf/$(basename "$t")" 120 "$t"
done
# Fuzz smoke: every target replays its seed corpus and runs a few thousand mutations (not in SAN builds:
# fuzz targets always carry ASan+UBSan themselves).
fuzzwork=$(mktemp -d)
for f in "$NTS_TOP"/build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	n=$(basename "$f")
	corpus="$NTS_TOP/tests/fuzz/corpus/$n"
	[ -d "$corpus" ] || corpus=""
	mkdir -p "$fuzzwork/$n"
	# New inputs go to the first (scratch) corpus directory, never into the source tree.
	run_suite "fuzz/$n" 120 bash -c "'$f' -runs=20000 -seed=1 '$fuzzwork/$n' $corpus >/dev/null 2>&1 && echo 'ok 1 - $n survives 20000 runs' || { echo 'not ok 1 - $n found a crash'; exit 1; }"
done
rm -rf "$fuzzwork"
for dir in interop netns api bench; do
	for t in "$NTS_TOP"/tests/$dir/*.sh; do
		[ -f "$t" ] || continue
		run_suite "$dir/$(basename "$t" .sh)" 600 bash "$t"
	done
done

echo
if [ "${#failed[@]}" -gt 0 ]; then
	echo "failed suites: ${failed[*]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
