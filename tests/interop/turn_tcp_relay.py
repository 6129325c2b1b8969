#!/usr/bin/python3
"""RFC 6062 checks against ntsd with a client written from the RFC: TCP allocations,
Connect (success, 446, 447, 403), ConnectionAttempt with and without permission, ConnectionBind
(success, unknown id), byte-exact relaying both ways, backpressure with bounded memory, closing
either side, deleting the allocation, and the ConnectionBind deadline (30 s unless told).

usage: turn_tcp_relay.py HOST PORT USER PASSWORD NTSD_PID [TLS_PORT [BIND_TIMEOUT]]
With TLS_PORT, a TCP allocation made over TLS also relays through TLS data connections, in both
directions of backpressure.
Prints one line per check: "ok - what" or "not ok - what" (the caller numbers them).
"""
import os
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from turn_stream_client import (A_CONNECTION_ID, A_LIFETIME, A_PEER, CONNECT,  # noqa: E402
                                CONNECTION_ATTEMPT, CONNECTION_BIND, CREATE_PERMISSION, REFRESH,
                                Turn as _Turn, attr, unxor_addr, xor_addr)

HOST, PORT, USER, PASSWORD, NTSD_PID = (sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4],
                                        int(sys.argv[5]))
TLS_PORT = int(sys.argv[6]) if len(sys.argv) > 6 else 0
BIND_TIMEOUT = int(sys.argv[7]) if len(sys.argv) > 7 else 30
failed = 0


def Turn(udp=False, tls=False):
    return _Turn(HOST, TLS_PORT if tls else PORT, USER, PASSWORD, udp=udp, tls=tls)


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    failed += 0 if cond else 1
    return cond


def bind(conn_id, tls=False):
    """A new client data connection bound to conn_id: (code, Turn)."""
    d = Turn(tls=tls)
    code, _ = d.request(CONNECTION_BIND, [attr(A_CONNECTION_ID, struct.pack("!I", conn_id))])
    return code, d


def recv_exact(s, n):
    out = bytearray()
    s.settimeout(20)
    while len(out) < n:
        d = s.recv(min(65536, n - len(out)))
        if not d:
            break
        out += d
    return bytes(out)


def relay_both_ways(data_conn, peer, size):
    """size random bytes each way at once; True when both arrive intact. Bytes the data connection
    read with its ConnectionBind answer count as relayed data (RFC 6062 §5.4)."""
    up, down = os.urandom(size), os.urandom(size)
    got = {}
    t = threading.Thread(target=lambda: got.__setitem__("peer", recv_exact(peer, size)))
    t.start()
    data_conn.s.sendall(up)
    peer.sendall(down)
    early = data_conn.buf
    data_conn.buf = b""
    got["client"] = early + recv_exact(data_conn.s, size - len(early))
    t.join(30)
    return got.get("peer") == up and got.get("client") == down


def closed_by_server(s):
    s.settimeout(10)
    try:
        while s.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def skmem(local, remote):
    """The receive and send buffer limits (bytes, ss -m rb/tb) of the TCP socket local -> remote."""
    out = subprocess.run(["ss", "-tmnH", "src", "%s:%d" % local, "dst", "%s:%d" % remote],
                         capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"rb(\d+),t\d+,tb(\d+)", out)
    return (int(m[1]), int(m[2])) if m else (0, 0)


# What ntsd may hold for one stream besides its sockets: the output queue (NET_STREAM_OUT_MAX in
# user/net/net_priv.h) and one read buffer of the same size.
NTSD_QUEUE_MAX = 2 * 256 * 1024


def peer_listener():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    ls.settimeout(10)
    return ls


# TCP allocations need a TCP or TLS control connection (RFC 6062 §5.1).
u = Turn(udp=True)
code, _ = u.allocate_tcp()
check(code == 400, f"a TCP allocation asked over UDP gets 400 (got {code})")

ctl = Turn()
code, relay = ctl.allocate_tcp()
check(code == 0 and relay is not None, f"a TCP allocation over TCP succeeds (relay {relay})")

# Active: Connect, the peer sees the relayed address, ConnectionBind, bytes both ways.
ls = peer_listener()
code, a = ctl.request(CONNECT, [attr(A_PEER, xor_addr(*ls.getsockname()))])
peer, src = ls.accept()
check(code == 0 and src == relay,
      f"Connect reaches the peer from the relayed address (from {src}, relay {relay})")
code, data = bind(struct.unpack("!I", a[A_CONNECTION_ID])[0])
check(code == 0, f"ConnectionBind on a new connection succeeds (got {code})")
check(relay_both_ways(data, peer, 1 << 20), "1 MiB each way relays byte for byte (Connect)")
code, _ = ctl.request(CONNECT, [attr(A_PEER, xor_addr(*ls.getsockname()))])
check(code == 446, f"a second Connect to the same peer gets 446 (got {code})")
free = peer_listener()
free_addr = free.getsockname()
free.close()
code, _ = ctl.request(CONNECT, [attr(A_PEER, xor_addr(*free_addr))])
check(code == 447, f"Connect to a closed port gets 447 (got {code})")
code, _ = ctl.request(CONNECT, [attr(A_PEER, xor_addr("169.254.10.10", 80))])
check(code == 403, f"Connect to a peer the policy denies gets 403 (got {code})")
code, _ = bind(0x12345678)
check(code == 400, f"ConnectionBind with an unknown CONNECTION-ID gets 400 (got {code})")

# Closing the client data connection closes the peer's (§5.5).
data.s.close()
check(closed_by_server(peer), "closing the client data connection closes the peer connection")

# Passive: a peer connects in; it needs a permission, then ConnectionAttempt, then the bind.
nope = socket.create_connection(relay, timeout=10)
check(closed_by_server(nope), "a peer without a permission is disconnected")
check(ctl.wait_indication(CONNECTION_ATTEMPT) is None,
      "no ConnectionAttempt for a peer without a permission")
code, _ = ctl.request(CREATE_PERMISSION, [attr(A_PEER, xor_addr("127.0.0.1", 0))])
check(code == 0, f"CreatePermission on a TCP allocation succeeds (got {code})")
peer = socket.create_connection(relay, timeout=10)
peer.sendall(b"sent before the bind")
ind = ctl.wait_indication(CONNECTION_ATTEMPT)
ok = ind is not None and A_CONNECTION_ID in ind and \
    unxor_addr(ind.get(A_PEER, b"\0" * 8)) == peer.getsockname()
check(ok, "an incoming peer is announced by ConnectionAttempt with its address")
code, data = bind(struct.unpack("!I", ind[A_CONNECTION_ID])[0]) if ok else (-1, None)
check(code == 0, f"ConnectionBind for the incoming peer succeeds (got {code})")
if data:
    early = data.buf + recv_exact(data.s, 20 - len(data.buf))
    data.buf = b""
    check(early == b"sent before the bind", "what the peer sent before the bind is delivered")
    check(relay_both_ways(data, peer, 1 << 20), "1 MiB each way relays byte for byte (incoming)")

    # Backpressure: the peer pushes while the client does not read; ntsd stops reading the peer
    # instead of buffering, then everything arrives once the client reads.
    rss0 = rss_kib(NTSD_PID)
    peer.setblocking(False)
    pushed, chunk = bytearray(), os.urandom(65536)
    for _ in range(2000):
        try:
            n = peer.send(chunk)
            pushed += chunk[:n]
        except BlockingIOError:
            if not select.select([], [peer], [], 0.5)[1]:
                break
    # Held back means: no more than the four socket buffers on the way (peer send, ntsd's receive
    # from the peer, ntsd's send to the client, client receive) and ntsd's own bounded queue.
    p_local, n_local = peer.getsockname(), data.s.getpeername()
    bound = (skmem(p_local, peer.getpeername())[1] + skmem(peer.getpeername(), p_local)[0] +
             skmem(n_local, data.s.getsockname())[1] + skmem(data.s.getsockname(), n_local)[0] +
             NTSD_QUEUE_MAX)
    grown = rss_kib(NTSD_PID) - rss0
    check(len(pushed) <= bound, "a peer flooding a client that does not read is held back "
          f"({len(pushed)} B, at most {bound} B fit in the socket buffers and ntsd's queue)")
    check(grown < 4096, f"ntsd's memory stays bounded meanwhile (grew {grown} KiB)")
    peer.setblocking(True)
    check(recv_exact(data.s, len(pushed)) == bytes(pushed),
          "once the client reads, every byte arrives in order")

    # The peer closing closes the client data connection (§5.5).
    peer.close()
    check(closed_by_server(data.s), "the peer closing closes the client data connection")

# Deleting the allocation closes its data connections (§5.5).
ls2 = peer_listener()
code, a = ctl.request(CONNECT, [attr(A_PEER, xor_addr(*ls2.getsockname()))])
p2 = ls2.accept()[0]
code, d2 = bind(struct.unpack("!I", a[A_CONNECTION_ID])[0])
code, _ = ctl.request(REFRESH, [attr(A_LIFETIME, struct.pack("!I", 0))])
check(code == 0 and closed_by_server(p2) and closed_by_server(d2.s),
      "deleting the allocation closes its peer and client data connections")

# Over TLS: control and data connections through ntsd's TLS layer, and backpressure towards a
# peer that does not read (the client is paused with bytes already decrypted in its TLS layer).
if TLS_PORT:
    tctl = Turn(tls=True)
    code, trelay = tctl.allocate_tcp()
    check(code == 0, f"TLS: a TCP allocation over TLS succeeds (got {code})")
    ls3 = peer_listener()
    code, a = tctl.request(CONNECT, [attr(A_PEER, xor_addr(*ls3.getsockname()))])
    p3 = ls3.accept()[0]
    code, d3 = bind(struct.unpack("!I", a[A_CONNECTION_ID])[0], tls=True) if code == 0 else \
        (code, None)
    check(code == 0, f"TLS: Connect and ConnectionBind over TLS succeed (got {code})")
    if d3:
        check(relay_both_ways(d3, p3, 1 << 20), "TLS: 1 MiB each way relays byte for byte")
        # More than the kernel buffers between ntsd and the peer hold, so ntsd must pause the
        # client until the peer reads.
        blob = os.urandom(32 << 20)
        d3.s.settimeout(60)
        t = threading.Thread(target=lambda: d3.s.sendall(blob))
        t.start()
        time.sleep(1)  # the peer does not read meanwhile
        got = recv_exact(p3, len(blob))
        t.join(60)
        check(got == blob, f"TLS: 32 MiB to a peer that reads late arrive whole "
              f"({len(got)} of {len(blob)} bytes)")

# The ConnectionBind deadline (§5.2): a Connect nobody binds; the peer connection is dropped
# BIND_TIMEOUT s (ntsd's --tcp-connect-timeout, the RFC's 30 s by default) after Connect succeeded,
# not before and not much later.
late_ctl = Turn()
late_ctl.allocate_tcp()
late_ls = peer_listener()
code, a = late_ctl.request(CONNECT, [attr(A_PEER, xor_addr(*late_ls.getsockname()))])
late_peer = late_ls.accept()[0] if code == 0 else None
late_start = time.monotonic()
check(code == 0 and A_CONNECTION_ID in a, f"Connect to a listening peer succeeds (got {code})")
if late_peer:
    late_peer.settimeout(BIND_TIMEOUT + 15)
    try:
        gone = late_peer.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        gone = False
    waited = time.monotonic() - late_start
    check(gone and BIND_TIMEOUT - 1 <= waited <= BIND_TIMEOUT + 5,
          f"a peer connection never bound is closed after {BIND_TIMEOUT} s ({waited:.1f} s)")
sys.exit(1 if failed else 0)
