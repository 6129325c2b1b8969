#!/usr/bin/python3
"""The host's own addresses as TURN peers, checked against a running ntsd from inside its network
namespace (tests/netns/hostaddr.sh sets it up): the listen/relay addresses are refused (403) over
UDP and TCP clients, IPv4 and IPv6; an address added to an interface at run time is refused within
a second, and Send/ChannelData to it stop although their permission and channel came first; once
removed it is a peer again. Peers that are not host addresses live in the peer namespace.

usage: hostaddr.py PEER_NETNS DEV SERVER4 SERVER6 PORT USER PASSWORD
Prints one line per check: "ok - what" or "not ok - what" (the caller numbers them).
"""
import ctypes
import hashlib
import hmac
import os
import select
import socket
import struct
import subprocess
import sys
import time

MAGIC = 0x2112A442
ALLOCATE, CREATE_PERMISSION, CHANNEL_BIND, SEND, CONNECT = 0x003, 0x008, 0x009, 0x006, 0x00A
INDICATION = 0x010
A_CHANNEL, A_USERNAME, A_MI, A_ERROR, A_PEER, A_DATA, A_REALM, A_NONCE = (
    0x000C, 0x0006, 0x0008, 0x0009, 0x0012, 0x0013, 0x0014, 0x0015)
A_FAMILY, A_TRANSPORT = 0x0017, 0x0019
CLONE_NEWNET = 0x40000000

PEER_NS, DEV, SERVER4, SERVER6, PORT, USER, PASSWORD = sys.argv[1:8]
PORT = int(PORT)
failed = 0


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    failed += 0 if cond else 1
    return cond


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def xor_peer(ip, port, tid):
    """XOR-PEER-ADDRESS (RFC 8489 §14.2) of ip:port in a message with transaction id tid."""
    xport = port ^ (MAGIC >> 16)
    if ":" in ip:
        key = struct.pack("!I", MAGIC) + tid
        raw = socket.inet_pton(socket.AF_INET6, ip)
        return attr(A_PEER, struct.pack("!BBH", 0, 2, xport) +
                    bytes(a ^ b for a, b in zip(raw, key)))
    raw = struct.unpack("!I", socket.inet_aton(ip))[0] ^ MAGIC
    return attr(A_PEER, struct.pack("!BBHI", 0, 1, xport, raw))


class Turn:
    """One client connection (UDP datagrams or TCP framing) with long-term credentials."""

    def __init__(self, server, tcp):
        fam = socket.AF_INET6 if ":" in server else socket.AF_INET
        self.tcp, self.buf = tcp, b""
        self.s = socket.socket(fam, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        self.s.settimeout(5)
        self.s.connect((server, PORT))
        self.realm = self.nonce = self.key = None

    def read_msg(self):
        if not self.tcp:
            return self.s.recv(65536)
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack("!H", self.buf[2:4])[0]
                if self.buf[0] & 0xC0:  # ChannelData, padded over streams (RFC 8656 §12.5)
                    n = 4 + n + (4 - n % 4) % 4
                else:
                    n += 20
                if len(self.buf) >= n:
                    m, self.buf = self.buf[:n], self.buf[n:]
                    return m
            d = self.s.recv(65536)
            if not d:
                raise EOFError("server closed the connection")
            self.buf += d

    def build(self, mtype, attrs, tid, auth=True):
        body = b"".join(a(tid) if callable(a) else a for a in attrs)
        if auth and self.key:
            body += attr(A_USERNAME, USER.encode()) + attr(A_REALM, self.realm) + \
                attr(A_NONCE, self.nonce)
            head = struct.pack("!HHI", mtype, len(body) + 24, MAGIC) + tid
            body += attr(A_MI, hmac.new(self.key, head + body, hashlib.sha1).digest())
        return struct.pack("!HHI", mtype, len(body), MAGIC) + tid + body

    def exchange(self, method, attrs):
        tid = os.urandom(12)
        self.s.send(self.build(method, attrs, tid))
        while True:
            m = self.read_msg()
            if len(m) < 20 or m[0] & 0xC0 or m[8:20] != tid:
                continue  # ChannelData, indications, stray answers
            length, a, off = struct.unpack("!H", m[2:4])[0], {}, 20
            while off + 4 <= 20 + length:
                t, n = struct.unpack("!HH", m[off:off + 4])
                a.setdefault(t, m[off + 4:off + 4 + n])
                off += 4 + n + (4 - n % 4) % 4
            return (a[A_ERROR][2] * 100 + a[A_ERROR][3]) if A_ERROR in a else 0, a

    def request(self, method, attrs=()):
        code, a = self.exchange(method, list(attrs))
        if code in (401, 438):
            self.realm, self.nonce = a[A_REALM], a[A_NONCE]
            self.key = hashlib.md5(USER.encode() + b":" + self.realm + b":" +
                                   PASSWORD.encode()).digest()
            code, a = self.exchange(method, list(attrs))
        return code

    def allocate(self, v6=False, tcp_relay=False):
        attrs = [attr(A_TRANSPORT, bytes([6 if tcp_relay else 17, 0, 0, 0]))]
        if v6:
            attrs.append(attr(A_FAMILY, bytes([2, 0, 0, 0])))
        return self.request(ALLOCATE, attrs)

    def permit(self, ip):
        return self.request(CREATE_PERMISSION, [lambda tid: xor_peer(ip, 0, tid)])

    def bind(self, channel, ip, port):
        return self.request(CHANNEL_BIND, [attr(A_CHANNEL, struct.pack("!HH", channel, 0)),
                                           lambda tid: xor_peer(ip, port, tid)])

    def connect(self, ip, port):
        return self.request(CONNECT, [lambda tid: xor_peer(ip, port, tid)])

    def send(self, ip, port, data):
        tid = os.urandom(12)
        self.s.send(self.build(SEND | INDICATION,
                               [xor_peer(ip, port, tid), attr(A_DATA, data)], tid, False))

    def channel_data(self, channel, data):
        self.s.send(struct.pack("!HH", channel, len(data)) + data)


def udp_socket(ip, port, netns=None):
    """A UDP socket bound to ip:port, created in netns (a /var/run/netns name) if given."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        if netns:
            fd = os.open("/var/run/netns/" + netns, os.O_RDONLY)
            rc = libc.setns(fd, CLONE_NEWNET)
            os.close(fd)
            if rc:
                raise OSError(ctypes.get_errno(), "setns " + netns)
        s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, port))
        return s
    finally:
        if netns and libc.setns(home, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(home)


def received(s, timeout):
    """The datagrams waiting on s within timeout (the first wait bounded, the rest immediate)."""
    out = []
    while select.select([s], [], [], timeout)[0]:
        out.append(s.recv(65536))
        timeout = 0
    return out


def within_a_second(cond):
    """Polls cond (a TURN request each time) every 50 ms for 1 s: seconds it took, or None."""
    start = time.monotonic()
    while time.monotonic() - start < 1.0:
        if cond():
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True)


def main():
    fam = {4: (SERVER4, "198.18.0.2", "198.18.0.77", "198.18.0.77/24"),
           6: (SERVER6, "2001:db8::2", "2001:db8::77", "2001:db8::77/64")}
    for v, (server, far, new, new_cidr) in fam.items():
        # The listen address is the relay address; both transports of the control connection.
        for tcp in (False, True):
            t = Turn(server, tcp)
            how = "IPv%d over %s" % (v, "TCP" if tcp else "UDP")
            check(t.allocate(v == 6) == 0, how + ": Allocate succeeds")
            check(t.permit(server) == 403, how + ": CreatePermission to the listen/relay address "
                  "gets 403 although --allow-peer covers its prefix")
            check(t.bind(0x4001, server, PORT) == 403,
                  how + ": ChannelBind to the listen/relay address gets 403")
            check(t.permit(far) == 0, how + ": CreatePermission to a peer in the peer namespace "
                  "succeeds")
        t = Turn(server, True)
        check(t.allocate(v == 6, True) == 0, "IPv%d TCP relay (RFC 6062): Allocate succeeds" % v)
        check(t.connect(server, PORT) == 403,
              "IPv%d TCP relay: Connect to the listen address gets 403" % v)

        # A permission and a channel made while the address is not the host's yet.
        t = Turn(server, False)
        t.allocate(v == 6)
        peer = udp_socket(far, 4000, PEER_NS)
        check(t.permit(new) == 0 and t.bind(0x4002, new, 5000) == 0,
              "IPv%d: permission and channel to %s before it is an address" % (v, new))
        check(t.permit(far) == 0, "IPv%d: permission to the far peer" % v)
        t.send(far, 4000, b"before")
        check(received(peer, 2) == [b"before"], "IPv%d: Send reaches the far peer" % v)
        ip("addr", "add", new_cidr, "dev", DEV, *(["nodad"] if v == 6 else []))
        took = within_a_second(lambda: t.permit(new) == 403)
        check(took is not None, "IPv%d: %s added to %s at run time is refused with 403 within a "
              "second (%s)" % (v, new, DEV, "%.3f s" % took if took is not None else "no"))
        local = udp_socket(new, 5000)
        t.send(new, 5000, b"leak-send")
        t.channel_data(0x4002, b"leak-channel")
        t.send(far, 4000, b"after")
        check(received(peer, 2) == [b"after"], "IPv%d: Send to the far peer still relays" % v)
        check(received(local, 0.3) == [], "IPv%d: Send and ChannelData to the new host address "
              "no longer relay (permission and channel gone)" % v)
        check(t.bind(0x4002, new, 5000) == 403, "IPv%d: ChannelBind to it gets 403" % v)
        ip("addr", "del", new_cidr, "dev", DEV)
        took = within_a_second(lambda: t.permit(new) == 0)
        check(took is not None, "IPv%d: once removed from %s it is a peer again within a second"
              % (v, DEV))
        local.close()
        peer.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
