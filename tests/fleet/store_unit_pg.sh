#!/usr/bin/env bash
# The store's unit tests (tests/unit/test_store*) once more, on PostgreSQL: a throwaway server
# (pg.bash) and NTS_TEST_PG_URL, which their fixture (tests/unit/store_fixture.h) uses instead of
# an SQLite file. The cmocka binaries' TAP streams become one, numbered and planned here.
set -u
here=$(cd "$(dirname "$0")" && pwd)
NTS_TOP=${NTS_TOP:-$(cd "$here/../.." && pwd)}
NTS_BUILD=${NTS_BUILD:-$NTS_TOP/build}
. "$here/pg.bash"

pg_available || { echo "1..0 # SKIP no PostgreSQL server binaries (tools/deps.sh installs them)"; exit 0; }
pg_start || { echo "not ok 1 - a throwaway PostgreSQL server starts"; echo "1..1"; exit 1; }
n=0
failed=0
out=$(mktemp /tmp/nts-store-unit-pg.XXXXXX)
trap 'rm -f "$out"; pg_cleanup' EXIT
for t in "$NTS_BUILD"/tests/unit/test_store*; do
	[ -x "$t" ] && [ "${t%.d}" = "$t" ] && [ "${t%.o}" = "$t" ] || continue
	name=$(basename "$t")
	ran=0
	CMOCKA_MESSAGE_OUTPUT=tap timeout 120 "$t" >"$out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "[0-9]* | "not ok "[0-9]*)
			n=$((n + 1)) ran=$((ran + 1))
			verdict=${line%% [0-9]*}
			rest=$(sed -E 's/^(not )?ok [0-9]+ ?//' <<<"$line")
			rest=${rest#- }
			[ "$verdict" = "not ok" ] && ! grep -qiE '# skip' <<<"$rest" && failed=1
			echo "$verdict $n - $name (PostgreSQL): $rest"
			;;
		1..*) ;;
		*) echo "# $line" ;;
		esac
	done <"$out"
	if [ "$ran" -eq 0 ] || [ "$rc" -ne 0 ]; then
		n=$((n + 1)) failed=1
		echo "not ok $n - $name (PostgreSQL) exited with status $rc after $ran results"
	fi
done
echo "1..$n"
exit "$failed"
