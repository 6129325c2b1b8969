"""A small STUN/TURN client for the interop tests, written from RFC 8489/8656/6062: messages over
TCP, TLS (unverified: test certificates) or UDP, long-term credentials, indications kept aside.
Imported by turn_tcp_relay.py and stream_limits.py.
"""
import hashlib
import hmac
import os
import socket
import ssl
import struct
import time

MAGIC = 0x2112A442
ALLOCATE, REFRESH, CREATE_PERMISSION, CONNECT, CONNECTION_BIND, CONNECTION_ATTEMPT = (
    0x003, 0x004, 0x008, 0x00A, 0x00B, 0x00C)
REQUEST, INDICATION, SUCCESS, ERROR = 0x000, 0x010, 0x100, 0x110
A_USERNAME, A_MI, A_ERROR, A_LIFETIME, A_PEER, A_REALM, A_NONCE, A_RELAYED = (
    0x0006, 0x0008, 0x0009, 0x000D, 0x0012, 0x0014, 0x0015, 0x0016)
A_TRANSPORT, A_CONNECTION_ID = 0x0019, 0x002A


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def xor_addr(host, port):
    ip = struct.unpack("!I", socket.inet_aton(host))[0] ^ MAGIC
    return struct.pack("!BBHI", 0, 1, port ^ (MAGIC >> 16), ip)


def unxor_addr(v):
    port = struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
    ip = struct.unpack("!I", v[4:8])[0] ^ MAGIC
    return socket.inet_ntoa(struct.pack("!I", ip)), port


class Turn:
    """One client connection speaking STUN (TCP framing, or UDP datagrams)."""

    def __init__(self, host, port, user, password, udp=False, tls=False, rcvbuf=0, source=None):
        self.udp, self.user, self.password = udp, user, password
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if udp:
            self.s = socket.socket(family, socket.SOCK_DGRAM)
            self.s.connect((host, port))
        else:
            self.s = socket.socket(family, socket.SOCK_STREAM)
            if source:
                self.s.bind((source, 0))
            if rcvbuf:
                self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.s.settimeout(10)
            self.s.connect((host, port))
            if tls:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                self.s = ctx.wrap_socket(self.s)
        self.s.settimeout(10)
        self.buf = b""
        self.realm = self.nonce = self.key = None
        self.indications = []

    def read_msg(self):
        if self.udp:
            return self.s.recv(65536)
        while True:
            if len(self.buf) >= 20:
                n = 20 + struct.unpack("!H", self.buf[2:4])[0]
                if len(self.buf) >= n:
                    m, self.buf = self.buf[:n], self.buf[n:]
                    return m
            d = self.s.recv(65536)
            if not d:
                raise EOFError("server closed the connection")
            self.buf += d

    def build(self, method, attrs, tid, auth):
        body = b"".join(attrs)
        if auth and self.key:
            body += attr(A_USERNAME, self.user.encode()) + attr(A_REALM, self.realm) + \
                attr(A_NONCE, self.nonce)
            head = struct.pack("!HHI", method, len(body) + 24, MAGIC) + tid
            body += attr(A_MI, hmac.new(self.key, head + body, hashlib.sha1).digest())
        return struct.pack("!HHI", method, len(body), MAGIC) + tid + body

    def exchange(self, method, attrs, auth):
        tid = os.urandom(12)
        self.s.sendall(self.build(method, attrs, tid, auth))
        while True:
            m = self.read_msg()
            mtype, length = struct.unpack("!HH", m[:4])
            a, off = {}, 20
            while off + 4 <= 20 + length:
                t, n = struct.unpack("!HH", m[off:off + 4])
                a.setdefault(t, m[off + 4:off + 4 + n])
                off += 4 + n + (4 - n % 4) % 4
            if m[8:20] != tid:
                self.indications.append((mtype, a))
                continue
            code = 0
            if A_ERROR in a:
                code = a[A_ERROR][2] * 100 + a[A_ERROR][3]
            return mtype & 0x110, code, a

    def request(self, method, attrs=()):
        cls, code, a = self.exchange(method, list(attrs), True)
        if code in (401, 438):
            self.realm, self.nonce = a[A_REALM], a[A_NONCE]
            self.key = hashlib.md5(self.user.encode() + b":" + self.realm + b":" +
                                   self.password.encode()).digest()
            cls, code, a = self.exchange(method, list(attrs), True)
        return code, a

    def allocate_tcp(self):
        code, a = self.request(ALLOCATE, [attr(A_TRANSPORT, bytes([6, 0, 0, 0]))])
        return code, (unxor_addr(a[A_RELAYED]) if A_RELAYED in a else None)

    def wait_indication(self, method):
        """Reads until an indication of method arrives (Refresh requests flush the pipe)."""
        for _ in range(20):
            for i, (mtype, a) in enumerate(self.indications):
                if mtype == (method | INDICATION):
                    del self.indications[i]
                    return a
            self.request(REFRESH, [attr(A_LIFETIME, struct.pack("!I", 600))])
            time.sleep(0.05)
        return None
