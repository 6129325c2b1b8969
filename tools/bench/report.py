#!/usr/bin/python3
"""Turns the bench's raw samples (raw.jsonl, meta.json, status.tsv) into results.json, report.md and
throughput.svg: medians and spread per contender and payload size, ratios against coturn."""
import json
import os
import statistics
import subprocess
import sys

ORDER = ["coturn", "ntsd", "ntsd-workers", "ntsd-xdp", "ntsd-xdp-limited", "ceiling", "routed"]
LABEL = {"coturn": "coturn", "ntsd": "ntsd (userspace)", "ntsd-workers": "ntsd, a worker per core",
         "ntsd-xdp": "ntsd + XDP",
         "ntsd-xdp-limited": "ntsd + XDP, limits set (not reached)",
         "ceiling": "wire ceiling (XDP)", "routed": "routed baseline (no relay)"}


def load(out):
    raw = [json.loads(l) for l in open(os.path.join(out, "raw.jsonl")) if l.strip()]
    meta = json.load(open(os.path.join(out, "meta.json")))
    status = {}
    for line in open(os.path.join(out, "status.tsv")):
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 2:
            status[parts[0]] = {"status": parts[1], "command": parts[2] if len(parts) > 2 else ""}
    return raw, meta, status


def stats(xs):
    xs = [x for x in xs if x is not None and x >= -1e300]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs),
            "samples": xs}


def samples(raw, c, test, key, size=None, transport="udp"):
    """Values of key in the records of contender c, test and size; relay and clients records only
    for the clients' transport (the in-kernel generator's records are UDP)."""
    return [r["data"][key] for r in raw if r["contender"] == c and r["data"].get("test") == test
            and (size is None or r["size"] == size) and key in r["data"]
            and r["data"].get("transport", "udp") == transport]


CLIENT_KEYS = ["max_pps", "max_loss", "flat_offered_pps", "fixed_loss", "fixed_bad", "fixed_delivered",
               "max_cpu_ns_per_pkt", "max_cpu_relay_process_ns_per_pkt", "max_relay_pkts_per_wakeup",
               "max_path_cores", "max_relay_cores", "max_busy_cores",
               "cpu_ns_per_pkt", "cpu_relay_process_ns_per_pkt", "relay_pkts_per_wakeup",
               "path_cores", "busy_cores", "lat_p50_us", "lat_p99_us", "lat_p999_us"]
RELAY_KEYS = ["c2p_recv", "c2p_loss", "c2p_bad", "c2p_reorder", "c2p_p50_us", "c2p_p99_us",
              "c2p_p999_us", "p2c_recv", "p2c_loss", "p2c_bad", "p2c_reorder", "p2c_p50_us",
              "p2c_p99_us", "p2c_p999_us"]
TRANSPORTS = ["udp", "tcp", "tls"]


def by_rep(raw, c, test, key, size):
    """{repetition: value} of key in contender c's records of test and size."""
    return {r["rep"]: r["data"][key] for r in raw if r["contender"] == c and r["size"] == size
            and r["data"].get("test") == test and r["data"].get(key) is not None}


def paired(a, b):
    """The ratios a / b of the repetitions both have (by_rep dicts), in repetition order. The
    contenders of one repetition run back to back, so each ratio compares two measurements taken
    under the same host conditions; their median is the comparison the targets use."""
    return [a[k] / b[k] for k in sorted(a) if k in b and b[k] and b[k] > 0 and a[k] is not None]


def relay_cost(raw, c, size, key):
    """Per repetition: the contender's CPU per packet minus the routed baseline's (same rep, size)."""
    base = {r["rep"]: r["data"].get(key) for r in raw
            if r["contender"] == "routed" and r["size"] == size and r["data"].get("test") == "xdp"}
    out = []
    for r in raw:
        d = r["data"]
        if r["contender"] == c and r["size"] == size and d.get("test") == "xdp" and key in d:
            if d[key] is not None and d[key] >= 0 and base.get(r["rep"]) is not None:
                out.append(d[key] - base[r["rep"]])
    return out


def aggregate(raw, meta, status):
    sizes = sorted({r["size"] for r in raw if r["size"]}) or [100, 1000]
    res = {"meta": meta, "contenders": {}}
    for c in ORDER:
        st = status.get(c, {"status": "not run", "command": ""})
        e = {"status": st["status"], "command": st["command"], "sizes": {}}
        for s in sizes:
            g = lambda test, key: stats(samples(raw, c, test, key, s))
            e["sizes"][str(s)] = {
                "max_pps": g("xdp", "max_pps"),
                "flat_offered_pps": g("xdp", "flat_offered_pps"),
                "fixed_loss": g("xdp", "fixed_loss"),
                "fixed_bad": g("xdp", "fixed_bad"),
                "fixed_delivered": g("xdp", "fixed_delivered"),
                "cpu_ns_per_pkt_total": g("xdp", "cpu_ns_per_pkt"),
                "cpu_relay_process_ns_per_pkt": g("xdp", "cpu_relay_process_ns_per_pkt"),
                "cpu_ns_per_pkt": stats(relay_cost(raw, c, s, "cpu_ns_per_pkt"))
                if c != "routed" else g("xdp", "cpu_ns_per_pkt"),
                "cpu_stat_ns_per_pkt": stats(relay_cost(raw, c, s, "cpu_stat_ns_per_pkt"))
                if c != "routed" else g("xdp", "cpu_stat_ns_per_pkt"),
                "prog_ns_per_pkt": g("xdp", "prog_ns_per_pkt"),
                "micro_ns_per_pkt": g("micro", "ns_per_pkt_p10"),
                "lat_p50_us": g("xdp", "lat_p50_us"),
                "lat_p99_us": g("xdp", "lat_p99_us"),
                "lat_p999_us": g("xdp", "lat_p999_us"),
                "search": samples(raw, c, "xdp", "search", s),
                "max_pps_by_rep": by_rep(raw, c, "xdp", "max_pps", s),
            }
            for k in ["c2p_recv", "c2p_loss", "c2p_bad", "c2p_reorder", "c2p_p50_us", "c2p_p99_us",
                      "c2p_p999_us", "p2c_recv", "p2c_loss", "p2c_bad", "p2c_reorder",
                      "p2c_p50_us", "p2c_p99_us", "p2c_p999_us"]:
                e["sizes"][str(s)]["relay_" + k] = g("relay", k)
        # Many clients from userspace over each transport; two-way runs over TCP and TLS.
        cl, sr = {}, {}
        for t in TRANSPORTS:
            for sz in sizes:
                z = {k: stats(samples(raw, c, "clients", k, sz, t)) for k in CLIENT_KEYS}
                z["search"] = samples(raw, c, "clients", "search", sz, t)
                z["worker_shares"] = [w for w, _ in thread_shares(raw, c, sz, t)]
                if z["max_pps"] or z["fixed_delivered"]:
                    cl.setdefault(t, {})[str(sz)] = z
                if t != "udp":
                    y = {k: stats(samples(raw, c, "relay", k, sz, t)) for k in RELAY_KEYS}
                    if y["c2p_recv"]:
                        sr.setdefault(t, {})[str(sz)] = y
        if cl:
            e["clients"] = cl
        if sr:
            e["stream_relay"] = sr
        e["alloc_per_s"] = stats(samples(raw, c, "alloc", "allocs_per_s"))
        e["alloc_done"] = stats(samples(raw, c, "alloc", "done"))
        e["rss_per_alloc_bytes"] = stats(samples(raw, c, "alloc", "rss_per_alloc_bytes"))
        e["api_req_per_s"] = stats(samples(raw, c, "api", "req_per_s"))
        e["api_errors"] = stats(samples(raw, c, "api", "errors"))
        up = [r["data"]["flow"] for r in raw if r["contender"] == c and r["data"].get("test") == "upgrade"]
        if up:
            e["upgrade"] = up
        fp = [r["data"]["stats"] for r in raw if r["contender"] == c and r["data"].get("test") == "fpstats"]
        if fp:
            e["fastpath_stats"] = fp
        res["contenders"][c] = e
    res["sizes"] = sizes
    res["raw"] = raw
    return res


def med(x):
    return None if not x else x["median"]


def fmt_pps(v):
    if v is None:
        return "—"
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.0f} k"


def fmt_spread(x, f):
    if not x:
        return "—"
    if x["n"] < 2:
        return f(x["median"])
    return f"{f(x['median'])} [{f(x['min'])}–{f(x['max'])}]"


def ratio(a, b, inverse=False, suffix=""):
    if a is None or b is None or a <= 0 or b <= 0:
        return ""
    r = b / a if inverse else a / b
    return f" (×{r:.2f}{suffix})" if r < 10 else f" (×{r:.0f}{suffix})"


def report(res, out):
    m = res["meta"]
    C = res["contenders"]
    sizes = res["sizes"]
    cot = C.get("coturn", {})
    L = []
    L.append(f"# nts bench — {m['date']}{' (QUICK)' if m['quick'] else ''}\n")
    L.append(f"Machine: {m['cpu']}, {m['cores']} cores, {m['mem']}; kernel {m['kernel']}; {m['os']}; "
             f"coturn {m['coturn']}; {m['ntsd'] or 'ntsd not built'}; commit {m['commit']}. "
             f"{m['reps']} repetition(s), contenders interleaved, {m['elapsed_s']} s.\n")
    L.append("## Headline (ratios against coturn in parentheses)\n")
    head = ["contender", "status"]
    for s in sizes:
        head += [f"max pps {s} B", f"CPU ns/relayed pkt {s} B"]
    head += [f"latency p50/p99 µs {sizes[0]} B", "alloc/s", "RSS/alloc", "token API req/s"]
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "---|" * len(head))
    for c in ORDER:
        e = C[c]
        row = [LABEL[c], e["status"]]
        ok = e["status"] == "ok"
        for s in sizes:
            z = e["sizes"][str(s)]
            zc = cot.get("sizes", {}).get(str(s), {}) if cot else {}
            mp, mpc = med(z["max_pps"]), med(zc.get("max_pps"))
            cpu, cpuc = med(z["cpu_ns_per_pkt"]), med(zc.get("cpu_ns_per_pkt"))
            row.append(fmt_pps(mp) + (ratio(mp, mpc) if c != "coturn" else "") if ok else "")
            if c == "routed":
                row.append(f"{cpu:.0f} (baseline, total)" if cpu is not None else "—")
            else:
                row.append((f"{cpu:.0f}" + (ratio(cpu, cpuc, True, " less") if c != "coturn" else "")) if ok and cpu is not None else ("—" if ok else ""))
        z = e["sizes"][str(sizes[0])]
        p50, p99 = med(z["lat_p50_us"]), med(z["lat_p99_us"])
        row.append(f"{p50:.0f} / {p99:.0f}" if ok and p50 is not None and p99 is not None else ("—" if ok else ""))
        a, ac = med(e["alloc_per_s"]), med(cot.get("alloc_per_s"))
        row.append((f"{a:.0f}" + (ratio(a, ac) if c != "coturn" else "")) if a else ("—" if ok and c in ("coturn", "ntsd") else ""))
        r, rc = med(e["rss_per_alloc_bytes"]), med(cot.get("rss_per_alloc_bytes"))
        row.append((f"{r / 1024:.1f} KiB" + (ratio(r, rc, True, " less") if c != "coturn" else "")) if r else ("—" if ok and c in ("coturn", "ntsd") else ""))
        api = med(e["api_req_per_s"])
        row.append(f"{api:.0f}" if api else ("n/a" if c == "coturn" else ("—" if ok and c == "ntsd" else "")))
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append(f"max pps: highest delivered rate with < 0.1% loss (in-kernel generator, rate search, {m['flows']} "
             f"allocations); CPU: nanoseconds of CPU per relayed packet at a fixed {m['fixed_rate'] // 1000} kpps, "
             "minus the routed baseline at the same rate; latency: one-way client → peer at that rate; "
             f"alloc/s and RSS/alloc with {m['allocs']} allocations open.\n")
    ups = [(c, u) for c in ORDER for u in C[c].get("upgrade", [])]
    if ups:
        L.append("Upgrade (`ntsctl upgrade` under a 1000 pkt/s ChannelData flow, reported, not a target): " +
                 "; ".join(f"{LABEL[c]}: longest gap a client saw {u['max_gap_ms']} ms, "
                           f"{u['received']} of {u['sent']} echoed" for c, u in ups) + ".\n")
    L += targets(C, sizes)
    L += cycles(C, sizes)
    L += workers(res)
    L += clients_table(res)
    L += details(C, sizes, m)
    L.append("## Commands\n")
    for c in ORDER:
        if C[c]["command"]:
            L.append(f"- {LABEL[c]}: `{C[c]['command']}`")
    for cmd in m.get("loadgen", []):
        L.append(f"- load: `{cmd}`")
    L.append("")
    L += method(m)
    prof = os.path.join(out, "profile.txt")
    if os.path.exists(prof) and os.path.getsize(prof) > 0:
        L.append("## Profile: ntsd userspace, top symbols (perf record -g, fixed-rate and search run, 100 B)\n")
        L.append("```")
        L += [l.rstrip() for l in open(prof)]
        L.append("```\n")
    return "\n".join(L) + "\n"


def thread_shares(raw, c, size, transport=None):
    """Per repetition: each relay worker's share of ntsd's CPU, and ntsd's CPU seconds, over the
    in-kernel generator's run (transport None) or the clients' run over transport."""
    out = []
    for r in raw:
        d = r["data"]
        if r["contender"] != c or r["size"] != size or d.get("test") != "threads" \
                or d.get("transport") != transport:
            continue
        total = sum(v for v in d["cpu_s"].values() if v > 0)
        w = sorted(v / total for k, v in d["cpu_s"].items() if k.startswith("ntsd-w")) if total else []
        out.append((w, total))
    return out


def fmt_ns(v):
    return "—" if v is None else f"{v:.0f}"


def pair(a, b, f=fmt_ns):
    return f"{f(a)} / {f(b)}"


def worker_rows(res):
    """Per transport and payload: 1 worker against N, with the bound of this machine. Rows of
    (label, size, figures dict)."""
    C, raw, m = res["contenders"], res["raw"], res["meta"]
    one, many = C["ntsd"], C["ntsd-workers"]
    cores = m["cores"]
    rows = []
    for s in res["sizes"]:
        z1, zn = one["sizes"][str(s)], many["sizes"][str(s)]
        p1, pn = med(z1["max_pps"]), med(zn["max_pps"])
        # The in-kernel generator's CPU is not counted per step: the UDP clients' bound stands in.
        u1 = one.get("clients", {}).get("udp", {}).get(str(s))
        pc = med(u1["max_path_cores"]) if u1 else None
        rows.append(("UDP, in-kernel generator (8 flows)", s, {
            "p1": p1, "pn": pn, "p1min": (z1["max_pps"] or {}).get("min"),
            "pnmax": (zn["max_pps"] or {}).get("max"),
            "bound": cores / pc if pc else None, "bound_est": True,
            "max1": None, "maxn": None,
            "fix1": med(z1["cpu_relay_process_ns_per_pkt"]), "fixn": med(zn["cpu_relay_process_ns_per_pkt"]),
            "wk1": None, "wkn": None,
            "shares": [w for w, _ in thread_shares(raw, "ntsd-workers", s)]}))
    for t in TRANSPORTS:
        for s in res["sizes"]:
            z1 = one.get("clients", {}).get(t, {}).get(str(s))
            zn = many.get("clients", {}).get(t, {}).get(str(s))
            if not z1 or not zn:
                continue
            pc = med(z1["max_path_cores"])
            rows.append((f"{t.upper()}, {m.get('clients', 32)} clients", s, {
                "p1": med(z1["max_pps"]), "pn": med(zn["max_pps"]),
                "p1min": (z1["max_pps"] or {}).get("min"), "pnmax": (zn["max_pps"] or {}).get("max"),
                "bound": cores / pc if pc else None, "bound_est": False,
                "max1": med(z1["max_cpu_relay_process_ns_per_pkt"]),
                "maxn": med(zn["max_cpu_relay_process_ns_per_pkt"]),
                "fix1": med(z1["cpu_relay_process_ns_per_pkt"]), "fixn": med(zn["cpu_relay_process_ns_per_pkt"]),
                "wk1": med(z1["relay_pkts_per_wakeup"]), "wkn": med(zn["relay_pkts_per_wakeup"]),
                "path1": med(z1["max_cpu_ns_per_pkt"]), "pathn": med(zn["max_cpu_ns_per_pkt"]),
                "shares": zn["worker_shares"]}))
    return rows


def workers(res):
    """1 worker against one per core: scaling with this machine's bound, how the work divides, CPU
    per packet, and what that predicts for a larger host."""
    C, m = res["contenders"], res["meta"]
    one, many = C.get("ntsd", {}), C.get("ntsd-workers", {})
    if many.get("status") != "ok" or one.get("status") != "ok":
        return []
    n = m["cores"]
    L = ["## Relay workers (reported, not asserted)\n",
         f"ntsd with `--workers 1` against `--workers {n}` (one per core), the same load. Scaling: max "
         f"lossless rate with {n} workers / with 1. Bound: the most any number of workers can gain on this "
         f"machine, {n} cores / the cores the whole path (load generator, relay, the kernel's receive and "
         "send paths) keeps busy at the 1-worker lossless rate (for the in-kernel generator, whose CPU "
         "is not counted per step, the UDP clients' bound); a ratio above it means the 1-worker runs "
         "did not keep the whole machine busy (other jobs, or a limit other than CPU). Not slower: yes "
         f"when the median with {n} workers is at least the 1-worker median; within noise when it is "
         f"lower but the best {n}-worker repetition reaches the worst 1-worker one. Relay CPU: "
         "nanoseconds of ntsd's own CPU (its threads, and the kernel work they do) per delivered packet, "
         f"at the lossless rate and at a fixed {m['fixed_rate'] // 1000} kpps; packets per wake-up: "
         "delivered packets / the times ntsd's threads were scheduled in. Shares: each worker's part of "
         "ntsd's CPU over the run (lowest worker, per repetition).\n",
         f"| clients | payload | max pps, 1 worker | max pps, {n} workers | scaling | bound here | not slower "
         f"| relay CPU ns/pkt at max, 1 / {n} | at {m['fixed_rate'] // 1000} kpps, 1 / {n} "
         f"| pkts per wake-up at {m['fixed_rate'] // 1000} kpps, 1 / {n} | lowest worker share |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, s, f in worker_rows(res):
        p1, pn = f["p1"], f["pn"]
        sc = pn / p1 if p1 and pn else None
        ok = "—" if sc is None else "yes" if sc >= 1 else \
            f"within noise (×{sc:.2f}; ranges overlap)" if f["p1min"] and f["pnmax"] and f["pnmax"] >= f["p1min"] \
            else f"**no** (×{sc:.2f})"
        bound = "—" if not f["bound"] else f"×{f['bound']:.2f}" + (" (UDP clients')" if f["bound_est"] else "")
        lows = ", ".join(f"{min(w) * 100:.0f} %" for w in f["shares"] if w) or "—"
        L.append(f"| {label} | {s} B | {fmt_pps(p1)} | {fmt_pps(pn)} | {f'×{sc:.2f}' if sc else '—'} | {bound} "
                 f"| {ok} | {pair(f['max1'], f['maxn'])} | {pair(f['fix1'], f['fixn'])} "
                 f"| {pair(f['wk1'], f['wkn'], lambda v: '—' if v is None else f'{v:.1f}')} | {lows} |")
    L.append("")
    L += prediction(res)
    return L


def prediction(res):
    """What the measured CPU per packet predicts for a 16-core host, per client transport (100 B or
    the smallest payload)."""
    m = res["meta"]
    s = str(res["sizes"][0])
    many = res["contenders"]["ntsd-workers"].get("clients", {})
    one = res["contenders"]["ntsd"].get("clients", {})
    parts = []
    for t in TRANSPORTS:
        zn, z1 = many.get(t, {}).get(s), one.get(t, {}).get(s)
        if not zn or not z1:
            continue
        r, p = med(zn["max_cpu_relay_process_ns_per_pkt"]), med(zn["max_cpu_ns_per_pkt"])
        r1 = med(z1["max_cpu_relay_process_ns_per_pkt"])
        if not r or not p or not r1:
            continue
        parts.append(f"{t.upper()}: ntsd's CPU per packet at the lossless rate {r1:.0f} ns with one worker "
                     f"and {r:.0f} ns with {m['cores']} (×{r / r1:.2f}); 16 cores give "
                     f"{fmt_pps(16e9 / p)}–{fmt_pps(16e9 / r)}")
    if not parts:
        return []
    return ["Prediction for a 16-core host (from this run's figures, not measured): the workers share "
            "nothing per packet (each owns its sockets, allocations, timers and counters; the shared table is "
            "taken at Allocate only), so a packet costs a worker the same CPU whatever the number of workers, "
            "and the rate is 16 cores divided by the CPU per packet. The low end charges each packet the whole "
            "path measured here (load generator, relay, the kernel's receive and send paths), the high end only "
            f"ntsd's own CPU (the generator elsewhere, the NIC's receive queues spread over the cores). {s} B: "
            + "; ".join(parts) + ". This rests on: CPU per packet that does not rise with the number of "
            "workers (the column above, at the lossless rate), clients spread evenly (a UDP client by its "
            "addresses and ports, a TCP or TLS client by its address), the NIC spreading its receive work over "
            "the cores (RSS), and no limit of the NIC, memory bandwidth or the kernel's locks below 16 cores, "
            "none of which a 2-core VM can show.\n"]


def clients_table(res):
    """Many clients over UDP, TCP and TLS for every contender that ran them; ratios against coturn."""
    C, m = res["contenders"], res["meta"]
    cs = [c for c in ORDER if C[c].get("clients")]
    if not cs:
        return []
    cot = C.get("coturn", {}).get("clients", {})
    L = ["## Many clients over UDP, TCP and TLS (ratios against coturn in parentheses)\n",
         f"`nts-loadgen clients`: {m.get('clients', 32)} allocations from {m.get('client_ips', 16)} client "
         f"addresses, each on its own UDP socket, TCP connection or TLS connection, {m.get('client_batch', 32)} "
         "ChannelData frames per write (one TLS record; a sendmmsg over UDP), RFC 8656 §12.5 padding over TCP "
         "and TLS; the XDP sink on the peer veth counts the relayed datagrams. UDP: highest delivered rate "
         "with < 0.1 % loss (rate search); TCP and TLS push back, so their rate is what the "
         "sink counted while a flat-out sender wrote (best of 3 steps with < 0.1 % loss; where none had, "
         "the least lossy one, its loss in brackets: the relay read the streams faster than its UDP leg "
         "to the peer drained, and dropped there, as a router does). "
         "Relay CPU: ntsd's (or coturn's) own CPU per delivered packet at that rate.\n",
         "| contender | " + " | ".join(f"{t.upper()} {s} B pps | relay CPU ns/pkt" for t in TRANSPORTS
                                      for s in res["sizes"]) + " |",
         "|---|" + "---|---|" * len(TRANSPORTS) * len(res["sizes"])]
    for c in cs:
        row = [LABEL[c]]
        for t in TRANSPORTS:
            for s in res["sizes"]:
                z = C[c]["clients"].get(t, {}).get(str(s))
                zc = cot.get(t, {}).get(str(s))
                if not z:
                    row += ["—", "—"]
                    continue
                mp, mpc = med(z["max_pps"]), med(zc["max_pps"]) if zc else None
                ns, nsc = med(z["max_cpu_relay_process_ns_per_pkt"]), \
                    med(zc["max_cpu_relay_process_ns_per_pkt"]) if zc else None
                lost = med(z["max_loss"]) if z.get("max_loss") else None
                row.append(fmt_spread(z["max_pps"], fmt_pps) + (ratio(mp, mpc) if c != "coturn" else "")
                           + (f" [loss {lost * 100:.2f} %]" if lost and lost >= 0.001 else ""))
                row.append(fmt_ns(ns) + (ratio(ns, nsc, True, " less") if c != "coturn" and ns else ""))
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append("Two-way runs over TCP and TLS at the two-way rate (every payload byte checked, client → peer "
             "ChannelData on the stream, peer → client back on it):\n")
    L.append("| contender | transport | payload | c→p loss | p→c loss | c→p p50/p99 µs | p→c p50/p99 µs | corrupted |")
    L.append("|---|---|---|---|---|---|---|---|")
    for c in ORDER:
        for t, bys in C[c].get("stream_relay", {}).items():
            for s, y in bys.items():
                g = lambda k: med(y[k])
                if g("c2p_loss") is None or g("p2c_loss") is None:
                    continue
                L.append(f"| {LABEL[c]} | {t.upper()} | {s} B | {g('c2p_loss') * 100:.3f}% | {g('p2c_loss') * 100:.3f}% "
                         f"| {fmt_ns(g('c2p_p50_us'))} / {fmt_ns(g('c2p_p99_us'))} "
                         f"| {fmt_ns(g('p2c_p50_us'))} / {fmt_ns(g('p2c_p99_us'))} "
                         f"| {(g('c2p_bad') or 0) + (g('p2c_bad') or 0):.0f} |")
    L.append("")
    return L


def targets(C, sizes):
    L = ["## Targets (reported, not asserted)\n"]
    s = str(sizes[0])
    cpu = lambda c: med(C[c]["sizes"][s]["cpu_ns_per_pkt"]) if C[c]["status"] == "ok" else None
    mp = lambda c: med(C[c]["sizes"][s]["max_pps"]) if C[c]["status"] == "ok" else None
    cc, cu, cx = cpu("coturn"), cpu("ntsd"), cpu("ntsd-xdp")

    def line(what, got, want, unit="×"):
        if got is None:
            return f"- {what}: not measured"
        verdict = "met" if got >= want else f"missed by {want / got:.2f}×" if got > 0 else "missed"
        return f"- {what}: {got:.2f}{unit} (target ≥ {want}{unit}) — {verdict}"

    L.append(line(f"ntsd userspace, less CPU per relayed packet than coturn ({s} B)",
                  cc / cu if cc and cu and cu > 0 else None, 2))
    if cc and cx is not None and cx <= 0:
        L.append(f"- ntsd + XDP, less CPU per relayed packet than coturn ({s} B): met — the XDP relay's cost "
                 f"is at or below the routed baseline ({cx:.0f} ns vs coturn's {cc:.0f} ns above it): relaying "
                 "in XDP costs less than the kernel forwarding the same packets, so the ratio is unbounded")
    else:
        L.append(line(f"ntsd + XDP, less CPU per relayed packet than coturn ({s} B)",
                      cc / cx if cc and cx and cx > 0 else None, 20))
    def rate_vs(what, c, base, want, size):
        """The rate target of contender c against base at size: the median of the repetitions'
        ratios (paired()), with the ratio of the median rates next to it."""
        z = lambda x: C[x]["sizes"][str(size)] if C[x]["status"] == "ok" else {}
        rs = paired(z(c).get("max_pps_by_rep") or {}, z(base).get("max_pps_by_rep") or {})
        mx, mb = med(z(c).get("max_pps")), med(z(base).get("max_pps"))
        if not rs or not mx or not mb:
            return f"- {what} ({size} B): not measured"
        got = statistics.median(rs)
        return (f"- {what} ({size} B): {got * 100:.0f}% (target ≥ {want * 100:.0f}%) — "
                + ("met" if got >= want else f"missed by {want / got:.2f}×")
                + f"; median of the {len(rs)} repetitions' ratios ("
                + ", ".join(f"{r * 100:.0f}%" for r in rs)
                + "; a repetition runs the contenders one after the other); medians of the rates "
                + f"{fmt_pps(mx)} vs {fmt_pps(mb)}, {mx / mb * 100:.0f}%")

    for size in sizes:
        L.append(rate_vs("ntsd + XDP packet rate vs the wire ceiling", "ntsd-xdp", "ceiling", 0.85,
                         size))
    for size in sizes:
        L.append(rate_vs("ntsd + XDP with bandwidth limits set but not reached vs without",
                         "ntsd-xdp-limited", "ntsd-xdp", 0.9, size))
    if cx is not None and cx <= 0:
        L.append("  (XDP relay cost at or below the routed baseline: the fast path is cheaper than kernel "
                 "forwarding, so the ratio against coturn is unbounded)")
    L.append("")
    return L


def cycles(C, sizes):
    """The in-kernel paths' own cost: the XDP program's run time per packet (BPF run-time statistics)
    against the whole path's time per packet at the flat-out rate (1 / rate, all of it on one CPU)."""
    xdp = [c for c in ("ntsd-xdp", "ntsd-xdp-limited", "ceiling") if C[c]["status"] == "ok"]
    if not xdp:
        return []
    L = ["## Where the cycles go (in-kernel paths, median over repetitions)\n",
         "Program: run time of the XDP program on the server's client-facing veth per packet "
         "(`kernel.bpf_stats_enabled` via BPF_ENABLE_STATS, after the search: the least of 5 short flat-out steps, as other jobs can only add to it); path: 1 / max pps, "
         "the time the one CPU that generates, relays and sinks spends per packet; rest: generator, veths, "
         "redirect and sink. The relay's share of the gap to the ceiling is the program's difference.\n",
         "| contender | " + " | ".join(f"program ns/pkt {s} B | path ns/pkt {s} B | rest ns/pkt {s} B"
                                      for s in sizes) + " |",
         "|---|" + "---|---|---|" * len(sizes)]
    for c in xdp:
        row = [LABEL[c]]
        for s in sizes:
            z = C[c]["sizes"][str(s)]
            pn, mp = med(z["prog_ns_per_pkt"]), med(z["max_pps"])
            path = 1e9 / mp if mp else None
            row += [f"{pn:.0f}" if pn and pn > 0 else "—", f"{path:.0f}" if path else "—",
                    f"{path - pn:.0f}" if path and pn and pn > 0 else "—"]
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    micro = [C["ntsd-xdp"]["sizes"][str(s)].get("micro_ns_per_pkt") if "ntsd-xdp" in xdp else None
             for s in sizes]
    if any(micro):
        L.append("The program alone (`nts-xdp-micro`: bpf_prog_test_run repeating it over one frame that "
                 "two allocations relay back and forth, both directions, IPv4; the 10th percentile of "
                 "20000 calls; no BPF statistics, generator, veths or sink): " +
                 ", ".join(f"{m['median']:.0f} ns per packet at {s} B" for s, m in zip(sizes, micro) if m) +
                 ". Profiling builds (README, \"The XDP fast path: where the cycles go\") split it by step.\n")
    return L


def details(C, sizes, m):
    L = ["## Details: median [min–max] over repetitions\n"]
    f0 = lambda v: f"{v:.0f}"
    f1 = lambda v: f"{v:.1f}"
    fl = lambda v: f"{v * 100:.3f}%"
    for s in sizes:
        L.append(f"### {s} B payload\n")
        L.append("| contender | max pps | generator flat-out pps | CPU ns/pkt (relay) | CPU ns/pkt (whole path) "
                 "| of which relay process | CPU ns/pkt /proc/stat (relay) | loss at fixed rate | p50 µs | p99 µs "
                 "| p99.9 µs |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for c in ORDER:
            if C[c]["status"] != "ok":
                continue
            z = C[c]["sizes"][str(s)]
            L.append(f"| {LABEL[c]} | {fmt_spread(z['max_pps'], fmt_pps)} | {fmt_spread(z['flat_offered_pps'], fmt_pps)} "
                     f"| {fmt_spread(z['cpu_ns_per_pkt'], f0)} | {fmt_spread(z['cpu_ns_per_pkt_total'], f0)} "
                     f"| {fmt_spread(z['cpu_relay_process_ns_per_pkt'], f0)} "
                     f"| {fmt_spread(z['cpu_stat_ns_per_pkt'], f0)} | {fmt_spread(z['fixed_loss'], fl)} "
                     f"| {fmt_spread(z['lat_p50_us'], f1)} | {fmt_spread(z['lat_p99_us'], f1)} "
                     f"| {fmt_spread(z['lat_p999_us'], f1)} |")
        L.append("")
        L.append(f"Two-way userspace run at {m['relay_rate'] // 1000} kpps each way, every payload byte checked:\n")
        L.append("| contender | c→p loss | c→p p50/p99/p99.9 µs | p→c loss | p→c p50/p99/p99.9 µs | reordered | corrupted |")
        L.append("|---|---|---|---|---|---|---|")
        for c in ORDER:
            z = C[c]["sizes"][str(s)]
            if C[c]["status"] != "ok" or not z["relay_c2p_recv"]:
                continue
            g = lambda k: med(z["relay_" + k])
            lat = lambda d: f"{g(d + '_p50_us'):.0f} / {g(d + '_p99_us'):.0f} / {g(d + '_p999_us'):.0f}"
            L.append(f"| {LABEL[c]} | {g('c2p_loss') * 100:.3f}% | {lat('c2p')} | {g('p2c_loss') * 100:.3f}% "
                     f"| {lat('p2c')} | {g('c2p_reorder') + g('p2c_reorder'):.0f} | {g('c2p_bad') + g('p2c_bad'):.0f} |")
        L.append("")
    return L


def method(m):
    return ["## Method\n",
            "- Topology: namespaces client (c0 198.18.0.1) — server (s0 198.18.0.2, s1 198.18.1.1) — peer "
            "(p0 198.18.1.2), veth pairs, static neighbour entries, GRO on, tx checksum offload off.",
            "- Throughput: `nts-loadgen xdp` allocates through the relay (Allocate with ephemeral credentials "
            "+ ChannelBind), then an XDP program run by BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES "
            "transmits ChannelData from c0, paced in the program; an XDP sink on p0 counts datagrams that "
            "arrive with the right addresses, length, magic and payload pattern, records latency and drops "
            f"them. Flat-out first (the best of 3 steps: the host's other jobs can only lower a step's rate), "
            f"then, when none was lossless, bisection of the offered rate ({m['step_s']} s steps) for < 0.1% loss. "
            "The generator is pinned to CPU 0; relays are not pinned. For the in-kernel paths (XDP relay, "
            "wire ceiling, routed) generator, relay and sink all run in the generator's context on CPU 0, "
            "so their rate is the whole path's limit on one core; userspace relays get the other core.",
            f"- CPU: at {m['fixed_rate']} pps from a paced userspace sender (idle between sends) for "
            f"{m['fixed_s']} s, the run time of every task the packets touch (loadgen, relay process, "
            "ksoftirqd; softirq work is charged to the task it interrupts) from /proc/PID/task/*/schedstat, "
            "divided by delivered packets, minus the routed baseline (same sender, kernel forwarding, no "
            "relay). The system-wide /proc/stat figure (user+nice+system+irq+softirq, 10 ms ticks) is "
            "reported too; it also counts whatever else runs on the machine.",
            "- Two-way run: `nts-loadgen relay` sends ChannelData client → peer and UDP peer → client through "
            "the relayed addresses from one process holding sockets in both namespaces; every payload "
            "carries flow, sequence number and send time and is checked byte for byte.",
            f"- Many clients: `nts-loadgen clients` opens {m.get('clients', 32)} allocations from "
            f"{m.get('client_ips', 16)} addresses of the client veth (ntsd steers a TCP or TLS client to a worker "
            "by its address alone), each on its own UDP socket, TCP connection or TLS 1.2+ connection (P-256 "
            "certificate made per run), Allocate and ChannelBind over it, then ChannelData client → peer "
            f"written {m.get('client_batch', 32)} frames at a time, pinned to CPU 0; the XDP sink on the peer veth "
            "counts and checks the relayed datagrams. The peer-side veth pair has a queue per core, so "
            "workers on several CPUs do not overflow one ring of the sink. The relay threads' CPU time and "
            "schedstat time slices give CPU per packet and packets per wake-up.",
            "- Allocations: `nts-loadgen alloc`, 256 set-ups in flight, each a 401 round trip, an "
            "authenticated Allocate and a ChannelBind; RSS of the relay process before and after.",
            "- Token API: `nts-loadgen api`, 8 keep-alive connections POSTing Tokens.json with Basic auth.",
            ""]


def chart(res, out):
    C = res["contenders"]
    sizes = res["sizes"]
    dat = os.path.join(out, "throughput.dat")
    with open(dat, "w") as f:
        f.write("# contender " + " ".join(f"{s}B" for s in sizes) + " (Mpps)\n")
        for c in ORDER:
            if C[c]["status"] != "ok":
                continue
            vals = [med(C[c]["sizes"][str(s)]["max_pps"]) for s in sizes]
            f.write('"%s" %s\n' % (LABEL[c], " ".join(f"{v / 1e6:.4f}" if v else "NaN" for v in vals)))
    gp = os.path.join(out, "throughput.gp")
    cols = " , ".join(f"'{dat}' using {i + 2}:xtic(1) title '{s} B payload'" for i, s in enumerate(sizes))
    with open(gp, "w") as f:
        f.write(f"""set terminal svg size 900,480 dynamic font 'sans,11'
set output '{os.path.join(out, "throughput.svg")}'
set title 'Relayed ChannelData, max delivered packets/s with < 0.1% loss ({res["meta"]["cores"]} cores)'
set ylabel 'Mpps (log scale)'
set logscale y
set format y '%g'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set yrange [0.005:*]
set key top left
set xtics rotate by -15
plot {cols}
""")
    subprocess.run(["gnuplot", gp], check=False)


def main():
    out = os.path.abspath(sys.argv[1])
    raw, meta, status = load(out)
    res = aggregate(raw, meta, status)
    json.dump(res, open(os.path.join(out, "results.json"), "w"), indent=1)
    open(os.path.join(out, "report.md"), "w").write(report(res, out))
    chart(res, out)


if __name__ == "__main__":
    main()
