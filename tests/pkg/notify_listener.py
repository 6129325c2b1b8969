#!/usr/bin/env python3
"""Plays systemd's side of sd_notify(3) for tests/pkg/sd_notify.sh.

Listens on a datagram socket (argv[1]) and appends each message to argv[2] as one line (fields
joined by '|'). When a READY=1 arrives it probes the listeners named in its STATUS= line
("udp 127.0.0.1:3478, tcp 127.0.0.1:3478") at once, and logs "probe udp ok"/"probe tcp ok" or
"probe ... failed", so the test can tell that READY came after the listeners accepted.
Exits after argv[3] seconds at most.
"""
import os
import re
import socket
import struct
import sys
import time


def probe_udp(host, port):
    txid = os.urandom(12)
    req = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + txid
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        s.sendto(req, (host, port))
        data = s.recv(2048)
    return len(data) >= 20 and data[0:2] == b"\x01\x01" and data[8:20] == txid


def probe_tcp(host, port):
    with socket.create_connection((host, port), timeout=1.0):
        return True


def main():
    path, out, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    deadline = time.monotonic() + limit
    with open(out, "a", buffering=1) as log:
        log.write("listening\n")
        while time.monotonic() < deadline:
            try:
                msg = sock.recv(4096).decode(errors="replace")
            except socket.timeout:
                continue
            fields = msg.strip("\n").split("\n")
            log.write("|".join(fields) + "\n")
            if "READY=1" not in fields:
                continue
            status = next((f[7:] for f in fields if f.startswith("STATUS=")), "")
            for proto, host, port in re.findall(r"(udp|tcp) ([0-9.]+):([0-9]+)", status):
                try:
                    good = (probe_udp if proto == "udp" else probe_tcp)(host, int(port))
                except OSError:
                    good = False
                log.write("probe %s %s\n" % (proto, "ok" if good else "failed"))


if __name__ == "__main__":
    main()
