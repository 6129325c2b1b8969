#!/usr/bin/python3
"""A long-term-credential client written from RFC 8489 alone (stdlib only, none of nts's code):
the server's password algorithm negotiation (§9.2.1, §9.2.4, §14.11, §14.12), SHA-256 keys and
MESSAGE-INTEGRITY-SHA256 on requests and answers (§9.2.2, §14.6) and USERHASH (§14.4), over TURN
Allocate (RFC 8656) on UDP. First it checks itself against the RFC 8489 Appendix B.1 vector as
corrected by erratum 6268 (tests/unit/test_stun_vectors.c explains the erratum).

usage: stun_sha256.py HOST PORT USER PASSWORD
The server must know USER:PASSWORD as a static user. Prints one line per check: "ok - what" or "not ok - what".
"""
import base64
import hashlib
import hmac
import os
import socket
import struct
import sys
import unicodedata
import zlib

COOKIE = 0x2112A442
ALLOCATE, REFRESH = 0x003, 0x004
SUCCESS, ERROR = 0x100, 0x110
A_USERNAME, A_MI, A_ERROR, A_LIFETIME = 0x0006, 0x0008, 0x0009, 0x000D
A_REALM, A_NONCE, A_RELAYED, A_TRANSPORT = 0x0014, 0x0015, 0x0016, 0x0019
A_MI256, A_PWALG, A_USERHASH = 0x001C, 0x001D, 0x001E
A_PWALGS, A_FINGERPRINT = 0x8002, 0x8028
MD5, SHA256 = 0x0001, 0x0002
# §9.2.1: the nonce cookie, then 24 feature bits (bit 0 the most significant) in base64.
NONCE_COOKIE = b"obMatJos2"
F_PASSWORD_ALGS, F_USER_ANONYMITY = 0x800000, 0x400000

failed = 0


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    failed += 0 if cond else 1
    return cond


def pad(n):
    return (4 - n % 4) % 4


def tlv(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * pad(len(v))


def header(mtype, length, tid):
    return struct.pack("!HHI", mtype, length, COOKIE) + tid


def parse(msg):
    """(type, tid, [(type, value, offset of the attribute)]) or None for a malformed message."""
    if len(msg) < 20:
        return None
    mtype, length, cookie = struct.unpack("!HHI", msg[:8])
    if cookie != COOKIE or length + 20 != len(msg) or length % 4:
        return None
    attrs, off = [], 20
    while off + 4 <= len(msg):
        t, n = struct.unpack("!HH", msg[off:off + 4])
        if off + 4 + n > len(msg):
            return None
        attrs.append((t, msg[off + 4:off + 4 + n], off))
        off += 4 + n + pad(n)
    return mtype, msg[8:20], attrs


def find(attrs, t):
    return next((v for a, v, _ in attrs if a == t), None)


def mi256(prefix, key):
    """§14.6: HMAC-SHA256 over the message up to the attribute, its length field counting the
    attribute itself (32 bytes of value) and nothing after it."""
    adjusted = prefix[:2] + struct.pack("!H", len(prefix) - 20 + 36) + prefix[4:]
    return hmac.new(key, adjusted, hashlib.sha256).digest()


def fingerprint(prefix):
    """§14.7: CRC-32 of the message up to the attribute (length counting it), XOR 0x5354554e."""
    adjusted = prefix[:2] + struct.pack("!H", len(prefix) - 20 + 8) + prefix[4:]
    return struct.pack("!I", (zlib.crc32(adjusted) ^ 0x5354554E) & 0xFFFFFFFF)


def build(mtype, tid, attrs, key=None):
    """A request with attrs, then MESSAGE-INTEGRITY-SHA256 under key, then FINGERPRINT."""
    body = b"".join(tlv(t, v) for t, v in attrs)
    msg = header(mtype, len(body), tid) + body
    if key is not None:
        msg += tlv(A_MI256, mi256(msg, key))
        msg = msg[:2] + struct.pack("!H", len(msg) - 20) + msg[4:]
    fp = fingerprint(msg)
    msg += tlv(A_FINGERPRINT, fp)
    return msg[:2] + struct.pack("!H", len(msg) - 20) + msg[4:]


def verify_mi256(msg, attrs, key):
    """True when the message's MESSAGE-INTEGRITY-SHA256 verifies under key (§14.6)."""
    for t, v, off in attrs:
        if t == A_MI256:
            return len(v) == 32 and hmac.compare_digest(mi256(msg[:off], key), v)
    return False


def long_term_key(alg, user, realm, password):
    """§9.2.2: H(username ":" OpaqueString(realm) ":" OpaqueString(password)), H = MD5 or
    SHA-256 as negotiated (the strings here are already in their processed form)."""
    text = f"{user}:{realm}:{password}".encode()
    return (hashlib.sha256 if alg == SHA256 else hashlib.md5)(text).digest()


def userhash(user, realm):
    """§14.4: SHA-256(OpaqueString(username) ":" OpaqueString(realm))."""
    return hashlib.sha256(f"{user}:{realm}".encode()).digest()


def error_code(attrs):
    v = find(attrs, A_ERROR)
    return v[2] * 100 + v[3] if v and len(v) >= 4 else None


# --- RFC 8489 Appendix B.1 (with erratum 6268): this client's derivations must reproduce it.
B1 = bytes.fromhex(
    "000100902112a44278ad3433c6ad72c029da412e"
    "001e00204a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704"
    "001500296f624d61744a6f733241414143662f2f3439396b39353464364f4c33346f4c3946535476793634734100"
    "0000"
    "0014000b6578616d706c652e6f726700"
    "001d000400020000"
    "001c0020b5c7bf005b6c52a21c51c5e892f81924136296cb927c43149309278cc6518e65")
b1_user = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"
# The password "The<U+00AD>M<U+00AA>tr<U+2168>" as the vector processes it: soft hyphen dropped,
# compatibility characters folded (RFC 4013, which the vector follows) -> "TheMatrIX".
b1_pass = unicodedata.normalize("NFKC", "The\u00adM\u00aatr\u2168".replace("\u00ad", ""))
b1 = parse(B1)
check(b1 is not None and b1_pass == "TheMatrIX" and
      find(b1[2], A_USERHASH) == userhash(b1_user, "example.org") and
      find(b1[2], A_PWALG) == struct.pack("!HH", SHA256, 0) and
      verify_mi256(B1, b1[2], long_term_key(SHA256, b1_user, "example.org", b1_pass)),
      "this client reproduces RFC 8489 B.1 (erratum 6268): USERHASH and MESSAGE-INTEGRITY-SHA256")

# --- against the server
HOST, PORT, USER, PASSWORD = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
family = socket.AF_INET6 if ":" in HOST else socket.AF_INET


def transact(sock, msg):
    """Sends msg and returns (raw answer, parsed) with the same transaction id; retransmits
    (§6.2.1, bounded) and gives (None, None) when nothing valid came back."""
    tid = msg[8:20]
    for timeout in (0.5, 1.0, 2.0):
        sock.sendto(msg, (HOST, PORT))
        sock.settimeout(timeout)
        try:
            while True:
                data = sock.recv(2048)
                p = parse(data)
                if p and p[1] == tid:
                    return data, p
        except socket.timeout:
            continue
    return None, None


def new_sock():
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    return s


TRANSPORT = (A_TRANSPORT, bytes([17, 0, 0, 0]))

# 1. The challenge (§9.2.4 step 1): 401 with REALM, a nonce with the cookie and the feature bits,
# and PASSWORD-ALGORITHMS listing SHA-256 and MD5 without parameters.
s = new_sock()
raw, p = transact(s, build(ALLOCATE, os.urandom(12), [TRANSPORT]))
attrs = p[2] if p else []
realm, nonce, algs = find(attrs, A_REALM), find(attrs, A_NONCE), find(attrs, A_PWALGS)
check(p is not None and p[0] == ALLOCATE | ERROR and error_code(attrs) == 401 and realm and nonce,
      f"an Allocate without credentials gets 401 with REALM and NONCE (got {p and hex(p[0])}, "
      f"{error_code(attrs)})")
features = 0
if nonce and nonce.startswith(NONCE_COOKIE) and len(nonce) >= 13:
    try:
        features = int.from_bytes(base64.b64decode(nonce[9:13]), "big")
    except ValueError:
        features = 0
check(bool(nonce) and nonce.startswith(NONCE_COOKIE) and features & F_PASSWORD_ALGS,
      f"the nonce starts with the {NONCE_COOKIE.decode()} cookie and sets the password "
      f"algorithms bit (features {features:06x})")
# The anonymity bit is the server's choice (ntsd sets it only without ephemeral secrets, and the
# database always holds one); USERHASH is checked below whichever way it is set.
print(f"# username anonymity bit: {'set' if features & F_USER_ANONYMITY else 'clear'}")
offered = []
if algs:
    i = 0
    while i + 4 <= len(algs):
        a, n = struct.unpack("!HH", algs[i:i + 4])
        offered.append((a, n))
        i += 4 + n + pad(n)
check(sorted(offered) == [(MD5, 0), (SHA256, 0)],
      f"PASSWORD-ALGORITHMS offers SHA-256 and MD5 without parameters (got {offered})")
realm_s = realm.decode() if realm else ""
key256 = long_term_key(SHA256, USER, realm_s, PASSWORD)
key_md5 = long_term_key(MD5, USER, realm_s, PASSWORD)
SHA256_ALG = (A_PWALG, struct.pack("!HH", SHA256, 0))


def auth_attrs(who, alg=SHA256_ALG, algs_attr=True):
    out = [TRANSPORT, who, (A_REALM, realm or b""), (A_NONCE, nonce or b"")]
    if algs_attr and algs is not None:
        out.append((A_PWALGS, algs))
    if alg:
        out.append(alg)
    return out


def allocate(who, key, **kw):
    """One Allocate from a fresh socket: (socket, raw answer, parsed answer)."""
    sk = new_sock()
    raw, p = transact(sk, build(ALLOCATE, os.urandom(12), auth_attrs(who, **kw), key))
    return sk, raw, p


def release(sk, who, key):
    """Refresh with LIFETIME 0 (RFC 8656 §7), signed the same way; True on a signed success."""
    attrs = [who, (A_REALM, realm), (A_NONCE, nonce), (A_PWALGS, algs), SHA256_ALG,
             (A_LIFETIME, struct.pack("!I", 0))]
    raw, p = transact(sk, build(REFRESH, os.urandom(12), attrs, key))
    return p is not None and p[0] == REFRESH | SUCCESS and verify_mi256(raw, p[2], key)


def signed_success(raw, p, key, what):
    ok = p is not None and p[0] == ALLOCATE | SUCCESS and find(p[2], A_RELAYED) is not None
    check(ok, f"{what} allocates (got {p and hex(p[0])}, {p and error_code(p[2])})")
    check(ok and verify_mi256(raw, p[2], key) and find(p[2], A_MI) is None,
          f"{what}: the answer carries MESSAGE-INTEGRITY-SHA256 that verifies under the SHA-256 "
          "key, and no MESSAGE-INTEGRITY")
    fp = [(v, off) for t, v, off in (p[2] if p else []) if t == A_FINGERPRINT]
    check(ok and len(fp) == 1 and fp[0][0] == fingerprint(raw[:fp[0][1]]),
          f"{what}: the answer's FINGERPRINT is right")
    return ok


named = (A_USERNAME, USER.encode())
hashed = (A_USERHASH, userhash(USER, realm_s))

# 2. USERNAME with SHA-256 (§9.2.5): success, the answer signed with SHA-256.
sk, raw, p = allocate(named, key256)
if signed_success(raw, p, key256, "USERNAME, PASSWORD-ALGORITHM SHA-256, MESSAGE-INTEGRITY-SHA256"):
    check(release(sk, named, key256), "a signed Refresh with LIFETIME 0 releases it, answer signed")

# 3. USERHASH instead of USERNAME (§14.4).
sk, raw, p = allocate(hashed, key256)
if signed_success(raw, p, key256, "USERHASH with SHA-256"):
    check(release(sk, hashed, key256), "the USERHASH allocation is released the same way")

# 4. What must be refused.
_, _, p = allocate(named, key_md5)
check(p is not None and error_code(p[2]) == 401,
      f"MESSAGE-INTEGRITY-SHA256 under the MD5 key with SHA-256 chosen gets 401 "
      f"(got {p and error_code(p[2])})")
_, _, p = allocate(named, long_term_key(SHA256, USER, realm_s, PASSWORD + "x"))
check(p is not None and error_code(p[2]) == 401,
      f"a wrong password gets 401 (got {p and error_code(p[2])})")
_, _, p = allocate((A_USERHASH, userhash(USER + "x", realm_s)), key256)
check(p is not None and error_code(p[2]) == 401,
      f"the USERHASH of an unknown user gets 401 (got {p and error_code(p[2])})")
_, _, p = allocate(named, key256, algs_attr=False)
check(p is not None and error_code(p[2]) == 400,
      f"PASSWORD-ALGORITHM without PASSWORD-ALGORITHMS gets 400 (§9.2.4 bid-down check; got "
      f"{p and error_code(p[2])})")
saved = algs
algs = struct.pack("!HH", SHA256, 0)
_, _, p = allocate(named, key256)
algs = saved
check(p is not None and error_code(p[2]) == 400,
      f"a PASSWORD-ALGORITHMS list other than the server's gets 400 (got {p and error_code(p[2])})")
_, _, p = allocate(named, key256, alg=(A_PWALG, struct.pack("!HH", 0x0003, 0)))
check(p is not None and error_code(p[2]) == 400,
      f"a PASSWORD-ALGORITHM the server did not offer gets 400 (got {p and error_code(p[2])})")
sys.exit(1 if failed else 0)
