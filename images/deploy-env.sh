#!/bin/bash
# Builds a small deploy environment, OUT_DIR/deploy/vmlinuz and
# OUT_DIR/deploy/initrd.img: Debian's cloud kernel, the static busybox and
# the modules for virtio (net, blk) and a few common disks. Booted with
#   console=ttyS0 awl.deploy=URL [log_host=HOST [log_port=PORT]]
# it gets an address by DHCP, fetches URL (a file of key='value' lines:
# image_url, image_sha256, image_size (optional: else the image's
# Content-Length), disk, seed_url, written_url,
# failed_url), writes the image onto the disk, hashes it back from the disk
# (image_size bytes), and either
# writes /etc/cloud/cloud.cfg.d/91-awl-seed.cfg (NoCloud seedfrom) into the
# root partition, POSTs written_url, prints AWL-DEPLOY-WRITTEN and reboots,
# or zeroes the disk's first MiB, POSTs failed_url, prints
# AWL-DEPLOY-FAILED <reason> and powers off.
#
# Usage: images/deploy-env.sh OUT_DIR [KERNEL_DIR]
#   KERNEL_DIR: an unpacked linux-image-*-cloud-amd64 package (boot/vmlinuz-*
#   and lib/modules/VERSION), e.g. target/test-kernel/linux-image-*; without
#   it the script downloads linux-image-cloud-amd64's kernel package with
#   apt-get download and unpacks it with dpkg-deb -x.
# (busybox 1.35 wget segfaults with -T: timeouts use busybox timeout.)
# Environment: BUSYBOX (default: busybox on PATH, must be static: package
#   busybox-static), EXTRA_MODULES (more module names to include and load).
set -euo pipefail

die() { echo "deploy-env.sh: error: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: $0 OUT_DIR [KERNEL_DIR]"

OUT=$(mkdir -p "$1/deploy" && cd "$1" && pwd)
DEST=$OUT/deploy
WORK=$OUT/.deploy-env-work
rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

BUSYBOX=${BUSYBOX:-$(command -v busybox || true)}
[ -n "$BUSYBOX" ] && [ -x "$BUSYBOX" ] || die "busybox not found (apt-get install busybox-static)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  die "$BUSYBOX is dynamically linked: install busybox-static"
fi

# ---- the kernel
if [ $# -ge 2 ]; then
  KDIR=$(cd "$2" && pwd) || die "no kernel dir $2"
else
  echo "== downloading the kernel (linux-image-cloud-amd64)"
  (
    cd "$WORK"
    apt-get download linux-image-cloud-amd64 >/dev/null || die "apt-get download linux-image-cloud-amd64 failed"
    dep=$(dpkg-deb -f linux-image-cloud-amd64_*.deb Depends | tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -n1)
    [ -n "$dep" ] || die "no kernel package in linux-image-cloud-amd64's Depends"
    apt-get download "$dep" >/dev/null || die "apt-get download $dep failed"
    mkdir kernel
    dpkg-deb -x "$dep"_*.deb kernel
  )
  KDIR=$WORK/kernel
fi
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1)
[ -n "$VMLINUZ" ] || die "no boot/vmlinuz-* in $KDIR"
KVER=${VMLINUZ##*/vmlinuz-}
MODDIR=
for d in "$KDIR/lib/modules/$KVER" "$KDIR/usr/lib/modules/$KVER"; do
  [ -d "$d" ] && MODDIR=$d && break
done
[ -n "$MODDIR" ] || die "no lib/modules/$KVER in $KDIR"

# ---- the initramfs tree
ROOT=$WORK/initrd
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt,etc,lib/modules/"$KVER"}
cp "$BUSYBOX" "$ROOT/bin/busybox"
chmod 755 "$ROOT/bin/busybox"
bb() { "$BUSYBOX" "$@"; }

# Modules (and what they depend on, from each .ko's modinfo "depends=").
# Loaded in the machine by name (busybox depmod + modprobe); the ones a
# kernel has built in, or lacks, are skipped.
WANT="virtio_pci virtio_net virtio_blk virtio_scsi nvme ahci sd_mod ${EXTRA_MODULES:-}"
declare -A have=()
find_ko() {
  local n=$1 alt
  alt=$(echo "$n" | tr '_-' '-_')
  find "$MODDIR/kernel" \( -name "$n.ko" -o -name "$alt.ko" -o -name "$n.ko.xz" -o -name "$alt.ko.xz" \) 2>/dev/null | head -n1
}
add_module() {
  local n=$1 ko dep
  [ -z "${have[$n]:-}" ] || return 0
  have[$n]=1
  ko=$(find_ko "$n")
  if [ -z "$ko" ]; then
    grep -qE "/($n|$(echo "$n" | tr '_-' '-_'))\.ko" "$MODDIR/modules.builtin" 2>/dev/null \
      || echo "   (module $n: not in this kernel, skipped)"
    return 0
  fi
  mkdir -p "$ROOT/lib/modules/$KVER/$(dirname "${ko#"$MODDIR"/}")"
  cp "$ko" "$ROOT/lib/modules/$KVER/${ko#"$MODDIR"/}"
  for dep in $(bb strings "$ko" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' '); do
    add_module "$dep"
  done
}
for m in $WANT; do add_module "$m"; done
for f in modules.builtin modules.builtin.modinfo modules.order; do
  [ -f "$MODDIR/$f" ] && cp "$MODDIR/$f" "$ROOT/lib/modules/$KVER/"
done
echo "== modules: $(cd "$ROOT/lib/modules/$KVER" && find . -name '*.ko*' | sed 's|.*/||' | tr '\n' ' ')"

cat > "$ROOT/udhcpc.sh" <<'EOF'
#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via "${router%% *}"
    : > /etc/resolv.conf
    for s in $dns; do echo "nameserver $s" >> /etc/resolv.conf; done
    ;;
esac
exit 0
EOF

cat > "$ROOT/init" <<'EOF'
#!/bin/busybox sh
# awl deploy environment: writes a disk image, then reboots into it.
/bin/busybox --install -s /bin
set -f
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp /mnt
# Kernel messages only when serious: the markers keep their own lines.
echo 3 > /proc/sys/kernel/printk

loghost=""; logport=514; conf_url=""
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    awl.deploy=*) conf_url="${arg#*=}" ;;
    log_host=*) loghost="${arg#*=}" ;;
    log_port=*) logport="${arg#*=}" ;;
  esac
done

# A URL without scheme, host and query string (those carry the token).
urlpath() { u="${1%%\?*}"; u="${u#*://}"; echo "/${u#*/}"; }
say() {
  echo "AWL-DEPLOY $*"
  [ -n "$loghost" ] && logger -t awl-deploy "$*"
  return 0
}
post() { # URL DATA: a few tries; 0 when one got through
  [ -n "$1" ] || return 1
  for i in 1 2 3; do
    timeout 20 wget -q --post-data="$2" -O /dev/null "$1" && return 0
    sleep 2
  done
  return 1
}
wiped=no
fail() {
  say "failed: $1"
  if [ "$wiped" = no ] && [ -n "${disk:-}" ] && [ "${written:-no}" = yes ]; then
    dd if=/dev/zero of="$disk" bs=1M count=1 conv=fsync 2>/dev/null
    sync
    wiped=yes
    say "first MiB of $disk zeroed"
  fi
  if [ -n "${failed_url:-}" ]; then
    # Form-encoded: spaces as +, anything unusual as -.
    post "$failed_url" "reason=$(echo "$1" | sed 's/ /+/g; s/[^A-Za-z0-9+._\/-]/-/g')" \
      || say "could not POST failed_url"
  fi
  echo "AWL-DEPLOY-FAILED $1"
  sync
  sleep 1
  poweroff -f
}

say "starting (kernel $(uname -r))"
depmod
for m in virtio_pci virtio_net virtio_blk virtio_scsi nvme ahci sd_mod __EXTRA_MODULES__; do
  modprobe "$m" 2>/dev/null
done

# Network: DHCP on the first interface that answers.
ip link set lo up
n=0; while [ -z "$(ls /sys/class/net | grep -v '^lo$')" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
iface=""
for i in $(ls /sys/class/net); do
  [ "$i" = lo ] && continue
  ip link set "$i" up
  if udhcpc -i "$i" -s /udhcpc.sh -q -n -t 10 -T 2 >/dev/null 2>&1; then iface=$i; break; fi
done
[ -n "$iface" ] || fail "no DHCP answer"
addr=$(ip -4 -o addr show "$iface" | awk '{print $4}')
if [ -n "$loghost" ]; then
  syslogd -n -R "$loghost:$logport" &
  n=0; while [ ! -S /dev/log ] && [ $n -lt 200 ]; do usleep 10000; n=$((n + 1)); done
fi
say "address $addr on $iface"

[ -n "$conf_url" ] || fail "no awl.deploy= on the kernel command line"
say "fetching config $(urlpath "$conf_url")"
ok=no
for i in 1 2 3 4 5; do
  if timeout 30 wget -q -O /deploy.conf "$conf_url"; then ok=yes; break; fi
  sleep 2
done
[ "$ok" = yes ] || fail "cannot fetch the deploy config"

# key='value' (or key=value) lines; never sourced.
# A value is shell-quoted ('it'\''s'): strip the outer quotes, then turn
# each '\'' back into a quote.
get() { sed -n "s/^$1=//p" /deploy.conf | head -n1 | sed "s/^'\(.*\)'\$/\1/" | sed "s/'\\\\''/'/g"; }
image_url=$(get image_url)
image_sha256=$(get image_sha256 | tr 'A-F' 'a-f')
image_size=$(get image_size)
disk=$(get disk)
seed_url=$(get seed_url)
written_url=$(get written_url)
failed_url=$(get failed_url)
[ -n "$image_url" ] || fail "no image_url in the config"
[ -n "$image_sha256" ] || fail "no image_sha256 in the config"
# Without image_size, the server's Content-Length (awl gives it; its
# HEAD costs nothing).
if [ -z "$image_size" ]; then
  image_size=$(timeout 30 wget -S --spider "$image_url" 2>&1 |
    sed -n 's/^ *[Cc]ontent-[Ll]ength: *\([0-9][0-9]*\).*/\1/p' | tail -n1)
fi
case "$image_size" in
  ''|*[!0-9]*) fail "no image_size (bytes) in the config, and no Content-Length for the image" ;;
esac

if [ -z "$disk" ]; then
  n=0
  while [ -z "$disk" ] && [ $n -lt 100 ]; do
    for d in /dev/vda /dev/sda /dev/nvme0n1; do
      [ -b "$d" ] && disk=$d && break
    done
    [ -n "$disk" ] || { sleep 0.1; n=$((n + 1)); }
  done
fi
[ -n "$disk" ] && [ -b "$disk" ] || fail "no disk (${disk:-none of /dev/vda /dev/sda /dev/nvme0n1})"
dname=${disk##*/}
disk_bytes=$(( $(cat /sys/class/block/$dname/size) * 512 ))
if [ "$image_size" -gt "$disk_bytes" ]; then
  fail "disk $disk ($disk_bytes bytes) smaller than the image ($image_size bytes)"
fi
say "writing $(urlpath "$image_url") ($image_size bytes) to $disk ($disk_bytes bytes)"

# Write, then hash what is on the disk. Under QEMU TCG every pipe stage
# costs a context switch per 4 KiB: "wget | tee disk | sha256sum" wrote
# 481 MiB in ~290 s, "wget -O disk" + "dd bs=4M | sha256sum" of the disk
# takes ~45 s, and it checks what the disk really holds.
written=yes
start=$(date +%s)
(
  # Progress from the disk's own write counter.
  while sleep 10; do
    s=$(awk '{print $7}' /sys/class/block/$dname/stat)
    echo "AWL-DEPLOY progress $((s / 2048)) MiB written, $(( $(date +%s) - start ))s"
  done
) &
prog_pid=$!
wget -q -O "$disk" "$image_url"
wget_rc=$?
sync
kill $prog_pid 2>/dev/null
say "image written in $(( $(date +%s) - start ))s"
[ "$wget_rc" = 0 ] || fail "image download failed"
# Read back from the disk, not from the page cache.
echo 3 > /proc/sys/vm/drop_caches
got_sha=$(dd if="$disk" bs=4M count="$image_size" iflag=count_bytes 2>/dev/null | sha256sum | cut -d' ' -f1)
say "read back in $(( $(date +%s) - start ))s"
[ "$got_sha" = "$image_sha256" ] || fail "sha256 mismatch: got $got_sha"
say "sha256 ok"

# The new partition table, then the seed into the root file system.
blockdev --rereadpt "$disk" 2>/dev/null || partprobe "$disk" 2>/dev/null
n=0; root=""
while [ -z "$root" ] && [ $n -lt 50 ]; do
  for p in $(findfs LABEL=awl-root 2>/dev/null) ${disk}2 ${disk}p2; do
    # Only a partition of the disk just written (another disk may hold
    # an older image with the same label).
    case "$p" in "$disk"*) ;; *) continue ;; esac
    [ -b "$p" ] && root=$p && break
  done
  [ -n "$root" ] || { sleep 0.1; n=$((n + 1)); }
done
[ -n "$root" ] || fail "no root partition on $disk after writing"
if [ -n "$seed_url" ]; then
  mount -t ext4 "$root" /mnt || fail "cannot mount $root"
  mkdir -p /mnt/etc/cloud/cloud.cfg.d
  # It holds the install token: root only.
  (umask 077 && printf 'datasource:\n  NoCloud:\n    seedfrom: %s\n' "$seed_url" > /mnt/etc/cloud/cloud.cfg.d/91-awl-seed.cfg)
  umount /mnt || fail "cannot unmount $root"
  say "seed written to $root"
else
  say "no seed_url: no seed written"
fi
sync
if [ -n "$written_url" ]; then
  post "$written_url" "sha256=$got_sha&bytes=$image_size" || say "could not POST written_url"
fi
echo "AWL-DEPLOY-WRITTEN"
sleep 1
reboot -f
EOF
sed -i "s|__EXTRA_MODULES__|${EXTRA_MODULES:-}|" "$ROOT/init"
chmod 755 "$ROOT/init" "$ROOT/udhcpc.sh"

echo "== packing $DEST/initrd.img"
(cd "$ROOT" && find . | sort | bb cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9 > "$WORK/initrd.img"
cp "$VMLINUZ" "$WORK/vmlinuz"
mv "$WORK/vmlinuz" "$DEST/vmlinuz"
mv "$WORK/initrd.img" "$DEST/initrd.img"
echo "kernel: $DEST/vmlinuz ($KVER, $(stat -c %s "$DEST/vmlinuz") bytes)"
echo "initrd: $DEST/initrd.img ($(stat -c %s "$DEST/initrd.img") bytes)"
