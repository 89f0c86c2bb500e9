#!/usr/bin/env python3
"""Samples the memory of a server process and all its descendants.

Usage: rss_sampler.py PID OUT FLAG [INTERVAL_S]

Every INTERVAL_S seconds (default 0.5), while the file FLAG exists and PID is
alive, it sums VmRSS (/proc/P/status) and Pss (/proc/P/smaps_rollup) over PID
and its descendants (found through /proc/P/task/T/children). It rewrites OUT
each time with the peaks so far:

    peak_sum_rss_kb procs_at_that_peak peak_sum_pss_kb max_procs

It is one process that reads /proc without forking, so it stays cheap and
accurate while the machine is saturated. bench/tftp.sh starts it.
"""

import os
import sys
import time


def children(pid):
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/children", encoding="ascii") as f:
                out.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            pass
    return out


def tree(pid):
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(children(p))
    return seen


def field_kb(path, name):
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(name):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def main():
    pid, out, flag = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.5
    best = at = best_pss = most = 0
    while os.path.exists(flag) and os.path.exists(f"/proc/{pid}"):
        rss = pss = n = 0
        for p in tree(pid):
            r = field_kb(f"/proc/{p}/status", "VmRSS:")
            if r is None:
                continue  # exited meanwhile
            rss += r
            n += 1
            pss += field_kb(f"/proc/{p}/smaps_rollup", "Pss:") or 0
        if rss > best:
            best, at = rss, n
        best_pss = max(best_pss, pss)
        most = max(most, n)
        tmp = out + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{best} {at} {best_pss} {most}\n")
        os.replace(tmp, out)
        time.sleep(interval)


if __name__ == "__main__":
    main()
