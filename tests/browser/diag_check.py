#!/usr/bin/python3
"""Judges what tests/browser/diag_page.js saw on the connectivity test page; prints "ok - ..." and
"not ok - ..." lines (the suite numbers them).
usage: diag_check.py works FILE KINDS   every transport in KINDS (e.g. UDP,TCP,TLS) works
       diag_check.py blocked FILE KIND  KIND fails clearly, the others work
       diag_check.py refused FILE       line 1: a tampered link (401), line 2: an expired one (403)
"""
import json
import sys

RELAY_PROTOCOL = {"UDP": "udp", "TCP": "tcp", "TLS": "tls"}


def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what)
    return cond


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def transport_works(t):
    pair = t.get("selected_pair") or {}
    local = pair.get("local") or {}
    why = (f"verdict={t['verdict']} candidates={t['candidates']} rtt={t['rtt_ms']} "
           f"loss={t['loss']} kbps={t['throughput_kbps']} local={local}")
    # "warn" with no loss is a slow round trip: a loaded test machine, still a working transport.
    good = (t["verdict"] in ("ok", "warn") and (t["candidates"] or 0) >= 2
            and local.get("type") == "relay"
            and local.get("relay_protocol") == RELAY_PROTOCOL[t["transport"]]
            and t["rtt_ms"] is not None and t["rtt_ms"] > 0 and t["loss"] is not None
            and t["loss"] <= 0.05 and (t["throughput_kbps"] or 0) > 0
            and t["transfer_complete"] is True
            and sum(v is not None for v in t["rtt_samples_ms"]) > 0)
    return check(good, f"{t['transport']} {t['port']} works through the relay ({why})")


def page_common(d):
    r, shown = d["result"], d["shown"]
    check(not d["csp_violations"], "no Content-Security-Policy violation on the page "
          f"({d['csp_violations'][:1]})")
    try:
        same = json.loads(shown["json"]) == r
    except ValueError:
        same = False
    check(same, "the page's JSON for a ticket is its result")
    check("credential" not in shown["json"] and "password" not in shown["json"],
          "the JSON for a ticket holds no credential")
    check(shown["cards"] == len(r["transports"]) and shown["canvases"] == len(
        [t for t in r["transports"] if t["loss"] is not None]),
          f"one card per transport, a chart for each measured one ({shown['cards']} cards, "
          f"{shown['canvases']} charts)")


def works(path, kinds):
    (d,) = load(path)
    r = d["result"]
    got = sorted(t["transport"] for t in r["transports"])
    check(got == sorted(kinds), f"the page tests every ICE server of the token ({got})")
    for t in r["transports"]:
        transport_works(t)
    check(r["ok"] and "Every transport works" in d["shown"]["status"],
          f"the page's verdict is success: {d['shown']['status']!r}")
    page_common(d)
    h = d["headers"]
    csp = h.get("content-security-policy", "")
    check("script-src 'sha256-" in csp and "style-src 'sha256-" in csp and "unsafe" not in csp
          and "default-src 'none'" in csp and h.get("x-content-type-options") == "nosniff",
          f"strict CSP with hashes, nosniff ({csp[:60]}...)")


def blocked(path, kind):
    (d,) = load(path)
    r = d["result"]
    for t in r["transports"]:
        if t["transport"] == kind:
            check(t["verdict"] == "fail" and t["candidates"] == 0
                  and "No relay candidate" in (t["reason"] or "")
                  and t["throughput_kbps"] is None,
                  f"{kind} {t['port']} blocked: the page says it fails ({t['reason']!r})")
        else:
            transport_works(t)
    status = d["shown"]["status"]
    check(not r["ok"] and kind in status and "fail" in status,
          f"the page's verdict names the blocked transport: {status!r}")


def refused(path):
    tampered, expired = load(path)
    for d, code, word in ((tampered, 401, "Link not valid"), (expired, 403, "Link expired")):
        r = d["result"]
        check(r["done"] and not r["ok"] and r["http_status"] == code and not r["transports"]
              and d["shown"]["status"].startswith(word),
              f"{'a tampered' if code == 401 else 'an expired'} link: {code}, the page says "
              f"{d['shown']['status']!r}")


if __name__ == "__main__":
    mode = sys.argv[1]
    try:
        if mode == "works":
            works(sys.argv[2], sys.argv[3].split(","))
        elif mode == "blocked":
            blocked(sys.argv[2], sys.argv[3])
        else:
            refused(sys.argv[2])
    except (OSError, ValueError, KeyError, TypeError) as e:
        check(False, f"{mode}: the page's result is readable ({e!r})")
