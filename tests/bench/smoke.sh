#!/usr/bin/env bash
# nts-test: exclusive (measures timing or loads both cores; runs alone, after the others)
# Smoke test of `make bench`: runs the QUICK bench once into a scratch directory and checks that every
# figure was produced for each contender that exists (ntsd and ntsd-workers also with many clients
# over UDP, TCP and TLS) and that every payload arrived intact. No timing
# threshold: the numbers themselves are not judged. Contenders not built yet are TAP skips.
set -u
BUILD=${NTS_BUILD:-$(pwd)/build}
TOP=${NTS_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=$(mktemp -d /tmp/nts-bench-smoke.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (namespaces, XDP)"
	exit 0
fi
# Plain make leaves the bench tooling out; make bench-build (part of make test) builds it.
if [ ! -x "$BUILD/nts-loadgen" ] || ! ls "$BUILD"/bpf/bench_*.bpf.o >/dev/null 2>&1; then
	echo "not ok 1 - nts-loadgen and the bench's XDP programs are built (make bench-build)"
	exit 1
fi
if ! timeout --kill-after=10 300 bash "$TOP/tools/bench/run.sh" "$BUILD" --quick --out "$OUT" \
	>"$OUT/run.log" 2>&1; then
	echo "not ok 1 - the quick bench ran to the end"
	sed 's/^/# /' "$OUT/run.log" | tail -20
	exit 1
fi
echo "ok 1 - the quick bench ran to the end"
/usr/bin/python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
n = 1
fails = 0

def tap(ok, what, skip=None):
    global n, fails
    n += 1
    if skip:
        print(f"ok {n} - {what} # SKIP {skip}")
    else:
        print(f"{'ok' if ok else 'not ok'} {n} - {what}")
        fails += 0 if ok else 1

files = [f for f in ("results.json", "report.md", "throughput.svg") if os.path.getsize(os.path.join(out, f)) > 0] \
    if all(os.path.exists(os.path.join(out, f)) for f in ("results.json", "report.md", "throughput.svg")) else []
tap(len(files) == 3, "results.json, report.md and throughput.svg were written")
res = json.load(open(os.path.join(out, "results.json")))
num = lambda x: x is not None and isinstance(x.get("median"), (int, float))
for c in ["routed", "coturn", "ntsd", "ntsd-xdp", "ceiling", "ntsd-xdp-limited", "ntsd-workers"]:
    e = res["contenders"][c]
    st = e["status"]
    if st.startswith("not built"):
        tap(True, f"{c}: every figure produced", skip=st)
        tap(True, f"{c}: payloads intact", skip=st)
        continue
    if st != "ok":
        tap(False, f"{c}: runs ({st})")
        continue
    missing = []
    intact = []
    for s, z in e["sizes"].items():
        for k in ["max_pps", "cpu_ns_per_pkt", "cpu_ns_per_pkt_total", "cpu_stat_ns_per_pkt", "lat_p50_us",
                  "lat_p99_us", "fixed_delivered"]:
            if not num(z[k]):
                missing.append(f"{k}@{s}B")
        if c in ("ntsd-xdp", "ceiling", "ntsd-xdp-limited") and not num(z["prog_ns_per_pkt"]):
            missing.append(f"prog_ns_per_pkt@{s}B")
        if c == "ntsd-xdp" and not (num(z["micro_ns_per_pkt"]) and z["micro_ns_per_pkt"]["min"] > 0):
            missing.append(f"micro_ns_per_pkt@{s}B")
        intact.append((num(z["fixed_bad"]) and z["fixed_bad"]["max"] == 0 and num(z["fixed_delivered"])
                       and z["fixed_delivered"]["min"] > 0,
                       f"xdp@{s}B bad {z['fixed_bad']} delivered {z['fixed_delivered']}"))
        if c in ("coturn", "ntsd", "ntsd-xdp", "ntsd-xdp-limited", "ntsd-workers"):
            for k in ["c2p_p50_us", "c2p_p99_us", "p2c_p50_us", "p2c_p99_us", "c2p_loss", "p2c_loss"]:
                if not num(z["relay_" + k]):
                    missing.append(f"relay_{k}@{s}B")
            intact.append((all(num(z["relay_" + k]) and z["relay_" + k]["max"] == 0 for k in ("c2p_bad", "p2c_bad"))
                           and all(num(z["relay_" + k]) and z["relay_" + k]["min"] > 0 for k in ("c2p_recv", "p2c_recv")),
                           f"relay@{s}B " + " ".join(f"{k} {z['relay_' + k]}" for k in
                                                    ("c2p_bad", "p2c_bad", "c2p_recv", "p2c_recv"))))
    if c in ("coturn", "ntsd"):
        for k in ["alloc_per_s", "rss_per_alloc_bytes"]:
            if not num(e[k]):
                missing.append(k)
    if c == "ntsd" and not (num(e["api_req_per_s"]) and e["api_req_per_s"]["min"] > 0):
        missing.append("api_req_per_s (requests answered 2xx)")
    # Many clients over UDP, TCP and TLS (the quick bench runs them for ntsd and ntsd-workers);
    # two-way runs over TCP and TLS with every payload byte checked.
    if c in res["meta"]["clients_for"].split():
        for t in res["meta"]["transports"].split():
            for s in map(str, res["sizes"]):
                z = e.get("clients", {}).get(t, {}).get(s)
                if not z:
                    missing.append(f"clients_{t}@{s}B")
                    continue
                for k in ["max_pps", "max_cpu_relay_process_ns_per_pkt", "max_path_cores",
                          "cpu_relay_process_ns_per_pkt", "relay_pkts_per_wakeup", "lat_p50_us",
                          "fixed_delivered"]:
                    if not num(z[k]):
                        missing.append(f"clients_{t}_{k}@{s}B")
                if c == "ntsd-workers" and not [w for w in z["worker_shares"] if w]:
                    missing.append(f"clients_{t}_worker_shares@{s}B")
                intact.append((num(z["fixed_bad"]) and z["fixed_bad"]["max"] == 0
                               and num(z["fixed_delivered"]) and z["fixed_delivered"]["min"] > 0,
                               f"clients_{t}@{s}B bad {z['fixed_bad']} delivered {z['fixed_delivered']}"))
                if t == "udp":
                    continue
                y = e.get("stream_relay", {}).get(t, {}).get(s)
                if not y:
                    missing.append(f"relay_{t}@{s}B")
                    continue
                intact.append((all(num(y[k]) and y[k]["max"] == 0 for k in ("c2p_bad", "p2c_bad"))
                               and all(num(y[k]) and y[k]["min"] > 0 for k in ("c2p_recv", "p2c_recv")),
                               f"relay_{t}@{s}B " + " ".join(f"{k} {y[k]}" for k in
                                                            ("c2p_bad", "p2c_bad", "c2p_recv", "p2c_recv"))))
    tap(not missing, f"{c}: every figure produced" + (f" (missing: {', '.join(missing)})" if missing else ""))
    broken = [what for ok, what in intact if not ok]
    tap(intact and not broken, f"{c}: payloads intact (pattern, length, both directions, every transport)"
        + (f" (not: {'; '.join(broken)})" if broken else ""))
print(f"1..{n}")
sys.exit(1 if fails else 0)
PY
rc=$?
[ $rc -eq 0 ] || sed 's/^/# /' "$OUT/run.log" | tail -20
exit $rc
