#!/usr/bin/python3
"""ICMP from peers reaches the TURN client (RFC 8656 §11): a UDP allocation of the server's family,
a permission for PEER_IP, Send indications to a closed port of PEER_IP; the kernel's port
unreachable comes back on the relay socket and ntsd passes it on as a Data indication with
XOR-PEER-ADDRESS and ICMP (§18.13), no DATA. A burst of sends is answered by no more indications
than the per-allocation limit allows (10 a second).

usage: turn_icmp.py HOST PORT USER PASSWORD PEER_IP
Prints "ok - what" / "not ok - what" lines; exits 1 when a check failed, 2 when the setup failed.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

MAGIC = 0x2112A442
A_USERNAME, A_MI, A_ERROR, A_REALM, A_NONCE = 0x0006, 0x0008, 0x0009, 0x0014, 0x0015
A_XOR_PEER, A_DATA, A_XOR_RELAYED, A_REQ_FAMILY = 0x0012, 0x0013, 0x0016, 0x0017
A_REQ_TRANSPORT, A_ICMP = 0x0019, 0x8004
HOST, PORT, USER, PASSWORD, PEER_IP = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), \
    sys.argv[4].encode(), sys.argv[5]
FAMILY = socket.AF_INET6 if ":" in HOST else socket.AF_INET
PEER_FAMILY = socket.AF_INET6 if ":" in PEER_IP else socket.AF_INET
failed = 0


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    failed += 0 if cond else 1


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def message(mtype, attrs, tid, key=None):
    body = b"".join(attrs)
    if key is not None:
        head = struct.pack("!HHI", mtype, len(body) + 24, MAGIC) + tid
        body += attr(A_MI, hmac.new(key, head + body, hashlib.sha1).digest())
    return struct.pack("!HHI", mtype, len(body), MAGIC) + tid + body


def parse(data):
    mtype, length, magic = struct.unpack("!HHI", data[:8])
    attrs, off = {}, 20
    while magic == MAGIC and off + 4 <= 20 + length:
        t, n = struct.unpack("!HH", data[off:off + 4])
        attrs.setdefault(t, data[off + 4:off + 4 + n])
        off += 4 + n + (4 - n % 4) % 4
    return mtype, data[8:20], attrs


def xor_addr(ip, port, tid):
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    raw = socket.inet_pton(fam, ip)
    key = struct.pack("!I", MAGIC) + tid
    return struct.pack("!BBH", 0, 1 if fam == socket.AF_INET else 2, port ^ (MAGIC >> 16)) + \
        bytes(a ^ b for a, b in zip(raw, key))


def unxor_addr(v, tid):
    port = struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
    key = struct.pack("!I", MAGIC) + tid
    fam = socket.AF_INET if v[1] == 1 else socket.AF_INET6
    raw = bytes(a ^ b for a, b in zip(v[4:], key))
    return socket.inet_ntop(fam, raw), port


def transact(s, mtype, attrs, key=None):
    """attrs: a list, or a function of the transaction id giving one (XOR addresses)."""
    tid = os.urandom(12)
    msg = message(mtype, attrs(tid) if callable(attrs) else attrs, tid, key)
    for _ in range(5):  # bounded retransmissions
        s.send(msg)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            s.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                t, rtid, a = parse(s.recv(2048))
            except socket.timeout:
                break
            if rtid == tid:
                return t, a
    sys.exit("setup: no answer to 0x%04x" % mtype)


def closed_port():
    """A UDP port of PEER_IP that nothing listens on (bound, then closed)."""
    p = socket.socket(PEER_FAMILY, socket.SOCK_DGRAM)
    p.bind((PEER_IP, 0))
    port = p.getsockname()[1]
    p.close()
    return port


s = socket.socket(FAMILY, socket.SOCK_DGRAM)
s.connect((HOST, PORT))
transport = attr(A_REQ_TRANSPORT, bytes([17, 0, 0, 0]))
family = [attr(A_REQ_FAMILY, bytes([1 if PEER_FAMILY == socket.AF_INET else 2, 0, 0, 0]))]
t, a = transact(s, 0x0003, [transport])
if t != 0x0113 or A_NONCE not in a:
    sys.exit("setup: no 401 challenge (0x%04x)" % t)
realm, nonce = a[A_REALM], a[A_NONCE]
key = hashlib.md5(USER + b":" + realm + b":" + PASSWORD).digest()
auth = [attr(A_USERNAME, USER), attr(A_REALM, realm), attr(A_NONCE, nonce)]
t, a = transact(s, 0x0003, [transport] + family + auth, key)
if t != 0x0103:
    sys.exit("setup: Allocate failed 0x%04x %r" % (t, a.get(A_ERROR)))
port = closed_port()
t, a = transact(s, 0x0008, lambda tid: [attr(A_XOR_PEER, xor_addr(PEER_IP, port, tid))] + auth,
                key)
if t != 0x0108:
    sys.exit("setup: CreatePermission failed 0x%04x %r" % (t, a.get(A_ERROR)))


def send_to_peer(size=4):
    tid = os.urandom(12)
    s.send(message(0x0016, [attr(A_XOR_PEER, xor_addr(PEER_IP, port, tid)),
                            attr(A_DATA, b"p" * size)], tid))


def indications(until):
    """Data indications received before the monotonic time until."""
    got = []
    while time.monotonic() < until:
        s.settimeout(max(until - time.monotonic(), 0.01))
        try:
            t, tid, a = parse(s.recv(2048))
        except socket.timeout:
            break
        if t == 0x0017:
            got.append((tid, a))
    return got


# One send, one indication (the kernel answers a closed loopback port at once).
send_to_peer()
got = indications(time.monotonic() + 3)
check(len(got) == 1, "one Send to a closed port gets one Data indication (%d)" % len(got))
if got:
    tid, a = got[0]
    icmp = a.get(A_ICMP, b"")
    check(len(icmp) == 8, "it carries the ICMP attribute (%d bytes)" % len(icmp))
    if len(icmp) == 8:
        tc, data = struct.unpack("!HI", icmp[2:8])
        want = (3, 3) if PEER_FAMILY == socket.AF_INET else (1, 4)
        check((tc >> 9, tc & 0x1FF) == want,
              "ICMP type %d code %d is port unreachable %r" % (tc >> 9, tc & 0x1FF, want))
        check(data == 0, "its Error Data is zero (%d)" % data)
    peer = unxor_addr(a[A_XOR_PEER], tid) if A_XOR_PEER in a else None
    check(peer == (PEER_IP, port), "XOR-PEER-ADDRESS is the closed peer port (%r)" % (peer,))
    check(A_DATA not in a, "it carries no DATA")

# A burst within one second: at most the per-allocation limit of indications reach the client.
# Sizes differ so that ntsd sends them as 40 datagrams, not as one GSO run (one ICMP on loopback).
for i in range(40):
    send_to_peer(5 + i)
got = indications(time.monotonic() + 1.5)
# The limit counts per second: a burst that straddles a second boundary may see two budgets.
check(5 <= len(got) <= 20, "40 sends at once get %d indications (limit 10 a second)" % len(got))
sys.exit(1 if failed else 0)
