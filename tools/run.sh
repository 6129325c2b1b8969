#!/usr/bin/env bash
# make run: start ntsd in the foreground on loopback with the embedded default setup.
set -euo pipefail
BUILD=${1:-build}
exec "$BUILD/ntsd" --listen 127.0.0.1:3478 --api-listen 127.0.0.1:8080 --db var/nts.db \
	--ctl-socket var/ntsd.sock --demo
