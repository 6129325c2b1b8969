#!/usr/bin/python3
"""Unauthenticated streams cannot hold the TCP/TLS service. Run inside a namespace where ntsd
listens on SERVER4 and SERVER6 (TCP and TLS) with --auth-timeout 2, --max-tcp-per-source 64 and
--max-tcp-connections 200. For each family and transport, one attacker source (an IPv4 address, or
four addresses of one IPv6 /64) tries to open ATTEMPTS idle connections (TLS ones never finish the
handshake); then a client from another source must still allocate, the attacker's connections must
be gone within the deadline, and the client's stream, which owns an allocation, must outlive it.

usage: stream_deadline.py SERVER4 SERVER6 TCP_PORT TLS_PORT USER PASSWORD ATTACKER4 LEGIT4
       ATTACKER6_1,ATTACKER6_2,... LEGIT6
Prints "ok - what" / "not ok - what" per check (the caller numbers them).
"""
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from turn_stream_client import A_LIFETIME, A_TRANSPORT, ALLOCATE, REFRESH, Turn, attr  # noqa

(SERVER4, SERVER6, TCP_PORT, TLS_PORT, USER, PASSWORD, ATTACKER4, LEGIT4, ATTACKERS6,
 LEGIT6) = (sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5],
            sys.argv[6], sys.argv[7], sys.argv[8], sys.argv[9].split(","), sys.argv[10])
ATTEMPTS = 1000
AUTH_TIMEOUT = 2
failed = 0


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    failed += 0 if cond else 1


def closed_by_server(s):
    """True when the server has closed s (readable with EOF or reset)."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(4096) == b""
    except OSError:
        return True


def prune(socks):
    keep = []
    for s in socks:
        if closed_by_server(s):
            s.close()
        else:
            keep.append(s)
    return keep


def flood(server, port, sources, tls):
    """Opens up to ATTEMPTS connections from sources in turn; returns those the server kept."""
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    held = []
    for i in range(ATTEMPTS):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((sources[i % len(sources)], 0))
        s.settimeout(5)
        try:
            s.connect((server, port))
        except OSError:
            s.close()
            continue
        if tls:
            s.send(b"\x16\x03\x01\x00")  # the first bytes of a ClientHello, never finished
        held.append(s)
        if i % 100 == 99:
            time.sleep(0.05)  # let ntsd refuse; then forget what it closed
            held = prune(held)
    time.sleep(0.2)
    return prune(held)


def allocate(server, port, source, tls):
    c = Turn(server, port, USER, PASSWORD, tls=tls, source=source)
    code, _ = c.request(ALLOCATE, [attr(A_TRANSPORT, bytes([17, 0, 0, 0]))])
    return c, code


for fam, server, attackers, legit in (("IPv4", SERVER4, [ATTACKER4], LEGIT4),
                                      ("IPv6", SERVER6, ATTACKERS6, LEGIT6)):
    for tls, port in ((False, TCP_PORT), (True, TLS_PORT)):
        what = "%s %s" % (fam, "TLS" if tls else "TCP")
        t0 = time.monotonic()
        held = flood(server, port, attackers, tls)
        check(len(held) <= 64, "%s: one source (%s) holds at most 64 connections (holds %d)" %
              (what, "one /64" if fam == "IPv6" else "one address", len(held)))
        t_alloc = time.monotonic()
        try:
            client, code = allocate(server, port, legit, tls)
        except (OSError, EOFError) as e:
            client, code = None, str(e)
        check(code == 0, "%s: a client from another source allocates meanwhile (%s)" % (what, code))
        deadline = t0 + AUTH_TIMEOUT + 3  # the deadline, checked each second, plus slack
        while held and time.monotonic() < deadline:
            time.sleep(0.1)
            held = prune(held)
        check(not held, "%s: the idle connections are closed within --auth-timeout (%d left)" %
              (what, len(held)))
        for s in held:
            s.close()
        if client is None:
            continue
        # Past the deadline of a stream that owned nothing, plus the once-a-second check.
        time.sleep(max(0, t_alloc + AUTH_TIMEOUT + 1.5 - time.monotonic()))
        try:
            code, _ = client.request(REFRESH, [attr(A_LIFETIME, struct.pack("!I", 600))])
        except (OSError, EOFError) as e:
            code = str(e)
        check(code == 0, "%s: the stream owning an allocation outlives --auth-timeout (%s)" %
              (what, code))
        client.s.close()
sys.exit(1 if failed else 0)
