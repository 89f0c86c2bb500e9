#!/usr/bin/env bash
# bench/inventory.sh: the inventory at scale. With 10,000 systems: how long
# `awl system add` takes, how long `awl serve` takes to start, and how long
# the per-machine iPXE script and answer file take per request, also the
# first request after an edit. Prints a markdown table; the work is
# bench/inventory_bench.py. Figures: the "Inventory at scale" section of
# BENCHMARKS.md.
#
# Usage (any user):  bench/inventory.sh
# Knobs (environment):
#   BENCH_SYSTEMS=10000   systems in the generated inventory
#   BENCH_ADDS=100        `awl system add` commands timed (p50, p99)
#   BENCH_STARTS=10       `awl serve` start-ups timed
#   BENCH_REQUESTS=1000   requests of each kind timed
#   BENCH_LIVE=30         add-then-request rounds while awl serves
#   BENCH_AWL_BIN=PATH    benchmark this awl binary instead of building
#                         target/release/awl (cargo build --release -p awl)
#   BENCH_KEEP=1          keep the work folder under /tmp
#
# awl listens on 127.0.0.1 only, on ports the kernel reports free. The
# script ends only the awl processes it started (by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
AWL=${BENCH_AWL_BIN:-$REPO/target/release/awl}
CACHE=$REPO/bench/.cache
START=$SECONDS

say() { printf '%s\n' "$*" >&2; }
die() {
  say "inventory.sh: $*"
  exit 1
}

WORK=""
HELPER_PID=""
cleanup() {
  local rc=$?
  set +e
  # The helper ends its own awl processes on SIGTERM.
  if [ -n "$HELPER_PID" ] && kill -0 "$HELPER_PID" 2>/dev/null; then
    kill -TERM "$HELPER_PID"
    wait "$HELPER_PID"
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${BENCH_KEEP:-0}" = 1 ]; then say "inventory.sh: kept $WORK"; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v python3 >/dev/null || die "python3 is needed"
if [ -z "${BENCH_AWL_BIN:-}" ]; then
  command -v cargo >/dev/null || die "cargo is needed (rustup)"
  say "building awl (cargo build --release -p awl)"
  log=$(mktemp)
  cargo build --release -q -p awl >"$log" 2>&1 || { tail -n 30 "$log" >&2; rm -f "$log"; die "awl does not build"; }
  rm -f "$log"
fi
"$AWL" system add --help >/dev/null 2>&1 || die "$AWL has no 'system add'"

WORK=$(mktemp -d /tmp/awlinv.XXXXXX)
# A copy, so that a build elsewhere in the tree cannot swap the binary
# between the many commands timed.
cp "$AWL" "$WORK/awl"
{
  echo "<!-- machine cores=$(nproc) kernel=$(uname -r) load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,) fs=$(findmnt -n -o FSTYPE -T "$WORK" 2>/dev/null || stat -f -c %T "$WORK") -->"
  if [ -n "${BENCH_AWL_BIN:-}" ]; then
    echo "<!-- awl prebuilt:$BENCH_AWL_BIN -->"
  else
    echo "<!-- awl $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- core host 2>/dev/null || echo '+dirty') -->"
  fi
} >"$WORK/tables.md"

python3 "$REPO/bench/inventory_bench.py" "$WORK/awl" "$WORK" >>"$WORK/tables.md" &
HELPER_PID=$!
wait "$HELPER_PID"
HELPER_PID=""

mkdir -p "$CACHE/inventory-last-run"
cp "$WORK/tables.md" "$WORK/results.json" "$CACHE/inventory-last-run/"
cat "$WORK/tables.md"
say "total $((SECONDS - START)) s; raw results: bench/.cache/inventory-last-run/results.json"
