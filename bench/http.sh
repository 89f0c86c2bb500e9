#!/usr/bin/env bash
# bench/http.sh: awl's HTTP server beside nginx (sendfile on), in the same
# run, with the same client (curl), printing markdown tables. See the "HTTP"
# section of bench/README.md.
#
# Usage (as root):  bench/http.sh
# Knobs (environment):
#   BENCH_REPS=5          single-stream downloads per server (median shown)
#   BENCH_SINGLE_MIB=1024 file size of the single stream
#   BENCH_CLIENTS=200     concurrent clients in the second test
#   BENCH_MANY_MIB=64     file size each concurrent client downloads
#   BENCH_MANY_REPS=5     concurrent runs per server (median shown)
#   BENCH_CURL_PROCS=2    curl processes sharing the concurrent clients
#                         (one curl --parallel process is one core: 2 lets
#                         the client use both cores of this machine)
#   BENCH_KEEP=1          keep the work folder under /tmp
#   BENCH_AWL_BIN=PATH    benchmark this awl binary instead of building
#                         target/release/awl (cargo build --release -p awl)
#
# Both servers and every client run in one network namespace
# (awlbench-http) where only lo is up: awl on 127.0.0.1:8080, nginx on
# 127.0.0.1:8081, serving the same folder under /boot/. The runs alternate
# between the servers. The script ends only the processes it started (by
# PID, and whatever is left inside its own namespace) and deletes the
# namespace on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

REPS=${BENCH_REPS:-5}
SINGLE_MIB=${BENCH_SINGLE_MIB:-1024}
CLIENTS=${BENCH_CLIENTS:-200}
MANY_MIB=${BENCH_MANY_MIB:-64}
MANY_REPS=${BENCH_MANY_REPS:-5}
CURL_PROCS=${BENCH_CURL_PROCS:-2}
NS=awlbench-http
AWL_PORT=8080
NGINX_PORT=8081

AWL=${BENCH_AWL_BIN:-$REPO/target/release/awl}
CACHE=$REPO/bench/.cache
START=$SECONDS

say() { printf '%s\n' "$*" >&2; }
die() {
  say "http.sh: $*"
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (network namespace, installing nginx)"
[ $((CLIENTS % CURL_PROCS)) -eq 0 ] || die "BENCH_CLIENTS must be a multiple of BENCH_CURL_PROCS"

# --- cleanup: only what this script started ---------------------------------
declare -A SPID=()  # server name -> PID (nginx: its master)
NS_CREATED=0
SAMPLER_PID=""
WORK=""
POLICY_RC_CREATED=0

cleanup() {
  local rc=$?
  set +e
  if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null; fi
  local name
  for name in "${!SPID[@]}"; do stop_server "$name"; done
  if [ "$NS_CREATED" = 1 ]; then
    local pid
    # Anything still inside our own namespace was started by this script.
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
  fi
  if [ "$POLICY_RC_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
      say "http.sh: kept $WORK"
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- what the benchmark needs -------------------------------------------------
install_packages() {
  local missing=()
  command -v ip >/dev/null || missing+=(iproute2)
  command -v ss >/dev/null || missing+=(iproute2)
  command -v curl >/dev/null || missing+=(curl)
  command -v python3 >/dev/null || missing+=(python3)
  command -v sha256sum >/dev/null || missing+=(coreutils)
  command -v nginx >/dev/null || missing+=(nginx-light)
  command -v cargo >/dev/null || die "cargo is needed (rustup)"
  [ "${#missing[@]}" -ne 0 ] || return 0
  say "installing: ${missing[*]}"
  # Keep the packages' init scripts from starting services (Debian's
  # policy-rc.d protocol: 101 = action not allowed). An existing
  # policy-rc.d is left alone.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
    die "apt-get install ${missing[*]} failed"
  if [ "$POLICY_RC_CREATED" = 1 ]; then
    rm -f /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=0
  fi
  command -v nginx >/dev/null || die "no nginx after installing it"
}

# --- servers ------------------------------------------------------------------
write_nginx_conf() {
  cat >"$WORK/nginx.conf" <<EOF
# bench/http.sh: nginx serving the benchmark files on 127.0.0.1:$NGINX_PORT
worker_processes auto;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 1024; }
http {
  sendfile on;
  tcp_nopush on;
  access_log off;
  keepalive_timeout 15;
  default_type application/octet-stream;
  client_body_temp_path $WORK/nginx-tmp/body;
  proxy_temp_path $WORK/nginx-tmp/proxy;
  fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
  scgi_temp_path $WORK/nginx-tmp/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location /boot/ { alias $WORK/root/; }
  }
}
EOF
}

CMD=()
server_cmd() {
  case $1 in
    awl)
      CMD=("$AWL" serve --tftp-root "$WORK/root" --tftp-listen 127.0.0.1:6969
        --http-listen "127.0.0.1:$AWL_PORT" --no-dhcp)
      ;;
    nginx) CMD=(nginx -c "$WORK/nginx.conf" -p "$WORK/") ;;
  esac
}

port_of() { if [ "$1" = awl ]; then echo "$AWL_PORT"; else echo "$NGINX_PORT"; fi; }

start_server() {
  local name=$1 port
  port=$(port_of "$name")
  server_cmd "$name"
  echo "# ${CMD[*]}" >>"$WORK/$name.log"
  ip netns exec "$NS" "${CMD[@]}" >>"$WORK/$name.log" 2>&1 &
  SPID[$name]=$!
  local _
  for _ in $(seq 100); do
    if ! kill -0 "${SPID[$name]}" 2>/dev/null; then
      unset "SPID[$name]"
      tail -n 5 "$WORK/$name.log" >&2
      die "$name exited at start"
    fi
    if ip netns exec "$NS" curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/boot/many.bin" -r 0-0; then
      # nginx answers from its first worker; wait until all are up.
      if [ "$name" != nginx ] || [ "$(procs_of nginx | wc -w)" -ge $(($(nproc) + 1)) ]; then return 0; fi
    fi
    sleep 0.05
  done
  die "$name does not answer on port $port after 5 s"
}

stop_server() {
  local name=$1 pid
  pid=${SPID[$name]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local _
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "SPID[$name]"
}

# The server's processes: awl's one, nginx's master and its workers.
procs_of() {
  local pid=${SPID[$1]} t
  printf '%s' "$pid"
  for t in /proc/"$pid"/task/*; do printf ' %s' "$(cat "$t/children" 2>/dev/null)"; done
  echo
}

# --- measuring ------------------------------------------------------------------
# Sum of VmHWM (kB) over the server's processes; reset_hwm first makes it the
# peak since then (clear_refs 5 sets each VmHWM to the current VmRSS).
reset_hwm() { local p; for p in $(procs_of "$1"); do echo 5 >/proc/"$p"/clear_refs; done; }
sum_hwm_kb() {
  local p t=0 v
  for p in $(procs_of "$1"); do
    v=$(awk '/^VmHWM:/ { print $2 }' /proc/"$p"/status 2>/dev/null || echo 0)
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
# utime + stime in clock ticks over the server's processes.
cpu_ticks() {
  local p t=0 v
  for p in $(procs_of "$1"); do
    v=$(awk '{ print $14 + $15 }' /proc/"$p"/stat 2>/dev/null || echo 0)
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
now_ns() { date +%s%N; }

# Peak Σ PSS over the server's processes, sampled (bench/rss_sampler.py).
start_sampler() {
  touch "$WORK/sampling"
  echo "0 0 0 0" >"$WORK/rss.txt"
  nice -n -15 python3 "$REPO/bench/rss_sampler.py" "${SPID[$1]}" "$WORK/rss.txt" "$WORK/sampling" 0.1 &
  SAMPLER_PID=$!
}
stop_sampler() {
  rm -f "$WORK/sampling"
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
  local peak at pss most
  read -r peak at pss most <"$WORK/rss.txt"
  echo "$pss"
}

RESULTS=""

# run_single SERVER REP: one curl download of single.bin to /dev/null.
run_single() {
  local name=$1 rep=$2 port out
  port=$(port_of "$name")
  out=$WORK/single-$name-$rep.txt
  reset_hwm "$name"
  start_sampler "$name"
  local c0 c1 rc=0
  c0=$(cpu_ticks "$name")
  ip netns exec "$NS" timeout 120 curl -s -o /dev/null --max-time 110 \
    -w '%{http_code} %{size_download} %{time_total}\n' "http://127.0.0.1:$port/boot/single.bin" >"$out" 2>&1 || rc=$?
  c1=$(cpu_ticks "$name")
  local pss hwm
  pss=$(stop_sampler)
  hwm=$(sum_hwm_kb "$name")
  local code size secs
  read -r code size secs <"$out" || true
  echo "single server=$name rep=$rep rc=$rc code=${code:-0} bytes=${size:-0} seconds=${secs:-0} cpu_ticks=$((c1 - c0)) hwm_kb=$hwm pss_kb=$pss procs=$(procs_of "$name" | wc -w)" >>"$RESULTS"
}

# run_many SERVER REP: CLIENTS downloads of many.bin at once, spread over
# CURL_PROCS curl --parallel processes.
run_many() {
  local name=$1 rep=$2 port
  port=$(port_of "$name")
  local per=$((CLIENTS / CURL_PROCS)) i k
  for i in $(seq "$CURL_PROCS"); do
    : >"$WORK/many-urls-$name-$i.txt"
    for k in $(seq "$per"); do
      printf 'url = "http://127.0.0.1:%s/boot/many.bin"\noutput = "/dev/null"\n' "$port" >>"$WORK/many-urls-$name-$i.txt"
    done
  done
  reset_hwm "$name"
  start_sampler "$name"
  local c0 c1 t0 t1 pids=() rc=0
  c0=$(cpu_ticks "$name")
  t0=$(now_ns)
  for i in $(seq "$CURL_PROCS"); do
    ip netns exec "$NS" timeout 300 curl -s --no-progress-meter --parallel --parallel-immediate \
      --parallel-max "$per" --max-time 290 -K "$WORK/many-urls-$name-$i.txt" \
      -w '%{http_code} %{size_download} %{speed_download}\n' >"$WORK/many-$name-$rep-$i.txt" 2>"$WORK/many-$name-$rep-$i.err" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || rc=$?; done
  t1=$(now_ns)
  c1=$(cpu_ticks "$name")
  local pss hwm
  pss=$(stop_sampler)
  hwm=$(sum_hwm_kb "$name")
  local many=$((MANY_MIB * 1048576))
  # Per-client: transfers that completed whole, and their speeds.
  local stats
  stats=$(cat "$WORK"/many-"$name"-"$rep"-*.txt | awk -v want="$many" '
    $1 == 200 && $2 == want { ok++; bytes += $2; print $3 > "/dev/stderr" ; next }
    { bad++; bytes += $2 }
    END { printf "ok=%d bad=%d bytes=%.0f", ok, bad, bytes }' 2>"$WORK/speeds.txt")
  local speeds
  speeds=$(sort -n "$WORK/speeds.txt" | awk '{ a[NR] = $1 } END { if (NR) printf "%.0f,%.0f,%.0f", a[1], a[int((NR + 1) / 2)], a[NR]; else print "0,0,0" }')
  echo "many server=$name rep=$rep rc=$rc $stats wall_ns=$((t1 - t0)) cpu_ticks=$((c1 - c0)) hwm_kb=$hwm pss_kb=$pss procs=$(procs_of "$name" | wc -w) client_speeds=$speeds" >>"$RESULTS"
}

# check_bytes SERVER FILE: one download through sha256sum, against the file's.
check_bytes() {
  local name=$1 file=$2 port got want
  port=$(port_of "$name")
  want=$(cut -d' ' -f1 "$WORK/$file.sha256")
  got=$(ip netns exec "$NS" timeout 120 curl -s --max-time 110 "http://127.0.0.1:$port/boot/$file" | sha256sum | cut -d' ' -f1)
  local ok=no
  [ "$got" = "$want" ] && ok=yes
  echo "check server=$name file=$file sha256_match=$ok" >>"$RESULTS"
  [ "$ok" = yes ] || say "  $name: $file: sha256 $got, want $want"
}

main() {
  install_packages
  WORK=$(mktemp -d /tmp/awlhttp.XXXXXX)
  chmod 755 "$WORK"
  mkdir -p "$WORK/root" "$WORK/nginx-tmp"
  chmod 755 "$WORK/root"
  RESULTS=$WORK/results.txt
  : >"$RESULTS"

  if [ -z "${BENCH_AWL_BIN:-}" ]; then
    say "building awl (cargo build --release -p awl)"
    cargo build --release -q -p awl >"$WORK/awl-build.log" 2>&1 ||
      { tail -n 30 "$WORK/awl-build.log" >&2; die "awl does not build"; }
  fi
  # A copy, so that a build elsewhere in the tree cannot swap the binary
  # between runs.
  cp "$AWL" "$WORK/awl"
  AWL=$WORK/awl
  "$AWL" serve --help | grep -q -- '--http-listen' || die "awl serve has no --http-listen"

  say "making the files: ${SINGLE_MIB} MiB and ${MANY_MIB} MiB of random bytes"
  head -c $((SINGLE_MIB * 1048576)) /dev/urandom >"$WORK/root/single.bin"
  head -c $((MANY_MIB * 1048576)) /dev/urandom >"$WORK/root/many.bin"
  chmod 644 "$WORK/root/"*.bin
  sha256sum <"$WORK/root/single.bin" >"$WORK/single.bin.sha256"
  sha256sum <"$WORK/root/many.bin" >"$WORK/many.bin.sha256"
  write_nginx_conf

  if ip netns list | awk '{print $1}' | grep -qx "$NS"; then
    [ -z "$(ip netns pids "$NS" 2>/dev/null)" ] || die "namespace $NS exists with processes in it (an earlier run?)"
    ip netns del "$NS"
  fi
  ip netns add "$NS"
  NS_CREATED=1
  ip -n "$NS" link set lo up

  {
    echo "machine cores=$(nproc) kernel=$(uname -r) mem_gib=$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo) load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
    if [ -n "${BENCH_AWL_BIN:-}" ]; then
      echo "version server=awl v=prebuilt:${BENCH_AWL_BIN}"
    else
      echo "version server=awl v=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- core host 2>/dev/null || echo '+dirty')"
    fi
    echo "version server=nginx v=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
    echo "version client=curl v=$(curl --version | head -n 1 | awk '{print $2}')"
    echo "params reps=$REPS single_mib=$SINGLE_MIB clients=$CLIENTS many_mib=$MANY_MIB many_reps=$MANY_REPS curl_procs=$CURL_PROCS clk_tck=$(getconf CLK_TCK)"
  } >>"$RESULTS"

  # The files come from the page cache for every run and server.
  cat "$WORK/root/single.bin" "$WORK/root/many.bin" >/dev/null

  local s
  for s in awl nginx; do
    start_server "$s"
    echo "idle server=$s hwm_kb=$(sum_hwm_kb "$s") procs=$(procs_of "$s" | wc -w)" >>"$RESULTS"
  done
  say "awl: ${SPID[awl]}; nginx: master ${SPID[nginx]}, processes $(procs_of nginx)"
  echo "command server=awl ip netns exec $NS awl serve --tftp-root WORK/root --tftp-listen 127.0.0.1:6969 --http-listen 127.0.0.1:$AWL_PORT --no-dhcp" >>"$RESULTS"
  echo "command server=nginx ip netns exec $NS nginx -c WORK/nginx.conf -p WORK/" >>"$RESULTS"
  echo "command client=single curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}\\n' http://127.0.0.1:PORT/boot/single.bin" >>"$RESULTS"
  echo "command client=many $CURL_PROCS x curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max $((CLIENTS / CURL_PROCS)) -K URLS -w '%{http_code} %{size_download} %{speed_download}\\n' (URLS: $((CLIENTS / CURL_PROCS)) x url=http://127.0.0.1:PORT/boot/many.bin output=/dev/null)" >>"$RESULTS"

  say "checking the bytes (sha256 of one download of each file from each server)"
  for s in awl nginx; do
    check_bytes "$s" many.bin
    check_bytes "$s" single.bin
  done

  # 1. Single stream, the servers alternating (awl first in odd runs).
  say "single stream: ${SINGLE_MIB} MiB, $REPS runs per server"
  local rep order
  for rep in $(seq "$REPS"); do
    if [ $((rep % 2)) -eq 1 ]; then order="awl nginx"; else order="nginx awl"; fi
    for s in $order; do run_single "$s" "$rep"; done
    say "  run $rep of $REPS done ($((SECONDS - START)) s)"
  done

  # 2. Concurrent clients, alternating the same way.
  say "concurrent: $CLIENTS clients x ${MANY_MIB} MiB ($CURL_PROCS curl processes), $MANY_REPS runs per server"
  for rep in $(seq "$MANY_REPS"); do
    if [ $((rep % 2)) -eq 1 ]; then order="awl nginx"; else order="nginx awl"; fi
    for s in $order; do run_many "$s" "$rep"; done
    say "  run $rep of $MANY_REPS done ($((SECONDS - START)) s)"
  done

  for s in awl nginx; do
    echo "end server=$s alive=$(kill -0 "${SPID[$s]}" 2>/dev/null && echo yes || echo no)" >>"$RESULTS"
    stop_server "$s"
  done

  mkdir -p "$CACHE/http-last-run"
  cp "$RESULTS" "$CACHE/http-last-run/results.txt"
  python3 "$REPO/bench/http_tables.py" "$RESULTS" | tee "$CACHE/http-last-run/tables.md"
  say "total $((SECONDS - START)) s; raw results: bench/.cache/http-last-run/results.txt"
}

main "$@"
