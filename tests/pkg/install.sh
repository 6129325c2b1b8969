#!/usr/bin/env bash
# `make install`: the tree it lays out under DESTDIR for the default PREFIX (/usr/local) and for
# PREFIX=/usr (what the .deb uses), units whose paths follow PREFIX and verify with
# systemd-analyze, an operator's configuration never overwritten, `make uninstall`, and the bash
# completion answering from the installed file.
set -u
NTS_TOP=${NTS_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
NTS_BUILD=${NTS_BUILD:-$NTS_TOP/build}
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; failed=1; }
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
tmp=$(mktemp -d /tmp/nts-install-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# The build to install: SAN=1 names build/san (and its flags), any other folder goes as BUILD.
if [ "$NTS_BUILD" = "$NTS_TOP/build/san" ]; then build_arg=SAN=1; else build_arg=BUILD=$NTS_BUILD; fi
# make_install ARGS...: `make install` of what NTS_BUILD holds.
make_install() {
	make -C "$NTS_TOP" -s "$build_arg" install "$@" >"$tmp/make.out" 2>&1 ||
		{ sed 's/^/#   /' "$tmp/make.out"; return 1; }
}
# tree_is ROOT MODE:PATH...: every PATH exists under ROOT as a file with MODE, and nothing else.
tree_is() {
	local root=$1 e rc=0
	shift
	for e in "$@"; do
		[ "$(stat -c %a "$root${e#*:}" 2>/dev/null)" = "${e%%:*}" ] ||
			{ echo "# ${e#*:}: want mode ${e%%:*}, have $(stat -c %a "$root${e#*:}" 2>&1)"; rc=1; }
	done
	[ "$(find "$root" -type f | wc -l)" -eq $# ] || { find "$root" -type f | sed 's/^/#   have /'; rc=1; }
	return $rc
}

d=$tmp/local
check "make install DESTDIR=… (PREFIX /usr/local)" make_install DESTDIR="$d"
check "the /usr/local tree: programs, XDP object, man pages, units, sysusers, completion, config" \
	tree_is "$d" 755:/usr/local/sbin/ntsd 755:/usr/local/sbin/ntsctl \
	644:/usr/local/lib/nts/fastpath.bpf.o 644:/usr/local/share/man/man8/ntsd.8 \
	644:/usr/local/share/man/man8/ntsctl.8 644:/usr/local/share/man/man5/ntsd.conf.5 \
	644:/usr/local/lib/systemd/system/ntsd.service \
	644:/usr/local/lib/systemd/system/nts-fastpath@.service \
	644:/usr/local/lib/sysusers.d/nts.conf \
	644:/usr/local/share/bash-completion/completions/ntsctl 644:/usr/local/etc/nts/ntsd.conf
check "the unit runs /usr/local/sbin/ntsd with /usr/local/etc/nts/ntsd.conf" \
	grep -qx 'ExecStart=/usr/local/sbin/ntsd --config /usr/local/etc/nts/ntsd.conf' \
	"$d/usr/local/lib/systemd/system/ntsd.service"
check "the installed programs are the built ones" \
	cmp -s "$NTS_BUILD/ntsd" "$d/usr/local/sbin/ntsd"
# ntsctl attach loads the installed object (systemd_boot.sh checks which file it takes); the copy
# built into it, its fallback, must be that same program, byte for byte.
embeds() {
	/usr/bin/python3 -c 'import sys; o=open(sys.argv[1],"rb").read(); sys.exit(0 if o in open(sys.argv[2],"rb").read() else 1)' "$@"
}
check "the installed fastpath.bpf.o is byte for byte the program ntsctl embeds" \
	embeds "$d/usr/local/lib/nts/fastpath.bpf.o" "$d/usr/local/sbin/ntsctl"
check "the installed ntsd runs (--version)" bash -c "'$d/usr/local/sbin/ntsd' --version | grep -q '^ntsd '"

echo "listen = 127.0.0.1:3478 # mine" >"$d/usr/local/etc/nts/ntsd.conf"
keeps_conf() { make_install DESTDIR="$d" && grep -q mine "$d/usr/local/etc/nts/ntsd.conf"; }
check "make install again keeps the operator's ntsd.conf" keeps_conf
uninstalled() {
	make -C "$NTS_TOP" -s "$build_arg" uninstall DESTDIR="$d" >/dev/null 2>&1 &&
		[ "$(find "$d" -type f)" = "$d/usr/local/etc/nts/ntsd.conf" ]
}
check "make uninstall removes everything but the configuration" uninstalled

d=$tmp/usr
check "make install DESTDIR=… PREFIX=/usr (the package's layout)" make_install DESTDIR="$d" PREFIX=/usr
check "PREFIX=/usr puts the configuration in /etc and the units in /lib/systemd/system" \
	test -f "$d/etc/nts/ntsd.conf" -a -f "$d/lib/systemd/system/ntsd.service" -a \
	-f "$d/usr/lib/sysusers.d/nts.conf" -a -f "$d/usr/sbin/ntsd"

# systemd-analyze verify needs the programs at the paths the units name: install with the
# temporary folder as PREFIX.
p=$tmp/prefix
check "make install PREFIX=<tmp> for the units' verification" make_install PREFIX="$p"
verify() {
	local u=$p/lib/systemd/system
	ln -s nts-fastpath@.service "$u/nts-fastpath@lo.service"
	systemd-analyze verify --man=no "$u/ntsd.service" "$u/nts-fastpath@lo.service" >"$tmp/verify" 2>&1 &&
		! [ -s "$tmp/verify" ] || { sed 's/^/#   /' "$tmp/verify"; return 1; }
}
check "systemd-analyze verify: ntsd.service and nts-fastpath@lo.service, no complaint" verify

# The completion, from the installed file, through bash-completion's own loader.
complete_words() { # complete_words WORD...: what <TAB> offers after "ntsctl WORD..."
	bash -c '
		. /usr/share/bash-completion/bash_completion
		. "$1"; shift
		COMP_WORDS=(ntsctl "$@"); COMP_CWORD=$(($# )); COMP_LINE="ntsctl $*"; COMP_POINT=${#COMP_LINE}
		_ntsctl ntsctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$p/share/bash-completion/completions/ntsctl" "$@" | sort | paste -sd' '
}
if [ -f /usr/share/bash-completion/bash_completion ]; then
	check "completion: ntsctl at<TAB> -> attach" test "$(complete_words at)" = attach
	check "completion: ntsctl account <TAB> -> its actions" \
		test "$(complete_words account '')" = "--help activate close create list set suspend"
	check "completion: ntsctl attach lo --mode <TAB> -> native skb" \
		test "$(complete_words attach lo --mode '')" = "native skb"
	check "completion: ntsctl attach l<TAB> offers interface lo" \
		bash -c "[[ ' $(complete_words attach l) ' == *' lo '* ]]"
	check "completion: ntsctl --ctl-socket /x tok<TAB> -> token (global option values skipped)" \
		test "$(complete_words --ctl-socket /x tok)" = token
else
	not_ok "bash-completion is installed (tools/deps.sh)"
fi

echo "1..$n"
exit "$failed"
