#!/usr/bin/python3
"""Amplification of every unauthenticated answer, nts next to coturn: sends each request a client
can make without credentials over UDP to both servers and prints the request and answer sizes.
Sizes only, no timing. Checks that nts answers no unauthenticated request with more than coturn
does (nothing counts as 0 bytes), that its Binding answer carries no SOFTWARE, that its 401 to the
28-byte Allocate is 92 bytes with realm "nts", and that a Binding flood meets the rate limit.

usage: amplification.py HOST NTS_PORT COTURN_PORT
Prints "| request | bytes | nts | factor | coturn | factor |" rows, then "ok - what" / "not ok - what".
"""
import os
import socket
import struct
import sys

HOST, NTS, COTURN = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
MAGIC = 0x2112A442
failed = 0


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    failed += 0 if cond else 1


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def msg(mtype, attrs=()):
    body = b"".join(attrs)
    return struct.pack("!HHI", mtype, len(body), MAGIC) + os.urandom(12) + body


TRANSPORT = attr(0x0019, bytes([17, 0, 0, 0]))
PEER = attr(0x0012, struct.pack("!HHI", 1, 0x1234 ^ (MAGIC >> 16), 0xC6120002 ^ MAGIC))
REQUESTS = [
    ("Binding", msg(0x0001)),
    ("Allocate", msg(0x0003, [TRANSPORT])),
    ("Allocate, header only", msg(0x0003)),
    ("Refresh", msg(0x0004)),
    ("CreatePermission", msg(0x0008, [PEER])),
    ("ChannelBind", msg(0x0009, [attr(0x000C, struct.pack("!HH", 0x4000, 0)), PEER])),
    ("Connect (RFC 6062)", msg(0x000A, [PEER])),
    ("unknown method 0x01f", msg(0x002F)),
    ("unknown required attribute", msg(0x0001, [attr(0x0023, b"\0\0\0\0")])),
    # RFC 3489: no magic cookie, a 128-bit transaction id.
    ("Binding, RFC 3489", struct.pack("!HH", 0x0001, 0) + os.urandom(16)),
]


def answer(port, req):
    """Size and attribute types of the answer to req, or (0, []) when none comes."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        for _ in range(3):  # bounded: UDP may drop
            s.sendto(req, (HOST, port))
            try:
                while True:
                    data = s.recv(4096)
                    if data[8:20] == req[8:20]:
                        types, off = [], 20
                        while off + 4 <= len(data):
                            t, n = struct.unpack("!HH", data[off:off + 4])
                            types.append(t)
                            off += 4 + n + (4 - n % 4) % 4
                        return len(data), types
            except socket.timeout:
                continue
        return 0, []
    finally:
        s.close()


print("| request | bytes | nts | factor | coturn | factor |")
print("|---|---:|---:|---:|---:|---:|")
results = {}
for name, req in REQUESTS:
    n, ntypes = answer(NTS, req)
    c, _ = answer(COTURN, req)
    results[name] = (len(req), n, ntypes, c)
    print("| %s | %d | %d | %.2f | %d | %.2f |" % (name, len(req), n, n / len(req), c,
                                                   c / len(req)))
for name, (r, n, _, c) in results.items():
    check(n <= c, "%s: nts answers %d bytes, coturn %d" % (name, n, c))
r, n, ntypes, _ = results["Binding"]
check(n > 0 and 0x8022 not in ntypes, "nts answers Binding without SOFTWARE (%d bytes)" % n)
check(results["Allocate"][1] == 92, "nts's 401 to a 28-byte Allocate is 92 bytes (%d)" %
      results["Allocate"][1])
# A spoofed flood reflects at most the per-source budget (--unauth-rate 50, burst 50).
flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flood.settimeout(0.5)
for _ in range(200):
    flood.sendto(msg(0x0001), (HOST, NTS))
answered = 0
try:
    while answered < 200:
        flood.recv(4096)
        answered += 1
except socket.timeout:
    pass
check(0 < answered < 100, "nts answers %d of 200 Bindings sent at once: the rate limit" % answered)
sys.exit(1 if failed else 0)
