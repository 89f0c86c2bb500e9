#!/usr/bin/env bash
# bench/dhcp.sh: awl's DHCP server beside dnsmasq and kea-dhcp4, in the same
# run, with the same load generator (Kea's perfdhcp), printing markdown
# tables. See the "DHCP" section of bench/README.md.
#
# Usage (as root):  bench/dhcp.sh
# Knobs (environment):
#   BENCH_SERVERS="awl awl-info dnsmasq kea"   BENCH_CLIENTS="1000 10000"
#   BENCH_RATES="1000 10000" (DORA exchanges started per second, the same
#                              for every server)
#   BENCH_REPS=3    BENCH_BUDGET_S=540 (no new run starts after this)
#   ("awl" runs with RUST_LOG=warn, "awl-info" with awl's default, info,
#    which logs one line per DHCP decision)
#   BENCH_KEEP=1 (keep the work folder under /tmp)
#
# For each run, the script creates two network namespaces, awldhcp-<srv>-s
# (server, 10.88.0.1/16) and awldhcp-<srv>-c (perfdhcp, 10.88.0.2/16),
# joined by a veth pair, and removes them after the run. perfdhcp acts as a
# relay agent (giaddr 10.88.0.2, unicast to 10.88.0.1:67, replies to
# 10.88.0.2:67). The script ends only the processes it started (by PID, and
# whatever is left inside its own namespaces) and deletes its namespaces on
# exit.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

SERVERS=${BENCH_SERVERS:-"awl awl-info dnsmasq kea"}
CLIENT_COUNTS=${BENCH_CLIENTS:-"1000 10000"}
RATES=${BENCH_RATES:-"1000 10000"}
REPS=${BENCH_REPS:-3}
BUDGET_S=${BENCH_BUDGET_S:-540}
RUN_TIMEOUT_S=60   # hard bound on one perfdhcp run
TEST_PERIOD_S=45   # perfdhcp stops sending after this (-p)
EXIT_WAIT_US=1000000  # perfdhcp waits this long for late answers (-W)

AWL=$REPO/target/release/awl
TABLES=$REPO/bench/dhcp_tables.py
START=$SECONDS

say() { printf '%s\n' "$*" >&2; }
die() {
  say "dhcp.sh: $*"
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (network namespaces, port 67)"

# --- cleanup: only what this script started ----------------------------------
SPID=""         # PID of the running server
LOAD_PID=""     # PID of the running perfdhcp (its timeout wrapper)
NAMESPACES=()   # namespaces this script created (and not yet deleted)
VETH=""         # veth this script created (deleted with its namespace)
WORK=""
POLICY_RC_CREATED=0

ns_del_all() {
  local ns pid
  for ns in "${NAMESPACES[@]}"; do
    # Anything still inside our own namespace was started by this script.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  NAMESPACES=()
}

cleanup() {
  local rc=$?
  set +e
  if [ -n "$LOAD_PID" ]; then kill -TERM "$LOAD_PID" 2>/dev/null; fi
  stop_server
  ns_del_all
  if [ "$POLICY_RC_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
      say "dhcp.sh: kept $WORK"
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
  command -v python3 >/dev/null || missing+=(python3)
  command -v perfdhcp >/dev/null || missing+=(kea-admin)      # /usr/sbin/perfdhcp
  command -v kea-dhcp4 >/dev/null || missing+=(kea-dhcp4-server)
  command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)    # binary, no service
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
  # In case kea's service was started or enabled anyway: stop and disable it.
  local p
  for p in "${missing[@]}"; do
    [ "$p" = kea-dhcp4-server ] || continue
    if [ -d /run/systemd/system ]; then
      systemctl disable --now kea-dhcp4-server.service >/dev/null 2>&1 || true
    else
      [ -x /etc/init.d/kea-dhcp4-server ] && /etc/init.d/kea-dhcp4-server stop >/dev/null 2>&1
      update-rc.d kea-dhcp4-server disable >/dev/null 2>&1 || true
    fi
  done
}

# --- network namespaces -------------------------------------------------------
# ns_up SERVER: awldhcp-SERVER-s (10.88.0.1/16 on veth awldhcp-SERVER-s0) and
# awldhcp-SERVER-c (10.88.0.2/16 on awldhcp-SERVER-c0).
ns_up() {
  local s="awldhcp-$1-s" c="awldhcp-$1-c" ns
  for ns in "$s" "$c"; do
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
      if [ -n "$(ip netns pids "$ns" 2>/dev/null)" ]; then
        die "namespace $ns exists with processes in it (an earlier run?); remove it first"
      fi
      ip netns del "$ns"
    fi
    ip netns add "$ns"
    NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
  done
  # Interface names are at most 15 characters.
  SIF="dh-$1-s0"; SIF=${SIF:0:15}
  CIF="dh-$1-c0"; CIF=${CIF:0:15}
  ip -n "$s" link add "$SIF" type veth peer name "$CIF" netns "$c"
  ip -n "$s" addr add 10.88.0.1/16 dev "$SIF"
  ip -n "$c" addr add 10.88.0.2/16 dev "$CIF"
  ip -n "$s" link set "$SIF" up
  ip -n "$c" link set "$CIF" up
  SNS=$s
  CNS=$c
}

# --- servers --------------------------------------------------------------------
# start_server NAME DIR: starts it inside $SNS, sets SPID, waits for port 67.
start_server() {
  local name=$1 dir=$2
  mkdir -p "$dir"
  case $name in
    awl | awl-info)
      local log=warn
      [ "$name" = awl-info ] && log=info
      mkdir -p "$dir/tftp-root"
      RUST_LOG=$log ip netns exec "$SNS" "$AWL" serve \
        --tftp-root "$dir/tftp-root" --tftp-listen 10.88.0.1:69 \
        --interface "$SIF" --dhcp-range 10.88.1.0,10.88.60.255 \
        --lease-file "$dir/leases" --dhcp-leases 20000 --dhcp-lease-time 3600 \
        >"$dir/server.log" 2>&1 &
      ;;
    dnsmasq)
      ip netns exec "$SNS" dnsmasq --keep-in-foreground --conf-file=/dev/null \
        --port=0 --interface="$SIF" --bind-interfaces --no-ping --quiet-dhcp \
        --dhcp-range=10.88.1.0,10.88.60.255,255.255.0.0,1h \
        --dhcp-lease-max=20000 --dhcp-leasefile="$dir/leases" \
        --pid-file="$dir/dnsmasq.pid" --log-facility=- \
        >"$dir/server.log" 2>&1 &
      ;;
    kea)
      cat >"$dir/kea-dhcp4.json" <<EOF
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "$SIF" ], "dhcp-socket-type": "udp" },
    "lease-database": { "type": "memfile", "persist": true,
                        "name": "$dir/leases4.csv", "lfc-interval": 0 },
    "valid-lifetime": 3600,
    "subnet4": [ { "id": 1, "subnet": "10.88.0.0/16",
                   "pools": [ { "pool": "10.88.1.0 - 10.88.60.255" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "WARN",
                   "output_options": [ { "output": "$dir/kea.log" } ] } ]
  }
}
EOF
      KEA_PIDFILE_DIR=$dir KEA_LOCKFILE_DIR=$dir \
        ip netns exec "$SNS" kea-dhcp4 -c "$dir/kea-dhcp4.json" >"$dir/server.log" 2>&1 &
      ;;
    *) die "unknown server $name" ;;
  esac
  SPID=$!   # ip netns exec execs the server: this is the server's PID
  local _
  for _ in $(seq 100); do
    kill -0 "$SPID" 2>/dev/null || { say "$name exited at start:"; tail -n 20 "$dir/server.log" >&2; SPID=""; return 1; }
    if ip netns exec "$SNS" ss -Hulpn 'sport = :67' 2>/dev/null | grep -q "pid=$SPID,"; then
      sleep 0.3  # let it finish starting (kea's logger, awl's journal)
      return 0
    fi
    sleep 0.1
  done
  say "$name did not bind port 67 within 10 s"
  tail -n 20 "$dir/server.log" >&2
  return 1
}

stop_server() {
  local pid=$SPID
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local _
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  SPID=""
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' /proc/"$1"/status 2>/dev/null || echo 0; }

# --- runs ---------------------------------------------------------------------
over_budget() { [ $((SECONDS - START)) -ge "$BUDGET_S" ]; }

# run_one SERVER CLIENTS RATE REP: fresh server, one perfdhcp run, then a
# probe; appends one JSON line to results.jsonl.
run_one() {
  local name=$1 n=$2 rate=$3 rep=$4
  local dir="$WORK/$name-$n-$rate-$rep"
  mkdir -p "$dir"
  ns_up "$name"
  if ! start_server "$name" "$dir"; then
    printf '{"server":"%s","clients":%d,"rate":%d,"rep":%d,"failed":true}\n' \
      "$name" "$n" "$rate" "$rep" >>"$WORK/results.jsonl"
    stop_server; ns_del_all
    return 0
  fi
  local rss0 hwm0
  rss0=$(status_kb "$SPID" VmRSS)
  hwm0=$(status_kb "$SPID" VmHWM)
  # -R n distinct clients (MACs 00:0c:01:02:03:04 counting up), -n n
  # exchanges: every client does one DORA. -x t: timestamps of every
  # exchange, -x l: every lease received. -u: count addresses given to two
  # clients. -g multi: a receiver thread (the default on 2+ CPUs).
  # In the background with wait, so that a signal to this script is
  # handled at once (the trap ends it) rather than after perfdhcp ends.
  local rc=0
  ip netns exec "$CNS" timeout -k 5 "$RUN_TIMEOUT_S" perfdhcp -4 -g multi \
    -l 10.88.0.2 -R "$n" -n "$n" -r "$rate" -p "$TEST_PERIOD_S" -W "$EXIT_WAIT_US" \
    -u -x tl 10.88.0.1 >"$dir/perfdhcp.out" 2>&1 &
  LOAD_PID=$!
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=""
  sleep 0.5   # the server settles (awl's last journal batch, kea's log)
  local rss1=0 hwm1=0 alive=false probe_acks=-1
  if kill -0 "$SPID" 2>/dev/null; then
    alive=true
    rss1=$(status_kb "$SPID" VmRSS)
    hwm1=$(status_kb "$SPID" VmHWM)
    # Probe: does the server still answer? 5 new clients (other MACs), one
    # DORA each at 20/s, after the load has stopped.
    ip netns exec "$CNS" timeout -k 5 20 perfdhcp -4 -g multi -l 10.88.0.2 \
      -b mac=00:0d:00:00:00:01 -R 5 -n 5 -r 20 -W 1500000 10.88.0.1 \
      >"$dir/probe.out" 2>&1 || true
    probe_acks=$(awk '/Statistics for: REQUEST-ACK/ { f = 1 } f && /^received packets:/ { print $3; exit }' "$dir/probe.out")
    probe_acks=${probe_acks:-0}
    kill -0 "$SPID" 2>/dev/null || alive=false
  fi
  stop_server
  ns_del_all
  local parsed
  parsed=$(python3 "$TABLES" parse "$dir/perfdhcp.out")
  python3 - "$parsed" "$name" "$n" "$rep" "$rate" "$rss0" "$rss1" "$hwm0" "$hwm1" "$rc" "$alive" "$probe_acks" \
    >>"$WORK/results.jsonl" <<'PY'
import json, sys
p = json.loads(sys.argv[1])
name, n, rep, rate, rss0, rss1, hwm0, hwm1, rc, alive, probe = sys.argv[2:]
p.update(server=name, clients=int(n), rep=int(rep), rate=int(rate),
         rss_start_kb=int(rss0), rss_end_kb=int(rss1), hwm_start_kb=int(hwm0),
         hwm_kb=int(hwm1), perfdhcp_rc=int(rc), alive=(alive == "true"),
         probe_acks=int(probe))
p["leases"] = p["acked_addresses"]
# Never shorter than the time perfdhcp needed to send its DISCOVERs (lost
# ones have no timestamp): when most exchanges fail, the last ACK comes early.
p["span_s"] = max(p["span_s"] or 0.0, p["do_sent"] / p["rate"])
p["dora_per_s"] = p["ra_recv"] / p["span_s"] if p["span_s"] else 0.0
p["kib_per_lease"] = ((p["rss_end_kb"] - p["rss_start_kb"]) / p["leases"]) if p["leases"] and p["alive"] else None
if not p["alive"]:
    p["failed"] = True
print(json.dumps(p))
PY
  tail -n 1 "$WORK/results.jsonl" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
f = lambda v, s="{:.2f}": "-" if v is None else s.format(v)
print("  %-8s %5d clients @%5d/s rep %d: %6s DORA/s, ACKs %d/%d, D-O p50/p99 %s/%s ms, R-A p50/p99 %s/%s ms, leases %d, RSS %d->%d KiB, HWM %d KiB, probe %d/5%s" % (
  r["server"], r["clients"], r["rate"], r["rep"], f(r["dora_per_s"], "{:.0f}"), r["ra_recv"], r["do_sent"],
  f(r["do_p50_ms"]), f(r["do_p99_ms"]), f(r["ra_p50_ms"]), f(r["ra_p99_ms"]), r["leases"],
  r["rss_start_kb"], r["rss_end_kb"], r["hwm_kb"], r["probe_acks"], "" if r["alive"] else " SERVER DIED"))' >&2
  if [ "$alive" = false ]; then
    say "  $name died during the run; last log lines:"
    tail -n 10 "$dir/server.log" >&2
  fi
}

install_packages
say "building awl (cargo build --release -p awl)"
(cd "$REPO" && cargo build --release -p awl >/dev/null 2>&1) || die "awl: build failed"
"$AWL" serve --help 2>/dev/null | grep -q -- '--dhcp-range' || die "awl serve has no --dhcp-range"

WORK=$(mktemp -d /tmp/awldhcp.XXXXXX)
: >"$WORK/results.jsonl"

say "dhcp.sh: $(nproc) cores; servers: $SERVERS; clients: $CLIENT_COUNTS; rates: $RATES; reps: $REPS"
# Interleaved: every server runs each configuration once before the next
# repetition starts, so a slow moment of the machine hits all of them.
SKIPPED=()
for rep in $(seq "$REPS"); do
  for n in $CLIENT_COUNTS; do
    for rate in $RATES; do
      for name in $SERVERS; do
        if over_budget; then
          SKIPPED+=("$name/$n/$rate/rep$rep")
          continue
        fi
        run_one "$name" "$n" "$rate" "$rep"
      done
    done
  done
done

{
  echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem:/ {print $2}') GiB, Linux $(uname -r)"
  echo
  echo "load: perfdhcp $(perfdhcp -v 2>&1 | head -n1 | sed 's/VERSION: //') as a relay agent (giaddr 10.88.0.2, unicast to 10.88.0.1:67), over a veth pair between two network namespaces; one DORA per client; a fresh server for every run"
  echo
  for name in $SERVERS; do
    case $name in
      awl) echo "- awl $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- host core 2>/dev/null || echo ' (with uncommitted changes)'): RUST_LOG=warn, --dhcp-leases 20000" ;;
      awl-info) echo "- awl-info: the same binary with RUST_LOG=info (awl's default: one log line per DHCP decision)" ;;
      dnsmasq) echo "- dnsmasq $(dnsmasq --version | head -n1 | awk '{print $3}'): --no-ping --quiet-dhcp --dhcp-lease-max=20000" ;;
      kea) echo "- kea-dhcp4 $(kea-dhcp4 -v): memfile leases (persist), logging at WARN, otherwise the default configuration (single-threaded)" ;;
    esac
  done
  python3 "$TABLES" tables "$WORK/results.jsonl"
  if [ "${#SKIPPED[@]}" -ne 0 ]; then
    echo
    echo "Skipped (over BENCH_BUDGET_S=$BUDGET_S): ${SKIPPED[*]}"
  fi
} | tee "$WORK/tables.md"
mkdir -p "$REPO/bench/.cache/dhcp-last-run"
cp "$WORK/tables.md" "$WORK/results.jsonl" "$REPO/bench/.cache/dhcp-last-run/"
say "dhcp.sh: done in $((SECONDS - START)) s; tables and raw results in bench/.cache/dhcp-last-run/"
