#!/usr/bin/env bash
# bench/image.sh: the image path (issue 14), end to end on emulated PCs.
# Power-on with an empty disk to the installed system's serial login
# prompt ("HOSTNAME login:"), on a QEMU BIOS machine (SeaBIOS + the iPXE
# ROM of its virtio-net NIC, -m 1024, an empty sparse raw disk 64 MiB
# bigger than the image, virtio-blk, cache=unsafe), for two server setups
# in the same run, alternating:
#
#   awl            `awl serve` as DHCP + TFTP + HTTP + syslog server, the
#                  image imported (`awl import`), a profile and a system
#                  with --netboot once. Boot order: network, then disk. awl
#                  answers the deploy, then "boot from disk" after the
#                  deploy environment's written callback; cloud-init's
#                  phone_home marks the system installed.
#   dnsmasq+nginx  what an admin without awl would set up: dnsmasq as the
#                  DHCP server only (--port=0: no DNS), giving iPXE clients
#                  (user class "iPXE") the URL of a static iPXE script on
#                  nginx; nginx serves that script, the deploy environment,
#                  the image, a static deploy.conf (the same keys as awl's,
#                  without written_url/failed_url) and a static NoCloud seed
#                  (user-data with the host name and write_files, meta-data,
#                  an empty vendor-data). With no state on the server, the
#                  machine boots its disk first, then the network: SeaBIOS
#                  falls through the empty disk to the NIC, and after the
#                  deploy it boots the disk. That is how such a setup avoids
#                  an install loop; it also means a machine whose disk still
#                  boots is never reinstalled from the network.
#
# Then one image to BENCH_N machines at once (awl only): time until all of
# them show their login prompt, awl's CPU seconds and peak RSS.
#
# Per run it measures, from QEMU's start: seconds to AWL-DEPLOY-WRITTEN on
# the serial console and to the login prompt (the serial file is polled
# every 0.5 s), the server side's CPU seconds (utime+stime, with reaped
# children, of every process in the server namespace: awl, or dnsmasq +
# the nginx master and workers; /proc/PID/stat read once the servers
# listen and again at the last login prompt) and its peak RSS (VmHWM from
# /proc/PID/status at the last login prompt; summed over the processes of
# a multi-process setup, which counts shared pages once per process).
#
# Usage (as root):  bench/image.sh
# Knobs (environment):
#   BENCH_RUNS=2         runs of each setup (alternating: awl, dnsmasq+nginx,
#                        awl, ..., so a slow moment of the shared machine hits
#                        both alike)
#   BENCH_SETUPS="awl dnsmasq+nginx"
#   BENCH_N=2            machines at once in the second part (0: skip it);
#                        each is a 1 GiB TCG guest, so 2 or 3 on 2 cores
#   BENCH_N_RUNS=1       runs of the second part
#   BENCH_TIMEOUT_S=1500 per run: no login prompt by then = failed run
#   BENCH_BUDGET_S=3600  no new run starts after this many seconds
#   BENCH_AWL=PATH       the awl binary (default: target/release/awl if it
#                        is newer than host/src, else a copy of
#                        target/debug/awl in /tmp/awl-bench/awl; the script
#                        never builds)
#   BENCH_IMAGES=DIR     the built image folder (default target/images:
#                        debian-12.img, .sha256, deploy/vmlinuz,
#                        deploy/initrd.img; hard-linked, never modified)
#   BENCH_OUT=DIR        raw results, tables and logs (default
#                        /tmp/awl-bench-image)
#   BENCH_KEEP=1         keep the work folder (/tmp/awlimg.*: the disks)
#
# Topology (as tests/src/lib.rs's NetnsPair + bridge_tap): namespace
# awlimg-s holds the servers (10.76.0.1/24 on veth im-s0); namespace
# awlimg-c holds the machines: bridge br0 joining the veth's peer im-c0
# and one tap per machine (im-t1, im-t2, ...). DHCP pool 10.76.0.100-150.
#
# The script ends only what it started (by PID, then whatever is left in
# its own two namespaces), deletes its namespaces and its work folder.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
INVOCATION="$(for v in BENCH_RUNS BENCH_SETUPS BENCH_N BENCH_N_RUNS BENCH_TIMEOUT_S BENCH_BUDGET_S BENCH_AWL BENCH_IMAGES BENCH_OUT BENCH_KEEP; do
  if [ -n "${!v:-}" ]; then printf '%s=%q ' "$v" "${!v}"; fi
done)bench/image.sh"

RUNS=${BENCH_RUNS:-2}
SETUPS=${BENCH_SETUPS:-"awl dnsmasq+nginx"}
N=${BENCH_N:-2}
N_RUNS=${BENCH_N_RUNS:-1}
TIMEOUT_S=${BENCH_TIMEOUT_S:-1500}
BUDGET_S=${BENCH_BUDGET_S:-3600}
IMAGES=${BENCH_IMAGES:-$REPO/target/images}
OUT=${BENCH_OUT:-/tmp/awl-bench-image}
TABLES=$REPO/bench/image_tables.py

SNS=awlimg-s
CNS=awlimg-c
SIF=im-s0
CIF=im-c0
SADDR=10.76.0.1
POOL=10.76.0.100,10.76.0.150
START=$SECONDS

say() { printf '%s\n' "$*" >&2; }
die() {
  say "image.sh: $*"
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (network namespaces, tap devices, ports 67, 69, 80, 514)"

# --- cleanup: only what this script started ----------------------------------
SERVER_PIDS=() # servers of the current run
QEMU_PIDS=()   # machines of the current run
NAMESPACES=()  # namespaces this script created
WORK=""
POLICY_RC_CREATED=0

stop_pids() {
  local pid _
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

stop_run() {
  stop_pids "${QEMU_PIDS[@]}"
  QEMU_PIDS=()
  stop_pids "${SERVER_PIDS[@]}"
  SERVER_PIDS=()
  # Whatever is still in the namespaces (nginx workers) was started here.
  local ns pid
  for ns in "${NAMESPACES[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
}

cleanup() {
  local rc=$?
  set +e
  stop_run
  local ns
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
  if [ "$POLICY_RC_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${BENCH_KEEP:-0}" = 1 ]; then say "image.sh: kept $WORK"; else rm -rf "$WORK"; fi
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
  command -v python3 >/dev/null || missing+=(python3)
  command -v nginx >/dev/null || missing+=(nginx-light)
  command -v dnsmasq >/dev/null || missing+=(dnsmasq-base) # the binary, no service
  command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: ./test.sh installs it"
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
  if [[ " ${missing[*]} " == *" nginx-light "* ]]; then
    if [ -d /run/systemd/system ]; then
      systemctl disable --now nginx.service >/dev/null 2>&1 || true
    else
      update-rc.d nginx disable >/dev/null 2>&1 || true
    fi
  fi
}

# The awl binary: BENCH_AWL, else the release build if it is newer than
# every source file of the host crate, else a copy of the debug build.
AWL_NOTE=""
pick_awl() {
  if [ -n "${BENCH_AWL:-}" ]; then
    AWL=$BENCH_AWL
    AWL_NOTE="BENCH_AWL=$AWL"
    return
  fi
  local release=$REPO/target/release/awl debug=$REPO/target/debug/awl
  if [ -x "$release" ] && [ -z "$(find "$REPO/host/src" -newer "$release" -type f -print -quit)" ]; then
    AWL=$release
    AWL_NOTE="release build"
    return
  fi
  [ -x "$debug" ] || die "no awl binary: target/release/awl is missing or older than host/src, and target/debug/awl is missing (the script never builds; set BENCH_AWL)"
  mkdir -p /tmp/awl-bench
  cp "$debug" /tmp/awl-bench/awl
  AWL=/tmp/awl-bench/awl
  AWL_NOTE="DEBUG build (target/release/awl is $([ -x "$release" ] && echo "older than host/src" || echo missing); copied target/debug/awl to $AWL): awl's CPU seconds are those of an unoptimised build"
  if [ -n "$(find "$REPO/host/src" -newer "$debug" -type f -print -quit)" ]; then
    AWL_NOTE="$AWL_NOTE; the debug build is also older than host/src"
  fi
}

# --- namespaces -------------------------------------------------------------------
ns_up() {
  local ns i
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
  ip -n "$SNS" addr add "$SADDR/24" dev "$SIF"
  ip -n "$SNS" link set "$SIF" up
  ip -n "$CNS" link add br0 type bridge
  ip -n "$CNS" link set "$CIF" master br0
  local taps=$((N > 1 ? N : 1))
  for i in $(seq "$taps"); do
    ip -n "$CNS" tuntap add dev "im-t$i" mode tap
    ip -n "$CNS" link set "im-t$i" master br0
    ip -n "$CNS" link set "im-t$i" up
  done
  ip -n "$CNS" link set "$CIF" up
  ip -n "$CNS" link set br0 up
}

# --- measurements -----------------------------------------------------------------
# CPU clock ticks (utime+stime+cutime+cstime) of every process in the
# server namespace; fields after the ") " that ends comm.
server_ticks() {
  local pid total=0 t
  for pid in $(ip netns pids "$SNS" 2>/dev/null); do
    t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13 + $14 + $15}') || continue
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# "SUM_KIB PROCS DETAIL": VmHWM of every process in the server namespace.
server_hwm() {
  local pid kib sum=0 procs=0 detail=""
  for pid in $(ip netns pids "$SNS" 2>/dev/null); do
    kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
    [ -n "$kib" ] || continue
    sum=$((sum + kib))
    procs=$((procs + 1))
    detail="$detail$(cat "/proc/$pid/comm" 2>/dev/null):$kib,"
  done
  echo "$sum $procs ${detail%,}"
}

load1() { awk '{print $1}' /proc/loadavg; }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN {printf "%.1f", a - b}'; }

# --- servers ------------------------------------------------------------------------
wait_port() {
  local flag=-Hlun _
  [ "$1" = tcp ] && flag=-Hltn
  for _ in $(seq 150); do
    [ -n "$(ip netns exec "$SNS" ss $flag "sport = :$2" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  say "nothing listens on $1 port $2 after 15 s"
  return 1
}

# spawn NAME CMD...: CMD in the server namespace, logged to RUN/NAME.log.
spawn() {
  local name=$1
  shift
  echo "# $*" >>"$RUN/$name.log"
  ip netns exec "$SNS" "$@" >>"$RUN/$name.log" 2>&1 &
  SERVER_PIDS+=($!)
}

start_awl() {
  spawn awl "$AWL" serve --tftp-root "$ROOT" --tftp-listen "$SADDR:69" \
    --http-listen "$SADDR:80" --inventory "$INV" --state-dir "$RUN/state" \
    --interface "$SIF" --dhcp-range "$POOL" --lease-file "$RUN/leases" \
    --syslog-listen "$SADDR:514"
  wait_port udp 67 && wait_port udp 69 && wait_port tcp 80
}

start_dnsmasq_nginx() {
  spawn dnsmasq dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 \
    --interface="$SIF" --bind-interfaces \
    --dhcp-range="${POOL%,*},${POOL#*,},255.255.255.0,1h" \
    --dhcp-leasefile="$RUN/dnsmasq.leases" --pid-file="$RUN/dnsmasq.pid" \
    --dhcp-userclass=set:ipxe,iPXE --dhcp-boot=tag:ipxe,"http://$SADDR/boot.ipxe" \
    --log-facility=-
  wait_port udp 67 || return 1
  mkdir -p "$RUN/nginx/tmp"
  # Debian's nginx.conf, minus what does not apply (includes, gzip of
  # text/html), with everything under RUN.
  cat >"$RUN/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
master_process on;
user nobody nogroup;
pid $RUN/nginx/nginx.pid;
error_log $RUN/nginx/error.log warn;
events { worker_connections 768; }
http {
  sendfile on;
  tcp_nopush on;
  types_hash_max_size 2048;
  default_type application/octet-stream;
  access_log $RUN/nginx/access.log;
  client_body_temp_path $RUN/nginx/tmp/body;
  proxy_temp_path $RUN/nginx/tmp/proxy;
  fastcgi_temp_path $RUN/nginx/tmp/fastcgi;
  uwsgi_temp_path $RUN/nginx/tmp/uwsgi;
  scgi_temp_path $RUN/nginx/tmp/scgi;
  server {
    listen $SADDR:80;
    root $WWW;
  }
}
EOF
  spawn nginx nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$RUN/nginx/error.log"
  wait_port tcp 80
}

# --- the files each setup serves ------------------------------------------------------
link_image() { # link_image DEST_DIR: the image folder's files, hard-linked
  local f
  mkdir -p "$1/deploy"
  for f in debian-12.img deploy/vmlinuz deploy/initrd.img; do
    ln "$IMAGES/$f" "$1/$f" 2>/dev/null || cp "$IMAGES/$f" "$1/$f"
  done
}

prepare_awl() {
  ROOT=$WORK/root
  link_image "$ROOT/images/debian-12"
  INV=$WORK/inventory.toml
  say "awl import (computes the image's SHA-256)"
  "$AWL" import "$ROOT/images/debian-12" --files-root "$ROOT" --name debian-12 --inventory "$INV" >"$WORK/import.log"
  "$AWL" profile add debian-12 --distro debian-12 --kernel-args "console=ttyS0,115200" --inventory "$INV" >/dev/null
  local i
  for i in $(seq $((N > 1 ? N : 1))); do
    "$AWL" system add "img$i" --mac "$(mac "$i")" --hostname "img$i.lab.example" \
      --profile debian-12 --netboot once --inventory "$INV" >/dev/null
  done
  grep -q "$SHA" "$INV" || die "awl import computed another SHA-256 than debian-12.img.sha256"
}

prepare_static() {
  WWW=$WORK/www
  link_image "$WWW/images/debian-12"
  mkdir -p "$WWW/seed"
  # What awl's iPXE script does, without the token and the syslog.
  cat >"$WWW/boot.ipxe" <<EOF
#!ipxe
initrd --name initrd0 http://$SADDR/images/debian-12/deploy/initrd.img
kernel http://$SADDR/images/debian-12/deploy/vmlinuz initrd=initrd0 console=ttyS0,115200 awl.deploy=http://$SADDR/deploy.conf quiet
boot
EOF
  cat >"$WWW/deploy.conf" <<EOF
image_url='http://$SADDR/images/debian-12/debian-12.img'
image_sha256='$SHA'
seed_url='http://$SADDR/seed/'
EOF
  # awl's built-in user-data for img1, without phone_home (nothing here
  # receives it).
  cat >"$WWW/seed/user-data" <<'EOF'
#cloud-config
hostname: "img1"
fqdn: "img1.lab.example"
prefer_fqdn_over_hostname: false
manage_etc_hosts: true
timezone: "Etc/UTC"
users:
  - name: "debian"
    shell: /bin/bash
    groups: [sudo]
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    lock_passwd: true
write_files:
  - path: /etc/awl-install
    permissions: "0644"
    content: "system=img1\nprofile=debian-12\ndistro=debian-12\n"
EOF
  printf 'instance-id: "static-img1"\nlocal-hostname: "img1"\n' >"$WWW/seed/meta-data"
  : >"$WWW/seed/vendor-data"
}

mac() { printf '52:54:00:76:00:%02x' "$1"; }

# --- machines -------------------------------------------------------------------------
# power_on I ORDER: machine I (tap im-tI, MAC, disk RUN/imgI.disk, console
# RUN/console-imgI.log); ORDER net-first or disk-first.
declare -A T0 WRITTEN LOGIN
power_on() {
  local i=$1 order=$2 nic_idx disk_idx
  if [ "$order" = net-first ]; then nic_idx=0 disk_idx=1; else nic_idx=1 disk_idx=0; fi
  local disk=$RUN/img$i.disk
  rm -f "$disk"
  truncate -s $((IMAGE_SIZE + (64 << 20))) "$disk"
  local cmd=(qemu-system-x86_64 -machine pc,accel=tcg -m 1024 -display none -monitor none
    -serial "file:$RUN/console-img$i.log"
    -netdev "tap,id=n0,ifname=im-t$i,script=no,downscript=no"
    -device "virtio-net-pci,netdev=n0,mac=$(mac "$i"),bootindex=$nic_idx"
    -drive "file=$disk,if=none,id=d0,format=raw,cache=unsafe"
    -device "virtio-blk-pci,drive=d0,bootindex=$disk_idx")
  echo "# ip netns exec $CNS ${cmd[*]}" >>"$RUN/qemu.cmd"
  T0[$i]=$(now)
  ip netns exec "$CNS" "${cmd[@]}" </dev/null >"$RUN/qemu-img$i.log" 2>&1 &
  QEMU_PIDS+=($!)
}

# wait_machines I...: polls the consoles every 0.5 s until every machine
# shows its login prompt; returns 1 on a failure or the timeout.
wait_machines() {
  local i done_all k console
  while :; do
    done_all=1
    k=0
    for i in "$@"; do
      console=$RUN/console-img$i.log
      if [ -z "${WRITTEN[$i]:-}" ] && grep -aq 'AWL-DEPLOY-WRITTEN' "$console" 2>/dev/null; then
        WRITTEN[$i]=$(since "${T0[$i]}")
        say "    img$i: AWL-DEPLOY-WRITTEN at ${WRITTEN[$i]} s"
      fi
      if [ -z "${LOGIN[$i]:-}" ] && grep -aq "img$i login:" "$console" 2>/dev/null; then
        LOGIN[$i]=$(since "${T0[$i]}")
        say "    img$i: login prompt at ${LOGIN[$i]} s"
      fi
      [ -n "${LOGIN[$i]:-}" ] || done_all=0
      if grep -aq 'AWL-DEPLOY-FAILED' "$console" 2>/dev/null; then
        FAIL="img$i: $(grep -a -m1 -o 'AWL-DEPLOY-FAILED.*' "$console" | tr -d '\r')"
        return 1
      fi
      if ! kill -0 "${QEMU_PIDS[$k]}" 2>/dev/null; then
        FAIL="img$i: QEMU ended"
        return 1
      fi
      k=$((k + 1))
    done
    [ "$done_all" = 1 ] && return 0
    if awk -v a="$(since "${T0[$1]}")" -v t="$TIMEOUT_S" 'BEGIN {exit !(a > t)}'; then
      FAIL="timeout after $TIMEOUT_S s"
      return 1
    fi
    sleep 0.5
  done
}

# --- runs ---------------------------------------------------------------------------
over_budget() { [ $((SECONDS - START)) -ge "$BUDGET_S" ]; }

# run_one PART SETUP RUN MACHINES: PART single or many.
run_one() {
  local part=$1 setup=$2 rep=$3 count=$4 order ticks0 ticks1 hwm load_start i ids=()
  RUN=$WORK/$part-$setup-$rep
  mkdir -p "$RUN"
  WRITTEN=()
  LOGIN=()
  FAIL=""
  for i in $(seq "$count"); do ids+=("$i"); done
  case $setup in
    awl) order=net-first && start_awl || FAIL="awl did not start" ;;
    dnsmasq+nginx) order=disk-first && start_dnsmasq_nginx || FAIL="dnsmasq+nginx did not start" ;;
    *) die "unknown setup $setup" ;;
  esac
  local line="result part=$part setup=$setup run=$rep machines=$count boot_order=$order"
  if [ -n "$FAIL" ]; then
    echo "$line ok=0 fail=$(printf %q "$FAIL")" >>"$RESULTS"
    stop_run
    return
  fi
  sleep 1 # let the servers settle before the first reading
  ticks0=$(server_ticks)
  load_start=$(load1)
  say "  $part $setup run $rep: $count machine(s), $order (load $load_start)"
  for i in "${ids[@]}"; do power_on "$i" "$order"; done
  local ok=1
  wait_machines "${ids[@]}" || ok=0
  ticks1=$(server_ticks)
  hwm=$(server_hwm)
  local hz
  hz=$(getconf CLK_TCK)
  line="$line ok=$ok cpu_s=$(awk -v a="$ticks0" -v b="$ticks1" -v h="$hz" 'BEGIN {printf "%.2f", (b - a) / h}')"
  line="$line hwm_kib=${hwm%% *} procs=$(echo "$hwm" | awk '{print $2}') hwm_detail=$(echo "$hwm" | awk '{print $3}')"
  line="$line load_start=$load_start load_end=$(load1)"
  local slowest_w=0 slowest_l=0
  for i in "${ids[@]}"; do
    line="$line img$i.written_s=${WRITTEN[$i]:--} img$i.login_s=${LOGIN[$i]:--}"
    slowest_w=$(awk -v a="$slowest_w" -v b="${WRITTEN[$i]:-nan}" 'BEGIN {if (b == "nan" || a == "-") print "-"; else print (b > a ? b : a)}')
    slowest_l=$(awk -v a="$slowest_l" -v b="${LOGIN[$i]:-nan}" 'BEGIN {if (b == "nan" || a == "-") print "-"; else print (b > a ? b : a)}')
  done
  line="$line written_s=$slowest_w login_s=$slowest_l"
  # What each setup did: deploys served, how the machine got back to its
  # disk, and (awl) whether phone_home reported.
  if [ "$setup" = awl ]; then
    local installed=0 _
    if [ "$ok" = 1 ]; then
      for _ in $(seq 240); do
        installed=0
        for i in "${ids[@]}"; do grep -q "system img$i installed" "$RUN/awl.log" && installed=$((installed + 1)); done
        [ "$installed" = "$count" ] && break
        sleep 0.5
      done
    fi
    line="$line deploys=$(grep -c 'answer file image/deploy.conf for system' "$RUN/awl.log" || true)"
    line="$line local_boots=$(grep -c 'ipxe for .*boots from its disk' "$RUN/awl.log" || true)"
    line="$line installed=$installed/$count"
  else
    line="$line deploys=$(grep -c 'GET /deploy.conf' "$RUN/nginx/access.log" 2>/dev/null || true)"
    line="$line image_gets=$(grep -c 'GET /images/debian-12/debian-12.img' "$RUN/nginx/access.log" 2>/dev/null || true)"
    line="$line seed_gets=$(grep -c 'GET /seed/' "$RUN/nginx/access.log" 2>/dev/null || true)"
  fi
  [ "$ok" = 1 ] || line="$line fail=$(printf %q "$FAIL")"
  echo "$line" >>"$RESULTS"
  say "  $part $setup run $rep done ($((SECONDS - START)) s total): ${line#result }"
  stop_run
  # Keep the logs (not the disks).
  mkdir -p "$OUT/logs/$part-$setup-$rep"
  cp -r "$RUN"/*.log "$RUN"/qemu.cmd "$OUT/logs/$part-$setup-$rep/" 2>/dev/null || true
  [ ! -d "$RUN/nginx" ] || cp "$RUN/nginx/"*.log "$RUN/nginx/nginx.conf" "$OUT/logs/$part-$setup-$rep/" 2>/dev/null || true
  [ ! -d "$RUN/state/logs" ] || cp -r "$RUN/state/logs" "$OUT/logs/$part-$setup-$rep/syslog" 2>/dev/null || true
  rm -f "$RUN"/*.disk
}

main() {
  install_packages
  pick_awl
  for f in debian-12.img debian-12.img.sha256 deploy/vmlinuz deploy/initrd.img; do
    [ -f "$IMAGES/$f" ] || die "$IMAGES/$f missing: ./test.sh builds it (images/debian-image.sh, images/deploy-env.sh)"
  done
  SHA=$(awk '{print $1}' "$IMAGES/debian-12.img.sha256")
  IMAGE_SIZE=$(stat -c %s "$IMAGES/debian-12.img")
  WORK=$(mktemp -d /tmp/awlimg.XXXXXX)
  chmod 755 "$WORK"
  rm -rf "$OUT"
  mkdir -p "$OUT"
  RESULTS=$OUT/results.txt
  : >"$RESULTS"

  ns_up
  prepare_awl
  prepare_static
  {
    echo "command $INVOCATION"
    echo "machine cores=$(nproc) kernel=$(uname -r) mem_gib=$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo) qemu=$(qemu-system-x86_64 --version | head -n 1 | awk '{print $4}')"
    echo "params runs=$RUNS setups=$(echo "$SETUPS" | tr ' ' ,) n=$N n_runs=$N_RUNS timeout_s=$TIMEOUT_S image_bytes=$IMAGE_SIZE"
    echo "version awl=$("$AWL" --version | awk '{print $2}') commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null) awl_binary=$AWL"
    echo "note awl: $AWL_NOTE"
    echo "version dnsmasq=$(dnsmasq --version | head -n 1 | awk '{print $3}') nginx=$(nginx -v 2>&1 | sed 's|.*/||')"
    echo "uptime start: $(uptime)"
  } >>"$RESULTS"
  say "awl: $AWL ($AWL_NOTE)"
  say "image: $IMAGE_SIZE bytes; $RUNS run(s) of: $SETUPS; then $N machines at once (awl), $N_RUNS run(s)"

  local rep setup
  for rep in $(seq "$RUNS"); do
    for setup in $SETUPS; do
      if over_budget; then
        echo "result part=single setup=$setup run=$rep ok=0 fail=budget" >>"$RESULTS"
        continue
      fi
      run_one single "$setup" "$rep" 1
    done
  done
  if [ "$N" -gt 0 ]; then
    for rep in $(seq "$N_RUNS"); do
      if over_budget; then
        echo "result part=many setup=awl run=$rep machines=$N ok=0 fail=budget" >>"$RESULTS"
        continue
      fi
      run_one many awl "$rep" "$N"
    done
  fi
  echo "uptime end: $(uptime)" >>"$RESULTS"

  python3 "$TABLES" "$RESULTS" | tee "$OUT/tables.md"
  say "command: $INVOCATION"
  say "total $((SECONDS - START)) s; raw results: $RESULTS; tables: $OUT/tables.md; logs: $OUT/logs/"
}

main "$@"
