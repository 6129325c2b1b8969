#!/usr/bin/python3
"""Stream limits of TURN over TCP and TLS: a client that never reads while its peer floods
is disconnected and its allocation removed, with ntsd's memory bounded; connections that go silent
without closing (what a half-open connection looks like to the server) are closed by the idle
timeout, and an allocation on one goes when its lifetime ends.

usage: stream_limits.py HOST TCP_PORT TLS_PORT USER PASSWORD NTSD_PID
ntsd must run with --tcp-idle-timeout 2, --default-lifetime 20 and --max-lifetime 20.
Prints one line per check: "ok - what" or "not ok - what" (the caller numbers them).
"""
import os
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from turn_stream_client import (A_PEER, A_RELAYED, A_TRANSPORT, ALLOCATE,  # noqa: E402
                                CREATE_PERMISSION, Turn, attr, unxor_addr, xor_addr)

HOST, PORT, TLS_PORT, USER, PASSWORD, NTSD_PID = (sys.argv[1], int(sys.argv[2]),
                                                  int(sys.argv[3]), sys.argv[4], sys.argv[5],
                                                  int(sys.argv[6]))
LIFETIME = 20  # --default-lifetime and --max-lifetime of the caller
failed = 0


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    failed += 0 if cond else 1
    return cond


def rss_kib():
    with open(f"/proc/{NTSD_PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def udp_allocation(tls, rcvbuf=0):
    """A UDP relay allocated over TCP or TLS with a permission for 127.0.0.1: (client, relay)."""
    c = Turn(HOST, TLS_PORT if tls else PORT, USER, PASSWORD, tls=tls, rcvbuf=rcvbuf)
    code, a = c.request(ALLOCATE, [attr(A_TRANSPORT, bytes([17, 0, 0, 0]))])
    relay = unxor_addr(a[A_RELAYED]) if code == 0 else None
    code2, _ = c.request(CREATE_PERMISSION, [attr(A_PEER, xor_addr("127.0.0.1", 0))])
    return c, relay if code2 == 0 else None


def ended(s, timeout):
    """True when the server closes s (EOF or reset) within timeout seconds; drains what it sent."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError) as e:
        return not isinstance(e, socket.timeout)


def flood_until_relay_closes(relay, limit):
    """Sends 1000-byte datagrams to relay until the port is refused (ICMP: the allocation is
    gone); returns how many were sent, or None when it never closed within limit datagrams."""
    p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    p.bind(("127.0.0.1", 0))
    p.connect(relay)
    payload = os.urandom(1000)
    for i in range(limit):
        try:
            p.send(payload)
        except ConnectionRefusedError:
            return i
        if i % 256 == 255:
            time.sleep(0.002)  # let ntsd's loop run; the count, not the time, bounds the loop
    return None


for tls in (False, True):
    name = "TLS" if tls else "TCP"
    c, relay = udp_allocation(tls, rcvbuf=4096)
    check(relay is not None, f"{name}: a UDP relay allocation with a permission")
    rss0, t0 = rss_kib(), time.monotonic()
    sent = flood_until_relay_closes(relay, 400000) if relay else None
    grown, took = rss_kib() - rss0, time.monotonic() - t0
    # Within the lifetime: the allocation must go because the client is slow, not expire.
    check(sent is not None and took < LIFETIME - 2,
          f"{name}: a client that never reads while its peer floods loses its allocation "
          f"(relay closed after {sent} datagrams, {took:.1f} s)")
    check(grown < 8192, f"{name}: ntsd's memory stays bounded meanwhile (grew {grown} KiB)")
    check(ended(c.s, 10), f"{name}: the slow client's connection is closed")

# Silent connections without TURN: the idle timeout (2 s) closes them.
s = socket.create_connection((HOST, PORT), timeout=10)
s.sendall(struct.pack("!HHI", 0x0001, 8, 0x2112A442)[:6])  # half a header, then nothing
check(ended(s, 30), "TCP: a connection that goes silent mid-message is closed by the idle timeout")
s = socket.create_connection((HOST, TLS_PORT), timeout=10)
check(ended(s, 30), "TLS: a connection that never starts its handshake is closed by the idle timeout")

# An allocation on a connection that goes silent (RFC 8656 §3.1, §7): closing the connection would
# delete the allocation, so the idle timeout (2 s) must not apply to it: it goes with its lifetime,
# not before.
quiet, quiet_relay = udp_allocation(False)
quiet_start = time.monotonic()
if quiet_relay:
    ok = ended(quiet.s, 2 * LIFETIME + 5)
    waited = time.monotonic() - quiet_start
    check(ok, f"TCP: a silent connection with an allocation is closed after its lifetime "
          f"({waited:.0f} s)")
    check(waited >= LIFETIME - 1, f"TCP: that connection outlived the idle timeout until the "
          f"allocation's lifetime ran out ({waited:.1f} s, lifetime {LIFETIME} s)")
    check(flood_until_relay_closes(quiet_relay, 1000) is not None,
          "TCP: that allocation is gone (its relay port is closed)")
else:
    check(False, "TCP: an allocation for the silent-connection check")
sys.exit(1 if failed else 0)
