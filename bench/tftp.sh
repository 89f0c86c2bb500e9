#!/usr/bin/env bash
# bench/tftp.sh: awl's TFTP server beside tftpd-hpa, dnsmasq and atftpd, in
# the same run, with the same client (tests/src/bin/tftp_load.rs), printing
# markdown tables. See bench/README.md.
#
# Usage (as root):  bench/tftp.sh
# Knobs (environment): BENCH_SERVERS="awl tftpd-hpa dnsmasq atftpd"
#   BENCH_REPS=5  BENCH_CLIENTS=200  BENCH_SINGLE_MIB=64  BENCH_MANY_MIB=32
#   BENCH_BUDGET_S=900 (no new run starts after this many seconds)
#   BENCH_KEEP=1 (keep the work folder under /tmp)
#
# Every server runs in its own network namespace (awlbench-<server>) where
# only lo is up; all traffic is on 127.0.0.1 inside it. The script ends only
# the processes it started (by PID, and whatever is left inside its own
# namespaces) and deletes its namespaces on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

SERVERS=${BENCH_SERVERS:-"awl tftpd-hpa dnsmasq atftpd"}
REPS=${BENCH_REPS:-5}
CLIENTS=${BENCH_CLIENTS:-200}
SINGLE_MIB=${BENCH_SINGLE_MIB:-64}
MANY_MIB=${BENCH_MANY_MIB:-32}
BUDGET_S=${BENCH_BUDGET_S:-900}
# Single-stream configurations: blksize:windowsize.
CONFIGS=${BENCH_CONFIGS:-"1468:1 1468:16 1468:64 65464:1 65464:16"}
MANY_BLKSIZE=1468
MANY_WINDOW=16

CACHE=$REPO/bench/.cache
LOAD=$REPO/target/release/tftp_load
AWL=$REPO/target/release/awl
ATFTPD=$CACHE/atftpd/usr/sbin/atftpd
START=$SECONDS

say() { printf '%s\n' "$*" >&2; }
die() {
  say "tftp.sh: $*"
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (network namespaces, port 69)"

# --- cleanup: only what this script started ---------------------------------
declare -A SPID=()  # server name -> PID of the server process
NAMESPACES=()       # namespaces this script created
SAMPLER_PID=""
WORK=""
POLICY_RC_CREATED=0

cleanup() {
  local rc=$?
  set +e
  if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null; fi
  local name
  for name in "${!SPID[@]}"; do stop_server "$name"; done
  local ns pid
  for ns in "${NAMESPACES[@]}"; do
    # Anything still inside our own namespace was started by this script.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [ "$POLICY_RC_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
      say "tftp.sh: kept $WORK"
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
  command -v in.tftpd >/dev/null || missing+=(tftpd-hpa)
  # dnsmasq-base is the binary without the system service.
  command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
  command -v cargo >/dev/null || die "cargo is needed (rustup)"
  if [ "${#missing[@]}" -ne 0 ]; then
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
    # In case a service was started or enabled anyway: stop and disable it.
    local p
    for p in "${missing[@]}"; do
      [ "$p" = tftpd-hpa ] || continue
      if [ -d /run/systemd/system ]; then
        systemctl disable --now tftpd-hpa.service >/dev/null 2>&1 || true
      else
        [ -x /etc/init.d/tftpd-hpa ] && /etc/init.d/tftpd-hpa stop >/dev/null 2>&1
        update-rc.d tftpd-hpa disable >/dev/null 2>&1 || true
      fi
    done
  fi
  # atftpd conflicts with tftpd-hpa: unpack its package, never install it.
  if [ ! -x "$ATFTPD" ]; then
    say "fetching atftpd (apt-get download, unpacked into bench/.cache/atftpd)"
    mkdir -p "$CACHE"
    rm -rf "$CACHE/atftpd" "$CACHE"/atftpd_*.deb
    (cd "$CACHE" && apt-get download atftpd >/dev/null 2>&1) ||
      { apt-get update -qq && (cd "$CACHE" && apt-get download atftpd >/dev/null 2>&1); } ||
      die "apt-get download atftpd failed"
    dpkg -x "$CACHE"/atftpd_*.deb "$CACHE/atftpd"
  fi
  if ldd "$ATFTPD" | grep -q 'not found'; then
    say "installing atftpd's libraries"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libwrap0 libpcre2-8-0 >/dev/null
  fi
}

# --- network namespaces ---------------------------------------------------------
ns_of() { printf 'awlbench-%s' "$1"; }

ns_up() {
  local ns
  ns=$(ns_of "$1")
  if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
    if [ -n "$(ip netns pids "$ns" 2>/dev/null)" ]; then
      die "namespace $ns exists with processes in it (an earlier run?); remove it first"
    fi
    ip netns del "$ns"
  fi
  ip netns add "$ns"
  NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
}

ns_down() {
  local ns pid keep=() n
  ns=$(ns_of "$1")
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  for n in "${NAMESPACES[@]}"; do [ "$n" = "$ns" ] || keep+=("$n"); done
  NAMESPACES=("${keep[@]}")
}

# --- servers ------------------------------------------------------------------
AWL_STATUS=""  # empty: usable; otherwise why awl is skipped

awl_extra=()
CMD=()
prepare_awl() {
  say "building awl (cargo build --release -p awl)"
  if ! cargo build --release -q -p awl >"$WORK/awl-build.log" 2>&1; then
    AWL_STATUS="build failed (see cargo build --release -p awl)"
    tail -n 20 "$WORK/awl-build.log" >&2
    return
  fi
  local help
  if ! help=$("$AWL" serve --help 2>&1); then
    AWL_STATUS="serve not available yet"
    return
  fi
  # All benchmark clients share 127.0.0.1; the peers have no per-address
  # limit, so lift awl's (default 64) when the option exists.
  if grep -q -- '--tftp-max-per-ip' <<<"$help"; then awl_extra+=(--tftp-max-per-ip 0); fi
  if grep -q -- '--tftp-transfers' <<<"$help"; then awl_extra+=(--tftp-transfers $((CLIENTS + 56))); fi
}

# Sets CMD to the command line of server $1.
server_cmd() {
  local root=$WORK/root
  case $1 in
    awl) CMD=("$AWL" serve --tftp-root "$root" --tftp-listen 127.0.0.1:69 --no-dhcp "${awl_extra[@]}") ;;
    # tftpd-hpa cannot resolve 127.0.0.1 when lo is the only interface
    # (glibc AI_ADDRCONFIG), so it binds 0.0.0.0:69 inside the namespace,
    # where lo is the only interface there is.
    tftpd-hpa) CMD=(in.tftpd --foreground --listen -4 --secure --user nobody "$root") ;;
    dnsmasq)
      CMD=(dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --enable-tftp
        --tftp-root="$root" --listen-address=127.0.0.1 --bind-interfaces
        --edns-packet-max=65535 --tftp-max=$((CLIENTS + 56)) --pid-file="$WORK/dnsmasq.pid"
        --log-facility="$WORK/dnsmasq-tftp.log" --user=nobody)
      ;;
    atftpd)
      CMD=("$ATFTPD" --daemon --no-fork --tftpd-timeout 0 --port 69 --bind-address 127.0.0.1
        --maxthread $((CLIENTS + 56)) --user nobody --group nogroup --logfile - "$root")
      ;;
  esac
}

start_server() {
  local name=$1 ns
  ns=$(ns_of "$name")
  ns_up "$name"
  server_cmd "$name"
  echo "# ${CMD[*]}" >>"$WORK/$name.log"
  ip netns exec "$ns" "${CMD[@]}" >>"$WORK/$name.log" 2>&1 &
  SPID[$name]=$!
  local _
  for _ in $(seq 50); do
    if ! kill -0 "${SPID[$name]}" 2>/dev/null; then
      unset "SPID[$name]"
      say "$name: exited at start; log:"
      tail -n 5 "$WORK/$name.log" >&2
      return 1
    fi
    if [ -n "$(ip netns exec "$ns" ss -Hlun 'sport = :69' 2>/dev/null)" ]; then return 0; fi
    sleep 0.1
  done
  say "$name: not listening on port 69 after 5 s"
  stop_server "$name"
  return 1
}

stop_server() {
  local name=$1 pid
  pid=${SPID[$name]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local _
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "SPID[$name]"
  ns_down "$name"
}

# --- memory -------------------------------------------------------------------
# Peak memory of a server and its children during the concurrent test:
# bench/rss_sampler.py (one process reading /proc every 0.5 s, at nice -15:
# at normal priority, among 200 busy client threads and up to 200 server
# processes, one sample took 10 s and missed most of the children).

vmhwm_kb() { awk '/^VmHWM:/ { print $2 }' /proc/"$1"/status 2>/dev/null || echo 0; }

# --- runs ---------------------------------------------------------------------
RESULTS=""
over_budget() { [ $((SECONDS - START)) -ge "$BUDGET_S" ]; }

# run_load SERVER TEST CONFIG REP TIMEOUT ARGS...: one tftp_load run, its
# summary line tagged and appended to $RESULTS.
run_load() {
  local name=$1 test=$2 cfg=$3 rep=$4 limit=$5
  shift 5
  local ns out rc=0
  ns=$(ns_of "$name")
  out=$WORK/load-$name-$test-${cfg//\//w}-$rep.txt
  timeout "$limit" ip netns exec "$ns" "$LOAD" --server 127.0.0.1:69 --label "$name/$test/$cfg" "$@" \
    >"$out" 2>"$out.err" || rc=$?
  local summary
  summary=$(grep '^tftp_load summary' "$out" | tail -n 1 | sed 's/^tftp_load summary //' || true)
  local transfer
  transfer=$(grep '^tftp_load transfer' "$out" | head -n 1 | sed 's/.* oack=\([^ ]*\).*/\1/' || true)
  echo "result server=$name test=$test cfg=$cfg rep=$rep rc=$rc first_oack=${transfer:--} $summary" >>"$RESULTS"
  if [ "$rc" -ne 0 ]; then
    say "  $name $test $cfg rep $rep: exit $rc: $(head -n 3 "$out.err" | tr '\n' ' ')"
  fi
  return 0
}

main() {
  install_packages
  WORK=$(mktemp -d /tmp/awlbench.XXXXXX)
  chmod 755 "$WORK"
  RESULTS=$WORK/results.txt
  : >"$RESULTS"

  say "building the client (cargo build --release -p awl-tests --bin tftp_load)"
  cargo build --release -q -p awl-tests --bin tftp_load >"$WORK/load-build.log" 2>&1 ||
    { tail -n 30 "$WORK/load-build.log" >&2; die "tftp_load does not build"; }

  local servers=() s
  for s in $SERVERS; do
    case $s in
      awl)
        prepare_awl
        if [ -n "$AWL_STATUS" ]; then
          say "awl: $AWL_STATUS; benchmarking the peers only"
          echo "skip server=awl why=${AWL_STATUS// /_}" >>"$RESULTS"
          continue
        fi
        ;;
      tftpd-hpa | dnsmasq | atftpd) ;;
      *) die "unknown server $s" ;;
    esac
    servers+=("$s")
  done
  [ "${#servers[@]}" -ne 0 ] || die "no server to benchmark"

  mkdir -p "$WORK/root"
  chmod 755 "$WORK/root"
  local single=$((SINGLE_MIB * 1048576)) many=$((MANY_MIB * 1048576))
  "$LOAD" --generate "$WORK/root/single.bin" --len "$single"
  "$LOAD" --generate "$WORK/root/many.bin" --len "$many"
  chmod 644 "$WORK/root/single.bin" "$WORK/root/many.bin"

  {
    echo "machine cores=$(nproc) kernel=$(uname -r) mem_gib=$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)"
    echo "version server=awl v=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- core host 2>/dev/null || echo '+dirty')"
    echo "version server=tftpd-hpa v=$(in.tftpd -V 2>&1 | head -n 1 | awk '{print $2}' | tr -d ,)"
    echo "version server=dnsmasq v=$(dnsmasq --version | head -n 1 | awk '{print $3}')"
    echo "version server=atftpd v=$("$ATFTPD" --version 2>&1 | head -n 1 | sed 's/ .*//;s/atftp-//')"
    echo "params reps=$REPS clients=$CLIENTS single_mib=$SINGLE_MIB many_mib=$MANY_MIB"
  } >>"$RESULTS"

  # 1. Single stream: every server up at once (each in its own namespace,
  # idle while the others run), the repetitions interleaved so that a slow
  # moment of the machine hits every server alike.
  say "single stream: ${SINGLE_MIB} MiB, configs (blksize:windowsize) $CONFIGS, $REPS runs each"
  local up=()
  for s in "${servers[@]}"; do
    if start_server "$s"; then up+=("$s"); else echo "fail server=$s why=did_not_start" >>"$RESULTS"; fi
  done
  local rep cfg b w
  for rep in $(seq "$REPS"); do
    for cfg in $CONFIGS; do
      b=${cfg%%:*} w=${cfg##*:}
      for s in "${up[@]}"; do
        if over_budget; then
          echo "result server=$s test=single cfg=$b/$w rep=$rep rc=budget" >>"$RESULTS"
          continue
        fi
        run_load "$s" single "$b/$w" "$rep" 60 --file single.bin --blksize "$b" --windowsize "$w" \
          --expect-len "$single" --timeout-ms 1000 --tries 5 --deadline-s 50 --verbose
      done
    done
    say "  run $rep of $REPS done ($((SECONDS - START)) s)"
  done
  for s in "${up[@]}"; do stop_server "$s"; done

  # 2. Many clients: one server at a time, started fresh so its peak RSS is
  # this test's.
  say "concurrent: $CLIENTS clients x ${MANY_MIB} MiB, blksize $MANY_BLKSIZE windowsize $MANY_WINDOW"
  for s in "${servers[@]}"; do
    if over_budget; then
      echo "result server=$s test=many cfg=$MANY_BLKSIZE/$MANY_WINDOW rep=1 rc=budget" >>"$RESULTS"
      continue
    fi
    if ! start_server "$s"; then
      echo "fail server=$s why=did_not_start" >>"$RESULTS"
      continue
    fi
    local pid=${SPID[$s]}
    touch "$WORK/sampling"
    echo "0 0 0 0" >"$WORK/rss-$s.txt"
    nice -n -15 python3 "$REPO/bench/rss_sampler.py" "$pid" "$WORK/rss-$s.txt" "$WORK/sampling" 0.5 &
    SAMPLER_PID=$!
    run_load "$s" many "$MANY_BLKSIZE/$MANY_WINDOW" 1 300 --file many.bin --blksize "$MANY_BLKSIZE" \
      --windowsize "$MANY_WINDOW" --clients "$CLIENTS" --expect-len "$many" --timeout-ms 1000 \
      --tries 10 --deadline-s 280 --quiet
    rm -f "$WORK/sampling"
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""
    local hwm
    hwm=$(vmhwm_kb "$pid")
    local peak at pss most
    read -r peak at pss most <"$WORK/rss-$s.txt"
    echo "memory server=$s main_hwm_kb=${hwm:-0} peak_sum_rss_kb=$peak procs_at_peak=$at peak_sum_pss_kb=$pss max_procs=$most" >>"$RESULTS"
    stop_server "$s"
    say "  $s done ($((SECONDS - START)) s)"
  done

  mkdir -p "$CACHE/last-run"
  cp "$RESULTS" "$CACHE/last-run/results.txt"
  python3 "$REPO/bench/tftp_tables.py" "$RESULTS" | tee "$CACHE/last-run/tables.md"
  say "total $((SECONDS - START)) s; raw results: bench/.cache/last-run/results.txt"
}

main "$@"
