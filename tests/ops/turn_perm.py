#!/usr/bin/python3
"""Allocate over UDP with long-term credentials, then CreatePermission for one peer (RFC 8656
§9.1), then release the allocation. Reuses the API tests' minimal client (tests/api/turn_alloc.py).

usage: turn_perm.py HOST PORT USERNAME PASSWORD PEER-IPV4|second
Prints "ok" when the permission is granted; "error CODE REASON" (exit 1) when the Allocate or the
CreatePermission is refused; exits 2 on other failures. With "second" instead of a peer, a second
allocation for the same user is requested from another socket while the first is held, and its
outcome printed the same way (a per-user limit of 1 answers 486).
"""
import hashlib
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import turn_alloc as t  # noqa: E402

CREATE_PERMISSION, A_XOR_PEER = 0x008, 0x0012


def xor_peer(ip):
    raw = struct.unpack("!I", socket.inet_aton(ip))[0] ^ t.MAGIC
    return t.attr(A_XOR_PEER, struct.pack("!BBHI", 0, 1, 9 ^ (t.MAGIC >> 16), raw))


def main():
    host, port, user, password, peer = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
    addr = (host, port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.5)
    transport = t.attr(t.A_REQ_TRANSPORT, bytes([17, 0, 0, 0]))
    try:
        msg, tid = t.message(t.ALLOCATE, [transport])
        mtype, attrs = t.transact(sock, addr, msg, tid)
        realm, nonce = attrs[t.A_REALM], attrs[t.A_NONCE]
        key = hashlib.md5(user.encode() + b":" + realm + b":" + password.encode()).digest()
        auth = [t.attr(t.A_USERNAME, user.encode()), t.attr(t.A_REALM, realm),
                t.attr(t.A_NONCE, nonce)]
        msg, tid = t.message(t.ALLOCATE, [transport] + auth, key)
        mtype, attrs = t.transact(sock, addr, msg, tid)
        if mtype != 0x103:
            print("error %d %s" % t.error_of(attrs))
            sys.exit(1)
        if peer == "second":
            code, text = t.allocate(host, port, user, password)
        else:
            msg, tid = t.message(CREATE_PERMISSION, [xor_peer(peer)] + auth, key)
            mtype, attrs = t.transact(sock, addr, msg, tid)
            code = 0 if mtype == 0x108 else t.error_of(attrs)[0]
            text = "" if mtype == 0x108 else t.error_of(attrs)[1]
        msg, tid = t.message(t.REFRESH, [t.attr(t.A_LIFETIME, struct.pack("!I", 0))] + auth, key)
        t.transact(sock, addr, msg, tid)
    except t.TurnFailure as e:
        print(e)
        sys.exit(2)
    finally:
        sock.close()
    if code:
        print("error %d %s" % (code, text))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
