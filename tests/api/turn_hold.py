#!/usr/bin/python3
"""Holds TURN allocations for the tenancy tests: one Allocate over UDP per credential (each from
its own socket, so each is its own allocation), never released (they live until ntsd stops or
their lifetime ends).

usage: turn_hold.py HOST PORT < CREDENTIALS   (one "USERNAME PASSWORD" per line)
Prints one line per credential ("ok RELAY" or "error CODE REASON"), then
"allocated=N refused486=N other=N".

A new socket may get the port of a socket an earlier run closed while its allocation lives on:
that 5-tuple then answers 437 Allocation Mismatch (RFC 8656 §7.2), which says nothing about the
credential, so the credential is tried again from another socket (at most 5 times).
"""
import hashlib
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from turn_alloc import (A_NONCE, A_REALM, A_REQ_TRANSPORT, A_USERNAME, A_XOR_RELAYED, ALLOCATE,
                        TurnFailure, attr, error_of, message, transact, xor_addr)


def hold(sock, addr, user, password):
    transport = attr(A_REQ_TRANSPORT, bytes([17, 0, 0, 0]))
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
    return 0, xor_addr(attrs[A_XOR_RELAYED])


def main():
    addr = (sys.argv[1], int(sys.argv[2]))
    socks, counts = [], {"allocated": 0, "refused486": 0, "other": 0}
    for line in sys.stdin:
        if not line.strip():
            continue
        user, password = line.split()
        for _ in range(5):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.settimeout(0.5)
            socks.append(sock)  # kept open: the next socket gets another port
            try:
                code, text = hold(sock, addr, user, password)
            except TurnFailure as e:
                code, text = -1, str(e)
            if code != 437:
                break
            print("retry: port %d is another allocation's 5-tuple" % sock.getsockname()[1])
        if code == 0:
            counts["allocated"] += 1
            print("ok %s" % text)
        else:
            counts["refused486" if code == 486 else "other"] += 1
            print("error %d %s" % (code, text))
    print(" ".join("%s=%d" % kv for kv in counts.items()))
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
