#!/usr/bin/env bash
# bench/states.sh: N machines ask for their boot script at once (issue 12's
# state file under a boot storm). Every first /ipxe of a `netboot` system
# arms its install: a locked, synced write of the install state. Prints the
# wall time for all N (curl --parallel, 100 at a time), how many systems
# `awl status` then shows booting, and the state files' sizes.
#
# Usage (any user):  bench/states.sh
# Knobs: BENCH_SYSTEMS=500, BENCH_PARALLEL=100, BENCH_AWL_BIN=PATH (else
# target/release/awl, built), BENCH_KEEP=1 (keep the work folder).
# awl listens on 127.0.0.62 only; the script ends the awl it started, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_SYSTEMS:-500}
PAR=${BENCH_PARALLEL:-100}
AWL=${BENCH_AWL_BIN:-$PWD/target/release/awl}
[ -n "${BENCH_AWL_BIN:-}" ] || cargo build --release -q -p awl
WORK=$(mktemp -d /tmp/awlstates.XXXXXX)
PID=""
cleanup() {
  [ -z "$PID" ] || { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/root/centos-9"
touch "$WORK/root/centos-9/vmlinuz" "$WORK/root/centos-9/initrd.img"
python3 - "$N" "$WORK" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
src = open("bench/inventory_bench.py").read()
ns = {}
exec(src[src.index("def mac_of"):src.index("def write_inventory")], ns)
parts = [ns["HEADER"]]
for i in range(1, n + 1):
    parts.append(ns["SYSTEM"].format(name=ns["name_of"](i), mac=ns["mac_of"](i), ip=ns["ip_of"](i), i=i))
open(f"{work}/inventory.toml", "w").write("".join(parts))
with open(f"{work}/urls.txt", "w") as f:
    for i in range(1, n + 1):
        f.write(f'url = "http://127.0.0.62:8080/ipxe?mac={ns["mac_of"](i)}&platform=pcbios"\noutput = "/dev/null"\n')
PY
"$AWL" serve --tftp-root "$WORK/root" --tftp-listen 127.0.0.62:6969 --http-listen 127.0.0.62:8080 \
  --inventory "$WORK/inventory.toml" --state-dir "$WORK/state" >"$WORK/log" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q "http: serving" "$WORK/log" && break; sleep 0.1; done
grep -q "http: serving" "$WORK/log" || { cat "$WORK/log"; exit 1; }
start=$(date +%s.%N)
curl -s --no-progress-meter --parallel --parallel-max "$PAR" -K "$WORK/urls.txt" 2>/dev/null
end=$(date +%s.%N)
booting=$("$AWL" status --json --state-dir "$WORK/state" | grep -c '"state": "booting"' || true)
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
echo "systems=$N parallel=$PAR wall_s=$(echo "$end - $start" | bc) booting=$booting snapshot_bytes=$(size "$WORK/state/installs") journal_bytes=$(size "$WORK/state/installs.journal")"
