#!/usr/bin/env python3
"""Markdown tables from bench/http.sh's results file.

Usage: http_tables.py RESULTS

Each line of RESULTS is a kind followed by key=value fields (see http.sh).
MB/s is 10^6 bytes a second. Memory: "Σ VmHWM" is the sum over the
server's processes of each one's peak resident set since the run started
(http.sh resets it with clear_refs before each run): exact for awl, one
process; for nginx (master + workers) it counts pages they share once per
process. "peak Σ PSS" is sampled every 0.1 s (bench/rss_sampler.py) and
counts a shared page once in all.
"""

import statistics
import sys

SERVERS = ["awl", "nginx"]


def parse(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            fields = {"kind": parts[0]}
            for p in parts[1:]:
                if "=" in p:
                    k, v = p.split("=", 1)
                    fields[k] = v
            rows.append(fields)
    return rows


def mib(kb):
    return kb / 1024


def fmt_ratio(x, base):
    if not base:
        return "–"
    return f"{x / base:.2f}x"


def main():
    rows = parse(sys.argv[1])
    params = next((r for r in rows if r["kind"] == "params"), {})
    tck = float(params.get("clk_tck", 100))
    single_mib = int(params.get("single_mib", 1024))
    many_mib = int(params.get("many_mib", 64))
    clients = int(params.get("clients", 200))
    want_single = single_mib * 1048576
    want_many = many_mib * 1048576
    gib = 1 << 30

    for r in rows:
        if r["kind"] in ("machine", "version", "params"):
            print(f"<!-- {' '.join(f'{k}={v}' for k, v in r.items() if k != 'kind')} -->")

    checks = [r for r in rows if r["kind"] == "check"]
    if checks:
        print()
        print(
            "Bytes checked (sha256 of one whole download against the file's): "
            + ", ".join(f"{c['server']} {c['file']} {'ok' if c['sha256_match'] == 'yes' else '**MISMATCH**'}" for c in checks)
            + "."
        )

    # --- single stream
    single = {}
    for s in SERVERS:
        runs = [r for r in rows if r["kind"] == "single" and r["server"] == s]
        good = [
            r for r in runs
            if r["rc"] == "0" and r["code"] == "200" and int(r["bytes"]) == want_single
        ]
        if not good:
            single[s] = None
            continue
        speeds = [int(r["bytes"]) / float(r["seconds"]) / 1e6 for r in good]
        cpu = [int(r["cpu_ticks"]) / tck / (int(r["bytes"]) / gib) for r in good]
        single[s] = {
            "n": len(good),
            "runs": len(runs),
            "med": statistics.median(speeds),
            "min": min(speeds),
            "max": max(speeds),
            "cpu": statistics.median(cpu),
            "hwm": max(int(r["hwm_kb"]) for r in good),
            "pss": max(int(r["pss_kb"]) for r in good),
            "procs": good[0]["procs"],
        }
    print()
    print(f"Single stream, {single_mib} MiB, `curl -o /dev/null`: median of {max((v or {}).get('runs', 0) for v in single.values())} runs per server (× vs awl)")
    print()
    print("| server | MB/s median | min – max | × vs awl | server CPU s per GiB | peak Σ VmHWM MiB | peak Σ PSS MiB | memory vs awl (VmHWM / PSS) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    base = single.get("awl")
    for s in SERVERS:
        v = single[s]
        if v is None:
            print(f"| {s} | failed | | | | | | |")
            continue
        name = f"**{s}**" if s == "awl" else s
        procs = f" ({v['procs']} procs)" if v["procs"] != "1" else ""
        print(
            f"| {name} | {v['med']:.0f} | {v['min']:.0f} – {v['max']:.0f} | "
            f"{fmt_ratio(v['med'], base and base['med'])} | {v['cpu']:.2f} | "
            f"{mib(v['hwm']):.1f}{procs} | {mib(v['pss']):.1f} | "
            f"{fmt_ratio(v['hwm'], base and base['hwm'])} / {fmt_ratio(v['pss'], base and base['pss'])} |"
        )

    # --- concurrent
    many = {}
    for s in SERVERS:
        runs = [r for r in rows if r["kind"] == "many" and r["server"] == s]
        if not runs:
            many[s] = None
            continue
        aggs = [int(r["bytes"]) / (int(r["wall_ns"]) / 1e9) / 1e6 for r in runs]
        order = sorted(range(len(runs)), key=lambda i: aggs[i])
        mid = runs[order[(len(order) - 1) // 2]]
        cpu = [int(r["cpu_ticks"]) / tck / (int(r["bytes"]) / gib) for r in runs if int(r["bytes"])]
        many[s] = {
            "runs": len(runs),
            "ok": sum(int(r["ok"]) for r in runs),
            "bad": sum(int(r["bad"]) for r in runs),
            "med": statistics.median(aggs),
            "min": min(aggs),
            "max": max(aggs),
            "wall": statistics.median(int(r["wall_ns"]) / 1e9 for r in runs),
            "client": [float(x) / 1e6 for x in mid["client_speeds"].split(",")],
            "cpu": statistics.median(cpu) if cpu else 0.0,
            "hwm": max(int(r["hwm_kb"]) for r in runs),
            "pss": max(int(r["pss_kb"]) for r in runs),
            "procs": runs[0]["procs"],
        }
    print()
    print(
        f"{clients} concurrent clients × {many_mib} MiB: median of {max((v or {}).get('runs', 0) for v in many.values())} "
        "runs per server; aggregate = bytes of whole downloads ÷ wall time from the first curl's start to the last one's exit"
    )
    print()
    print("| server | completed / failed (all runs) | wall s | aggregate MB/s median | min – max | × vs awl | per-client MB/s min / median / max | server CPU s per GiB | peak Σ VmHWM MiB | peak Σ PSS MiB | memory vs awl (VmHWM / PSS) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = many.get("awl")
    for s in SERVERS:
        v = many[s]
        if v is None:
            print(f"| {s} | not run | | | | | | | | | |")
            continue
        name = f"**{s}**" if s == "awl" else s
        c = v["client"]
        procs = f" ({v['procs']} procs)" if v["procs"] != "1" else ""
        print(
            f"| {name} | {v['ok']} / {v['bad']} | {v['wall']:.2f} | {v['med']:.0f} | {v['min']:.0f} – {v['max']:.0f} | "
            f"{fmt_ratio(v['med'], base and base['med'])} | {c[0]:.1f} / {c[1]:.1f} / {c[2]:.1f} | {v['cpu']:.2f} | "
            f"{mib(v['hwm']):.1f}{procs} | {mib(v['pss']):.1f} | "
            f"{fmt_ratio(v['hwm'], base and base['hwm'])} / {fmt_ratio(v['pss'], base and base['pss'])} |"
        )

    idle = [r for r in rows if r["kind"] == "idle"]
    if idle:
        print()
        print(
            "Σ VmHWM just after start (idle): "
            + ", ".join(f"{r['server']} {mib(int(r['hwm_kb'])):.1f} MiB ({r['procs']} procs)" for r in idle)
            + "."
        )
    commands = []
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            if line.startswith("command "):
                commands.append(line.split(" ", 2)[2].rstrip("\n"))
    if commands:
        print()
        print("```sh")
        for c in commands:
            print(c)
        print("```")
    dead = [r for r in rows if r["kind"] == "end" and r["alive"] != "yes"]
    for r in dead:
        print(f"\n**{r['server']} was no longer running at the end.**")


if __name__ == "__main__":
    main()
