#!/usr/bin/env bash
# Checks that the Makefile's module table (DEPS_<module> := ...) states exactly the modules each
# user/<module>/ includes directly (`#include "other/..."` in its .c and .h files), that every
# module directory has a row, and that the table has no cycle. Libraries link with the transitive
# closure, which the Makefile computes from these rows. Prints one line per problem; exit 1 if any.
# Usage: tools/check_deps.sh [TOP]  (TOP: the repository, default: this script's parent folder)
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 2
declare -A deps=()
bad=0

while read -r name rest; do
	deps[$name]=$(tr ' ' '\n' <<<"$rest" | sed '/^$/d' | sort -u | tr '\n' ' ')
done < <(sed -nE 's/^DEPS_([a-z_]+)[[:space:]]*:=[[:space:]]*(.*)$/\1 \2/p' Makefile)

modules=$(find user -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
for m in $modules; do
	if [ -z "${deps[$m]+set}" ]; then
		echo "check_deps: user/$m/ has no DEPS_$m row in the Makefile"
		bad=1
		continue
	fi
	# Included folders that are modules (user/<dir>/ exists), other than m itself.
	inc=$(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([a-z_]+)\/[^"]*".*/\1/p' \
		user/"$m"/*.c user/"$m"/*.h 2>/dev/null | sort -u |
		while read -r d; do [ "$d" != "$m" ] && [ -d "user/$d" ] && echo "$d"; done | tr '\n' ' ')
	if [ "$inc" != "${deps[$m]}" ]; then
		echo "check_deps: user/$m/ includes [${inc% }] but the Makefile says DEPS_$m := ${deps[$m]% }"
		for d in $inc; do
			[[ " ${deps[$m]} " == *" $d "* ]] ||
				grep -lE "^[[:space:]]*#[[:space:]]*include[[:space:]]+\"$d/" user/"$m"/*.[ch] |
				sed "s|^|    missing $d, included by |"
		done
		bad=1
	fi
done
for m in "${!deps[@]}"; do
	[ -d "user/$m" ] || { echo "check_deps: DEPS_$m names no folder user/$m/"; bad=1; }
done

# Depth-first search for a cycle (the Makefile's closure would recurse forever).
declare -A state=()
visit() { # module, path so far
	local m=$1 path=$2 d
	case ${state[$m]:-} in
	done) return 0 ;;
	open) echo "check_deps: dependency cycle ${path# -> }"; return 1 ;;
	esac
	state[$m]=open
	for d in ${deps[$m]:-}; do
		visit "$d" "$path -> $d" || return 1
	done
	state[$m]=done
}
for m in "${!deps[@]}"; do
	visit "$m" " -> $m" || { bad=1; break; }
done

[ "$bad" -eq 0 ] && echo "check_deps: the Makefile's module table matches the #include lines"
exit "$bad"
