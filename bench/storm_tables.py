#!/usr/bin/env python3
"""Markdown tables from bench/storm.sh's results file (one `key=value` line a run)."""

import statistics
import sys


def parse(path):
    runs, meta = [], {}
    for line in open(path):
        words = line.split()
        if not words:
            continue
        kv = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        if words[0] == "result":
            runs.append(kv)
        else:
            meta.setdefault(words[0], []).append(line.strip())
    return runs, meta


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def cpu(r):
    total = r.get("server_cpu_s")
    if total is None:
        return "–"
    tftp = r.get("tftp_thread_cpu_s")
    return f"{total} ({tftp})" if tftp not in (None, "0.00") else total


def busy(r):
    """Servers' and load generator's CPU over what the cores had in the run."""
    server, client, wall = num(r.get("server_cpu_s")), num(r.get("client_cpu_s")), num(r.get("wall_s"))
    cores = num(r.get("cores"))
    if None in (server, client, wall, cores) or wall == 0:
        return "–"
    return f"{100 * (server + client) / (wall * cores):.0f}%"


def main():
    runs, meta = parse(sys.argv[1])
    for k in ("machine", "params", "version"):
        for line in meta.get(k, []):
            print(f"- {line}")
    print()
    order = []
    for r in runs:
        if r["cfg"] not in order:
            order.append(r["cfg"])

    def ok(r):
        return r.get("rc") == "0" and num(r.get("wall_s")) is not None

    def med(cfg):
        walls = [num(r["wall_s"]) for r in runs if r["cfg"] == cfg and ok(r)]
        return statistics.median(walls) if walls else None

    raw, alone = med("iperf3"), med("nginx")
    print("| setup | wall s (each run) | median | vs raw copy | vs nginx alone | DHCP retransmits (machines) | DHCP NAKs | failed | TFTP resends |")
    print("|---|---|---:|---:|---:|---|---|---|---|")
    for cfg in order:
        rs = [r for r in runs if r["cfg"] == cfg]
        walls = ", ".join(r.get("wall_s", r.get("rc", "?")) if ok(r) or "wall_s" in r else r.get("rc", "?") for r in rs)
        m = med(cfg)
        vs = lambda base: f"{m / base:.2f}x" if m and base else "–"  # noqa: E731
        if cfg == "iperf3":
            retr = fail = resend = naks = "–"
        else:
            retr = ", ".join(f"{r.get('dhcp_retransmits', '?')} ({r.get('clients_retransmitting', '?')})" for r in rs) if cfg != "nginx" else "– (no DHCP)"
            naks = ", ".join(r.get("dhcp_naks", "?") for r in rs) if cfg != "nginx" else "–"
            fail = ", ".join(r.get("failed", r.get("rc", "?")) for r in rs)
            resend = ", ".join(r.get("tftp_resends", "?") for r in rs) if cfg != "nginx" else "–"
        print(f"| {cfg} | {walls} | {m if m is not None else '–'} | {vs(raw)} | {vs(alone)} | {retr} | {naks} | {fail} | {resend} |")
    print()
    print("Per run, per machine phase times in seconds (p50 / p90 / max):")
    print()
    print("| setup | run | wall s | DHCP | TFTP | HTTP | MB/s (HTTP+TFTP bytes ÷ wall) | server CPU s (awl's TFTP thread) | client CPU s | cores busy | boot file offered | failures by phase |")
    print("|---|---:|---:|---|---|---|---:|---|---:|---:|---|---|")
    for cfg in order:
        for r in runs:
            if r["cfg"] != cfg:
                continue
            if cfg == "iperf3":
                print(f"| iperf3 | {r['rep']} | {r.get('wall_s', r.get('rc'))} | – | – | – | {r.get('MBps', '–')} | – | – | – | – | – |")
                continue
            print(
                f"| {cfg} | {r['rep']} | {r.get('wall_s', r.get('rc'))} | {r.get('dhcp_s', '–')} | {r.get('tftp_s', '–')} | "
                f"{r.get('http_s', '–')} | {r.get('MBps', '–')} | {cpu(r)} | {r.get('client_cpu_s', '–')} | {busy(r)} | {r.get('boot_files', '–')} | {r.get('fail_phases', '–')} |"
            )


if __name__ == "__main__":
    main()
