#!/usr/bin/env bash
# SHA-256 long-term credentials (RFC 8489 §9.2, §14.4-14.6, §14.11-14.12) checked by a client
# written from the RFC without nts's code (stun_sha256.py): the server's algorithm negotiation,
# its SHA-256-signed answers and USERHASH, with the B.1 vector as the client's own check.
set -u
B=${NTS_BUILD:-$(pwd)/build}
tmp=$(mktemp -d /tmp/nts-sha256.XXXXXX)
. "$(dirname "$0")/turn_lib.bash"
trap turn_cleanup EXIT

turn_pick_ports 23000 1000
# A static user: USERHASH resolves static users (user/auth/check.c).
turn_start_ntsd --listen "127.0.0.1:$PORT" --allow-peer 127.0.0.0/8 --user alice:wonderland \
	--realm nts.sha256 --verbose || exit 1
turn_run_py "$tmp/py.log" timeout 60 /usr/bin/python3 "$(dirname "$0")/stun_sha256.py" 127.0.0.1 \
	"$PORT" alice wonderland
turn_done 19
