#!/usr/bin/python3
"""Hand-built RFC 3489 and RFC 5780 Binding requests over UDP/IPv4, checking the answers byte by
byte and the address each answer comes from (recvfrom).

usage: stun_classic.py plain HOST PORT        ntsd without --alt-ip
       stun_classic.py alt HOST PORT ALT_IP   ntsd with --alt-ip ALT_IP (alternate port PORT + 1)
Prints "ok - what" / "not ok - what" lines; exits 1 when a check failed.
"""
import os
import socket
import struct
import sys

MAGIC = 0x2112A442
MAPPED, CHANGE_REQ, SOURCE, CHANGED, ERROR, UNKNOWN = 0x0001, 0x0003, 0x0004, 0x0005, 0x0009, 0x000A
XOR_MAPPED, PADDING, RESPONSE_PORT = 0x0020, 0x0026, 0x0027
RESPONSE_ORIGIN, OTHER, FINGERPRINT = 0x802B, 0x802C, 0x8028
failed = 0


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    failed += 0 if cond else 1


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def request(mtype, attrs=(), classic=False):
    """A request and its id: 16 random bytes (RFC 3489) or the cookie and 12 random bytes."""
    tid = os.urandom(16) if classic else struct.pack("!I", MAGIC) + os.urandom(12)
    body = b"".join(attrs)
    return struct.pack("!HH", mtype, len(body)) + tid + body, tid


def parse(data):
    mtype, length = struct.unpack("!HH", data[:4])
    attrs, off = [], 20
    while off + 4 <= min(20 + length, len(data)):
        t, n = struct.unpack("!HH", data[off:off + 4])
        attrs.append((t, data[off + 4:off + 4 + n]))
        off += 4 + n + (4 - n % 4) % 4
    return mtype, data[4:20], dict(attrs), [t for t, _ in attrs]


def plain_addr(v):
    return socket.inet_ntoa(v[4:8]), struct.unpack("!H", v[2:4])[0]


def ask(s, msg, tid, want_answer=True):
    """The answer to msg with id tid and where it came from; None when none comes."""
    for _ in range(3 if want_answer else 1):
        s.sendto(msg, (HOST, PORT))
        try:
            while True:
                data, src = s.recvfrom(4096)
                if data[4:20] == tid:
                    return parse(data), src, len(data)
        except socket.timeout:
            continue
    return None


mode, HOST, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((HOST if HOST.startswith("127.") else "0.0.0.0", 0))
s.settimeout(1)
me = s.getsockname()

# RFC 3489 §8.2, §11.2: no cookie, the 128-bit id echoed, plain MAPPED-ADDRESS and SOURCE-ADDRESS.
msg, tid = request(0x0001, [attr(CHANGE_REQ, b"\0\0\0\0")], classic=True)
got = ask(s, msg, tid)
check(got is not None, "an RFC 3489 Binding request (no magic cookie) is answered")
if got:
    (mtype, rtid, a, order), src, size = got
    check(mtype == 0x0101 and rtid == tid, "as a Binding success echoing the 128-bit id")
    check(MAPPED in a and plain_addr(a[MAPPED]) == me,
          "MAPPED-ADDRESS is the client's address %r" % (plain_addr(a[MAPPED]),))
    check(SOURCE in a and plain_addr(a[SOURCE]) == src,
          "SOURCE-ADDRESS is the address the answer came from %r" % (src,))
    check(XOR_MAPPED not in a and FINGERPRINT not in a,
          "no RFC 5389 attributes (XOR-MAPPED-ADDRESS, FINGERPRINT)")
    check(size <= 56, "the answer is %d bytes (no more than 56)" % size)
    if mode == "plain":
        check(CHANGED not in a, "no CHANGED-ADDRESS without an alternate address")
        check(src == (HOST, PORT), "the answer comes from the address asked")
    else:
        alt = (sys.argv[4], PORT + 1)
        check(CHANGED in a and plain_addr(a[CHANGED]) == alt,
              "CHANGED-ADDRESS is the alternate IP and port %r" % (alt,))

# TURN methods still need the cookie: an RFC 3489 Allocate gets nothing.
msg, tid = request(0x0003, [attr(0x0019, bytes([17, 0, 0, 0]))], classic=True)
check(ask(s, msg, tid, want_answer=False) is None, "an Allocate without the magic cookie gets no answer")

if mode == "plain":
    # RFC 5780 §7.2: no alternate address, so CHANGE-REQUEST asking for a change gets 420.
    for classic in (False, True):
        msg, tid = request(0x0001, [attr(CHANGE_REQ, struct.pack("!I", 6))], classic=classic)
        got = ask(s, msg, tid)
        kind = "an RFC 3489" if classic else "a"
        ok = got is not None and got[0][0] == 0x0111 and ERROR in got[0][2]
        code = (got[0][2][ERROR][2] * 100 + got[0][2][ERROR][3]) if ok else None
        unknown = got[0][2].get(UNKNOWN, b"") if got else b""
        check(ok and code == 420 and unknown[:2] == b"\0\3",
              "%s CHANGE-REQUEST without --alt-ip gets 420 listing it (%r)" % (kind, code))
    msg, tid = request(0x0001)
    got = ask(s, msg, tid)
    check(got is not None and OTHER not in got[0][2] and RESPONSE_ORIGIN not in got[0][2],
          "a Binding answer carries no OTHER-ADDRESS or RESPONSE-ORIGIN without --alt-ip")
    sys.exit(1 if failed else 0)

ALT = sys.argv[4]
# RFC 5780 §7.2: each CHANGE-REQUEST is answered from the matching one of the four sockets, and
# RESPONSE-ORIGIN says which; OTHER-ADDRESS is the one differing in both.
for flags, origin, what in ((0, (HOST, PORT), "no change"), (2, (HOST, PORT + 1), "change port"),
                            (4, (ALT, PORT), "change IP"), (6, (ALT, PORT + 1), "change both")):
    msg, tid = request(0x0001, [attr(CHANGE_REQ, struct.pack("!I", flags))])
    got = ask(s, msg, tid)
    if not got:
        check(False, "%s: answered" % what)
        continue
    (mtype, _, a, _), src, _ = got
    check(mtype == 0x0101 and src == origin, "%s: answered from %r (%r)" % (what, origin, src))
    check(RESPONSE_ORIGIN in a and plain_addr(a[RESPONSE_ORIGIN]) == origin,
          "%s: RESPONSE-ORIGIN says so" % what)
    check(OTHER in a and plain_addr(a[OTHER]) == (ALT, PORT + 1),
          "%s: OTHER-ADDRESS is %s:%d" % (what, ALT, PORT + 1))

# RFC 5780 §7.5: RESPONSE-PORT sends the answer to another port of the client's IP.
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.bind((me[0], 0))
r.settimeout(1)
msg, tid = request(0x0001, [attr(RESPONSE_PORT, struct.pack("!HH", r.getsockname()[1], 0))])
s.sendto(msg, (HOST, PORT))
try:
    data = r.recv(4096)
    check(data[4:20] == tid, "RESPONSE-PORT: the answer arrives at the port it names")
except socket.timeout:
    check(False, "RESPONSE-PORT: the answer arrives at the port it names")

# RFC 5780 §7.6: PADDING in the answer, never making it larger than the request.
msg, tid = request(0x0001, [attr(PADDING, b"\0" * 500)])
got = ask(s, msg, tid)
check(got is not None and PADDING in got[0][2] and got[2] <= len(msg),
      "PADDING: padded answer of %s bytes to a %d-byte request" % (got and got[2], len(msg)))
sys.exit(1 if failed else 0)
