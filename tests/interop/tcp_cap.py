#!/usr/bin/python3
"""--max-tcp-connections holds over every relay worker. Opens ATTEMPTS TCP connections to HOST:PORT
at once from SOURCES loopback addresses (127.0.0.10 on; the steering program spreads the sources
over the workers), while ntsd already holds BASE connections under a cap of CAP: exactly CAP - BASE
must stay open, the others be closed by ntsd, and `ntsctl status` must count CAP.

usage: tcp_cap.py HOST PORT CAP ATTEMPTS SOURCES NTSCTL CTL_SOCKET
Prints one line: "ok - what" or "not ok - what".
"""
import json
import select
import socket
import subprocess
import sys
import threading
import time

HOST, PORT, CAP, ATTEMPTS, SOURCES = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                      int(sys.argv[4]), int(sys.argv[5]))
NTSCTL, CTL = sys.argv[6], sys.argv[7]


def status_connections():
    out = subprocess.run([NTSCTL, "--ctl-socket", CTL, "status", "--json"], capture_output=True,
                         text=True, timeout=10, check=True).stdout
    return json.loads(out)["ntsd"]["tcp_connections"]


base = status_connections()
socks = [None] * ATTEMPTS
start = threading.Barrier(ATTEMPTS)


def connect(i):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((f"127.0.0.{10 + i % SOURCES}", 0))
    s.settimeout(5)
    start.wait(timeout=10)
    try:
        s.connect((HOST, PORT))
        socks[i] = s
    except OSError:
        s.close()


threads = [threading.Thread(target=connect, args=(i,)) for i in range(ATTEMPTS)]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=15)
conns = [s for s in socks if s]
want_open = CAP - base
closed = set()
deadline = time.monotonic() + 5
# ntsd closes each refused connection at once: wait for all of them (bounded), then a little
# longer to see that no more than those go.
while time.monotonic() < deadline and len(conns) - len(closed) > want_open:
    r, _, _ = select.select([s for s in conns if s not in closed], [], [], 0.1)
    for s in r:
        try:
            if not s.recv(1):
                closed.add(s)
        except OSError:
            closed.add(s)
r, _, _ = select.select([s for s in conns if s not in closed], [], [], 0.3)
for s in r:
    closed.add(s)
still = len(conns) - len(closed)
counted = status_connections()
ok = still == want_open and counted == CAP
print(("ok - " if ok else "not ok - ") +
      f"--max-tcp-connections {CAP} holds over the workers: {len(conns)} connections from "
      f"{SOURCES} sources at once, {base} held before, {still} kept open (want {want_open}), "
      f"status counts {counted}", flush=True)
for s in conns:
    s.close()
