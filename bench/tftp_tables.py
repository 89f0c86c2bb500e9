#!/usr/bin/env python3
"""Markdown tables from the results file bench/tftp.sh writes.

Usage: python3 bench/tftp_tables.py RESULTS  (bench/.cache/last-run/results.txt)
"""

import statistics
import sys
from collections import OrderedDict, defaultdict

ORDER = ["awl", "tftpd-hpa", "dnsmasq", "atftpd"]


def parse(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            kv = {"kind": parts[0]}
            for p in parts[1:]:
                if "=" in p:
                    k, v = p.split("=", 1)
                    kv[k] = v
            rows.append(kv)
    return rows


def num(v, default=None):
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def ratio(value, base):
    if value is None or not base:
        return "–"
    return f"{value / base:.2f}x"


def granted_text(oack, blksize, window):
    """OACK as the client saw it: 'blksize/windowsize' granted."""
    if oack in (None, "-", ""):
        return "–"
    if oack == "none":
        return "no OACK (512/1)"
    opts = dict(p.split(":", 1) for p in oack.split(",") if ":" in p)
    b = opts.get("blksize", "–")
    w = opts.get("windowsize", "–")
    t = "" if "tsize" in opts else ", no tsize"
    return f"{b}/{w}{t}"


def main():
    rows = parse(sys.argv[1])
    servers = []
    skipped = {}
    failed_start = {}
    versions = {}
    machine = params = None
    single = defaultdict(lambda: defaultdict(list))  # server -> cfg -> rows
    many = {}
    memory = {}
    configs = []
    for r in rows:
        kind = r["kind"]
        s = r.get("server")
        if kind == "machine":
            machine = r
        elif kind == "params":
            params = r
        elif kind == "version":
            versions[s] = r.get("v", "?")
        elif kind == "skip":
            skipped[s] = r.get("why", "").replace("_", " ")
        elif kind == "fail":
            failed_start[s] = r.get("why", "").replace("_", " ")
        elif kind == "result":
            if s not in servers:
                servers.append(s)
            if r.get("test") == "single":
                if r["cfg"] not in configs:
                    configs.append(r["cfg"])
                single[s][r["cfg"]].append(r)
            else:
                many[s] = r
        elif kind == "memory":
            memory[s] = r
    for s in list(skipped) + list(failed_start):
        if s not in servers:
            servers.append(s)
    servers.sort(key=lambda s: ORDER.index(s) if s in ORDER else len(ORDER))

    out = []
    if machine:
        out.append(
            f"Machine: {machine.get('cores')} cores, Linux {machine.get('kernel')}, "
            f"{machine.get('mem_gib')} GiB. Servers: "
            + ", ".join(f"{s} {versions.get(s, '?')}" for s in servers)
            + "."
        )
    for s, why in skipped.items():
        out.append(f"\n**{s}: {why}** (not benchmarked; ratios vs awl are –).")
    for s, why in failed_start.items():
        out.append(f"\n**{s}: {why}**.")

    # 1. Single stream.
    reps = params.get("reps", "?") if params else "?"
    mib = params.get("single_mib", "?") if params else "?"
    medians = {}
    for s in servers:
        for c in configs:
            ok = [num(r.get("aggregate_mbps")) for r in single[s][c] if r.get("rc") == "0"]
            ok = [v for v in ok if v is not None]
            medians[(s, c)] = statistics.median(ok) if ok else None
    out.append(
        f"\n### Single stream, {mib} MiB file: median MB/s of {reps} runs (x vs awl)\n"
    )
    out.append("| server | " + " | ".join(f"blksize {c.replace('/', ', window ')}" for c in configs) + " |")
    out.append("|---|" + "---:|" * len(configs))
    for s in servers:
        cells = []
        for c in configs:
            runs = single[s][c]
            m = medians[(s, c)]
            bad = sum(1 for r in runs if r.get("rc") != "0")
            if not runs:
                cells.append(skipped.get(s, failed_start.get(s, "–")))
                continue
            if m is None:
                cells.append(f"failed ({bad}/{len(runs)})")
                continue
            cell = f"{m:.1f} ({ratio(m, medians.get(('awl', c)))})"
            if bad:
                cell += f" [{bad} of {len(runs)} failed]"
            cells.append(cell)
        out.append(f"| {s} | " + " | ".join(cells) + " |")

    out.append("\n### Options granted (OACK seen by the client: blksize/windowsize; – = left out)\n")
    out.append("| server | " + " | ".join(f"asked {c}" for c in configs) + " |")
    out.append("|---|" + "---|" * len(configs))
    for s in servers:
        cells = []
        for c in configs:
            seen = OrderedDict()
            for r in single[s][c]:
                g = r.get("first_oack")
                if g and g != "-":
                    seen[granted_text(g, None, None)] = True
            cells.append(" or ".join(seen) if seen else "–")
        out.append(f"| {s} | " + " | ".join(cells) + " |")

    # 2. Many clients.
    clients = params.get("clients", "?") if params else "?"
    mmib = params.get("many_mib", "?") if params else "?"
    out.append(
        f"\n### {clients} concurrent clients, {mmib} MiB each, asking blksize 1468 and windowsize 16\n"
    )
    out.append(
        "| server | granted | completed / failed | wall s | aggregate MB/s | per-client MB/s min / median / max "
        "| client resends | server VmHWM MiB | peak Σ RSS MiB (procs) | peak Σ PSS MiB | MB/s vs awl | memory vs awl |"
    )
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    def mem(s):
        """(main VmHWM, peak sum RSS, procs at that peak, peak sum PSS) in MiB."""
        m = memory.get(s)
        if not m:
            return None
        return (
            num(m.get("main_hwm_kb"), 0) / 1024,
            num(m.get("peak_sum_rss_kb"), 0) / 1024,
            m.get("procs_at_peak", "?"),
            num(m.get("peak_sum_pss_kb"), 0) / 1024,
        )

    def footprint(s):
        """What 'memory vs awl' compares: the larger of the server's own
        VmHWM and the peak sampled sum of PSS over it and its children."""
        m = mem(s)
        return None if m is None else max(m[0], m[3])

    awl_many = many.get("awl")
    awl_rate = num(awl_many.get("aggregate_mbps")) if awl_many and awl_many.get("rc") == "0" else None
    for s in servers:
        r = many.get(s)
        if not r:
            why = skipped.get(s) or failed_start.get(s) or "–"
            out.append(f"| {s} | {why} |" + " |" * 11)
            continue
        if r.get("rc") == "budget":
            out.append(f"| {s} | skipped: time budget |" + " |" * 11)
            continue
        rate = num(r.get("aggregate_mbps"))
        grant = f"{r.get('blksize', '–')}/{r.get('windowsize', '–')}"
        if r.get("oack", "").startswith("0/"):
            grant += " (no OACK)"
        m = mem(s)
        if m:
            mem_cells = f"{m[0]:.1f} | {m[1]:.1f} ({m[2]}) | {m[3]:.1f}"
        else:
            mem_cells = "– | – | –"
        status = f"{r.get('completed', '0')} / {r.get('failed', '?')}"
        if r.get("rc") not in ("0", None):
            status += f" (exit {r.get('rc')})"
        out.append(
            f"| {s} | {grant} | {status} | {num(r.get('wall_s'), 0):.2f} | {rate or 0:.1f} | "
            f"{r.get('min_mbps', '–')} / {r.get('median_mbps', '–')} / {r.get('max_mbps', '–')} | "
            f"{r.get('timeouts', '–')} | {mem_cells} | "
            f"{ratio(rate if r.get('rc') == '0' else None, awl_rate)} | {ratio(footprint(s), footprint('awl'))} |"
        )
    print("\n".join(out))


if __name__ == "__main__":
    main()
