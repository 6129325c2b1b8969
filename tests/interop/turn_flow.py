#!/usr/bin/python3
"""TURN client for the upgrade tests: a ChannelData flow through ntsd (RFC 8656 §12) echoed back
by a peer in this process, measured across an upgrade.

usage: turn_flow.py session HOST PORT USER PASS PEER STOP_FILE [RATE]
  PEER is an IP address to run the echoing peers on here, or "IP:PORT,IP:PORT": two echo servers
  elsewhere (turnutils_peer). Allocates, binds channel 0x4000 to the first peer, prints "relay ADDR" and then
  "flowing" once 200 echoes came back, and keeps sending RATE ChannelData per second until
  STOP_FILE exists (then 1.5 s more; at most 30 s in all). Afterwards, on the same allocation:
  Refresh, a new ChannelBind (0x4001 to a second peer) and 50 packets through it. Prints one JSON
  line with the counts; exits 0 when the client side worked (the caller judges the numbers).
usage: turn_flow.py health HOST PORT USER PASS PEER_IP
  A Binding, then a fresh allocation with one channel and 50 echoed packets. Exits 0 when all
  was answered.
"""
import hashlib
import hmac
import json
import os
import select
import socket
import struct
import sys
import time

MAGIC = 0x2112A442
BINDING, ALLOCATE, REFRESH, CHANNEL_BIND = 0x001, 0x003, 0x004, 0x009
A_USERNAME, A_MI, A_ERROR, A_REALM, A_NONCE = 0x0006, 0x0008, 0x0009, 0x0014, 0x0015
A_LIFETIME, A_REQ_TRANSPORT, A_XOR_RELAYED = 0x000D, 0x0019, 0x0016
A_CHANNEL_NUMBER, A_XOR_PEER = 0x000C, 0x0012
PAYLOAD = 96


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
    if len(data) < 20 or data[0] & 0xC0:
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


def xor_peer(ip, port):
    x = struct.unpack("!I", socket.inet_aton(ip))[0] ^ MAGIC
    return struct.pack("!BBHI", 0, 1, port ^ (MAGIC >> 16), x)


def xor_addr(v):
    port = struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
    ip = struct.unpack("!I", v[4:8])[0] ^ MAGIC
    return "%s:%d" % (socket.inet_ntoa(struct.pack("!I", ip)), port)


def error_of(attrs):
    v = attrs.get(A_ERROR, b"\0\0\0\0")
    return (v[2] & 7) * 100 + v[3]


class Client:
    def __init__(self, host, port, user, password):
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.user, self.password = user, password
        self.key = self.auth = None
        self.chandata = []  # ChannelData that arrived while waiting for an answer

    def transact(self, msg, tid):
        for _ in range(6):  # bounded retransmissions
            self.sock.sendto(msg, self.addr)
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                r, _, _ = select.select([self.sock], [], [], max(0, end - time.monotonic()))
                if not r:
                    break
                data = self.sock.recv(4096)
                if data[0] & 0xC0 == 0x40:
                    self.chandata.append((time.monotonic(), data))
                    continue
                mtype, attrs = parse(data, tid)
                if mtype is not None:
                    return mtype, attrs
        raise RuntimeError("no answer from %s:%d" % self.addr)

    def request(self, method, attrs):
        msg, tid = message(method, attrs + self.auth, self.key)
        return self.transact(msg, tid)

    def binding(self):
        msg, tid = message(BINDING, [])
        return self.transact(msg, tid)[0] == 0x101

    def allocate(self):
        transport = attr(A_REQ_TRANSPORT, bytes([17, 0, 0, 0]))
        msg, tid = message(ALLOCATE, [transport])
        mtype, attrs = self.transact(msg, tid)
        if mtype != 0x113 or error_of(attrs) != 401:
            raise RuntimeError("unexpected first answer 0x%x" % mtype)
        realm, nonce = attrs[A_REALM], attrs[A_NONCE]
        self.key = hashlib.md5(self.user.encode() + b":" + realm + b":" +
                               self.password.encode()).digest()
        self.auth = [attr(A_USERNAME, self.user.encode()), attr(A_REALM, realm),
                     attr(A_NONCE, nonce)]
        mtype, attrs = self.request(ALLOCATE, [transport])
        if mtype != 0x103:
            raise RuntimeError("Allocate failed: 0x%x %d" % (mtype, error_of(attrs)))
        return xor_addr(attrs[A_XOR_RELAYED])

    def channel_bind(self, num, peer):
        mtype, attrs = self.request(CHANNEL_BIND, [attr(A_CHANNEL_NUMBER, struct.pack("!HH", num, 0)),
                                                  attr(A_XOR_PEER, xor_peer(*peer))])
        return mtype == 0x109, error_of(attrs)

    def refresh(self, lifetime):
        mtype, attrs = self.request(REFRESH, [attr(A_LIFETIME, struct.pack("!I", lifetime))])
        return mtype == 0x104, error_of(attrs)


def peer_socket(ip):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.setblocking(False)
    return s


def echo(peer):
    """Sends back whatever reached the peer (to the relay it came from)."""
    while True:
        try:
            data, src = peer.recvfrom(4096)
        except BlockingIOError:
            return
        try:
            peer.sendto(data, src)
        except BlockingIOError:
            select.select([], [peer], [], 0.01)
            peer.sendto(data, src)


def flow(c, peer, channel, rate, stop, on_count=None):
    """Sends ChannelData at rate until stop() says so; returns (sent, received seqs, max gap)."""
    seqs, sent, last_rx, max_gap = set(), 0, None, 0.0
    stopped = time.monotonic()
    c.sock.setblocking(False)
    start = time.monotonic()

    def take(now, data):
        nonlocal last_rx, max_gap
        if len(data) >= 8 and struct.unpack("!H", data[:2])[0] == channel:
            seqs.add(struct.unpack("!I", data[4:8])[0])
            if last_rx is not None:
                max_gap = max(max_gap, now - last_rx)
            last_rx = now

    for now, data in c.chandata:
        take(now, data)
    c.chandata = []
    while True:
        now = time.monotonic()
        sending = not stop(now)
        if sending:
            stopped = now
        due = start + sent / rate
        if sending and now >= due:
            body = struct.pack("!I", sent) + b"x" * (PAYLOAD - 4)
            try:
                c.sock.sendto(struct.pack("!HH", channel, len(body)) + body, c.addr)
                sent += 1
            except BlockingIOError:  # the send buffer is full: wait until it drains
                select.select([], [c.sock], [], 0.01)
            continue
        if not sending and now - (last_rx or stopped) > 0.5:
            break
        r, _, _ = select.select([c.sock] + ([peer] if peer else []), [], [],
                                0.2 if not sending else max(0, due - now))
        if peer and peer in r:
            echo(peer)
        if c.sock in r:
            while True:
                try:
                    data = c.sock.recv(4096)
                except BlockingIOError:
                    break
                take(time.monotonic(), data)
        if on_count:
            on_count(len(seqs))
    c.sock.setblocking(True)
    return sent, seqs, max_gap


def session(host, port, user, password, peer_ip, stop_file, rate):
    c = Client(host, port, user, password)
    if ":" in peer_ip:  # echo servers elsewhere
        addrs = [(a.split(":")[0], int(a.split(":")[1])) for a in peer_ip.split(",")]
        peer = peer2 = None
    else:
        peer, peer2 = peer_socket(peer_ip), peer_socket(peer_ip)
        addrs = [peer.getsockname(), peer2.getsockname()]
    relay = c.allocate()
    ok, code = c.channel_bind(0x4000, addrs[0])
    if not ok:
        raise RuntimeError("ChannelBind failed: %d" % code)
    print("relay %s" % relay, flush=True)
    said = [False]

    def on_count(k):
        if k >= 200 and not said[0]:
            print("flowing", flush=True)
            said[0] = True

    t0, seen = time.monotonic(), [None]

    def stop(now):
        if seen[0] is None and os.path.exists(stop_file):
            seen[0] = now
        return now - t0 > 30 or (seen[0] is not None and now - seen[0] > 1.5)

    sent, seqs, gap = flow(c, peer, 0x4000, rate, stop, on_count)
    refresh_ok, refresh_code = c.refresh(600)
    bind_ok, bind_code = c.channel_bind(0x4001, addrs[1])
    t2 = time.monotonic()
    sent2, seqs2 = 0, set()
    if bind_ok:
        sent2, seqs2, _ = flow(c, peer2, 0x4001, 500, lambda now: now - t2 > 0.1)
    print(json.dumps({"relay": relay, "sent": sent, "received": len(seqs),
                      "max_gap_ms": round(gap * 1000, 1), "refresh": refresh_ok,
                      "refresh_code": refresh_code, "bind": bind_ok, "bind_code": bind_code,
                      "sent2": sent2, "received2": len(seqs2)}), flush=True)


def health(host, port, user, password, peer_ip):
    c = Client(host, port, user, password)
    if not c.binding():
        raise RuntimeError("no Binding answer")
    peer = peer_socket(peer_ip)
    c.allocate()
    ok, code = c.channel_bind(0x4000, peer.getsockname())
    if not ok:
        raise RuntimeError("ChannelBind failed: %d" % code)
    t = time.monotonic()
    sent, seqs, _ = flow(c, peer, 0x4000, 500, lambda now: now - t > 0.1)
    c.refresh(0)
    if len(seqs) < sent - 1:
        raise RuntimeError("only %d of %d ChannelData echoed" % (len(seqs), sent))
    print("ok binding, allocation, %d of %d echoed" % (len(seqs), sent))


def main():
    try:
        if sys.argv[1] == "session":
            rate = int(sys.argv[8]) if len(sys.argv) > 8 else 1000
            session(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6],
                    sys.argv[7], rate)
        else:
            health(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6])
    except (RuntimeError, OSError) as e:
        print("error: %s" % e, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
