#!/usr/bin/env bash
# The manual pages, the sample configuration and the bash completion describe what the binaries
# do: every page is clean under `mandoc -T lint`, every option `ntsd --help` prints is in ntsd(8),
# ntsd.conf(5) and dist/ntsd.conf (commented out at ntsd's default), and every subcommand and
# option `ntsctl --help` and `ntsctl SUB --help` print is in ntsctl(8) and the completion. The
# lists come from the binaries, so an option added without documentation fails here.
set -u
NTS_TOP=${NTS_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
NTS_BUILD=${NTS_BUILD:-$NTS_TOP/build}
tap_n=0
tap_failed=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=1; echo "not ok $tap_n - $*"; }
# expect_none DESCRIPTION LIST: ok when LIST (missing items, one a line) is empty.
expect_none() {
	if [ -z "$2" ]; then ok "$1"; else not_ok "$1; missing: $(echo $2)"; fi
}
man_dir=$NTS_TOP/man
conf=$NTS_TOP/dist/ntsd.conf
comp=$NTS_TOP/dist/completion/ntsctl.bash
tmp=$(mktemp -d /tmp/nts-docs-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Lint: nothing at level warning or above; of the style notes, only cross references to pages
# this host has not indexed yet (mandoc.db) may remain.
for page in ntsd.8 ntsctl.8 ntsd.conf.5; do
	mandoc -T lint -W style "$man_dir/$page" >"$tmp/lint" 2>&1
	grep -vE 'referenced manual not found|outdated mandoc.db' "$tmp/lint" >"$tmp/lint.left"
	if [ -s "$tmp/lint.left" ] || ! mandoc -T lint -W warning "$man_dir/$page" >/dev/null 2>&1; then
		not_ok "$page is clean under mandoc -T lint"
		sed 's/^/# /' "$tmp/lint.left"
	else
		ok "$page is clean under mandoc -T lint"
	fi
	# The rendered text, without overstrike, for the coverage checks below.
	mandoc -T ascii "$man_dir/$page" | col -bx >"$tmp/$page.txt"
done

# ntsd's options, from its --help: "  --name ARG   help".
"$NTS_BUILD/ntsd" --help | sed -nE 's/^  --([a-z0-9-]+).*/\1/p' >"$tmp/ntsd.opts"
n=$(wc -l <"$tmp/ntsd.opts")
if [ "$n" -ge 40 ]; then ok "ntsd --help lists $n options"; else not_ok "ntsd --help lists $n options"; fi
missing=$(while read -r o; do grep -qE -- "(^|[^a-z-])--$o([^a-z-]|$)" "$tmp/ntsd.8.txt" || echo "--$o"; done <"$tmp/ntsd.opts")
expect_none "every ntsd option is in ntsd(8)" "$missing"

# Config-file names: every option but the command-line-only ones.
grep -vxE 'config|help|version' "$tmp/ntsd.opts" >"$tmp/conf.opts"
missing=$(while read -r o; do grep -qE "^ +$o( = |  |$)" "$tmp/ntsd.conf.5.txt" || echo "$o"; done <"$tmp/conf.opts")
expect_none "every config-file option is in ntsd.conf(5)" "$missing"
missing=$(while read -r o; do grep -qE "^#$o( = |$)" "$conf" || echo "$o"; done <"$tmp/conf.opts")
expect_none "every config-file option is in dist/ntsd.conf, commented out" "$missing"

# The sample states ntsd's defaults: where --help names a default, the sample's value is it.
wrong=$("$NTS_BUILD/ntsd" --help | sed -nE 's/^  --([a-z0-9-]+) .*\(default ([^ ):]+)\)$/\1 \2/p' |
	while read -r o d; do
		v=$(sed -nE "s/^#$o = (.*)/\1/p" "$conf" | head -n 1)
		[ -z "$v" ] || [ "$v" = "$d" ] || echo "$o ($v, ntsd: $d)"
	done)
expect_none "the sample's commented values are ntsd's defaults" "$wrong"

# The sample parses as it ships, and with every option ntsd knows uncommented (secrets make it
# a file that must be 0600; the secret and user files it names are read while parsing).
check_parse() {
	"$NTS_BUILD/ntsd" --config "$1" --help >/dev/null 2>"$tmp/parse.err"
}
if check_parse "$conf"; then ok "dist/ntsd.conf parses (ntsd --config)"; else
	not_ok "dist/ntsd.conf parses (ntsd --config)"; sed 's/^/# /' "$tmp/parse.err"; fi
while read -r o; do
	# "#name = value" or "#name" (a switch), first occurrence only.
	sed -nE "0,/^#$o( = .*)?\$/s/^#($o( = .*)?)\$/\1/p" "$conf"
done <"$tmp/conf.opts" | sed -E "s|^(secret-file) = .*|\1 = $tmp/secrets|; s|^(user-file) = .*|\1 = $tmp/users|" >"$tmp/all.conf"
echo s3cret >"$tmp/secrets"
echo alice:pw >"$tmp/users"
chmod 600 "$tmp/all.conf" "$tmp/secrets" "$tmp/users"
if [ "$(wc -l <"$tmp/all.conf")" -eq "$(wc -l <"$tmp/conf.opts")" ] && check_parse "$tmp/all.conf"; then
	ok "dist/ntsd.conf with all $(wc -l <"$tmp/all.conf") options uncommented parses"
else
	not_ok "dist/ntsd.conf with every option uncommented parses"
	sed 's/^/# /' "$tmp/parse.err"
fi

# ntsctl: the subcommands of its --help ("  name   help" after the usage lines), their options.
"$NTS_BUILD/ntsctl" --help | sed -nE 's/^  ([a-z][a-z0-9-]*)  .*/\1/p' >"$tmp/ntsctl.cmds"
n=$(wc -l <"$tmp/ntsctl.cmds")
if [ "$n" -ge 8 ]; then ok "ntsctl --help lists $n subcommands"; else not_ok "ntsctl --help lists $n subcommands"; fi
missing=$(while read -r c; do grep -qE "^ +$c( |$)" "$tmp/ntsctl.8.txt" || echo "$c"; done <"$tmp/ntsctl.cmds")
expect_none "every ntsctl subcommand is in ntsctl(8)" "$missing"
missing=$(while read -r c; do grep -qE "(^|[[:space:]\"])$c([[:space:]]|\"|$)" "$comp" || echo "$c"; done <"$tmp/ntsctl.cmds")
expect_none "every ntsctl subcommand is in the bash completion" "$missing"
{
	"$NTS_BUILD/ntsctl" --help | head -n 1
	while read -r c; do "$NTS_BUILD/ntsctl" "$c" --help 2>&1; done <"$tmp/ntsctl.cmds"
} | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u >"$tmp/ntsctl.opts"
# Options of ntsd that ntsctl's help text merely mentions are ntsd(8)'s business.
missing=$(while read -r o; do
	grep -qxF -- "${o#--}" "$tmp/ntsd.opts" && ! grep -qE '^(--ctl-socket|--pin-dir|--db)$' <<<"$o" && continue
	grep -qE -- "(^|[^a-z-])$o([^a-z-]|$)" "$tmp/ntsctl.8.txt" || echo "$o"
done <"$tmp/ntsctl.opts")
expect_none "every ntsctl option is in ntsctl(8)" "$missing"
missing=$(while read -r o; do
	grep -qxF -- "${o#--}" "$tmp/ntsd.opts" && ! grep -qE '^(--ctl-socket|--pin-dir|--db)$' <<<"$o" && continue
	grep -qE -- "(^|[[:space:]\"])$o([[:space:]]|\"|$)" "$comp" || echo "$o"
done <"$tmp/ntsctl.opts")
expect_none "every ntsctl option is in the bash completion" "$missing"

echo "1..$tap_n"
exit "$tap_failed"
