#!/usr/bin/env python3
"""Markdown tables from bench/image.sh's results file (one `result k=v ...`
line per run, plus `command`, `machine`, `version`, `note`, `uptime`
lines). Usage: bench/image_tables.py RESULTS"""
import shlex
import statistics
import sys


def parse(path):
    runs, meta = [], []
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("result "):
            row = {}
            for tok in shlex.split(line[len("result "):]):
                k, _, v = tok.partition("=")
                row[k] = v
            runs.append(row)
        elif line:
            meta.append(line)
    return runs, meta


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fmt(v, digits=1):
    return "–" if v is None else f"{v:.{digits}f}"


def mib(row):
    k = num(row.get("hwm_kib"))
    return None if k is None else k / 1024


def med(rows, key):
    vals = [key(r) for r in rows]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def ratio(a, b):
    return "–" if a is None or b in (None, 0) else f"{a / b:.2f}x"


def what(row):
    if row.get("setup") == "awl":
        return (f"deploys {row.get('deploys', '?')}, local boots {row.get('local_boots', '?')}, "
                f"installed {row.get('installed', '?')}")
    return (f"deploy.conf GETs {row.get('deploys', '?')}, image GETs {row.get('image_gets', '?')}, "
            f"seed GETs {row.get('seed_gets', '?')}")


def main():
    runs, meta = parse(sys.argv[1])
    single = [r for r in runs if r.get("part") == "single"]
    many = [r for r in runs if r.get("part") == "many"]
    out = []
    out.append("## Image path: power-on (empty disk) to the installed system's login prompt, 1 machine\n")
    out.append("| setup | boot order | run | load 1-min start → end | to AWL-DEPLOY-WRITTEN s "
               "| to login prompt s | written → login s | server CPU s | server peak RSS MiB (procs) | what the server saw |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in single:
        if r.get("ok") != "1":
            out.append(f"| {r.get('setup')} | {r.get('boot_order', '')} | {r.get('run')} | "
                       f"{r.get('load_start', '')} → {r.get('load_end', '')} | {r.get('written_s', '–')} "
                       f"| failed: {r.get('fail', '?')} | | {r.get('cpu_s', '–')} | | |")
            continue
        w, lg = num(r.get("written_s")), num(r.get("login_s"))
        out.append(
            f"| {r['setup']} | {r['boot_order']} | {r['run']} | {r['load_start']} → {r['load_end']} "
            f"| {fmt(w)} | {fmt(lg)} | {fmt(None if w is None or lg is None else lg - w)} "
            f"| {fmt(num(r['cpu_s']), 2)} | {fmt(mib(r))} ({r['procs']}) | {what(r)} |")
    setups = []
    for r in single:
        if r["setup"] not in setups:
            setups.append(r["setup"])
    ok = {s: [r for r in single if r["setup"] == s and r.get("ok") == "1"] for s in setups}
    if "awl" in ok and ok["awl"]:
        base = {
            "w": med(ok["awl"], lambda r: num(r.get("written_s"))),
            "l": med(ok["awl"], lambda r: num(r.get("login_s"))),
            "c": med(ok["awl"], lambda r: num(r.get("cpu_s"))),
            "m": med(ok["awl"], mib),
        }
    else:
        base = None
    out.append("\nMedians, and each setup ÷ awl (above 1.00x: slower, more CPU, more memory than awl):\n")
    out.append("| setup | runs ok | to WRITTEN s | to login s | server CPU s | peak RSS MiB "
               "| login time vs awl | CPU vs awl | RSS vs awl |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for s in setups:
        rows = ok[s]
        n_all = len([r for r in single if r["setup"] == s])
        w = med(rows, lambda r: num(r.get("written_s")))
        lg = med(rows, lambda r: num(r.get("login_s")))
        c = med(rows, lambda r: num(r.get("cpu_s")))
        m = med(rows, mib)
        out.append(f"| {s} | {len(rows)}/{n_all} | {fmt(w)} | {fmt(lg)} | {fmt(c, 2)} | {fmt(m)} "
                   f"| {ratio(lg, base and base['l'])} | {ratio(c, base and base['c'])} "
                   f"| {ratio(m, base and base['m'])} |")
    if many:
        out.append("\n## One image to N machines at once (awl)\n")
        out.append("| machines | run | load 1-min start → end | all WRITTEN s (slowest) | all at login prompt s (slowest) "
                   "| each machine's login s | awl CPU s | CPU s per machine | awl peak RSS MiB | what awl saw |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in many:
            n = int(r.get("machines", "0") or 0)
            if r.get("ok") != "1":
                out.append(f"| {n} | {r.get('run')} | {r.get('load_start', '')} → {r.get('load_end', '')} "
                           f"| {r.get('written_s', '–')} | failed: {r.get('fail', '?')} | | {r.get('cpu_s', '–')} | | | |")
                continue
            each = ", ".join(r.get(f"img{i}.login_s", "–") for i in range(1, n + 1))
            c = num(r.get("cpu_s"))
            out.append(f"| {n} | {r['run']} | {r['load_start']} → {r['load_end']} | {r['written_s']} "
                       f"| {r['login_s']} | {each} | {fmt(c, 2)} | {fmt(None if c is None else c / n, 2)} "
                       f"| {fmt(mib(r))} | {what(r)} |")
        if base:
            out.append(f"\n(1 machine, awl, median of the first part: login {fmt(base['l'])} s, "
                       f"CPU {fmt(base['c'], 2)} s, peak RSS {fmt(base['m'])} MiB.)")
    out.append("\nNotes:\n")
    out.append("- Boot order: awl's machine boots network first, then disk (awl answers the deploy, then "
               "\"boot from disk\" once the deploy environment POSTed written). The dnsmasq+nginx machine boots "
               "disk first, then network: with no state on the server, that is how the static setup avoids an "
               "install loop (SeaBIOS falls through the empty disk to the NIC's iPXE; after the deploy the disk "
               "boots). So awl's path has one more DHCP + iPXE round after the deploy, and the static one never "
               "reinstalls a machine whose disk still boots.")
    out.append("- awl also receives the deploy environment's syslog, files it under the system, and takes "
               "the written and phone_home callbacks; the static setup has no syslog receiver, no callbacks "
               "(nothing records the machine as installed), and one seed for every machine.")
    out.append("- Server CPU: utime+stime (with reaped children) of every process in the server namespace, "
               "from after the servers listen to the last login prompt. Peak RSS: VmHWM, summed over the "
               "processes for dnsmasq+nginx (shared pages counted once per process).")
    for line in meta:
        out.append(f"- {line}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
