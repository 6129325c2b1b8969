#!/usr/bin/python3
"""Debian's python3-twilio, unmodified, on ntsd's Account and Key resources.

usage: twilio_accounts.py BASE_URL MASTER_SID MASTER_TOKEN TURN_HOST TURN_PORT FIRST_TAP_NUMBER
Environment: NTSCTL, NTS_CTL, NTS_DB (ntsctl and its --ctl-socket and --db, to count the live
allocations of an account). As in twilio_client.py the only change from talking to Twilio is
client.api.base_url. Prints TAP lines numbered from FIRST_TAP_NUMBER, then "# next N".
"""
import datetime
import json
import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from turn_alloc import allocate  # noqa: E402
from turn_hold import hold  # noqa: E402

from twilio.base.exceptions import TwilioException, TwilioRestException  # noqa: E402
from twilio.rest import Client  # noqa: E402

base_url, master, master_token, turn_host, turn_port, n = sys.argv[1:7]
turn_port, n = int(turn_port), int(n)
failed = False
held = []  # sockets of allocations held open


def check(cond, what):
    global n, failed
    print("%s %d - python3-twilio: %s" % ("ok" if cond else "not ok", n, what))
    n += 1
    failed |= not cond


def client(user, password, account_sid=None):
    c = Client(user, password, account_sid)
    c.api.base_url = base_url  # the library's own per-domain setting; nothing patched
    return c


def raises(fn, status, code, what):
    """fn() raises TwilioRestException with this HTTP status and Twilio code."""
    try:
        fn()
        check(False, "%s: raises %d / %d (it succeeded)" % (what, status, code))
    except TwilioRestException as e:
        check(e.status == status and e.code == code,
              "%s: raises %d / %d (got %s / %s)" % (what, status, code, e.status, e.code))
    except TwilioException as e:  # list() of this library version: the page's HTTP response
        r = e.args[1] if len(e.args) > 1 else None
        got = (getattr(r, "status_code", None), json.loads(getattr(r, "text", "{}")).get("code"))
        check(got == (status, code), "%s: raises %d / %d (got %s / %s)" % ((what, status, code)
                                                                          + got))


def allocations_of(sid):
    out = subprocess.run([os.environ["NTSCTL"], "--ctl-socket", os.environ["NTS_CTL"], "--db",
                          os.environ["NTS_DB"], "allocations", "--json"],
                         capture_output=True, text=True, timeout=20).stdout
    return sum(a["account"] == sid for a in json.loads(out)["allocations"])


def hold_allocation(tok):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.5)
    held.append(sock)
    return hold(sock, (turn_host, turn_port), tok.username, tok.password)[0]


def alloc_code(tok):
    return allocate(turn_host, turn_port, tok.username, tok.password)[0]


m = client(master, master_token)

# Subaccounts: create, fetch, Twilio's fields and types.
sub = m.api.accounts.create(friendly_name="customer one")
check(re.fullmatch("AC[0-9a-f]{32}", sub.sid) is not None, "accounts.create gives an AccountSid")
check(sub.owner_account_sid == master, "the subaccount's owner_account_sid is the master")
check(sub.status == "active" and sub.type == "Full", "a new subaccount is active and Full")
check(re.fullmatch("[0-9a-f]{32}", sub.auth_token or "") is not None,
      "the creation answer carries the subaccount's auth_token")
check(isinstance(sub.date_created, datetime.datetime) and sub.date_created.tzinfo is not None,
      "date_created parses as an RFC 2822 date")
check(sub.uri == "/2010-04-01/Accounts/%s.json" % sub.sid, "uri is the account's resource")
check(sub.subresource_uris.get("keys") == "/2010-04-01/Accounts/%s/Keys.json" % sub.sid,
      "subresource_uris names its Keys")
fetched = m.api.accounts(sub.sid).fetch()
check(fetched.friendly_name == "customer one" and fetched.sid == sub.sid,
      "accounts(sid).fetch() by the master")
me = m.api.accounts(master).fetch()
check(me.owner_account_sid == master, "a master's owner_account_sid is its own sid")
unnamed = m.api.accounts.create()
check(unnamed.friendly_name.startswith("SubAccount Created at "),
      "without FriendlyName the name is Twilio's default (%s)" % unnamed.friendly_name)
sub3 = m.api.accounts.create(friendly_name="customer three")

# Listing: the master and its subaccounts, filters, paging through next_page_uri.
all_sids = [a.sid for a in m.api.accounts.list()]
check(all_sids == [master, sub.sid, unnamed.sid, sub3.sid],
      "accounts.list() lists the master and its subaccounts, oldest first")
check([a.sid for a in m.api.accounts.list(page_size=1)] == all_sids,
      "accounts.list(page_size=1) follows next_page_uri through every page")
page = m.api.accounts.page(page_size=3)
first = [a.sid for a in page]
nxt = page.next_page()
check(first == all_sids[:3] and nxt is not None and [a.sid for a in nxt] == [sub3.sid]
      and nxt.next_page() is None, "accounts.page(page_size=3) then next_page()")
check([a.sid for a in m.api.accounts.list(friendly_name="customer one")] == [sub.sid],
      "accounts.list(friendly_name=...) matches exactly")

# A subaccount sees only itself.
s = client(sub.sid, sub.auth_token)
check([a.sid for a in s.api.accounts.list()] == [sub.sid], "a subaccount lists only itself")
raises(lambda: s.api.accounts(master).fetch(), 401, 20003,
       "a subaccount fetching its master")
raises(lambda: s.api.accounts(sub3.sid).fetch(), 404, 20404,
       "a subaccount fetching a sibling")
raises(lambda: s.api.accounts.create(friendly_name="nested"), 400, 21101,
       "a subaccount creating a subaccount")
raises(lambda: s.api.accounts(sub3.sid).update(status="suspended"), 404, 20404,
       "a subaccount suspending a sibling")

# Tokens of the subaccount, with its own credentials and with the master's.
tok = s.tokens.create(ttl=600)
check(tok.account_sid == sub.sid and alloc_code(tok) == 0,
      "the subaccount's token allocates a relay")
tok_by_master = client(master, master_token, sub.sid).tokens.create(ttl=600)
check(tok_by_master.account_sid == sub.sid,
      "Client(master, token, sub_sid).tokens.create() mints for the subaccount")

# Suspension by the master ends the subaccount's live allocations before the answer.
code = hold_allocation(tok)
check(code == 0 and allocations_of(sub.sid) == 1, "the subaccount holds a live allocation")
upd = m.api.accounts(sub.sid).update(status="suspended")
check(upd.status == "suspended", "update(status='suspended') answers suspended")
check(allocations_of(sub.sid) == 0, "its live allocation ended when the answer came")
check(alloc_code(tok) == 401, "a token minted before the suspension gets 401 on Allocate")
raises(lambda: s.tokens.create(), 403, 20005, "the suspended subaccount minting a token")
check(m.api.accounts(sub.sid).update(status="active").status == "active",
      "update(status='active') reactivates")
check(alloc_code(tok) == 0, "after reactivation the same token allocates again")
check([a.sid for a in m.api.accounts.list(status="active")] == all_sids,
      "accounts.list(status='active') after reactivation")

# Renaming; closing is final and ends the tokens.
check(m.api.accounts(sub3.sid).update(friendly_name="renamed").friendly_name == "renamed",
      "update(friendly_name=...) renames")
tok3 = client(sub3.sid, sub3.auth_token).tokens.create(ttl=600)
closed = m.api.accounts(sub3.sid).update(status="closed")
check(closed.status == "closed", "update(status='closed') closes")
check(alloc_code(tok3) == 401, "a token of the closed subaccount gets 401 on Allocate")
check([a.sid for a in m.api.accounts.list(status="closed")] == [sub3.sid],
      "accounts.list(status='closed')")
raises(lambda: m.api.accounts(sub3.sid).update(status="active"), 400, 21479,
       "reactivating a closed subaccount")
raises(lambda: client(sub3.sid, sub3.auth_token).tokens.create(), 403, 20005,
       "the closed subaccount minting a token")

# API keys: created once with their secret, usable for tokens, not for management.
key = m.new_keys.create(friendly_name="web server")
check(re.fullmatch("SK[0-9a-f]{32}", key.sid) is not None and len(key.secret or "") == 32,
      "new_keys.create gives a key sid and its secret")
k = client(key.sid, key.secret, master)
ktok = k.tokens.create(ttl=600)
check(ktok.account_sid == master and alloc_code(ktok) == 0,
      "Client(key_sid, key_secret, account_sid).tokens.create() mints a usable token")
raises(lambda: k.api.accounts.list(), 401, 20003, "key credentials listing accounts")
raises(lambda: k.api.accounts(master).fetch(), 401, 20003, "key credentials fetching the account")
raises(lambda: k.api.accounts.create(friendly_name="x"), 401, 20003,
       "key credentials creating a subaccount")
raises(lambda: k.new_keys.create(), 401, 20003, "key credentials creating a key")
raises(lambda: client(key.sid, key.secret, sub.sid).tokens.create(), 404, 20404,
       "the master's key minting for a subaccount")
keys = m.keys.list()
check([x.sid for x in keys] == [key.sid] and keys[0].friendly_name == "web server",
      "keys.list() lists the key")
check(getattr(keys[0], "secret", None) is None, "a listed key carries no secret")
check(m.keys(key.sid).fetch().friendly_name == "web server", "keys(sid).fetch()")
check(m.keys(key.sid).update(friendly_name="renamed key").friendly_name == "renamed key",
      "keys(sid).update(friendly_name=...)")
raises(lambda: s.api.accounts(sub.sid).keys(key.sid).fetch(), 404, 20404,
       "another account's key is not found")
check(m.keys(key.sid).delete() is True, "keys(sid).delete()")
raises(lambda: k.tokens.create(), 401, 20003, "the deleted key minting a token")
raises(lambda: m.keys(key.sid).fetch(), 404, 20404, "the deleted key is not found")
skey = s.new_keys.create(friendly_name="sub key")
check(client(skey.sid, skey.secret, sub.sid).tokens.create().account_sid == sub.sid,
      "a subaccount's own key mints its tokens")
check([x.sid for x in m.api.accounts(sub.sid).keys.list()] == [skey.sid],
      "the master lists the subaccount's keys")

for sock in held:
    sock.close()
print("# next %d" % n)
sys.exit(1 if failed else 0)
