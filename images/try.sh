#!/usr/bin/env bash
# awl's try-out: one QEMU machine with an empty disk installs itself from
# awl on a private network, while you watch the status page; then it is
# all taken down again.
#
# Usage (as root, after ./test.sh has installed QEMU, OVMF, iPXE and the
# image tools):   images/try.sh [bios|uefi]
#
# What it does:
#   * builds the Debian image and the deploy environment into
#     target/images/ if they are not there (images/debian-image.sh,
#     images/deploy-env.sh; natively, a few minutes), and awl (release);
#   * makes a veth pair: awltry0 (10.79.0.1/24, in this machine's own
#     network namespace, so the status page is at http://10.79.0.1/) and
#     its peer in a new namespace, bridged to the machine's tap;
#   * writes an inventory (awl import, a profile, system "try1"), starts
#     `awl serve` as the DHCP, TFTP, HTTP and syslog server of that link
#     only, and powers on the machine (network first, then its disk);
#   * prints each install state as awl reports it, and the machine's login
#     prompt, then stops everything it started (also on Ctrl-C).
# AWL_TRY_KEEP=1 keeps the machine running after it is installed, until
# Ctrl-C (log in on its serial console: see the console file it prints).
set -euo pipefail
cd "$(dirname "$0")/.."
firmware=${1:-bios}
case "$firmware" in bios | uefi) ;; *) echo "usage: $0 [bios|uefi]" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "$0: run as root (network namespaces, a tap device)" >&2; exit 1; }
for tool in qemu-system-x86_64 ip; do
  command -v "$tool" >/dev/null || { echo "$0: $tool missing: run ./test.sh first (it installs what this needs)" >&2; exit 1; }
done

images=target/images
[ -f "$images/debian-12.img" ] || images/debian-image.sh "$images"
[ -f "$images/deploy/initrd.img" ] || images/deploy-env.sh "$images"
cargo build --release -q -p awl
awl=$PWD/target/release/awl

work=$(mktemp -d /tmp/awl-try.XXXXXX)
ns=awltry$$
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip link del awltry0 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The private link: awltry0 here, its peer bridged to the machine's tap.
ip link add awltry0 type veth peer name awltry1
ip netns add "$ns"
ip link set awltry1 netns "$ns"
ip addr add 10.79.0.1/24 dev awltry0
ip link set awltry0 up
ip -n "$ns" link add br0 type bridge
ip -n "$ns" tuntap add dev tap0 mode tap
ip -n "$ns" link set awltry1 master br0
ip -n "$ns" link set tap0 master br0
for dev in lo br0 awltry1 tap0; do ip -n "$ns" link set "$dev" up; done

# The files root holds the image folder (hard links) and GRUB for UEFI
# machines (images/grub-net.sh; BIOS machines use their NIC's iPXE ROM).
root=$work/root
mkdir -p "$root/images/debian-12/deploy"
for f in debian-12.img deploy/vmlinuz deploy/initrd.img; do
  ln "$images/$f" "$root/images/debian-12/$f" 2>/dev/null || cp "$images/$f" "$root/images/debian-12/$f"
done
[ -f "$images/grubnetx64.efi" ] || images/grub-net.sh "$images"
cp "$images/grubnetx64.efi" "$root/"
inv=$work/inventory.toml
"$awl" import "$root/images/debian-12" --files-root "$root" --name debian-12 --inventory "$inv" >/dev/null
"$awl" profile add debian-12 --distro debian-12 --kernel-args "console=ttyS0,115200" --inventory "$inv" >/dev/null
"$awl" system add try1 --mac 52:54:00:79:00:01 --hostname try1.lab.example --profile debian-12 \
  --netboot once --inventory "$inv" >/dev/null
echo "inventory: $inv"
"$awl" system show try1 --resolved --inventory "$inv" | sed 's/^/  /'

state=$work/state
"$awl" serve --tftp-root "$root" --tftp-listen 10.79.0.1:69 --http-listen 10.79.0.1:80 \
  --interface awltry0 --dhcp-range 10.79.0.100,10.79.0.150 --lease-file "$work/leases" \
  --syslog-listen 10.79.0.1:514 --inventory "$inv" --state-dir "$state" \
  --boot-uefi-x64 grubnetx64.efi >"$work/awl.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "http: serving" "$work/awl.log" && break; sleep 0.1; done
grep -q "http: serving" "$work/awl.log" || { cat "$work/awl.log"; echo "$0: awl did not start" >&2; exit 1; }
echo "awl serves on awltry0 (log: $work/awl.log); status page: http://10.79.0.1/"

disk=$work/try1.disk
truncate -s $(($(stat -c %s "$images/debian-12.img") + (64 << 20))) "$disk"
console=$work/console.log
qemu=(qemu-system-x86_64 -m 1024 -display none -monitor none -serial "file:$console"
  -netdev tap,id=n0,ifname=tap0,script=no,downscript=no
  -drive "file=$disk,if=none,id=d0,format=raw,cache=unsafe" -device virtio-blk-pci,drive=d0,bootindex=1)
if [ "$firmware" = uefi ]; then
  cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/vars.fd"
  qemu+=(-machine q35,accel=tcg -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
    -drive "if=pflash,format=raw,file=$work/vars.fd"
    -device virtio-net-pci,netdev=n0,mac=52:54:00:79:00:01,romfile=,bootindex=0)
else
  qemu+=(-machine pc,accel=tcg -device virtio-net-pci,netdev=n0,mac=52:54:00:79:00:01,bootindex=0)
fi
ip netns exec "$ns" "${qemu[@]}" &
pids+=($!)
start=$(date +%s)
echo "machine try1 ($firmware) powered on with an empty disk; serial console: $console"

# Follow the install: each state awl reports, until the login prompt.
last=""
while :; do
  now=$(($(date +%s) - start))
  current=$("$awl" status --state-dir "$state" --json 2>/dev/null |
    python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin) if x["system"]=="try1"]; print(r[0]["state"] if r else "")' 2>/dev/null || true)
  if [ -n "$current" ] && [ "$current" != "$last" ]; then
    printf '%4ds  try1: %s\n' "$now" "$current"
    last=$current
  fi
  if [ "$current" = installed ] || [ "$current" = local ]; then
    if grep -aq "try1 login:" "$console"; then
      printf '%4ds  try1: login prompt: %s\n' "$now" "$(grep -a -m1 -o 'try1 login:' "$console")"
      break
    fi
  fi
  [ "$current" = failed ] && { echo "try1 failed; awl's log:"; tail -20 "$work/awl.log"; exit 1; }
  [ "$now" -gt 1800 ] && { echo "$0: no login prompt after 30 minutes" >&2; exit 1; }
  kill -0 "${pids[1]}" 2>/dev/null || { echo "$0: QEMU stopped" >&2; exit 1; }
  sleep 2
done
echo "try1's history (awl events):"
"$awl" events --state-dir "$state" --system try1 | sed 's/^/  /'
if [ "${AWL_TRY_KEEP:-0}" = 1 ]; then
  echo "try1 keeps running (Ctrl-C ends it and cleans up)"
  wait "${pids[1]}" || true
fi
