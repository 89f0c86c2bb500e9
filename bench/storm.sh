#!/usr/bin/env bash
# bench/storm.sh: a boot storm (issue 11). N machines at once each do DHCP
# (DORA), fetch the boot file over TFTP and a kernel + initrd over HTTP,
# every byte checked, against several server setups in the same run and a
# raw copy of the same bytes (iperf3) over the same veth. Prints markdown
# tables. Results and how to read them: the "Boot storm" section of
# BENCHMARKS.md; the client: tests/src/bin/boot_storm.rs.
#
# Usage (as root):  bench/storm.sh
# Knobs (environment):
#   BENCH_CLIENTS=500        machines at once
#   BENCH_CONFIGS="awl awl+nginx dnsmasq+nginx kea+tftpd-hpa+nginx nginx iperf3"
#                            a setup named SETUP@threads runs SETUP with
#                            the load generator's old TFTP client (a thread
#                            woken per block per machine; --tftp-threads)
#   BENCH_REPS=2             rounds; each round runs every configuration once,
#                            in that order (alternating, so a slow moment of
#                            the shared machine hits every setup alike)
#   BENCH_BOOT_KIB=1024 BENCH_KERNEL_MIB=8 BENCH_INITRD_MIB=32   file sizes
#   BENCH_AWL=PATH           an awl binary to use instead of building one
#   BENCH_AWL_BASE=PATH      another awl binary, measured as setup "awl-base"
#                            (add it to BENCH_CONFIGS): before and after a
#                            change, in the same run
#   BENCH_BUDGET_S=1500      no new run starts after this many seconds
#   BENCH_KEEP=1             keep the work folder (/tmp/awlstorm.*)
#
# Topology: namespaces awlstorm-s (servers; 10.77.0.1/16 on veth st-s0) and
# awlstorm-c (the load generator; 10.77.0.2/16 on st-c0). The DHCP pool is
# 10.77.16.1-10.77.31.254; the client namespace has the AnyIP route
# "local 10.77.16.0/20 dev lo", so the load generator can bind each
# machine's sockets to the address leased to it (and answer ARP for it)
# without adding hundreds of addresses. The nginx-alone run uses the same
# range as fixed addresses (machine i: 10.77.16.1 + i).
#
# The script ends only the processes it started (by PID, then whatever is
# left inside its own two namespaces) and deletes its namespaces on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

CLIENTS=${BENCH_CLIENTS:-500}
CONFIGS=${BENCH_CONFIGS:-"awl awl+nginx dnsmasq+nginx kea+tftpd-hpa+nginx nginx iperf3"}
REPS=${BENCH_REPS:-2}
BOOT_LEN=$((${BENCH_BOOT_KIB:-1024} * 1024))
KERNEL_LEN=$((${BENCH_KERNEL_MIB:-8} * 1048576))
INITRD_LEN=$((${BENCH_INITRD_MIB:-32} * 1048576))
BUDGET_S=${BENCH_BUDGET_S:-1500}
BLKSIZE=1468 # what iPXE asks for on Ethernet; no windowsize (iPXE asks none)

SNS=awlstorm-s
CNS=awlstorm-c
SIF=st-s0
CIF=st-c0
SADDR=10.77.0.1
POOL_FIRST=10.77.16.1
POOL_LAST=10.77.31.254
ANYIP=10.77.16.0/20

STORM=$REPO/target/release/boot_storm
AWL=${BENCH_AWL:-$REPO/target/release/awl}
AWL_BASE=${BENCH_AWL_BASE:-}
TABLES=$REPO/bench/storm_tables.py
CACHE=$REPO/bench/.cache
START=$SECONDS

say() { printf '%s\n' "$*" >&2; }
die() {
  say "storm.sh: $*"
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (network namespaces, ports 67, 69, 80)"

# --- cleanup: only what this script started ----------------------------------
PIDS=()       # servers started for the current run
NAMESPACES=() # namespaces this script created
WORK=""
POLICY_RC_CREATED=0

# CPU seconds the servers used so far (user + system, with reaped
# children): every process in the server namespace, and awl's TFTP thread.
server_cpu() {
  local hz total=0 tftp=0 pid task
  hz=$(getconf CLK_TCK)
  for pid in $(ip netns pids "$SNS" 2>/dev/null); do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    for task in /proc/"$pid"/task/*; do
      [ "$(cat "$task/comm" 2>/dev/null)" = awl-tftp ] &&
        tftp=$((tftp + $(awk '{print $14 + $15}' "$task/stat" 2>/dev/null || echo 0)))
    done
  done
  echo "server_cpu_s=$(awk -v t=$total -v h="$hz" 'BEGIN{printf "%.2f", t/h}') tftp_thread_cpu_s=$(awk -v t=$tftp -v h="$hz" 'BEGIN{printf "%.2f", t/h}')"
}

stop_servers() {
  local pid _
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
  # Whatever is still in the server namespace (nginx workers, tftpd-hpa
  # children) was started by this script.
  for pid in $(ip netns pids "$SNS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
}

cleanup() {
  local rc=$?
  set +e
  stop_servers
  local ns pid
  for ns in "${NAMESPACES[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [ "$POLICY_RC_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${BENCH_KEEP:-0}" = 1 ]; then say "storm.sh: kept $WORK"; else rm -rf "$WORK"; fi
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
  command -v python3 >/dev/null || missing+=(python3)
  command -v nginx >/dev/null || missing+=(nginx)
  command -v dnsmasq >/dev/null || missing+=(dnsmasq-base) # the binary, no service
  command -v kea-dhcp4 >/dev/null || missing+=(kea-dhcp4-server)
  command -v in.tftpd >/dev/null || missing+=(tftpd-hpa)
  command -v iperf3 >/dev/null || missing+=(iperf3)
  command -v cargo >/dev/null || die "cargo is needed (rustup)"
  [ "${#missing[@]}" -eq 0 ] && return 0
  say "installing: ${missing[*]}"
  # Keep the packages' init scripts from starting services (Debian's
  # policy-rc.d protocol: 101 = action not allowed).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$POLICY_RC_CREATED" = 1 ]; then
    rm -f /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=0
  fi
  local p
  for p in "${missing[@]}"; do
    case $p in
      nginx | kea-dhcp4-server | tftpd-hpa | iperf3)
        if [ -d /run/systemd/system ]; then
          systemctl disable --now "$p.service" >/dev/null 2>&1 || true
        else
          [ -x "/etc/init.d/$p" ] && "/etc/init.d/$p" stop >/dev/null 2>&1
          update-rc.d "$p" disable >/dev/null 2>&1 || true
        fi
        ;;
    esac
  done
}

# --- namespaces -------------------------------------------------------------------
ns_up() {
  local ns
  for ns in "$SNS" "$CNS"; do
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
      [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] ||
        die "namespace $ns exists with processes in it (an earlier run?); remove it first"
      ip netns del "$ns"
    fi
    ip netns add "$ns"
    NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
  done
  ip -n "$SNS" link add "$SIF" type veth peer name "$CIF" netns "$CNS"
  ip -n "$SNS" addr add "$SADDR/16" dev "$SIF"
  ip -n "$CNS" addr add 10.77.0.2/16 dev "$CIF"
  ip -n "$SNS" link set "$SIF" up
  ip -n "$CNS" link set "$CIF" up
  # AnyIP: every pool address is local in the client namespace.
  ip -n "$CNS" route add local "$ANYIP" dev lo
  # Room for one neighbour entry per machine on the server side.
  local k
  for k in 1 2 3; do
    ip netns exec "$SNS" sysctl -qw "net.ipv4.neigh.default.gc_thresh$k=$((CLIENTS * 4 + 1024))" 2>/dev/null || true
  done
}

# --- servers ------------------------------------------------------------------------
# wait_port PROTO PORT: until something in the server namespace listens.
wait_port() {
  local flag=-Hlun _
  [ "$1" = tcp ] && flag=-Hltn
  for _ in $(seq 100); do
    [ -n "$(ip netns exec "$SNS" ss $flag "sport = :$2" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  say "nothing listens on $1 port $2 after 10 s"
  return 1
}

# spawn NAME CMD...: starts CMD in the server namespace, logs to WORK/run/NAME.log.
spawn() {
  local name=$1
  shift
  echo "# $*" >>"$RUN/$name.log"
  ip netns exec "$SNS" "$@" >>"$RUN/$name.log" 2>&1 &
  PIDS+=($!)
  echo "$name" >>"$RUN/spawned"
}

start_nginx() {
  mkdir -p "$RUN/nginx/tmp"
  cat >"$RUN/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
master_process on;
user nobody nogroup;
pid $RUN/nginx/nginx.pid;
error_log $RUN/nginx/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000;
  default_type application/octet-stream;
  client_body_temp_path $RUN/nginx/tmp/body;
  proxy_temp_path $RUN/nginx/tmp/proxy;
  fastcgi_temp_path $RUN/nginx/tmp/fastcgi;
  uwsgi_temp_path $RUN/nginx/tmp/uwsgi;
  scgi_temp_path $RUN/nginx/tmp/scgi;
  server {
    listen $SADDR:80;
    location /boot/ { alias $ROOT/; }
  }
}
EOF
  spawn nginx nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$RUN/nginx/error.log"
  wait_port tcp 80
}

start_kea() {
  cat >"$RUN/kea-dhcp4.json" <<EOF
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "$SIF" ] },
    "lease-database": { "type": "memfile", "persist": true,
                        "name": "$RUN/leases4.csv", "lfc-interval": 0 },
    "valid-lifetime": 3600,
    "next-server": "$SADDR",
    "boot-file-name": "undionly.kpxe",
    "subnet4": [ { "id": 1, "subnet": "10.77.0.0/16",
                   "pools": [ { "pool": "$POOL_FIRST - $POOL_LAST" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "WARN",
                   "output_options": [ { "output": "$RUN/kea.log" } ] } ]
  }
}
EOF
  KEA_PIDFILE_DIR=$RUN KEA_LOCKFILE_DIR=$RUN spawn kea kea-dhcp4 -c "$RUN/kea-dhcp4.json"
  wait_port udp 67
}

# awl: all three protocols, or DHCP+TFTP only ($1 = http or nohttp); $2:
# the binary (default $AWL).
start_awl() {
  local http=() binary=${2:-$AWL}
  [ "$1" = http ] && http=(--http-listen "$SADDR:80")
  RUST_LOG=warn spawn awl "$binary" serve --interface "$SIF" --dhcp-range "$POOL_FIRST,$POOL_LAST" \
    --lease-file "$RUN/leases" --dhcp-leases $((CLIENTS * 2 + 1024)) \
    --tftp-root "$ROOT" --tftp-listen "$SADDR:69" --tftp-transfers $((CLIENTS + 56)) \
    "${http[@]}"
  wait_port udp 67 && wait_port udp 69 && { [ "$1" != http ] || wait_port tcp 80; }
}

start_config() {
  case $1 in
    awl) start_awl http ;;
    awl-base)
      [ -x "$AWL_BASE" ] || die "awl-base: set BENCH_AWL_BASE to an awl binary"
      start_awl http "$AWL_BASE"
      ;;
    awl+nginx) start_awl nohttp && start_nginx ;;
    dnsmasq+nginx)
      spawn dnsmasq dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 \
        --interface="$SIF" --bind-interfaces --no-ping --quiet-dhcp \
        --dhcp-range="$POOL_FIRST,$POOL_LAST,255.255.0.0,1h" \
        --dhcp-lease-max=$((CLIENTS * 2 + 1024)) --dhcp-leasefile="$RUN/dnsmasq.leases" \
        --dhcp-boot=undionly.kpxe --enable-tftp --tftp-root="$ROOT" \
        --tftp-max=$((CLIENTS + 56)) --pid-file="$RUN/dnsmasq.pid" --log-facility=- --user=nobody
      wait_port udp 67 && wait_port udp 69 && start_nginx
      ;;
    kea+tftpd-hpa+nginx)
      start_kea &&
        spawn tftpd-hpa in.tftpd --foreground --listen --address "$SADDR:69" --secure --user nobody "$ROOT" &&
        wait_port udp 69 && start_nginx
      ;;
    nginx) start_nginx ;;
    iperf3)
      spawn iperf3 iperf3 --server --bind "$SADDR" --one-off
      wait_port tcp 5201
      ;;
    *) die "unknown configuration $1" ;;
  esac
}

# --- runs ---------------------------------------------------------------------------
RESULTS=""
over_budget() { [ $((SECONDS - START)) -ge "$BUDGET_S" ]; }

run_one() {
  local cfg=$1 rep=$2 rc=0 out
  RUN=$WORK/$cfg-$rep
  mkdir -p "$RUN"
  : >"$RUN/spawned"
  ip -n "$SNS" neigh flush all 2>/dev/null || true
  ip -n "$CNS" neigh flush all 2>/dev/null || true
  # SETUP@threads: the same servers, the load generator with --tftp-threads.
  local setup=${cfg%@threads} extra=()
  [ "$setup" = "$cfg" ] || extra=(--tftp-threads)
  if ! start_config "$setup"; then
    echo "result cfg=$cfg rep=$rep rc=did_not_start" >>"$RESULTS"
    stop_servers
    return
  fi
  out=$RUN/client.txt
  local total=$((CLIENTS * (KERNEL_LEN + INITRD_LEN)))
  local files=(--http "/boot/kernel:$KERNEL_LEN" --http "/boot/initrd:$INITRD_LEN")
  local cmd
  case $setup in
    iperf3) cmd=(iperf3 --client "$SADDR" --bytes "$total" --json) ;;
    nginx) cmd=("$STORM" --clients "$CLIENTS" --server "$SADDR" --static-first "$POOL_FIRST" "${files[@]}") ;;
    *) cmd=("$STORM" --clients "$CLIENTS" --server "$SADDR" --interface "$CIF"
      --tftp "undionly.kpxe:$BOOT_LEN" --blksize "$BLKSIZE" "${files[@]}" "${extra[@]}") ;;
  esac
  [ "$cfg" = iperf3 ] || cmd+=(--deadline-s 540 --label "$cfg")
  [ "$rep" = 1 ] && say "  client: ip netns exec $CNS ${cmd[*]}"
  timeout 600 ip netns exec "$CNS" "${cmd[@]}" >"$out" 2>"$out.err" || rc=$?
  if [ "$cfg" = iperf3 ]; then
    python3 - "$out" "$rc" "$rep" >>"$RESULTS" <<'PY'
import json, sys
path, rc, rep = sys.argv[1:]
try:
    end = json.load(open(path))["end"]["sum_received"]
    print(f"result cfg=iperf3 rep={rep} rc={rc} wall_s={end['seconds']:.2f} bytes={end['bytes']} "
          f"MBps={end['bytes'] / end['seconds'] / 1e6:.1f}")
except Exception as e:  # noqa: BLE001
    print(f"result cfg=iperf3 rep={rep} rc={rc} error={type(e).__name__}")
PY
  else
    local summary
    summary=$(grep -a '^boot_storm summary' "$out" | tail -n 1 | sed 's/^boot_storm summary //' || true)
    echo "result cfg=$cfg rep=$rep rc=$rc $summary $(server_cpu) cores=$(nproc)" >>"$RESULTS"
    grep -a '^boot_storm failure' "$out" | head -n 3 | sed 's/^/    /' >&2 || true
  fi
  [ "$rc" -eq 0 ] || say "  $cfg run $rep: exit $rc $(head -c 300 "$out.err")"
  stop_servers
  say "  $cfg run $rep done ($((SECONDS - START)) s): $(tail -n 1 "$RESULTS" | cut -c1-160)"
}

main() {
  install_packages
  WORK=$(mktemp -d /tmp/awlstorm.XXXXXX)
  chmod 755 "$WORK"
  RESULTS=$WORK/results.txt
  : >"$RESULTS"
  ulimit -n 65536 2>/dev/null || true

  say "building the client (cargo build --release -p awl-tests --bin boot_storm)"
  if ! cargo build --release -q -p awl-tests --bin boot_storm >"$WORK/client-build.log" 2>&1; then
    tail -n 30 "$WORK/client-build.log" >&2
    [ -x "$STORM" ] || die "boot_storm does not build"
    say "boot_storm does not build now (the workspace is being edited?): using the existing $STORM"
  fi
  if [ -z "${BENCH_AWL:-}" ] && grep -q awl <<<"$CONFIGS"; then
    say "building awl (cargo build --release -p awl)"
    cargo build --release -q -p awl >"$WORK/awl-build.log" 2>&1 ||
      { tail -n 30 "$WORK/awl-build.log" >&2; die "awl does not build"; }
  fi

  ROOT=$WORK/root
  mkdir -p "$ROOT"
  "$STORM" --generate "$ROOT/undionly.kpxe" --len "$BOOT_LEN"
  "$STORM" --generate "$ROOT/kernel" --len "$KERNEL_LEN"
  "$STORM" --generate "$ROOT/initrd" --len "$INITRD_LEN"
  chmod 755 "$ROOT"
  chmod 644 "$ROOT"/*

  ns_up
  {
    echo "machine cores=$(nproc) kernel=$(uname -r) mem_gib=$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)"
    echo "params clients=$CLIENTS reps=$REPS boot=$BOOT_LEN kernel=$KERNEL_LEN initrd=$INITRD_LEN blksize=$BLKSIZE"
    echo "version awl=$("$AWL" --version 2>/dev/null | awk '{print $2}') commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)${BENCH_AWL:+ binary=$AWL}${BENCH_AWL_BASE:+ base=$AWL_BASE}"
    echo "version dnsmasq=$(dnsmasq --version | head -n 1 | awk '{print $3}') kea=$(kea-dhcp4 -v 2>/dev/null) tftpd-hpa=$(in.tftpd -V 2>&1 | head -n 1 | awk '{print $2}' | tr -d ,) nginx=$(nginx -v 2>&1 | sed 's|.*/||') iperf3=$(iperf3 --version | head -n 1 | awk '{print $2}')"
  } >>"$RESULTS"

  say "boot storm: $CLIENTS machines, boot file $BOOT_LEN B (TFTP blksize $BLKSIZE, lock-step), kernel $KERNEL_LEN B + initrd $INITRD_LEN B (HTTP); $REPS rounds of: $CONFIGS"
  local rep cfg
  for rep in $(seq "$REPS"); do
    for cfg in $CONFIGS; do
      if over_budget; then
        echo "result cfg=$cfg rep=$rep rc=budget" >>"$RESULTS"
        continue
      fi
      run_one "$cfg" "$rep"
    done
  done

  mkdir -p "$CACHE/storm-last-run"
  cp "$RESULTS" "$CACHE/storm-last-run/results.txt"
  python3 "$TABLES" "$RESULTS" | tee "$CACHE/storm-last-run/tables.md"
  say "total $((SECONDS - START)) s; raw results: bench/.cache/storm-last-run/results.txt"
}

main "$@"
