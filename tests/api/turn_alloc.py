#!/usr/bin/python3
"""Minimal TURN client for the API tests: Allocate over UDP with long-term credentials
(RFC 8656 §7.1, RFC 8489 §9.2), then Refresh with lifetime 0 to release the allocation.

usage: turn_alloc.py HOST PORT USERNAME PASSWORD
Prints "ok RELAY-ADDR" and exits 0 on success; prints "error CODE REASON" and exits 1 when the
authenticated Allocate is refused (e.g. 401 for expired credentials); exits 2 on other failures.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys

MAGIC = 0x2112A442
ALLOCATE, REFRESH = 0x003, 0x004
A_USERNAME, A_MI, A_ERROR, A_REALM, A_NONCE = 0x0006, 0x0008, 0x0009, 0x0014, 0x0015
A_LIFETIME, A_REQ_TRANSPORT, A_XOR_RELAYED = 0x000D, 0x0019, 0x0016


def attr(t, v):
    pad = (4 - len(v) % 4) % 4
    return struct.pack("!HH", t, len(v)) + v + b"\0" * pad


def message(method, attrs, key=None):
    tid = os.urandom(12)
    body = b"".join(attrs)
    if key is not None:
        # RFC 8489 §14.5: the length covers MESSAGE-INTEGRITY when the HMAC is computed.
        head = struct.pack("!HHI", method, len(body) + 24, MAGIC) + tid
        mac = hmac.new(key, head + body, hashlib.sha1).digest()
        body += attr(A_MI, mac)
    return struct.pack("!HHI", method, len(body), MAGIC) + tid + body, tid


def parse(data, tid):
    mtype, length, magic = struct.unpack("!HHI", data[:8])
    if magic != MAGIC or data[8:20] != tid:
        return None, {}
    attrs, off = {}, 20
    while off + 4 <= 20 + length:
        t, n = struct.unpack("!HH", data[off:off + 4])
        attrs.setdefault(t, data[off + 4:off + 4 + n])
        off += 4 + n + (4 - n % 4) % 4
    return mtype, attrs


def xor_addr(v):
    port = struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
    ip = struct.unpack("!I", v[4:8])[0] ^ MAGIC
    return "%s:%d" % (socket.inet_ntoa(struct.pack("!I", ip)), port)


class TurnFailure(Exception):
    pass


def transact(sock, addr, msg, tid):
    for _ in range(5):  # bounded retransmissions (RFC 8489 §6.2.1, shortened)
        sock.sendto(msg, addr)
        try:
            while True:
                data, _ = sock.recvfrom(2048)
                mtype, attrs = parse(data, tid)
                if mtype is not None:
                    return mtype, attrs
        except socket.timeout:
            continue
    raise TurnFailure("no answer from %s:%d" % addr)


def error_of(attrs):
    v = attrs.get(A_ERROR, b"\0\0\0\0")
    return (v[2] & 7) * 100 + v[3], v[4:].decode("utf-8", "replace")


def allocate(host, port, user, password):
    """Allocates and releases a relay. Returns (0, relay) or (error code, reason)."""
    addr = (host, port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.5)
    transport = attr(A_REQ_TRANSPORT, bytes([17, 0, 0, 0]))
    try:
        msg, tid = message(ALLOCATE, [transport])
        mtype, attrs = transact(sock, addr, msg, tid)
        if mtype != 0x113 or error_of(attrs)[0] != 401 or A_NONCE not in attrs:
            raise TurnFailure("unexpected first answer 0x%x %s" % (mtype, error_of(attrs)))
        realm, nonce = attrs[A_REALM], attrs[A_NONCE]
        key = hashlib.md5(user.encode() + b":" + realm + b":" + password.encode()).digest()
        auth = [attr(A_USERNAME, user.encode()), attr(A_REALM, realm), attr(A_NONCE, nonce)]

        msg, tid = message(ALLOCATE, [transport] + auth, key)
        mtype, attrs = transact(sock, addr, msg, tid)
        if mtype == 0x113:
            return error_of(attrs)
        if mtype != 0x103 or A_XOR_RELAYED not in attrs:
            raise TurnFailure("unexpected answer 0x%x" % mtype)
        relay = xor_addr(attrs[A_XOR_RELAYED])
        # Release the allocation (RFC 8656 §7.2: Refresh with LIFETIME 0).
        msg, tid = message(REFRESH, [attr(A_LIFETIME, struct.pack("!I", 0))] + auth, key)
        transact(sock, addr, msg, tid)
        return 0, relay
    finally:
        sock.close()


def main():
    try:
        code, text = allocate(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
    except TurnFailure as e:
        print(e)
        sys.exit(2)
    if code:
        print("error %d %s" % (code, text))
        sys.exit(1)
    print("ok %s" % text)


if __name__ == "__main__":
    main()
