#!/usr/bin/env python3
"""Parses perfdhcp output and prints bench/dhcp.sh's markdown tables.

Usage:
  dhcp_tables.py parse PERFDHCP_OUTPUT   -> one JSON object on stdout
  dhcp_tables.py tables RESULTS_JSONL    -> markdown tables on stdout

`parse` expects perfdhcp run with `-x t` (every exchange's send and receive
timestamps) and `-x l` (every lease received). From them it computes:

  - discover/offer/request/ack counts (perfdhcp's own statistics sections),
  - DISCOVER->OFFER and REQUEST->ACK delays: p50, p99, max (ms), computed
    from the timestamps of every successful exchange,
  - the run's span: first DISCOVER sent to the later of the last ACK
    received and the last DISCOVER sent, from the same timestamps
    (perfdhcp's own "Rate:" line also counts its exit wait, -W), and
    completed DORA/s = ACKs received / span,
  - distinct addresses ACKed (leases granted),
  - perfdhcp's "non unique addresses" counters (-u: two clients given the
    same address).

`tables` reads one JSON object per line (written by bench/dhcp.sh: the parse
result plus server, clients, rep, rss_start_kb, rss_end_kb, hwm_kb, ...)
and prints one table per client count, with the median over repetitions.
"""

import json
import re
import statistics
import sys


def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a list; None if empty."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


def parse(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    out = {}
    # Statistics sections (printed once or twice: take the first).
    for name, key in (("DISCOVER-OFFER", "do"), ("REQUEST-ACK", "ra")):
        m = re.search(
            r"\*\*\*Statistics for: %s\*\*\*\s*\nsent packets: (\d+)\s*\nreceived packets: (\d+)\s*\ndrops: (\d+)"
            r"(?:.*?\norphans: (\d+))?(?:.*?\nrejected leases: (\d+))?(?:.*?\nnon unique addresses: (\d+))?" % name,
            text,
            re.S,
        )
        if m:
            out[key + "_sent"] = int(m.group(1))
            out[key + "_recv"] = int(m.group(2))
            out[key + "_drops"] = int(m.group(3))
            out[key + "_orphans"] = int(m.group(4) or 0)
            out[key + "_rejected"] = int(m.group(5) or 0)
            out[key + "_nonunique"] = int(m.group(6) or 0)
        else:
            for f in ("sent", "recv", "drops", "orphans", "rejected", "nonunique"):
                out[key + "_" + f] = 0
    # Timestamps of every successful exchange (-x t).
    times = {}
    for name, key in (("DISCOVER-OFFER", "do"), ("REQUEST-ACK", "ra")):
        m = re.search(r"\*\*\*Timestamps for packets: %s\*\*\*\n(.*?)(?:\n\s*\n|\n\*\*\*|\Z)" % name, text, re.S)
        pairs = []
        if m:
            for sm in re.finditer(r"sent / received: ([\d.]+) / ([\d.]+)", m.group(1)):
                pairs.append((float(sm.group(1)), float(sm.group(2))))
        times[key] = pairs
        delays = [(r - s) * 1000.0 for s, r in pairs]
        out[key + "_p50_ms"] = pct(delays, 50)
        out[key + "_p99_ms"] = pct(delays, 99)
        out[key + "_max_ms"] = max(delays) if delays else None
        out[key + "_mean_ms"] = statistics.fmean(delays) if delays else None
        out[key + "_timestamps"] = len(pairs)
    first_sent = min((s for s, _ in times["do"]), default=None)
    last_ack = max((r for _, r in times["ra"]), default=None)
    last_discover = max((s for s, _ in times["do"]), default=None)
    if first_sent is not None and last_ack is not None and last_ack > first_sent:
        # To the last ACK, but never shorter than the sending itself (when
        # most exchanges fail, the last ACK can come early).
        out["span_s"] = max(last_ack, last_discover) - first_sent
        out["dora_per_s"] = out["ra_recv"] / out["span_s"]
    else:
        out["span_s"] = None
        out["dora_per_s"] = 0.0
    out["send_span_s"] = (last_discover - first_sent) if first_sent is not None else None
    # Leases received (-x l): distinct addresses in the REQUEST-ACK section.
    m = re.search(r"\*\*\*Leases for REQUEST-ACK\*\*\*\n(.*?)(?:\n\*\*\*|\Z)", text, re.S)
    addrs = set()
    if m:
        for line in m.group(1).splitlines():
            parts = line.split(",")
            if len(parts) >= 2 and re.fullmatch(r"\d+\.\d+\.\d+\.\d+", parts[1].strip()):
                addrs.add(parts[1].strip())
    out["acked_addresses"] = len(addrs)
    m = re.search(r"^Rate: ([\d.]+)", text, re.M)
    out["perfdhcp_rate"] = float(m.group(1)) if m else None
    return out


def fmt(v, spec="{:.2f}", none="–"):
    return none if v is None else spec.format(v)


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def tables(path):
    rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    if not rows:
        print("(no results)")
        return
    order = []
    for r in rows:
        if r["server"] not in order:
            order.append(r["server"])
    keys = ("dora_per_s", "ra_recv", "do_sent", "do_drops", "ra_drops",
            "do_p50_ms", "do_p99_ms", "do_max_ms", "ra_p50_ms", "ra_p99_ms", "ra_max_ms",
            "leases", "rss_start_kb", "rss_end_kb", "hwm_kb", "kib_per_lease")
    for n in sorted({r["clients"] for r in rows}):
        sub = [r for r in rows if r["clients"] == n]
        reps = max(r["rep"] for r in sub)
        print()
        print(f"### {n:,} clients (distinct MACs), median of up to {reps} run{'s' if reps > 1 else ''}")
        print()
        print("| offered /s | server | DORA/s | DORA/s vs awl | ACKs / DISCOVERs | lost D→O / R→A | "
              "D→O p50 / p99 / max ms | R→A p50 / p99 / max ms | leases | "
              "RSS start → end MiB | KiB per lease | peak RSS MiB | peak RSS vs awl | answers after |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for rate in sorted({r["rate"] for r in sub}):
            stats = {}
            for s in order:
                rs = [r for r in sub if r["server"] == s and r["rate"] == rate]
                if not rs:
                    continue
                ok = [r for r in rs if not r.get("failed")]
                if not ok:
                    stats[s] = None
                    continue
                st = {k: med(ok, k) for k in keys}
                # perfdhcp overshoots -n by a few exchanges, which reuse the
                # first MACs: those clients get their own address again and
                # -u counts it. Only what goes beyond that is a duplicate.
                st["nonunique"] = sum(
                    max(0, r.get("ra_nonunique", 0) - max(0, r["do_sent"] - r["clients"])) for r in ok)
                st["probe"] = min(r.get("probe_acks", -1) for r in ok)
                st["probe_runs"] = f"{sum(1 for r in ok if r.get('probe_acks') == 5)}/{len(ok)}"
                st["runs"] = len(ok)
                st["failed"] = len(rs) - len(ok)
                stats[s] = st
            awl = stats.get("awl")
            for s, st in stats.items():
                if st is None:
                    print(f"| {rate} | {s} | failed | – | – | – | – | – | – | – | – | – | – | – |")
                    continue
                # A ratio against a run where awl completed under half of the
                # exchanges means nothing.
                awl_done = awl and awl["do_sent"] and awl["ra_recv"] >= awl["do_sent"] / 2
                rate_ratio = (f"{st['dora_per_s'] / awl['dora_per_s']:.2f}x"
                              if awl_done and awl["dora_per_s"] else "–")
                mem_ratio = (f"{st['hwm_kb'] / awl['hwm_kb']:.2f}x"
                             if awl and awl.get("hwm_kb") and st.get("hwm_kb") else "–")
                nonu = f" ({st['nonunique']} non-unique!)" if st["nonunique"] else ""
                mib = lambda kb: None if kb is None else kb / 1024
                probe = "yes" if st["probe"] == 5 else f"**no** ({st['probe_runs']} runs answered all 5)"
                print("| {} | {} | {} | {} | {} / {} | {} / {} | {} / {} / {} | {} / {} / {} | {}{} | {} → {} | {} | {} | {} | {} |".format(
                    rate, s,
                    fmt(st["dora_per_s"], "{:.0f}"),
                    rate_ratio,
                    fmt(st["ra_recv"], "{:.0f}"), fmt(st["do_sent"], "{:.0f}"),
                    fmt(st["do_drops"], "{:.0f}"), fmt(st["ra_drops"], "{:.0f}"),
                    fmt(st["do_p50_ms"]), fmt(st["do_p99_ms"]), fmt(st["do_max_ms"], "{:.1f}"),
                    fmt(st["ra_p50_ms"]), fmt(st["ra_p99_ms"]), fmt(st["ra_max_ms"], "{:.1f}"),
                    fmt(st["leases"], "{:.0f}"), nonu,
                    fmt(mib(st["rss_start_kb"]), "{:.1f}"), fmt(mib(st["rss_end_kb"]), "{:.1f}"),
                    # Under 100 leases, one page (4 KiB) is noise.
                    fmt(st["kib_per_lease"] if (st["leases"] or 0) >= 100 else None, "{:.2f}"),
                    fmt(mib(st["hwm_kb"]), "{:.1f}"),
                    mem_ratio,
                    probe,
                ))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "parse":
        print(json.dumps(parse(sys.argv[2])))
    elif len(sys.argv) == 3 and sys.argv[1] == "tables":
        tables(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
