#!/usr/bin/env bash
# Runs one fuzz target for a bounded time: fuzz/run.sh TARGET SECONDS
# New inputs go to a scratch corpus; the committed seeds in corpus/TARGET are
# read, not grown. Fails on any crash, timeout or out-of-memory.
set -euo pipefail
cd "$(dirname "$0")"
target=$1
seconds=${2:-60}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
case $target in
  tftp*) max_len=65507 ;;
  *) max_len=1500 ;;
esac
status=0
cargo +nightly fuzz run "$target" "$scratch" "corpus/$target" -- \
  -max_total_time="$seconds" -max_len="$max_len" -timeout=5 -rss_limit_mb=512 \
  -print_final_stats=1 >"$scratch.log" 2>&1 || status=$?
grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|==[0-9]+==|SUMMARY|thread .* panicked|artifact_prefix|Test unit written)' "$scratch.log" || true
edges=$(grep -oE 'cov: [0-9]+' "$scratch.log" | tail -n 1 || true)
echo "$target: ${seconds}s, ${edges:-cov: ?} edges, exit $status"
rm -f "$scratch.log"
exit "$status"
