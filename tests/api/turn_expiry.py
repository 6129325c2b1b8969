#!/usr/bin/python3
"""Relays until the credential runs out, for the --strict-expiry test: Allocate over UDP with an
ephemeral credential "<expiry>:<AccountSid>", CreatePermission for a local peer socket, then the
peer sends a datagram to the relayed address every 50 ms, stamped with its send time, until 2 s
past the expiry. Data indications that come back tell when relaying stopped.

usage: turn_expiry.py HOST PORT USERNAME PASSWORD
Prints "expiry=E first=F last=L received=N" (unix seconds, F and L the send times of the first
and last datagram relayed; L is 0 when none was). Exits 2 when the TURN setup fails.
"""
import hashlib
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from turn_alloc import (A_NONCE, A_REALM, A_REQ_TRANSPORT, A_USERNAME, A_XOR_RELAYED, ALLOCATE,
                        MAGIC, TurnFailure, attr, error_of, message, transact, xor_addr)

CREATE_PERMISSION, DATA_INDICATION = 0x008, 0x017
A_XOR_PEER, A_DATA = 0x0012, 0x0013


def xor_peer(ip, port):
    raw = socket.inet_aton(ip)
    x = struct.unpack("!I", raw)[0] ^ MAGIC
    return attr(A_XOR_PEER, struct.pack("!BBHI", 0, 1, port ^ (MAGIC >> 16), x))


def setup(sock, addr, user, password, peer_port):
    transport = attr(A_REQ_TRANSPORT, bytes([17, 0, 0, 0]))
    msg, tid = message(ALLOCATE, [transport])
    mtype, attrs = transact(sock, addr, msg, tid)
    if mtype != 0x113 or A_NONCE not in attrs:
        raise TurnFailure("no challenge")
    realm, nonce = attrs[A_REALM], attrs[A_NONCE]
    key = hashlib.md5(user.encode() + b":" + realm + b":" + password.encode()).digest()
    auth = [attr(A_USERNAME, user.encode()), attr(A_REALM, realm), attr(A_NONCE, nonce)]
    msg, tid = message(ALLOCATE, [transport] + auth, key)
    mtype, attrs = transact(sock, addr, msg, tid)
    if mtype != 0x103:
        raise TurnFailure("Allocate failed: %s" % (error_of(attrs),))
    relay = xor_addr(attrs[A_XOR_RELAYED])
    msg, tid = message(CREATE_PERMISSION, [xor_peer("127.0.0.1", peer_port)] + auth, key)
    mtype, attrs = transact(sock, addr, msg, tid)
    if mtype != 0x108:
        raise TurnFailure("CreatePermission failed: %s" % (error_of(attrs),))
    host, port = relay.rsplit(":", 1)
    return host, int(port)


def main():
    addr = (sys.argv[1], int(sys.argv[2]))
    user, password = sys.argv[3], sys.argv[4]
    expiry = int(user.split(":", 1)[0])
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(0.5)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    try:
        relay = setup(client, addr, user, password, peer.getsockname()[1])
    except TurnFailure as e:
        print(e)
        sys.exit(2)
    client.settimeout(0.01)
    first = last = 0.0
    received = 0
    deadline = expiry + 2.0
    while time.time() < deadline:  # bounded: at most (expiry + 2 - now) / 0.05 rounds
        peer.sendto(struct.pack("!d", time.time()), relay)
        end = time.time() + 0.05
        while time.time() < end:
            try:
                data, _ = client.recvfrom(2048)
            except socket.timeout:
                continue
            if len(data) < 20 or struct.unpack("!H", data[:2])[0] != DATA_INDICATION:
                continue
            off = 20
            while off + 4 <= len(data):
                t, n = struct.unpack("!HH", data[off:off + 4])
                if t == A_DATA and n == 8:
                    sent = struct.unpack("!d", data[off + 4:off + 12])[0]
                    first = first or sent
                    last = max(last, sent)
                    received += 1
                off += 4 + n + (4 - n % 4) % 4
    print("expiry=%d first=%.3f last=%.3f received=%d" % (expiry, first, last, received))


if __name__ == "__main__":
    main()
