#!/usr/bin/python3
"""Usage metering end to end, for tests/api/usage.sh.

usage: usage.py relay HOST PORT USERNAME PASSWORD C2P_COUNT C2P_SIZE P2C_COUNT P2C_SIZE [HOLD]
    Allocates a relay over UDP (RFC 8656 §7), binds a channel to a peer socket of its own on
    loopback (§12), sends C2P_COUNT datagrams of C2P_SIZE bytes through it and has the peer send
    P2C_COUNT datagrams of P2C_SIZE bytes back, in paced bursts that each side receives in full
    before the next, holds the allocation HOLD more seconds (default 0), then releases it
    (Refresh, LIFETIME 0). Prints
    "relayed c2p=BYTES p2c=BYTES" (what the other side received) and exits 0, or exits 1.
usage: usage.py echo HOST PORT USERNAME PASSWORD PEER_HOST PEER_PORT SIZE COUNT [FILE COUNT]...
    Allocates and binds a channel to an echoing peer (turnutils_peer), then in phases sends COUNT
    datagrams of SIZE bytes in paced bursts and receives their echoes; before each later phase it
    waits (at most 60 s) until FILE exists. Never releases the allocation. Prints
    "phase N echoed=COUNT" per phase and exits 0 when every datagram came back.
usage: usage.py api BASE_URL MASTER_SID MASTER_TOKEN SUB_SID MASTER_BYTES SUB_BYTES FIRST_TAP
    Reads the master's Usage Records with Debian's unmodified python3-twilio (only the API
    domain's base URL changes, as tests/api/twilio_client.py does) and checks their megabytes
    against the bytes relayed: the master's own plus its subaccount's (IncludeSubaccounts,
    Twilio's default) or its own only. Prints TAP lines numbered from FIRST_TAP, then "# next N".
"""
import datetime
import decimal
import hashlib
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from turn_alloc import (A_LIFETIME, A_NONCE, A_REALM, A_REQ_TRANSPORT, A_USERNAME,  # noqa: E402
                        A_XOR_RELAYED, ALLOCATE, MAGIC, REFRESH, TurnFailure, attr, error_of,
                        message, transact, xor_addr)

CHANNEL_BIND, A_CHANNEL_NUMBER, A_XOR_PEER = 0x009, 0x000C, 0x0012
CHANNEL = 0x4000
BURST = 20  # datagrams in flight at once: far below any socket buffer


def xor_peer(host, port):
    ip = struct.unpack("!I", socket.inet_aton(host))[0] ^ MAGIC
    return struct.pack("!BBHI", 0, 1, port ^ (MAGIC >> 16), ip)


def recv_bytes(sock, want_count, strip_channel):
    """Receives want_count datagrams (1 s each at most); returns the payload bytes received."""
    got = 0
    for _ in range(want_count):
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        if strip_channel:
            chan, length = struct.unpack("!HH", data[:4])
            if chan != CHANNEL:
                continue
            data = data[4:4 + length]
        got += len(data)
    return got


def allocate_and_bind(client, server, user, password, peer_addr):
    """Allocate (RFC 8656 §7.1) and ChannelBind to peer_addr (§12); returns the relay address
    and the credentials (auth attributes, key) for later requests."""
    transport = attr(A_REQ_TRANSPORT, bytes([17, 0, 0, 0]))
    msg, tid = message(ALLOCATE, [transport])
    mtype, attrs = transact(client, server, msg, tid)
    if mtype != 0x113 or A_NONCE not in attrs:
        raise TurnFailure("no 401 with a nonce")
    realm, nonce = attrs[A_REALM], attrs[A_NONCE]
    key = hashlib.md5(user.encode() + b":" + realm + b":" + password.encode()).digest()
    auth = [attr(A_USERNAME, user.encode()), attr(A_REALM, realm), attr(A_NONCE, nonce)]
    msg, tid = message(ALLOCATE, [transport] + auth, key)
    mtype, attrs = transact(client, server, msg, tid)
    if mtype != 0x103:
        raise TurnFailure("Allocate refused: %s" % (error_of(attrs),))
    rhost, rport = xor_addr(attrs[A_XOR_RELAYED]).split(":")
    bind = [attr(A_CHANNEL_NUMBER, struct.pack("!HH", CHANNEL, 0)),
            attr(A_XOR_PEER, xor_peer(*peer_addr))]
    msg, tid = message(CHANNEL_BIND, bind + auth, key)
    mtype, attrs = transact(client, server, msg, tid)
    if mtype != 0x109:
        raise TurnFailure("ChannelBind refused: %s" % (error_of(attrs),))
    return (rhost, int(rport)), auth, key


def channel_frame(payload):
    frame = struct.pack("!HH", CHANNEL, len(payload)) + payload
    return frame + b"\0" * ((4 - len(frame) % 4) % 4)


def relay(host, port, user, password, c2p_count, c2p_size, p2c_count, p2c_size, hold=0):
    server = (host, port)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(1.0)
    peer.settimeout(1.0)
    peer.bind(("127.0.0.1", 0))
    relay_addr, auth, key = allocate_and_bind(client, server, user, password, peer.getsockname())
    c2p = p2c = 0
    payload = os.urandom(max(c2p_size, p2c_size))
    frame = channel_frame(payload[:c2p_size])
    for start in range(0, c2p_count, BURST):
        n = min(BURST, c2p_count - start)
        for _ in range(n):
            client.sendto(frame, server)
        c2p += recv_bytes(peer, n, False)
    for start in range(0, p2c_count, BURST):
        n = min(BURST, p2c_count - start)
        for _ in range(n):
            peer.sendto(payload[:p2c_size], relay_addr)
        p2c += recv_bytes(client, n, True)
    time.sleep(hold)
    msg, tid = message(REFRESH, [attr(A_LIFETIME, struct.pack("!I", 0))] + auth, key)
    transact(client, server, msg, tid)
    client.close()
    peer.close()
    return c2p, p2c


def echo(host, port, user, password, peer_host, peer_port, size, phases):
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(1.0)
    allocate_and_bind(client, (host, port), user, password, (peer_host, peer_port))
    frame = channel_frame(os.urandom(size))
    ok = True
    for i, (wait_file, count) in enumerate(phases):
        for _ in range(600):  # bounded: 60 s
            if not wait_file or os.path.exists(wait_file):
                break
            time.sleep(0.1)
        got = 0
        for start in range(0, count, BURST):
            n = min(BURST, count - start)
            for _ in range(n):
                client.sendto(frame, (host, port))
            got += recv_bytes(client, n, True) // size
        print("phase %d echoed=%d" % (i + 1, got), flush=True)
        ok &= got == count
    return 0 if ok else 1


class Tap:
    def __init__(self, n):
        self.n, self.failed = n, False

    def check(self, cond, what):
        print("%s %d - python3-twilio: %s" % ("ok" if cond else "not ok", self.n, what))
        self.n += 1
        self.failed |= not cond


def mb_bytes(record):
    """A record's usage in bytes: megabytes of 10^6 bytes, exactly as written."""
    return int(decimal.Decimal(record.usage) * 1000000)


def api(base_url, sid, token, sub_sid, master_bytes, sub_bytes, n):
    from twilio.rest import Client

    t = Tap(n)
    client = Client(sid, token)
    client.api.base_url = base_url  # the library's own per-domain setting; nothing patched
    total = master_bytes + sub_bytes
    today = datetime.datetime.now(datetime.timezone.utc).date()

    recs = client.usage.records.list(category="turnmegabytes")
    t.check(len(recs) == 1 and recs[0].category == "turnmegabytes",
            "usage.records.list(category='turnmegabytes') gives one record")
    t.check(mb_bytes(recs[0]) == total,
            "its megabytes (%s) are the bytes relayed by the master and its subaccount (%d)"
            % (recs[0].usage, total))
    t.check(recs[0].usage_unit == "megabytes" and recs[0].count_unit == "allocations"
            and recs[0].account_sid == sid and recs[0].end_date == today,
            "its units, account and end date (%s)" % recs[0].end_date)
    t.check(recs[0].price == decimal.Decimal(0) and recs[0].price_unit == "usd",
            "price 0 usd")

    own = client.usage.records.list(category="turnmegabytes", include_subaccounts=False)
    t.check(len(own) == 1 and mb_bytes(own[0]) == master_bytes,
            "include_subaccounts=False: the master's own bytes (%d)" % master_bytes)

    daily = client.usage.records.daily.list(category="turnmegabytes", start_date=today)
    t.check(len(daily) == 1 and daily[0].start_date == today and mb_bytes(daily[0]) == total,
            "usage.records.daily.list(start_date=today): today's record with all the bytes")
    paged = client.usage.records.daily.list(category="turnmegabytes", start_date="-2days",
                                            page_size=1)
    t.check([r.start_date for r in paged]
            == [today - datetime.timedelta(days=d) for d in (2, 1, 0)]
            and sum(mb_bytes(r) for r in paged) == total,
            "daily.list(start_date='-2days', page_size=1) follows Twilio's pages over 3 days")

    today_recs = client.usage.records.today.list(category="turnmegabytes")
    t.check(len(today_recs) == 1 and mb_bytes(today_recs[0]) == total
            and today_recs[0].count == "%d" % int(today_recs[0].count),
            "usage.records.today.list(): the bytes, count %s allocations" % today_recs[0].count)
    yest = client.usage.records.yesterday.list(category="turnmegabytes")
    t.check(len(yest) == 1 and mb_bytes(yest[0]) == 0, "usage.records.yesterday.list(): none")
    monthly = client.usage.records.this_month.list(category="turnmegabytes")
    t.check(len(monthly) == 1 and mb_bytes(monthly[0]) == total, "this_month.list()")

    sub = client.api.v2010.accounts(sub_sid).usage.records.today.list(category="turnmegabytes")
    t.check(len(sub) == 1 and mb_bytes(sub[0]) == sub_bytes and sub[0].account_sid == sub_sid,
            "the master reads its subaccount's records (%d bytes)" % sub_bytes)
    print("# next %d" % t.n)
    return 1 if t.failed else 0


def main():
    if sys.argv[1] == "relay":
        args = sys.argv[2:]
        try:
            c2p, p2c = relay(args[0], int(args[1]), args[2], args[3], *map(int, args[4:]))
        except TurnFailure as e:
            print("error %s" % e)
            return 1
        print("relayed c2p=%d p2c=%d" % (c2p, p2c))
        return 0
    a = sys.argv[2:]
    if sys.argv[1] == "echo":
        files = [None] + a[8::2]
        phases = list(zip(files, map(int, a[7::2])))
        try:
            return echo(a[0], int(a[1]), a[2], a[3], a[4], int(a[5]), int(a[6]), phases)
        except TurnFailure as e:
            print("error %s" % e)
            return 1
    return api(a[0], a[1], a[2], a[3], int(a[4]), int(a[5]), int(a[6]))


if __name__ == "__main__":
    sys.exit(main())
