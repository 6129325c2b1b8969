#!/usr/bin/python3
"""Allocate over UDP with long-term credentials, reporting a 300 Try Alternate (RFC 8489 §10):

usage: turn_redirect.py HOST PORT USERNAME PASSWORD
Prints "ok RELAY" (and releases the allocation) and exits 0 when allocated; prints
"redirect IP:PORT signed" (or "unsigned") and exits 3 for a 300 with ALTERNATE-SERVER (§14.15),
checking its MESSAGE-INTEGRITY; "error CODE REASON" and exits 1 for another error; exits 2 on other
failures.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import turn_alloc as t  # noqa: E402

A_ALTERNATE_SERVER = 0x8023


def plain_addr(v):
    port = struct.unpack("!H", v[2:4])[0]
    return "%s:%d" % (socket.inet_ntoa(v[4:8]), port)


def integrity_ok(data, key):
    """RFC 8489 §14.5: HMAC-SHA1 over the message up to MESSAGE-INTEGRITY, length adjusted."""
    off = 20
    length = struct.unpack("!H", data[2:4])[0]
    while off + 4 <= 20 + length:
        typ, n = struct.unpack("!HH", data[off:off + 4])
        if typ == t.A_MI:
            head = data[:2] + struct.pack("!H", off - 20 + 24) + data[4:20]
            mac = hmac.new(key, head + data[20:off], hashlib.sha1).digest()
            return hmac.compare_digest(mac, data[off + 4:off + 24])
        off += 4 + n + (4 - n % 4) % 4
    return False


def main():
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    addr = (host, port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.5)
    transport = t.attr(t.A_REQ_TRANSPORT, bytes([17, 0, 0, 0]))
    try:
        msg, tid = t.message(t.ALLOCATE, [transport])
        mtype, attrs = t.transact(sock, addr, msg, tid)
        if mtype != 0x113 or t.error_of(attrs)[0] != 401 or t.A_NONCE not in attrs:
            raise t.TurnFailure("unexpected first answer 0x%x" % mtype)
        realm, nonce = attrs[t.A_REALM], attrs[t.A_NONCE]
        key = hashlib.md5(user.encode() + b":" + realm + b":" + password.encode()).digest()
        auth = [t.attr(t.A_USERNAME, user.encode()), t.attr(t.A_REALM, realm),
                t.attr(t.A_NONCE, nonce)]
        msg, tid = t.message(t.ALLOCATE, [transport] + auth, key)
        for _ in range(5):
            sock.sendto(msg, addr)
            try:
                data, _ = sock.recvfrom(2048)
            except socket.timeout:
                continue
            mtype, attrs = t.parse(data, tid)
            if mtype is not None:
                break
        else:
            raise t.TurnFailure("no answer")
        if mtype == 0x113:
            code, reason = t.error_of(attrs)
            if code == 300 and A_ALTERNATE_SERVER in attrs:
                print("redirect %s %s" % (plain_addr(attrs[A_ALTERNATE_SERVER]),
                                          "signed" if integrity_ok(data, key) else "unsigned"))
                sys.exit(3)
            print("error %d %s" % (code, reason))
            sys.exit(1)
        if mtype != 0x103 or t.A_XOR_RELAYED not in attrs:
            raise t.TurnFailure("unexpected answer 0x%x" % mtype)
        print("ok %s" % t.xor_addr(attrs[t.A_XOR_RELAYED]))
        msg, tid = t.message(t.REFRESH, [t.attr(t.A_LIFETIME, struct.pack("!I", 0))] + auth, key)
        t.transact(sock, addr, msg, tid)
    except t.TurnFailure as e:
        print(e)
        sys.exit(2)
    finally:
        sock.close()


if __name__ == "__main__":
    main()
