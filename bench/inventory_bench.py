#!/usr/bin/env python3
"""The inventory at scale: bench/inventory.sh runs this (see there).

Usage: inventory_bench.py AWL WORKDIR

Knobs (environment): BENCH_SYSTEMS=10000 BENCH_ADDS=100 BENCH_STARTS=10
BENCH_REQUESTS=1000 BENCH_LIVE=30.

1. Writes an inventory of one distro, one profile (the built-in kickstart
   template) and BENCH_SYSTEMS systems (distinct MAC, address, host name,
   and a root password hash as a secret), in the shape `awl system add`
   writes, and checks it with `awl inventory check`.
2. Times BENCH_ADDS `awl system add` commands, each adding one more system
   (the whole process: start, read, check, write, fsync, rename), then as
   many `awl system edit` of random systems and `awl system remove` of the
   systems added (checked with `awl inventory check` afterwards).
3. Times `awl serve` start-up with that inventory, BENCH_STARTS times: until
   the HTTP port accepts a connection, and until the first /ipxe answer.
4. With one `awl serve` running, times BENCH_REQUESTS sequential GET
   /ipxe?mac=..&platform=pcbios and as many GET /answer/system/NAME for
   random systems, on one kept-alive connection (Python's http.client),
   checking each answer names its system.
5. BENCH_LIVE times: `awl system add` of a new system while awl serves, then
   at once GET /ipxe for its MAC (the first request after the edit, which
   re-reads the file), then the same request again; then BENCH_LIVE times
   `awl system edit` of a random system's kernel arguments, and at once
   GET /ipxe for it (which must carry the new argument).

Prints markdown tables; every figure in milliseconds, percentiles by
nearest rank. Ends only the awl processes it started, by PID.
"""

import http.client
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

AWL = sys.argv[1]
WORK = sys.argv[2]
N = int(os.environ.get("BENCH_SYSTEMS", "10000"))
ADDS = int(os.environ.get("BENCH_ADDS", "100"))
STARTS = int(os.environ.get("BENCH_STARTS", "10"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1000"))
LIVE = int(os.environ.get("BENCH_LIVE", "30"))

INV = os.path.join(WORK, "inventory.toml")
ROOT = os.path.join(WORK, "root")
children = []  # Popen objects of awl serve processes this script started


def on_term(signum, frame):
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, on_term)


def say(*args):
    print(*args, file=sys.stderr, flush=True)


def mac_of(i):
    return f"52:54:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"


def ip_of(i):
    # 10.0.0.0/8, skipping .0 and .255 in the last byte
    return f"10.{(i // 64516) % 256}.{(i // 254) % 254 + 1}.{i % 254 + 1}"


def name_of(i):
    return f"node{i:05d}"


HEADER = """# awl inventory: distros, profiles, systems (see docs/inventory.md).
# `awl distro|profile|system add|edit|remove` rewrite only the entries they
# change; comments elsewhere stay.

[[distro]]
name = "centos-9"
kernel = "centos-9/vmlinuz"
initrd = ["centos-9/initrd.img"]
tree = "http://mirror.stream.centos.org/9-stream/BaseOS/x86_64/os"
arch = "x86_64"
family = "redhat"

[[profile]]
name = "server"
distro = "centos-9"
template = "kickstart"
kernel_args = "console=ttyS0,115200"

[profile.vars]
timezone = "UTC"
"""

SYSTEM = """
[[system]]
name = "{name}"
profile = "server"

[[system.interface]]
mac = "{mac}"
ip = "{ip}"
hostname = "{name}"

[system.secrets]
root_password_hash = "$6$rounds=4096$bench{i:05d}$Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXhxdXV4cXV1eA"
"""


def write_inventory(n):
    parts = [HEADER]
    for i in range(1, n + 1):
        parts.append(SYSTEM.format(name=name_of(i), mac=mac_of(i), ip=ip_of(i), i=i))
    tmp = INV + ".gen"
    with open(tmp, "w", encoding="ascii") as f:
        f.write("".join(parts))
    os.chmod(tmp, 0o600)
    os.replace(tmp, INV)


def pct(values, q):
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def ms(seconds):
    return seconds * 1000.0


def summary(values):
    return {
        "n": len(values),
        "p50": ms(pct(values, 0.50)),
        "p99": ms(pct(values, 0.99)),
        "min": ms(min(values)),
        "max": ms(max(values)),
    }


def run(args, check=True):
    t0 = time.perf_counter()
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if check and p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(args)}\n{p.stdout}{p.stderr}")
    return dt, p


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def answer_path(script, name):
    """The answer file's path in a boot script (it carries the install token)."""
    m = re.search(r"http://[^/\s]+(/answer/system/" + re.escape(name) + r"[/?][^\s]+)", script)
    if not m:
        raise SystemExit(f"no answer URL for {name} in its boot script: {script[:300]}")
    return m.group(1)


def start_awl(log):
    http_port = free_port(socket.SOCK_STREAM)
    tftp_port = free_port(socket.SOCK_DGRAM)
    args = [AWL, "serve", "--tftp-root", ROOT, "--tftp-listen", f"127.0.0.1:{tftp_port}",
            "--http-listen", f"127.0.0.1:{http_port}", "--no-dhcp", "--inventory", INV]
    logf = open(log, "a", encoding="utf-8")
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdout=logf, stderr=logf)
    children.append(p)
    logf.close()
    # Until the port accepts a connection (polled every 0.5 ms).
    deadline = t0 + 10
    while True:
        if p.poll() is not None:
            raise SystemExit(f"awl serve exited ({p.returncode}) at start; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", http_port), timeout=1):
                pass
            break
        except OSError:
            if time.perf_counter() > deadline:
                raise SystemExit(f"awl serve: no HTTP after 10 s; see {log}")
            time.sleep(0.0005)
    t_listen = time.perf_counter() - t0
    return p, http_port, args, t_listen, t0


def stop_awl(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    children.remove(p)


def vm_kb(pid, field):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def get(conn, path):
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return time.perf_counter() - t0, r.status, body.decode("utf-8", "replace")


def main():
    os.makedirs(ROOT, exist_ok=True)
    results = {"systems": N}
    rng = random.Random(20261202)

    # 1. The inventory
    t0 = time.perf_counter()
    write_inventory(N)
    results["generate_s"] = time.perf_counter() - t0
    results["file_bytes"] = os.path.getsize(INV)
    dt, p = run([AWL, "inventory", "check", "--inventory", INV])
    results["check_ms"] = ms(dt)
    say(f"inventory: {N} systems, {results['file_bytes']} bytes, written in {results['generate_s']:.2f} s; "
        f"awl inventory check: {ms(dt):.0f} ms: {p.stdout.strip() or p.stderr.strip()}")

    # 2. awl system add, one more system each time
    adds = []
    for k in range(ADDS):
        i = N + 1 + k
        dt, _ = run([AWL, "system", "add", name_of(i), "--inventory", INV, "--profile", "server",
                     "--mac", mac_of(i), "--ip", ip_of(i), "--hostname", name_of(i)])
        adds.append(dt)
    results["add"] = summary(adds)
    next_i = N + 1 + ADDS
    say(f"awl system add x{ADDS}: p50 {results['add']['p50']:.1f} ms, p99 {results['add']['p99']:.1f} ms")
    # The same command on a one-system inventory, for scale.
    small_inv = os.path.join(WORK, "small.toml")
    with open(small_inv, "w", encoding="ascii") as f:
        f.write(HEADER + SYSTEM.format(name=name_of(1), mac=mac_of(1), ip=ip_of(1), i=1))
    os.chmod(small_inv, 0o600)
    small_adds = []
    for k in range(ADDS):
        i = 2 + k
        dt, _ = run([AWL, "system", "add", name_of(i), "--inventory", small_inv, "--profile", "server",
                     "--mac", mac_of(i), "--ip", ip_of(i), "--hostname", name_of(i)])
        small_adds.append(dt)
    results["add_small"] = summary(small_adds)

    # 2b. awl system edit of random systems, then remove of the added ones
    edits = []
    for k in range(ADDS):
        i = rng.randint(1, N)
        dt, _ = run([AWL, "system", "edit", name_of(i), "--inventory", INV, "--var", f"bench_edit={k}"])
        edits.append(dt)
    results["edit"] = summary(edits)
    removes = []
    for k in range(ADDS):
        dt, _ = run([AWL, "system", "remove", name_of(N + 1 + k), "--inventory", INV])
        removes.append(dt)
    results["remove"] = summary(removes)
    say(f"awl system edit x{ADDS}: p50 {results['edit']['p50']:.1f} ms; "
        f"remove x{ADDS}: p50 {results['remove']['p50']:.1f} ms")
    dt, p = run([AWL, "inventory", "check", "--inventory", INV])
    if p.stdout.strip() != f"{INV}: ok":
        raise SystemExit(f"after the edits: {p.stdout}{p.stderr}")

    # 3. Start-up
    probe_i = rng.randint(1, N)
    listen, first = [], []
    for k in range(STARTS):
        p, port, args, t_listen, t0 = start_awl(os.path.join(WORK, "serve-start.log"))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        _, status, body = get(conn, f"/ipxe?mac={mac_of(probe_i)}&platform=pcbios")
        t_first = time.perf_counter() - t0
        conn.close()
        if status != 200 or f"installing {name_of(probe_i)}" not in body:
            raise SystemExit(f"start-up probe: {status} {body[:200]}")
        listen.append(t_listen)
        first.append(t_first)
        stop_awl(p)
    results["start_listen"] = summary(listen)
    results["start_first"] = summary(first)
    results["serve_command"] = " ".join(args).replace(WORK, "WORK")
    say(f"start-up x{STARTS}: port answers p50 {results['start_listen']['p50']:.1f} ms; "
        f"first /ipxe answered p50 {results['start_first']['p50']:.1f} ms")

    # 4. Requests, and 5. live edits, against one server
    p, port, args, _, _ = start_awl(os.path.join(WORK, "serve.log"))
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        get(conn, f"/ipxe?mac={mac_of(1)}&platform=pcbios")  # the connection is open
        ipxe, answer = [], []
        for _ in range(REQUESTS):
            i = rng.randint(1, N)
            dt, status, body = get(conn, f"/ipxe?mac={mac_of(i)}&platform=pcbios")
            if status != 200 or f"installing {name_of(i)}\n" not in body:
                raise SystemExit(f"/ipxe for {mac_of(i)}: {status} {body[:200]}")
            ipxe.append(dt)
        for _ in range(REQUESTS):
            i = rng.randint(1, N)
            # The answer file opens to the install token its boot script carries.
            _, _, script = get(conn, f"/ipxe?mac={mac_of(i)}&platform=pcbios")
            dt, status, body = get(conn, answer_path(script, name_of(i)))
            if status != 200 or f"--hostname={name_of(i)}" not in body or f"bench{i:05d}" not in body:
                raise SystemExit(f"/answer/system/{name_of(i)}: {status} {body[:300]}")
            answer.append(dt)
        results["ipxe"] = summary(ipxe)
        results["answer"] = summary(answer)
        # Unknown machines walk every system before getting the menu.
        unknown = []
        for k in range(min(REQUESTS, 200)):
            dt, status, body = get(conn, f"/ipxe?mac=02:00:00:00:{k >> 8:02x}:{k & 255:02x}&platform=pcbios")
            if status != 200 or "menu" not in body:
                raise SystemExit(f"/ipxe for an unknown MAC: {status} {body[:200]}")
            unknown.append(dt)
        results["unknown"] = summary(unknown)
        say(f"/ipxe x{REQUESTS}: p50 {results['ipxe']['p50']:.2f} ms, p99 {results['ipxe']['p99']:.2f} ms; "
            f"/answer x{REQUESTS}: p50 {results['answer']['p50']:.2f} ms, p99 {results['answer']['p99']:.2f} ms")

        live_add, live_first, live_second, live_answer = [], [], [], []
        for k in range(LIVE):
            i = next_i + k
            dt, _ = run([AWL, "system", "add", name_of(i), "--inventory", INV, "--profile", "server",
                         "--mac", mac_of(i), "--ip", ip_of(i), "--hostname", name_of(i)])
            live_add.append(dt)
            d1, status, body = get(conn, f"/ipxe?mac={mac_of(i)}&platform=pcbios")
            if status != 200 or f"installing {name_of(i)}\n" not in body:
                raise SystemExit(f"after adding {name_of(i)}: /ipxe gave {status} {body[:200]}")
            d2, status, body = get(conn, f"/ipxe?mac={mac_of(i)}&platform=pcbios")
            if status != 200 or f"installing {name_of(i)}\n" not in body:
                raise SystemExit(f"{name_of(i)}: second /ipxe gave {status} {body[:200]}")
            d3, status, body = get(conn, answer_path(body, name_of(i)))
            if status != 200 or f"--hostname={name_of(i)}" not in body:
                raise SystemExit(f"{name_of(i)}: answer file gave {status} {body[:200]}")
            live_first.append(d1)
            live_second.append(d2)
            live_answer.append(d3)
        # An edit of a system in the middle of the file: the server reads
        # the changed lines only (docs/inventory.md).
        live_edit, live_edit_first = [], []
        for k in range(LIVE):
            i = rng.randint(1, N)
            dt, _ = run([AWL, "system", "edit", name_of(i), "--inventory", INV,
                         "--kernel-args", f"bench_live={k}"])
            live_edit.append(dt)
            d1, status, body = get(conn, f"/ipxe?mac={mac_of(i)}&platform=pcbios")
            if status != 200 or f"bench_live={k}" not in body:
                raise SystemExit(f"after editing {name_of(i)}: /ipxe gave {status} {body[:300]}")
            live_edit_first.append(d1)
        results["live_edit"] = summary(live_edit)
        results["live_edit_first"] = summary(live_edit_first)
        results["live_add"] = summary(live_add)
        results["live_first"] = summary(live_first)
        results["live_second"] = summary(live_second)
        results["live_answer"] = summary(live_answer)
        results["systems_at_end"] = N + ADDS + LIVE
        results["rss_kb"] = vm_kb(p.pid, "VmRSS:")
        results["hwm_kb"] = vm_kb(p.pid, "VmHWM:")
        conn.close()
        say(f"live: first /ipxe after an add p50 {results['live_first']['p50']:.1f} ms, "
            f"after an edit p50 {results['live_edit_first']['p50']:.1f} ms; "
            f"awl VmHWM {results['hwm_kb'] / 1024:.1f} MiB")
    finally:
        stop_awl(p)

    # Idle memory with the same inventory, for the difference it makes.
    p, port, _, _, _ = start_awl(os.path.join(WORK, "serve-mem.log"))
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        get(conn, f"/ipxe?mac={mac_of(1)}&platform=pcbios")
        conn.close()
        results["loaded_hwm_kb"] = vm_kb(p.pid, "VmHWM:")
    finally:
        stop_awl(p)

    with open(os.path.join(WORK, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    print_tables(results)


def row(label, s, note=""):
    return (f"| {label} | {s['n']} | {s['p50']:.2f} | {s['p99']:.2f} | {s['min']:.2f} – {s['max']:.2f} | {note} |")


def print_tables(r):
    print(f"Inventory: 1 distro, 1 profile (built-in kickstart template), {r['systems']:,} systems "
          f"({r['file_bytes'] / 1e6:.1f} MB of TOML); `awl inventory check` of it: {r['check_ms']:.0f} ms.")
    print()
    print("| operation | n | p50 ms | p99 ms | min – max ms | note |")
    print("|---|---:|---:|---:|---:|---|")
    print(row(f"`awl system add` into {r['systems']:,} systems", r["add"], "whole process: read, check, write, fsync, rename"))
    print(row("`awl system add` into 1 system", r["add_small"], "the same command, for scale"))
    print(row(f"`awl system edit NAME --var …` in {r['systems'] + r['add']['n']:,} systems", r["edit"], "a random system; whole process"))
    print(row("`awl system remove NAME`", r["remove"], "the systems added above, one by one"))
    print(row(f"`awl serve` start → HTTP port accepts ({r['systems']:,} systems)", r["start_listen"], "from spawn"))
    print(row("`awl serve` start → first `/ipxe` answered", r["start_first"], "from spawn"))
    print(row("`GET /ipxe?mac=…&platform=pcbios`, random known system", r["ipxe"], "sequential, one kept-alive connection"))
    print(row("`GET /answer/system/NAME` (kickstart), random system", r["answer"], "sequential, one kept-alive connection"))
    print(row("`GET /ipxe` for an unknown MAC (menu)", r["unknown"], "every system looked at first"))
    print(row("`awl system add` while awl serves", r["live_add"], ""))
    print(row("first `GET /ipxe` for the new system, right after its add", r["live_first"], "re-reads the file; the new system's script every time"))
    print(row("the same request again", r["live_second"], "no re-read"))
    print(row("its answer file next", r["live_answer"], ""))
    print(row("`awl system edit NAME --kernel-args …` while awl serves", r["live_edit"], "a random system"))
    print(row("first `GET /ipxe` for it, right after the edit", r["live_edit_first"], "reads the changed lines; the new argument in the script every time"))
    print()
    print(f"awl serve's VmHWM after all of it ({r['systems_at_end']:,} systems): {r['hwm_kb'] / 1024:.1f} MiB "
          f"(VmRSS {r['rss_kb'] / 1024:.1f} MiB); started afresh and asked once: {r['loaded_hwm_kb'] / 1024:.1f} MiB.")
    print()
    print(f"<!-- {r['serve_command']} -->")


if __name__ == "__main__":
    try:
        main()
    finally:
        for c in list(children):
            if c.poll() is None:
                c.kill()
                c.wait()
