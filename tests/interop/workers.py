#!/usr/bin/python3
"""Many UDP clients through ntsd --workers N (docs/architecture.md "Threading model").

usage: workers.py HOST PORT USER PASS NTSCTL CTL_SOCKET CLIENTS QUOTA

Each of CLIENTS clients allocates, binds a channel to an echoing peer here and sends bursts of
numbered ChannelData; every echo must come back, in the order sent (one worker serves a client,
so its datagrams keep their order). Refresh and a second ChannelBind must succeed for every client
(a request reaching another worker would get 437 or 400). ntsctl allocations must list every
allocation once with its worker, more than one worker in use. With --max-allocations-per-user
QUOTA, exactly QUOTA - CLIENTS more allocations succeed and the rest get 486, across workers.
Prints "ok - ..." / "not ok - ..." lines.
"""
import json
import select
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))
from turn_flow import Client, error_of, peer_socket, echo, ALLOCATE, attr, A_REQ_TRANSPORT  # noqa

BURST, ROUNDS, PAYLOAD = 8, 6, 64


def check(ok, what):
    print("%s - %s" % ("ok" if ok else "not ok", what), flush=True)
    return ok


def drain(clients, peer, want, deadline):
    """Echoes at the peer and collects ChannelData at the clients until each has want[i]."""
    got = [[] for _ in clients]
    socks = {c.sock: i for i, c in enumerate(clients)}
    while time.monotonic() < deadline and any(len(g) < w for g, w in zip(got, want)):
        r, _, _ = select.select([peer] + list(socks), [], [], 0.2)
        for s in r:
            if s is peer:
                echo(peer)
                continue
            while True:
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    break
                if len(data) >= 12 and data[0] & 0xC0 == 0x40:
                    got[socks[s]].append(struct.unpack("!I", data[8:12])[0])
    return got


def main():
    host, port, user, pw, ntsctl, ctl = sys.argv[1:7]
    nclients, quota = int(sys.argv[7]), int(sys.argv[8])
    port = int(port)
    peer = peer_socket("127.0.0.1")
    clients, relays, bad = [], set(), []
    for i in range(nclients):
        c = Client(host, port, user, pw)
        try:
            relays.add(c.allocate())
            ok, code = c.channel_bind(0x4000, peer.getsockname())
            if not ok:
                bad.append("client %d ChannelBind %d" % (i, code))
        except RuntimeError as e:
            bad.append("client %d: %s" % (i, e))
        clients.append(c)
    check(not bad and len(relays) == nclients,
          "%d clients allocated and bound a channel, %d distinct relays %s" %
          (nclients, len(relays), "; ".join(bad[:3])))
    for c in clients:
        c.sock.setblocking(False)
    sent = [0] * nclients
    order_ok, total, lost = True, 0, 0
    for _ in range(ROUNDS):
        want = []
        for i, c in enumerate(clients):
            for _ in range(BURST):
                body = struct.pack("!II", i, sent[i]) + b"w" * (PAYLOAD - 8)
                c.sock.sendto(struct.pack("!HH", 0x4000, len(body)) + body, c.addr)
                sent[i] += 1
            want.append(BURST)
        got = drain(clients, peer, want, time.monotonic() + 5)
        for i, g in enumerate(got):
            total += len(g)
            lost += BURST - len(g)
            if g != sorted(g) or len(set(g)) != len(g):
                order_ok = False
    check(lost == 0, "every ChannelData echoed (%d of %d)" % (total, sum(sent)))
    check(order_ok, "each client's ChannelData came back in the order sent")
    for c in clients:
        c.sock.setblocking(True)
    refreshed = sum(1 for c in clients if c.refresh(600)[0])
    peer2 = peer_socket("127.0.0.1")
    rebound = sum(1 for c in clients if c.channel_bind(0x4001, peer2.getsockname())[0])
    check(refreshed == nclients and rebound == nclients,
          "Refresh (%d) and a second ChannelBind (%d) answered by each client's worker" %
          (refreshed, rebound))
    out = subprocess.run([ntsctl, "--ctl-socket", ctl, "allocations", "--json"],
                         capture_output=True, text=True, timeout=10)
    allocs = json.loads(out.stdout).get("allocations", []) if out.returncode == 0 else []
    listed = [a for a in allocs if any(r in relays for r in a.get("relay", []))]
    workers = {a.get("worker") for a in listed}
    check(len(listed) == nclients and None not in workers and len(workers) > 1,
          "ntsctl allocations lists each allocation once with its worker (%d, workers %s)" %
          (len(listed), sorted(w for w in workers if w is not None)))
    ids = {a["id"] for a in listed}
    check(len(ids) == nclients, "allocation ids are unique across workers")
    # The per-user quota holds exactly over all workers.
    extra, ok_extra, refused = [], 0, 0
    for _ in range(quota - nclients + 6):
        c = Client(host, port, user, pw)
        try:
            c.allocate()
            ok_extra += 1
        except RuntimeError as e:
            refused += "486" in str(e)
        extra.append(c)
    check(ok_extra == quota - nclients and refused == 6,
          "--max-allocations-per-user %d holds across workers (%d more allocated, %d got 486)" %
          (quota, ok_extra, refused))
    for c in clients + extra:
        if c.key:
            c.refresh(0)
    out = subprocess.run([ntsctl, "--ctl-socket", ctl, "allocations", "--json"],
                         capture_output=True, text=True, timeout=10)
    left = json.loads(out.stdout).get("allocations", []) if out.returncode == 0 else None
    c = Client(host, port, user, pw)
    try:
        c.allocate()
        again = c.refresh(0)[0]
    except RuntimeError:
        again = False
    check(left == [] and again, "deleted allocations give their quota back on every worker")


if __name__ == "__main__":
    main()
