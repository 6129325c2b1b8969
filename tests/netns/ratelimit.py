#!/usr/bin/python3
"""Traffic for tests/netns/ratelimit.sh: one UDP allocation per address family under an account's
ephemeral credential (TURN REST: "<expiry>:<AccountSid>", HMAC-SHA1 of the shared secret), a
channel to a peer socket each (RFC 8656 §11), then phases that offer RATE bytes/s each way on
every allocation (ChannelData client -> peer, plain UDP peer -> relay) for SECS seconds and count
what arrives. The client sockets live in the client namespace and the peer sockets in the peer
namespace (entered with setns for each socket), so one paced loop drives all four flows.

usage: ratelimit.py --client-ns F --peer-ns F --secret S --account SID --phases N
                    [--between CMD]... SERVER4 PEER4 SERVER6 PEER6
Before phase i > 1 the i-1th --between command runs (a shell command: attach, account set).
Prints one JSON line per phase: {"phase": i, "secs": s, "v4": {"c2p": bytes, "p2c": bytes}, ...}.
Exits 2 when the allocations cannot be made.
"""
import argparse
import base64
import ctypes
import hashlib
import hmac
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time

MAGIC = 0x2112A442
ALLOCATE, CHANNEL_BIND = 0x003, 0x009
A_USERNAME, A_MI, A_ERROR, A_REALM, A_NONCE = 0x0006, 0x0008, 0x0009, 0x0014, 0x0015
A_CHANNEL, A_XOR_PEER, A_XOR_RELAYED, A_REQ_TRANSPORT = 0x000C, 0x0012, 0x0016, 0x0019
A_REQ_FAMILY = 0x0017
CHANNEL = 0x4000
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def in_netns(path, fn):
    """Runs fn() with the calling thread in the network namespace at path, then comes back."""
    back = os.open("/proc/self/ns/net", os.O_RDONLY)
    ns = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(ns, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + path)
        return fn()
    finally:
        libc.setns(back, CLONE_NEWNET)
        os.close(ns)
        os.close(back)


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def message(method, attrs, key=None):
    tid = os.urandom(12)
    body = b"".join(attrs)
    if key is not None:
        head = struct.pack("!HHI", method, len(body) + 24, MAGIC) + tid
        body += attr(A_MI, hmac.new(key, head + body, hashlib.sha1).digest())
    return struct.pack("!HHI", method, len(body), MAGIC) + tid + body, tid


def parse(data, tid):
    if len(data) < 20:
        return None, {}
    mtype, length, magic = struct.unpack("!HHI", data[:8])
    if magic != MAGIC or data[8:20] != tid:
        return None, {}
    attrs, off = {}, 20
    while off + 4 <= 20 + length:
        t, n = struct.unpack("!HH", data[off:off + 4])
        attrs.setdefault(t, data[off + 4:off + 4 + n])
        off += 4 + n + (4 - n % 4) % 4
    return mtype, attrs


def xor_addr_v(family, host, port, tid):
    raw = socket.inet_pton(family, host)
    mask = struct.pack("!I", MAGIC) + tid
    xored = bytes(a ^ b for a, b in zip(raw, mask))
    fam = 1 if family == socket.AF_INET else 2
    return struct.pack("!BBH", 0, fam, port ^ (MAGIC >> 16)) + xored


def unxor_addr(v, tid):
    port = struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
    mask = struct.pack("!I", MAGIC) + tid
    n = 4 if v[1] == 1 else 16
    raw = bytes(a ^ b for a, b in zip(v[4:4 + n], mask))
    family = socket.AF_INET if v[1] == 1 else socket.AF_INET6
    return socket.inet_ntop(family, raw), port


def transact(sock, msg, tid):
    for _ in range(5):
        sock.send(msg)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            r, _, _ = select.select([sock], [], [], max(0, deadline - time.monotonic()))
            if not r:
                break
            mtype, attrs = parse(sock.recv(2048), tid)
            if mtype is not None:
                return mtype, attrs
    raise RuntimeError("no answer")


def request(sock, method, attrs, auth, key):
    tid = os.urandom(12)
    full = [a(tid) if callable(a) else a for a in attrs] + auth
    body = b"".join(full)
    head = struct.pack("!HHI", method, len(body) + 24, MAGIC) + tid
    body += attr(A_MI, hmac.new(key, head + body, hashlib.sha1).digest())
    msg = struct.pack("!HHI", method, len(body), MAGIC) + tid + body
    mtype, got = transact(sock, msg, tid)
    return mtype, got, tid


class Flow:
    """One allocation: the client socket, the peer socket, the relayed address."""

    def __init__(self, family, server, peer_host, client_ns, peer_ns, user, password):
        self.family = family
        self.client = in_netns(client_ns, lambda: socket.socket(family, socket.SOCK_DGRAM))
        self.client.connect((server, 3478))
        self.peer = in_netns(peer_ns, lambda: socket.socket(family, socket.SOCK_DGRAM))
        self.peer.bind((peer_host, 0))
        self.peer_addr = self.peer.getsockname()[:2]
        for s in (self.client, self.peer):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
            s.setblocking(False)
        transport = attr(A_REQ_TRANSPORT, bytes([17, 0, 0, 0]))
        fam = attr(A_REQ_FAMILY, bytes([1 if family == socket.AF_INET else 2, 0, 0, 0]))
        msg, tid = message(ALLOCATE, [transport, fam])
        mtype, attrs = transact(self.client, msg, tid)
        realm, nonce = attrs[A_REALM], attrs[A_NONCE]
        key = hashlib.md5(user.encode() + b":" + realm + b":" + password.encode()).digest()
        auth = [attr(A_USERNAME, user.encode()), attr(A_REALM, realm), attr(A_NONCE, nonce)]
        mtype, attrs, tid = request(self.client, ALLOCATE, [transport, fam], auth, key)
        if mtype != 0x103:
            raise RuntimeError("Allocate answered 0x%x %r" % (mtype, attrs.get(A_ERROR)))
        self.relay = unxor_addr(attrs[A_XOR_RELAYED], tid)
        peer = lambda t: attr(A_XOR_PEER, xor_addr_v(family, self.peer_addr[0],
                                                      self.peer_addr[1], t))
        mtype, attrs, tid = request(self.client, CHANNEL_BIND,
                                    [attr(A_CHANNEL, struct.pack("!HH", CHANNEL, 0)), peer],
                                    auth, key)
        if mtype != 0x109:
            raise RuntimeError("ChannelBind answered 0x%x" % mtype)
        self.got = {"c2p": 0, "p2c": 0}

    def send(self, size):
        data = b"r" * size
        try:
            self.client.send(struct.pack("!HH", CHANNEL, size) + data)
        except BlockingIOError:
            pass
        try:
            self.peer.sendto(data, self.relay)
        except BlockingIOError:
            pass

    def drain(self):
        for sock, key, hdr in ((self.peer, "c2p", 0), (self.client, "p2c", 4)):
            while True:
                try:
                    d = sock.recv(65536)
                except BlockingIOError:
                    break
                self.got[key] += len(d) - hdr


def run_phase(flows, rate, size, secs):
    """Offers rate bytes/s of size-byte datagrams each way on every flow for secs seconds."""
    for f in flows:
        f.drain()
        f.got = {"c2p": 0, "p2c": 0}
    interval = size / rate
    start = time.monotonic()
    sent = 0
    socks = [s for f in flows for s in (f.client, f.peer)]
    while True:
        now = time.monotonic()
        if now - start >= secs:
            break
        due = int((now - start) / interval) + 1
        while sent < due:
            for f in flows:
                f.send(size)
            sent += 1
        select.select(socks, [], [], max(0, start + sent * interval - time.monotonic()))
        for f in flows:
            f.drain()
    # What is in flight arrives within a few ms; anything later was not within the phase.
    end = time.monotonic() + 0.2
    while time.monotonic() < end:
        select.select(socks, [], [], 0.05)
        for f in flows:
            f.drain()
    return sent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client-ns", required=True)
    ap.add_argument("--peer-ns", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--account", required=True)
    ap.add_argument("--rate", type=int, required=True, help="bytes/s offered each way per flow")
    ap.add_argument("--size", type=int, default=500)
    ap.add_argument("--secs", type=float, default=5)
    ap.add_argument("--phases", type=int, default=1)
    ap.add_argument("--between", action="append", default=[])
    ap.add_argument("addrs", nargs=4)
    a = ap.parse_args()
    user = "%d:%s" % (int(time.time()) + 3600, a.account)
    password = base64.b64encode(hmac.new(a.secret.encode(), user.encode(),
                                         hashlib.sha1).digest()).decode()
    try:
        flows = [Flow(socket.AF_INET, a.addrs[0], a.addrs[1], a.client_ns, a.peer_ns, user,
                      password),
                 Flow(socket.AF_INET6, a.addrs[2], a.addrs[3], a.client_ns, a.peer_ns, user,
                      password)]
    except (RuntimeError, OSError, KeyError) as e:
        print("allocation failed: %s" % e, file=sys.stderr)
        sys.exit(2)
    for i in range(a.phases):
        if i > 0 and i - 1 < len(a.between):
            subprocess.run(a.between[i - 1], shell=True, check=False, stdout=sys.stderr)
        sent = run_phase(flows, a.rate, a.size, a.secs)
        print(json.dumps({"phase": i + 1, "secs": a.secs, "sent_each": sent * a.size,
                          "v4": flows[0].got, "v6": flows[1].got}), flush=True)


if __name__ == "__main__":
    main()
