#!/usr/bin/env bash
# Installs every Debian package nts needs to build, test and benchmark; idempotent: skips what is present.
set -euo pipefail

PKGS=(
	build-essential make pkg-config clang llvm lld libclang-rt-14-dev
	libbpf-dev libxdp-dev xdp-tools bpftool linux-libc-dev
	libnl-3-dev libnl-route-3-dev libssl-dev libmicrohttpd-dev libjansson-dev
	libsqlite3-dev sqlite3 libcmocka-dev
	# The store's PostgreSQL backend (libpq) and the throwaway servers of tests/fleet/.
	libpq-dev postgresql
	coturn iproute2 ethtool iputils-ping procps psmisc curl openssl strace
	stun-client nftables
	python3 python3-aiortc python3-twilio chromium
	gnuplot linux-perf
	# Packaging: sd_notify, the .deb, its checks and the man pages' lint.
	libsystemd-dev systemd debhelper dpkg-dev lintian mandoc bash-completion
	# The units under a real systemd (tests/pkg/systemd_boot.sh boots one with systemd-nspawn).
	systemd-container
)
# Node.js may come from another packaging (which ships npm inside it): only add Debian's if absent.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps.sh: missing packages: ${missing[*]}; run as root" >&2
		exit 1
	fi
	echo "deps.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# coturn's package enables a system service on install; nts tests start their own servers.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet coturn 2>/dev/null; then
	systemctl stop coturn || true
fi

# The official Twilio helper library for Node.js, used as an unmodified client in tests.
top=$(cd "$(dirname "$0")/.." && pwd)
npmdir="$top/build/npm"
if command -v npm >/dev/null 2>&1 && [ ! -d "$npmdir/node_modules/twilio" ]; then
	mkdir -p "$npmdir"
	if ! (cd "$npmdir" && npm install --silent --no-audit --no-fund twilio@5 >"$npmdir/install.log" 2>&1); then
		echo "deps.sh: npm install twilio failed (log: $npmdir/install.log)" >&2
		exit 1
	fi
fi
# playwright-core drives Debian's chromium in tests/browser/; it downloads no browser of its own.
if command -v npm >/dev/null 2>&1 && [ ! -d "$npmdir/node_modules/playwright-core" ]; then
	mkdir -p "$npmdir"
	if ! (cd "$npmdir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit \
		--no-fund playwright-core@1 >"$npmdir/install-playwright.log" 2>&1); then
		echo "deps.sh: npm install playwright-core failed (log: $npmdir/install-playwright.log)" >&2
		exit 1
	fi
fi
# Every client the tests need must be there now: a missing one fails here, not as a skip later.
for cmd in node turnutils_uclient turnutils_peer turnutils_natdiscovery stun nft openssl curl bpftool chromium; do
	command -v "$cmd" >/dev/null 2>&1 || { echo "deps.sh: $cmd is missing" >&2; exit 1; }
done
for mod in twilio playwright-core; do
	[ -d "$npmdir/node_modules/$mod" ] || { echo "deps.sh: $npmdir/node_modules/$mod is missing" >&2; exit 1; }
done
/usr/bin/python3 -c 'import aiortc, twilio' || { echo "deps.sh: python3-aiortc or python3-twilio is missing" >&2; exit 1; }
exit 0
