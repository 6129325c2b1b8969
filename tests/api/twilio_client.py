#!/usr/bin/python3
"""Debian's python3-twilio, unmodified, as a client of ntsd's token API.

usage: twilio_client.py BASE_URL ACCOUNT_SID AUTH_TOKEN TURN_HOST TURN_PORT FIRST_TAP_NUMBER
The only change from talking to Twilio is the API domain's base URL, which the library exposes
as client.api.base_url. Prints TAP lines numbered from FIRST_TAP_NUMBER, then "# next N".
"""
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from turn_alloc import allocate  # noqa: E402

from twilio.base.exceptions import TwilioRestException  # noqa: E402
from twilio.rest import Client  # noqa: E402

base_url, sid, token, turn_host, turn_port, n = sys.argv[1:7]
turn_port, n = int(turn_port), int(n)
failed = False


def check(cond, what):
    global n, failed
    print("%s %d - python3-twilio: %s" % ("ok" if cond else "not ok", n, what))
    n += 1
    failed |= not cond


def client_for(auth_token):
    c = Client(sid, auth_token)
    c.api.base_url = base_url  # the library's own per-domain setting; nothing patched
    return c


def check_token(t, ttl, what):
    """Every field of a TokenInstance, with its type."""
    check(t.account_sid == sid, what + ": account_sid")
    check(isinstance(t.ttl, str) and t.ttl == str(ttl), what + ": ttl is the string %r" % str(ttl))
    check(isinstance(t.date_created, datetime.datetime) and t.date_created.tzinfo is not None,
          what + ": date_created parses as an RFC 2822 date")
    check(t.date_updated == t.date_created, what + ": date_updated equals date_created")
    expiry, _, user_sid = t.username.partition(":")
    check(user_sid == sid and expiry.isdigit(), what + ": username is <expiry>:<AccountSid>")
    check(int(expiry) - int(t.date_created.timestamp()) == ttl,
          what + ": username expires ttl seconds after date_created")
    check(isinstance(t.password, str) and len(t.password) == 28,
          what + ": password is a base64 HMAC-SHA1")
    servers = t.ice_servers
    check(isinstance(servers, list) and len(servers) >= 3, what + ": ice_servers is a list")
    check(all(isinstance(s.get("urls"), str) and s.get("url") == s.get("urls") for s in servers),
          what + ": each ice server has url and urls strings")
    check(servers[0]["urls"] == "stun:%s:%d" % (turn_host, turn_port)
          and "username" not in servers[0], what + ": stun server first, without credentials")
    want = ["turn:%s:%d?transport=udp" % (turn_host, turn_port),
            "turn:%s:%d?transport=tcp" % (turn_host, turn_port)]
    check([s["urls"] for s in servers[1:3]] == want, what + ": turn udp then turn tcp")
    check(all(s.get("username") == t.username and s.get("credential") == t.password
              for s in servers[1:]), what + ": turn servers carry username and credential")


client = client_for(token)
tok = client.tokens.create()
check_token(tok, 86400, "tokens.create()")
tok_ttl = client.tokens.create(ttl=3600)
check_token(tok_ttl, 3600, "tokens.create(ttl=3600)")
tok_acct = client.api.v2010.accounts(sid).tokens.create(ttl=120)
check(tok_acct.ttl == "120", "accounts(sid).tokens.create(ttl=120)")

code, relay = allocate(turn_host, turn_port, tok.username, tok.password)
check(code == 0, "the token's TURN credentials allocate a relay (%s)" % relay)
code, _ = allocate(turn_host, turn_port, tok.username, tok.password + "x")
check(code == 401, "a wrong credential gets 401")

short = client.tokens.create(ttl=1)
expiry = int(short.username.split(":")[0])
for _ in range(50):  # bounded wait until the credentials are past their expiry
    if time.time() > expiry + 1:
        break
    time.sleep(0.1)
code, _ = allocate(turn_host, turn_port, short.username, short.password)
check(code == 401, "credentials of a token whose ttl passed get 401")

try:
    client_for("0" * 32).tokens.create()
    check(False, "a wrong AuthToken raises")
except TwilioRestException as e:
    check(e.status == 401 and e.code == 20003, "a wrong AuthToken raises 401 / 20003")
try:
    client.tokens.create(ttl=86401)
    check(False, "ttl=86401 raises")
except TwilioRestException as e:
    check(e.status == 400 and e.code == 20001, "ttl=86401 raises 400 / 20001")

print("# next %d" % n)
sys.exit(1 if failed else 0)
