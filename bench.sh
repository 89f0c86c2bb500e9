#!/usr/bin/env bash
# awl's benchmark command: runs every benchmark with its peers in the same
# run and prints the tables that go into BENCHMARKS.md.
# Usage: ./bench.sh [criterion filter]
set -euo pipefail
cd "$(dirname "$0")"

echo "machine: $(nproc) cores, $(uname -r), $(rustc --version)"
cargo bench -p awl-tests --bench dhcp -- --warm-up-time 2 --measurement-time 5 "$@" >/tmp/awl-bench-dhcp.log 2>&1 \
  || { tail -n 30 /tmp/awl-bench-dhcp.log; exit 1; }

python3 - <<'PY'
import json, pathlib
root = pathlib.Path("target/criterion")
for group in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "report"):
    rows = []
    for bench in sorted(p for p in group.iterdir() if p.is_dir() and p.name != "report"):
        est = bench / "new" / "estimates.json"
        if not est.exists():
            continue
        e = json.loads(est.read_text())
        name = json.loads((bench / "new" / "benchmark.json").read_text())["function_id"]
        rows.append((name, e["median"]["point_estimate"], e["median"]["confidence_interval"]))
    if not rows:
        continue
    awl = next((r[1] for r in rows if r[0].startswith("awl")), None)
    print(f"\n### {json.loads((next(group.iterdir()) / 'new' / 'benchmark.json').read_text())['group_id']}\n")
    print("| implementation | median | 95% CI | per second | time vs awl |")
    print("|---|---:|---:|---:|---:|")
    for name, med, ci in sorted(rows, key=lambda r: r[1]):
        ratio = f"{med / awl:.2f}x" if awl else "-"
        print(f"| {name} | {med:.0f} ns | {ci['lower_bound']:.0f}–{ci['upper_bound']:.0f} ns | {1e9 / med / 1e6:.2f} M | {ratio} |")
PY
